//! Typed errors: the peer's violations ([`DecodeError`]) apart from the caller's ([`EncodeError`]).

use core::fmt;

use crate::codec::{Profile, Role};

/// The peer sent something §3–§6 forbid. Terminal and sticky (FC-19).
///
/// `offset` is the detection offset (FC-20): how many bytes of the stream the decoder had taken in
/// when it found the error. It does not depend on how the stream was cut into chunks (FC-18).
///
/// ```
/// use framechat::{Decoder, DecodeErrorKind, Limits, Profile};
/// let mut decoder = Decoder::client(Profile::Legacy, Limits::default());
/// let err = decoder.decode(&[0xff, 0xff, 0xff, 0xff, b'x']).unwrap_err();
/// assert_eq!(err.offset, 4); // the end of the header: no payload byte was read
/// assert_eq!(err.kind, DecodeErrorKind::FrameTooLarge { declared: u32::MAX, limit: 1 << 20 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// What was wrong.
    pub kind: DecodeErrorKind,
    /// The detection offset in the stream (§6.5).
    pub offset: u64,
    /// Index of the frame the error was found in, counting skipped frames; 0 for the preface.
    pub frame_index: u64,
}

impl DecodeError {
    /// The ERROR code (§4.7) a server sends for this error before closing (FC-30).
    pub fn error_code(&self) -> crate::codec::ErrorCode {
        use crate::codec::ErrorCode;
        match self.kind {
            DecodeErrorKind::FrameTooLarge { .. } => ErrorCode::FRAME_TOO_LARGE,
            DecodeErrorKind::InvalidUtf8 { .. } => ErrorCode::INVALID_UTF8,
            DecodeErrorKind::BadPreface { .. } => ErrorCode::BAD_PREFACE,
            DecodeErrorKind::Truncated { .. }
            | DecodeErrorKind::InvalidFrameType { .. }
            | DecodeErrorKind::UnexpectedFrameType { .. }
            | DecodeErrorKind::BadLength { .. }
            | DecodeErrorKind::InputAfterFinish => ErrorCode::PROTOCOL_ERROR,
        }
    }
}

/// The kinds of [`DecodeError`], with what each needs to be understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// FC-4: a byte of the preface differs.
    BadPreface {
        /// Position in the preface (0..10).
        index: u8,
        /// The preface byte expected there.
        expected: u8,
        /// The byte received.
        found: u8,
    },
    /// FC-6: a type byte outside `0x80..=0xbf`.
    InvalidFrameType {
        /// The byte read.
        frame_type: u8,
    },
    /// FC-8: a known type the receiver's role never receives.
    UnexpectedFrameType {
        /// The byte read.
        frame_type: u8,
        /// The receiver's role.
        receiver: Role,
    },
    /// FC-14/FC-15: the declared length exceeds the limit applied to this frame.
    FrameTooLarge {
        /// The length field's value.
        declared: u32,
        /// The limit applied.
        limit: u32,
    },
    /// FC-7: a known type's length outside the table's bounds.
    BadLength {
        /// The type byte.
        frame_type: u8,
        /// The length field's value.
        declared: u32,
        /// Smallest valid length.
        min: u32,
        /// Largest valid length, if bounded by the type.
        max: Option<u32>,
    },
    /// FC-17: a text field that is not well-formed UTF-8.
    InvalidUtf8 {
        /// Length of the longest valid prefix of the text field.
        valid_up_to: u32,
    },
    /// FC-21: the stream ended inside the preface, a header or a payload.
    Truncated {
        /// Which part was cut.
        part: Part,
        /// How many of its bytes arrived.
        received: u32,
        /// How many it needed.
        expected: u32,
    },
    /// Caller misuse, not a peer violation: bytes passed after [`Decoder::finish`](crate::Decoder::finish).
    InputAfterFinish,
}

/// The part of the stream that was cut short (FC-21).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The typed connection preface.
    Preface,
    /// A frame header.
    Header,
    /// A frame payload.
    Payload,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::BadPreface {
                index,
                expected,
                found,
            } => write!(
                f,
                "bad preface: byte {index} is {found:#04x}, expected {expected:#04x}"
            )?,
            DecodeErrorKind::InvalidFrameType { frame_type } => write!(
                f,
                "invalid frame type {frame_type:#04x} (valid: 0x80..=0xbf)"
            )?,
            DecodeErrorKind::UnexpectedFrameType {
                frame_type,
                receiver,
            } => write!(
                f,
                "frame type {frame_type:#04x} is never sent to a {receiver:?}"
            )?,
            DecodeErrorKind::FrameTooLarge { declared, limit } => write!(
                f,
                "frame too large: declared length {declared} exceeds the limit {limit}"
            )?,
            DecodeErrorKind::BadLength {
                frame_type,
                declared,
                min,
                max,
            } => {
                write!(
                    f,
                    "bad length {declared} for frame type {frame_type:#04x}: at least {min}"
                )?;
                if let Some(max) = max {
                    write!(f, " and at most {max}")?;
                }
            }
            DecodeErrorKind::InvalidUtf8 { valid_up_to } => write!(
                f,
                "text is not valid UTF-8 after its first {valid_up_to} bytes"
            )?,
            DecodeErrorKind::Truncated {
                part,
                received,
                expected,
            } => write!(
                f,
                "stream ended inside a {part:?}: {received} of {expected} bytes"
            )?,
            DecodeErrorKind::InputAfterFinish => f.write_str("input after finish()")?,
        }
        write!(
            f,
            " (stream offset {}, frame {})",
            self.offset, self.frame_index
        )
    }
}

impl core::error::Error for DecodeError {}

/// The caller asked the encoder for a frame §7 forbids; nothing was written (FC-23, FC-24).
///
/// ```
/// use framechat::{Encoder, EncodeError, Frame, Limits, Profile};
/// let mut encoder = Encoder::client(Profile::Legacy, Limits::default());
/// let mut out = Vec::new();
/// let err = encoder.encode(Frame::Ping { nonce: 1 }, &mut out).unwrap_err();
/// assert!(matches!(err, EncodeError::WrongProfile { frame: Profile::Typed, stream: Profile::Legacy }));
/// assert!(out.is_empty());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The frame belongs to the other profile.
    WrongProfile {
        /// The frame's profile.
        frame: Profile,
        /// The stream's profile.
        stream: Profile,
    },
    /// The frame's direction excludes this encoder's role (a client encoding ECHO).
    WrongDirection {
        /// The frame's type byte.
        frame_type: u8,
        /// This encoder's role.
        sender: Role,
    },
    /// The payload would exceed the configured limit.
    TooLarge {
        /// The payload length the frame needs.
        payload_len: usize,
        /// The configured limit.
        limit: u32,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::WrongProfile { frame, stream } => {
                write!(f, "a {frame:?} frame cannot be sent on a {stream:?} stream")
            }
            EncodeError::WrongDirection { frame_type, sender } => {
                write!(f, "a {sender:?} never sends frame type {frame_type:#04x}")
            }
            EncodeError::TooLarge { payload_len, limit } => {
                write!(
                    f,
                    "payload of {payload_len} bytes exceeds the limit {limit}"
                )
            }
        }
    }
}

impl core::error::Error for EncodeError {}
