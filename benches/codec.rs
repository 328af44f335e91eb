//! framechat's codec against the codecs users would pick instead: tokio-util's
//! `LengthDelimitedCodec` and asynchronous-codec's `LengthCodec`, with a plain memcpy as the floor.
//!
//! Run from the repository root (a package of its own, so `cargo test` never builds criterion):
//!
//! ```text
//! cargo bench --manifest-path benches/Cargo.toml
//! python3 benches/tables.py      # BENCHMARKS.md's tables, from criterion's estimates
//! ```
//!
//! # What is measured
//!
//! Every contender decodes the same frames: a stream of `frames` legacy frames (§3.1: a u32
//! big-endian length, then that many bytes of UTF-8 text), which is byte for byte the default
//! format of tokio-util's `LengthDelimitedCodec`. asynchronous-codec's `LengthCodec` prefixes a
//! **u64** big-endian length instead, so it decodes its own stream of the same texts in its own
//! format (4 bytes longer per frame).
//!
//! Each stream is fed three ways: as one buffer, as 1500-byte segments (an Ethernet MTU's worth
//! per read) and one byte at a time (with fewer frames, to keep the run short). A contender gets
//! each segment the way its API takes bytes:
//!
//! - framechat's `Decoder` borrows the segment (`&[u8]`) and is driven by the crate's recipe:
//!   `decode`, advance by `consumed`, until the segment is used up. Its frames borrow from the
//!   segment when a payload arrives whole in it, or from the decoder's own buffer when it was
//!   split. Every text is validated as UTF-8: that is the codec's job (FC-2, FC-17).
//! - "framechat-owned" also turns each frame into an owned `Frame<String>` (one copy per frame).
//! - "framechat-read" first copies each segment into a reusable read buffer, as `read(2)` into a
//!   caller's buffer would, then decodes from there: the fair end-to-end counterpart of tokio's
//!   row, which pays that copy in `extend_from_slice`.
//! - tokio-util and asynchronous-codec are fed as `FramedRead` feeds them: `extend_from_slice`
//!   into a `BytesMut`, then `decode` until `None`. They check no UTF-8; "tokio-utf8" adds the
//!   `std::str::from_utf8` a user of it needs to get the guarantee framechat gives.
//! - "memcpy" copies each segment into a preallocated buffer and does nothing else: the floor.
//! - "utf8-floor" (streams fed whole only) runs `str::from_utf8` over each payload and does
//!   nothing else: the validation any decoder that hands out `&str` pays, in this very binary
//!   (its speed depends on where the linker puts core's validation loop; see BENCHMARKS.md).
//!
//! The application's side of each frame is the same for all: it takes the text or bytes
//! (`black_box(frame.text())`, `black_box(&frame[..])`) and drops the frame.
//!
//! Decoders, codecs and buffers live across iterations (a long-lived connection in its steady
//! state); each iteration decodes the whole stream and asserts it got every frame. Before any
//! timing, every contender's output is checked against the expected frames, and every encoder's
//! output against the expected stream.
//!
//! Encoders write the same frames into a reused buffer: framechat's `Encoder` into a `Vec<u8>`,
//! tokio's `Encoder<&[u8]>` and asynchronous-codec's `Encoder<Bytes>` into a `BytesMut`; the
//! floor copies the finished stream.
//!
//! Criterion reports frames per second (`Throughput::Elements`); bytes per second follow from the
//! frame size and are computed by `tables.py`.

use std::hint::black_box;
use std::time::Duration;

use asynchronous_codec::{Decoder as _, Encoder as _, LengthCodec};
use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use framechat::{Decoder, Encoder, Frame, Limits, Profile};
use tokio_util::codec::{Decoder as _, Encoder as _, LengthDelimitedCodec};

/// One payload size and how many frames make its streams.
struct Size {
    label: &'static str,
    payload: usize,
    /// Frames per stream when fed whole or in segments.
    frames: usize,
    /// Frames per stream when fed one byte at a time.
    frames_bytewise: usize,
}

const SIZES: [Size; 3] = [
    Size {
        label: "16B",
        payload: 16,
        frames: 4096,
        frames_bytewise: 256,
    },
    Size {
        label: "1KiB",
        payload: 1024,
        frames: 256,
        frames_bytewise: 8,
    },
    Size {
        label: "64KiB",
        payload: 64 * 1024,
        frames: 16,
        frames_bytewise: 1,
    },
];

