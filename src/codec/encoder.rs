//! The encoder: whole frames into a caller's buffer (§7).

use alloc::vec::Vec;

use crate::codec::error::EncodeError;
use crate::codec::frame::Frame;
use crate::codec::limits::inbound_limit;
use crate::codec::wire::{self, TypeRule, PREFACE};
use crate::codec::{Limits, Profile, Role};

/// The frame encoder of one stream.
///
/// It takes frames borrowing their text (`Frame<&str>`; an owned frame lends one with
/// [`Frame::as_ref`]) and appends whole frames to a caller-owned `Vec<u8>` and never leaves half a frame there (FC-23).
/// It checks each frame before writing: its profile, its direction and its size against the limit
/// the receiving side will apply (FC-24, FC-15), so what it writes a conforming peer accepts. A typed
/// client's encoder writes the preface before its first frame (FC-25).
///
/// ```
/// use framechat::{Encoder, Frame, Limits, Profile, UnixMicros};
/// let mut encoder = Encoder::client(Profile::Typed, Limits::default());
/// let mut out = Vec::new();
/// encoder.encode(Frame::Chat { sent_at: UnixMicros(1), text: "hi" }, &mut out)?;
/// assert_eq!(out, b"\xffFCHAT/1\r\n\x81\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x01hi");
/// # Ok::<(), framechat::EncodeError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Encoder {
    role: Role,
    profile: Profile,
    limits: Limits,
    /// True for a typed client until the preface is written.
    preface_pending: bool,
}

impl Encoder {
    /// A client's encoder of what it sends to a server in `profile`.
    pub fn client(profile: Profile, limits: Limits) -> Encoder {
        Encoder {
            role: Role::Client,
            profile,
            limits,
            preface_pending: profile == Profile::Typed,
        }
    }

    /// A server's encoder of what it sends to a client in `profile`.
    pub fn server(profile: Profile, limits: Limits) -> Encoder {
        Encoder {
            role: Role::Server,
            profile,
            limits,
            preface_pending: false,
        }
    }

    /// The stream's profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The sending side.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Writes the preface now if it is still owed (typed client); returns the bytes written.
    ///
    /// A typed client that wants to send its preface before it has a message calls this once it is
    /// connected (FC-3); otherwise the first [`encode`](Encoder::encode) writes it.
    pub fn write_preface(&mut self, out: &mut Vec<u8>) -> usize {
        if !self.preface_pending {
            return 0;
        }
        self.preface_pending = false;
        out.extend_from_slice(PREFACE);
        PREFACE.len()
    }

    /// Checks `frame`, then appends it (after the preface, if owed) to `out`; returns the bytes
    /// written. On an error nothing is written.
    // Inlined: the caller's frame then stays in registers (BENCHMARKS.md, "Codec").
    #[inline]
    pub fn encode(&mut self, frame: Frame<&str>, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        let payload_len = self.check(&frame)?;
        let header_len = match self.profile {
            Profile::Legacy => wire::LEGACY_HEADER_LEN,
            Profile::Typed => wire::TYPED_HEADER_LEN,
        };
        out.reserve(PREFACE.len() + header_len + payload_len);
        let start = out.len();
        self.write_preface(out);
        if let Some(frame_type) = frame.frame_type() {
            out.push(frame_type);
        }
        // `check` bounded the payload by a u32 limit.
        out.extend_from_slice(&(payload_len as u32).to_be_bytes());
        match frame {
            Frame::Text(text) => out.extend_from_slice(text.as_bytes()),
            Frame::Welcome {
                peer_id,
                max_frame_len,
            } => {
                out.extend_from_slice(&peer_id.to_be_bytes());
                out.extend_from_slice(&max_frame_len.to_be_bytes());
            }
            Frame::Chat { sent_at, text } => {
                out.extend_from_slice(&sent_at.0.to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            Frame::Echo {
                sent_at,
                relayed_at,
                text,
            } => {
                out.extend_from_slice(&sent_at.0.to_be_bytes());
                out.extend_from_slice(&relayed_at.0.to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            Frame::Broadcast {
                from,
                sent_at,
                relayed_at,
                text,
            } => {
                out.extend_from_slice(&from.to_be_bytes());
                out.extend_from_slice(&sent_at.0.to_be_bytes());
                out.extend_from_slice(&relayed_at.0.to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            Frame::Ping { nonce } | Frame::Pong { nonce } => {
                out.extend_from_slice(&nonce.to_be_bytes())
            }
            Frame::Error { code, reason } => {
                out.extend_from_slice(&code.0.to_be_bytes());
                out.extend_from_slice(reason.as_bytes());
            }
            Frame::Auth { scheme, token } => {
                out.push(scheme.0);
                out.extend_from_slice(token.as_bytes());
            }
        }
        Ok(out.len() - start)
    }

    /// FC-24: profile, direction, size. Returns the payload length, so `encode` computes it once.
    #[inline]
    fn check(&self, frame: &Frame<&str>) -> Result<usize, EncodeError> {
        if frame.profile() != self.profile {
            return Err(EncodeError::WrongProfile {
                frame: frame.profile(),
                stream: self.profile,
            });
        }
        let frame_type = frame.frame_type();
        // A type whose payload has a maximum (AUTH's token) is refused above it as above the
        // limit: the receiver would fail it with `BadLength` (FC-7).
        let mut type_max = u32::MAX;
        if let Some(frame_type) = frame_type {
            if let TypeRule::Known {
                direction, max_len, ..
            } = wire::type_rule(frame_type)
            {
                if !direction.reaches(self.role.peer()) {
                    return Err(EncodeError::WrongDirection {
                        frame_type,
                        sender: self.role,
                    });
                }
                type_max = max_len.unwrap_or(u32::MAX);
            }
        }
        let limit = inbound_limit(self.role.peer(), self.limits, frame_type).min(type_max);
        let payload_len = frame.payload_len();
        if payload_len > limit as usize {
            return Err(EncodeError::TooLarge { payload_len, limit });
        }
        Ok(payload_len)
    }
}
