//! The one error of the I/O adapters, re-exported as `framechat::io::Error`,
//! `framechat::futures::Error` and `framechat::tokio::Error`.

use std::fmt;
use std::io;

use crate::{DecodeError, EncodeError};

/// The error of every I/O adapter: the transport's, or the codec's, kept typed.
///
/// Reading yields [`Io`](Error::Io) or [`Decode`](Error::Decode); writing yields
/// [`Io`](Error::Io) or [`Encode`](Error::Encode). The codec's error is returned by
/// [`source`](std::error::Error::source) and can be matched directly:
///
/// ```
/// use framechat::io::{Error, FrameReader};
/// use framechat::{DecodeErrorKind, Decoder, Limits, Part, Profile};
///
/// // A legacy stream cut inside a payload: 5 bytes declared, 3 sent.
/// let stream: &[u8] = b"\x00\x00\x00\x05abc";
/// let mut reader = FrameReader::new(stream, Decoder::client(Profile::Legacy, Limits::default()));
/// match reader.read_frame() {
///     Err(Error::Decode(err)) => {
///         assert_eq!(err.kind, DecodeErrorKind::Truncated { part: Part::Payload, received: 3, expected: 5 });
///         assert_eq!(err.offset, 7);
///     }
///     other => panic!("FC-21: expected Truncated, got {other:?}"),
/// }
/// ```
///
/// `Display` names the layer only and the source says what happened, so a program that prints
/// the chain behind its own prefix prints each part once:
///
/// ```
/// use std::error::Error as _;
/// use framechat::{EncodeError, Profile};
///
/// let err = framechat::io::Error::from(EncodeError::WrongProfile { frame: Profile::Typed, stream: Profile::Legacy });
/// assert_eq!(err.to_string(), "frame refused by the encoder");
/// let cause = err.source().map(ToString::to_string);
/// assert_eq!(cause.as_deref(), Some("a Typed frame cannot be sent on a Legacy stream"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
    /// The peer sent a stream §3–§6 forbid, or cut it inside a frame. Terminal (FC-19).
    Decode(DecodeError),
    /// The caller asked for a frame §7 forbids; nothing was written (FC-23).
    Encode(EncodeError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Io(_) => "transport I/O failed",
            Error::Decode(_) => "peer sent an invalid stream",
            Error::Encode(_) => "frame refused by the encoder",
        })
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(err) => Some(err),
            Error::Decode(err) => Some(err),
            Error::Encode(err) => Some(err),
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Error {
        Error::Io(err)
    }
}

impl From<DecodeError> for Error {
    fn from(err: DecodeError) -> Error {
        Error::Decode(err)
    }
}

impl From<EncodeError> for Error {
    fn from(err: EncodeError) -> Error {
        Error::Encode(err)
    }
}

/// For callers whose signatures speak `io::Error`: the transport's error is returned as is, a
/// decode error becomes [`InvalidData`](io::ErrorKind::InvalidData) and an encode error
/// [`InvalidInput`](io::ErrorKind::InvalidInput), each still reachable by
/// [`io::Error::get_ref`] and `downcast_ref`.
impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Io(err) => err,
            Error::Decode(err) => io::Error::new(io::ErrorKind::InvalidData, err),
            Error::Encode(err) => io::Error::new(io::ErrorKind::InvalidInput, err),
        }
    }
}
