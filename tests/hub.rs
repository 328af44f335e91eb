//! The broadcast hub without sockets: each rule of §8.1, §8.4, §8.5 and §8.8 it carries, then
//! stress on std threads with exact accounting.
#![cfg(feature = "hub")]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use framechat::hub::{
    CloseReason, Drain, Hub, HubConfig, HubConfigError, JoinError, Outbox, PeerId, Relayed, Weight,
};

/// A relayed message: its sender, its number in the sender's sequence, its form, its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Msg {
    from: PeerId,
    seq: u32,
    echo: bool,
    weight: usize,
}

impl Weight for Msg {
    fn weight(&self) -> usize {
        self.weight
    }
}

const WEIGHT: usize = 16;

fn msg(from: PeerId, seq: u32, echo: bool) -> Msg {
    Msg {
        from,
        seq,
        echo,
        weight: WEIGHT,
    }
}

fn relay(hub: &Hub<Msg>, from: PeerId, seq: u32) -> Relayed {
    hub.relay(from, msg(from, seq, true), msg(from, seq, false))
}

fn hub(max_peers: usize, max_queue_frames: usize, max_queue_bytes: usize) -> Hub<Msg> {
    Hub::new(HubConfig::new(max_peers, max_queue_frames, max_queue_bytes).expect("non-zero bounds"))
}

fn join(hub: &Hub<Msg>) -> (PeerId, Outbox<Msg>) {
    hub.join()
        .expect("the room has space and is not shutting down")
}

fn drained(outbox: &Outbox<Msg>) -> Vec<Msg> {
    let mut out = Vec::new();
    let _ = outbox.try_drain(&mut out);
    out
}

/// (seq, echo) of the messages from `sender`, in arrival order.
fn from_sender(got: &[Msg], sender: PeerId) -> Vec<(u32, bool)> {
    got.iter()
        .filter(|m| m.from == sender)
        .map(|m| (m.seq, m.echo))
        .collect()
}

/// §8.5: delivered + dropped + queued = offered, read at one instant.
fn assert_accounting(outbox: &Outbox<Msg>) {
    let (offered, delivered, dropped, queued) = outbox.accounting();
    assert_eq!(
        delivered + dropped + queued as u64,
        offered,
        "peer {}: delivered {delivered} + dropped {dropped} + queued {queued} != offered {offered}",
        outbox.peer()
    );
    assert_eq!(outbox.queued().0, queued);
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&counter));
    (counter, waker)
}

fn poll(outbox: &Outbox<Msg>, waker: &Waker, out: &mut Vec<Msg>) -> Poll<Drain> {
    outbox.poll_drain(&mut Context::from_waker(waker), out)
}

#[test]
fn hub_types_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Hub<Msg>>();
    shared::<Outbox<Msg>>();
    shared::<Hub<Arc<[u8]>>>();
}

// ---- configuration -------------------------------------------------------------------------

#[test]
fn hub_config_refuses_a_zero_bound_and_names_it() {
    // FC-29, FC-31: bounds are validated when the config is built, not at use.
    assert_eq!(HubConfig::new(0, 1, 1), Err(HubConfigError::ZeroMaxPeers));
    assert_eq!(
        HubConfig::new(1, 0, 1),
        Err(HubConfigError::ZeroMaxQueueFrames)
    );
    assert_eq!(
        HubConfig::new(1, 1, 0),
        Err(HubConfigError::ZeroMaxQueueBytes)
    );
    // Several zeros: the first one, in parameter order, is named.
    assert_eq!(HubConfig::new(0, 0, 0), Err(HubConfigError::ZeroMaxPeers));
    let err = HubConfig::new(1, 0, 1).expect_err("zero frames");
    assert_eq!(err.bound(), "max_queue_frames");
    assert_eq!(
        err.to_string(),
        "the hub's max_queue_frames must be more than 0"
    );
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert!(boxed.source().is_none());
    let smallest = HubConfig::new(1, 1, 1).expect("ones are valid");
    assert_eq!(
        (
            smallest.max_peers(),
            smallest.max_queue_frames(),
            smallest.max_queue_bytes()
        ),
        (1, 1, 1)
    );
}

#[test]
fn hub_config_default_is_1024_peers_262144_frames_8_mib() {
    let config = HubConfig::default();
    assert_eq!(config.max_peers(), HubConfig::DEFAULT_MAX_PEERS);
    assert_eq!(config.max_peers(), 1024);
    assert_eq!(config.max_queue_frames(), 262_144);
    assert_eq!(config.max_queue_bytes(), 8 * 1024 * 1024);
    let hub: Hub<Msg> = Hub::new(config);
    assert_eq!(hub.config(), config);
}

#[test]
fn weight_of_byte_and_text_messages_is_their_length() {
    assert_eq!(vec![0u8; 5].weight(), 5);
    assert_eq!(String::from("héllo").weight(), 6);
    assert_eq!(Box::<[u8]>::from(&b"abc"[..]).weight(), 3);
    assert_eq!(Arc::<[u8]>::from(&b"abcd"[..]).weight(), 4);
    assert_eq!(Arc::<str>::from("xy").weight(), 2);
}

// ---- join (FC-26, FC-31) ---------------------------------------------------------------------

#[test]
fn peer_ids_start_at_one_and_are_never_reused() {
    let hub = hub(4, 8, 1024);
    let (a, _) = join(&hub);
    let (b, _) = join(&hub);
    assert_eq!((a, b), (1, 2));
    hub.leave(a);
    hub.leave(b);
    let (c, c_out) = join(&hub);
    assert_eq!(c, 3, "ids of peers that left are not handed out again");
    assert_eq!(c_out.peer(), 3);
    assert_eq!(hub.stats().joined, 3);
}

