//! What the hub queues for a peer: messages in neither profile, encoded by the peer's writer once
//! its profile is known (FC-27).

use std::sync::Arc;

use crate::hub::{Outbox, PeerId, Weight};
use crate::{wire, Limits, UnixMicros};

/// A peer's outbox as the hub hands it out.
pub(super) type PeerOutbox = Outbox<Outgoing>;

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
    Broadcast {
        from: PeerId,
        sent_at: UnixMicros,
        relayed_at: UnixMicros,
        text: Arc<str>,
    },
    /// The answer to a PING.
    Pong { nonce: u64 },
}

/// What a message weighs beyond its text: the larger of what its queue entry holds in memory and
/// what its typed encoding writes besides the text (header and largest fixed fields, a
/// BROADCAST's). A text shared by every recipient is weighed in each queue, so a queue's byte bound
/// (FC-29) bounds the memory the queue holds, from above.
const FIXED_WEIGHT: usize = {
    let entry = core::mem::size_of::<Outgoing>();
    let written = wire::TYPED_HEADER_LEN + wire::fixed_len::MAX as usize;
    if entry > written {
        entry
    } else {
        written
    }
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
            Outgoing::Echo { text, .. } | Outgoing::Broadcast { text, .. } => {
                FIXED_WEIGHT + text.len()
            }
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
}
