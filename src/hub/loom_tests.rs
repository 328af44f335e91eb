//! Model checks of the broadcast hub (§8.4, §8.5, §11, FC-26, FC-28, FC-29, FC-33), as unit tests of the
//! library so that loom stays a dev-dependency (see [`super::sync`]).
//!
//! Run under loom, which explores the interleavings of each model up to a preemption bound:
//!
//! ```text
//! RUSTFLAGS="--cfg framechat_loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test --release --lib --no-default-features --features hub hub::loom
//! ```
//!
//! `LOOM_MAX_PREEMPTIONS` overrides the default bound (3). Each model prints how many interleavings
//! it explored. Built without the cfg (any plain `cargo test`), the same model bodies run on std
//! threads `STD_ITERATIONS` times each (and say so): a smoke test, not a proof.

use std::io::Write as _;

use super::{CloseReason, Drain, Hub, HubConfig, JoinError, Outbox, PeerId, Relayed, Weight};

use rt::{next_drain, thread, Arc, Done};

/// A relayed message: who sent it, its number in that sender's sequence, and which form it is.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Msg {
    from: PeerId,
    seq: u32,
    echo: bool,
}

impl Weight for Msg {
    fn weight(&self) -> usize {
        8
    }
}

fn relay(hub: &Hub<Msg>, from: PeerId, seq: u32) -> Relayed {
    hub.relay(
        from,
        Msg {
            from,
            seq,
            echo: true,
        },
        Msg {
            from,
            seq,
            echo: false,
        },
    )
}

/// The sender of the messages another node relayed: a peer of that node, never of this hub.
const REMOTE: PeerId = 0xFFFF_0000_0001;

/// What the cluster's bus does with a message another node relayed (§11): offer it to everyone.
fn broadcast(hub: &Hub<Msg>, seq: u32) -> Relayed {
    hub.broadcast(Msg {
        from: REMOTE,
        seq,
        echo: false,
    })
}

fn config(max_queue_frames: usize) -> HubConfig {
    HubConfig::new(8, max_queue_frames, 1 << 20).expect("non-zero bounds")
}

fn join(hub: &Hub<Msg>) -> (PeerId, Outbox<Msg>) {
    hub.join()
        .expect("the models stay under max_peers and never shut down before joining")
}

/// Everything still queued, for a check at the end of a model.
fn drain_rest(outbox: &Outbox<Msg>, got: &mut Vec<Msg>) {
    let _ = outbox.try_drain(got);
}

/// delivered + dropped + queued = offered, read at one instant (§8.5 accounting).
fn assert_accounting(outbox: &Outbox<Msg>) {
    let (offered, delivered, dropped, queued) = outbox.accounting();
    assert_eq!(
        delivered + dropped + queued as u64,
        offered,
        "peer {}: delivered {delivered} + dropped {dropped} + queued {queued} != offered {offered}",
        outbox.peer()
    );
}

/// The messages `got` holds from `sender`, as (seq, echo) pairs, in the order they arrived.
fn from_sender(got: &[Msg], sender: PeerId) -> Vec<(u32, bool)> {
    got.iter()
        .filter(|m| m.from == sender)
        .map(|m| (m.seq, m.echo))
        .collect()
}

/// FC-28: `receiver` got exactly `count` messages from `sender`, once each, in order, in the form
/// its position calls for (echo for the sender itself, broadcast for the others).
fn assert_got_all(got: &[Msg], receiver: PeerId, sender: PeerId, count: u32) {
    let expected: Vec<(u32, bool)> = (0..count).map(|seq| (seq, receiver == sender)).collect();
    assert_eq!(
        from_sender(got, sender),
        expected,
        "FC-28: peer {receiver} must get each of peer {sender}'s messages once, in order"
    );
}