#[test]
fn a_join_past_max_peers_is_refused_and_counted() {
    // FC-31: the connection limit.
    let hub = hub(2, 8, 1024);
    let (a, _) = join(&hub);
    let _b = join(&hub);
    assert_eq!(hub.join().err(), Some(JoinError::Full { max_peers: 2 }));
    assert_eq!(hub.join().err(), Some(JoinError::Full { max_peers: 2 }));
    let stats = hub.stats();
    assert_eq!((stats.peers, stats.joined, stats.refused_full), (2, 2, 2));
    // A place freed by a leave can be taken again.
    hub.leave(a);
    let (c, _) = join(&hub);
    assert_eq!(c, 3);
    assert_eq!(
        JoinError::Full { max_peers: 2 }.to_string(),
        "the room is full (2 peers)"
    );
}

#[test]
fn a_tagged_hub_hands_out_ids_in_its_tag_range() {
    // FC-41: the tag is the high 32 bits, the count the low 32, from 1.
    let hub: Hub<Msg> = Hub::new(HubConfig::default().with_peer_id_tag(0x0000_BEEF));
    let (a, a_out) = join(&hub);
    let (b, _) = join(&hub);
    hub.leave(a);
    let (c, _) = join(&hub);
    assert_eq!(
        (a, b, c),
        (0xBEEF_0000_0001, 0xBEEF_0000_0002, 0xBEEF_0000_0003)
    );
    assert_eq!(a_out.peer(), a);
    assert_eq!(hub.config().peer_id_tag(), Some(0xBEEF));
}

#[test]
fn tag_zero_and_no_tag_both_start_at_one_but_only_the_tag_is_reported() {
    let tagged: Hub<Msg> = Hub::new(HubConfig::default().with_peer_id_tag(0));
    let untagged: Hub<Msg> = Hub::new(HubConfig::default());
    assert_eq!(join(&tagged).0, 1);
    assert_eq!(join(&untagged).0, 1);
    assert_eq!(tagged.config().peer_id_tag(), Some(0));
    assert_eq!(untagged.config().peer_id_tag(), None);
}

#[test]
fn a_tag_keeps_the_bounds_it_was_given() {
    let config = HubConfig::new(3, 5, 7)
        .expect("non-zero bounds")
        .with_peer_id_tag(u32::MAX);
    assert_eq!(
        (
            config.max_peers(),
            config.max_queue_frames(),
            config.max_queue_bytes()
        ),
        (3, 5, 7)
    );
    let hub: Hub<Msg> = Hub::new(config);
    assert_eq!(join(&hub).0, 0xFFFF_FFFF_0000_0001);
}

#[test]
fn peer_ids_exhausted_names_the_cause() {
    assert_eq!(
        JoinError::PeerIdsExhausted.to_string(),
        "every peer id of this node was handed out"
    );
}

#[test]
fn a_peer_gets_every_relay_after_it_joins_and_none_before() {
    // FC-26: a peer that never sends still receives every message relayed after its accept.
    let hub = hub(4, 8, 1024);
    let (a, _a_out) = join(&hub);
    relay(&hub, a, 0);
    let (_b, b_out) = join(&hub);
    relay(&hub, a, 1);
    relay(&hub, a, 2);
    assert_eq!(from_sender(&drained(&b_out), a), [(1, false), (2, false)]);
    assert_eq!(b_out.offered(), 2);
}

// ---- relay (FC-28) ---------------------------------------------------------------------------

