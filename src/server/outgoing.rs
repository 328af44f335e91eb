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

/// What a message weighs beyond its text: the typed encoding's header and its largest fixed fields
/// (a BROADCAST's), so a queue's byte bound is close to the bytes it will write.
const FIXED_WEIGHT: usize = wire::TYPED_HEADER_LEN + wire::fixed_len::MAX as usize;

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
