//! The broadcast hub: the room's registry of peers and their bounded outbound queues (§8.1, §8.4,
//! §8.5, §8.8).
//!
//! The hub is the server's one piece of shared state. It is plain synchronous code over
//! `std::sync`, with no async runtime: the server's tasks call into it. The library's own loom
//! models (`src/hub/loom_tests.rs`, built with `--cfg framechat_loom`) swap in loom's doubles and
//! explore the interleavings of those calls.
//!
//! The folder: `mod.rs` is the [`Hub`] (the registry and the relay), `outbox.rs` each peer's
//! [`Outbox`], `config.rs` the [`HubConfig`], `sync.rs` the std-or-loom lock shim that nothing
//! outside this folder names.
//!
//! ```text
//!   reader tasks                       Hub                                 writer tasks
//!                       +--------------------------------------+
//!   relay(a, echo, m) ->| registry: Mutex<                     |
//!   broadcast(m)      ->|                                      |
//!   send(b, pong)     ->|   Arc<[Outbox]> sorted by id,        |
//!   join() / leave(b) ->|   copied on every join and leave >   |
//!                       +------+---------------+---------------+
//!                              |               |
//!                       +------v------+ +------v------+
//!                       | Outbox a    | | Outbox b    |  each: Mutex<queue, counters, waker>,
//!                       | <= F frames | | <= F frames |  bounded in frames and bytes
//!                       | <= B bytes  | | <= B bytes  |
//!                       +------+------+ +------+------+
//!                              |               |
//!                              +---------------+------------------> poll_drain(cx, &mut out)
//! ```
//!
//! # How it is used
//!
//! 1. On accept, the server calls [`Hub::join`] (FC-26) and gives the returned [`Outbox`] (a
//!    handle, cheap to clone) to the connection's writer task. [`JoinError::Full`] is the connection limit of FC-31.
//! 2. The reader task calls [`Hub::relay`] for each message (FC-28) and [`Hub::send`] for a direct
//!    answer (a WELCOME, a PONG). Neither ever waits for a queue to have room (FC-29). A cluster's
//!    bus calls [`Hub::broadcast`] for each message another node relayed (§11).
//! 3. The writer task calls [`Outbox::poll_drain`] and writes what it got. When it gets
//!    [`Drain::Closed`], everything that was queued has been handed over; for
//!    [`CloseReason::SlowConsumer`] it sends ERROR SLOW_CONSUMER (the one frame that bypasses the
//!    bound, FC-29), for [`CloseReason::Shutdown`] ERROR GOING_AWAY (FC-33), then closes.
//! 4. When the connection ends, the server calls [`Hub::leave`] (idempotent).
//! 5. On shutdown, [`Hub::shutdown`] refuses joins and closes every outbox; writers drain what is
//!    queued.
//!
//! ```
//! use framechat::hub::{CloseReason, Drain, Hub, HubConfig};
//!
//! let hub: Hub<String> = Hub::new(HubConfig::default());
//! let (alice, alice_out) = hub.join()?;
//! let (bob, bob_out) = hub.join()?;
//!
//! let relayed = hub.relay(alice, "echo: hi".to_string(), "alice: hi".to_string());
//! assert_eq!((relayed.recipients, relayed.slow_consumers), (2, 0));
//!
//! let mut out = Vec::new();
//! assert_eq!(bob_out.try_drain(&mut out), Drain::Messages);
//! assert_eq!(out, ["alice: hi"]);
//! assert_eq!(alice_out.queued(), (1, "echo: hi".len()));
//!
//! hub.leave(bob);
//! assert_eq!(bob_out.try_drain(&mut out), Drain::Closed(CloseReason::Left));
//! assert!(!hub.send(bob, "too late".to_string()));
//! # Ok::<(), framechat::hub::JoinError>(())
//! ```
//!
//! # Guarantees
//!
//! Each is checked by a loom model in `src/hub/loom_tests.rs` and on threads in `tests/hub.rs`.
//!
//! - **Exactly once** (FC-28): a peer registered for the whole of a relay gets that relay's message
//!   once: `echo` if it is the sender, `others` otherwise. A [`Hub::broadcast`] is a relay with no
//!   sender: every guarantee here holds for it too.
//! - **Whole or nothing for joiners**: a relay works on the registry as it was at one instant, so a
//!   peer joining during a relay gets all of it or none of it, and every relay that starts after
//!   [`Hub::join`] returns.
//! - **Per-sender order** (FC-28): relays from one sender, called one after the other, reach every
//!   receiver in that order. Relays from different senders may interleave.
//! - **Nothing after leave**: once [`Hub::leave`] (or [`Hub::shutdown`]) has returned, nothing more is
//!   ever added to that outbox.
//! - **Bounded, never blocking** (FC-29): a message that would take a queue past its frame or byte
//!   bound is dropped for that peer only; that peer's outbox is closed as a slow consumer and it
//!   leaves the room. The relay goes on to the other peers, who lose nothing.
//! - **No lost wakeup**: a writer that got [`Poll::Pending`](std::task::Poll::Pending) is woken by
//!   the next message or close.
//! - **Accounting**: for every outbox, at every instant,
//!   `delivered + dropped + queued = offered` ([`Outbox::offered`] and friends). For the whole hub,
//!   once no call is in flight, `offered = delivered + dropped + queued + discarded` ([`HubStats`]).
//!
//! # Locks
//!
//! There are two kinds of lock: the registry's, and one per outbox. A relay holds the registry lock
//! only to clone an `Arc` of the current list of peers, then locks each outbox in turn for one push.
//! Joins and leaves copy the list (O(peers), at connection rate, not message rate). Only
//! [`Hub::leave`] and [`Hub::shutdown`] hold an outbox lock inside the registry lock (registry first,
//! always), to close it; nothing ever waits for the registry while holding an outbox. No code of the
//! caller (cloning, weighing or dropping a message, waking a waker) runs under either lock.

