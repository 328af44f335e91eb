//! The cluster bus (§11), sans-IO: what a node publishes to its peers, how it reads what they
//! publish, and how it tracks order, loss and membership. Feature `cluster`.
//!
//! Several framechat nodes serve one room by relaying every message to each other over a
//! publish/subscribe bus. This module holds the part that needs no bus at all:
//!
//! - [`ClusterName`]: a validated cluster name and its subject, `framechat.<cluster>.room` (§11.1);
//!   [`Membership`]: the heartbeat interval and when a silent node is gone (§11.4).
//! - [`Envelope`]: one publication, encoded into a `Vec<u8>` and decoded from a `&[u8]` with a
//!   typed [`BusDecodeError`] (§11.2). A message's inner frame goes through the crate's own
//!   [`Decoder`](crate::Decoder), so a node checks bus input as strictly as a socket's.
//! - [`GapTracker`]: envelopes and [`Instant`](std::time::Instant)s in, a [`Verdict`] per envelope
//!   and [`MembershipChange`]s out (§11.3, §11.4). It reads no clock.
//!
//! The transport is the server's: [`ServerConfig::cluster`](crate::server::ServerConfig::cluster)
//! takes a [`ClusterConfig`], and the server runs a NATS client on a thread of its own that only
//! moves the bytes this module makes and reads, and arms the timer that
//! [`GapTracker::poll_timeout`] asks for (§11.5).
//!
//! # A node's loop, in order
//!
//! 1. At start, draw a node id (or take the configured one) and an epoch; build a
//!    [`GapTracker`] with them. Peer ids are minted with [`Origin::peer_id`] (FC-41).
//! 2. To relay a local message: number it (1, 2, …), wrap it in [`Envelope::Message`], and publish
//!    [`Envelope::encode`]'s bytes. Every heartbeat interval, publish [`Envelope::Heartbeat`] with
//!    the last number used.
//! 3. For every publication received: [`Envelope::decode`] it (a malformed one is dropped and
//!    counted, FC-42), then give it to [`GapTracker::on_envelope`] and act on the [`Verdict`]:
//!    only [`Verdict::Deliver`] reaches the room.
//! 4. When [`GapTracker::poll_timeout`]'s instant passes, call [`GapTracker::handle_timeout`];
//!    after either call, drain [`GapTracker::poll_membership`] for the log and the metrics.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use framechat::cluster::{Envelope, GapTracker, Membership, Origin, RelayedMessage, Verdict};
//! use framechat::{Limits, UnixMicros};
//!
//! let here = Origin { node: 0x0000_0001_0000_0000, epoch: 1 };
//! let there = Origin { node: 0x0000_0002_0000_0000, epoch: 7 };
//! let mut tracker = GapTracker::new(here, Membership::default());
//!
//! // the other node publishes its first message
//! let message = Envelope::Message {
//!     origin: there,
//!     seq: 1,
//!     message: RelayedMessage {
//!         from: there.peer_id(3),
//!         sent_at: UnixMicros(10),
//!         relayed_at: UnixMicros(12),
//!         text: "hi".to_string(),
//!     },
//! };
//! let mut bytes = Vec::new();
//! message.encode(Limits::default(), &mut bytes)?;
//!
//! // this node receives it
//! let received = Envelope::decode(&bytes, Limits::default())?;
//! assert_eq!(received, message);
//! let now = Instant::now();
//! assert_eq!(tracker.on_envelope(&received, now), Verdict::Deliver { gap: 0 });
//! assert_eq!(tracker.alive_count(), 1);
//!
//! // its own publications come back from the bus and are ignored (FC-43)
//! let own = Envelope::<String>::Heartbeat { origin: here, last_seq: 0 };
//! assert_eq!(tracker.on_envelope(&own, now), Verdict::Own);
//!
//! // no heartbeat for 3 intervals: gone (FC-47)
//! tracker.handle_timeout(now + Duration::from_secs(3));
//! assert_eq!(tracker.alive_count(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod envelope;
mod tracker;

pub use config::{ClusterConfig, ClusterConfigError, ClusterName, Membership};
pub(crate) use envelope::{largest_message_envelope, write_message_envelope};
pub use envelope::{BusDecodeError, BusEncodeError, Envelope, Origin, RelayedMessage};
pub use tracker::{GapTracker, MembershipChange, TrackerStats, Verdict};
