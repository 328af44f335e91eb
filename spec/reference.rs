//! The reference decoder: `spec/PROTOCOL.md` read as code, for clarity alone.
//!
//! It decodes a whole stream held in one slice, front to back, with no state machine, no buffering
//! and no cleverness: each step below is one rule of the spec and cites it. It is the oracle the
//! conformance tests (`tests/vectors.rs`), the differential properties (`tests/properties.rs`) and
//! the fuzz targets (`fuzz/fuzz_targets/`) compare the real [`framechat::Decoder`] with. It depends
//! only on the `framechat` crate's public types, and is included as a module where it is needed:
//!
//! ```text
//! from tests/*.rs:   #[path = "../spec/reference.rs"] mod reference;
//! from fuzz/src/:     #[path = "../../spec/reference.rs"] pub mod reference;
//! ```
//!
//! It deliberately shares no code with the crate's decoder: the frame table (§4.3), the limits
//! (§6.1) and even UTF-8 well-formedness (RFC 3629 §4) are written out again here.
// Each including crate uses a different part of this file; its items are `pub` for them, not for a
// public API.
#![allow(dead_code, unreachable_pub)]

use framechat::{
    AuthScheme, DecodeError, DecodeErrorKind, ErrorCode, Frame, Limits, Part, Role, UnixMicros,
};

/// Which profile the receiver expects (§3, §4), or whether it detects it (§5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// §3: the legacy profile.
    Legacy,
    /// §4: the typed profile; a server receiver expects the preface (§4.1).
    Typed,
    /// §5: a server that decides the profile from the first 4 bytes. Only valid with `Role::Server`.
    Detect,
}

/// The receiving side of one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReferenceConfig {
    /// The receiver's role: it decides directions (FC-8) and the limits applied (FC-15).
    pub role: framechat::Role,
    /// The profile expected, or detection.
    pub mode: Mode,
    /// The receiver's limit `L` (§6.1).
    pub limits: framechat::Limits,
}

/// What decoding a stream yields: every frame reported to the application, in order, then the
/// error that stopped the stream, if one did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceOutcome {
    /// Frames reported to the application (skipped frames are not, FC-11).
    pub frames: Vec<framechat::Frame<String>>,
    /// The terminal error (FC-19), if any; `None` for a clean end, or for a stream that is merely
    /// incomplete when `end_of_stream` is false.
    pub error: Option<framechat::DecodeError>,
}

/// Decodes a whole stream; with end_of_stream=false an incomplete tail is not an error.
///
/// # Panics
///
/// With `Mode::Detect` and `Role::Client`: only a server detects the profile (§5).
pub fn decode_whole(
    config: &ReferenceConfig,
    stream: &[u8],
    end_of_stream: bool,
) -> ReferenceOutcome {
    assert!(
        config.mode != Mode::Detect || config.role == Role::Server,
        "§5: only a server detects the profile"
    );
    let mut reader = Reader {
        config: *config,
        stream,
        end_of_stream,
        frames: Vec::new(),
        frame_index: 0,
    };
    let error = match reader.read_stream() {
        // A clean end (FC-21), or an incomplete tail that more bytes may complete.
        Ok(()) | Err(Halt::NeedMore) => None,
        Err(Halt::Failed(error)) => Some(error),
    };
    ReferenceOutcome {
        frames: reader.frames,
        error,
    }
}

/// The real decoder for the same configuration (Mode::Detect is only valid with Role::Server; Mode::Typed+Role::Server expects the preface).
///
/// # Panics
///
/// With `Mode::Detect` and `Role::Client`.
pub fn real_decoder(config: &ReferenceConfig) -> framechat::Decoder {
    use framechat::{Decoder, Profile};
    match (config.role, config.mode) {
        (Role::Client, Mode::Legacy) => Decoder::client(Profile::Legacy, config.limits),
        (Role::Client, Mode::Typed) => Decoder::client(Profile::Typed, config.limits),
        (Role::Server, Mode::Legacy) => Decoder::server(Profile::Legacy, config.limits),
        (Role::Server, Mode::Typed) => Decoder::server(Profile::Typed, config.limits),
        (Role::Server, Mode::Detect) => Decoder::server_detect(config.limits),
        (Role::Client, Mode::Detect) => panic!("§5: only a server detects the profile"),
    }
}

