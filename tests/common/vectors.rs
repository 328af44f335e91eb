//! The conformance vectors of `spec/vectors/` (§9), loaded into the crate's own types.
//!
//! Any test binary can use them: `mod common;` then `common::vectors::load()`. The JSON format is
//! documented in `spec/vectors/README.md`; a vector this loader cannot read is a failure that names
//! its file and id, never a silent skip.
// Each test binary that includes this module uses a different part of it.
#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::path::{Path, PathBuf};

use framechat::{
    AuthScheme, DecodeError, DecodeErrorKind, Decoder, EncodeError, Encoder, ErrorCode, Frame,
    Limits, Part, Profile, Role, UnixMicros,
};
use serde_json::Value;

/// What the receiver expects: a profile, or detection (§5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// §3.
    Legacy,
    /// §4: a server expects the preface, a client does not.
    Typed,
    /// §5: server only.
    Detect,
}

/// How a decode vector's stream ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// No error; the end of stream was declared and accepted.
    Clean,
    /// No error; the end of stream was not declared and the decoder waits.
    Open,
    /// `error` stopped the stream.
    Error,
}

/// What every vector carries.
#[derive(Clone, Debug)]
pub struct Meta {
    /// The vector's stable id.
    pub id: String,
    /// The JSON file it came from, for messages.
    pub file: String,
    /// A sentence saying what it shows.
    pub description: String,
    /// Spec sections, as `"§4.3"`.
    pub sections: Vec<String>,
    /// Requirement tags, as `"FC-7"`.
    pub tags: Vec<String>,
}

/// A stream, the receiver that reads it, and what must come of it.
#[derive(Clone, Debug)]
pub struct DecodeVector {
    pub meta: Meta,
    pub receiver: Role,
    pub mode: Mode,
    pub limits: Limits,
    pub input: Vec<u8>,
    /// Whether the runner declares the end of the stream after the input.
    pub finish: bool,
    pub frames: Vec<Frame<String>>,
    pub end: End,
    pub error: Option<DecodeError>,
    /// The input is exactly what the sending side's encoder writes for `frames`.
    pub canonical: bool,
}

/// Frames given to one encoder and what each must do.
#[derive(Clone, Debug)]
pub struct EncodeVector {
    pub meta: Meta,
    pub sender: Role,
    pub profile: Profile,
    pub limits: Limits,
    /// Each frame with `None` if it must be written, or the refusal.
    pub steps: Vec<(Frame<String>, Option<EncodeError>)>,
    /// Everything written, in order.
    pub output: Vec<u8>,
}

/// One vector of either type.
#[derive(Clone, Debug)]
pub enum Vector {
    Decode(DecodeVector),
    Encode(EncodeVector),
}

impl Vector {
    pub fn meta(&self) -> &Meta {
        match self {
            Vector::Decode(vector) => &vector.meta,
            Vector::Encode(vector) => &vector.meta,
        }
    }
}

impl DecodeVector {
    /// The real decoder for this vector's receiver, mode and limit.
    pub fn decoder(&self) -> Decoder {
        match (self.receiver, self.mode) {
            (Role::Client, Mode::Legacy) => Decoder::client(Profile::Legacy, self.limits),
            (Role::Client, Mode::Typed) => Decoder::client(Profile::Typed, self.limits),
            (Role::Server, Mode::Legacy) => Decoder::server(Profile::Legacy, self.limits),
            (Role::Server, Mode::Typed) => Decoder::server(Profile::Typed, self.limits),
            (Role::Server, Mode::Detect) => Decoder::server_detect(self.limits),
            (Role::Client, Mode::Detect) => {
                panic!("{}: only a server detects the profile (§5)", self.meta.id)
            }
        }
    }

    /// The profile of the stream: for `detect`, the one its frames belong to.
    pub fn profile(&self) -> Option<Profile> {
        match self.mode {
            Mode::Legacy => Some(Profile::Legacy),
            Mode::Typed => Some(Profile::Typed),
            Mode::Detect => self.frames.first().map(Frame::profile),
        }
    }

