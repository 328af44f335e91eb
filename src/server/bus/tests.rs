//! The bus's pure parts: numbering with drops (FC-48), the envelope of a local message, what the
//! tracker's verdicts do to the counters.

use std::time::Instant;

use super::*;
use crate::cluster::{ClusterName, Membership};
use crate::UnixMicros;

const HERE: Origin = Origin {
    node: 0x0000_0001_0000_00aa,
    epoch: 10,
};
const THERE: Origin = Origin {
    node: 0x0000_0002_0000_00bb,
    epoch: 20,
};

#[test]
fn messages_are_numbered_from_one_and_a_heartbeat_repeats_the_last_number() {
    let mut sequencer = Sequencer::default();
    assert_eq!(
        sequencer.heartbeat(0),
        0,
        "§11.2: 0 before the first message"
    );
    assert_eq!(
        [0, 0, 0].map(|dropped| sequencer.next_message(dropped)),
        [1, 2, 3]
    );
    assert_eq!(sequencer.heartbeat(0), 3);
    assert_eq!(sequencer.heartbeat(0), 3);
}

#[test]
fn dropped_messages_use_up_numbers_so_the_next_publication_shows_them() {
    // FC-48: the drops before a message become the gap in front of it; the drops before a
    // heartbeat its lost tail.
    let mut sequencer = Sequencer::default();
    assert_eq!(sequencer.next_message(0), 1);
    assert_eq!(sequencer.next_message(2), 4);
    assert_eq!(sequencer.heartbeat(3), 7);
    assert_eq!(sequencer.next_message(0), 8);
}

#[test]
fn a_receiver_counts_exactly_the_dropped_messages_as_lost() {
    // FC-44, FC-45, FC-48, end to end: what one node numbers, another's tracker counts.
    let mut sequencer = Sequencer::default();
    let mut tracker = GapTracker::new(HERE, Membership::default());
    let now = Instant::now();
    let heartbeat = |sequencer: &mut Sequencer, dropped| Envelope::<&str>::Heartbeat {
        origin: THERE,
        last_seq: sequencer.heartbeat(dropped),
    };
    let message = |sequencer: &mut Sequencer, dropped| Envelope::Message {
        origin: THERE,
        seq: sequencer.next_message(dropped),
        message: RelayedMessage {
            from: THERE.peer_id(1),
            sent_at: UnixMicros(1),
            relayed_at: UnixMicros(2),
            text: "m",
        },
    };
    // The first heartbeat on connecting: the baseline.
    tracker.on_envelope(&heartbeat(&mut sequencer, 0), now);
    let mut delivered = 0;
    let mut dropped_total = 0;
    for dropped in [0, 1, 0, 5, 0, 2] {
        dropped_total += dropped;
        if let Verdict::Deliver { .. } = tracker.on_envelope(&message(&mut sequencer, dropped), now)
        {
            delivered += 1;
        }
    }
    dropped_total += 4;
    tracker.on_envelope(&heartbeat(&mut sequencer, 4), now);
    let stats = tracker.stats();
    assert_eq!(delivered, 6);
    assert_eq!(stats.gap_messages, 8);
    assert_eq!(stats.lost_tail_messages, 4);
    assert_eq!(stats.lost(), dropped_total);
}

fn relayed(profile: Profile, text: &str) -> Relayed {
    Relayed::encode(
        profile,
        Limits::default(),
        HERE.peer_id(3),
        UnixMicros(100),
        UnixMicros(150),
        text,
    )
    .expect("a short text encodes")
}

fn expected_envelope(seq: u64, text: &str) -> Vec<u8> {
    let envelope = Envelope::Message {
        origin: HERE,
        seq,
        message: RelayedMessage {
            from: HERE.peer_id(3),
            sent_at: UnixMicros(100),
            relayed_at: UnixMicros(150),
            text,
        },
    };
    let mut bytes = Vec::new();
    envelope
        .encode(Limits::default(), &mut bytes)
        .expect("encodes");
    bytes
}

