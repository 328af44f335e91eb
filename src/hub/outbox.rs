//! One peer's bounded outbound queue ([`Outbox`]), what a drain of it finds ([`Drain`]) and why it
//! was closed ([`CloseReason`]).
//!
//! An [`Outbox`] is a handle: the hub keeps one in its registry, [`Hub::join`] hands one to the
//! server, and each clone is the same queue. The queue itself lives behind the lock shim's `Arc`
//! (std's, or loom's in the model checks), which no caller ever names.
//!
//! [`Hub::join`]: super::Hub::join

use std::fmt;
use std::mem;
use std::task::{Context, Poll, Waker};

use super::sync::{lock, Arc, Mutex};
use super::{Counters, HubConfig, PeerId};

/// Why an outbox was closed. The first reason sticks: closing a closed outbox changes nothing.
///
/// ```
/// use framechat::hub::{CloseReason, Drain, Hub, HubConfig};
///
/// let hub: Hub<String> = Hub::new(HubConfig::default());
/// let (peer, outbox) = hub.join()?;
/// hub.leave(peer);
/// hub.shutdown(); // too late: the outbox was closed by `leave` already
/// assert_eq!(outbox.close_reason(), Some(CloseReason::Left));
/// assert_eq!(outbox.try_drain(&mut Vec::new()), Drain::Closed(CloseReason::Left));
/// # Ok::<(), framechat::hub::JoinError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// [`Hub::leave`](super::Hub::leave): the connection ended.
    Left,
    /// A message did not fit in the queue (FC-29): the writer sends ERROR SLOW_CONSUMER after what
    /// is queued.
    SlowConsumer,
    /// [`Hub::shutdown`](super::Hub::shutdown) (FC-33): the writer sends ERROR GOING_AWAY after what
    /// is queued.
    Shutdown,
}

/// What a drain of an [`Outbox`] found.
///
/// ```
/// use framechat::hub::{CloseReason, Drain, Hub, HubConfig};
///
/// let hub: Hub<String> = Hub::new(HubConfig::default());
/// let (peer, outbox) = hub.join()?;
/// let mut out = Vec::new();
/// assert_eq!(outbox.try_drain(&mut out), Drain::Empty);
/// assert!(hub.send(peer, "pong".to_string()));
/// hub.shutdown();
/// // What was queued before the close comes first, then the close.
/// assert_eq!(outbox.try_drain(&mut out), Drain::Messages);
/// assert_eq!(outbox.try_drain(&mut out), Drain::Closed(CloseReason::Shutdown));
/// assert_eq!(out, ["pong"]);
/// # Ok::<(), framechat::hub::JoinError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Drain {
    /// At least one message was moved out. The outbox may be closed too: drain again to learn it.
    Messages,
    /// Open and empty ([`Outbox::try_drain`] only; [`Outbox::poll_drain`] returns `Pending`).
    Empty,
    /// Closed and empty: nothing will ever be added again.
    Closed(CloseReason),
}

/// A handle on one peer's outbound queue, bounded in frames and bytes, drained by its writer.
///
/// Obtained from [`Hub::join`](super::Hub::join). Cloning the handle is cheap (a reference count)
/// and every clone is the same queue, so the server can give one to the connection's writer task.
/// The writer calls [`Outbox::poll_drain`] (or [`Outbox::try_drain`]) to move the queued messages
/// out, in the order they were added. When the last handle is dropped (the hub drops its own when
/// the peer leaves the room), what the queue still held is counted as
/// [`HubStats::discarded`](super::HubStats::discarded).
///
/// Invariant, at every instant: `delivered() + dropped() + queued().0 == offered()`.
///
/// ```
/// use std::future::poll_fn;
/// use std::thread;
///
/// use framechat::hub::{Drain, Hub, HubConfig};
/// use futures_lite::future::block_on;
///
/// let hub: Hub<String> = Hub::new(HubConfig::default());
/// let (alice, _) = hub.join()?;
/// let (bob, bob_out) = hub.join()?;
///
/// // The writer owns a clone; the reader side keeps relaying through the hub.
/// let writer = thread::spawn({
///     let bob_out = bob_out.clone();
///     move || {
///         let mut batch = Vec::new();
///         // Any executor can poll it; the server's is async-std.
///         let mut next = || block_on(poll_fn(|cx| bob_out.poll_drain(cx, &mut batch)));
///         while next() == Drain::Messages {}
///         batch
///     }
/// });
/// hub.relay(alice, "echo: hi".to_string(), "alice: hi".to_string());
/// hub.leave(bob);
/// assert_eq!(writer.join().expect("the writer does not panic"), ["alice: hi"]);
/// assert_eq!((bob_out.peer(), bob_out.delivered()), (bob, 1));
/// # Ok::<(), framechat::hub::JoinError>(())
/// ```
pub struct Outbox<M> {
    shared: Arc<Shared<M>>,
}