/// Runs the real decoder over `chunks` (in order) with the documented driving loop, then `finish()` if end_of_stream; same outcome shape.
///
/// Every chunk is passed to `decode` at least once, empty chunks included. Beside the outcome, it
/// asserts the contracts the crate documents on the way (a panic names the one that broke):
/// `decode` consumes the whole input when it returns no frame, never more than it was given, and
/// after an error every later `decode` and `finish` reports the same error again (FC-19).
///
/// # Panics
///
/// With `Mode::Detect` and `Role::Client`, or when the real decoder breaks one of those contracts.
pub fn decode_chunks(
    config: &ReferenceConfig,
    chunks: &[&[u8]],
    end_of_stream: bool,
) -> ReferenceOutcome {
    let mut decoder = real_decoder(config);
    let mut frames = Vec::new();
    for chunk in chunks {
        let mut input: &[u8] = chunk;
        loop {
            match decoder.decode(input) {
                Ok(decoded) => {
                    assert!(
                        decoded.consumed <= input.len(),
                        "decode consumed {} bytes of an input of {}",
                        decoded.consumed,
                        input.len()
                    );
                    let consumed = decoded.consumed;
                    match decoded.frame {
                        Some(frame) => frames.push(frame.into_owned()),
                        None => {
                            assert_eq!(
                                consumed,
                                input.len(),
                                "decode returned no frame without consuming its whole input"
                            );
                            break;
                        }
                    }
                    input = &input[consumed..];
                }
                Err(error) => {
                    assert_sticky(&mut decoder, error, input);
                    return ReferenceOutcome {
                        frames,
                        error: Some(error),
                    };
                }
            }
        }
    }
    let error = if end_of_stream {
        match decoder.finish() {
            Ok(()) => None,
            Err(error) => {
                assert_sticky(&mut decoder, error, &[]);
                Some(error)
            }
        }
    } else {
        None
    };
    ReferenceOutcome { frames, error }
}

/// FC-19: after an error the decoder reports it again, whatever it is asked.
fn assert_sticky(decoder: &mut framechat::Decoder, error: DecodeError, rest: &[u8]) {
    assert_eq!(
        decoder.error(),
        Some(error),
        "FC-19: error() after an error"
    );
    assert_eq!(
        decoder.decode(rest).err(),
        Some(error),
        "FC-19: decode after an error must report the same error"
    );
    assert_eq!(
        decoder.decode(&[0x80]).err(),
        Some(error),
        "FC-19: decode after an error must report the same error"
    );
    assert_eq!(
        decoder.finish().err(),
        Some(error),
        "FC-19: finish after an error must report the same error"
    );
}

/// §4.1: the typed client's connection preface.
const PREFACE: [u8; 10] = [0xff, 0x46, 0x43, 0x48, 0x41, 0x54, 0x2f, 0x31, 0x0d, 0x0a];

/// Why reading stopped before a clean end.
enum Halt {
    /// The stream is incomplete and `end_of_stream` is false: not an error (§6.6 applies only at
    /// the end of the stream).
    NeedMore,
    /// A terminal error (FC-19, FC-20).
    Failed(DecodeError),
}

/// §4.3's direction column.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    ServerToClient,
    ClientToServer,
    Both,
}

/// One row of §4.3's table.
enum TypeRow {
    /// A known type: its direction and its payload length bounds, inclusive.
    Known {
        direction: Direction,
        min_len: u32,
        max_len: Option<u32>,
    },
    /// `0x87..=0xbf`: unassigned or reserved, skipped (FC-11).
    Skipped,
    /// Outside `0x80..=0xbf` (FC-6).
    OutOfRange,
}

/// §4.3, the frame types table, row by row.
fn type_row(frame_type: u8) -> TypeRow {
    use Direction::*;
    let known = |direction, min_len, max_len| TypeRow::Known {
        direction,
        min_len,
        max_len,
    };
    match frame_type {
        0x80 => known(ServerToClient, 12, Some(12)),  // WELCOME
        0x81 => known(ClientToServer, 8, None),       // CHAT
        0x82 => known(ServerToClient, 16, None),      // ECHO
        0x83 => known(ServerToClient, 24, None),      // BROADCAST
        0x84 => known(Both, 8, Some(8)),              // PING
        0x85 => known(Both, 8, Some(8)),              // PONG
        0x86 => known(Both, 2, None),                 // ERROR
        0x88 => known(ClientToServer, 1, Some(1025)), // AUTH: scheme, a token of at most 1024
        0x87..=0xbf => TypeRow::Skipped,
        _ => TypeRow::OutOfRange,
    }
}