mod config;
mod outbox;
mod sync;

#[cfg(test)]
mod loom_tests;

#[cfg(test)]
mod tests;

use std::fmt;
use std::mem;
use std::task::Waker;

use self::outbox::Offer;
use self::sync::{lock, Arc, AtomicU64, Mutex, Ordering};

pub use self::config::{HubConfig, HubConfigError};
pub use self::outbox::{CloseReason, Drain, Outbox};

/// A peer's identity in one hub: 1 for the first peer to join, then 2, 3, ...; never reused. With a
/// [tag](HubConfig::with_peer_id_tag), the tag is the high 32 bits and the count the low 32 (FC-41).
pub type PeerId = u64;

/// How much of a queue's byte bound ([`HubConfig::max_queue_bytes`]) a message takes.
///
/// For an encoded frame this is its length on the wire. It must not change while the message is
/// queued (it is asked once per relay, before any lock is taken).
pub trait Weight {
    /// The message's size in bytes.
    fn weight(&self) -> usize;
}

impl Weight for [u8] {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weight for str {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weight for Vec<u8> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weight for String {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl<T: Weight + ?Sized> Weight for Box<T> {
    fn weight(&self) -> usize {
        (**self).weight()
    }
}

/// Shared, cheaply cloned messages: the usual way to fan one encoded frame out to many peers.
impl<T: Weight + ?Sized> Weight for std::sync::Arc<T> {
    fn weight(&self) -> usize {
        (**self).weight()
    }
}

/// Why [`Hub::join`] refused a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The room holds [`HubConfig::max_peers`] peers already (FC-31).
    Full {
        /// The limit that was reached.
        max_peers: usize,
    },
    /// [`Hub::shutdown`] was called (FC-33).
    ShuttingDown,
    /// The hub has a [peer id tag](HubConfig::with_peer_id_tag) and has handed out all 2^32 - 1
    /// ids of its range (FC-41): a new id would leave the range, and could be another node's.
    PeerIdsExhausted,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Full { max_peers } => write!(f, "the room is full ({max_peers} peers)"),
            JoinError::ShuttingDown => f.write_str("the server is shutting down"),
            JoinError::PeerIdsExhausted => f.write_str("every peer id of this node was handed out"),
        }
    }
}

impl core::error::Error for JoinError {}

/// What one [`Hub::relay`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Relayed {
    /// Peers that had the message queued (the sender's echo included).
    pub recipients: usize,
    /// Peers whose queue it did not fit: it was dropped for them, and this relay closed them as slow
    /// consumers and removed them from the room.
    pub slow_consumers: usize,
}

/// A snapshot of the hub's counters. Every counter only grows, except `peers`.
///
/// The message counters are exact once no call is in flight; during calls they may lag one another
/// (a relay adds to `offered` when it is done, a drain adds to `delivered` at once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct HubStats {
    /// Peers in the room now.
    pub peers: usize,
    /// Successful [`Hub::join`]s.
    pub joined: u64,
    /// [`Hub::join`]s refused with [`JoinError::Full`].
    pub refused_full: u64,
    /// [`Hub::join`]s refused with [`JoinError::PeerIdsExhausted`].
    pub refused_exhausted: u64,
    /// Peers removed by [`Hub::leave`] (not counting slow consumers and shutdown).
    pub left: u64,
    /// Outboxes closed as slow consumers (FC-29).
    pub slow_consumers: u64,
    /// Messages offered to peers: each relay counts once per open outbox it reached, each
    /// successful or overflowing [`Hub::send`] once.
    pub offered: u64,
    /// Messages moved out of outboxes by [`Outbox::poll_drain`] and [`Outbox::try_drain`].
    pub delivered: u64,
    /// Messages dropped because they did not fit (one per slow consumer).
    pub dropped: u64,
    /// Messages still queued in an outbox when its last handle was dropped.
    pub discarded: u64,
}

