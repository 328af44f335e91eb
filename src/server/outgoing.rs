//! What the hub queues for a peer: messages in no profile yet, written by the peer's writer in
//! its profile once that is known (FC-27). A relayed message reaches every other peer as one
//! [`SharedFrame`], encoded once in the sender's profile: each recipient in that profile writes
//! those same bytes, and only a recipient in the other profile encodes its own copy.

use std::sync::Arc;

use crate::hub::{Outbox, PeerId, Weight};
use crate::{wire, EncodeError, Encoder, Frame, Limits, Profile, UnixMicros};

/// A peer's outbox as the hub hands it out.
pub(super) type PeerOutbox = Outbox<Outgoing>;

/// The prefix of a legacy relayed message from another peer (§3.1).
pub(super) const LEGACY_BROADCAST_PREFIX: &str = "peer: ";

/// One message queued for a peer, in no profile yet.
#[derive(Clone, Debug)]
pub(crate) enum Outgoing {
    /// The sender's own message (ECHO, or `echo: T`).
    Echo {
        sent_at: UnixMicros,
        relayed_at: UnixMicros,
        text: Arc<str>,
    },
    /// Another peer's message (BROADCAST, or `peer: T`).
    Broadcast(SharedFrame),
    /// The answer to a PING.
    Pong { nonce: u64 },
}

/// Another peer's message, with the bytes of its frame in the sender's profile, shared by every
/// recipient (cloning it clones a reference count). The text is not kept apart: it is the frame's
/// tail, so a queued broadcast holds its text once.
#[derive(Clone, Debug)]
pub(crate) struct SharedFrame {
    pub(crate) from: PeerId,
    pub(crate) sent_at: UnixMicros,
    pub(crate) relayed_at: UnixMicros,
    /// The profile `bytes` is encoded in.
    profile: Profile,
    /// One whole frame: BROADCAST (typed) or `peer: T` (legacy).
    bytes: Arc<[u8]>,
    /// Where the text starts in `bytes`. Invariant: `bytes[text_at..]` is the text, valid UTF-8.
    text_at: usize,
}

impl SharedFrame {
    /// Encodes another peer's message once, in `profile` (the sender's: in a room of one profile,
    /// every recipient's).
    pub(crate) fn encode(
        profile: Profile,
        limits: Limits,
        from: PeerId,
        sent_at: UnixMicros,
        relayed_at: UnixMicros,
        text: &str,
    ) -> Result<SharedFrame, EncodeError> {
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
        let text_at = bytes.len() - text.len();
        Ok(SharedFrame {
            from,
            sent_at,
            relayed_at,
            profile,
            bytes: bytes.into(),
            text_at,
        })
    }

    /// The whole encoded frame, if it is in `profile`: the bytes to write as they are.
    pub(crate) fn bytes_in(&self, profile: Profile) -> Option<&Arc<[u8]>> {
        (self.profile == profile).then_some(&self.bytes)
    }

    /// The message's text, for a recipient in the other profile, which encodes its own frame.
    pub(crate) fn text(&self) -> Result<&str, core::str::Utf8Error> {
        // Checked again rather than trusted: the bytes came from a `&str`, so this never fails,
        // and only a recipient in the minority profile pays for it.
        core::str::from_utf8(self.bytes.get(self.text_at..).unwrap_or_default())
    }
}

/// What a message weighs beyond its text: what its queue entry and the shared frame it may point
/// to hold in memory besides the text (the entry, the shared allocation's two reference counts,
/// the frame's header and fixed fields), and never less than what its typed encoding writes
/// besides the text. A frame shared by every recipient is weighed in each queue, so a queue's
/// byte bound (FC-29) bounds the memory the queue holds, from above.
const FIXED_WEIGHT: usize = {
    let entry = core::mem::size_of::<Outgoing>() + 2 * core::mem::size_of::<usize>();
    let written = wire::TYPED_HEADER_LEN + wire::fixed_len::MAX as usize;
    let legacy = wire::LEGACY_HEADER_LEN + LEGACY_BROADCAST_PREFIX.len();
    let frame_header = if written > legacy { written } else { legacy };
    entry + frame_header
};

impl Outgoing {
    /// The weight of the largest message a server with these limits relays (FC-15).
    pub(super) fn largest_weight(limits: Limits) -> usize {
        FIXED_WEIGHT + limits.max_text_len() as usize
    }
}

impl Weight for Outgoing {
    fn weight(&self) -> usize {
        match self {
            Outgoing::Echo { text, .. } => FIXED_WEIGHT + text.len(),
            Outgoing::Broadcast(shared) => FIXED_WEIGHT + (shared.bytes.len() - shared.text_at),
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
        let empty = Outgoing::Echo {
            sent_at: UnixMicros(0),
            relayed_at: UnixMicros(0),
            text: Arc::from(""),
        };
        assert_eq!(empty.weight(), lightest);
        assert!(
            HubConfig::DEFAULT_MAX_QUEUE_BYTES / lightest < HubConfig::DEFAULT_MAX_QUEUE_FRAMES
        );
        // And a weight is never below what the message writes besides its text.
        assert!(lightest >= wire::TYPED_HEADER_LEN + wire::fixed_len::MAX as usize);
        assert!(lightest >= core::mem::size_of::<Outgoing>());
    }

    #[test]
    fn a_broadcast_weighs_its_text_once_whatever_its_sender_profile() {
        // FC-29: the shared frame holds the text once (as its tail), and is weighed like a text.
        for profile in [Profile::Legacy, Profile::Typed] {
            let text = "hello, room";
            let limits = Limits::default();
            let frame = SharedFrame::encode(profile, limits, 3, UnixMicros(1), UnixMicros(2), text)
                .expect("encodes");
            assert_eq!(frame.text(), Ok(text));
            let message = Outgoing::Broadcast(frame.clone());
            assert_eq!(message.weight(), FIXED_WEIGHT + text.len());
            // Everything the frame holds besides the text is inside the fixed weight.
            let bytes = frame.bytes_in(profile).expect("in the sender's profile");
            assert!(bytes.len() - text.len() + 2 * core::mem::size_of::<usize>() <= FIXED_WEIGHT);
            let other = match profile {
                Profile::Legacy => Profile::Typed,
                Profile::Typed => Profile::Legacy,
            };
            assert!(frame.bytes_in(other).is_none());
        }
    }

    #[test]
    fn a_shared_frame_is_the_frame_the_writer_would_have_encoded() {
        let limits = Limits::default();
        let shared = |profile| {
            SharedFrame::encode(profile, limits, 3, UnixMicros(1), UnixMicros(2), "hi")
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
            **shared(Profile::Typed)
                .bytes_in(Profile::Typed)
                .expect("typed"),
            encoded(Profile::Typed, typed)[..]
        );
        assert_eq!(
            **shared(Profile::Legacy)
                .bytes_in(Profile::Legacy)
                .expect("legacy"),
            encoded(Profile::Legacy, Frame::Text("peer: hi"))[..]
        );
    }
}
