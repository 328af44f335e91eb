//! The sans-IO codec (§3–§7): bytes in, frames out; frames in, bytes out. No I/O, no clock, no
//! locks, `no_std` + `alloc`, and no import from outside this folder (CI checks that rule).

mod decoder;
mod encoder;
mod error;
mod frame;
pub(crate) mod limits;
mod utf8;
pub mod wire;

pub use decoder::{Decoded, Decoder};
pub use encoder::Encoder;
pub use error::{DecodeError, DecodeErrorKind, EncodeError, Part};
pub use frame::{AuthScheme, ErrorCode, Frame, UnixMicros};
pub use limits::{ConfigError, Limits};

/// The two wire profiles (§3, §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// The seed's framing: u32 length, UTF-8 text (§3).
    Legacy,
    /// Preface, then type byte, u32 length, payload (§4).
    Typed,
}

/// The side of a connection an encoder sends from or a decoder receives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that connects.
    Client,
    /// The side that accepts.
    Server,
}

impl Role {
    /// The other side.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}