    /// The sending side's encoder, for a canonical vector.
    pub fn sender_encoder(&self) -> Option<Encoder> {
        let profile = self.profile()?;
        Some(match self.receiver.peer() {
            Role::Client => Encoder::client(profile, self.limits),
            Role::Server => Encoder::server(profile, self.limits),
        })
    }
}

/// The directory of the vectors.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("spec")
        .join("vectors")
}

/// Every vector of every `spec/vectors/*.json`, files in name order.
pub fn load() -> Vec<Vector> {
    let mut files: Vec<PathBuf> = fs::read_dir(vectors_dir())
        .expect("spec/vectors/ exists in the repository")
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vector file in spec/vectors/");
    let mut vectors = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .expect("a file path has a name")
            .to_string_lossy()
            .into_owned();
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let root: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let list = root["vectors"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no \"vectors\" array"));
        for value in list {
            let id = value["id"].as_str().unwrap_or("<no id>").to_string();
            let at = Ctx {
                file: &name,
                id: &id,
            };
            vectors.push(parse_vector(at, value));
        }
    }
    vectors
}

/// Every decode vector.
pub fn decode_vectors() -> Vec<DecodeVector> {
    load()
        .into_iter()
        .filter_map(|vector| match vector {
            Vector::Decode(vector) => Some(vector),
            Vector::Encode(_) => None,
        })
        .collect()
}

/// Every encode vector.
pub fn encode_vectors() -> Vec<EncodeVector> {
    load()
        .into_iter()
        .filter_map(|vector| match vector {
            Vector::Encode(vector) => Some(vector),
            Vector::Decode(_) => None,
        })
        .collect()
}

/// Where a parse failure is, for its message.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    file: &'a str,
    id: &'a str,
}

impl Ctx<'_> {
    fn fail(self, what: &str) -> ! {
        panic!("{} vector {}: {what}", self.file, self.id)
    }

    fn field<'v>(self, value: &'v Value, name: &str) -> &'v Value {
        match value.get(name) {
            Some(field) => field,
            None => self.fail(&format!("missing field {name:?}")),
        }
    }

    fn str<'v>(self, value: &'v Value, name: &str) -> &'v str {
        self.field(value, name)
            .as_str()
            .unwrap_or_else(|| self.fail(&format!("{name:?} is not a string")))
    }

    fn u64(self, value: &Value, name: &str) -> u64 {
        self.field(value, name)
            .as_u64()
            .unwrap_or_else(|| self.fail(&format!("{name:?} is not an unsigned integer")))
    }

    fn u32(self, value: &Value, name: &str) -> u32 {
        u32::try_from(self.u64(value, name))
            .unwrap_or_else(|_| self.fail(&format!("{name:?} does not fit a u32")))
    }

    fn u16(self, value: &Value, name: &str) -> u16 {
        u16::try_from(self.u64(value, name))
            .unwrap_or_else(|_| self.fail(&format!("{name:?} does not fit a u16")))
    }

    fn u8(self, value: &Value, name: &str) -> u8 {
        u8::try_from(self.u64(value, name))
            .unwrap_or_else(|_| self.fail(&format!("{name:?} does not fit a u8")))
    }

    fn bool(self, value: &Value, name: &str) -> bool {
        self.field(value, name)
            .as_bool()
            .unwrap_or_else(|| self.fail(&format!("{name:?} is not a boolean")))
    }

    fn strings(self, value: &Value, name: &str) -> Vec<String> {
        self.field(value, name)
            .as_array()
            .unwrap_or_else(|| self.fail(&format!("{name:?} is not an array")))
            .iter()
            .map(|item| {
                item.as_str()
                    .unwrap_or_else(|| self.fail(&format!("{name:?} holds a non-string")))
                    .to_string()
            })
            .collect()
    }

    fn hex(self, value: &Value, name: &str) -> Vec<u8> {
        let text = self.str(value, name);
        if text.len() % 2 != 0 {
            self.fail(&format!("{name:?} has an odd number of hex digits"));
        }
        (0..text.len())
            .step_by(2)
            .map(|at| {
                u8::from_str_radix(&text[at..at + 2], 16)
                    .unwrap_or_else(|_| self.fail(&format!("{name:?} is not hex")))
            })
            .collect()
    }

    fn role(self, value: &Value, name: &str) -> Role {
        match self.str(value, name) {
            "client" => Role::Client,
            "server" => Role::Server,
            other => self.fail(&format!("{name:?}: unknown role {other:?}")),
        }
    }

    fn profile(self, value: &Value, name: &str) -> Profile {
        match self.str(value, name) {
            "legacy" => Profile::Legacy,
            "typed" => Profile::Typed,
            other => self.fail(&format!("{name:?}: unknown profile {other:?}")),
        }
    }

    fn limits(self, value: &Value) -> Limits {
        Limits::new(self.u32(value, "limit"))
            .unwrap_or_else(|e| self.fail(&format!("\"limit\": {e}")))
    }
}