/// (1) §8.5: for every peer, delivered + dropped + queued = offered, while a relay overflows
/// queues of one frame and a writer drains concurrently.
fn model_accounting() {
    let hub = Arc::new(Hub::new(config(1)));
    let (a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);

    let sender = {
        let hub = hub.clone();
        thread::spawn(move || [relay(&hub, a, 0), relay(&hub, a, 1)])
    };
    let writer = {
        let b_out = b_out.clone();
        thread::spawn(move || {
            let mut got = Vec::new();
            let _ = b_out.try_drain(&mut got);
            assert_accounting(&b_out);
            got
        })
    };
    assert_accounting(&b_out);
    let relayed = sender.join().expect("sender thread");
    let got = writer.join().expect("writer thread");

    for outbox in [&a_out, &b_out] {
        assert_accounting(outbox);
        assert_eq!(
            outbox.offered(),
            2,
            "both relays reached peer {}",
            outbox.peer()
        );
    }
    // A never drains: its second echo cannot fit in one frame.
    assert_eq!(a_out.dropped(), 1);
    assert_eq!(a_out.close_reason(), Some(CloseReason::SlowConsumer));
    // B is slow exactly when the writer did not drain between the two relays.
    assert_eq!(b_out.delivered(), got.len() as u64);
    let b_slow = b_out.dropped();
    assert_eq!(
        b_out.close_reason() == Some(CloseReason::SlowConsumer),
        b_slow == 1
    );
    let all = [(0, false), (1, false)];
    assert_eq!(
        from_sender(&got, a),
        all[..got.len()],
        "B got a prefix of A's relays"
    );

    let stats = hub.stats();
    assert_eq!(stats.offered, 4);
    assert_eq!(stats.dropped, 1 + b_slow);
    assert_eq!(stats.delivered, got.len() as u64);
    assert_eq!(stats.slow_consumers, 1 + b_slow);
    assert_eq!(
        relayed.iter().map(|r| r.slow_consumers as u64).sum::<u64>(),
        stats.slow_consumers
    );
    assert_eq!(stats.queued(), (a_out.queued().0 + b_out.queued().0) as u64);
    assert_eq!(stats.peers as u64, 2 - stats.slow_consumers);
}