/// How a stream is cut into reads.
#[derive(Clone, Copy)]
enum Feeding {
    Whole,
    Segments(usize),
    Bytewise,
}

const FEEDINGS: [Feeding; 3] = [Feeding::Whole, Feeding::Segments(1500), Feeding::Bytewise];

impl Feeding {
    fn label(self) -> &'static str {
        match self {
            Feeding::Whole => "whole",
            Feeding::Segments(_) => "seg1500",
            Feeding::Bytewise => "bytewise",
        }
    }

    /// The length of each read for a stream of `len` bytes.
    fn chunk(self, len: usize) -> usize {
        match self {
            Feeding::Whole => len.max(1),
            Feeding::Segments(size) => size,
            Feeding::Bytewise => 1,
        }
    }
}

/// The text of the main workload: English chat, ASCII, as most benchmarks of framing use.
const ASCII: &str = "The quick brown fox jumps over the lazy dog. ";

/// The text of the `decode-utf8` groups: chat in several scripts (2-, 3- and 4-byte characters
/// between ASCII), which keeps `str::from_utf8` off its ASCII fast path. It shows what the
/// UTF-8 check framechat owes (FC-2) costs on such text.
const MIXED: &str = "Grüße aus Köln! Привет, мир. 你好，世界。 Ça va? 👋 ";

/// A text of exactly `len` bytes: `phrase` repeated, cut at a character boundary, padded with
/// ASCII dots.
fn text_of(phrase: &str, len: usize) -> &'static str {
    let mut text = String::with_capacity(len + phrase.len());
    while text.len() < len {
        text.push_str(phrase);
    }
    let mut end = len;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    while text.len() < len {
        text.push('.');
    }
    // Leaked once per size so tokio's and asynchronous-codec's encoders can take it as static
    // `Bytes` without copying it.
    Box::leak(text.into_boxed_str())
}

/// `frames` frames of `text`, each behind a big-endian length of `len_bytes` bytes (4: framechat
/// legacy and tokio-util; 8: asynchronous-codec).
fn stream_of(text: &str, frames: usize, len_bytes: usize) -> Vec<u8> {
    let mut stream = Vec::with_capacity(frames * (len_bytes + text.len()));
    let length = (text.len() as u64).to_be_bytes();
    for _ in 0..frames {
        stream.extend_from_slice(&length[8 - len_bytes..]);
        stream.extend_from_slice(text.as_bytes());
    }
    stream
}

fn framechat_decoder() -> Decoder {
    Decoder::client(Profile::Legacy, Limits::default())
}

/// The recipe of the crate docs over each read; `on_frame` sees every frame.
fn framechat_feed(
    decoder: &mut Decoder,
    stream: &[u8],
    chunk: usize,
    mut on_frame: impl FnMut(Frame<&str>),
) {
    for segment in stream.chunks(chunk) {
        let mut input = black_box(segment);
        while !input.is_empty() {
            let decoded = decoder.decode(input).expect("the stream is valid");
            input = &input[decoded.consumed..];
            if let Some(frame) = decoded.frame {
                on_frame(frame);
            }
        }
    }
}

/// As [`framechat_feed`], but each segment is first copied into `read_buf`, as a `read(2)`
/// into the caller's buffer would put it there.
fn framechat_feed_read(
    decoder: &mut Decoder,
    stream: &[u8],
    chunk: usize,
    read_buf: &mut [u8],
    mut on_frame: impl FnMut(Frame<&str>),
) {
    for segment in stream.chunks(chunk) {
        let read = &mut read_buf[..segment.len()];
        read.copy_from_slice(black_box(segment));
        let mut input = &*read;
        while !input.is_empty() {
            let decoded = decoder.decode(input).expect("the stream is valid");
            input = &input[decoded.consumed..];
            if let Some(frame) = decoded.frame {
                on_frame(frame);
            }
        }
    }
}

