//! The runtime-agnostic adapters (`framechat::futures::{FrameStream, FrameSink}`) against the
//! spec: the same frames and the same typed errors as the sans-IO decoder, however the stream is
//! cut and however often the transport is not ready (FC-18). Driven by futures-lite's `block_on`,
//! no runtime.
#![cfg(feature = "futures-io")]

// Each test file uses its own subset of the shared helpers.
#[allow(dead_code)]
mod adapters_support;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::FusedStream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future::block_on;
use futures_lite::StreamExt;
use futures_util::SinkExt;

use adapters_support::{cases, ChunkPlan, Outcome, CHUNK_PLANS};
use framechat::futures::{FrameSink, FrameStream};
use framechat::io::Error;
use framechat::wire::PREFACE;
use framechat::{EncodeError, Encoder, ErrorCode, Frame, Limits, Profile, UnixMicros};

/// An `AsyncRead` that is `Pending` (waking itself) on every other poll, fails with
/// `Interrupted` on every fifth, and otherwise returns the stream in the plan's chunk sizes.
struct ChunkedAsyncRead<'a> {
    rest: &'a [u8],
    sizes: std::iter::Cycle<std::slice::Iter<'static, usize>>,
    polls: usize,
}

impl<'a> ChunkedAsyncRead<'a> {
    fn new(plan: &ChunkPlan, stream: &'a [u8]) -> ChunkedAsyncRead<'a> {
        ChunkedAsyncRead {
            rest: stream,
            sizes: plan.sizes.iter().cycle(),
            polls: 0,
        }
    }
}

impl AsyncRead for ChunkedAsyncRead<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.polls += 1;
        if self.polls % 5 == 0 {
            return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
        }
        if self.polls % 2 == 1 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let size = *self.sizes.next().expect("cycled plans never end");
        let n = size.min(buf.len()).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Poll::Ready(Ok(n))
    }
}

#[test]
fn frame_stream_yields_each_cases_frames_and_verdict_under_every_chunking() {
    // FC-18, FC-19, FC-21: frames, then a clean end or one typed error, then the stream is done.
    let mut runs = 0;
    for case in cases() {
        for plan in CHUNK_PLANS {
            for capacity in [1, 8 * 1024] {
                let mut stream = FrameStream::with_capacity(
                    capacity,
                    ChunkedAsyncRead::new(plan, &case.stream),
                    case.side.decoder(),
                );
                let outcome = block_on(async {
                    let mut frames = Vec::new();
                    let error = loop {
                        match stream.next().await {
                            Some(Ok(frame)) => frames.push(frame),
                            Some(Err(Error::Decode(err))) => break Some(err),
                            Some(Err(other)) => panic!("{}: unexpected {other:?}", case.name),
                            None => break None,
                        }
                    };
                    assert!(stream.is_terminated(), "{}: FC-19, FC-21", case.name);
                    assert!(stream.next().await.is_none(), "{}: fused", case.name);
                    Outcome { frames, error }
                });
                assert_eq!(
                    outcome, case.expected,
                    "{} / chunks {} / buffer {capacity}",
                    case.name, plan.name
                );
                runs += 1;
            }
        }
    }
    assert_eq!(runs, cases().len() * CHUNK_PLANS.len() * 2);
}

/// An `AsyncWrite` that records each write call, and is closed by `poll_close`. With `chunked`,
/// it takes 1 to 3 bytes per poll, is `Pending` on every third and `Interrupted` on every seventh.
#[derive(Default)]
struct RecordingWrite {
    chunked: bool,
    written: Vec<u8>,
    writes: Vec<usize>,
    polls: usize,
    flushes: usize,
    closed: bool,
}

impl AsyncWrite for RecordingWrite {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        assert!(!self.closed, "no write after close");
        self.polls += 1;
        let mut n = buf.len();
        if self.chunked {
            if self.polls % 7 == 0 {
                return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
            }
            if self.polls % 3 == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            n = n.min(1 + self.polls % 3);
        }
        self.written.extend_from_slice(&buf[..n]);
        self.writes.push(n);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.flushes += 1;
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.closed = true;
        Poll::Ready(Ok(()))
    }
}

fn client_frames() -> Vec<Frame> {
    vec![
        Frame::Chat {
            sent_at: UnixMicros(1),
            text: "h\u{e9}llo".to_string(),
        },
        Frame::Ping { nonce: 2 },
        Frame::Error {
            code: ErrorCode::GOING_AWAY,
            reason: "bye".to_string(),
        },
    ]
}

fn encoded(profile: Profile, frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = Encoder::client(profile, Limits::default());
    for frame in frames {
        encoder
            .encode(frame.as_ref(), &mut out)
            .expect("valid client frames");
    }
    out
}

