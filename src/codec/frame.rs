//! The frames of both profiles (§3, §4.3) and their field types.

use alloc::string::String;
use core::fmt;

use crate::codec::wire::{fixed_len, frame_type};
use crate::codec::Profile;

/// Microseconds since the Unix epoch, UTC, leap seconds not counted (§4.5). `0` means unknown.
///
/// The codec never reads a clock: callers pass times in.
///
/// ```
/// use framechat::UnixMicros;
/// let sent = UnixMicros(1_700_000_000_000_000);
/// let received = UnixMicros(1_700_000_000_000_250);
/// assert_eq!(received.saturating_since(sent), 250);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMicros(pub u64);

impl UnixMicros {
    /// The "unknown" timestamp.
    pub const UNKNOWN: UnixMicros = UnixMicros(0);

    /// Microseconds from `earlier` to `self`, 0 if `earlier` is later.
    pub fn saturating_since(self, earlier: UnixMicros) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The current time from the system clock.
    #[cfg(feature = "std")]
    pub fn now() -> UnixMicros {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixMicros(u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX))
    }
}

/// An ERROR frame's code (§4.7). Unknown codes are valid on the wire (FC-12).
///
/// ```
/// use framechat::ErrorCode;
/// assert_eq!(ErrorCode::SLOW_CONSUMER.name(), Some("SLOW_CONSUMER"));
/// assert_eq!(ErrorCode(999).name(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// Malformed frame: bad type, bad length, wrong direction.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(1);
    /// A declared length above the receiver's limit.
    pub const FRAME_TOO_LARGE: ErrorCode = ErrorCode(2);
    /// A text field that is not well-formed UTF-8.
    pub const INVALID_UTF8: ErrorCode = ErrorCode(3);
    /// The connection did not start with the preface.
    pub const BAD_PREFACE: ErrorCode = ErrorCode(4);
    /// The receiver did not read fast enough.
    pub const SLOW_CONSUMER: ErrorCode = ErrorCode(5);
    /// The server is at its connection limit.
    pub const SERVER_FULL: ErrorCode = ErrorCode(6);
    /// Idle too long, or a frame not completed in time.
    pub const TIMEOUT: ErrorCode = ErrorCode(7);
    /// The server is shutting down.
    pub const GOING_AWAY: ErrorCode = ErrorCode(8);
    /// Authentication required, missing or refused (§8.9).
    pub const UNAUTHORIZED: ErrorCode = ErrorCode(9);

    /// The name §4.7 gives this code, if it has one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "PROTOCOL_ERROR",
            2 => "FRAME_TOO_LARGE",
            3 => "INVALID_UTF8",
            4 => "BAD_PREFACE",
            5 => "SLOW_CONSUMER",
            6 => "SERVER_FULL",
            7 => "TIMEOUT",
            8 => "GOING_AWAY",
            9 => "UNAUTHORIZED",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "unknown error code {}", self.0),
        }
    }
}

/// How an AUTH frame's token is read (§4.4). Unknown schemes are valid on the wire: a server
/// refuses them as it refuses a bad token (FC-34).
///
/// ```
/// use framechat::AuthScheme;
/// assert_eq!(AuthScheme::BEARER.name(), Some("BEARER"));
/// assert_eq!(AuthScheme(7).name(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthScheme(pub u8);

impl AuthScheme {
    /// The token is a shared secret the server compares with the tokens it admits.
    pub const BEARER: AuthScheme = AuthScheme(1);

    /// The name §4.4 gives this scheme, if it has one.
    pub fn name(self) -> Option<&'static str> {
        match self.0 {
            1 => Some("BEARER"),
            _ => None,
        }
    }
}

/// One frame of either profile.
///
/// `T` is the text type: `&str` for frames borrowed from the decoder's input (no copy), `String` for
/// owned frames ([`Frame::into_owned`]). The decoder validates every text once (FC-17); the encoder
/// takes any `T: AsRef<str>`, valid by construction.
///
/// ```
/// use framechat::{Frame, UnixMicros};
/// let borrowed: Frame<&str> = Frame::Chat { sent_at: UnixMicros(7), text: "hi" };
/// let owned: Frame = borrowed.into_owned();
/// assert_eq!(owned.text(), Some("hi"));
/// ```
///
/// An AUTH frame's token is a secret: [`text`](Frame::text) does not return it, and code that
/// logs frames must not log an AUTH frame (its `Debug` form shows the token).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Frame<T = String> {
    /// Legacy profile (§3.1): the whole frame is one text.
    Text(T),
    /// Typed, server → client: the connection's first frame (§4.4).
    Welcome {
        /// This client's id in other peers' BROADCAST frames.
        peer_id: u64,
        /// The server's limit `L`.
        max_frame_len: u32,
    },
    /// Typed, client → server: a message.
    Chat {
        /// The client's send time.
        sent_at: UnixMicros,
        /// The message.
        text: T,
    },
    /// Typed, server → client: the client's own message, returned.
    Echo {
        /// Copied from the CHAT.
        sent_at: UnixMicros,
        /// The server's relay time.
        relayed_at: UnixMicros,
        /// The message.
        text: T,
    },
    /// Typed, server → client: another peer's message.
    Broadcast {
        /// The sender's `peer_id`.
        from: u64,
        /// The sender's send time.
        sent_at: UnixMicros,
        /// The server's relay time.
        relayed_at: UnixMicros,
        /// The message.
        text: T,
    },
    /// Typed, both directions: asks for a PONG with the same nonce.
    Ping {
        /// Echoed back in the PONG.
        nonce: u64,
    },
    /// Typed, both directions: answers a PING.
    Pong {
        /// The PING's nonce.
        nonce: u64,
    },
    /// Typed, both directions: why the connection is about to close.
    Error {
        /// What went wrong (§4.7).
        code: ErrorCode,
        /// Human-readable detail.
        reason: T,
    },
    /// Typed, client → server: credentials, the first frame after the preface when the server
    /// requires them (§4.4, §8.9).
    Auth {
        /// How to read the token.
        scheme: AuthScheme,
        /// The secret, at most [`MAX_TOKEN_LEN`](crate::wire::MAX_TOKEN_LEN) bytes.
        token: T,
    },
}