/// `FramedRead`'s way: extend the buffer with each read, then decode until `None`.
fn tokio_feed(
    codec: &mut LengthDelimitedCodec,
    buf: &mut BytesMut,
    stream: &[u8],
    chunk: usize,
    mut on_frame: impl FnMut(BytesMut),
) {
    for segment in stream.chunks(chunk) {
        buf.extend_from_slice(black_box(segment));
        while let Some(frame) = codec.decode(buf).expect("the stream is valid") {
            on_frame(frame);
        }
    }
}

fn asynchronous_feed(
    codec: &mut LengthCodec,
    buf: &mut BytesMut,
    stream: &[u8],
    chunk: usize,
    mut on_frame: impl FnMut(Bytes),
) {
    for segment in stream.chunks(chunk) {
        buf.extend_from_slice(black_box(segment));
        while let Some(frame) = codec.decode(buf).expect("the stream is valid") {
            on_frame(frame);
        }
    }
}

fn memcpy_feed(dst: &mut [u8], stream: &[u8], chunk: usize) {
    let mut at = 0;
    for segment in stream.chunks(chunk) {
        let segment = black_box(segment);
        dst[at..at + segment.len()].copy_from_slice(segment);
        at += segment.len();
    }
    black_box(dst);
}

/// `str::from_utf8` over each payload of a legacy stream and nothing else: the validation every
/// text costs (FC-2), in this very binary. Only for streams fed whole.
fn utf8_floor(stream: &[u8], frames: usize, payload: usize) {
    let mut at = 4;
    for _ in 0..frames {
        let text = std::str::from_utf8(&black_box(stream)[at..at + payload]).expect("valid UTF-8");
        black_box(text);
        at += 4 + payload;
    }
}

/// Every decoder yields `frames` frames of `text` from its stream, whatever the feeding; checked
/// once before timing so the numbers are of decoders that work.
fn check_decoders(text: &str, frames: usize, legacy: &[u8], long: &[u8], chunk: usize) {
    let mut texts: Vec<String> = Vec::new();
    framechat_feed(&mut framechat_decoder(), legacy, chunk, |frame| {
        texts.push(frame.text().expect("a legacy frame has a text").to_owned());
    });
    assert!(
        texts.len() == frames && texts.iter().all(|t| t == text),
        "framechat"
    );

    let mut read_buf = vec![0; chunk.min(legacy.len())];
    let mut count = 0;
    framechat_feed_read(
        &mut framechat_decoder(),
        legacy,
        chunk,
        &mut read_buf,
        |frame| {
            assert_eq!(frame.text(), Some(text), "framechat-read");
            count += 1;
        },
    );
    assert_eq!(count, frames, "framechat-read");

    let mut count = 0;
    tokio_feed(
        &mut LengthDelimitedCodec::new(),
        &mut BytesMut::new(),
        legacy,
        chunk,
        |frame| {
            assert_eq!(&frame[..], text.as_bytes(), "tokio-util");
            count += 1;
        },
    );
    assert_eq!(count, frames, "tokio-util");

    let mut count = 0;
    asynchronous_feed(
        &mut LengthCodec,
        &mut BytesMut::new(),
        long,
        chunk,
        |frame| {
            assert_eq!(&frame[..], text.as_bytes(), "asynchronous-codec");
            count += 1;
        },
    );
    assert_eq!(count, frames, "asynchronous-codec");
}

