//! The runtime-agnostic adapters (`framechat::futures::{FrameStream, FrameSink}`) against the
//! spec: the same frames and the same typed errors as the sans-IO decoder, however the stream is
//! cut and however often the transport is not ready (FC-18). Driven by futures-lite's `block_on`,
//! no runtime.
#![cfg(feature = "futures-io")]

// Each test file uses its own subset of the shared helpers.
#[allow(dead_code)]
mod adapters_support;
mod common;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::FusedStream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::future::block_on;
use futures_lite::StreamExt;
use futures_util::SinkExt;

use adapters_support::{
    cases, encode_scripts, vector_scripts, ChunkPlan, Outcome, Script, Stop, CHUNK_PLANS,
};
use framechat::futures::{FrameSink, FrameStream};
use framechat::io::Error;
use framechat::wire::PREFACE;
use framechat::{EncodeError, Encoder, ErrorCode, Frame, Limits, Profile, UnixMicros};

/// An `AsyncRead` that is `Pending` (waking itself) on every other poll, fails with
/// `Interrupted` on every fifth, and otherwise returns the stream in the plan's chunk sizes.
/// After the stream: end of stream if `finish`, else `WouldBlock`, as a live connection with
/// nothing more to read.
struct ChunkedAsyncRead<'a> {
    rest: &'a [u8],
    sizes: std::iter::Cycle<std::slice::Iter<'static, usize>>,
    finish: bool,
    polls: usize,
}

