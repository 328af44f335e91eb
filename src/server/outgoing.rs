//! What the hub queues for a peer: messages in no profile yet, written by the peer's writer in
//! its profile once that is known (FC-27). A relayed message is encoded once, in the sender's
//! profile, into a [`Relayed`] that its echo and every broadcast share: each recipient in that
//! profile writes those same bytes, and only a recipient in the other profile (or the sender, for
//! its echo) encodes its own frame.

use std::sync::Arc;

use crate::hub::{Outbox, PeerId, Weight};
use crate::{wire, EncodeError, Encoder, Frame, Limits, Profile, UnixMicros};

/// A peer's outbox as the hub hands it out.
pub(super) type PeerOutbox = Outbox<Outgoing>;

/// The prefix of a legacy relayed message from another peer (§3.1).
pub(super) const LEGACY_BROADCAST_PREFIX: &str = "peer: ";

/// The prefix of a legacy relayed message back to its sender (§3.1).
pub(super) const LEGACY_ECHO_PREFIX: &str = "echo: ";

/// One message queued for a peer, in no profile yet. Two words: the hub moves one per recipient
/// from the reader's thread to each writer's.
#[derive(Clone, Debug)]
pub(crate) enum Outgoing {
    /// The sender's own message (ECHO, or `echo: T`).
    Echo(Relayed),
    /// Another peer's message (BROADCAST, or `peer: T`).
    Broadcast(Relayed),
    /// The answer to a PING.
    Pong { nonce: u64 },
}

/// A relayed message, with the bytes of its broadcast frame in the sender's profile; cloning it
/// clones a reference count. The text is not kept apart: it is the frame's tail, so a queued
/// message holds its text once.
#[derive(Clone, Debug)]
pub(crate) struct Relayed(Arc<RelayedFrame>);

#[derive(Debug)]
struct RelayedFrame {
    from: PeerId,
    sent_at: UnixMicros,
    relayed_at: UnixMicros,
    /// The profile `bytes` is encoded in.
    profile: Profile,
    /// One whole frame: BROADCAST (typed) or `peer: T` (legacy).
    bytes: Vec<u8>,
    /// Where the text starts in `bytes`. Invariant: `bytes[text_at..]` is the text, valid UTF-8.
    text_at: usize,
}

impl Relayed {
    /// Encodes a peer's message once, as its broadcast in `profile` (the sender's: in a room of
    /// one profile, every recipient's).
    pub(crate) fn encode(
        profile: Profile,
        limits: Limits,
        from: PeerId,
        sent_at: UnixMicros,
        relayed_at: UnixMicros,
        text: &str,
    ) -> Result<Relayed, EncodeError> {
        let mut encoder = Encoder::server(profile, limits);
        let mut bytes = Vec::new();
        match profile {
            Profile::Legacy => {
                let mut line = String::with_capacity(LEGACY_BROADCAST_PREFIX.len() + text.len());
                line.push_str(LEGACY_BROADCAST_PREFIX);
                line.push_str(text);
                encoder.encode(Frame::Text(&line), &mut bytes)?;
            }
            Profile::Typed => {
                let frame = Frame::Broadcast {
                    from,
                    sent_at,
                    relayed_at,
                    text,
                };
                encoder.encode(frame, &mut bytes)?;
            }
        }
        // The encoder reserves room for a preface a server never writes: give it back, so the
        // fixed weight covers what the frame holds besides its text.
        bytes.shrink_to_fit();
        let text_at = bytes.len() - text.len();
        Ok(Relayed(Arc::new(RelayedFrame {
            from,
            sent_at,
            relayed_at,
            profile,
            bytes,
            text_at,
        })))
    }

    /// The sender.
    pub(crate) fn from(&self) -> PeerId {
        self.0.from
    }

    /// When the sender sent it (§4.5).
    pub(crate) fn sent_at(&self) -> UnixMicros {
        self.0.sent_at
    }

    /// When the server relayed it.
    pub(crate) fn relayed_at(&self) -> UnixMicros {
        self.0.relayed_at
    }

    /// The whole broadcast frame, if it is in `profile`: the bytes to write as they are.
    pub(crate) fn broadcast_in(&self, profile: Profile) -> Option<&[u8]> {
        (self.0.profile == profile).then_some(&self.0.bytes[..])
    }

    /// The message's text, for a frame encoded by its writer: an echo, or a broadcast to a
    /// recipient in the other profile.
    pub(crate) fn text(&self) -> Result<&str, core::str::Utf8Error> {
        // Checked again rather than trusted: the bytes came from a `&str`, so this never fails,
        // and it is paid once per echo and per recipient in the minority profile.
        core::str::from_utf8(self.0.bytes.get(self.0.text_at..).unwrap_or_default())
    }

    fn text_len(&self) -> usize {
        self.0.bytes.len() - self.0.text_at
    }
}