fn decode(c: &mut Criterion) {
    for size in &SIZES {
        let text = text_of(ASCII, size.payload);
        for feeding in FEEDINGS {
            let frames = match feeding {
                Feeding::Bytewise => size.frames_bytewise,
                _ => size.frames,
            };
            let legacy = stream_of(text, frames, 4);
            let long = stream_of(text, frames, 8);
            let chunk = feeding.chunk(legacy.len());
            check_decoders(text, frames, &legacy, &long, chunk);

            let mut group = c.benchmark_group(format!("decode/{}/{}", size.label, feeding.label()));
            group.throughput(Throughput::Elements(frames as u64));

            let mut dst = vec![0u8; legacy.len()];
            group.bench_function("memcpy", |b| {
                b.iter(|| memcpy_feed(&mut dst, &legacy, chunk))
            });
            if let Feeding::Whole = feeding {
                group.bench_function("utf8-floor", |b| {
                    b.iter(|| utf8_floor(&legacy, frames, size.payload))
                });
            }

            let mut decoder = framechat_decoder();
            group.bench_function("framechat", |b| {
                b.iter(|| {
                    let mut count = 0;
                    framechat_feed(&mut decoder, &legacy, chunk, |frame| {
                        black_box(frame.text());
                        count += 1;
                    });
                    assert_eq!(count, frames);
                })
            });

            let mut decoder = framechat_decoder();
            group.bench_function("framechat-owned", |b| {
                b.iter(|| {
                    let mut count = 0;
                    framechat_feed(&mut decoder, &legacy, chunk, |frame| {
                        let owned = frame.into_owned();
                        black_box(owned.text());
                        count += 1;
                    });
                    assert_eq!(count, frames);
                })
            });

            let mut decoder = framechat_decoder();
            let mut read_buf = vec![0u8; chunk.min(legacy.len())];
            group.bench_function("framechat-read", |b| {
                b.iter(|| {
                    let mut count = 0;
                    framechat_feed_read(&mut decoder, &legacy, chunk, &mut read_buf, |frame| {
                        black_box(frame.text());
                        count += 1;
                    });
                    assert_eq!(count, frames);
                })
            });

            let mut codec = LengthDelimitedCodec::new();
            let mut buf = BytesMut::new();
            group.bench_function("tokio", |b| {
                b.iter(|| {
                    let mut count = 0;
                    tokio_feed(&mut codec, &mut buf, &legacy, chunk, |frame| {
                        black_box(&frame[..]);
                        count += 1;
                    });
                    assert_eq!(count, frames);
                })
            });

            let mut codec = LengthDelimitedCodec::new();
            let mut buf = BytesMut::new();
            group.bench_function("tokio-utf8", |b| {
                b.iter(|| {
                    let mut count = 0;
                    tokio_feed(&mut codec, &mut buf, &legacy, chunk, |frame| {
                        black_box(std::str::from_utf8(&frame).expect("valid UTF-8"));
                        count += 1;
                    });
                    assert_eq!(count, frames);
                })
            });

            let mut codec = LengthCodec;
            let mut buf = BytesMut::new();
            group.bench_function("asynchronous-codec", |b| {
                b.iter(|| {
                    let mut count = 0;
                    asynchronous_feed(&mut codec, &mut buf, &long, chunk, |frame| {
                        black_box(&frame[..]);
                        count += 1;
                    });
                    assert_eq!(count, frames);
                })
            });

            group.finish();
        }
    }
}

/// Makes a text of the given length in bytes.
type TextOfLen = fn(usize) -> &'static str;

/// English that ends in an emoji: ASCII up to the last 4 bytes, `👋` in them.
fn late_emoji_text(len: usize) -> &'static str {
    let mut text = text_of(ASCII, len - "👋".len()).to_owned();
    text.push('👋');
    Box::leak(text.into_boxed_str())
}

/// Texts off the ASCII fast path, fed as one buffer: the mixed-script text (`decode-utf8`), where
/// the UTF-8 check runs at its slowest, and English ending in an emoji (`decode-late`), where a
/// check that first asked "all ASCII?" of the whole text would go over it twice.
fn decode_utf8(c: &mut Criterion) {
    let texts: [(&str, TextOfLen); 2] = [
        ("decode-utf8", |len| text_of(MIXED, len)),
        ("decode-late", late_emoji_text),
    ];
    for ((group_name, make_text), size) in texts
        .into_iter()
        .flat_map(|text| SIZES.iter().map(move |size| (text, size)))
    {
        let text = make_text(size.payload);
        assert_eq!(text.len(), size.payload);
        let frames = size.frames;
        let legacy = stream_of(text, frames, 4);
        let long = stream_of(text, frames, 8);
        let chunk = legacy.len();
        check_decoders(text, frames, &legacy, &long, chunk);

        let mut group = c.benchmark_group(format!("{group_name}/{}/whole", size.label));
        group.throughput(Throughput::Elements(frames as u64));

        let mut dst = vec![0u8; legacy.len()];
        group.bench_function("memcpy", |b| {
            b.iter(|| memcpy_feed(&mut dst, &legacy, chunk))
        });
        group.bench_function("utf8-floor", |b| {
            b.iter(|| utf8_floor(&legacy, frames, size.payload))
        });

        let mut decoder = framechat_decoder();
        group.bench_function("framechat", |b| {
            b.iter(|| {
                let mut count = 0;
                framechat_feed(&mut decoder, &legacy, chunk, |frame| {
                    black_box(frame.text());
                    count += 1;
                });
                assert_eq!(count, frames);
            })
        });

        let mut codec = LengthDelimitedCodec::new();
        let mut buf = BytesMut::new();
        group.bench_function("tokio", |b| {
            b.iter(|| {
                let mut count = 0;
                tokio_feed(&mut codec, &mut buf, &legacy, chunk, |frame| {
                    black_box(&frame[..]);
                    count += 1;
                });
                assert_eq!(count, frames);
            })
        });

        let mut codec = LengthDelimitedCodec::new();
        let mut buf = BytesMut::new();
        group.bench_function("tokio-utf8", |b| {
            b.iter(|| {
                let mut count = 0;
                tokio_feed(&mut codec, &mut buf, &legacy, chunk, |frame| {
                    black_box(std::str::from_utf8(&frame).expect("valid UTF-8"));
                    count += 1;
                });
                assert_eq!(count, frames);
            })
        });

        group.finish();
    }
}