/// The queue behind every handle of one outbox.
struct Shared<M> {
    peer: PeerId,
    max_frames: usize,
    max_bytes: usize,
    queue: Mutex<Queue<M>>,
    counters: Arc<Counters>,
}

struct Queue<M> {
    /// Invariant: `messages.len() <= max_frames`.
    messages: Vec<M>,
    /// Sum of the weights of `messages`. Invariant: `bytes <= max_bytes`.
    bytes: usize,
    /// Invariant: `delivered + dropped + messages.len() == offered`.
    offered: u64,
    delivered: u64,
    dropped: u64,
    /// `Some` once closed; never changes after that, and nothing is added after that.
    closed: Option<CloseReason>,
    /// The writer's waker, registered by a `poll_drain` that found the outbox open and empty, taken
    /// by the next push or close.
    waker: Option<Waker>,
}

/// What [`Outbox::offer`] did with a message.
pub(super) enum Offer<M> {
    /// Queued; wake this waker (after unlocking).
    Queued(Option<Waker>),
    /// Did not fit: dropped (the message is handed back to be dropped after unlocking) and the
    /// outbox closed as a slow consumer.
    Overflow(M, Option<Waker>),
    /// The outbox was closed already: the message was not offered and is handed back.
    Closed(M),
}

impl<M> Outbox<M> {
    pub(super) fn new(peer: PeerId, config: &HubConfig, counters: Arc<Counters>) -> Outbox<M> {
        Outbox {
            shared: Arc::new(Shared {
                peer,
                max_frames: config.max_queue_frames(),
                max_bytes: config.max_queue_bytes(),
                queue: Mutex::new(Queue {
                    messages: Vec::new(),
                    bytes: 0,
                    offered: 0,
                    delivered: 0,
                    dropped: 0,
                    closed: None,
                    waker: None,
                }),
                counters,
            }),
        }
    }

    /// Adds one message if it fits; otherwise drops it and closes the outbox as a slow consumer.
    pub(super) fn offer(&self, message: M, weight: usize) -> Offer<M> {
        let shared = &*self.shared;
        let mut queue = lock(&shared.queue);
        if queue.closed.is_some() {
            return Offer::Closed(message);
        }
        // `queue.bytes <= max_bytes` always, so the subtraction cannot wrap.
        if queue.messages.len() < shared.max_frames && weight <= shared.max_bytes - queue.bytes {
            queue.messages.push(message);
            queue.bytes += weight;
            queue.offered += 1;
            Offer::Queued(queue.waker.take())
        } else {
            queue.offered += 1;
            queue.dropped += 1;
            queue.closed = Some(CloseReason::SlowConsumer);
            Offer::Overflow(message, queue.waker.take())
        }
    }

    /// Closes the outbox unless it is closed already; hands back the waker to wake after unlocking.
    pub(super) fn close(&self, reason: CloseReason) -> Option<Waker> {
        let mut queue = lock(&self.shared.queue);
        if queue.closed.is_some() {
            return None;
        }
        queue.closed = Some(reason);
        queue.waker.take()
    }

    /// The peer this outbox belongs to.
    pub fn peer(&self) -> PeerId {
        self.shared.peer
    }

