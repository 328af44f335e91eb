//! The sans-IO tracker of what a node hears on the bus (§11.3, §11.4).
//!
//! # Theory of operation
//!
//! Per node id heard, the tracker keeps the newest epoch, the highest message number of that
//! epoch accounted for (delivered, or counted as lost), when the node was last heard and whether
//! it is alive. Because the bus keeps one publisher's order, a number above `highest + 1` means
//! the ones between were lost, a number at or below `highest` is a duplicate or arrived too late,
//! and a heartbeat's `last_seq` above `highest` means the tail was lost. Time only moves membership,
//! and it is always an argument: the tracker reads no clock.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use super::config::Membership;
use super::envelope::{Envelope, Origin};

/// What to do with one envelope (§11.3). Only [`Deliver`](Verdict::Deliver) reaches the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Hand the message to the room. `gap` messages of its origin were lost just before it
    /// (FC-44): 0 normally; log it and count it when it is not.
    Deliver {
        /// How many messages were skipped before this one.
        gap: u64,
    },
    /// A heartbeat; `lost_tail` messages it announces never arrived (FC-45): log and count them
    /// when not 0.
    Heartbeat {
        /// How many announced messages never arrived.
        lost_tail: u64,
    },
    /// A message already accounted for, delivered or counted lost (FC-44): dropped.
    Duplicate,
    /// An envelope of an older run of its node (FC-46): dropped.
    StaleEpoch,
    /// This node's own publication, back from the bus (FC-43): ignored.
    Own,
    /// Another process with this node's id, another epoch (FC-43): dropped; a configuration
    /// error to log.
    NodeIdClash,
}

/// A change in who is alive on the bus (§11.4), for the log and the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MembershipChange {
    /// A node heard for the first time, or again after it was forgotten: the baseline (FC-44).
    Joined {
        /// The node's run.
        origin: Origin,
    },
    /// A node that was gone is heard again in the same run; what it published meanwhile is
    /// counted as loss (FC-47).
    Returned {
        /// The node's run.
        origin: Origin,
    },
    /// A node is heard in a newer run: it restarted, and its tracking starts afresh (FC-46).
    Restarted {
        /// The node's id.
        node: u64,
        /// The run that ended.
        previous_epoch: u64,
        /// The run that started.
        epoch: u64,
    },
    /// A node was silent for [`Membership::gone_after`] (FC-47).
    Gone {
        /// The node's last run heard.
        origin: Origin,
    },
    /// A node other than this one carries this node's tag, so their peer ids may collide
    /// (FC-41): a configuration error to log.
    TagClash {
        /// The other node's run.
        origin: Origin,
    },
}

/// The counters of [`GapTracker`], for the metrics. Each only grows (saturating).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackerStats {
    /// Messages given [`Verdict::Deliver`].
    pub delivered: u64,
    /// Messages found missing by gaps (FC-44).
    pub gap_messages: u64,
    /// Messages found missing by heartbeats (FC-45).
    pub lost_tail_messages: u64,
    /// Messages dropped as [`Verdict::Duplicate`].
    pub duplicates: u64,
    /// Envelopes dropped as [`Verdict::StaleEpoch`].
    pub stale_epoch: u64,
    /// Envelopes dropped as [`Verdict::NodeIdClash`].
    pub node_id_clashes: u64,
    /// Malformed envelopes, as told by [`GapTracker::on_malformed`] (FC-42).
    pub malformed: u64,
}

impl TrackerStats {
    /// Every message known lost: gaps and lost tails.
    pub fn lost(&self) -> u64 {
        self.gap_messages.saturating_add(self.lost_tail_messages)
    }
}

/// What the tracker knows of one node id.
#[derive(Clone, Copy, Debug)]
struct Node {
    epoch: u64,
    /// The highest message number of `epoch` accounted for (delivered or counted lost).
    highest: u64,
    last_heard: Instant,
    alive: bool,
}