#[test]
fn relay_echoes_to_the_sender_and_broadcasts_to_every_other_peer() {
    // FC-28: one echo to the sender, one broadcast to every other peer.
    let hub = hub(4, 8, 1024);
    let (_a, a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    let (_c, c_out) = join(&hub);
    let relayed = relay(&hub, b, 7);
    assert_eq!(
        relayed,
        Relayed {
            recipients: 3,
            slow_consumers: 0
        }
    );
    assert_eq!(drained(&a_out), [msg(b, 7, false)]);
    assert_eq!(drained(&b_out), [msg(b, 7, true)]);
    assert_eq!(drained(&c_out), [msg(b, 7, false)]);
    let stats = hub.stats();
    assert_eq!((stats.offered, stats.delivered, stats.queued()), (3, 3, 0));
}

#[test]
fn relay_from_a_peer_not_in_the_room_only_broadcasts() {
    let hub = hub(4, 8, 1024);
    let (_a, a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    hub.leave(b);
    let relayed = relay(&hub, b, 0);
    assert_eq!(relayed.recipients, 1);
    assert_eq!(drained(&a_out), [msg(b, 0, false)]);
    assert!(drained(&b_out).is_empty());
    assert_eq!(b_out.offered(), 0);
}

#[test]
fn relay_in_an_empty_room_reaches_nobody_and_counts_nothing() {
    let hub = hub(4, 8, 1024);
    assert_eq!(relay(&hub, 1, 0), Relayed::default());
    let stats = hub.stats();
    assert_eq!((stats.offered, stats.peers), (0, 0));
}

#[test]
fn broadcast_reaches_every_peer_with_no_echo_and_is_counted_as_a_relay() {
    // §11: a message from another node; its sender is nobody in this room.
    let remote = 0x7777_0000_0001;
    let hub = hub(4, 8, 1024);
    let (_a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);
    let relayed = hub.broadcast(msg(remote, 0, false));
    assert_eq!(
        relayed,
        Relayed {
            recipients: 2,
            slow_consumers: 0
        }
    );
    assert_eq!(drained(&a_out), [msg(remote, 0, false)]);
    assert_eq!(drained(&b_out), [msg(remote, 0, false)]);
    let stats = hub.stats();
    assert_eq!((stats.offered, stats.delivered, stats.queued()), (2, 2, 0));
}

#[test]
fn broadcast_whose_sender_id_is_a_local_peer_still_gives_it_no_echo() {
    // The sender of a broadcast is never a local peer: even an id that collides is offered the
    // message like everyone else, never skipped.
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);
    assert_eq!(hub.broadcast(msg(a, 0, false)).recipients, 2);
    assert_eq!(drained(&a_out), [msg(a, 0, false)]);
    assert_eq!(drained(&b_out), [msg(a, 0, false)]);
}

#[test]
fn broadcast_in_an_empty_room_reaches_nobody_and_counts_nothing() {
    let hub = hub(4, 8, 1024);
    assert_eq!(hub.broadcast(msg(9, 0, false)), Relayed::default());
    assert_eq!(hub.stats().offered, 0);
}

#[test]
fn broadcasts_arrive_in_call_order_between_local_relays() {
    // FC-28 across nodes: the bus broadcasts a remote sender's messages in order.
    let remote = 0x7777_0000_0001;
    let hub = hub(4, 16, 1 << 20);
    let (a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);
    for seq in 0..3 {
        hub.broadcast(msg(remote, seq, false));
        relay(&hub, a, seq);
    }
    for outbox in [&a_out, &b_out] {
        let got = drained(outbox);
        assert_eq!(
            from_sender(&got, remote),
            [(0, false), (1, false), (2, false)]
        );
        assert_eq!(from_sender(&got, a).len(), 3);
    }
}

#[test]
fn a_broadcast_that_does_not_fit_makes_the_peer_a_slow_consumer() {
    // FC-29 on the bus's entry point: dropped for the slow peer only, which leaves the room.
    let remote = 0x7777_0000_0001;
    let hub = hub(4, 1, 1 << 20);
    let (_a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);
    assert_eq!(hub.broadcast(msg(remote, 0, false)).recipients, 2);
    let _ = drained(&a_out);
    let relayed = hub.broadcast(msg(remote, 1, false));
    assert_eq!(
        relayed,
        Relayed {
            recipients: 1,
            slow_consumers: 1
        }
    );
    assert_eq!(b_out.close_reason(), Some(CloseReason::SlowConsumer));
    assert_eq!(a_out.close_reason(), None);
    let stats = hub.stats();
    assert_eq!(
        (
            stats.peers,
            stats.slow_consumers,
            stats.dropped,
            stats.offered
        ),
        (1, 1, 1, 4)
    );
    assert_eq!(from_sender(&drained(&a_out), remote), [(1, false)]);
    for outbox in [&a_out, &b_out] {
        assert_accounting(outbox);
    }
}

#[test]
fn relays_from_one_sender_arrive_in_order_at_every_receiver() {
    // FC-28: per-sender order, across drains that interleave with the relays.
    let hub = hub(4, 64, 1 << 20);
    let (a, a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    let (mut got_a, mut got_b) = (Vec::new(), Vec::new());
    for seq in 0..40 {
        relay(&hub, a, seq);
        relay(&hub, b, seq);
        if seq % 7 == 3 {
            let _ = a_out.try_drain(&mut got_a);
            let _ = b_out.try_drain(&mut got_b);
        }
    }
    let _ = a_out.try_drain(&mut got_a);
    let _ = b_out.try_drain(&mut got_b);
    let expect = |echo: bool| (0..40).map(|s| (s, echo)).collect::<Vec<_>>();
    assert_eq!(from_sender(&got_a, a), expect(true));
    assert_eq!(from_sender(&got_a, b), expect(false));
    assert_eq!(from_sender(&got_b, a), expect(false));
    assert_eq!(from_sender(&got_b, b), expect(true));
}

// ---- send ------------------------------------------------------------------------------------

#[test]
fn send_queues_one_direct_message_under_the_bound() {
    let hub = hub(4, 2, 1024);
    let (a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);
    assert!(hub.send(a, msg(0, 1, false)));
    assert_eq!(drained(&a_out), [msg(0, 1, false)]);
    assert!(drained(&b_out).is_empty(), "only the addressee gets it");
    assert_eq!(hub.stats().offered, 1);
}

#[test]
fn send_to_a_peer_not_in_the_room_or_closed_is_refused() {
    let hub = hub(4, 2, 1024);
    assert!(!hub.send(1, msg(0, 0, false)), "never joined");
    let (a, a_out) = join(&hub);
    hub.leave(a);
    assert!(!hub.send(a, msg(0, 0, false)), "left");
    assert_eq!(a_out.offered(), 0);
    let (b, _) = join(&hub);
    hub.shutdown();
    assert!(!hub.send(b, msg(0, 0, false)), "shut down");
    assert_eq!(hub.stats().offered, 0);
}

#[test]
fn a_send_that_does_not_fit_makes_the_peer_a_slow_consumer() {
    // FC-29: a direct message is under the same bound as a relay.
    let hub = hub(4, 1, 1024);
    let (a, a_out) = join(&hub);
    assert!(hub.send(a, msg(0, 0, false)));
    assert!(!hub.send(a, msg(0, 1, false)));
    assert_eq!(a_out.close_reason(), Some(CloseReason::SlowConsumer));
    assert_eq!((a_out.offered(), a_out.dropped()), (2, 1));
    let stats = hub.stats();
    assert_eq!(
        (stats.peers, stats.slow_consumers, stats.dropped),
        (0, 1, 1)
    );
    assert_eq!(drained(&a_out), [msg(0, 0, false)]);
    assert_accounting(&a_out);
}

// ---- leave -----------------------------------------------------------------------------------

#[test]
fn leave_closes_the_outbox_after_what_is_queued_and_nothing_is_added_after() {
    let hub = hub(4, 8, 1024);
    let (a, _a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    relay(&hub, a, 0);
    hub.leave(b);
    assert_eq!(b_out.close_reason(), Some(CloseReason::Left));
    let relayed = relay(&hub, a, 1);
    assert_eq!(relayed.recipients, 1, "only A is left in the room");
    assert_eq!(b_out.offered(), 1, "nothing is added after leave returns");
    let mut out = Vec::new();
    assert_eq!(b_out.try_drain(&mut out), Drain::Messages);
    assert_eq!(out, [msg(a, 0, false)]);
    assert_eq!(b_out.try_drain(&mut out), Drain::Closed(CloseReason::Left));
    let stats = hub.stats();
    assert_eq!((stats.peers, stats.left), (1, 1));
}

#[test]
fn leave_is_idempotent_and_ignores_unknown_peers() {
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    hub.leave(a);
    hub.leave(a);
    hub.leave(99);
    assert_eq!(a_out.close_reason(), Some(CloseReason::Left));
    let stats = hub.stats();
    assert_eq!((stats.peers, stats.left, stats.joined), (0, 1, 1));
}

// ---- slow consumers (FC-29) --------------------------------------------------------------------

#[test]
fn a_queue_full_in_frames_drops_the_message_and_closes_the_peer_as_slow() {
    // FC-29: the sender is not blocked, the slow peer is closed and counted, the others lose
    // nothing.
    let hub = hub(4, 2, 1 << 20);
    let (a, a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    let (_c, c_out) = join(&hub);
    let (mut got_a, mut got_c) = (Vec::new(), Vec::new());
    let mut relayed = Vec::new();
    for seq in 0..4 {
        relayed.push(relay(&hub, a, seq));
        let _ = a_out.try_drain(&mut got_a);
        let _ = c_out.try_drain(&mut got_c);
    }
    // B held 2 and dropped the 3rd; the 4th did not reach it.
    assert_eq!(relayed[2].slow_consumers, 1);
    assert_eq!(relayed[2].recipients, 2);
    assert_eq!(relayed[3].recipients, 2);
    assert_eq!(b_out.close_reason(), Some(CloseReason::SlowConsumer));
    assert_eq!(
        (b_out.offered(), b_out.dropped(), b_out.queued().0),
        (3, 1, 2)
    );
    let mut got_b = Vec::new();
    assert_eq!(b_out.try_drain(&mut got_b), Drain::Messages);
    assert_eq!(from_sender(&got_b, a), [(0, false), (1, false)]);
    assert_eq!(
        b_out.try_drain(&mut got_b),
        Drain::Closed(CloseReason::SlowConsumer)
    );
    assert_eq!(from_sender(&got_a, a).len(), 4);
    assert_eq!(
        from_sender(&got_c, a).len(),
        4,
        "healthy peers lose nothing"
    );
    let stats = hub.stats();
    assert_eq!(
        (stats.peers, stats.slow_consumers, stats.dropped),
        (2, 1, 1)
    );
    hub.leave(b);
    assert_eq!(hub.stats().left, 0, "B had left the room already");
    for outbox in [&a_out, &b_out, &c_out] {
        assert_accounting(outbox);
    }
}

#[test]
fn a_queue_full_in_bytes_drops_the_message_and_closes_the_peer_as_slow() {
    // FC-29: the byte bound, with the frame bound far away.
    let hub = hub(4, 100, 3 * WEIGHT + 5);
    let (a, _a_out) = join(&hub);
    let (_b, b_out) = join(&hub);
    hub.leave(a);
    for seq in 0..3 {
        assert_eq!(relay(&hub, a, seq).recipients, 1);
    }
    assert_eq!(b_out.queued(), (3, 3 * WEIGHT));
    let relayed = relay(&hub, a, 3);
    assert_eq!(
        relayed,
        Relayed {
            recipients: 0,
            slow_consumers: 1
        }
    );
    assert_eq!(b_out.close_reason(), Some(CloseReason::SlowConsumer));
    assert_eq!(b_out.queued(), (3, 3 * WEIGHT));
    assert_accounting(&b_out);
}

#[test]
fn a_queue_filled_exactly_to_its_bounds_accepts_the_last_message() {
    let hub = hub(4, 2, 2 * WEIGHT);
    let (_a, a_out) = join(&hub);
    assert!(hub.send(a_out.peer(), msg(0, 0, false)));
    assert!(hub.send(a_out.peer(), msg(0, 1, false)));
    assert_eq!(a_out.queued(), (2, 2 * WEIGHT));
    assert_eq!(a_out.close_reason(), None);
    // Draining makes room again.
    assert_eq!(drained(&a_out).len(), 2);
    assert_eq!(a_out.queued(), (0, 0));
    assert!(hub.send(a_out.peer(), msg(0, 2, false)));
    assert_eq!(a_out.close_reason(), None);
}

#[test]
fn a_message_heavier_than_the_byte_bound_makes_its_recipient_slow() {
    let hub = hub(4, 8, 100);
    let (a, a_out) = join(&hub);
    let heavy = Msg {
        from: 0,
        seq: 0,
        echo: false,
        weight: 101,
    };
    assert!(!hub.send(a, heavy));
    assert_eq!(a_out.close_reason(), Some(CloseReason::SlowConsumer));
    assert_eq!((a_out.offered(), a_out.dropped()), (1, 1));
    let mut out = Vec::new();
    assert_eq!(
        a_out.try_drain(&mut out),
        Drain::Closed(CloseReason::SlowConsumer)
    );
}

// ---- shutdown (FC-33) ------------------------------------------------------------------------

#[test]
fn shutdown_closes_every_outbox_and_writers_drain_what_is_queued() {
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);
    relay(&hub, a, 0);
    hub.shutdown();
    assert!(hub.is_shutting_down());
    for outbox in [&a_out, &b_out] {
        let mut out = Vec::new();
        assert_eq!(outbox.try_drain(&mut out), Drain::Messages);
        assert_eq!(out.len(), 1);
        assert_eq!(
            outbox.try_drain(&mut out),
            Drain::Closed(CloseReason::Shutdown)
        );
    }
    assert_eq!(hub.join().err(), Some(JoinError::ShuttingDown));
    assert_eq!(
        JoinError::ShuttingDown.to_string(),
        "the server is shutting down"
    );
    let stats = hub.stats();
    assert_eq!((stats.peers, stats.left, stats.refused_full), (0, 0, 0));
}

#[test]
fn shutdown_is_idempotent_and_nothing_is_added_after() {
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    hub.leave(a);
    hub.shutdown();
    hub.shutdown();
    assert_eq!(
        a_out.close_reason(),
        Some(CloseReason::Left),
        "the first reason sticks"
    );
    assert_eq!(relay(&hub, a, 0), Relayed::default());
    assert_eq!(hub.stats().offered, 0);
}

// ---- poll_drain and wakeups ------------------------------------------------------------------

#[test]
fn poll_drain_is_pending_when_open_and_empty_and_a_relay_wakes_the_writer() {
    let hub = hub(4, 8, 1024);
    let (a, _a_out) = join(&hub);
    let (_b, b_out) = join(&hub);
    let (counter, waker) = counting_waker();
    let mut out = Vec::new();
    assert_eq!(poll(&b_out, &waker, &mut out), Poll::Pending);
    assert_eq!(counter.wakes(), 0);
    relay(&hub, a, 0);
    assert_eq!(counter.wakes(), 1, "the relay wakes the pending writer");
    relay(&hub, a, 1);
    assert_eq!(counter.wakes(), 1, "one wake until the writer polls again");
    assert_eq!(poll(&b_out, &waker, &mut out), Poll::Ready(Drain::Messages));
    assert_eq!(from_sender(&out, a), [(0, false), (1, false)]);
}

#[test]
fn a_close_wakes_the_pending_writer() {
    // Each way an outbox closes wakes a writer pending on it: leave, slow consumer, shutdown.
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    let (_c, c_out) = join(&hub);
    let outboxes = [&a_out, &b_out, &c_out];
    let wakers: Vec<_> = (0..3).map(|_| counting_waker()).collect();
    let mut out = Vec::new();
    for (outbox, (_, waker)) in outboxes.into_iter().zip(&wakers) {
        assert_eq!(poll(outbox, waker, &mut out), Poll::Pending);
    }
    hub.leave(a);
    assert_eq!(wakers[0].0.wakes(), 1, "leave wakes the writer");
    let heavy = Msg {
        from: 0,
        seq: 0,
        echo: false,
        weight: 2048,
    };
    assert!(!hub.send(b, heavy));
    assert_eq!(
        wakers[1].0.wakes(),
        1,
        "closing a slow consumer wakes the writer"
    );
    assert_eq!(wakers[2].0.wakes(), 0);
    hub.shutdown();
    assert_eq!(wakers[2].0.wakes(), 1, "shutdown wakes the writer");
    let reasons = [
        CloseReason::Left,
        CloseReason::SlowConsumer,
        CloseReason::Shutdown,
    ];
    for ((outbox, (counter, waker)), reason) in outboxes.into_iter().zip(&wakers).zip(reasons) {
        assert_eq!(
            poll(outbox, waker, &mut out),
            Poll::Ready(Drain::Closed(reason))
        );
        assert_eq!(counter.wakes(), 1, "one wake each");
    }
    assert!(out.is_empty());
}

#[test]
fn poll_drain_reports_closed_only_once_the_queue_is_empty() {
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    relay(&hub, a, 0);
    hub.leave(a);
    let (_, waker) = counting_waker();
    let mut out = Vec::new();
    assert_eq!(poll(&a_out, &waker, &mut out), Poll::Ready(Drain::Messages));
    assert_eq!(out, [msg(a, 0, true)]);
    assert_eq!(
        poll(&a_out, &waker, &mut out),
        Poll::Ready(Drain::Closed(CloseReason::Left))
    );
    assert_eq!(
        poll(&a_out, &waker, &mut out),
        Poll::Ready(Drain::Closed(CloseReason::Left)),
        "Closed is sticky"
    );
}

#[test]
fn a_new_waker_replaces_the_old_one() {
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    let (old, old_waker) = counting_waker();
    let (new, new_waker) = counting_waker();
    let mut out = Vec::new();
    assert_eq!(poll(&a_out, &old_waker, &mut out), Poll::Pending);
    assert_eq!(poll(&a_out, &new_waker, &mut out), Poll::Pending);
    assert_eq!(Arc::strong_count(&old), 2, "the old waker was released");
    relay(&hub, a, 0);
    assert_eq!((old.wakes(), new.wakes()), (0, 1));
}

#[test]
fn polling_again_with_the_same_waker_keeps_one_registration() {
    let hub = hub(4, 8, 1024);
    let (_a, a_out) = join(&hub);
    let (counter, waker) = counting_waker();
    let mut out = Vec::new();
    // `counter` + `waker` hold two references; a registration holds a third.
    assert_eq!(Arc::strong_count(&counter), 2);
    assert_eq!(poll(&a_out, &waker, &mut out), Poll::Pending);
    assert_eq!(Arc::strong_count(&counter), 3);
    assert_eq!(poll(&a_out, &waker, &mut out), Poll::Pending);
    assert_eq!(Arc::strong_count(&counter), 3);
}

#[test]
fn try_drain_reports_messages_empty_and_closed_and_appends() {
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    let mut out = vec![msg(9, 9, false)];
    assert_eq!(a_out.try_drain(&mut out), Drain::Empty);
    hub.send(a, msg(0, 0, false));
    hub.send(a, msg(0, 1, false));
    assert_eq!(a_out.try_drain(&mut out), Drain::Messages);
    assert_eq!(
        out,
        [msg(9, 9, false), msg(0, 0, false), msg(0, 1, false)],
        "appended after what `out` held, oldest first"
    );
    assert_eq!(a_out.try_drain(&mut out), Drain::Empty);
    hub.leave(a);
    assert_eq!(a_out.try_drain(&mut out), Drain::Closed(CloseReason::Left));
    assert_eq!(a_out.delivered(), 2);
}

// ---- accounting --------------------------------------------------------------------------------

#[test]
fn every_outbox_accounts_for_each_message_offered_to_it() {
    // §8.5: delivered + dropped + queued = offered, per peer and for the hub.
    let hub = hub(8, 3, 1 << 20);
    let (a, a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    let (_c, c_out) = join(&hub);
    for seq in 0..5 {
        relay(&hub, a, seq);
        relay(&hub, b, seq);
        let _ = drained(&a_out);
        // B drains one time in two; C never.
        if seq % 2 == 0 {
            let _ = drained(&b_out);
        }
        for outbox in [&a_out, &b_out, &c_out] {
            assert_accounting(outbox);
        }
    }
    // C: 3 queued, the 4th dropped, then closed. B drains after relays 0, 2 and 4: 2 queued by
    // seq 1, the 3rd fits at seq 2 and the 4th does not; its drain at seq 2 took the 3.
    assert_eq!(
        (
            b_out.offered(),
            b_out.dropped(),
            b_out.delivered(),
            b_out.queued().0
        ),
        (6, 1, 5, 0)
    );
    assert_eq!(b_out.close_reason(), Some(CloseReason::SlowConsumer));
    assert_eq!(
        (c_out.offered(), c_out.dropped(), c_out.queued().0),
        (4, 1, 3)
    );
    assert_eq!(c_out.close_reason(), Some(CloseReason::SlowConsumer));
    assert_eq!(a_out.close_reason(), None);
    let stats = hub.stats();
    let outboxes = [&a_out, &b_out, &c_out];
    assert_eq!(
        stats.offered,
        outboxes.iter().map(|o| o.offered()).sum::<u64>()
    );
    assert_eq!(
        stats.delivered,
        outboxes.iter().map(|o| o.delivered()).sum::<u64>()
    );
    assert_eq!(
        stats.dropped,
        outboxes.iter().map(|o| o.dropped()).sum::<u64>()
    );
    assert_eq!(
        stats.queued(),
        outboxes.iter().map(|o| o.queued().0 as u64).sum::<u64>()
    );
    assert_eq!(stats.discarded, 0);
}

#[test]
fn dropping_an_outbox_with_queued_messages_counts_them_as_discarded() {
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    relay(&hub, a, 0);
    relay(&hub, a, 1);
    hub.leave(a);
    drop(a_out);
    let stats = hub.stats();
    assert_eq!(
        (
            stats.offered,
            stats.delivered,
            stats.discarded,
            stats.queued()
        ),
        (2, 0, 2, 0)
    );
}

#[test]
fn outbox_clones_share_one_queue_and_only_the_last_one_dropped_discards() {
    let hub = hub(4, 8, 1024);
    let (a, a_out) = join(&hub);
    let writer_out = a_out.clone();
    relay(&hub, a, 0);
    assert_eq!(
        writer_out.queued(),
        (1, WEIGHT),
        "a clone sees what was queued"
    );
    assert_eq!(drained(&writer_out), [msg(a, 0, true)]);
    assert_eq!(a_out.delivered(), 1, "the other handle sees the drain");
    relay(&hub, a, 1);
    hub.leave(a);
    assert_eq!(a_out.close_reason(), Some(CloseReason::Left));
    assert_eq!(writer_out.close_reason(), Some(CloseReason::Left));

    drop(a_out);
    assert_eq!(hub.stats().discarded, 0, "a handle is still alive");
    drop(writer_out);
    let stats = hub.stats();
    assert_eq!(
        (stats.delivered, stats.discarded, stats.queued()),
        (1, 1, 0)
    );
}

// ---- stress on threads ---------------------------------------------------------------------

/// Drains `outbox` on this thread until it is closed, parking between wakes.
///
/// The park has a timeout only so that the loop cannot hang: a wakeup is checked exactly under
/// loom (src/hub/loom_tests.rs), not here.
fn drain_until_closed(outbox: &Outbox<Msg>) -> (Vec<Msg>, CloseReason) {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut got = Vec::new();
    loop {
        match poll(outbox, &waker, &mut got) {
            Poll::Ready(Drain::Messages) => {}
            Poll::Ready(Drain::Closed(reason)) => return (got, reason),
            Poll::Ready(Drain::Empty) => panic!("poll_drain never returns Empty"),
            Poll::Pending => thread::park_timeout(Duration::from_millis(20)),
        }
    }
}

/// The messages from `sender` in `got` have consecutive numbers, in order: a peer is in the room
/// for one interval, and relays from one sender are sequential (FC-28).
fn assert_contiguous_from(got: &[Msg], sender: PeerId) -> usize {
    let seqs: Vec<u32> = got
        .iter()
        .filter(|m| m.from == sender)
        .map(|m| m.seq)
        .collect();
    for pair in seqs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "FC-28: messages from {sender} skip or reorder: {seqs:?}"
        );
    }
    seqs.len()
}

#[test]
fn stress_relays_joins_leaves_and_slow_consumers_keep_every_count_exact() {
    const SENDERS: usize = 4;
    const OBSERVERS: usize = 2;
    const PER_SENDER: u32 = 5_000;
    const TOTAL: u64 = SENDERS as u64 * PER_SENDER as u64;
    const CHURN: u64 = 150;
    /// Relays a churn peer stays in the room for, at least, before it leaves or is made slow.
    const WINDOW: u64 = 24;
    // No draining peer can overflow: the queue holds more than every message of the run.
    let max_frames = 2 * SENDERS * PER_SENDER as usize;
    let hub = Arc::new(hub(256, max_frames, usize::MAX / 2));
    // Relays completed so far, by all senders: paces the churn so that it overlaps the relays.
    let progress = Arc::new(AtomicU64::new(0));
    // Relays the senders may start: the churn thread opens it step by step, so the overlap does
    // not depend on how the threads are scheduled (each relay takes a ticket below the gate).
    let gate = Arc::new(AtomicU64::new(0));
    let tickets = Arc::new(AtomicU64::new(0));
    // Waits until `target` relays have completed or all have; bounded: the senders never wait.
    let wait_for = |progress: &AtomicU64, target: u64| loop {
        let done = progress.load(Ordering::SeqCst);
        if done >= target.min(TOTAL) {
            return done;
        }
        thread::yield_now();
    };

    let members: Vec<(PeerId, Outbox<Msg>)> =
        (0..SENDERS + OBSERVERS).map(|_| join(&hub)).collect();
    let writers: Vec<_> = members
        .iter()
        .map(|(_, outbox)| {
            let outbox = outbox.clone();
            thread::spawn(move || drain_until_closed(&outbox))
        })
        .collect();
    let senders: Vec<_> = members[..SENDERS]
        .iter()
        .map(|&(from, _)| {
            let hub = Arc::clone(&hub);
            let progress = Arc::clone(&progress);
            let (gate, tickets) = (Arc::clone(&gate), Arc::clone(&tickets));
            thread::spawn(move || {
                let mut offered = 0;
                for seq in 0..PER_SENDER {
                    let ticket = tickets.fetch_add(1, Ordering::SeqCst);
                    while ticket >= gate.load(Ordering::SeqCst) {
                        thread::yield_now();
                    }
                    let relayed = relay(&hub, from, seq);
                    progress.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(relayed.slow_consumers, 0, "only churn peers are slow");
                    offered += relayed.recipients as u64;
                }
                offered
            })
        })
        .collect();

    // Churn: a third of the peers leave, a third are made slow by one message heavier than the
    // bound, a third stay silent until shutdown.
    struct Churned {
        outbox: Outbox<Msg>,
        got: Vec<Msg>,
        offered_when_removed: Option<u64>,
        /// Relays completed when the join returned, and when the peer was removed.
        progress_at_join: u64,
        progress_at_removal: Option<u64>,
    }
    let churn = {
        let hub = Arc::clone(&hub);
        let progress = Arc::clone(&progress);
        let gate = Arc::clone(&gate);
        thread::spawn(move || {
            let mut churned = Vec::new();
            let mut sends = 0u64;
            for k in 0..CHURN {
                let join_at = k * TOTAL / (CHURN + 1);
                gate.store(join_at, Ordering::SeqCst);
                wait_for(&progress, join_at);
                let (peer, outbox) = join(&hub);
                let progress_at_join = progress.load(Ordering::SeqCst);
                // Exactly WINDOW more relays may run while this peer is in the room.
                gate.store(progress_at_join + WINDOW, Ordering::SeqCst);
                assert!(hub.send(peer, msg(0, k as u32, false)), "welcome");
                sends += 1;
                let mut got = drained(&outbox);
                let progress_at_removal =
                    (k % 3 != 2).then(|| wait_for(&progress, progress_at_join + WINDOW));
                let offered_when_removed = match k % 3 {
                    0 => {
                        hub.leave(peer);
                        Some(outbox.offered())
                    }
                    1 => {
                        let heavy = Msg {
                            from: 0,
                            seq: u32::MAX,
                            echo: false,
                            weight: usize::MAX / 2 + 1,
                        };
                        assert!(!hub.send(peer, heavy));
                        sends += 1;
                        Some(outbox.offered())
                    }
                    _ => None,
                };
                let _ = outbox.try_drain(&mut got);
                churned.push(Churned {
                    outbox,
                    got,
                    offered_when_removed,
                    progress_at_join,
                    progress_at_removal,
                });
            }
            gate.store(u64::MAX, Ordering::SeqCst);
            (churned, sends)
        })
    };

    let relayed_offers: u64 = senders
        .into_iter()
        .map(|s| s.join().expect("sender thread"))
        .sum();
    let (mut churned, sends) = churn.join().expect("churn thread");
    hub.shutdown();
    let received: Vec<(Vec<Msg>, CloseReason)> = writers
        .into_iter()
        .map(|w| w.join().expect("writer thread"))
        .collect();

    // Members: every message of every sender, once, in order (FC-28); closed by shutdown.
    for ((me, outbox), (got, reason)) in members.iter().zip(&received) {
        assert_eq!(*reason, CloseReason::Shutdown);
        for (sender, _) in &members[..SENDERS] {
            let expected: Vec<(u32, bool)> =
                (0..PER_SENDER).map(|seq| (seq, sender == me)).collect();
            assert_eq!(
                from_sender(got, *sender),
                expected,
                "peer {me} from {sender}"
            );
        }
        assert_eq!(got.len(), SENDERS * PER_SENDER as usize);
        assert_accounting(outbox);
        assert_eq!(outbox.queued(), (0, 0));
        assert_eq!(outbox.delivered(), got.len() as u64);
    }
    // Churn peers: a contiguous run from each sender, nothing after removal, the right reason.
    let mut slow = 0;
    let mut left = 0;
    let mut churn_relayed = 0;
    for (k, c) in churned.iter_mut().enumerate() {
        let _ = c.outbox.try_drain(&mut c.got);
        let relayed: u64 = members[..SENDERS]
            .iter()
            .map(|(sender, _)| assert_contiguous_from(&c.got, *sender) as u64)
            .sum();
        // Of the relays completed between join and removal, at most one per sender had begun
        // before the join: all the others reached this peer.
        let completed = c.progress_at_removal.unwrap_or(TOTAL) - c.progress_at_join;
        assert!(
            relayed >= completed.saturating_sub(SENDERS as u64),
            "churn peer {k}: {relayed} relayed messages, {completed} relays while in the room"
        );
        churn_relayed += relayed;
        if let Some(offered) = c.offered_when_removed {
            assert_eq!(c.outbox.offered(), offered, "nothing after removal");
        }
        let expected = match k % 3 {
            0 => CloseReason::Left,
            1 => CloseReason::SlowConsumer,
            _ => CloseReason::Shutdown,
        };
        assert_eq!(c.outbox.close_reason(), Some(expected));
        slow += usize::from(expected == CloseReason::SlowConsumer);
        left += usize::from(expected == CloseReason::Left);
        assert_accounting(&c.outbox);
        assert_eq!(
            c.outbox.delivered(),
            c.got.len() as u64,
            "every delivered message reached the writer"
        );
    }

    assert!(
        churn_relayed >= CHURN / 3 * (WINDOW - SENDERS as u64),
        "the churn overlapped the relays"
    );
    let stats = hub.stats();
    let outboxes = || {
        members
            .iter()
            .map(|(_, o)| o)
            .chain(churned.iter().map(|c| &c.outbox))
    };
    assert_eq!(stats.peers, 0);
    assert_eq!(stats.joined, (SENDERS + OBSERVERS) as u64 + CHURN);
    assert_eq!(stats.left, left as u64);
    assert_eq!(stats.slow_consumers, slow as u64);
    assert_eq!(stats.dropped, slow as u64);
    assert_eq!(stats.offered, relayed_offers + sends);
    assert_eq!(stats.offered, outboxes().map(|o| o.offered()).sum::<u64>());
    assert_eq!(
        stats.delivered,
        outboxes().map(|o| o.delivered()).sum::<u64>()
    );
    assert_eq!(stats.dropped, outboxes().map(|o| o.dropped()).sum::<u64>());
    assert_eq!(stats.queued(), 0);
    assert_eq!(stats.discarded, 0);
}

#[test]
fn stress_concurrent_relays_into_one_full_queue_close_it_exactly_once() {
    // FC-29: four senders outside the room race into a queue of 4 frames nobody drains.
    const THREADS: u64 = 4;
    const PER_THREAD: u32 = 100;
    for _ in 0..50 {
        let hub = Arc::new(hub(4, 4, 1 << 20));
        let (_x, x_out) = join(&hub);
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let hub = Arc::clone(&hub);
                thread::spawn(move || {
                    (0..PER_THREAD).map(|seq| relay(&hub, 100 + t, seq)).fold(
                        Relayed::default(),
                        |sum, r| Relayed {
                            recipients: sum.recipients + r.recipients,
                            slow_consumers: sum.slow_consumers + r.slow_consumers,
                        },
                    )
                })
            })
            .collect();
        let total = threads
            .into_iter()
            .map(|t| t.join().expect("sender thread"))
            .fold((0, 0), |(r, s), x| (r + x.recipients, s + x.slow_consumers));
        assert_eq!(total, (4, 1), "4 queued, 1 dropped, then closed");
        assert_eq!(
            (x_out.offered(), x_out.dropped(), x_out.queued().0),
            (5, 1, 4)
        );
        assert_eq!(x_out.close_reason(), Some(CloseReason::SlowConsumer));
        let got = drained(&x_out);
        for t in 0..THREADS {
            assert_contiguous_from(&got, 100 + t);
        }
        let stats = hub.stats();
        assert_eq!(
            (stats.slow_consumers, stats.peers, stats.offered),
            (1, 0, 5)
        );
    }
}

