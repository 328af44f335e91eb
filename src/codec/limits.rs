//! The receiver's limit (§6.1), validated when it is built.

use core::fmt;

use crate::codec::wire::{fixed_len, frame_type};
use crate::codec::Role;

/// The largest payload length a receiver accepts: `L` of §6.1.
///
/// A `Limits` value is always valid: out-of-range values are refused by [`Limits::new`], never at
/// decode time.
///
/// ```
/// use framechat::{Limits, ConfigError};
/// assert_eq!(Limits::default().max_frame_len(), 1 << 20);
/// assert_eq!(Limits::new(4096)?.max_frame_len(), 4096);
/// assert!(matches!(Limits::new(0), Err(ConfigError::MaxFrameLenOutOfRange { .. })));
/// assert!(Limits::new(u32::MAX).is_err());
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Invariant: `MIN_FRAME_LEN <= max_frame_len <= MAX_FRAME_LEN`.
    max_frame_len: u32,
}

impl Limits {
    /// The default limit: 1 MiB.
    pub const DEFAULT_MAX_FRAME_LEN: u32 = 1 << 20;
    /// The smallest limit allowed: room for the largest fixed fields (24) with text to spare.
    pub const MIN_FRAME_LEN: u32 = 64;
    /// The largest limit allowed: `2^31 − 1`, so that any length with its high bit set (a typed type
    /// byte or the preface read as a legacy length) is always too large (§4.2, §4.1).
    pub const MAX_FRAME_LEN: u32 = 0x7fff_ffff;

    /// A limit of `max_frame_len` payload bytes.
    pub const fn new(max_frame_len: u32) -> Result<Limits, ConfigError> {
        if max_frame_len < Self::MIN_FRAME_LEN || max_frame_len > Self::MAX_FRAME_LEN {
            return Err(ConfigError::MaxFrameLenOutOfRange {
                requested: max_frame_len as u64,
                min: Self::MIN_FRAME_LEN,
                max: Self::MAX_FRAME_LEN,
            });
        }
        Ok(Limits { max_frame_len })
    }

    /// `L`: the largest payload length accepted.
    pub const fn max_frame_len(self) -> u32 {
        self.max_frame_len
    }

    /// The largest text a message may carry so that every relayed form fits `L` (FC-15).
    pub const fn max_text_len(self) -> u32 {
        self.max_frame_len - crate::codec::wire::RELAY_HEADROOM
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_len: Self::DEFAULT_MAX_FRAME_LEN,
        }
    }
}

/// The codec's configuration was refused when it was built: a [`Limits`] out of range. (The hub
/// and the server refuse their own configurations with their own errors.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The frame length limit is outside `min..=max`.
    MaxFrameLenOutOfRange {
        /// The value asked for.
        requested: u64,
        /// The smallest allowed.
        min: u32,
        /// The largest allowed.
        max: u32,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MaxFrameLenOutOfRange {
                requested,
                min,
                max,
            } => write!(
                f,
                "max frame length {requested} is outside the allowed range {min}..={max}"
            ),
        }
    }
}

impl core::error::Error for ConfigError {}

/// The limit a receiver in `role` applies to a frame of `frame_type` (`None`: legacy), FC-14/FC-15.
#[inline]
pub(crate) fn inbound_limit(receiver: Role, limits: Limits, frame_type: Option<u8>) -> u32 {
    let max = limits.max_frame_len();
    match (receiver, frame_type) {
        (Role::Server, None) => limits.max_text_len(),
        (Role::Server, Some(frame_type::CHAT)) => limits.max_text_len() + fixed_len::CHAT,
        _ => max,
    }
}