/// Whether a frame travelling in `direction` may reach a receiver in `role` (§4.3, FC-8).
fn reaches(direction: Direction, role: Role) -> bool {
    match direction {
        Direction::Both => true,
        Direction::ServerToClient => role == Role::Client,
        Direction::ClientToServer => role == Role::Server,
    }
}

/// §6.1 (FC-14, FC-15): the limit a receiver applies to a frame; `frame_type` is `None` for a
/// legacy frame.
fn applied_limit(role: Role, limits: Limits, frame_type: Option<u8>) -> u32 {
    let l = limits.max_frame_len();
    match (role, frame_type) {
        // FC-15: a server applies `L − 24` to a legacy frame and `L − 16` to a CHAT.
        (Role::Server, None) => l - 24,
        (Role::Server, Some(0x81)) => l - 16,
        // FC-15: every other frame a server receives, and every frame a client receives: `L`.
        _ => l,
    }
}

/// RFC 3629 §4: the length of the well-formed character at the start of `bytes`, if one is.
///
/// ```text
/// UTF8-1 = %x00-7F
/// UTF8-2 = %xC2-DF UTF8-tail
/// UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
///          %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
/// UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
///          %xF4 %x80-8F 2( UTF8-tail )
/// UTF8-tail = %x80-BF
/// ```
fn utf8_char_len(bytes: &[u8]) -> Option<usize> {
    let byte_in =
        |at: usize, low: u8, high: u8| bytes.get(at).is_some_and(|b| (low..=high).contains(b));
    let tail = |at: usize| byte_in(at, 0x80, 0xbf);
    match *bytes.first()? {
        0x00..=0x7f => Some(1),
        0xc2..=0xdf if tail(1) => Some(2),
        0xe0 if byte_in(1, 0xa0, 0xbf) && tail(2) => Some(3),
        0xe1..=0xec | 0xee..=0xef if tail(1) && tail(2) => Some(3),
        0xed if byte_in(1, 0x80, 0x9f) && tail(2) => Some(3),
        0xf0 if byte_in(1, 0x90, 0xbf) && tail(2) && tail(3) => Some(4),
        0xf1..=0xf3 if tail(1) && tail(2) && tail(3) => Some(4),
        0xf4 if byte_in(1, 0x80, 0x8f) && tail(2) && tail(3) => Some(4),
        _ => None,
    }
}

/// FC-17's `valid_up_to`: the length of the longest well-formed UTF-8 prefix of `bytes`.
fn well_formed_prefix_len(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(len) = utf8_char_len(&bytes[at..]) {
        at += len;
    }
    at
}

fn be_u16(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(word)
}

/// The whole stream and what has been read from it.
struct Reader<'a> {
    config: ReferenceConfig,
    stream: &'a [u8],
    end_of_stream: bool,
    frames: Vec<Frame<String>>,
    /// FC-20: the 0-based index of the frame being read, skipped frames counted.
    frame_index: u64,
}

impl<'a> Reader<'a> {
    /// §5, then §3 or §4 frame after frame until the stream ends or an error.
    fn read_stream(&mut self) -> Result<(), Halt> {
        let (typed, preface_checked) = match (self.config.mode, self.config.role) {
            (Mode::Legacy, _) => (false, 0),
            // §4.1: the server sends no preface, so a client reads frames at once.
            (Mode::Typed, Role::Client) => (true, PREFACE.len()),
            (Mode::Typed, Role::Server) => (true, 0),
            (Mode::Detect, _) => {
                // §5: the decision needs exactly 4 bytes. A stream that ends after 1 to 3 ends
                // inside a header of 4 bytes (§6.6); one that ends before any byte ends cleanly
                // (FC-21).
                if self.stream.is_empty() {
                    return self.end_between_frames();
                }
                let first4 = self.bytes(0, 4, Part::Header, 0, 4)?;
                // FC-13: the preface's first 4 bytes mean typed, anything else legacy, those 4 bytes
                // being the first legacy length.
                if first4 == &PREFACE[..4] {
                    (true, 4)
                } else {
                    (false, 0)
                }
            }
        };
        let mut at = 0;
        if typed && preface_checked < PREFACE.len() {
            at = self.read_preface(preface_checked)?;
        }
        loop {
            // FC-21: a stream that ends between two frames ends cleanly.
            if at == self.stream.len() {
                return self.end_between_frames();
            }
            at = if typed {
                self.read_typed_frame(at)?
            } else {
                self.read_legacy_frame(at)?
            };
        }
    }