impl HubStats {
    /// Messages queued in live outboxes: `offered - delivered - dropped - discarded`.
    ///
    /// Exact when no call is in flight; tests check it against the sum of [`Outbox::queued`].
    pub fn queued(&self) -> u64 {
        self.offered
            .saturating_sub(self.delivered)
            .saturating_sub(self.dropped)
            .saturating_sub(self.discarded)
    }
}

/// The broadcast hub: which peers are in the room, and one bounded [`Outbox`] for each.
///
/// See the [module documentation](self) for the guarantees and the locking.
pub struct Hub<M> {
    config: HubConfig,
    registry: Mutex<Registry<M>>,
    counters: Arc<Counters>,
}

/// The list of peers a relay iterates: the room at one instant.
type PeerList<M> = Arc<Vec<Outbox<M>>>;

struct Registry<M> {
    /// The peers in the room, sorted by id (ids are handed out in increasing order, so a join
    /// appends). Replaced, never mutated in place: a relay iterates the list it cloned, which is
    /// the room as it was at one instant. Invariant: every outbox that was removed from this list
    /// was closed before the registry lock was released.
    peers: PeerList<M>,
    /// The id the next join gets; `None` once a tagged range is used up.
    next_peer: Option<PeerId>,
    shutting_down: bool,
    joined: u64,
    refused_full: u64,
    refused_exhausted: u64,
    left: u64,
    slow_consumers: u64,
}

impl<M> Registry<M> {
    fn find(&self, peer: PeerId) -> Option<usize> {
        self.peers.binary_search_by_key(&peer, |o| o.peer()).ok()
    }

    /// Replaces the list with `peers`, handing back the old one so that the caller drops it (and
    /// perhaps the last reference to an outbox and its messages) after unlocking.
    fn replace(&mut self, peers: Vec<Outbox<M>>) -> PeerList<M> {
        mem::replace(&mut self.peers, Arc::new(peers))
    }

    /// Removes `peers[index]`, handing back the old list and the removed outbox.
    fn remove(&mut self, index: usize) -> (PeerList<M>, Outbox<M>) {
        let removed = self.peers[index].clone();
        let rest = self
            .peers
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != index)
            .map(|(_, o)| o.clone())
            .collect();
        (self.replace(rest), removed)
    }
}