/// Tracks order, loss and membership of everything a node hears on the bus (§11.3, §11.4).
///
/// # Driving it
///
/// 1. Build it with this node's own [`Origin`] and its [`Membership`] clock.
/// 2. For each envelope decoded, call [`on_envelope`](GapTracker::on_envelope) with the instant it
///    arrived and act on the [`Verdict`]; for each malformed one, call
///    [`on_malformed`](GapTracker::on_malformed).
/// 3. Arm a timer for [`poll_timeout`](GapTracker::poll_timeout); when it fires, call
///    [`handle_timeout`](GapTracker::handle_timeout).
/// 4. After steps 2 and 3, drain [`poll_membership`](GapTracker::poll_membership).
///
/// ```
/// use std::time::Instant;
/// use framechat::cluster::{Envelope, GapTracker, Membership, Origin, RelayedMessage, Verdict};
/// use framechat::UnixMicros;
///
/// let me = Origin { node: 1 << 32, epoch: 1 };
/// let other = Origin { node: 2 << 32, epoch: 1 };
/// let message = |seq| Envelope::Message {
///     origin: other,
///     seq,
///     message: RelayedMessage { from: other.peer_id(1), sent_at: UnixMicros(0),
///                               relayed_at: UnixMicros(0), text: "m" },
/// };
/// let mut tracker = GapTracker::new(me, Membership::default());
/// let now = Instant::now();
/// assert_eq!(tracker.on_envelope(&Envelope::<&str>::Heartbeat { origin: other, last_seq: 0 }, now),
///            Verdict::Heartbeat { lost_tail: 0 });
/// assert_eq!(tracker.on_envelope(&message(1), now), Verdict::Deliver { gap: 0 });
/// assert_eq!(tracker.on_envelope(&message(4), now), Verdict::Deliver { gap: 2 }); // 2 and 3 lost
/// assert_eq!(tracker.on_envelope(&message(3), now), Verdict::Duplicate);          // too late
/// assert_eq!(tracker.on_envelope(&Envelope::<&str>::Heartbeat { origin: other, last_seq: 6 }, now),
///            Verdict::Heartbeat { lost_tail: 2 });                                  // 5 and 6 lost
/// assert_eq!(tracker.stats().lost(), 4);
/// ```
#[derive(Debug)]
pub struct GapTracker {
    me: Origin,
    membership: Membership,
    /// Keyed by node id; a `BTreeMap` so membership changes come out in a stable order.
    nodes: BTreeMap<u64, Node>,
    changes: VecDeque<MembershipChange>,
    stats: TrackerStats,
}

impl GapTracker {
    /// A tracker for the node `me`, with `membership`'s clock.
    pub fn new(me: Origin, membership: Membership) -> GapTracker {
        GapTracker {
            me,
            membership,
            nodes: BTreeMap::new(),
            changes: VecDeque::new(),
            stats: TrackerStats::default(),
        }
    }

