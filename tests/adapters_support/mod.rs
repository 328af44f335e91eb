//! Shared by `tests/adapters_*.rs`: the streams every adapter must read (hand-built cases and
//! the conformance vectors of `spec/vectors/`), the ways of cutting a stream into reads, and the
//! sans-IO decoder driven directly as the yardstick.
//!
//! Every adapter must turn each stream into exactly the outcome of its script, under every chunk
//! plan (FC-18): the same frames, then the same clean end, open end or typed error.

use framechat::wire::PREFACE;
use framechat::{
    DecodeError, DecodeErrorKind, Decoder, Encoder, Frame, Limits, Part, Profile, Role, UnixMicros,
};

use crate::common::vectors::{self, End};

/// The receiving side of a case.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Side {
    pub(crate) role: Role,
    pub(crate) profile: Profile,
}

impl Side {
    pub(crate) const LEGACY_CLIENT: Side = Side {
        role: Role::Client,
        profile: Profile::Legacy,
    };
    pub(crate) const LEGACY_SERVER: Side = Side {
        role: Role::Server,
        profile: Profile::Legacy,
    };
    pub(crate) const TYPED_CLIENT: Side = Side {
        role: Role::Client,
        profile: Profile::Typed,
    };
    pub(crate) const TYPED_SERVER: Side = Side {
        role: Role::Server,
        profile: Profile::Typed,
    };

    pub(crate) fn decoder(self) -> Decoder {
        match self.role {
            Role::Client => Decoder::client(self.profile, Limits::default()),
            Role::Server => Decoder::server(self.profile, Limits::default()),
        }
    }
}

/// How a receiver's reading stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The transport ended and the decoder accepted the end (FC-21).
    Clean,
    /// The transport had no more bytes yet (no end of stream) and the decoder waits.
    Open,
    /// The decoder failed with this error (FC-19: terminal).
    Error(DecodeError),
}

/// What a receiver makes of a stream: the frames it yields, then how it stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) frames: Vec<Frame>,
    pub(crate) stop: Stop,
}

/// A stream, the decoder that reads it, whether the transport ends after it, and the outcome.
pub(crate) struct Script {
    pub(crate) name: String,
    /// A fresh decoder for the receiving side (cloned for each run).
    pub(crate) decoder: Decoder,
    pub(crate) stream: Vec<u8>,
    /// `true`: the transport reports end of stream after `stream`; `false`: it reports "not
    /// ready" (`WouldBlock`) forever, as a live connection that has sent nothing more.
    pub(crate) finish: bool,
    pub(crate) expected: Outcome,
}

/// A hand-built case: a receiving side, a stream that ends, and the outcome §3–§6 give it.
struct Case {
    name: &'static str,
    side: Side,
    stream: Vec<u8>,
    frames: Vec<Frame>,
    error: Option<DecodeError>,
}

impl Case {
    fn script(self) -> Script {
        Script {
            name: self.name.to_string(),
            decoder: self.side.decoder(),
            stream: self.stream,
            finish: true,
            expected: Outcome {
                frames: self.frames,
                stop: self.error.map_or(Stop::Clean, Stop::Error),
            },
        }
    }
}

/// Every decode vector of `spec/vectors/`, as a script.
pub(crate) fn vector_scripts() -> Vec<Script> {
    let scripts: Vec<Script> = vectors::decode_vectors()
        .into_iter()
        .map(|vector| Script {
            name: format!("{} vector {}", vector.meta.file, vector.meta.id),
            decoder: vector.decoder(),
            finish: vector.finish,
            expected: Outcome {
                frames: vector.frames.clone(),
                stop: match vector.end {
                    End::Clean => Stop::Clean,
                    End::Open => Stop::Open,
                    End::Error => Stop::Error(vector.error.expect("the loader checks it")),
                },
            },
            stream: vector.input,
        })
        .collect();
    assert!(scripts.len() > 100, "the vectors are there");
    scripts
}

/// One encode vector: frames for one encoder, the refusal each must get, and every byte written.
pub(crate) struct EncodeScript {
    pub(crate) name: String,
    pub(crate) encoder: Encoder,
    pub(crate) steps: Vec<(Frame, Option<framechat::EncodeError>)>,
    /// What an adapter writes in all. As the vector's output, except that an adapter queues a
    /// typed client's preface when it is built (FC-3: at once, without waiting for a frame), so
    /// it is there even if every frame is refused.
    pub(crate) output: Vec<u8>,
}

