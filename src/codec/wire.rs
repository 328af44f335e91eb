//! Wire constants of `spec/PROTOCOL.md`: the preface, header sizes, type bytes and payload bounds.
//!
//! ```text
//! legacy (§3.1):  | length: u32 BE | text: length bytes |
//! typed  (§4.2):  | type: u8 | length: u32 BE | payload: length bytes |
//! ```

use crate::codec::Role;

/// The typed client's connection preface (§4.1): `"\xffFCHAT/1\r\n"`.
///
/// Read as a legacy length, its first 4 bytes declare 4 282 794 824 bytes, far above any limit, so a
/// legacy receiver fails on it at once.
///
/// ```
/// assert_eq!(framechat::wire::PREFACE, b"\xffFCHAT/1\r\n");
/// assert!(u32::from_be_bytes([0xff, 0x46, 0x43, 0x48]) > framechat::Limits::MAX_FRAME_LEN);
/// ```
pub const PREFACE: &[u8; 10] = b"\xffFCHAT/1\r\n";

/// How many leading bytes decide a connection's profile (§5).
pub const DETECT_LEN: usize = 4;

/// Header length of a legacy frame: the u32 length (§3.1).
pub const LEGACY_HEADER_LEN: usize = 4;

/// Header length of a typed frame: the type byte and the u32 length (§4.2).
pub const TYPED_HEADER_LEN: usize = 5;

/// Bytes a relayed message can grow by: a BROADCAST's three u64 fields (§6.1, FC-15).
pub const RELAY_HEADROOM: u32 = fixed_len::BROADCAST;

/// Frame type bytes of the typed profile (§4.3).
pub mod frame_type {
    /// WELCOME: server → client, `peer_id: u64, max_frame_len: u32`.
    pub const WELCOME: u8 = 0x80;
    /// CHAT: client → server, `sent_at: u64, text`.
    pub const CHAT: u8 = 0x81;
    /// ECHO: server → client, `sent_at: u64, relayed_at: u64, text`.
    pub const ECHO: u8 = 0x82;
    /// BROADCAST: server → client, `from: u64, sent_at: u64, relayed_at: u64, text`.
    pub const BROADCAST: u8 = 0x83;
    /// PING: both directions, `nonce: u64`.
    pub const PING: u8 = 0x84;
    /// PONG: both directions, `nonce: u64`.
    pub const PONG: u8 = 0x85;
    /// ERROR: both directions, `code: u16, reason: text`.
    pub const ERROR: u8 = 0x86;
    /// AUTH: client → server, `scheme: u8, token: text` (§4.4, §8.9).
    pub const AUTH: u8 = 0x88;
    /// First type of the unassigned range a receiver skips (§4.6); AUTH, inside it, is assigned.
    pub const FIRST_UNASSIGNED: u8 = 0x87;
    /// First type of the range reserved for exercising the skip rule; never assigned (§4.6).
    pub const FIRST_RESERVED: u8 = 0xb0;
    /// Lowest valid type byte (FC-6).
    pub const MIN: u8 = 0x80;
    /// Highest valid type byte (FC-6).
    pub const MAX: u8 = 0xbf;
}

/// The length of each known type's fixed fields (§4.3): its whole payload for WELCOME, PING and
/// PONG, the bytes before the text for the others. The one table the decoder's length checks, the
/// encoder, the generators and the server's queue weights all read.
///
/// ```
/// use framechat::wire::{fixed_len, frame_type};
/// assert_eq!(fixed_len::of(frame_type::BROADCAST), Some(24)); // from, sent_at, relayed_at
/// assert_eq!(fixed_len::of(frame_type::FIRST_UNASSIGNED), None);
/// ```
pub mod fixed_len {
    use super::frame_type;

    /// WELCOME: `peer_id: u64, max_frame_len: u32`, no text.
    pub const WELCOME: u32 = 12;
    /// CHAT: `sent_at: u64`, then the text.
    pub const CHAT: u32 = 8;
    /// ECHO: `sent_at: u64, relayed_at: u64`, then the text.
    pub const ECHO: u32 = 16;
    /// BROADCAST: `from: u64, sent_at: u64, relayed_at: u64`, then the text.
    pub const BROADCAST: u32 = 24;
    /// PING and PONG: `nonce: u64`, no text.
    pub const NONCE: u32 = 8;
    /// ERROR: `code: u16`, then the reason.
    pub const ERROR: u32 = 2;
    /// AUTH: `scheme: u8`, then the token.
    pub const AUTH: u32 = 1;
    /// The largest of them: what a message's fixed fields add to its text at most.
    pub const MAX: u32 = BROADCAST;

    /// The fixed fields' length of `frame_type`, or `None` for a type §4.3 does not define.
    pub const fn of(frame_type: u8) -> Option<u32> {
        Some(match frame_type {
            frame_type::WELCOME => WELCOME,
            frame_type::CHAT => CHAT,
            frame_type::ECHO => ECHO,
            frame_type::BROADCAST => BROADCAST,
            frame_type::PING | frame_type::PONG => NONCE,
            frame_type::ERROR => ERROR,
            frame_type::AUTH => AUTH,
            _ => return None,
        })
    }
}

/// The longest token an AUTH frame carries (§4.3): its payload is at most `1 + MAX_TOKEN_LEN`
/// bytes, so a server never buffers more than that for a connection it has not authenticated.
///
/// ```
/// assert_eq!(framechat::wire::MAX_TOKEN_LEN, 1024);
/// ```
pub const MAX_TOKEN_LEN: u32 = 1024;

/// Which roles may receive a frame of this type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    ToClient,
    ToServer,
    Both,
}

impl Direction {
    pub(crate) fn reaches(self, receiver: Role) -> bool {
        matches!(
            (self, receiver),
            (Direction::Both, _)
                | (Direction::ToClient, Role::Client)
                | (Direction::ToServer, Role::Server)
        )
    }
}

/// What §4.3's table says of one type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TypeRule {
    /// A known type: its direction and its payload length bounds (inclusive).
    Known {
        direction: Direction,
        min_len: u32,
        max_len: Option<u32>,
    },
    /// In `0x87..=0xbf`: skipped (FC-11).
    Skip,
    /// Outside `0x80..=0xbf` (FC-6).
    Invalid,
}

pub(crate) fn type_rule(frame_type: u8) -> TypeRule {
    use frame_type::*;
    let known = |direction, min_len, max_len| TypeRule::Known {
        direction,
        min_len,
        max_len,
    };
    match frame_type {
        // Types without text are exactly their fixed fields; the others have at least those.
        WELCOME => known(
            Direction::ToClient,
            fixed_len::WELCOME,
            Some(fixed_len::WELCOME),
        ),
        CHAT => known(Direction::ToServer, fixed_len::CHAT, None),
        ECHO => known(Direction::ToClient, fixed_len::ECHO, None),
        BROADCAST => known(Direction::ToClient, fixed_len::BROADCAST, None),
        PING | PONG => known(Direction::Both, fixed_len::NONCE, Some(fixed_len::NONCE)),
        ERROR => known(Direction::Both, fixed_len::ERROR, None),
        AUTH => known(
            Direction::ToServer,
            fixed_len::AUTH,
            Some(fixed_len::AUTH + MAX_TOKEN_LEN),
        ),
        FIRST_UNASSIGNED..=MAX => TypeRule::Skip,
        _ => TypeRule::Invalid,
    }
}
