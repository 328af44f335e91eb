//! Shared by `tests/adapters_*.rs`: hand-built streams with the outcome the spec gives them, the
//! ways of cutting a stream into reads, and the sans-IO decoder driven directly as the yardstick.
//!
//! Every adapter must turn each stream into exactly the outcome of its case, under every chunk
//! plan (FC-18): the same frames, then the same clean end or the same typed error.

use framechat::wire::PREFACE;
use framechat::{
    DecodeError, DecodeErrorKind, Decoder, Frame, Limits, Part, Profile, Role, UnixMicros,
};

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

/// What a receiver makes of a whole stream: the frames it yields, then its verdict at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) frames: Vec<Frame>,
    /// `None`: a clean end of stream.
    pub(crate) error: Option<DecodeError>,
}

/// A stream and the outcome the spec gives it.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) side: Side,
    pub(crate) stream: Vec<u8>,
    pub(crate) expected: Outcome,
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

/// The sans-IO decoder driven by hand, whole input then `finish`: what every adapter must match.
pub(crate) fn decode_directly(mut decoder: Decoder, stream: &[u8]) -> Outcome {
    let mut frames = Vec::new();
    let mut input = stream;
    let error = loop {
        match decoder.decode(input) {
            Ok(decoded) => {
                input = &input[decoded.consumed..];
                match decoded.frame {
                    Some(frame) => frames.push(frame.into_owned()),
                    None => break decoder.finish().err(),
                }
            }
            Err(err) => break Some(err),
        }
    };
    Outcome { frames, error }
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
pub(crate) fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let hi_empty_hello = [
        legacy_frame(b"hi"),
        legacy_frame(b""),
        legacy_frame("h\u{e9}llo".as_bytes()),
    ]
    .concat();
    cases.push(Case {
        name: "legacy frames, the empty text among them, end cleanly (FC-1, FC-21)",
        side: Side::LEGACY_CLIENT,
        stream: hi_empty_hello.clone(),
        expected: Outcome {
            frames: vec![text("hi"), text(""), text("h\u{e9}llo")],
            error: None,
        },
    });
    cases.push(Case {
        name: "an empty stream ends cleanly (FC-21)",
        side: Side::TYPED_SERVER,
        stream: Vec::new(),
        expected: Outcome {
            frames: vec![],
            error: None,
        },
    });
    cases.push(Case {
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
        expected: Outcome {
            frames: vec![
                chat(1_000, "hello"),
                Frame::Ping { nonce: 7 },
                chat(2_000, "bye"),
            ],
            error: None,
        },
    });
    cases.push(Case {
        name: "a stream cut inside a payload is Truncated at its end (FC-21)",
        side: Side::LEGACY_CLIENT,
        stream: b"\x00\x00\x00\x05abc".to_vec(),
        expected: Outcome {
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
    });
    cases.push(Case {
        name: "a stream cut inside the second header is Truncated after one frame (FC-21)",
        side: Side::LEGACY_CLIENT,
        stream: [legacy_frame(b"hi"), vec![0, 0]].concat(),
        expected: Outcome {
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
    });
    cases.push(Case {
        name: "a stream cut inside the preface is Truncated (FC-21)",
        side: Side::TYPED_SERVER,
        stream: PREFACE[..5].to_vec(),
        expected: Outcome {
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
    });
    cases.push(Case {
        name: "invalid UTF-8 fails at the end of its frame; the next frame is never yielded (FC-17, FC-19)",
        side: Side::LEGACY_SERVER,
        stream: [legacy_frame(b"ok"), legacy_frame(b"a\xffb"), legacy_frame(b"never")].concat(),
        expected: Outcome {
            frames: vec![text("ok")],
            error: err(DecodeErrorKind::InvalidUtf8 { valid_up_to: 1 }, 13, 1),
        },
    });
    cases.push(Case {
        name: "an oversized length fails at the end of the header, before its payload (FC-14)",
        side: Side::TYPED_CLIENT,
        stream: [vec![0x82, 0xff, 0xff, 0xff, 0xff], vec![b'x'; 40]].concat(),
        expected: Outcome {
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
    });
    let mut bad_preface = PREFACE.to_vec();
    bad_preface[7] = b'2';
    bad_preface.extend_from_slice(&ping_frame(1));
    cases.push(Case {
        name: "a preface differing at byte 7 fails right after it (FC-4)",
        side: Side::TYPED_SERVER,
        stream: bad_preface,
        expected: Outcome {
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
    });
    cases.push(Case {
        name: "a type byte out of range fails right after it, after the frames before it (FC-6)",
        side: Side::TYPED_CLIENT,
        stream: [ping_frame(9), vec![0x7f, 0, 0, 0, 0]].concat(),
        expected: Outcome {
            frames: vec![Frame::Ping { nonce: 9 }],
            error: err(
                DecodeErrorKind::InvalidFrameType { frame_type: 0x7f },
                14,
                1,
            ),
        },
    });
    cases.push(Case {
        name: "a CHAT sent to a client fails right after its type byte (FC-8)",
        side: Side::TYPED_CLIENT,
        stream: chat_frame(1, b"wrong way"),
        expected: Outcome {
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
    });
    cases.push(Case {
        name: "a payload longer than the read buffers arrives whole (FC-22)",
        side: Side::LEGACY_CLIENT,
        stream: legacy_frame(&[b'z'; 20_000]),
        expected: Outcome {
            frames: vec![Frame::Text("z".repeat(20_000))],
            error: None,
        },
    });
    cases
}