/// Every encode vector of `spec/vectors/`.
pub(crate) fn encode_scripts() -> Vec<EncodeScript> {
    let scripts: Vec<EncodeScript> = vectors::encode_vectors()
        .into_iter()
        .map(|vector| {
            let encoder = match vector.sender {
                Role::Client => Encoder::client(vector.profile, vector.limits),
                Role::Server => Encoder::server(vector.profile, vector.limits),
            };
            let mut output = vector.output;
            let preface_owed = vector.sender == Role::Client && vector.profile == Profile::Typed;
            if preface_owed && output.is_empty() {
                output = PREFACE.to_vec();
            }
            EncodeScript {
                name: format!("{} vector {}", vector.meta.file, vector.meta.id),
                encoder,
                steps: vector.steps,
                output,
            }
        })
        .collect();
    assert!(scripts.len() > 10, "the vectors are there");
    scripts
}

/// How a stream is cut into reads: chunk sizes, used in turn and cycled.
pub(crate) struct ChunkPlan {
    pub(crate) name: &'static str,
    pub(crate) sizes: &'static [usize],
}

/// The whole stream in one read, then reads of 1 to 3 bytes in several rhythms.
pub(crate) const CHUNK_PLANS: &[ChunkPlan] = &[
    ChunkPlan {
        name: "whole",
        sizes: &[usize::MAX],
    },
    ChunkPlan {
        name: "1 byte",
        sizes: &[1],
    },
    ChunkPlan {
        name: "1,2,3",
        sizes: &[1, 2, 3],
    },
    ChunkPlan {
        name: "3,1,2",
        sizes: &[3, 1, 2],
    },
    ChunkPlan {
        name: "2,3",
        sizes: &[2, 3],
    },
];

impl ChunkPlan {
    /// The stream cut by this plan.
    pub(crate) fn cut<'a>(&self, stream: &'a [u8]) -> Vec<&'a [u8]> {
        let mut chunks = Vec::new();
        let mut rest = stream;
        for &size in self.sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        chunks
    }
}

/// The sans-IO decoder driven by hand, whole input, then `finish` if the script ends: what every
/// adapter must match.
pub(crate) fn decode_directly(script: &Script) -> Outcome {
    let mut decoder = script.decoder.clone();
    let mut frames = Vec::new();
    let mut input = &script.stream[..];
    let stop = loop {
        match decoder.decode(input) {
            Ok(decoded) => {
                input = &input[decoded.consumed..];
                match decoded.frame {
                    Some(frame) => frames.push(frame.into_owned()),
                    None if script.finish => match decoder.finish() {
                        Ok(()) => break Stop::Clean,
                        Err(err) => break Stop::Error(err),
                    },
                    None => break Stop::Open,
                }
            }
            Err(err) => break Stop::Error(err),
        }
    };
    Outcome { frames, stop }
}

pub(crate) fn legacy_frame(text: &[u8]) -> Vec<u8> {
    let mut bytes = u32::try_from(text.len())
        .expect("test texts are small")
        .to_be_bytes()
        .to_vec();
    bytes.extend_from_slice(text);
    bytes
}