    /// The end of the input with no frame started: clean if the stream has ended (FC-21),
    /// otherwise the decoder simply waits for more.
    fn end_between_frames(&self) -> Result<(), Halt> {
        if self.end_of_stream {
            Ok(())
        } else {
            Err(Halt::NeedMore)
        }
    }

    /// FC-19/FC-20: a terminal error, detected once `offset` bytes of the stream were taken in.
    fn fail(&self, kind: DecodeErrorKind, offset: usize) -> Halt {
        Halt::Failed(DecodeError {
            kind,
            offset: offset as u64,
            frame_index: self.frame_index,
        })
    }

    /// The `len` bytes at `at`, which are bytes `at - part_start ..` of a part (the preface, a header
    /// or a payload) of `part_len` bytes starting at `part_start`. If the stream is shorter: at its
    /// end, `Truncated` naming the part and how many of its bytes arrived (FC-21); before its end,
    /// "need more".
    fn bytes(
        &self,
        at: usize,
        len: usize,
        part: Part,
        part_start: usize,
        part_len: usize,
    ) -> Result<&'a [u8], Halt> {
        let stream: &'a [u8] = self.stream;
        match stream.get(at..at + len) {
            Some(bytes) => Ok(bytes),
            None if self.end_of_stream => {
                let received = stream.len() - part_start;
                Err(self.fail(
                    DecodeErrorKind::Truncated {
                        part,
                        received: received as u32,
                        expected: part_len as u32,
                    },
                    stream.len(),
                ))
            }
            None => Err(Halt::NeedMore),
        }
    }

    /// §4.1: the preface, byte by byte from `from` (bytes before `from` already matched). Returns
    /// the offset just past it.
    fn read_preface(&mut self, from: usize) -> Result<usize, Halt> {
        // FC-21: a server's stream that ends before any byte ends cleanly.
        if from == 0 && self.stream.is_empty() {
            return self.end_between_frames().map(|()| 0);
        }
        for (index, &expected) in PREFACE.iter().enumerate().skip(from) {
            let found = self.bytes(index, 1, Part::Preface, 0, PREFACE.len())?[0];
            // FC-4: fail at the first byte that differs; detected at its offset + 1; frame index 0
            // (§6.5).
            if found != expected {
                return Err(self.fail(
                    DecodeErrorKind::BadPreface {
                        index: index as u8,
                        expected,
                        found,
                    },
                    index + 1,
                ));
            }
        }
        Ok(PREFACE.len())
    }

    /// §3.1: one legacy frame at `start`. Returns the offset just past it.
    fn read_legacy_frame(&mut self, start: usize) -> Result<usize, Halt> {
        const HEADER: usize = 4;
        // FC-1: the 4 length bytes, counting the text only.
        let length = be_u32(self.bytes(start, HEADER, Part::Header, start, HEADER)?);
        let header_end = start + HEADER;
        // FC-16 step 2, FC-14, FC-15: the length against the limit, at the end of the header.
        let limit = applied_limit(self.config.role, self.config.limits, None);
        if length > limit {
            return Err(self.fail(
                DecodeErrorKind::FrameTooLarge {
                    declared: length,
                    limit,
                },
                header_end,
            ));
        }
        let payload = self.payload(header_end, length)?;
        let frame_end = header_end + payload.len();
        // FC-2: the text is well-formed UTF-8 (a length of 0 is the empty text).
        let text = self.text(payload, frame_end)?;
        self.frames.push(Frame::Text(text));
        self.frame_index += 1;
        Ok(frame_end)
    }

    /// §4.2: one typed frame at `start`. Returns the offset just past it.
    fn read_typed_frame(&mut self, start: usize) -> Result<usize, Halt> {
        const HEADER: usize = 5;
        let frame_type = self.bytes(start, 1, Part::Header, start, HEADER)?[0];
        let after_type = start + 1;
        let row = type_row(frame_type);
        // FC-16 step 1: right after the type byte, its range (FC-6) then its direction (FC-8).
        match row {
            TypeRow::OutOfRange => {
                return Err(self.fail(DecodeErrorKind::InvalidFrameType { frame_type }, after_type))
            }
            TypeRow::Known { direction, .. } if !reaches(direction, self.config.role) => {
                return Err(self.fail(
                    DecodeErrorKind::UnexpectedFrameType {
                        frame_type,
                        receiver: self.config.role,
                    },
                    after_type,
                ))
            }
            TypeRow::Known { .. } | TypeRow::Skipped => {}
        }
        // FC-5: the 4 length bytes, counting the payload only.
        let length = be_u32(self.bytes(after_type, 4, Part::Header, start, HEADER)?);
        let header_end = start + HEADER;
        // FC-16 step 2: the limit (FC-14, FC-15), then the type's payload length (FC-7).
        let limit = applied_limit(self.config.role, self.config.limits, Some(frame_type));
        if length > limit {
            return Err(self.fail(
                DecodeErrorKind::FrameTooLarge {
                    declared: length,
                    limit,
                },
                header_end,
            ));
        }
        if let TypeRow::Known {
            min_len, max_len, ..
        } = row
        {
            if length < min_len || max_len.is_some_and(|max| length > max) {
                return Err(self.fail(
                    DecodeErrorKind::BadLength {
                        frame_type,
                        declared: length,
                        min: min_len,
                        max: max_len,
                    },
                    header_end,
                ));
            }
        }
        let payload = self.payload(header_end, length)?;
        let frame_end = header_end + payload.len();
        let frame = match frame_type {
            // WELCOME: peer_id: u64, max_frame_len: u32.
            0x80 => Frame::Welcome {
                peer_id: be_u64(&payload[0..8]),
                max_frame_len: be_u32(&payload[8..12]),
            },
            // CHAT: sent_at: u64, text (FC-9, FC-10).
            0x81 => Frame::Chat {
                sent_at: UnixMicros(be_u64(&payload[0..8])),
                text: self.text(&payload[8..], frame_end)?,
            },
            // ECHO: sent_at: u64, relayed_at: u64, text.
            0x82 => Frame::Echo {
                sent_at: UnixMicros(be_u64(&payload[0..8])),
                relayed_at: UnixMicros(be_u64(&payload[8..16])),
                text: self.text(&payload[16..], frame_end)?,
            },
            // BROADCAST: from: u64, sent_at: u64, relayed_at: u64, text.
            0x83 => Frame::Broadcast {
                from: be_u64(&payload[0..8]),
                sent_at: UnixMicros(be_u64(&payload[8..16])),
                relayed_at: UnixMicros(be_u64(&payload[16..24])),
                text: self.text(&payload[24..], frame_end)?,
            },
            // PING, PONG: nonce: u64.
            0x84 => Frame::Ping {
                nonce: be_u64(payload),
            },
            0x85 => Frame::Pong {
                nonce: be_u64(payload),
            },
            // ERROR: code: u16, reason: text; any code is accepted (FC-12).
            0x86 => Frame::Error {
                code: ErrorCode(be_u16(payload)),
                reason: self.text(&payload[2..], frame_end)?,
            },
            // AUTH: scheme: u8, token: text (FC-9).
            0x88 => Frame::Auth {
                scheme: AuthScheme(payload[0]),
                token: self.text(&payload[1..], frame_end)?,
            },
            // FC-11: `0x87..=0xbf` is skipped, unreported, but counts as a frame.
            _ => {
                self.frame_index += 1;
                return Ok(frame_end);
            }
        };
        self.frames.push(frame);
        self.frame_index += 1;
        Ok(frame_end)
    }

    /// The `length` payload bytes starting at `start` (§3.1, §4.2).
    fn payload(&self, start: usize, length: u32) -> Result<&'a [u8], Halt> {
        let length = length as usize;
        self.bytes(start, length, Part::Payload, start, length)
    }

    /// FC-17: a text field, validated once its frame is whole; an invalid one fails at the end of
    /// the frame with the length of its longest well-formed prefix.
    fn text(&self, field: &[u8], frame_end: usize) -> Result<String, Halt> {
        let valid_up_to = well_formed_prefix_len(field);
        if valid_up_to != field.len() {
            return Err(self.fail(
                DecodeErrorKind::InvalidUtf8 {
                    valid_up_to: valid_up_to as u32,
                },
                frame_end,
            ));
        }
        Ok(
            String::from_utf8(field.to_vec())
                .expect("RFC 3629 well-formed bytes are a Rust String"),
        )
    }
}