#[test]
fn frame_sink_coalesces_fed_frames_into_one_write_made_by_flush() {
    // One buffer, one write: frames fed below the high-water mark wait for `poll_flush`.
    let mut sink = FrameSink::new(
        RecordingWrite::default(),
        Encoder::client(Profile::Typed, Limits::default()),
    );
    block_on(async {
        for frame in client_frames() {
            SinkExt::feed(&mut sink, frame).await.expect("in memory");
        }
        assert!(
            sink.get_ref().writes.is_empty(),
            "nothing written before flush"
        );
        SinkExt::flush(&mut sink).await.expect("in memory");
    });
    let expected = encoded(Profile::Typed, &client_frames());
    assert_eq!(sink.get_ref().writes, [expected.len()]);
    assert_eq!(sink.get_ref().written, expected);
    assert_eq!(sink.get_ref().flushes, 1);
}

#[test]
fn frame_sink_writes_before_accepting_a_frame_once_past_its_high_water_mark() {
    // Backpressure: `poll_ready` drains a buffer at or past the mark; 0 drains every frame.
    let mut sink = FrameSink::with_high_water(
        0,
        RecordingWrite::default(),
        Encoder::client(Profile::Legacy, Limits::default()),
    );
    let frames: Vec<Frame> = ["a", "bb", "ccc"]
        .iter()
        .map(|text| Frame::Text(text.to_string()))
        .collect();
    block_on(async {
        for frame in frames.clone() {
            sink.feed(frame).await.expect("in memory");
        }
    });
    // Each `feed` wrote out the previous frame; the last one waits for a flush.
    assert_eq!(sink.get_ref().writes, [5, 6]);
    assert_eq!(sink.queued(), b"\x00\x00\x00\x03ccc");
    block_on(sink.flush()).expect("in memory");
    assert_eq!(sink.get_ref().written, encoded(Profile::Legacy, &frames));
}

#[test]
fn frame_sink_writes_exactly_the_encoders_bytes_whatever_each_write_accepts() {
    // FC-23, FC-25 through `Stream::forward`, against a writer that takes 1-3 bytes at a time,
    // is often not ready and is sometimes interrupted.
    let mut sink = FrameSink::with_high_water(
        4,
        RecordingWrite {
            chunked: true,
            ..RecordingWrite::default()
        },
        Encoder::client(Profile::Typed, Limits::default()),
    );
    let frames = client_frames();
    block_on(futures_util::StreamExt::forward(
        futures_util::stream::iter(frames.clone().into_iter().map(Ok)),
        &mut sink,
    ))
    .expect("in memory");
    assert_eq!(sink.get_ref().written, encoded(Profile::Typed, &frames));
    assert!(
        sink.get_ref().closed,
        "`forward` closes the sink once the stream ends"
    );
    assert!(sink.get_ref().writes.iter().all(|&n| (1..=3).contains(&n)));
}

#[test]
fn a_refused_frame_is_a_typed_encode_error_and_leaves_the_buffer_untouched() {
    // FC-23, FC-24: a text above the limit.
    let mut sink = FrameSink::new(
        RecordingWrite::default(),
        Encoder::client(Profile::Legacy, Limits::default()),
    );
    block_on(async {
        sink.feed(Frame::Text("kept".to_string()))
            .await
            .expect("valid");
        let before = sink.queued().to_vec();
        match sink.feed(Frame::Text("x".repeat(2 << 20))).await {
            Err(Error::Encode(EncodeError::TooLarge { payload_len, limit })) => {
                assert_eq!(payload_len, 2 << 20);
                assert_eq!(limit, Limits::default().max_text_len());
            }
            other => panic!("FC-24: expected TooLarge, got {other:?}"),
        }
        assert_eq!(sink.queued(), before);
        sink.close().await.expect("in memory");
    });
    assert_eq!(sink.get_ref().written, b"\x00\x00\x00\x04kept");
    assert!(sink.get_ref().closed);
}

#[test]
fn typed_client_sink_queues_the_preface_and_sends_it_once_before_its_first_frame() {
    // FC-3: flushed at once, before any frame; FC-25: once.
    let mut sink = FrameSink::new(
        RecordingWrite::default(),
        Encoder::client(Profile::Typed, Limits::default()),
    );
    assert_eq!(sink.queued(), PREFACE);
    block_on(sink.flush()).expect("in memory");
    assert_eq!(sink.get_ref().written, PREFACE);
    block_on(sink.send(Frame::Ping { nonce: 4 })).expect("in memory");
    assert_eq!(
        sink.get_ref().written,
        [&PREFACE[..], &[0x84, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 4]].concat()
    );
    assert_eq!(sink.get_ref().flushes, 2);
}