    /// Accounts for one envelope received at `now`, and says what to do with it (§11.3).
    pub fn on_envelope<T>(&mut self, envelope: &Envelope<T>, now: Instant) -> Verdict {
        let origin = envelope.origin();
        if origin.node == self.me.node {
            if origin.epoch == self.me.epoch {
                return Verdict::Own;
            }
            self.stats.node_id_clashes = self.stats.node_id_clashes.saturating_add(1);
            return Verdict::NodeIdClash;
        }
        let node = match self.nodes.get_mut(&origin.node) {
            None => {
                // First contact (FC-44): whatever it published before is no loss of ours.
                let highest = match *envelope {
                    Envelope::Message { seq, .. } => seq.saturating_sub(1),
                    Envelope::Heartbeat { last_seq, .. } => last_seq,
                };
                self.changes.push_back(MembershipChange::Joined { origin });
                if origin.tag() == self.me.tag() {
                    self.changes
                        .push_back(MembershipChange::TagClash { origin });
                }
                self.nodes.entry(origin.node).or_insert(Node {
                    epoch: origin.epoch,
                    highest,
                    last_heard: now,
                    alive: true,
                })
            }
            Some(node) if origin.epoch < node.epoch => {
                self.stats.stale_epoch = self.stats.stale_epoch.saturating_add(1);
                return Verdict::StaleEpoch;
            }
            Some(node) => {
                if origin.epoch > node.epoch {
                    // A new run numbers from 1 (FC-46).
                    self.changes.push_back(MembershipChange::Restarted {
                        node: origin.node,
                        previous_epoch: node.epoch,
                        epoch: origin.epoch,
                    });
                    node.epoch = origin.epoch;
                    node.highest = 0;
                    node.alive = true;
                } else if !node.alive {
                    self.changes
                        .push_back(MembershipChange::Returned { origin });
                    node.alive = true;
                }
                node.last_heard = now;
                node
            }
        };
        match *envelope {
            Envelope::Message { seq, .. } if seq <= node.highest => {
                self.stats.duplicates = self.stats.duplicates.saturating_add(1);
                Verdict::Duplicate
            }
            Envelope::Message { seq, .. } => {
                // `seq > highest`, so this neither overflows nor underflows.
                let gap = seq - node.highest - 1;
                node.highest = seq;
                self.stats.gap_messages = self.stats.gap_messages.saturating_add(gap);
                self.stats.delivered = self.stats.delivered.saturating_add(1);
                Verdict::Deliver { gap }
            }
            Envelope::Heartbeat { last_seq, .. } => {
                let lost_tail = last_seq.saturating_sub(node.highest);
                node.highest = node.highest.max(last_seq);
                self.stats.lost_tail_messages =
                    self.stats.lost_tail_messages.saturating_add(lost_tail);
                Verdict::Heartbeat { lost_tail }
            }
        }
    }

    /// Counts a malformed envelope (FC-42). The tracker learns nothing else from it: its header is
    /// not trusted, so the message it may have been shows up as a gap.
    pub fn on_malformed(&mut self) {
        self.stats.malformed = self.stats.malformed.saturating_add(1);
    }

    /// Marks as gone every node silent for [`Membership::gone_after`] at `now`, and forgets every
    /// node silent for [`Membership::forget_after`] (FC-47). Call it when
    /// [`poll_timeout`](GapTracker::poll_timeout)'s instant has passed; calling it earlier or more
    /// often is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let (gone_after, forget_after) =
            (self.membership.gone_after(), self.membership.forget_after());
        for (&id, node) in self.nodes.iter_mut() {
            if node.alive && now.saturating_duration_since(node.last_heard) >= gone_after {
                node.alive = false;
                self.changes.push_back(MembershipChange::Gone {
                    origin: Origin {
                        node: id,
                        epoch: node.epoch,
                    },
                });
            }
        }
        self.nodes
            .retain(|_, node| now.saturating_duration_since(node.last_heard) < forget_after);
    }

    /// The next instant at which [`handle_timeout`](GapTracker::handle_timeout) has something to
    /// do, or `None` while no node is tracked.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.nodes
            .values()
            .filter_map(|node| {
                let silence = if node.alive {
                    self.membership.gone_after()
                } else {
                    self.membership.forget_after()
                };
                node.last_heard.checked_add(silence)
            })
            .min()
    }

    /// The next membership change not yet taken, oldest first.
    pub fn poll_membership(&mut self) -> Option<MembershipChange> {
        self.changes.pop_front()
    }

    /// How many other nodes are alive (FC-47).
    pub fn alive_count(&self) -> usize {
        self.nodes.values().filter(|node| node.alive).count()
    }

    /// The runs of the other nodes alive, by node id.
    pub fn alive(&self) -> impl Iterator<Item = Origin> + '_ {
        self.nodes
            .iter()
            .filter(|(_, node)| node.alive)
            .map(|(&id, node)| Origin {
                node: id,
                epoch: node.epoch,
            })
    }

    /// The counters so far.
    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    /// This node's own run.
    pub fn me(&self) -> Origin {
        self.me
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