pub(crate) fn typed_frame(frame_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![frame_type];
    bytes.extend_from_slice(&u32::try_from(payload.len()).expect("small").to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

pub(crate) fn chat_frame(sent_at: u64, text: &[u8]) -> Vec<u8> {
    let mut payload = sent_at.to_be_bytes().to_vec();
    payload.extend_from_slice(text);
    typed_frame(0x81, &payload)
}

pub(crate) fn ping_frame(nonce: u64) -> Vec<u8> {
    typed_frame(0x84, &nonce.to_be_bytes())
}

fn err(kind: DecodeErrorKind, offset: u64, frame_index: u64) -> Option<DecodeError> {
    Some(DecodeError {
        kind,
        offset,
        frame_index,
    })
}

fn text(text: &str) -> Frame {
    Frame::Text(text.to_string())
}

fn chat(sent_at: u64, text: &str) -> Frame {
    Frame::Chat {
        sent_at: UnixMicros(sent_at),
        text: text.to_string(),
    }
}

/// Hand-built streams, each with the outcome §3–§6 give it (offsets counted by hand).
pub(crate) fn cases() -> Vec<Script> {
    let mut bad_preface = PREFACE.to_vec();
    bad_preface[7] = b'2';
    bad_preface.extend_from_slice(&ping_frame(1));
    let cases = vec![
        Case {
        name: "legacy frames, the empty text among them, end cleanly (FC-1, FC-21)",
        side: Side::LEGACY_CLIENT,
        stream: [
            legacy_frame(b"hi"),
            legacy_frame(b""),
            legacy_frame("h\u{e9}llo".as_bytes()),
        ]
        .concat(),
        frames: vec![text("hi"), text(""), text("h\u{e9}llo")],
        error: None,
        },
        Case {
        name: "an empty stream ends cleanly (FC-21)",
        side: Side::TYPED_SERVER,
        stream: Vec::new(),
        frames: vec![],
        error: None,
        },
        Case {
        name: "typed preface, CHAT, PING, a skipped reserved frame, CHAT (FC-3, FC-11)",
        side: Side::TYPED_SERVER,
        stream: [
            PREFACE.to_vec(),
            chat_frame(1_000, b"hello"),
            ping_frame(7),
            typed_frame(0xb0, &[1, 2, 3]),
            chat_frame(2_000, b"bye"),
        ]
        .concat(),
        frames: vec![
            chat(1_000, "hello"),
            Frame::Ping { nonce: 7 },
            chat(2_000, "bye"),
        ],
        error: None,
        },
        Case {
        name: "a stream cut inside a payload is Truncated at its end (FC-21)",
        side: Side::LEGACY_CLIENT,
        stream: b"\x00\x00\x00\x05abc".to_vec(),
        frames: vec![],
        error: err(
            DecodeErrorKind::Truncated {
                part: Part::Payload,
                received: 3,
                expected: 5,
            },
            7,
            0,
        ),
        },
        Case {
        name: "a stream cut inside the second header is Truncated after one frame (FC-21)",
        side: Side::LEGACY_CLIENT,
        stream: [legacy_frame(b"hi"), vec![0, 0]].concat(),
        frames: vec![text("hi")],
        error: err(
            DecodeErrorKind::Truncated {
                part: Part::Header,
                received: 2,
                expected: 4,
            },
            8,
            1,
        ),
        },
        Case {
        name: "a stream cut inside the preface is Truncated (FC-21)",
        side: Side::TYPED_SERVER,
        stream: PREFACE[..5].to_vec(),
        frames: vec![],
        error: err(
            DecodeErrorKind::Truncated {
                part: Part::Preface,
                received: 5,
                expected: 10,
            },
            5,
            0,
        ),
        },
        Case {
        name: "invalid UTF-8 fails at the end of its frame; the next frame is never yielded (FC-17, FC-19)",
        side: Side::LEGACY_SERVER,
        stream: [legacy_frame(b"ok"), legacy_frame(b"a\xffb"), legacy_frame(b"never")].concat(),
        frames: vec![text("ok")],
            error: err(DecodeErrorKind::InvalidUtf8 { valid_up_to: 1 }, 13, 1),
        },
        Case {
        name: "an oversized length fails at the end of the header, before its payload (FC-14)",
        side: Side::TYPED_CLIENT,
        stream: [vec![0x82, 0xff, 0xff, 0xff, 0xff], vec![b'x'; 40]].concat(),
        frames: vec![],
        error: err(
            DecodeErrorKind::FrameTooLarge {
                declared: u32::MAX,
                limit: Limits::DEFAULT_MAX_FRAME_LEN,
            },
            5,
            0,
        ),
        },
        Case {
        name: "a preface differing at byte 7 fails right after it (FC-4)",
        side: Side::TYPED_SERVER,
        stream: bad_preface,
        frames: vec![],
        error: err(
            DecodeErrorKind::BadPreface {
                index: 7,
                expected: b'1',
                found: b'2',
            },
            8,
            0,
        ),
        },
        Case {
        name: "a type byte out of range fails right after it, after the frames before it (FC-6)",
        side: Side::TYPED_CLIENT,
        stream: [ping_frame(9), vec![0x7f, 0, 0, 0, 0]].concat(),
        frames: vec![Frame::Ping { nonce: 9 }],
        error: err(
            DecodeErrorKind::InvalidFrameType { frame_type: 0x7f },
            14,
            1,
        ),
        },
        Case {
        name: "a CHAT sent to a client fails right after its type byte (FC-8)",
        side: Side::TYPED_CLIENT,
        stream: chat_frame(1, b"wrong way"),
        frames: vec![],
        error: err(
            DecodeErrorKind::UnexpectedFrameType {
                frame_type: 0x81,
                receiver: Role::Client,
            },
            1,
            0,
        ),
        },
        Case {
        name: "a payload longer than the read buffers arrives whole (FC-22)",
        side: Side::LEGACY_CLIENT,
        stream: legacy_frame(&[b'z'; 20_000]),
        frames: vec![Frame::Text("z".repeat(20_000))],
        error: None,
        },
    ];
    cases.into_iter().map(Case::script).collect()
}