fn framechat_encode(encoder: &mut Encoder, out: &mut Vec<u8>, text: &str, frames: usize) {
    out.clear();
    for _ in 0..frames {
        encoder
            .encode(Frame::Text(black_box(text)), out)
            .expect("a text within the limit");
    }
}

fn tokio_encode(codec: &mut LengthDelimitedCodec, out: &mut BytesMut, text: &str, frames: usize) {
    out.clear();
    for _ in 0..frames {
        codec
            .encode(black_box(text.as_bytes()), out)
            .expect("a frame within tokio's limit");
    }
}

fn asynchronous_encode(out: &mut BytesMut, text: &'static str, frames: usize) {
    out.clear();
    for _ in 0..frames {
        LengthCodec
            .encode(Bytes::from_static(black_box(text).as_bytes()), out)
            .expect("LengthCodec never fails");
    }
}

fn encode(c: &mut Criterion) {
    for size in &SIZES {
        let text = text_of(ASCII, size.payload);
        let frames = size.frames;
        let legacy = stream_of(text, frames, 4);
        let long = stream_of(text, frames, 8);

        // Checked once before timing: every encoder writes exactly the expected stream.
        let mut out = Vec::new();
        framechat_encode(&mut framechat_encoder(), &mut out, text, frames);
        assert!(out == legacy, "framechat's encoder");
        let mut buf = BytesMut::new();
        tokio_encode(&mut LengthDelimitedCodec::new(), &mut buf, text, frames);
        assert!(buf[..] == legacy[..], "tokio's encoder");
        asynchronous_encode(&mut buf, text, frames);
        assert!(buf[..] == long[..], "asynchronous-codec's encoder");

        let mut group = c.benchmark_group(format!("encode/{}", size.label));
        group.throughput(Throughput::Elements(frames as u64));

        let mut out = Vec::new();
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                out.clear();
                out.extend_from_slice(black_box(&legacy));
                black_box(&out);
            })
        });

        let mut encoder = framechat_encoder();
        let mut out = Vec::new();
        group.bench_function("framechat", |b| {
            b.iter(|| {
                framechat_encode(&mut encoder, &mut out, text, frames);
                black_box(&out);
            })
        });

        let mut codec = LengthDelimitedCodec::new();
        let mut buf = BytesMut::new();
        group.bench_function("tokio", |b| {
            b.iter(|| {
                tokio_encode(&mut codec, &mut buf, text, frames);
                black_box(&buf);
            })
        });

        let mut buf = BytesMut::new();
        group.bench_function("asynchronous-codec", |b| {
            b.iter(|| {
                asynchronous_encode(&mut buf, text, frames);
                black_box(&buf);
            })
        });

        group.finish();
    }
}

fn framechat_encoder() -> Encoder {
    Encoder::server(Profile::Legacy, Limits::default())
}

fn config() -> Criterion {
    // 108 benchmarks of about 2.8 s each, analysis included: the whole run takes about 5 minutes.
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_millis(1800))
        .sample_size(30)
        .nresamples(20_000)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, decode_utf8, encode
}
criterion_main!(benches);