impl<T: AsRef<str>> Frame<T> {
    /// The profile that can carry this frame.
    pub fn profile(&self) -> Profile {
        match self {
            Frame::Text(_) => Profile::Legacy,
            _ => Profile::Typed,
        }
    }

    /// The type byte (§4.3); `None` for a legacy frame, which has none.
    pub fn frame_type(&self) -> Option<u8> {
        Some(match self {
            Frame::Text(_) => return None,
            Frame::Welcome { .. } => frame_type::WELCOME,
            Frame::Chat { .. } => frame_type::CHAT,
            Frame::Echo { .. } => frame_type::ECHO,
            Frame::Broadcast { .. } => frame_type::BROADCAST,
            Frame::Ping { .. } => frame_type::PING,
            Frame::Pong { .. } => frame_type::PONG,
            Frame::Error { .. } => frame_type::ERROR,
            Frame::Auth { .. } => frame_type::AUTH,
        })
    }

    /// The text of a message-carrying frame, or an ERROR's reason; never an AUTH's token.
    pub fn text(&self) -> Option<&str> {
        match self {
            Frame::Text(text)
            | Frame::Chat { text, .. }
            | Frame::Echo { text, .. }
            | Frame::Broadcast { text, .. }
            | Frame::Error { reason: text, .. } => Some(text.as_ref()),
            Frame::Welcome { .. }
            | Frame::Ping { .. }
            | Frame::Pong { .. }
            | Frame::Auth { .. } => None,
        }
    }

    /// The payload length this frame encodes to: the value of its length field.
    pub fn payload_len(&self) -> usize {
        let text_len = match self {
            Frame::Auth { token, .. } => token.as_ref().len(),
            _ => self.text().map_or(0, str::len),
        };
        let fixed = self.frame_type().and_then(fixed_len::of).unwrap_or(0);
        fixed as usize + text_len
    }

    /// Applies `f` to the text field, keeping every other field.
    pub fn map_text<U>(self, f: impl FnOnce(T) -> U) -> Frame<U> {
        match self {
            Frame::Text(text) => Frame::Text(f(text)),
            Frame::Welcome {
                peer_id,
                max_frame_len,
            } => Frame::Welcome {
                peer_id,
                max_frame_len,
            },
            Frame::Chat { sent_at, text } => Frame::Chat {
                sent_at,
                text: f(text),
            },
            Frame::Echo {
                sent_at,
                relayed_at,
                text,
            } => Frame::Echo {
                sent_at,
                relayed_at,
                text: f(text),
            },
            Frame::Broadcast {
                from,
                sent_at,
                relayed_at,
                text,
            } => Frame::Broadcast {
                from,
                sent_at,
                relayed_at,
                text: f(text),
            },
            Frame::Ping { nonce } => Frame::Ping { nonce },
            Frame::Pong { nonce } => Frame::Pong { nonce },
            Frame::Error { code, reason } => Frame::Error {
                code,
                reason: f(reason),
            },
            Frame::Auth { scheme, token } => Frame::Auth {
                scheme,
                token: f(token),
            },
        }
    }

    /// A frame borrowing this one's text.
    pub fn as_ref(&self) -> Frame<&str> {
        match self {
            Frame::Text(text) => Frame::Text(text.as_ref()),
            Frame::Welcome {
                peer_id,
                max_frame_len,
            } => Frame::Welcome {
                peer_id: *peer_id,
                max_frame_len: *max_frame_len,
            },
            Frame::Chat { sent_at, text } => Frame::Chat {
                sent_at: *sent_at,
                text: text.as_ref(),
            },
            Frame::Echo {
                sent_at,
                relayed_at,
                text,
            } => Frame::Echo {
                sent_at: *sent_at,
                relayed_at: *relayed_at,
                text: text.as_ref(),
            },
            Frame::Broadcast {
                from,
                sent_at,
                relayed_at,
                text,
            } => Frame::Broadcast {
                from: *from,
                sent_at: *sent_at,
                relayed_at: *relayed_at,
                text: text.as_ref(),
            },
            Frame::Ping { nonce } => Frame::Ping { nonce: *nonce },
            Frame::Pong { nonce } => Frame::Pong { nonce: *nonce },
            Frame::Error { code, reason } => Frame::Error {
                code: *code,
                reason: reason.as_ref(),
            },
            Frame::Auth { scheme, token } => Frame::Auth {
                scheme: *scheme,
                token: token.as_ref(),
            },
        }
    }

    /// An owned copy: the one copy of the text a frame ever needs.
    pub fn into_owned(self) -> Frame<String> {
        self.map_text(|text| String::from(text.as_ref()))
    }
}
