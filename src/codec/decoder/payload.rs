//! Parsing a payload whose length the header checks already validated against §4.3.

use crate::codec::error::DecodeErrorKind;
use crate::codec::frame::{AuthScheme, ErrorCode, Frame, UnixMicros};
use crate::codec::utf8::{self, TextBuf};
use crate::codec::wire::frame_type;

// `#[inline]`: used by `decode`'s fast path, which is inlined into the caller's crate.
#[inline]
pub(super) fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

pub(super) fn be_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

#[inline]
pub(super) fn text_at(payload: &[u8], at: usize) -> Result<&str, DecodeErrorKind> {
    utf8::text(&payload[at..]).map_err(invalid_utf8)
}

fn invalid_utf8(valid_up_to: usize) -> DecodeErrorKind {
    DecodeErrorKind::InvalidUtf8 {
        valid_up_to: valid_up_to as u32,
    }
}

/// Parses a payload whose length the header checks already validated against §4.3.
///
/// Inlined for the legacy text, so a text frame is built in registers where it is returned; the
/// typed payloads go through `parse_typed`, kept out of line.
#[inline]
pub(super) fn parse_payload(
    frame_type: Option<u8>,
    payload: &[u8],
) -> Result<Frame<&str>, DecodeErrorKind> {
    match frame_type {
        None => Ok(Frame::Text(text_at(payload, 0)?)),
        Some(type_byte) => parse_typed(type_byte, payload),
    }
}

/// [`parse_payload`] of a payload gathered across inputs: a legacy text is checked by the buffer,
/// which vouched for its ASCII pieces as they were appended.
#[inline]
pub(super) fn parse_buffered(
    frame_type: Option<u8>,
    payload: &TextBuf,
) -> Result<Frame<&str>, DecodeErrorKind> {
    match frame_type {
        None => payload.text().map(Frame::Text).map_err(invalid_utf8),
        Some(type_byte) => parse_typed(type_byte, payload),
    }
}

/// Parses a typed payload; see [`parse_payload`].
pub(super) fn parse_typed(type_byte: u8, payload: &[u8]) -> Result<Frame<&str>, DecodeErrorKind> {
    // Slicing below cannot panic: `header_complete` checked each type's minimum length.
    Ok(match type_byte {
        frame_type::WELCOME => Frame::Welcome {
            peer_id: be_u64(payload, 0),
            max_frame_len: u32::from_be_bytes([payload[8], payload[9], payload[10], payload[11]]),
        },
        frame_type::CHAT => Frame::Chat {
            sent_at: UnixMicros(be_u64(payload, 0)),
            text: text_at(payload, 8)?,
        },
        frame_type::ECHO => Frame::Echo {
            sent_at: UnixMicros(be_u64(payload, 0)),
            relayed_at: UnixMicros(be_u64(payload, 8)),
            text: text_at(payload, 16)?,
        },
        frame_type::BROADCAST => Frame::Broadcast {
            from: be_u64(payload, 0),
            sent_at: UnixMicros(be_u64(payload, 8)),
            relayed_at: UnixMicros(be_u64(payload, 16)),
            text: text_at(payload, 24)?,
        },
        frame_type::PING => Frame::Ping {
            nonce: be_u64(payload, 0),
        },
        frame_type::PONG => Frame::Pong {
            nonce: be_u64(payload, 0),
        },
        frame_type::ERROR => Frame::Error {
            code: ErrorCode(u16::from_be_bytes([payload[0], payload[1]])),
            reason: text_at(payload, 2)?,
        },
        frame_type::AUTH => Frame::Auth {
            scheme: AuthScheme(payload[0]),
            token: text_at(payload, 1)?,
        },
        // `State::Payload` is entered only for known types; unassigned ones are skipped.
        other => unreachable!("payload state for unassigned frame type {other:#04x}"),
    })
}
