//! The envelope (§11.2): what a node publishes on the bus, as bytes.
//!
//! ```text
//!  0         1         2                  10                 18                 26
//! +---------+---------+------------------+------------------+------------------+-------------
//! | version | kind    | node: u64        | epoch: u64       | seq: u64         | body ...
//! +---------+---------+------------------+------------------+------------------+-------------
//!   0x01      0x01 message: body = one typed BROADCAST frame (§4.3), nothing after it
//!             0x02 heartbeat: no body; seq = the last message number published
//! ```
//!
//! Those bytes, for a heartbeat of node 0x0102030405060708, epoch 9, after 5 messages:
//!
//! ```
//! use framechat::cluster::{Envelope, Origin};
//! use framechat::Limits;
//! let bytes = [
//!     0x01, 0x02,
//!     0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
//!     0, 0, 0, 0, 0, 0, 0, 9,
//!     0, 0, 0, 0, 0, 0, 0, 5,
//! ];
//! let heartbeat = Envelope::decode(&bytes, Limits::default())?;
//! let origin = Origin { node: 0x0102030405060708, epoch: 9 };
//! assert_eq!(heartbeat, Envelope::Heartbeat { origin, last_seq: 5 });
//! # Ok::<(), framechat::cluster::BusDecodeError>(())
//! ```

use std::fmt;

use crate::codec::wire::{frame_type, TYPED_HEADER_LEN};
use crate::codec::{
    DecodeError, Decoded, Decoder, EncodeError, Encoder, Frame, Limits, Profile, UnixMicros,
};

/// The only envelope version (FC-38).
const VERSION: u8 = 0x01;
/// `kind` of a message envelope.
const KIND_MESSAGE: u8 = 0x01;
/// `kind` of a heartbeat envelope.
const KIND_HEARTBEAT: u8 = 0x02;
/// version, kind, node, epoch, seq.
const HEADER_LEN: usize = 1 + 1 + 8 + 8 + 8;
/// The longest envelope a node with these limits publishes: the header and a BROADCAST frame of
/// the largest payload (§11.2). A bus that carries less than this loses the largest messages.
pub(crate) fn largest_message_envelope(limits: Limits) -> usize {
    HEADER_LEN + TYPED_HEADER_LEN + limits.max_frame_len() as usize
}

/// The bits of a node id that every peer id of that node carries (FC-41).
const TAG_MASK: u64 = 0xffff_ffff_0000_0000;

/// One run of one node: its id and the epoch of this start (§11.2).
///
/// ```
/// use framechat::cluster::Origin;
/// let origin = Origin { node: 0xaaaa_bbbb_0000_0001, epoch: 1 };
/// let peer = origin.peer_id(7);
/// assert_eq!(peer, 0xaaaa_bbbb_0000_0007);
/// assert!(origin.owns_peer_id(peer));
/// assert!(!origin.owns_peer_id(7)); // a standalone server's id carries no tag
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The node's id: random per process unless configured. Its high 32 bits are its tag (FC-41).
    pub node: u64,
    /// Greater at every start of the same `node` (§11.2).
    pub epoch: u64,
}

impl Origin {
    /// The node's tag: the high 32 bits of its id, which all its peer ids carry (FC-41).
    pub fn tag(self) -> u32 {
        // The shift leaves 32 significant bits.
        (self.node >> 32) as u32
    }

    /// The peer id this node gives its `local`-th peer: its tag, then `local` (FC-41).
    pub fn peer_id(self, local: u32) -> u64 {
        (self.node & TAG_MASK) | u64::from(local)
    }

    /// Whether `peer_id` lies in this node's range, as every `from` it publishes must (FC-41).
    pub fn owns_peer_id(self, peer_id: u64) -> bool {
        peer_id & TAG_MASK == self.node & TAG_MASK
    }
}

/// A message as one node relays it to the others: the fields of a BROADCAST frame (§4.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RelayedMessage<T = String> {
    /// The sender's peer id, in its node's range (FC-41).
    pub from: u64,
    /// The sender's send time (§4.5).
    pub sent_at: UnixMicros,
    /// When the origin node relayed it (§4.5).
    pub relayed_at: UnixMicros,
    /// The message.
    pub text: T,
}