/// (2) FC-28: relays from two senders run concurrently; every receiver gets each sender's
/// messages once and in that sender's order, while a writer drains one receiver concurrently.
fn model_per_sender_order() {
    let hub = Arc::new(Hub::new(config(16)));
    let (a, a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    let (_c, c_out) = join(&hub);

    let senders = [a, b].map(|from| {
        let hub = hub.clone();
        thread::spawn(move || {
            relay(&hub, from, 0);
            relay(&hub, from, 1);
        })
    });
    let mut got_c = Vec::new();
    let _ = c_out.try_drain(&mut got_c);
    for sender in senders {
        sender.join().expect("sender thread");
    }

    let mut got = [Vec::new(), Vec::new(), got_c];
    for (outbox, got) in [&a_out, &b_out, &c_out].into_iter().zip(got.iter_mut()) {
        drain_rest(outbox, got);
        assert_accounting(outbox);
        assert_eq!(
            got.len(),
            4,
            "peer {}: two messages from each sender",
            outbox.peer()
        );
        for sender in [a, b] {
            assert_got_all(got, outbox.peer(), sender, 2);
        }
    }
}

/// (3) FC-28: a peer in the room for the whole relay gets it exactly once, while other relays and
/// a join and leave replace the registry concurrently.
fn model_exactly_once() {
    let hub = Arc::new(Hub::new(config(16)));
    let (a, a_out) = join(&hub);
    let (b, b_out) = join(&hub);

    let sender = {
        let hub = hub.clone();
        thread::spawn(move || relay(&hub, a, 0))
    };
    let churn = {
        let hub = hub.clone();
        thread::spawn(move || {
            let (d, d_out) = join(&hub);
            hub.leave(d);
            d_out
        })
    };
    let relayed_b = relay(&hub, b, 0);
    let relayed_a = sender.join().expect("sender thread");
    let d_out = churn.join().expect("churn thread");

    for outbox in [&a_out, &b_out] {
        let mut got = Vec::new();
        drain_rest(outbox, &mut got);
        assert_got_all(&got, outbox.peer(), a, 1);
        assert_got_all(&got, outbox.peer(), b, 1);
        assert_eq!(got.len(), 2);
        assert_accounting(outbox);
    }
    // D was in the room for part of each relay at most: each reached it at most once.
    let mut got_d = Vec::new();
    drain_rest(&d_out, &mut got_d);
    for sender in [a, b] {
        assert!(from_sender(&got_d, sender).len() <= 1);
    }
    assert_eq!(d_out.close_reason(), Some(CloseReason::Left));
    assert_eq!(
        relayed_a.recipients + relayed_b.recipients,
        4 + got_d.len(),
        "each relay counts the peers it reached"
    );
}

/// (4) Nothing is added to an outbox once `leave` has returned, whatever relay is in flight.
fn model_leave_during_relay() {
    let hub = Arc::new(Hub::new(config(16)));
    let (a, _a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    let (_c, c_out) = join(&hub);

    let sending = hub.clone();
    race_leave(&hub, b, &b_out, &c_out, a, move || {
        relay(&sending, a, 0);
        relay(&sending, a, 1);
    });
}

/// Runs `send` (messages 0 and 1 from `sender`) on one thread while B leaves on another, then
/// checks that nothing reached B after its leave returned, that B got a prefix of the two and
/// ends closed as `Left`, and that C, who stayed, got both.
fn race_leave(
    hub: &Arc<Hub<Msg>>,
    b: PeerId,
    b_out: &Outbox<Msg>,
    c_out: &Outbox<Msg>,
    sender: PeerId,
    send: impl FnOnce() + Send + 'static,
) {
    let sending = thread::spawn(send);
    let leaver = {
        let hub = hub.clone();
        let b_out = b_out.clone();
        thread::spawn(move || {
            hub.leave(b);
            b_out.offered()
        })
    };
    sending.join().expect("sending thread");
    let offered_when_leave_returned = leaver.join().expect("leaver thread");

    assert_eq!(
        b_out.offered(),
        offered_when_leave_returned,
        "nothing may be added after leave returns"
    );
    let mut got_b = Vec::new();
    drain_rest(b_out, &mut got_b);
    assert_eq!(
        b_out.try_drain(&mut got_b),
        Drain::Closed(CloseReason::Left)
    );
    let expected = [(0, false), (1, false)];
    assert_eq!(
        from_sender(&got_b, sender),
        expected[..got_b.len()],
        "B got a prefix of the sender's messages"
    );
    let mut got_c = Vec::new();
    drain_rest(c_out, &mut got_c);
    assert_got_all(&got_c, c_out.peer(), sender, 2);
    assert_accounting(b_out);
    assert_accounting(c_out);
}

/// (5) FC-26: a peer joining during a relay gets all of it or none of it, and every relay after.
fn model_join_during_relay() {
    let hub = Arc::new(Hub::new(config(16)));
    let (a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);

    let sender = {
        let hub = hub.clone();
        thread::spawn(move || {
            relay(&hub, a, 0);
            relay(&hub, a, 1);
        })
    };
    let joiner = {
        let hub = hub.clone();
        thread::spawn(move || {
            let (c, c_out) = join(&hub);
            relay(&hub, c, 0);
            (c, c_out)
        })
    };
    sender.join().expect("sender thread");
    let (c, c_out) = joiner.join().expect("joiner thread");

    let mut got_c = Vec::new();
    drain_rest(&c_out, &mut got_c);
    let from_a = from_sender(&got_c, a);
    let all = [(0, false), (1, false)];
    assert_eq!(
        from_a,
        all[all.len() - from_a.len()..],
        "a joiner gets a suffix of A's relays: each whole or not at all"
    );
    assert_got_all(&got_c, c, c, 1);
    for outbox in [&a_out, &b_out] {
        let mut got = Vec::new();
        drain_rest(outbox, &mut got);
        assert_got_all(&got, outbox.peer(), a, 2);
        assert_got_all(&got, outbox.peer(), c, 1);
        assert_accounting(outbox);
    }
    assert_accounting(&c_out);
}

/// (6) FC-29: relays into a full queue close it as a slow consumer once, without blocking or
/// deadlock, while the other recipient drains and loses nothing it had room for.
fn model_slow_consumer() {
    let hub = Arc::new(Hub::new(config(1)));
    let (b, b_out) = join(&hub);
    let (_c, c_out) = join(&hub);
    // B never drains: one frame fills it.
    assert!(hub.send(
        b,
        Msg {
            from: 0,
            seq: 0,
            echo: false
        }
    ));

    // Two senders outside the room: only B and C receive.
    let senders = [100, 200].map(|from| {
        let hub = hub.clone();
        thread::spawn(move || relay(&hub, from, 0))
    });
    let mut got_c = Vec::new();
    let _ = c_out.try_drain(&mut got_c);
    let relayed: Vec<Relayed> = senders
        .into_iter()
        .map(|s| s.join().expect("sender thread"))
        .collect();
    drain_rest(&c_out, &mut got_c);

    assert_eq!(b_out.close_reason(), Some(CloseReason::SlowConsumer));
    assert_eq!(
        (b_out.offered(), b_out.dropped(), b_out.queued().0),
        (2, 1, 1),
        "the first relay to find B full closes it; the other finds it closed"
    );
    let c_slow = c_out.close_reason() == Some(CloseReason::SlowConsumer);
    if !c_slow {
        assert_eq!(got_c.len(), 2, "a healthy peer loses nothing");
        assert_eq!(c_out.dropped(), 0);
    }
    let stats = hub.stats();
    assert_eq!(stats.slow_consumers, 1 + u64::from(c_slow));
    assert_eq!(
        relayed.iter().map(|r| r.slow_consumers as u64).sum::<u64>(),
        stats.slow_consumers
    );
    assert_eq!(stats.peers, usize::from(!c_slow));
    assert!(!hub.send(
        b,
        Msg {
            from: 0,
            seq: 1,
            echo: false
        }
    ));
    assert_accounting(&b_out);
    assert_accounting(&c_out);
}

/// (7a) A writer blocked in `poll_drain` is woken by the next message, again after each drain
/// (the waker is taken by a push and registered again by the next poll): a lost wakeup would
/// leave it blocked for ever, which loom reports as a deadlock.
fn model_wakeup_on_message() {
    let hub = Arc::new(Hub::new(config(16)));
    let (a, _a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    let done = Done::new();

    let writer = {
        let b_out = b_out.clone();
        let done = done.clone();
        thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < 2 {
                assert_eq!(next_drain(&b_out, &mut got, &done), Drain::Messages);
            }
            got
        })
    };
    let sender = {
        let hub = hub.clone();
        thread::spawn(move || {
            relay(&hub, a, 0);
            relay(&hub, a, 1);
        })
    };
    sender.join().expect("sender thread");
    done.set();
    let got = writer.join().expect("writer thread");
    assert_got_all(&got, b, a, 2);
    assert_accounting(&b_out);
}

/// (7b) A writer blocked in `poll_drain` is woken by a close, after a message it may or may not
/// have taken already, and sees every message before `Closed`.
fn model_wakeup_on_close() {
    let hub = Arc::new(Hub::new(config(16)));
    let (a, _a_out) = join(&hub);
    let (b, b_out) = join(&hub);
    let done = Done::new();

    let writer = {
        let b_out = b_out.clone();
        let done = done.clone();
        thread::spawn(move || {
            let mut got = Vec::new();
            loop {
                match next_drain(&b_out, &mut got, &done) {
                    Drain::Messages => continue,
                    Drain::Closed(reason) => return (reason, got),
                    Drain::Empty => unreachable!("next_drain never returns Empty"),
                }
            }
        })
    };
    let sender = {
        let hub = hub.clone();
        thread::spawn(move || {
            relay(&hub, a, 0);
        })
    };
    hub.leave(b);
    sender.join().expect("sender thread");
    done.set();
    let (reason, got) = writer.join().expect("writer thread");
    assert_eq!(reason, CloseReason::Left);
    assert_eq!(
        got.len() as u64,
        b_out.offered(),
        "every queued message before Closed"
    );
    assert_accounting(&b_out);
}

/// (8) FC-33: shutdown during a relay and a join: the join is refused or its outbox closed, every
/// outbox is closed with `Shutdown`, and nothing is added after shutdown returns.
fn model_shutdown() {
    let hub = Arc::new(Hub::new(config(16)));
    let (a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);

    let sender = {
        let hub = hub.clone();
        thread::spawn(move || {
            relay(&hub, a, 0);
        })
    };
    let joiner = {
        let hub = hub.clone();
        thread::spawn(move || hub.join())
    };
    hub.shutdown();
    let offered_at_shutdown = [a_out.offered(), b_out.offered()];
    sender.join().expect("sender thread");
    let joined = joiner.join().expect("joiner thread");

    assert_eq!([a_out.offered(), b_out.offered()], offered_at_shutdown);
    for outbox in [&a_out, &b_out] {
        assert_eq!(outbox.close_reason(), Some(CloseReason::Shutdown));
        assert_accounting(outbox);
    }
    match joined {
        Ok((_, c_out)) => assert_eq!(c_out.close_reason(), Some(CloseReason::Shutdown)),
        Err(e) => assert_eq!(e, JoinError::ShuttingDown),
    }
    assert!(hub.join().is_err());
    assert_eq!(hub.stats().peers, 0);
}

/// (9) §11, FC-28: a remote message broadcast while two local peers relay reaches every peer
/// exactly once (nobody gets it as an echo), and the local relays are not disturbed.
fn model_broadcast_among_relays() {
    let hub = Arc::new(Hub::new(config(16)));
    let (a, a_out) = join(&hub);
    let (b, b_out) = join(&hub);

    let sender = {
        let hub = hub.clone();
        thread::spawn(move || relay(&hub, a, 0))
    };
    let bus = {
        let hub = hub.clone();
        thread::spawn(move || broadcast(&hub, 0))
    };
    let relayed_b = relay(&hub, b, 0);
    let relayed_a = sender.join().expect("sender thread");
    let relayed_remote = bus.join().expect("bus thread");

    for outbox in [&a_out, &b_out] {
        let mut got = Vec::new();
        drain_rest(outbox, &mut got);
        assert_got_all(&got, outbox.peer(), a, 1);
        assert_got_all(&got, outbox.peer(), b, 1);
        assert_got_all(&got, outbox.peer(), REMOTE, 1);
        assert_eq!(got.len(), 3, "peer {}: one of each", outbox.peer());
        assert_accounting(outbox);
    }
    assert_eq!(
        relayed_remote,
        Relayed {
            recipients: 2,
            slow_consumers: 0
        }
    );
    assert_eq!(relayed_a.recipients + relayed_b.recipients, 4);
    assert_eq!(
        hub.stats().offered,
        6,
        "a broadcast is counted as a relay is"
    );
}

/// (10) FC-28 across nodes: one bus thread broadcasts a remote sender's messages in order; every
/// peer gets them in that order, while a local relay and a writer run concurrently.
fn model_broadcasts_keep_their_order() {
    let hub = Arc::new(Hub::new(config(16)));
    let (a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);

    let bus = {
        let hub = hub.clone();
        thread::spawn(move || {
            broadcast(&hub, 0);
            broadcast(&hub, 1);
        })
    };
    let sender = {
        let hub = hub.clone();
        thread::spawn(move || relay(&hub, a, 0))
    };
    let mut got_b = Vec::new();
    let _ = b_out.try_drain(&mut got_b);
    bus.join().expect("bus thread");
    sender.join().expect("sender thread");

    let mut got_a = Vec::new();
    drain_rest(&a_out, &mut got_a);
    drain_rest(&b_out, &mut got_b);
    for (outbox, got) in [(&a_out, &got_a), (&b_out, &got_b)] {
        assert_got_all(got, outbox.peer(), REMOTE, 2);
        assert_got_all(got, outbox.peer(), a, 1);
        assert_accounting(outbox);
    }
}

/// (11) Nothing reaches a peer once its `leave` has returned, whatever broadcast is in flight; the
/// peers that stay get every broadcast.
fn model_leave_during_broadcast() {
    let hub = Arc::new(Hub::new(config(16)));
    let (b, b_out) = join(&hub);
    let (_c, c_out) = join(&hub);

    let sending = hub.clone();
    race_leave(&hub, b, &b_out, &c_out, REMOTE, move || {
        broadcast(&sending, 0);
        broadcast(&sending, 1);
    });
}

/// (12) FC-33: a broadcast racing shutdown adds nothing once shutdown has returned, and every
/// outbox ends closed with `Shutdown`, holding the broadcast whole or not at all.
fn model_broadcast_during_shutdown() {
    let hub = Arc::new(Hub::new(config(16)));
    let (_a, a_out) = join(&hub);
    let (_b, b_out) = join(&hub);

    let bus = {
        let hub = hub.clone();
        thread::spawn(move || broadcast(&hub, 0))
    };
    hub.shutdown();
    let offered_at_shutdown = [a_out.offered(), b_out.offered()];
    let relayed = bus.join().expect("bus thread");

    assert_eq!([a_out.offered(), b_out.offered()], offered_at_shutdown);
    let mut reached = 0;
    for outbox in [&a_out, &b_out] {
        assert_eq!(outbox.close_reason(), Some(CloseReason::Shutdown));
        let mut got = Vec::new();
        drain_rest(outbox, &mut got);
        assert!(got.len() <= 1, "at most one copy of the broadcast");
        reached += got.len();
        assert_accounting(outbox);
    }
    assert_eq!(
        relayed.recipients, reached,
        "the broadcast counts the peers it reached"
    );
}

#[test]
fn accounting_holds_for_every_peer() {
    rt::check("accounting", model_accounting);
}

#[test]
fn concurrent_senders_keep_per_sender_order() {
    rt::check("per_sender_order", model_per_sender_order);
}

#[test]
fn peers_in_the_room_for_the_whole_relay_get_it_exactly_once() {
    rt::check("exactly_once", model_exactly_once);
}

#[test]
fn nothing_is_added_after_leave_returns() {
    rt::check("leave_during_relay", model_leave_during_relay);
}

#[test]
fn a_joiner_gets_a_whole_relay_or_none_of_it() {
    rt::check("join_during_relay", model_join_during_relay);
}

#[test]
fn a_full_queue_makes_a_slow_consumer_without_blocking() {
    rt::check("slow_consumer", model_slow_consumer);
}

#[test]
fn a_message_wakes_the_blocked_writer() {
    rt::check("wakeup_on_message", model_wakeup_on_message);
}

#[test]
fn a_close_wakes_the_blocked_writer_after_its_messages() {
    rt::check("wakeup_on_close", model_wakeup_on_close);
}

#[test]
fn shutdown_closes_every_outbox_and_refuses_joins() {
    rt::check("shutdown", model_shutdown);
}

#[test]
fn a_remote_broadcast_among_local_relays_reaches_every_peer_exactly_once() {
    rt::check("broadcast_among_relays", model_broadcast_among_relays);
}

#[test]
fn broadcasts_from_one_thread_arrive_in_order_at_every_peer() {
    rt::check(
        "broadcasts_keep_their_order",
        model_broadcasts_keep_their_order,
    );
}

#[test]
fn nothing_is_broadcast_to_a_peer_after_its_leave_returns() {
    rt::check("leave_during_broadcast", model_leave_during_broadcast);
}

#[test]
fn a_broadcast_adds_nothing_after_shutdown_returns() {
    rt::check("broadcast_during_shutdown", model_broadcast_during_shutdown);
}

/// Reports one line per model on stderr, past the test harness's capture.
fn report(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[cfg(framechat_loom)]
mod rt {
    use std::future::poll_fn;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use crate::hub::{Drain, Outbox};

    pub(super) use loom::sync::Arc;
    pub(super) use loom::thread;

    use super::Msg;

    /// The preemption bound when `LOOM_MAX_PREEMPTIONS` is not set.
    const DEFAULT_PREEMPTION_BOUND: usize = 3;

    /// Explores `model` under loom and reports how many interleavings it ran.
    pub(super) fn check(name: &str, model: fn()) {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(DEFAULT_PREEMPTION_BOUND);
        }
        let bound = builder.preemption_bound;
        let iterations = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&iterations);
        let start = Instant::now();
        builder.check(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            model();
        });
        let explored = iterations.load(Ordering::Relaxed);
        assert!(explored > 0, "loom ran model {name} zero times");
        super::report(format_args!(
            "loom model {name}: {explored} interleavings, preemption bound {bound:?}, {:.2?}",
            start.elapsed()
        ));
    }

    /// A no-op under loom: loom itself finds a writer that is never woken (a deadlock).
    #[derive(Clone)]
    pub(super) struct Done;

    impl Done {
        pub(super) fn new() -> Done {
            Done
        }
        pub(super) fn set(&self) {}
    }

    /// Blocks (in loom's sense) until `poll_drain` is ready, and returns what it said.
    pub(super) fn next_drain(outbox: &Outbox<Msg>, got: &mut Vec<Msg>, _done: &Done) -> Drain {
        loom::future::block_on(poll_fn(|cx| outbox.poll_drain(cx, got)))
    }
}

