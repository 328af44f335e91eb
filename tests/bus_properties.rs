//! Properties of the cluster bus's sans-IO layer (§11): the envelope round-trips and never panics,
//! and the tracker counts exactly what the bus lost.
#![cfg(feature = "cluster")]

use std::time::{Duration, Instant};

use framechat::cluster::{
    BusDecodeError, Envelope, GapTracker, Membership, Origin, RelayedMessage, Verdict,
};
use framechat::{Limits, UnixMicros};
use proptest::prelude::*;

fn origin() -> impl Strategy<Value = Origin> {
    (any::<u64>(), any::<u64>()).prop_map(|(node, epoch)| Origin { node, epoch })
}

/// Any envelope a node may publish under the default limit (FC-39 to FC-41).
fn envelope() -> impl Strategy<Value = Envelope> {
    let message = (
        origin(),
        1..=u64::MAX,
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        ".{0,64}",
    )
        .prop_map(
            |(origin, seq, local, sent_at, relayed_at, text)| Envelope::Message {
                origin,
                seq,
                message: RelayedMessage {
                    from: origin.peer_id(local),
                    sent_at: UnixMicros(sent_at),
                    relayed_at: UnixMicros(relayed_at),
                    text,
                },
            },
        );
    let heartbeat = (origin(), any::<u64>())
        .prop_map(|(origin, last_seq)| Envelope::Heartbeat { origin, last_seq });
    prop_oneof![message, heartbeat]
}

fn encoded(envelope: &Envelope, limits: Limits) -> Vec<u8> {
    let mut bytes = Vec::new();
    envelope
        .encode(limits, &mut bytes)
        .expect("the strategy makes only valid envelopes");
    bytes
}

proptest! {
    #[test]
    fn decoding_an_encoded_envelope_gives_it_back(envelope in envelope()) {
        let bytes = encoded(&envelope, Limits::default());
        prop_assert_eq!(Envelope::decode(&bytes, Limits::default()), Ok(envelope));
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        limit in 64u32..200,
    ) {
        let limits = Limits::new(limit).expect("in §6.1's range");
        let _ = Envelope::decode(&bytes, limits);
    }

    #[test]
    fn decode_never_panics_on_a_damaged_envelope_and_accepts_only_valid_ones(
        envelope in envelope(),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encoded(&envelope, Limits::default());
        for (at, byte) in damage {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let keep = cut.index(bytes.len() + 1);
        for input in [&bytes[..], &bytes[..keep]] {
            // FC-42: a malformed envelope is an error, never a panic; one that decodes re-encodes
            // to the same bytes, so no damage is accepted as something else.
            if let Ok(decoded) = Envelope::decode(input, Limits::default()) {
                prop_assert_eq!(encoded(&decoded, Limits::default()), input);
            }
        }
    }
}

/// One publication of a node, in the order it published them.
#[derive(Clone, Copy, Debug)]
enum Published {
    Message(u64),
    Heartbeat(u64),
}

/// One node's run: a heartbeat before anything (the baseline at 0, FC-44), `count` messages with
/// heartbeats among them, and a last heartbeat that announces the tail (FC-45).
fn run(count: u64, heartbeat_every: u64) -> Vec<Published> {
    let mut published = vec![Published::Heartbeat(0)];
    for seq in 1..=count {
        published.push(Published::Message(seq));
        if seq % heartbeat_every == 0 {
            published.push(Published::Heartbeat(seq));
        }
    }
    published.push(Published::Heartbeat(count));
    published
}

fn to_envelope(origin: Origin, published: Published) -> Envelope<&'static str> {
    match published {
        Published::Message(seq) => Envelope::Message {
            origin,
            seq,
            message: RelayedMessage {
                from: origin.peer_id(1),
                sent_at: UnixMicros(seq),
                relayed_at: UnixMicros(seq),
                text: "m",
            },
        },
        Published::Heartbeat(last_seq) => Envelope::Heartbeat { origin, last_seq },
    }
}

const ME: Origin = Origin {
    node: 0x0000_0001_0000_0000,
    epoch: 1,
};
const NODES: [Origin; 2] = [
    Origin {
        node: 0x0000_0002_0000_0000,
        epoch: 7,
    },
    Origin {
        node: 0x0000_0003_0000_0000,
        epoch: 9,
    },
];