/// One publication on the bus (§11.2).
///
/// [`encode`](Envelope::encode) writes it; [`decode`](Envelope::decode) reads it back, checking
/// every rule of FC-38 to FC-41 and, for a message, every rule of §4.2 to §6 on its frame.
///
/// ```
/// use framechat::cluster::{Envelope, Origin, RelayedMessage};
/// use framechat::{Limits, UnixMicros};
/// let origin = Origin { node: 0x0000_0005_0000_0000, epoch: 2 };
/// let envelope = Envelope::Message {
///     origin,
///     seq: 1,
///     message: RelayedMessage {
///         from: origin.peer_id(1),
///         sent_at: UnixMicros(100),
///         relayed_at: UnixMicros(150),
///         text: "hi",
///     },
/// };
/// let mut bytes = Vec::new();
/// let written = envelope.encode(Limits::default(), &mut bytes)?;
/// assert_eq!(written, 26 + 5 + 24 + 2); // header, frame header, BROADCAST's fixed fields, text
/// assert_eq!(bytes[26], 0x83);          // the frame is a BROADCAST
///
/// let decoded = Envelope::decode(&bytes, Limits::default())?;
/// assert_eq!(decoded.origin(), origin);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Envelope<T = String> {
    /// `kind` 0x01: a message relayed by its origin.
    Message {
        /// Who published it.
        origin: Origin,
        /// Its number in its origin's run: 1, 2, … (FC-40).
        seq: u64,
        /// What it carries.
        message: RelayedMessage<T>,
    },
    /// `kind` 0x02: the origin is alive and has published `last_seq` messages in this run.
    Heartbeat {
        /// Who published it.
        origin: Origin,
        /// The number of the last message published in this run, 0 if none (§11.2).
        last_seq: u64,
    },
}

impl<T> Envelope<T> {
    /// Who published it.
    pub fn origin(&self) -> Origin {
        match *self {
            Envelope::Message { origin, .. } | Envelope::Heartbeat { origin, .. } => origin,
        }
    }
}

impl<T: AsRef<str>> Envelope<T> {
    /// Appends the envelope to `out` and returns the bytes written; on an error nothing is written.
    ///
    /// `limits` is the publishing node's `L`: a message is refused if its frame would exceed it,
    /// as the codec's encoder refuses it (FC-24).
    pub fn encode(&self, limits: Limits, out: &mut Vec<u8>) -> Result<usize, BusEncodeError> {
        let start = out.len();
        match self {
            Envelope::Heartbeat { origin, last_seq } => {
                write_header(out, KIND_HEARTBEAT, *origin, *last_seq);
            }
            Envelope::Message {
                origin,
                seq,
                message,
            } => {
                if *seq == 0 {
                    return Err(BusEncodeError::ZeroSequence);
                }
                if !origin.owns_peer_id(message.from) {
                    return Err(BusEncodeError::ForeignPeerId {
                        from: message.from,
                        node: origin.node,
                    });
                }
                write_header(out, KIND_MESSAGE, *origin, *seq);
                let frame = Frame::Broadcast {
                    from: message.from,
                    sent_at: message.sent_at,
                    relayed_at: message.relayed_at,
                    text: message.text.as_ref(),
                };
                if let Err(refused) = Encoder::server(Profile::Typed, limits).encode(frame, out) {
                    out.truncate(start);
                    return Err(BusEncodeError::Frame(refused));
                }
            }
        }
        Ok(out.len() - start)
    }
}

/// Appends a message envelope whose body is `frame`, a typed BROADCAST frame encoded already (a
/// server's shared relay bytes): the bytes [`Envelope::encode`] writes, without encoding the frame
/// again. The caller answers for what `encode` checks: `seq` is not 0 (FC-40), the frame's `from`
/// carries `origin`'s tag (FC-41), and `frame` is one BROADCAST frame under the node's limit.
pub(crate) fn write_message_envelope(origin: Origin, seq: u64, frame: &[u8], out: &mut Vec<u8>) {
    debug_assert_ne!(seq, 0, "FC-40: a message is numbered from 1");
    debug_assert_eq!(frame.first(), Some(&frame_type::BROADCAST));
    write_header(out, KIND_MESSAGE, origin, seq);
    out.extend_from_slice(frame);
}

fn write_header(out: &mut Vec<u8>, kind: u8, origin: Origin, seq: u64) {
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&origin.node.to_be_bytes());
    out.extend_from_slice(&origin.epoch.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
}

