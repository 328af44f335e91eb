//! TEMPORARY placeholder of the reference decoder (to be replaced by the evidence branch's version).
//!
//! A straightforward whole-input decoder of §3 to §6, written from `spec/PROTOCOL.md` alone, with the
//! API the fuzz targets and tests expect. It keeps no state between calls: it reads the whole stream
//! at once and says what a conforming receiver reports for it.

use framechat::wire::{self, frame_type, PREFACE};
use framechat::{DecodeError, DecodeErrorKind, ErrorCode, Frame, Limits, Part, Role, UnixMicros};

/// The receiver's profile, or detection (§5; a server only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// §3.
    Legacy,
    /// §4 (a server expects the preface).
    Typed,
    /// §5: a server decides from the first 4 bytes.
    Detect,
}

/// What a receiver is.
#[derive(Clone, Copy, Debug)]
pub struct ReferenceConfig {
    /// The receiving side.
    pub role: Role,
    /// Its profile or detection.
    pub mode: Mode,
    /// Its limit `L`.
    pub limits: Limits,
}

/// What a receiver reports for a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceOutcome {
    /// The frames delivered before the error (skipped frames excluded).
    pub frames: Vec<Frame<String>>,
    /// The terminal error, if any.
    pub error: Option<DecodeError>,
}

/// Decodes `stream` as a whole; with `end_of_stream`, a stream ending mid-frame is `Truncated`.
pub fn decode_whole(
    config: &ReferenceConfig,
    stream: &[u8],
    end_of_stream: bool,
) -> ReferenceOutcome {
    let mut frames = Vec::new();
    let error = run(config, stream, end_of_stream, &mut frames)
        .err()
        .flatten();
    ReferenceOutcome { frames, error }
}

/// The crate's decoder for `config`.
pub fn real_decoder(config: &ReferenceConfig) -> framechat::Decoder {
    use framechat::{Decoder, Profile};
    match (config.role, config.mode) {
        (Role::Server, Mode::Detect) => Decoder::server_detect(config.limits),
        (Role::Server, Mode::Legacy) => Decoder::server(Profile::Legacy, config.limits),
        (Role::Server, Mode::Typed) => Decoder::server(Profile::Typed, config.limits),
        (Role::Client, Mode::Legacy) => Decoder::client(Profile::Legacy, config.limits),
        (Role::Client, Mode::Typed) => Decoder::client(Profile::Typed, config.limits),
        (Role::Client, Mode::Detect) => panic!("detection is a server's (§5)"),
    }
}

/// Drives the crate's decoder over `chunks` and reports what it yields.
pub fn decode_chunks(
    config: &ReferenceConfig,
    chunks: &[&[u8]],
    end_of_stream: bool,
) -> ReferenceOutcome {
    let mut decoder = real_decoder(config);
    let mut frames = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            match decoder.decode(input) {
                Ok(decoded) => {
                    input = &input[decoded.consumed..];
                    match decoded.frame {
                        Some(frame) => frames.push(frame.into_owned()),
                        None => break,
                    }
                }
                Err(error) => {
                    return ReferenceOutcome {
                        frames,
                        error: Some(error),
                    }
                }
            }
        }
    }
    let error = if end_of_stream {
        decoder.finish().err()
    } else {
        None
    };
    ReferenceOutcome { frames, error }
}

struct Cursor<'s> {
    stream: &'s [u8],
    pos: usize,
    end_of_stream: bool,
    frame_index: u64,
}

/// `Err(None)`: the stream stops here without an error (no more bytes, not at its end, or a clean end).
type Step<T> = Result<T, Option<DecodeError>>;

impl Cursor<'_> {
    fn error(&self, kind: DecodeErrorKind, offset: usize) -> Option<DecodeError> {
        Some(DecodeError {
            kind,
            offset: offset as u64,
            frame_index: self.frame_index,
        })
    }

    /// Needs `n` bytes at `pos` for `part`, of which `already` were taken before `pos`.
    fn need(&self, n: usize, part: Part, already: usize, expected: usize) -> Step<()> {
        let available = self.stream.len() - self.pos;
        if available >= n {
            return Ok(());
        }
        if !self.end_of_stream || (available == 0 && already == 0 && part != Part::Payload) {
            return Err(None);
        }
        let kind = DecodeErrorKind::Truncated {
            part,
            received: (already + available) as u32,
            expected: expected as u32,
        };
        Err(self.error(kind, self.stream.len()))
    }
}