/// Counters shared by the hub and its outboxes (an outbox may outlive its hub).
struct Counters {
    offered: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    discarded: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: usize) {
        if n > 0 {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

impl<M: Clone + Weight> Hub<M> {
    /// An empty hub.
    pub fn new(config: HubConfig) -> Hub<M> {
        Hub {
            config,
            registry: Mutex::new(Registry {
                peers: Arc::new(Vec::new()),
                next_peer: Some(first_peer_id(config.peer_id_tag())),
                shutting_down: false,
                joined: 0,
                refused_full: 0,
                refused_exhausted: 0,
                left: 0,
                slow_consumers: 0,
            }),
            counters: Arc::new(Counters {
                offered: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                discarded: AtomicU64::new(0),
            }),
        }
    }

    /// Adds a peer to the room (FC-26): it gets every relay that starts after this returns.
    ///
    /// Refused when the room is full (FC-31) or after [`Hub::shutdown`].
    pub fn join(&self) -> Result<(PeerId, Outbox<M>), JoinError> {
        let mut registry = lock(&self.registry);
        if registry.shutting_down {
            return Err(JoinError::ShuttingDown);
        }
        if registry.peers.len() >= self.config.max_peers() {
            registry.refused_full += 1;
            return Err(JoinError::Full {
                max_peers: self.config.max_peers(),
            });
        }
        let Some(peer) = registry.next_peer else {
            registry.refused_exhausted += 1;
            return Err(JoinError::PeerIdsExhausted);
        };
        registry.next_peer = next_peer_id(peer, self.config.peer_id_tag());
        let outbox = Outbox::new(peer, &self.config, Arc::clone(&self.counters));
        let mut peers = Vec::with_capacity(registry.peers.len() + 1);
        peers.extend(registry.peers.iter().cloned());
        peers.push(outbox.clone());
        let old = registry.replace(peers);
        registry.joined += 1;
        drop(registry);
        drop(old);
        Ok((peer, outbox))
    }

    /// Removes `peer` from the room and closes its outbox with [`CloseReason::Left`] (unless it was
    /// closed already). Idempotent; a peer that is not in the room is ignored.
    ///
    /// Once this returns, nothing more is ever added to that outbox. What it holds stays there for
    /// the writer to drain.
    pub fn leave(&self, peer: PeerId) {
        let mut registry = lock(&self.registry);
        // A peer not in the list was never in it, or was removed with its outbox closed under this
        // lock (the registry's invariant): either way nothing can be added to it any more.
        let Some(index) = registry.find(peer) else {
            return;
        };
        let (old, outbox) = registry.remove(index);
        let waker = outbox.close(CloseReason::Left);
        registry.left += 1;
        drop(registry);
        wake(waker);
        drop(old);
    }

    /// Relays one message (FC-28): `echo` to `from` if it is in the room, `others` to every other
    /// peer in the room. Never waits for room in a queue (FC-29).
    ///
    /// A peer whose queue cannot take its message gets it dropped, is closed with
    /// [`CloseReason::SlowConsumer`] and leaves the room; the others are not affected.
    pub fn relay(&self, from: PeerId, echo: M, others: M) -> Relayed {
        self.fan_out(Some((from, echo)), others)
    }

    /// Offers `message` to every peer in the room: the entry point for a message that another node
    /// of a cluster relayed (§11), whose sender is no peer of this hub, so nobody gets an echo.
    ///
    /// The same rules as [`Hub::relay`] hold, and it is counted the same way: exactly once for each
    /// peer in the room for the whole call, in call order for one calling thread (so a bus that
    /// calls it in the order a remote sender sent keeps that sender's order, FC-28), the same bounds
    /// and slow-consumer policy (FC-29), nothing after leave.
    ///
    /// ```
    /// use framechat::hub::{Drain, Hub, HubConfig};
    ///
    /// let hub: Hub<String> = Hub::new(HubConfig::default());
    /// let (_alice, alice_out) = hub.join()?;
    /// let (_bob, bob_out) = hub.join()?;
    ///
    /// let relayed = hub.broadcast("carol@node2: hi".to_string());
    /// assert_eq!((relayed.recipients, relayed.slow_consumers), (2, 0));
    ///
    /// let mut out = Vec::new();
    /// assert_eq!(alice_out.try_drain(&mut out), Drain::Messages);
    /// assert_eq!(bob_out.try_drain(&mut out), Drain::Messages);
    /// assert_eq!(out, ["carol@node2: hi", "carol@node2: hi"]);
    /// # Ok::<(), framechat::hub::JoinError>(())
    /// ```
    pub fn broadcast(&self, message: M) -> Relayed {
        self.fan_out(None, message)
    }

    /// [`Hub::relay`] with `echo` as `(sender, echo)`, or [`Hub::broadcast`] without one.
    fn fan_out(&self, echo: Option<(PeerId, M)>, others: M) -> Relayed {
        let peers = Arc::clone(&lock(&self.registry).peers);
        let mut relayed = Relayed::default();
        let mut slow = Vec::new();
        let mut deliver =
            |outbox: &Outbox<M>, message: M, weight: usize| match outbox.offer(message, weight) {
                Offer::Queued(waker) => {
                    relayed.recipients += 1;
                    wake(waker);
                }
                Offer::Overflow(dropped, waker) => {
                    relayed.slow_consumers += 1;
                    slow.push(outbox.peer());
                    drop(dropped);
                    wake(waker);
                }
                Offer::Closed(refused) => drop(refused),
            };

        let mut sender = None;
        if let Some((from, echo)) = echo {
            match peers.binary_search_by_key(&from, |o| o.peer()) {
                Ok(index) => {
                    let weight = echo.weight();
                    deliver(&peers[index], echo, weight);
                    sender = Some(from);
                }
                Err(_) => drop(echo),
            }
        }
        let weight = others.weight();
        let mut receivers = peers.len() - usize::from(sender.is_some());
        for outbox in peers.iter().filter(|o| Some(o.peer()) != sender) {
            receivers -= 1;
            if receivers > 0 {
                deliver(outbox, others.clone(), weight);
            } else {
                // The last receiver takes the message itself: one clone fewer per relay.
                deliver(outbox, others, weight);
                break;
            }
        }
        drop(peers);

        Counters::add(
            &self.counters.offered,
            relayed.recipients + relayed.slow_consumers,
        );
        Counters::add(&self.counters.dropped, relayed.slow_consumers);
        self.remove_slow(&slow);
        relayed
    }

    /// Sends one message to one peer (a WELCOME, a PONG), under the same bound as a relay.
    ///
    /// `false` if the peer is not in the room, its outbox is closed, or the message did not fit (the
    /// peer is then a slow consumer, as in [`Hub::relay`]).
    pub fn send(&self, to: PeerId, message: M) -> bool {
        let outbox = {
            let registry = lock(&self.registry);
            match registry.find(to) {
                Some(index) => registry.peers[index].clone(),
                None => return false,
            }
        };
        let weight = message.weight();
        match outbox.offer(message, weight) {
            Offer::Queued(waker) => {
                Counters::add(&self.counters.offered, 1);
                wake(waker);
                true
            }
            Offer::Overflow(dropped, waker) => {
                drop(dropped);
                wake(waker);
                Counters::add(&self.counters.offered, 1);
                Counters::add(&self.counters.dropped, 1);
                self.remove_slow(&[to]);
                false
            }
            Offer::Closed(refused) => {
                drop(refused);
                false
            }
        }
    }

    /// Refuses every later join and closes every outbox with [`CloseReason::Shutdown`] (FC-33).
    /// Idempotent.
    ///
    /// Once this returns, nothing more is ever added to any outbox; writers still drain what their
    /// queue holds, then see [`Drain::Closed`].
    pub fn shutdown(&self) {
        let mut registry = lock(&self.registry);
        registry.shutting_down = true;
        let old = registry.replace(Vec::new());
        let wakers: Vec<Waker> = old
            .iter()
            .filter_map(|outbox| outbox.close(CloseReason::Shutdown))
            .collect();
        drop(registry);
        wakers.into_iter().for_each(Waker::wake);
        drop(old);
    }

    /// The counters now. See [`HubStats`] for when they are exact.
    pub fn stats(&self) -> HubStats {
        let (peers, joined, refused_full, refused_exhausted, left, slow_consumers) = {
            let registry = lock(&self.registry);
            (
                registry.peers.len(),
                registry.joined,
                registry.refused_full,
                registry.refused_exhausted,
                registry.left,
                registry.slow_consumers,
            )
        };
        HubStats {
            peers,
            joined,
            refused_full,
            refused_exhausted,
            left,
            slow_consumers,
            offered: self.counters.offered.load(Ordering::Relaxed),
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            discarded: self.counters.discarded.load(Ordering::Relaxed),
        }
    }

    /// The bounds this hub was built with.
    pub fn config(&self) -> HubConfig {
        self.config
    }

    /// Whether [`Hub::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        lock(&self.registry).shutting_down
    }

    /// Counts the outboxes a relay or send closed as slow consumers, and removes those still in the
    /// room (a concurrent leave or shutdown may have removed one first).
    fn remove_slow(&self, slow: &[PeerId]) {
        if slow.is_empty() {
            return;
        }
        let mut registry = lock(&self.registry);
        let mut removed = Vec::new();
        for &peer in slow {
            registry.slow_consumers += 1;
            if let Some(index) = registry.find(peer) {
                // Closed already, by the offer that overflowed: the registry's invariant holds.
                removed.push(registry.remove(index));
            }
        }
        drop(registry);
        drop(removed);
    }
}

impl<M> fmt::Debug for Hub<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registry = lock(&self.registry);
        let mut debug = f.debug_struct("Hub");
        debug
            .field("config", &self.config)
            .field("peers", &registry.peers.len());
        match registry.next_peer {
            Some(next_peer) => debug.field("next_peer", &next_peer),
            None => debug.field("next_peer", &format_args!("exhausted")),
        };
        debug
            .field("shutting_down", &registry.shutting_down)
            .finish_non_exhaustive()
    }
}

/// The first id a hub hands out: 1, in the range of `tag` if there is one (FC-41).
fn first_peer_id(tag: Option<u32>) -> PeerId {
    match tag {
        Some(tag) => u64::from(tag) << 32 | 1,
        None => 1,
    }
}

/// The id after `peer`, or `None` if there is none: in a tagged range, once the low 32 bits are all
/// used (the next id would carry another tag); untagged, after 2^64 - 1 joins, which no server lives
/// to see but which costs nothing to refuse rather than wrap.
fn next_peer_id(peer: PeerId, tag: Option<u32>) -> Option<PeerId> {
    let next = peer.checked_add(1)?;
    match tag {
        Some(tag) if next >> 32 != u64::from(tag) => None,
        _ => Some(next),
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}