/// Reads the `u64` at `at`; `None` past the end.
fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(8)?)?;
    field.try_into().ok().map(u64::from_be_bytes)
}

impl Envelope<String> {
    /// Reads one envelope that fills `bytes` exactly, under the receiving node's limit `limits`.
    ///
    /// The checks run in the order of §11.2 and the first that fails is reported: the header's
    /// length, `version`, `kind` (FC-38), a message's `seq` (FC-40), its frame (FC-39), its `from`
    /// (FC-41). Any input is accepted without a panic; a malformed one is an error to count and
    /// drop (FC-42).
    ///
    /// ```
    /// use framechat::cluster::{BusDecodeError, Envelope};
    /// use framechat::Limits;
    /// let mut bytes = vec![0x01, 0x03];
    /// bytes.extend_from_slice(&[0; 24]);
    /// assert_eq!(
    ///     Envelope::decode(&bytes, Limits::default()),
    ///     Err(BusDecodeError::UnknownKind { kind: 0x03 })
    /// );
    /// assert_eq!(
    ///     Envelope::decode(&bytes[..10], Limits::default()),
    ///     Err(BusDecodeError::Short { len: 10, needed: 26 })
    /// );
    /// ```
    pub fn decode(bytes: &[u8], limits: Limits) -> Result<Envelope<String>, BusDecodeError> {
        let short = |needed| BusDecodeError::Short {
            len: bytes.len(),
            needed,
        };
        let (Some(&version), Some(&kind), Some(node), Some(epoch), Some(seq)) = (
            bytes.first(),
            bytes.get(1),
            read_u64(bytes, 2),
            read_u64(bytes, 10),
            read_u64(bytes, 18),
        ) else {
            return Err(short(HEADER_LEN));
        };
        if version != VERSION {
            return Err(BusDecodeError::UnsupportedVersion { version });
        }
        let origin = Origin { node, epoch };
        let body = &bytes[HEADER_LEN..];
        match kind {
            KIND_HEARTBEAT if body.is_empty() => Ok(Envelope::Heartbeat {
                origin,
                last_seq: seq,
            }),
            KIND_HEARTBEAT => Err(BusDecodeError::TrailingBytes { extra: body.len() }),
            KIND_MESSAGE if seq == 0 => Err(BusDecodeError::ZeroSequence),
            KIND_MESSAGE => {
                let message = decode_frame(body, limits).map_err(|error| {
                    error.unwrap_or_else(|| short(HEADER_LEN + TYPED_HEADER_LEN))
                })?;
                if !origin.owns_peer_id(message.from) {
                    return Err(BusDecodeError::ForeignPeerId {
                        from: message.from,
                        node,
                    });
                }
                Ok(Envelope::Message {
                    origin,
                    seq,
                    message,
                })
            }
            _ => Err(BusDecodeError::UnknownKind { kind }),
        }
    }
}

/// Reads a message's body: one BROADCAST frame and nothing after it (FC-39). `Err(None)` when
/// fewer bytes than a frame header follow.
fn decode_frame(body: &[u8], limits: Limits) -> Result<RelayedMessage, Option<BusDecodeError>> {
    if body.len() < TYPED_HEADER_LEN {
        return Err(None);
    }
    if body[0] != frame_type::BROADCAST {
        return Err(Some(BusDecodeError::WrongFrameType {
            frame_type: body[0],
        }));
    }
    // A client's decoder: BROADCAST is a frame a client receives, checked against `L` (FC-15).
    let mut decoder = Decoder::client(Profile::Typed, limits);
    let decoded = match decoder.decode(body) {
        Err(error) => return Err(Some(BusDecodeError::Frame(error))),
        Ok(Decoded {
            consumed,
            frame:
                Some(Frame::Broadcast {
                    from,
                    sent_at,
                    relayed_at,
                    text,
                }),
        }) => Some((
            consumed,
            RelayedMessage {
                from,
                sent_at,
                relayed_at,
                text: text.to_owned(),
            },
        )),
        // The type byte was checked above, so the decoder can give no other frame; report it as
        // the wrong type rather than trust that.
        Ok(Decoded {
            frame: Some(other), ..
        }) => {
            return Err(Some(BusDecodeError::WrongFrameType {
                frame_type: other.frame_type().unwrap_or(body[0]),
            }))
        }
        Ok(Decoded { frame: None, .. }) => None,
    };
    match decoded {
        Some((consumed, message)) if consumed == body.len() => Ok(message),
        Some((consumed, _)) => Err(Some(BusDecodeError::TrailingBytes {
            extra: body.len() - consumed,
        })),
        // The whole body was taken in and the frame is still incomplete: the end of the envelope
        // is the end of the frame's stream, and `finish` names the part that was cut (FC-21).
        None => Err(decoder.finish().err().map(BusDecodeError::Frame)),
    }
}

