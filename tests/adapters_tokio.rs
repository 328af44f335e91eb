//! The tokio adapter (`framechat::tokio::FrameCodec`) against the spec: through `FramedRead`,
//! `FramedWrite` and `Framed`, and called directly as tokio-util calls it, the same frames and
//! the same typed errors as the sans-IO decoder, however the stream is cut (FC-18).
#![cfg(feature = "tokio-codec")]

// Each test file uses its own subset of the shared helpers.
#[allow(dead_code)]
mod adapters_support;
mod common;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Decoder as _, Encoder as _, FramedRead, FramedWrite};

use adapters_support::{
    cases, encode_scripts, vector_scripts, ChunkPlan, Outcome, Script, Stop, CHUNK_PLANS,
};
use framechat::io::Error;
use framechat::tokio::FrameCodec;
use framechat::wire::PREFACE;
use framechat::{
    DecodeErrorKind, Decoder, EncodeError, Encoder, Frame, Limits, Part, Profile, Role, UnixMicros,
};

/// An `AsyncRead` that returns `Pending` (waking itself) on every other poll and otherwise the
/// stream in the plan's chunk sizes. After the stream: end of stream if `finish`, else
/// `WouldBlock`, as a live connection with nothing more to read.
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
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.polls += 1;
        if self.polls % 2 == 1 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.rest.is_empty() && !self.finish {
            return Poll::Ready(Err(io::ErrorKind::WouldBlock.into()));
        }
        let size = *self.sizes.next().expect("cycled plans never end");
        let n = size.min(buf.remaining()).min(self.rest.len());
        buf.put_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Poll::Ready(Ok(()))
    }
}

/// A codec around the script's decoder; the encoder is not used by these reads.
fn codec_for(script: &Script) -> FrameCodec {
    let encoder = match script.decoder.role() {
        Role::Client => Encoder::client(Profile::Typed, Limits::default()),
        Role::Server => Encoder::server(Profile::Typed, Limits::default()),
    };
    FrameCodec::new(script.decoder.clone(), encoder)
}

/// Every script through tokio-util's own read loop (`FramedRead`, `decode_eof` included), under
/// every chunk plan.
async fn framed_read_every_script(scripts: &[Script]) -> usize {
    let mut runs = 0;
    for script in scripts {
        for plan in CHUNK_PLANS {
            let mut framed =
                FramedRead::new(ChunkedAsyncRead::new(plan, script), codec_for(script));
            let mut frames = Vec::new();
            let stop = loop {
                match framed.next().await {
                    Some(Ok(frame)) => frames.push(frame),
                    Some(Err(Error::Decode(err))) => {
                        assert!(
                            framed.next().await.is_none(),
                            "{}: FC-19, the stream ends after its error",
                            script.name
                        );
                        break Stop::Error(err);
                    }
                    Some(Err(Error::Io(err))) if err.kind() == io::ErrorKind::WouldBlock => {
                        assert_eq!(framed.decoder().decoder().error(), None);
                        break Stop::Open;
                    }
                    Some(Err(other)) => panic!("{}: unexpected {other:?}", script.name),
                    None => break Stop::Clean,
                }
            };
            assert_eq!(
                Outcome { frames, stop },
                script.expected,
                "{} / chunks {}",
                script.name,
                plan.name
            );
            runs += 1;
        }
    }
    runs
}

#[tokio::test]
async fn framed_read_yields_each_hand_built_cases_frames_and_verdict_under_every_chunking() {
    // FC-18, FC-19, FC-21.
    let scripts = cases();
    let runs = framed_read_every_script(&scripts).await;
    assert_eq!(runs, scripts.len() * CHUNK_PLANS.len());
}

#[tokio::test]
async fn framed_read_passes_every_decode_vector_under_every_chunking() {
    // §9: every decode vector, its frames, its end (clean, open or the exact error), FC-18.
    let scripts = vector_scripts();
    let runs = framed_read_every_script(&scripts).await;
    assert_eq!(runs, scripts.len() * CHUNK_PLANS.len());
}

