//! The blocking adapters (`framechat::io`) against the spec: the same frames and the same typed
//! errors as the sans-IO decoder, however the transport cuts the stream (FC-18).
#![cfg(feature = "std")]

// Each test file uses its own subset of the shared helpers.
#[allow(dead_code)]
mod adapters_support;
mod common;

use std::error::Error as _;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

use adapters_support::{
    cases, decode_directly, encode_scripts, vector_scripts, ChunkPlan, Outcome, Script, Side, Stop,
    CHUNK_PLANS,
};
use framechat::io::{Error, FrameReader, FrameWriter};
use framechat::wire::PREFACE;
use framechat::{
    DecodeError, DecodeErrorKind, Decoder, EncodeError, Encoder, Frame, Limits, Part, Profile,
    UnixMicros,
};

/// A `Read` that returns the stream in the plan's chunk sizes (or less, if the caller's buffer is
/// smaller) and fails with `Interrupted` on every third call (which the reader must retry, as
/// `std::io` does). After the stream: end of stream if `finish`, else `WouldBlock` forever.
struct ChunkedReader<'a> {
    rest: &'a [u8],
    sizes: std::iter::Cycle<std::slice::Iter<'static, usize>>,
    finish: bool,
    calls: usize,
}

impl<'a> ChunkedReader<'a> {
    fn new(plan: &ChunkPlan, script: &'a Script) -> ChunkedReader<'a> {
        ChunkedReader {
            rest: &script.stream,
            sizes: plan.sizes.iter().cycle(),
            finish: script.finish,
            calls: 0,
        }
    }
}

impl Read for ChunkedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 3 == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.rest.is_empty() && !self.finish {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let size = *self.sizes.next().expect("cycled plans never end");
        let n = size.min(buf.len()).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// Reads frames until the end, the first error or `WouldBlock`; checks that an end or an error
/// is sticky (FC-19, FC-21).
fn drive<R: Read>(reader: &mut FrameReader<R>) -> Outcome {
    let mut frames = Vec::new();
    loop {
        match reader.read_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => {
                assert!(
                    matches!(reader.read_frame(), Ok(None)),
                    "FC-21: a clean end stays a clean end"
                );
                return Outcome {
                    frames,
                    stop: Stop::Clean,
                };
            }
            Err(Error::Decode(err)) => {
                match reader.read_frame() {
                    Err(Error::Decode(again)) => assert_eq!(again, err, "FC-19: the same error"),
                    other => panic!("FC-19: a decode error must repeat, got {other:?}"),
                }
                return Outcome {
                    frames,
                    stop: Stop::Error(err),
                };
            }
            Err(Error::Io(err)) if err.kind() == io::ErrorKind::WouldBlock => {
                assert_eq!(reader.decoder().error(), None);
                return Outcome {
                    frames,
                    stop: Stop::Open,
                };
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
}

/// Every script through a `FrameReader`, under every chunk plan and several buffer sizes.
fn read_every_script(scripts: &[Script]) -> usize {
    let mut runs = 0;
    for script in scripts {
        for plan in CHUNK_PLANS {
            for capacity in [1, 7, 8 * 1024] {
                let mut reader = FrameReader::with_capacity(
                    capacity,
                    ChunkedReader::new(plan, script),
                    script.decoder.clone(),
                );
                assert_eq!(
                    drive(&mut reader),
                    script.expected,
                    "{} / chunks {} / buffer {capacity}",
                    script.name,
                    plan.name
                );
                runs += 1;
            }
        }
    }
    runs
}

/// Every script through `FrameReader::read_each` (frames lent, not owned), under every chunk
/// plan and several buffer sizes: the same outcome as `read_frame`; an end or an error is sticky.
fn read_each_every_script(scripts: &[Script]) -> usize {
    let mut runs = 0;
    for script in scripts {
        for plan in CHUNK_PLANS {
            for capacity in [1, 7, 8 * 1024] {
                let mut reader = FrameReader::with_capacity(
                    capacity,
                    ChunkedReader::new(plan, script),
                    script.decoder.clone(),
                );
                let mut frames = Vec::new();
                let stop = loop {
                    match reader.read_each(|frame| frames.push(frame.into_owned())) {
                        Ok(true) => {}
                        Ok(false) => {
                            assert!(matches!(reader.read_each(|_| {}), Ok(false)), "FC-21");
                            break Stop::Clean;
                        }
                        Err(Error::Decode(err)) => {
                            match reader.read_each(|frame| panic!("FC-19: lent {frame:?}")) {
                                Err(Error::Decode(again)) => assert_eq!(again, err, "FC-19"),
                                other => panic!("FC-19: a decode error must repeat, got {other:?}"),
                            }
                            break Stop::Error(err);
                        }
                        Err(Error::Io(err)) if err.kind() == io::ErrorKind::WouldBlock => {
                            break Stop::Open
                        }
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                };
                assert_eq!(
                    Outcome { frames, stop },
                    script.expected,
                    "{} / chunks {} / buffer {capacity}",
                    script.name,
                    plan.name
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
        scripts.len() * CHUNK_PLANS.len() * 3
    );
}

#[test]
fn read_each_passes_every_decode_vector_under_every_chunking() {
    let scripts = vector_scripts();
    assert_eq!(
        read_each_every_script(&scripts),
        scripts.len() * CHUNK_PLANS.len() * 3
    );
}

#[test]
fn scripts_agree_with_the_sans_io_decoder_driven_directly() {
    // The hand-built outcomes are counted by hand from the spec, the vectors' by their generator;
    // the decoder must agree with both, or the adapter tests below would use a wrong yardstick.
    for script in cases().iter().chain(&vector_scripts()) {
        assert_eq!(decode_directly(script), script.expected, "{}", script.name);
    }
}

#[test]
fn frame_reader_yields_each_hand_built_cases_frames_and_verdict_under_every_chunking() {
    // FC-18: the outcome does not depend on how the stream is cut into reads.
    let scripts = cases();
    assert_eq!(
        read_every_script(&scripts),
        scripts.len() * CHUNK_PLANS.len() * 3
    );
}

#[test]
fn frame_reader_passes_every_decode_vector_under_every_chunking() {
    // §9: every decode vector, its frames, its end (clean, open or the exact error), FC-18.
    let scripts = vector_scripts();
    assert_eq!(
        read_every_script(&scripts),
        scripts.len() * CHUNK_PLANS.len() * 3
    );
}

#[test]
fn frame_reader_iterator_yields_frames_then_the_decode_error_once_then_ends() {
    // FC-19: an error is terminal; the iterator does not spin on it.
    let case = cases()
        .into_iter()
        .find(|case| case.name.starts_with("a type byte out of range"))
        .expect("the case exists");
    let mut reader = FrameReader::new(&case.stream[..], case.decoder.clone());
    assert_eq!(
        reader.next().map(|item| item.ok()),
        Some(Some(Frame::Ping { nonce: 9 }))
    );
    match reader.next() {
        Some(Err(Error::Decode(err))) => assert_eq!(
            err.kind,
            DecodeErrorKind::InvalidFrameType { frame_type: 0x7f }
        ),
        other => panic!("FC-6: expected the decode error, got {other:?}"),
    }
    assert!(reader.next().is_none(), "FC-19: nothing after the error");
    assert!(reader.next().is_none());
}

#[test]
fn stream_cut_inside_a_frame_is_truncated_and_the_codec_error_is_the_source() {
    // FC-21: end of stream is `Decoder::finish`, never a silent clean end.
    let stream: &[u8] = b"\x00\x00\x00\x05abc";
    let mut reader = FrameReader::new(stream, Side::LEGACY_CLIENT.decoder());
    let err = reader.read_frame().expect_err("FC-21: truncated");
    let source = *err
        .source()
        .and_then(|source| source.downcast_ref::<DecodeError>())
        .expect("the codec's error is the source, typed");
    assert_eq!(
        source.kind,
        DecodeErrorKind::Truncated {
            part: Part::Payload,
            received: 3,
            expected: 5
        }
    );
    assert_eq!(source.offset, 7);
    let io_err = io::Error::from(err);
    assert_eq!(io_err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        io_err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<DecodeError>()),
        Some(&source),
        "converted to io::Error, the typed error is still reachable"
    );
}

#[test]
fn an_io_error_is_not_terminal_and_reading_resumes_where_it_stopped() {
    // A non-blocking transport's WouldBlock in the middle of a frame: nothing is lost.
    struct Stutter<'a> {
        chunks: Vec<&'a [u8]>,
        next: usize,
        would_block: bool,
    }
    impl Read for Stutter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.would_block = !self.would_block;
            if self.would_block {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let Some(chunk) = self.chunks.get(self.next) else {
                return Ok(0);
            };
            self.next += 1;
            buf[..chunk.len()].copy_from_slice(chunk);
            Ok(chunk.len())
        }
    }
    let case = &cases()[0];
    let chunks = CHUNK_PLANS[2].cut(&case.stream);
    let mut reader = FrameReader::new(
        Stutter {
            chunks,
            next: 0,
            would_block: false,
        },
        case.decoder.clone(),
    );
    let mut frames = Vec::new();
    let mut would_blocks = 0;
    for _ in 0..10 * case.stream.len() + 10 {
        match reader.read_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => break,
            Err(Error::Io(err)) if err.kind() == io::ErrorKind::WouldBlock => would_blocks += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(frames, case.expected.frames);
    assert!(
        would_blocks > case.expected.frames.len(),
        "the stutter was exercised"
    );
}

/// A `Write` that takes 1 to 3 bytes per call, fails with `WouldBlock` on every fourth call
/// and with `Interrupted` on every seventh.
#[derive(Default)]
struct ChunkedWriter {
    written: Vec<u8>,
    calls: usize,
    flushes: usize,
}

impl Write for ChunkedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 7 == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if self.calls % 4 == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(1 + self.calls % 3);
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

fn some_client_frames() -> Vec<Frame<&'static str>> {
    vec![
        Frame::Chat {
            sent_at: UnixMicros(1),
            text: "hello",
        },
        Frame::Ping { nonce: 2 },
        Frame::Chat {
            sent_at: UnixMicros(3),
            text: "",
        },
        Frame::Error {
            code: framechat::ErrorCode::GOING_AWAY,
            reason: "bye",
        },
    ]
}

#[test]
fn frame_writer_writes_exactly_the_encoders_bytes_whatever_each_write_accepts() {
    // FC-23, FC-25: whole frames, in order, the preface once, despite partial and failed writes.
    let limits = Limits::default();
    let mut expected = Vec::new();
    let mut encoder = Encoder::client(Profile::Typed, limits);
    for frame in some_client_frames() {
        encoder
            .encode(frame, &mut expected)
            .expect("valid client frames");
    }

    let mut writer = FrameWriter::new(
        ChunkedWriter::default(),
        Encoder::client(Profile::Typed, limits),
    );
    for frame in some_client_frames() {
        match writer.write_frame(frame) {
            Ok(()) => {}
            Err(Error::Io(err)) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let mut retries = 0;
    while let Err(err) = writer.flush() {
        assert!(
            matches!(&err, Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock),
            "{err:?}"
        );
        retries += 1;
        assert!(retries < 1_000, "flush must make progress");
    }
    assert!(writer.queued().is_empty());
    assert_eq!(writer.get_ref().written, expected);
    assert_eq!(writer.get_ref().flushes, 1);
}

#[test]
fn frame_writer_passes_every_encode_vector_over_a_transport_taking_1_to_3_bytes() {
    // §9, FC-23, FC-24: each frame written or refused exactly as the vector says, a refusal
    // leaving the queue untouched; in all, exactly the vector's bytes.
    let scripts = encode_scripts();
    for script in &scripts {
        let mut writer = FrameWriter::new(ChunkedWriter::default(), script.encoder.clone());
        for (index, (frame, refusal)) in script.steps.iter().enumerate() {
            let queued_before = writer.queued().to_vec();
            match (writer.write_frame(frame.as_ref()), refusal) {
                (Ok(()), None) => {}
                // Accepted and queued, not all written yet: the next write or flush goes on.
                (Err(Error::Io(err)), None) if err.kind() == io::ErrorKind::WouldBlock => {}
                (Err(Error::Encode(err)), Some(expected)) => {
                    assert_eq!(&err, expected, "{} frame {index}", script.name);
                    assert_eq!(writer.queued(), queued_before, "FC-23: {}", script.name);
                }
                (other, _) => panic!(
                    "{} frame {index}: expected {refusal:?}, got {other:?}",
                    script.name
                ),
            }
        }
        let mut retries = 0;
        while let Err(err) = writer.flush() {
            assert!(
                matches!(&err, Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock),
                "{err:?}"
            );
            retries += 1;
            assert!(retries < 100_000, "flush must make progress");
        }
        assert_eq!(writer.get_ref().written, script.output, "{}", script.name);
    }
}

#[test]
fn a_refused_frame_is_a_typed_encode_error_and_writes_nothing() {
    // FC-23, FC-24: a legacy stream cannot carry a PING; nothing reaches the transport.
    let mut writer = FrameWriter::new(
        Vec::new(),
        Encoder::client(Profile::Legacy, Limits::default()),
    );
    match writer.write_frame(Frame::Ping { nonce: 1 }) {
        Err(Error::Encode(EncodeError::WrongProfile { frame, stream })) => {
            assert_eq!((frame, stream), (Profile::Typed, Profile::Legacy));
        }
        other => panic!("FC-24: expected WrongProfile, got {other:?}"),
    }
    let err = writer
        .write_frame(Frame::Text(&"x".repeat(2 << 20)))
        .expect_err("FC-24: above the limit");
    assert!(
        err.source()
            .and_then(|source| source.downcast_ref::<EncodeError>())
            .is_some_and(|source| matches!(source, EncodeError::TooLarge { .. })),
        "{err:?}"
    );
    assert_eq!(
        io::Error::from(err).kind(),
        io::ErrorKind::InvalidInput,
        "a caller's error, not the peer's"
    );
    assert!(writer.into_inner().expect("Vec never fails").is_empty());
}

#[test]
fn typed_client_writer_queues_the_preface_and_sends_it_once_before_its_first_frame() {
    // FC-3: the preface goes out on the first flush, before any frame; FC-25: only once.
    let mut writer = FrameWriter::new(
        Vec::new(),
        Encoder::client(Profile::Typed, Limits::default()),
    );
    assert_eq!(writer.queued(), PREFACE);
    writer.flush().expect("Vec never fails");
    assert_eq!(writer.get_ref().as_slice(), PREFACE);
    writer
        .write_frame(Frame::Ping { nonce: 5 })
        .expect("valid frame");
    let wire = writer.into_inner().expect("Vec never fails");
    assert_eq!(
        wire,
        [&PREFACE[..], &[0x84, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 5]].concat()
    );

    let server = FrameWriter::new(
        Vec::new(),
        Encoder::server(Profile::Typed, Limits::default()),
    );
    assert!(server.queued().is_empty(), "a server sends no preface");
}

#[test]
fn a_typed_client_and_server_talk_over_a_loopback_socket() {
    // The whole recipe on a real socket: preface, CHAT and PING out; ECHO and PONG back; a
    // clean end in both directions.
    let listener = TcpListener::bind("127.0.0.1:0").expect("loopback");
    let addr = listener.local_addr().expect("bound");
    let limits = Limits::default();
    let server = thread::spawn(move || -> Result<Vec<Frame>, Error> {
        let (socket, _) = listener.accept()?;
        let reader = FrameReader::new(socket.try_clone()?, Decoder::server(Profile::Typed, limits));
        let mut writer = FrameWriter::new(socket, Encoder::server(Profile::Typed, limits));
        let mut received = Vec::new();
        for frame in reader {
            let frame = frame?;
            match &frame {
                Frame::Chat { sent_at, text } => writer.write_frame(Frame::Echo {
                    sent_at: *sent_at,
                    relayed_at: UnixMicros(99),
                    text,
                })?,
                Frame::Ping { nonce } => writer.write_frame(Frame::Pong { nonce: *nonce })?,
                other => panic!("a client sent {other:?}"),
            }
            received.push(frame);
        }
        writer.get_ref().shutdown(Shutdown::Write)?;
        Ok(received)
    });

    let socket = TcpStream::connect(addr).expect("server listening");
    let mut reader = FrameReader::new(
        socket.try_clone().expect("clone"),
        Decoder::client(Profile::Typed, limits),
    );
    let mut writer = FrameWriter::new(socket, Encoder::client(Profile::Typed, limits));
    writer
        .write_frame(Frame::Chat {
            sent_at: UnixMicros(42),
            text: "h\u{e9}llo",
        })
        .expect("sent");
    writer.write_frame(Frame::Ping { nonce: 8 }).expect("sent");
    writer
        .get_ref()
        .shutdown(Shutdown::Write)
        .expect("half-close");

    assert_eq!(
        reader.read_frame().expect("echo"),
        Some(Frame::Echo {
            sent_at: UnixMicros(42),
            relayed_at: UnixMicros(99),
            text: "h\u{e9}llo".to_string()
        })
    );
    assert_eq!(
        reader.read_frame().expect("pong"),
        Some(Frame::Pong { nonce: 8 })
    );
    assert_eq!(reader.read_frame().expect("FC-21: clean end"), None);
    let received = server
        .join()
        .expect("server thread")
        .expect("server saw a valid stream");
    assert_eq!(received.len(), 2);
    assert_eq!(reader.decoder().stream_offset(), 5 + 16 + 6 + 5 + 8);
}