/// A publication received from the bus is malformed (§11.2): drop it and count it (FC-42).
///
/// The peer's fault, never the receiver's: no variant says "retry", and none ends anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusDecodeError {
    /// FC-38, FC-39: fewer bytes than the fixed header (26), or than a message's header and its
    /// frame's header (31).
    Short {
        /// The envelope's length.
        len: usize,
        /// The length it needed at least.
        needed: usize,
    },
    /// FC-38: a version other than 1.
    UnsupportedVersion {
        /// The version byte.
        version: u8,
    },
    /// FC-38: a kind neither message (1) nor heartbeat (2).
    UnknownKind {
        /// The kind byte.
        kind: u8,
    },
    /// FC-40: a message numbered 0.
    ZeroSequence,
    /// FC-39: a message whose frame is not a BROADCAST.
    WrongFrameType {
        /// The frame's type byte.
        frame_type: u8,
    },
    /// FC-39: the message's frame breaks §4.2 to §6 (too large for the receiver's `L`, a bad
    /// length, a text that is not UTF-8, cut short). Its offset counts from the frame's first
    /// byte, 26 bytes into the envelope.
    Frame(DecodeError),
    /// FC-38, FC-39: bytes after a heartbeat's header or after a message's frame.
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// FC-41: a message whose `from` is not in its origin's range of peer ids.
    ForeignPeerId {
        /// The frame's `from`.
        from: u64,
        /// The origin's node id.
        node: u64,
    },
}

impl fmt::Display for BusDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BusDecodeError::Short { len, needed } => write!(
                f,
                "bus envelope of {len} bytes, shorter than the {needed} it needs (§11.2)"
            ),
            BusDecodeError::UnsupportedVersion { version } => {
                write!(f, "bus envelope of version {version}, not 1 (FC-38)")
            }
            BusDecodeError::UnknownKind { kind } => write!(
                f,
                "bus envelope of kind {kind}, neither message (1) nor heartbeat (2) (FC-38)"
            ),
            BusDecodeError::ZeroSequence => {
                f.write_str("bus message numbered 0; numbers start at 1 (FC-40)")
            }
            BusDecodeError::WrongFrameType { frame_type } => write!(
                f,
                "bus message carries a frame of type 0x{frame_type:02x}, not BROADCAST (FC-39)"
            ),
            BusDecodeError::Frame(error) => write!(f, "bus message's frame: {error} (FC-39)"),
            BusDecodeError::TrailingBytes { extra } => {
                write!(f, "{extra} bytes after the end of a bus envelope (§11.2)")
            }
            BusDecodeError::ForeignPeerId { from, node } => write!(
                f,
                "bus message from peer {from:#018x}, outside the range of node {node:#018x} (FC-41)"
            ),
        }
    }
}

impl std::error::Error for BusDecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BusDecodeError::Frame(error) => Some(error),
            _ => None,
        }
    }
}

/// An envelope this node was asked to publish breaks §11.2: the caller's mistake, not a peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusEncodeError {
    /// FC-40: messages are numbered from 1.
    ZeroSequence,
    /// FC-41: the sender's peer id is not in this node's range.
    ForeignPeerId {
        /// The message's `from`.
        from: u64,
        /// This node's id.
        node: u64,
    },
    /// The frame is refused by the codec's encoder (too large for `L`, FC-24).
    Frame(EncodeError),
}

impl fmt::Display for BusEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BusEncodeError::ZeroSequence => {
                f.write_str("bus messages are numbered from 1, not 0 (FC-40)")
            }
            BusEncodeError::ForeignPeerId { from, node } => write!(
                f,
                "peer {from:#018x} is outside the range of node {node:#018x} (FC-41)"
            ),
            BusEncodeError::Frame(error) => write!(f, "bus message's frame: {error}"),
        }
    }
}

impl std::error::Error for BusEncodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BusEncodeError::Frame(error) => Some(error),
            _ => None,
        }
    }
}