proptest! {
    #[test]
    fn the_tracker_counts_exactly_the_messages_the_bus_dropped_and_delivers_the_rest_in_order(
        counts in (1u64..40, 1u64..40),
        heartbeat_every in 1u64..10,
        // Per publication: whether the bus drops it (the first and last heartbeats never are).
        drops in proptest::collection::vec(any::<bool>(), 100),
        // Which node's next publication arrives next: an arbitrary interleaving, own node included.
        schedule in proptest::collection::vec(0usize..3, 300),
    ) {
        let runs = [run(counts.0, heartbeat_every), run(counts.1, heartbeat_every)];
        let own = run(3, 1);
        let mut tracker = GapTracker::new(ME, Membership::default());
        let now = Instant::now();
        let mut next = [0usize; 3];
        let mut delivered: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        let mut dropped = [0u64; 2];
        let mut reported = [0u64; 2];
        let mut drop_flags = drops.iter().cycle();
        // The schedule first, then whatever is left in node order.
        let order = schedule.iter().copied().chain((0..3).flat_map(|node| std::iter::repeat_n(node, 200)));
        for node in order {
            if node == 2 {
                if let Some(&published) = own.get(next[2]) {
                    next[2] += 1;
                    // FC-43: this node's own publications come back and are ignored.
                    prop_assert_eq!(tracker.on_envelope(&to_envelope(ME, published), now), Verdict::Own);
                }
                continue;
            }
            let Some(&published) = runs[node].get(next[node]) else { continue };
            let first_or_last = next[node] == 0 || next[node] + 1 == runs[node].len();
            next[node] += 1;
            let lost = *drop_flags.next().unwrap_or(&false) && !first_or_last;
            if lost {
                if let Published::Message(_) = published {
                    dropped[node] += 1;
                }
                continue;
            }
            match tracker.on_envelope(&to_envelope(NODES[node], published), now) {
                Verdict::Deliver { gap } => {
                    reported[node] += gap;
                    match published {
                        Published::Message(seq) => delivered[node].push(seq),
                        Published::Heartbeat(_) => prop_assert!(false, "a heartbeat delivered"),
                    }
                }
                Verdict::Heartbeat { lost_tail } => reported[node] += lost_tail,
                other => prop_assert!(false, "an in-order stream gave {:?}", other),
            }
        }
        for node in 0..2 {
            prop_assert_eq!(next[node], runs[node].len(), "every publication was offered");
            prop_assert_eq!(reported[node], dropped[node], "node {}: lost is exactly what was dropped", node);
            let count = [counts.0, counts.1][node];
            prop_assert_eq!(delivered[node].len() as u64 + dropped[node], count);
            prop_assert!(delivered[node].windows(2).all(|pair| pair[0] < pair[1]), "in order");
        }
        prop_assert_eq!(tracker.stats().lost(), dropped[0] + dropped[1]);
        prop_assert_eq!(tracker.alive_count(), 2);
    }
}

#[test]
fn a_malformed_message_is_counted_and_its_loss_shows_as_the_next_gap() {
    // FC-42: the malformed envelope is dropped without trusting its seq; the next message of its
    // origin reveals the loss.
    let node = NODES[0];
    let limits = Limits::default();
    let mut tracker = GapTracker::new(ME, Membership::default());
    let now = Instant::now();
    let mut bytes = Vec::new();
    to_envelope(node, Published::Message(1))
        .encode(limits, &mut bytes)
        .expect("a valid message");
    let mut damaged = Vec::new();
    to_envelope(node, Published::Message(2))
        .encode(limits, &mut damaged)
        .expect("a valid message");
    let last = damaged.len() - 1;
    damaged[last] = 0xff; // the text's only byte: no longer UTF-8
    let mut third = Vec::new();
    to_envelope(node, Published::Message(3))
        .encode(limits, &mut third)
        .expect("a valid message");

    let mut verdicts = Vec::new();
    for input in [&bytes, &damaged, &third] {
        match Envelope::decode(input, limits) {
            Ok(envelope) => verdicts.push(tracker.on_envelope(&envelope, now)),
            Err(BusDecodeError::Frame(_)) => tracker.on_malformed(),
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(
        verdicts,
        [Verdict::Deliver { gap: 0 }, Verdict::Deliver { gap: 1 }]
    );
    assert_eq!(tracker.stats().malformed, 1);
    assert_eq!(tracker.stats().lost(), 1);
}

#[test]
fn a_node_that_stops_publishing_is_gone_after_three_heartbeat_intervals() {
    // FC-47 with the reference values: alive through 3 s of silence minus a tick, gone at 3 s.
    let mut tracker = GapTracker::new(ME, Membership::default());
    let start = Instant::now();
    tracker.on_envelope(&to_envelope(NODES[0], Published::Heartbeat(0)), start);
    let deadline = tracker.poll_timeout().expect("a node is tracked");
    assert_eq!(deadline, start + Duration::from_secs(3));
    tracker.handle_timeout(deadline - Duration::from_nanos(1));
    assert_eq!(tracker.alive_count(), 1);
    tracker.handle_timeout(deadline);
    assert_eq!(tracker.alive_count(), 0);
}