fn parse_vector(at: Ctx<'_>, value: &Value) -> Vector {
    let meta = Meta {
        id: at.str(value, "id").to_string(),
        file: at.file.to_string(),
        description: at.str(value, "description").to_string(),
        sections: at.strings(value, "sections"),
        tags: at.strings(value, "tags"),
    };
    let expect = at.field(value, "expect");
    match at.str(value, "type") {
        "decode" => {
            let mode = match at.str(value, "mode") {
                "legacy" => Mode::Legacy,
                "typed" => Mode::Typed,
                "detect" => Mode::Detect,
                other => at.fail(&format!("unknown mode {other:?}")),
            };
            let end = match at.str(expect, "end") {
                "clean" => End::Clean,
                "open" => End::Open,
                "error" => End::Error,
                other => at.fail(&format!("unknown end {other:?}")),
            };
            let error = match at.field(expect, "error") {
                Value::Null => None,
                error => Some(parse_decode_error(at, error)),
            };
            let finish = at.bool(value, "finish");
            let consistent = match end {
                End::Clean => error.is_none() && finish,
                End::Open => error.is_none() && !finish,
                End::Error => error.is_some(),
            };
            if !consistent {
                at.fail("\"end\" disagrees with \"error\" and \"finish\"");
            }
            Vector::Decode(DecodeVector {
                meta,
                receiver: at.role(value, "receiver"),
                mode,
                limits: at.limits(value),
                input: at.hex(value, "input"),
                finish,
                frames: parse_frames(at, at.field(expect, "frames")),
                end,
                error,
                canonical: at.bool(value, "canonical"),
            })
        }
        "encode" => {
            let frames = parse_frames(at, at.field(value, "frames"));
            let errors: Vec<Option<EncodeError>> = at
                .field(expect, "errors")
                .as_array()
                .unwrap_or_else(|| at.fail("\"errors\" is not an array"))
                .iter()
                .map(|error| match error {
                    Value::Null => None,
                    error => Some(parse_encode_error(at, error)),
                })
                .collect();
            if errors.len() != frames.len() {
                at.fail("\"errors\" needs one entry per frame");
            }
            Vector::Encode(EncodeVector {
                meta,
                sender: at.role(value, "sender"),
                profile: at.profile(value, "profile"),
                limits: at.limits(value),
                steps: frames.into_iter().zip(errors).collect(),
                output: at.hex(expect, "output"),
            })
        }
        other => at.fail(&format!("unknown type {other:?}")),
    }
}

fn parse_frames(at: Ctx<'_>, value: &Value) -> Vec<Frame<String>> {
    value
        .as_array()
        .unwrap_or_else(|| at.fail("frames are not an array"))
        .iter()
        .map(|frame| parse_frame(at, frame))
        .collect()
}

/// A frame object of the README's "Frames" table.
pub fn parse_frame_value(value: &Value) -> Frame<String> {
    parse_frame(
        Ctx {
            file: "<value>",
            id: "<frame>",
        },
        value,
    )
}