#[test]
fn decode_advances_the_read_buffer_by_exactly_the_bytes_the_decoder_consumed() {
    // Called as tokio-util calls it: bytes appended to one BytesMut, `decode` until `None`,
    // `decode_eof` at the end of a finished stream. After each call, what left the buffer is
    // what the decoder took in. Hand-built cases and every decode vector, every chunk plan.
    let mut runs = 0;
    for script in cases().iter().chain(&vector_scripts()) {
        for plan in CHUNK_PLANS {
            let mut codec = codec_for(script);
            let mut buf = BytesMut::new();
            let mut fed = 0u64;
            let mut frames = Vec::new();
            let mut error = None;
            'feed: for chunk in plan.cut(&script.stream) {
                buf.extend_from_slice(chunk);
                fed += chunk.len() as u64;
                loop {
                    match codec.decode(&mut buf) {
                        Ok(frame) => {
                            assert_eq!(
                                fed - buf.len() as u64,
                                codec.decoder().stream_offset(),
                                "{}: advanced by exactly `consumed`",
                                script.name
                            );
                            match frame {
                                Some(frame) => frames.push(frame),
                                None => {
                                    assert!(buf.is_empty(), "no frame: all of it was taken");
                                    break;
                                }
                            }
                        }
                        Err(Error::Decode(err)) => {
                            error = Some(err);
                            break 'feed;
                        }
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
            }
            let stop = match error {
                Some(err) => Stop::Error(err),
                None if !script.finish => Stop::Open,
                None => loop {
                    match codec.decode_eof(&mut buf) {
                        Ok(Some(frame)) => frames.push(frame),
                        Ok(None) => break Stop::Clean,
                        Err(Error::Decode(err)) => break Stop::Error(err),
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                },
            };
            assert_eq!(
                Outcome { frames, stop },
                script.expected,
                "{} / chunks {}",
                script.name,
                plan.name
            );
            runs += 1;
        }
    }
    assert!(runs > 100 * CHUNK_PLANS.len());
}

#[test]
fn a_frame_cut_at_eof_is_the_typed_truncated_error_not_bytes_remaining_on_stream() {
    // FC-21. tokio-util's default `decode_eof` sees an empty buffer (the decoder took the bytes
    // in) and would report a clean end; the codec asks `Decoder::finish` instead.
    let mut codec = FrameCodec::client(Profile::Typed, Limits::default());
    let mut buf = BytesMut::from(&[0x84, 0, 0, 0, 8, 1, 2][..]);
    assert_eq!(codec.decode(&mut buf).expect("incomplete is fine"), None);
    assert!(buf.is_empty());
    match codec.decode_eof(&mut buf) {
        Err(Error::Decode(err)) => {
            assert_eq!(
                err.kind,
                DecodeErrorKind::Truncated {
                    part: Part::Payload,
                    received: 2,
                    expected: 8
                }
            );
            assert_eq!((err.offset, err.frame_index), (7, 0));
        }
        other => panic!("FC-21: expected Truncated, got {other:?}"),
    }
}

#[test]
fn a_refused_frame_is_a_typed_encode_error_and_leaves_the_write_buffer_untouched() {
    // FC-23, FC-24: a client never sends ECHO.
    let mut codec = FrameCodec::client(Profile::Typed, Limits::default());
    let mut dst = BytesMut::from(&b"earlier"[..]);
    let echo = Frame::Echo {
        sent_at: UnixMicros(1),
        relayed_at: UnixMicros(2),
        text: "no".to_string(),
    };
    match codec.encode(echo, &mut dst) {
        Err(Error::Encode(EncodeError::WrongDirection { frame_type, sender })) => {
            assert_eq!((frame_type, sender), (0x82, Role::Client));
        }
        other => panic!("FC-24: expected WrongDirection, got {other:?}"),
    }
    assert_eq!(&dst[..], b"earlier");
    // The refused frame did not consume the preface either: it precedes the first real frame.
    codec
        .encode(Frame::Ping { nonce: 1 }, &mut dst)
        .expect("a valid frame");
    assert_eq!(&dst[7..17], PREFACE);
}

#[tokio::test]
async fn framed_from_the_codec_sends_the_preface_on_flush_and_never_again() {
    // FC-3: at once, before any frame; FC-25: once.
    let (near, mut far) = tokio::io::duplex(256);
    let mut framed = FrameCodec::client(Profile::Typed, Limits::default()).framed(near);
    framed.flush().await.expect("duplex open");
    // Flushed means in the pipe: the read completes at its first poll, or the test fails (no hang).
    let mut preface = [0; 10];
    far.read_exact(&mut preface)
        .now_or_never()
        .expect("FC-3: the preface is sent by the flush alone")
        .expect("duplex open");
    assert_eq!(&preface, PREFACE);
    framed
        .send(Frame::Ping { nonce: 3 })
        .await
        .expect("duplex open");
    let mut ping = [0; 13];
    far.read_exact(&mut ping)
        .now_or_never()
        .expect("sent by `send`")
        .expect("duplex open");
    assert_eq!(ping, [0x84, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 3]);
    drop(framed);
    assert_eq!(
        far.read(&mut [0; 1]).await.expect("closed pipe"),
        0,
        "FC-25: no second preface, nothing more"
    );
}

/// An `AsyncWrite` that takes 1 to 3 bytes per poll and is `Pending` on every third poll.
#[derive(Default)]
struct ChunkedAsyncWrite {
    written: Vec<u8>,
    polls: usize,
}

/// Its read half is an empty stream, so that it can sit under a `Framed`.
impl AsyncRead for ChunkedAsyncWrite {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ChunkedAsyncWrite {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.polls += 1;
        if self.polls % 3 == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = buf.len().min(1 + self.polls % 3);
        self.written.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn framed_write_writes_exactly_the_encoders_bytes_whatever_each_write_accepts() {
    // FC-23, FC-25: a plain `FramedWrite::new` (no `framed`) puts the preface before the first
    // frame; partial writes and `Pending` change nothing in the bytes.
    let frames = vec![
        Frame::Chat {
            sent_at: UnixMicros(10),
            text: "h\u{e9}llo".to_string(),
        },
        Frame::Ping { nonce: 11 },
        Frame::Error {
            code: framechat::ErrorCode(999),
            reason: "unknown code, still valid (FC-12)".to_string(),
        },
    ];
    let mut expected = Vec::new();
    let mut encoder = Encoder::client(Profile::Typed, Limits::default());
    for frame in &frames {
        encoder
            .encode(frame.as_ref(), &mut expected)
            .expect("valid client frames");
    }
    let mut framed = FramedWrite::new(
        ChunkedAsyncWrite::default(),
        FrameCodec::client(Profile::Typed, Limits::default()),
    );
    for frame in frames {
        framed.feed(frame).await.expect("in-memory writer");
    }
    framed.flush().await.expect("in-memory writer");
    assert_eq!(framed.get_ref().written, expected);
}

#[tokio::test]
async fn framed_write_passes_every_encode_vector_over_a_transport_taking_1_to_3_bytes() {
    // §9, FC-23, FC-24: each frame written or refused exactly as the vector says, a refusal
    // leaving the write buffer untouched; in all, exactly the vector's bytes.
    for script in encode_scripts() {
        // Through `FrameCodec::framed`, which queues a typed client's preface at once (FC-3).
        let decoder = Decoder::client(Profile::Legacy, Limits::default()); // not used
        let codec = FrameCodec::new(decoder, script.encoder.clone());
        let mut framed = codec.framed(ChunkedAsyncWrite::default());
        for (index, (frame, refusal)) in script.steps.iter().enumerate() {
            let buffered_before = framed.write_buffer().to_vec();
            match (framed.feed(frame.clone()).await, refusal) {
                (Ok(()), None) => {}
                (Err(Error::Encode(err)), Some(expected)) => {
                    assert_eq!(&err, expected, "{} frame {index}", script.name);
                    assert_eq!(
                        &framed.write_buffer()[..],
                        buffered_before,
                        "FC-23: {}",
                        script.name
                    );
                }
                (other, _) => panic!(
                    "{} frame {index}: expected {refusal:?}, got {other:?}",
                    script.name
                ),
            }
        }
        framed.flush().await.expect("in-memory writer");
        assert_eq!(framed.get_ref().written, script.output, "{}", script.name);
    }
}

#[tokio::test]
async fn a_typed_client_and_server_talk_over_a_loopback_socket() {
    // The whole recipe on a real socket: preface, CHAT and PING out; WELCOME, ECHO and PONG back;
    // a clean end in both directions.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback");
    let addr = listener.local_addr().expect("bound");
    let limits = Limits::default();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await?;
        let mut framed = FrameCodec::server(Profile::Typed, limits).framed(socket);
        framed
            .send(Frame::Welcome {
                peer_id: 1,
                max_frame_len: limits.max_frame_len(),
            })
            .await?;
        let mut received = Vec::new();
        while let Some(frame) = framed.next().await {
            let frame = frame?;
            let reply = match &frame {
                Frame::Chat { sent_at, text } => Frame::Echo {
                    sent_at: *sent_at,
                    relayed_at: UnixMicros(99),
                    text: text.clone(),
                },
                Frame::Ping { nonce } => Frame::Pong { nonce: *nonce },
                other => panic!("a client sent {other:?}"),
            };
            framed.send(reply).await?;
            received.push(frame);
        }
        framed.get_mut().shutdown().await?;
        Ok::<_, Error>(received)
    });

    let socket = TcpStream::connect(addr).await.expect("server listening");
    let mut framed = FrameCodec::client(Profile::Typed, limits).framed(socket);
    framed
        .feed(Frame::Chat {
            sent_at: UnixMicros(42),
            text: "hello".to_string(),
        })
        .await
        .expect("queued");
    framed.send(Frame::Ping { nonce: 8 }).await.expect("sent");
    framed.get_mut().shutdown().await.expect("half-close");

    let mut replies = Vec::new();
    while let Some(frame) = framed.next().await {
        replies.push(frame.expect("FC-21: a valid stream and a clean end"));
    }
    assert_eq!(
        replies,
        [
            Frame::Welcome {
                peer_id: 1,
                max_frame_len: limits.max_frame_len()
            },
            Frame::Echo {
                sent_at: UnixMicros(42),
                relayed_at: UnixMicros(99),
                text: "hello".to_string()
            },
            Frame::Pong { nonce: 8 },
        ]
    );
    let received = server
        .await
        .expect("server task")
        .expect("server saw a valid stream");
    assert_eq!(received.len(), 2);
}