impl<'a> ChunkedAsyncRead<'a> {
    fn new(plan: &ChunkPlan, script: &'a Script) -> ChunkedAsyncRead<'a> {
        ChunkedAsyncRead {
            rest: &script.stream,
            sizes: plan.sizes.iter().cycle(),
            finish: script.finish,
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
        if self.rest.is_empty() && !self.finish {
            return Poll::Ready(Err(io::ErrorKind::WouldBlock.into()));
        }
        let size = *self.sizes.next().expect("cycled plans never end");
        let n = size.min(buf.len()).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Poll::Ready(Ok(n))
    }
}

/// Every script through a `FrameStream`, under every chunk plan and two buffer sizes: frames,
/// then a clean end, an open end or one typed error, after which the stream is done (FC-19).
fn stream_every_script(scripts: &[Script]) -> usize {
    let mut runs = 0;
    for script in scripts {
        for plan in CHUNK_PLANS {
            for capacity in [1, 8 * 1024] {
                let mut stream = FrameStream::with_capacity(
                    capacity,
                    ChunkedAsyncRead::new(plan, script),
                    script.decoder.clone(),
                );
                let outcome = block_on(async {
                    let mut frames = Vec::new();
                    let stop = loop {
                        match stream.next().await {
                            Some(Ok(frame)) => frames.push(frame),
                            Some(Err(Error::Decode(err))) => break Stop::Error(err),
                            Some(Err(Error::Io(err)))
                                if err.kind() == io::ErrorKind::WouldBlock =>
                            {
                                assert_eq!(stream.decoder().error(), None);
                                assert!(!stream.is_terminated(), "an I/O error is not terminal");
                                break Stop::Open;
                            }
                            Some(Err(other)) => panic!("{}: unexpected {other:?}", script.name),
                            None => break Stop::Clean,
                        }
                    };
                    if stop != Stop::Open {
                        assert!(stream.is_terminated(), "{}: FC-19, FC-21", script.name);
                        assert!(stream.next().await.is_none(), "{}: fused", script.name);
                    }
                    Outcome { frames, stop }
                });
                assert_eq!(
                    outcome, script.expected,
                    "{} / chunks {} / buffer {capacity}",
                    script.name, plan.name
                );
                runs += 1;
            }
        }
    }
    runs
}

/// Every script through `FrameStream::read_each` (frames lent, not owned), under every chunk
/// plan and two buffer sizes, against a transport often not ready: the same outcome as the
/// `Stream`, and once it ends it stays ended.
fn read_each_every_script(scripts: &[Script]) -> usize {
    let mut runs = 0;
    for script in scripts {
        for plan in CHUNK_PLANS {
            for capacity in [1, 8 * 1024] {
                let mut stream = FrameStream::with_capacity(
                    capacity,
                    ChunkedAsyncRead::new(plan, script),
                    script.decoder.clone(),
                );
                let outcome = block_on(async {
                    let mut frames = Vec::new();
                    let stop = loop {
                        match stream
                            .read_each(|frame| frames.push(frame.into_owned()))
                            .await
                        {
                            Ok(true) => {}
                            Ok(false) => break Stop::Clean,
                            Err(Error::Decode(err)) => break Stop::Error(err),
                            Err(Error::Io(err)) if err.kind() == io::ErrorKind::WouldBlock => {
                                assert!(!stream.is_terminated(), "an I/O error is not terminal");
                                break Stop::Open;
                            }
                            Err(other) => panic!("{}: unexpected {other:?}", script.name),
                        }
                    };
                    if stop != Stop::Open {
                        assert!(stream.is_terminated(), "{}: FC-19, FC-21", script.name);
                        let again =
                            stream.read_each(|frame| panic!("lent {frame:?} after the end"));
                        assert!(matches!(again.await, Ok(false)), "{}: fused", script.name);
                    }
                    Outcome { frames, stop }
                });
                assert_eq!(
                    outcome, script.expected,
                    "{} / chunks {} / buffer {capacity}",
                    script.name, plan.name
                );
                runs += 1;
            }
        }
    }
    runs
}

#[test]
fn read_each_lends_each_hand_built_cases_frames_and_verdict_under_every_chunking() {
    let scripts = cases();
    assert_eq!(
        read_each_every_script(&scripts),
        scripts.len() * CHUNK_PLANS.len() * 2
    );
}

#[test]
fn read_each_passes_every_decode_vector_under_every_chunking() {
    let scripts = vector_scripts();
    assert_eq!(
        read_each_every_script(&scripts),
        scripts.len() * CHUNK_PLANS.len() * 2
    );
}

#[test]
fn frame_stream_yields_each_hand_built_cases_frames_and_verdict_under_every_chunking() {
    // FC-18, FC-19, FC-21.
    let scripts = cases();
    assert_eq!(
        stream_every_script(&scripts),
        scripts.len() * CHUNK_PLANS.len() * 2
    );
}

#[test]
fn frame_stream_passes_every_decode_vector_under_every_chunking() {
    // §9: every decode vector, its frames, its end (clean, open or the exact error), FC-18.
    let scripts = vector_scripts();
    assert_eq!(
        stream_every_script(&scripts),
        scripts.len() * CHUNK_PLANS.len() * 2
    );
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
fn frame_sink_passes_every_encode_vector_over_a_transport_taking_1_to_3_bytes() {
    // §9, FC-23, FC-24: each frame written or refused exactly as the vector says, a refusal
    // leaving the buffer untouched; in all, exactly the vector's bytes. A high-water mark of 4
    // makes `poll_ready` write between frames, against a writer that takes 1-3 bytes at a time.
    for script in encode_scripts() {
        let writer = RecordingWrite {
            chunked: true,
            ..RecordingWrite::default()
        };
        let mut sink = FrameSink::with_high_water(4, writer, script.encoder.clone());
        block_on(async {
            for (index, (frame, refusal)) in script.steps.iter().enumerate() {
                // Bytes produced so far, written or still queued (`feed` may write some out).
                let produced = |sink: &FrameSink<RecordingWrite>| {
                    [&sink.get_ref().written[..], sink.queued()].concat()
                };
                let before = produced(&sink);
                match (sink.feed(frame.clone()).await, refusal) {
                    (Ok(()), None) => {}
                    (Err(Error::Encode(err)), Some(expected)) => {
                        assert_eq!(&err, expected, "{} frame {index}", script.name);
                        assert_eq!(produced(&sink), before, "FC-23: {}", script.name);
                    }
                    (other, _) => panic!(
                        "{} frame {index}: expected {refusal:?}, got {other:?}",
                        script.name
                    ),
                }
            }
            sink.flush().await.expect("in-memory writer");
        });
        assert_eq!(sink.get_ref().written, script.output, "{}", script.name);
    }
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