fn parse_frame(at: Ctx<'_>, value: &Value) -> Frame<String> {
    let text = |name| at.str(value, name).to_string();
    let micros = |name| UnixMicros(at.u64(value, name));
    match at.str(value, "type") {
        "TEXT" => Frame::Text(text("text")),
        "WELCOME" => Frame::Welcome {
            peer_id: at.u64(value, "peer_id"),
            max_frame_len: at.u32(value, "max_frame_len"),
        },
        "CHAT" => Frame::Chat {
            sent_at: micros("sent_at"),
            text: text("text"),
        },
        "ECHO" => Frame::Echo {
            sent_at: micros("sent_at"),
            relayed_at: micros("relayed_at"),
            text: text("text"),
        },
        "BROADCAST" => Frame::Broadcast {
            from: at.u64(value, "from"),
            sent_at: micros("sent_at"),
            relayed_at: micros("relayed_at"),
            text: text("text"),
        },
        "PING" => Frame::Ping {
            nonce: at.u64(value, "nonce"),
        },
        "PONG" => Frame::Pong {
            nonce: at.u64(value, "nonce"),
        },
        "ERROR" => Frame::Error {
            code: ErrorCode(at.u16(value, "code")),
            reason: text("reason"),
        },
        "AUTH" => Frame::Auth {
            scheme: AuthScheme(at.u8(value, "scheme")),
            token: text("token"),
        },
        other => at.fail(&format!("unknown frame type {other:?}")),
    }
}

fn parse_decode_error(at: Ctx<'_>, value: &Value) -> DecodeError {
    let kind = match at.str(value, "kind") {
        "BadPreface" => DecodeErrorKind::BadPreface {
            index: at.u8(value, "index"),
            expected: at.u8(value, "expected"),
            found: at.u8(value, "found"),
        },
        "InvalidFrameType" => DecodeErrorKind::InvalidFrameType {
            frame_type: at.u8(value, "frame_type"),
        },
        "UnexpectedFrameType" => DecodeErrorKind::UnexpectedFrameType {
            frame_type: at.u8(value, "frame_type"),
            receiver: at.role(value, "receiver"),
        },
        "FrameTooLarge" => DecodeErrorKind::FrameTooLarge {
            declared: at.u32(value, "declared"),
            limit: at.u32(value, "limit"),
        },
        "BadLength" => DecodeErrorKind::BadLength {
            frame_type: at.u8(value, "frame_type"),
            declared: at.u32(value, "declared"),
            min: at.u32(value, "min"),
            max: match at.field(value, "max") {
                Value::Null => None,
                _ => Some(at.u32(value, "max")),
            },
        },
        "InvalidUtf8" => DecodeErrorKind::InvalidUtf8 {
            valid_up_to: at.u32(value, "valid_up_to"),
        },
        "Truncated" => DecodeErrorKind::Truncated {
            part: match at.str(value, "part") {
                "preface" => Part::Preface,
                "header" => Part::Header,
                "payload" => Part::Payload,
                other => at.fail(&format!("unknown part {other:?}")),
            },
            received: at.u32(value, "received"),
            expected: at.u32(value, "expected"),
        },
        other => at.fail(&format!("unknown decode error kind {other:?}")),
    };
    DecodeError {
        kind,
        offset: at.u64(value, "offset"),
        frame_index: at.u64(value, "frame_index"),
    }
}

fn parse_encode_error(at: Ctx<'_>, value: &Value) -> EncodeError {
    match at.str(value, "kind") {
        "WrongProfile" => EncodeError::WrongProfile {
            frame: at.profile(value, "frame"),
            stream: at.profile(value, "stream"),
        },
        "WrongDirection" => EncodeError::WrongDirection {
            frame_type: at.u8(value, "frame_type"),
            sender: at.role(value, "sender"),
        },
        "TooLarge" => EncodeError::TooLarge {
            payload_len: usize::try_from(at.u64(value, "payload_len"))
                .unwrap_or_else(|_| at.fail("\"payload_len\" does not fit a usize")),
            limit: at.u32(value, "limit"),
        },
        other => at.fail(&format!("unknown encode error kind {other:?}")),
    }
}