fn run(
    config: &ReferenceConfig,
    stream: &[u8],
    end_of_stream: bool,
    frames: &mut Vec<Frame<String>>,
) -> Step<()> {
    let mut c = Cursor {
        stream,
        pos: 0,
        end_of_stream,
        frame_index: 0,
    };
    let typed = match config.mode {
        Mode::Legacy => false,
        Mode::Typed => true,
        Mode::Detect => {
            stream.len() >= wire::DETECT_LEN
                && stream[..wire::DETECT_LEN] == PREFACE[..wire::DETECT_LEN]
        }
    };
    if typed && config.role == Role::Server {
        let start = if config.mode == Mode::Detect {
            wire::DETECT_LEN
        } else {
            0
        };
        for index in start..PREFACE.len() {
            c.pos = index;
            c.need(1, Part::Preface, index, PREFACE.len())?;
            if stream[index] != PREFACE[index] {
                let kind = DecodeErrorKind::BadPreface {
                    index: index as u8,
                    expected: PREFACE[index],
                    found: stream[index],
                };
                return Err(c.error(kind, index + 1));
            }
        }
        c.pos = PREFACE.len();
    }
    loop {
        let frame_type = if typed {
            c.need(1, Part::Header, 0, wire::TYPED_HEADER_LEN)?;
            let t = stream[c.pos];
            check_type(&c, config.role, t)?;
            c.pos += 1;
            c.need(4, Part::Header, 1, wire::TYPED_HEADER_LEN)?;
            Some(t)
        } else {
            c.need(4, Part::Header, 0, wire::LEGACY_HEADER_LEN)?;
            None
        };
        let p = c.pos;
        let declared = u32::from_be_bytes([stream[p], stream[p + 1], stream[p + 2], stream[p + 3]]);
        c.pos += 4;
        let max = config.limits.max_frame_len();
        let limit = match (config.role, frame_type) {
            (Role::Server, None) => max - 24,
            (Role::Server, Some(frame_type::CHAT)) => max - 16,
            _ => max,
        };
        if declared > limit {
            return Err(c.error(DecodeErrorKind::FrameTooLarge { declared, limit }, c.pos));
        }
        if let Some(t) = frame_type {
            if let Some((min, max)) = known_lengths(t) {
                if declared < min || max.is_some_and(|m| declared > m) {
                    let kind = DecodeErrorKind::BadLength {
                        frame_type: t,
                        declared,
                        min,
                        max,
                    };
                    return Err(c.error(kind, c.pos));
                }
            }
        }
        let len = declared as usize;
        c.need(len, Part::Payload, 0, len)?;
        let payload = &stream[c.pos..c.pos + len];
        c.pos += len;
        match parse(frame_type, payload) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => {}
            Err(kind) => return Err(c.error(kind, c.pos)),
        }
        c.frame_index += 1;
    }
}

fn check_type(c: &Cursor<'_>, role: Role, t: u8) -> Step<()> {
    if !(0x80..=0xbf).contains(&t) {
        return Err(c.error(
            DecodeErrorKind::InvalidFrameType { frame_type: t },
            c.pos + 1,
        ));
    }
    let to_client_only = matches!(
        t,
        frame_type::WELCOME | frame_type::ECHO | frame_type::BROADCAST
    );
    let to_server_only = t == frame_type::CHAT;
    if (to_client_only && role == Role::Server) || (to_server_only && role == Role::Client) {
        let kind = DecodeErrorKind::UnexpectedFrameType {
            frame_type: t,
            receiver: role,
        };
        return Err(c.error(kind, c.pos + 1));
    }
    Ok(())
}

fn known_lengths(t: u8) -> Option<(u32, Option<u32>)> {
    Some(match t {
        0x80 => (12, Some(12)),
        0x81 => (8, None),
        0x82 => (16, None),
        0x83 => (24, None),
        0x84 | 0x85 => (8, Some(8)),
        0x86 => (2, None),
        _ => return None,
    })
}

fn u64_at(p: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[at..at + 8]);
    u64::from_be_bytes(b)
}

fn text(p: &[u8]) -> Result<String, DecodeErrorKind> {
    match core::str::from_utf8(p) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => Err(DecodeErrorKind::InvalidUtf8 {
            valid_up_to: e.valid_up_to() as u32,
        }),
    }
}

/// `Ok(None)`: an unassigned or reserved type, skipped (FC-11).
fn parse(frame_type: Option<u8>, p: &[u8]) -> Result<Option<Frame<String>>, DecodeErrorKind> {
    Ok(Some(match frame_type {
        None => Frame::Text(text(p)?),
        Some(0x80) => Frame::Welcome {
            peer_id: u64_at(p, 0),
            max_frame_len: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        },
        Some(0x81) => Frame::Chat {
            sent_at: UnixMicros(u64_at(p, 0)),
            text: text(&p[8..])?,
        },
        Some(0x82) => Frame::Echo {
            sent_at: UnixMicros(u64_at(p, 0)),
            relayed_at: UnixMicros(u64_at(p, 8)),
            text: text(&p[16..])?,
        },
        Some(0x83) => Frame::Broadcast {
            from: u64_at(p, 0),
            sent_at: UnixMicros(u64_at(p, 8)),
            relayed_at: UnixMicros(u64_at(p, 16)),
            text: text(&p[24..])?,
        },
        Some(0x84) => Frame::Ping {
            nonce: u64_at(p, 0),
        },
        Some(0x85) => Frame::Pong {
            nonce: u64_at(p, 0),
        },
        Some(0x86) => Frame::Error {
            code: ErrorCode(u16::from_be_bytes([p[0], p[1]])),
            reason: text(&p[2..])?,
        },
        Some(_) => return Ok(None),
    }))
}