#[test]
fn a_typed_senders_message_is_wrapped_around_its_relayed_bytes() {
    // FC-39: the body is the sender's BROADCAST frame, byte for byte, as `Envelope::encode` writes.
    let message = relayed(Profile::Typed, "hello, cluster");
    let mut out = Vec::new();
    message_envelope(HERE, 7, &message, Limits::default(), &mut out).expect("wraps");
    assert_eq!(out, expected_envelope(7, "hello, cluster"));
    assert_eq!(
        &out[26..],
        message.broadcast_in(Profile::Typed).expect("typed bytes")
    );
}

#[test]
fn a_legacy_senders_message_is_encoded_once_as_a_typed_broadcast() {
    // FC-39: the bus carries only typed BROADCAST frames, whatever the sender's profile.
    let message = relayed(Profile::Legacy, "from a legacy peer");
    let mut out = Vec::new();
    message_envelope(HERE, 2, &message, Limits::default(), &mut out).expect("wraps");
    assert_eq!(out, expected_envelope(2, "from a legacy peer"));
    let decoded = Envelope::decode(&out, Limits::default()).expect("decodes");
    assert_eq!(decoded.origin(), HERE);
}

#[test]
fn the_counters_mirror_what_the_tracker_made_of_each_verdict() {
    let counters = BusCounters::default();
    let mut tracker = GapTracker::new(HERE, Membership::default());
    let now = Instant::now();
    let message = |seq| Envelope::Message {
        origin: THERE,
        seq,
        message: RelayedMessage {
            from: THERE.peer_id(1),
            sent_at: UnixMicros(1),
            relayed_at: UnixMicros(2),
            text: "m",
        },
    };
    let stale = Envelope::<&str>::Heartbeat {
        origin: Origin {
            epoch: THERE.epoch - 1,
            ..THERE
        },
        last_seq: 0,
    };
    for envelope in [message(1), message(4), message(4)] {
        tracker.on_envelope(&envelope, now);
    }
    tracker.on_envelope(
        &Envelope::<&str>::Heartbeat {
            origin: THERE,
            last_seq: 6,
        },
        now,
    );
    tracker.on_envelope(&stale, now);
    tracker.on_malformed();
    counters.mirror(&tracker.stats(), tracker.alive_count());
    counters.connected.store(true, Relaxed);
    counters.reconnects.store(3, Relaxed);
    let stats = counters.stats();
    assert_eq!(
        stats,
        BusStats {
            connected: true,
            published: 0,
            publish_dropped: 0,
            delivered: 2,
            gap_messages: 2,
            lost_tail_messages: 2,
            duplicates: 1,
            stale_epoch: 1,
            malformed: 1,
            reconnects: 3,
            nodes_alive: 1,
        }
    );
    assert_eq!(stats.lost(), 4);
}

#[test]
fn the_connected_server_is_named_as_configured_when_its_port_matches() {
    let configured = [
        "nats://127.0.0.1:4222".to_string(),
        "nats://127.0.0.1:4223".to_string(),
    ];
    let info = |port| async_nats::ServerInfo {
        host: "0.0.0.0".to_string(),
        port,
        ..Default::default()
    };
    assert_eq!(
        connected_server(&configured, &info(4223)),
        "nats://127.0.0.1:4223"
    );
    assert_eq!(
        connected_server(&configured, &info(5000)),
        "nats://0.0.0.0:5000"
    );
}

#[test]
fn a_configured_node_id_is_kept_and_a_missing_one_is_drawn_per_start() {
    let name = ClusterName::new("test").expect("a valid name");
    let mut config = ClusterConfig::new(vec!["nats://127.0.0.1:1".to_string()], name);
    let (first, second) = (origin_for(&config), origin_for(&config));
    assert_ne!(first.node, second.node, "64 random bits per start");
    assert!(
        first.epoch > 1_600_000_000_000_000,
        "microseconds since 1970"
    );
    config.node = Some(0xabcd);
    assert_eq!(origin_for(&config).node, 0xabcd);
}

#[test]
fn bus_events_read_as_the_lines_serve_prints() {
    let connected = BusEvent::Connected {
        server: "nats://127.0.0.1:4222".to_string(),
    };
    assert_eq!(
        connected.to_string(),
        "bus connected to nats://127.0.0.1:4222"
    );
    assert_eq!(BusEvent::Disconnected.to_string(), "bus disconnected");
}