#[cfg(not(framechat_loom))]
mod rt {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};
    use std::time::Duration;

    use crate::hub::{Drain, Outbox};

    pub(super) use std::sync::Arc;
    pub(super) use std::thread;

    use super::Msg;

    /// How many times each model body runs on std threads without loom.
    const STD_ITERATIONS: usize = 200;

    /// Runs `model` `STD_ITERATIONS` times on std threads, and says that loom was not enabled.
    pub(super) fn check(name: &str, model: fn()) {
        for _ in 0..STD_ITERATIONS {
            model();
        }
        super::report(format_args!(
            "loom NOT enabled (build with RUSTFLAGS=\"--cfg framechat_loom\"): model {name} ran \
             {STD_ITERATIONS} times on std threads, without exploring interleavings"
        ));
    }

    /// Set by a model once every thread that could add to or close an outbox has finished.
    #[derive(Clone)]
    pub(super) struct Done(Arc<AtomicBool>);

    impl Done {
        pub(super) fn new() -> Done {
            Done(Arc::new(AtomicBool::new(false)))
        }
        pub(super) fn set(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// A waker that counts its wakes and unparks the writer thread.
    struct Unpark {
        wakes: AtomicUsize,
        thread: thread::Thread,
    }

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::SeqCst);
            self.thread.unpark();
        }
    }

    /// Parks until `poll_drain` is ready, and returns what it said.
    ///
    /// Detects a lost wakeup without any timing assumption: after `Pending`, once `done` says
    /// every producer has finished (so every wake that will ever happen has happened) and no wake
    /// came, the outbox must still be open and empty; if a drain then finds a message or a close,
    /// that change came after the `Pending` and did not wake the registered waker. The short
    /// parks only set how often `done` is looked at.
    pub(super) fn next_drain(outbox: &Outbox<Msg>, got: &mut Vec<Msg>, done: &Done) -> Drain {
        let unpark = Arc::new(Unpark {
            wakes: AtomicUsize::new(0),
            thread: thread::current(),
        });
        let waker = Waker::from(Arc::clone(&unpark));
        let mut cx = Context::from_waker(&waker);
        loop {
            let seen = unpark.wakes.load(Ordering::SeqCst);
            match outbox.poll_drain(&mut cx, got) {
                Poll::Ready(drain) => return drain,
                Poll::Pending => {
                    loop {
                        if unpark.wakes.load(Ordering::SeqCst) != seen {
                            break;
                        }
                        if done.0.load(Ordering::SeqCst) {
                            if unpark.wakes.load(Ordering::SeqCst) != seen {
                                break;
                            }
                            let mut probe = Vec::new();
                            let found = outbox.try_drain(&mut probe);
                            assert_eq!(
                            found,
                            Drain::Empty,
                            "lost wakeup: the outbox changed after Pending and nobody woke the writer"
                        );
                            panic!("the model finished without giving this writer anything to wait for");
                        }
                        thread::park_timeout(Duration::from_millis(1));
                    }
                }
            }
        }
    }
}