/// A message that counts its clones, so a test sees how many copies a relay makes.
#[derive(Debug)]
struct CountedClones(Arc<AtomicUsize>);

impl Clone for CountedClones {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        CountedClones(Arc::clone(&self.0))
    }
}

impl Weight for CountedClones {
    fn weight(&self) -> usize {
        1
    }
}

#[test]
fn a_relay_clones_the_broadcast_once_fewer_times_than_it_has_receivers() {
    for receivers in [1, 2, 5] {
        for sender_in_room in [true, false] {
            let hub = Hub::new(HubConfig::default());
            let sender = if sender_in_room {
                hub.join().expect("room").0
            } else {
                PeerId::MAX
            };
            let outboxes: Vec<_> = (0..receivers).map(|_| hub.join().expect("room")).collect();
            let clones = Arc::new(AtomicUsize::new(0));
            let relayed = hub.relay(
                sender,
                CountedClones(Arc::clone(&clones)),
                CountedClones(Arc::clone(&clones)),
            );
            assert_eq!(relayed.recipients, receivers + usize::from(sender_in_room));
            assert_eq!(
                clones.load(Ordering::SeqCst),
                receivers - 1,
                "{receivers} receivers, sender in the room: {sender_in_room}: the last one takes \
                 the message itself"
            );
            for (_, outbox) in &outboxes {
                assert_eq!(outbox.queued().0, 1, "each receiver got the message once");
            }
        }
    }
}

#[test]
fn a_hub_and_an_outbox_report_their_bounds_shutdown_and_state_in_debug() {
    let config = HubConfig::new(3, 10, 100).expect("non-zero bounds");
    let hub: Hub<Msg> = Hub::new(config);
    assert_eq!(hub.config(), config);
    let (alice, alice_out) = join(&hub);
    let (_bob, bob_out) = join(&hub);
    assert!(!hub.is_shutting_down());
    relay(&hub, alice, 1);
    let _ = drained(&alice_out);
    let outbox_debug = format!("{bob_out:?}");
    for field in [
        "Outbox",
        "peer: 2",
        "queued: 1",
        "bytes: 16",
        "offered: 1",
        "delivered: 0",
    ] {
        assert!(
            outbox_debug.contains(field),
            "{field:?} not in {outbox_debug}"
        );
    }
    let debug = format!("{hub:?}");
    for field in [
        "Hub",
        "max_peers: 3",
        "peers: 2",
        "next_peer: 3",
        "shutting_down: false",
    ] {
        assert!(debug.contains(field), "{field:?} not in {debug}");
    }
    hub.shutdown();
    assert!(hub.is_shutting_down());
    assert!(format!("{hub:?}").contains("shutting_down: true"));
}