    /// Moves every queued message into `out` (appended, oldest first).
    ///
    /// - `Ready(Drain::Messages)` if it moved at least one;
    /// - `Ready(Drain::Closed(reason))` once the outbox is closed and empty;
    /// - `Pending` when it is open and empty: the waker of `cx` is registered, and the next message
    ///   or close wakes it. A wakeup is never lost, however the calls interleave.
    ///
    /// Never returns `Ready(Drain::Empty)`. The example on [`Outbox`] drives it from a thread.
    pub fn poll_drain(&self, cx: &mut Context<'_>, out: &mut Vec<M>) -> Poll<Drain> {
        let mut queue = lock(&self.shared.queue);
        if let Some(drain) = self.drain_locked(&mut queue, out) {
            return Poll::Ready(drain);
        }
        if queue
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            // This task is registered already, and the next push or close will wake it.
            return Poll::Pending;
        }
        drop(queue);
        // Clone the waker outside the lock, then look again before registering it: what arrived
        // meanwhile (and woke an older waker, or none) is taken now instead.
        let waker = cx.waker().clone();
        queue = lock(&self.shared.queue);
        if let Some(drain) = self.drain_locked(&mut queue, out) {
            drop(waker);
            return Poll::Ready(drain);
        }
        let old = queue.waker.replace(waker);
        drop(queue);
        drop(old);
        Poll::Pending
    }

    /// Moves every queued message into `out` (appended, oldest first), without registering a waker.
    pub fn try_drain(&self, out: &mut Vec<M>) -> Drain {
        let mut queue = lock(&self.shared.queue);
        self.drain_locked(&mut queue, out).unwrap_or(Drain::Empty)
    }

    /// Drains `queue` (locked by the caller) into `out`; `None` if it is open and empty.
    fn drain_locked(&self, queue: &mut Queue<M>, out: &mut Vec<M>) -> Option<Drain> {
        let moved = queue.messages.len();
        if moved == 0 {
            return queue.closed.map(Drain::Closed);
        }
        if out.is_empty() {
            // Hand over the whole buffer and keep the caller's empty one: no copy.
            mem::swap(out, &mut queue.messages);
        } else {
            out.append(&mut queue.messages);
        }
        queue.bytes = 0;
        queue.delivered += moved as u64;
        Counters::add(&self.shared.counters.delivered, moved);
        Some(Drain::Messages)
    }

    /// `(messages, bytes)` queued now.
    pub fn queued(&self) -> (usize, usize) {
        let queue = lock(&self.shared.queue);
        (queue.messages.len(), queue.bytes)
    }

    /// Messages offered to this peer: queued, or dropped for not fitting.
    pub fn offered(&self) -> u64 {
        lock(&self.shared.queue).offered
    }

    /// Messages moved out by the drains.
    pub fn delivered(&self) -> u64 {
        lock(&self.shared.queue).delivered
    }

    /// Messages dropped for not fitting (0 or 1: the first one closes the outbox).
    pub fn dropped(&self) -> u64 {
        lock(&self.shared.queue).dropped
    }

    /// `(offered, delivered, dropped, queued messages)`, read at one instant.
    pub fn accounting(&self) -> (u64, u64, u64, usize) {
        let queue = lock(&self.shared.queue);
        (
            queue.offered,
            queue.delivered,
            queue.dropped,
            queue.messages.len(),
        )
    }

    /// Why the outbox was closed, or `None` while it is open.
    pub fn close_reason(&self) -> Option<CloseReason> {
        lock(&self.shared.queue).closed
    }
}

/// Another handle on the same queue; `M` need not be `Clone`.
impl<M> Clone for Outbox<M> {
    fn clone(&self) -> Self {
        Outbox {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<M> fmt::Debug for Outbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queue = lock(&self.shared.queue);
        f.debug_struct("Outbox")
            .field("peer", &self.shared.peer)
            .field("queued", &queue.messages.len())
            .field("bytes", &queue.bytes)
            .field("offered", &queue.offered)
            .field("delivered", &queue.delivered)
            .field("dropped", &queue.dropped)
            .field("closed", &queue.closed)
            .finish_non_exhaustive()
    }
}

/// Runs once, when the last handle goes.
impl<M> Drop for Shared<M> {
    fn drop(&mut self) {
        let queue = self
            .queue
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Counters::add(&self.counters.discarded, queue.messages.len());
    }
}