/// What a message weighs beyond its text: what its queue entry and the [`Relayed`] it may point to
/// hold in memory besides the text (the entry, the shared allocation with its two reference
/// counts, the frame's header and fixed fields), which is never less than what its typed encoding
/// writes besides the text. A message shared by every recipient is weighed in each queue, so a
/// queue's byte bound (FC-29) bounds the memory the queue holds, from above.
const FIXED_WEIGHT: usize = {
    let entry = core::mem::size_of::<Outgoing>()
        + 2 * core::mem::size_of::<usize>()
        + core::mem::size_of::<RelayedFrame>();
    let written = wire::TYPED_HEADER_LEN + wire::fixed_len::MAX as usize;
    let legacy = wire::LEGACY_HEADER_LEN + LEGACY_BROADCAST_PREFIX.len();
    let frame_header = if written > legacy { written } else { legacy };
    entry + frame_header
};

impl Relayed {
    /// What it weighs in a queue: an outbox's (FC-29) or the bus's (FC-48).
    pub(super) fn weight(&self) -> usize {
        FIXED_WEIGHT + self.text_len()
    }
}

impl Outgoing {
    /// The weight of the largest message a server with these limits relays (FC-15).
    pub(super) fn largest_weight(limits: Limits) -> usize {
        FIXED_WEIGHT + limits.max_text_len() as usize
    }
}

impl Weight for Outgoing {
    fn weight(&self) -> usize {
        match self {
            Outgoing::Echo(relayed) | Outgoing::Broadcast(relayed) => relayed.weight(),
            Outgoing::Pong { .. } => FIXED_WEIGHT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::HubConfig;

    #[test]
    fn by_default_the_byte_bound_fires_first_for_messages_of_any_size() {
        // FC-29: the frame bound is a guard; a default queue fills its 8 MiB first, even with the
        // lightest message (a PONG, or an empty text).
        let lightest = Outgoing::Pong { nonce: 0 }.weight();
        let relayed = Relayed::encode(
            Profile::Typed,
            Limits::default(),
            1,
            UnixMicros(0),
            UnixMicros(0),
            "",
        );
        let empty = Outgoing::Echo(relayed.expect("an empty text encodes"));
        assert_eq!(empty.weight(), lightest);
        assert!(
            HubConfig::DEFAULT_MAX_QUEUE_BYTES / lightest < HubConfig::DEFAULT_MAX_QUEUE_FRAMES
        );
        // And a weight is never below what the message writes besides its text.
        assert!(lightest >= wire::TYPED_HEADER_LEN + wire::fixed_len::MAX as usize);
        assert!(lightest >= core::mem::size_of::<Outgoing>());
        // What the hub moves per recipient is two words.
        assert_eq!(
            core::mem::size_of::<Outgoing>(),
            2 * core::mem::size_of::<u64>()
        );
    }

    #[test]
    fn a_broadcast_weighs_its_text_once_whatever_its_sender_profile() {
        // FC-29: the shared frame holds the text once (as its tail), and each queue weighs it.
        for profile in [Profile::Legacy, Profile::Typed] {
            let text = "hello, room";
            let limits = Limits::default();
            let frame = Relayed::encode(profile, limits, 3, UnixMicros(1), UnixMicros(2), text)
                .expect("encodes");
            assert_eq!(frame.text(), Ok(text));
            let broadcast = Outgoing::Broadcast(frame.clone());
            let echo = Outgoing::Echo(frame.clone());
            assert_eq!(broadcast.weight(), FIXED_WEIGHT + text.len());
            assert_eq!(echo.weight(), broadcast.weight());
            // Everything the message holds besides the text is inside the fixed weight.
            assert!(frame.broadcast_in(profile).is_some());
            let held = core::mem::size_of::<Outgoing>()
                + 2 * core::mem::size_of::<usize>()
                + core::mem::size_of::<RelayedFrame>()
                + (frame.0.bytes.capacity() - text.len());
            assert!(held <= FIXED_WEIGHT);
            let other = match profile {
                Profile::Legacy => Profile::Typed,
                Profile::Typed => Profile::Legacy,
            };
            assert!(frame.broadcast_in(other).is_none());
        }
    }

    #[test]
    fn a_shared_frame_is_the_frame_the_writer_would_have_encoded() {
        let limits = Limits::default();
        let shared = |profile| {
            Relayed::encode(profile, limits, 3, UnixMicros(1), UnixMicros(2), "hi")
                .expect("encodes")
        };
        let encoded = |profile, frame| {
            let mut out = Vec::new();
            Encoder::server(profile, limits)
                .encode(frame, &mut out)
                .expect("encodes");
            out
        };
        let typed = Frame::Broadcast {
            from: 3,
            sent_at: UnixMicros(1),
            relayed_at: UnixMicros(2),
            text: "hi",
        };
        assert_eq!(
            shared(Profile::Typed).broadcast_in(Profile::Typed),
            Some(&encoded(Profile::Typed, typed)[..])
        );
        assert_eq!(
            shared(Profile::Legacy).broadcast_in(Profile::Legacy),
            Some(&encoded(Profile::Legacy, Frame::Text("peer: hi"))[..])
        );
    }
}
