//! The tracker's edge cases, one rule of §11.3 and §11.4 each, with instants made up (no clock).

use std::time::{Duration, Instant};

use super::*;
use crate::cluster::RelayedMessage;
use crate::UnixMicros;

const ME: Origin = Origin {
    node: 0x0000_0001_0000_0000,
    epoch: 100,
};
const OTHER: Origin = Origin {
    node: 0x0000_0002_0000_0000,
    epoch: 50,
};
const SECOND: Duration = Duration::from_secs(1);

fn message(origin: Origin, seq: u64) -> Envelope<&'static str> {
    Envelope::Message {
        origin,
        seq,
        message: RelayedMessage {
            from: origin.peer_id(1),
            sent_at: UnixMicros(0),
            relayed_at: UnixMicros(0),
            text: "m",
        },
    }
}

fn heartbeat(origin: Origin, last_seq: u64) -> Envelope<&'static str> {
    Envelope::Heartbeat { origin, last_seq }
}

fn tracker() -> GapTracker {
    GapTracker::new(ME, Membership::default())
}

fn changes(tracker: &mut GapTracker) -> Vec<MembershipChange> {
    std::iter::from_fn(|| tracker.poll_membership()).collect()
}

fn deliver(gap: u64) -> Verdict {
    Verdict::Deliver { gap }
}

#[test]
fn first_message_of_a_node_is_the_baseline_and_is_delivered_without_a_gap() {
    let (mut tracker, now) = (tracker(), Instant::now());
    assert_eq!(tracker.on_envelope(&message(OTHER, 41), now), deliver(0));
    assert_eq!(tracker.on_envelope(&message(OTHER, 42), now), deliver(0));
    assert_eq!(tracker.stats().lost(), 0);
    assert_eq!(
        changes(&mut tracker),
        [MembershipChange::Joined { origin: OTHER }]
    );
}

#[test]
fn first_heartbeat_of_a_node_is_the_baseline_and_announces_no_loss() {
    let (mut tracker, now) = (tracker(), Instant::now());
    let verdict = tracker.on_envelope(&heartbeat(OTHER, 500), now);
    assert_eq!(verdict, Verdict::Heartbeat { lost_tail: 0 });
    assert_eq!(tracker.on_envelope(&message(OTHER, 501), now), deliver(0));
}

#[test]
fn skipped_numbers_are_a_gap_of_that_many_then_the_message_is_delivered() {
    let (mut tracker, now) = (tracker(), Instant::now());
    tracker.on_envelope(&heartbeat(OTHER, 0), now);
    assert_eq!(tracker.on_envelope(&message(OTHER, 1), now), deliver(0));
    assert_eq!(tracker.on_envelope(&message(OTHER, 5), now), deliver(3));
    assert_eq!(tracker.stats().gap_messages, 3);
    assert_eq!(tracker.stats().delivered, 2);
}

#[test]
fn messages_lost_before_the_first_after_a_heartbeat_are_a_gap() {
    let (mut tracker, now) = (tracker(), Instant::now());
    tracker.on_envelope(&heartbeat(OTHER, 0), now);
    assert_eq!(tracker.on_envelope(&message(OTHER, 3), now), deliver(2));
}

#[test]
fn a_duplicate_is_dropped_and_counted() {
    let (mut tracker, now) = (tracker(), Instant::now());
    tracker.on_envelope(&message(OTHER, 1), now);
    assert_eq!(
        tracker.on_envelope(&message(OTHER, 1), now),
        Verdict::Duplicate
    );
    assert_eq!(tracker.stats().duplicates, 1);
    assert_eq!(tracker.stats().delivered, 1);
}

#[test]
fn a_message_counted_lost_that_arrives_late_is_dropped_not_delivered() {
    let (mut tracker, now) = (tracker(), Instant::now());
    tracker.on_envelope(&message(OTHER, 1), now);
    assert_eq!(tracker.on_envelope(&message(OTHER, 3), now), deliver(1));
    assert_eq!(
        tracker.on_envelope(&message(OTHER, 2), now),
        Verdict::Duplicate
    );
    assert_eq!(tracker.stats().lost(), 1, "counted once, at the gap");
}

#[test]
fn a_heartbeat_past_the_highest_number_reports_the_lost_tail() {
    let (mut tracker, now) = (tracker(), Instant::now());
    tracker.on_envelope(&message(OTHER, 1), now);
    let verdict = tracker.on_envelope(&heartbeat(OTHER, 4), now);
    assert_eq!(verdict, Verdict::Heartbeat { lost_tail: 3 });
    assert_eq!(tracker.stats().lost_tail_messages, 3);
    // The tail, should it arrive after all, is not delivered: it was counted lost.
    assert_eq!(
        tracker.on_envelope(&message(OTHER, 4), now),
        Verdict::Duplicate
    );
    assert_eq!(tracker.on_envelope(&message(OTHER, 5), now), deliver(0));
}

#[test]
fn a_heartbeat_at_or_below_the_highest_number_reports_nothing() {
    let (mut tracker, now) = (tracker(), Instant::now());
    tracker.on_envelope(&message(OTHER, 7), now);
    let at = tracker.on_envelope(&heartbeat(OTHER, 7), now);
    let below = tracker.on_envelope(&heartbeat(OTHER, 2), now);
    assert_eq!(at, Verdict::Heartbeat { lost_tail: 0 });
    assert_eq!(below, Verdict::Heartbeat { lost_tail: 0 });
    assert_eq!(tracker.on_envelope(&message(OTHER, 8), now), deliver(0));
}

#[test]
fn a_newer_epoch_restarts_tracking_from_zero() {
    let (mut tracker, now) = (tracker(), Instant::now());
    tracker.on_envelope(&message(OTHER, 900), now);
    let restarted = Origin { epoch: 51, ..OTHER };
    // The new run numbers from 1: its first message seen is 3, so 1 and 2 were lost.
    assert_eq!(tracker.on_envelope(&message(restarted, 3), now), deliver(2));
    assert_eq!(
        changes(&mut tracker),
        [
            MembershipChange::Joined { origin: OTHER },
            MembershipChange::Restarted {
                node: OTHER.node,
                previous_epoch: 50,
                epoch: 51
            }
        ]
    );
}

#[test]
fn a_heartbeat_of_a_newer_epoch_counts_its_unseen_messages_as_lost() {
    let (mut tracker, now) = (tracker(), Instant::now());
    tracker.on_envelope(&message(OTHER, 900), now);
    let restarted = Origin { epoch: 51, ..OTHER };
    let verdict = tracker.on_envelope(&heartbeat(restarted, 2), now);
    assert_eq!(verdict, Verdict::Heartbeat { lost_tail: 2 });
}

#[test]
fn envelopes_of_an_older_epoch_are_dropped_after_a_restart() {
    let (mut tracker, now) = (tracker(), Instant::now());
    let restarted = Origin { epoch: 51, ..OTHER };
    tracker.on_envelope(&message(restarted, 1), now);
    assert_eq!(
        tracker.on_envelope(&message(OTHER, 901), now),
        Verdict::StaleEpoch
    );
    assert_eq!(
        tracker.on_envelope(&heartbeat(OTHER, 901), now),
        Verdict::StaleEpoch
    );
    assert_eq!(tracker.stats().stale_epoch, 2);
    // Still tracking the new run where it was.
    assert_eq!(tracker.on_envelope(&message(restarted, 2), now), deliver(0));
}

#[test]
fn this_nodes_own_publications_are_ignored() {
    let (mut tracker, now) = (tracker(), Instant::now());
    assert_eq!(tracker.on_envelope(&message(ME, 1), now), Verdict::Own);
    assert_eq!(tracker.on_envelope(&heartbeat(ME, 1), now), Verdict::Own);
    assert_eq!(tracker.alive_count(), 0);
    assert_eq!(tracker.stats(), TrackerStats::default());
}

#[test]
fn this_nodes_id_with_another_epoch_is_a_clash_and_is_dropped() {
    let (mut tracker, now) = (tracker(), Instant::now());
    let impostor = Origin { epoch: 99, ..ME };
    assert_eq!(
        tracker.on_envelope(&message(impostor, 1), now),
        Verdict::NodeIdClash
    );
    assert_eq!(tracker.stats().node_id_clashes, 1);
    assert_eq!(tracker.alive_count(), 0);
}

#[test]
fn another_node_with_this_nodes_tag_is_reported_as_a_tag_clash() {
    let (mut tracker, now) = (tracker(), Instant::now());
    let same_tag = Origin {
        node: ME.node | 0x77,
        epoch: 1,
    };
    assert_eq!(tracker.on_envelope(&message(same_tag, 1), now), deliver(0));
    assert_eq!(
        changes(&mut tracker),
        [
            MembershipChange::Joined { origin: same_tag },
            MembershipChange::TagClash { origin: same_tag }
        ]
    );
}

#[test]
fn a_node_stays_alive_until_three_intervals_pass_without_an_envelope() {
    let (mut tracker, start) = (tracker(), Instant::now());
    tracker.on_envelope(&heartbeat(OTHER, 0), start);
    changes(&mut tracker);
    tracker.handle_timeout(start + 3 * SECOND - Duration::from_nanos(1));
    assert_eq!(tracker.alive_count(), 1);
    assert_eq!(changes(&mut tracker), []);

    tracker.handle_timeout(start + 3 * SECOND);
    assert_eq!(tracker.alive_count(), 0);
    assert_eq!(
        changes(&mut tracker),
        [MembershipChange::Gone { origin: OTHER }]
    );
}

#[test]
fn each_envelope_restarts_the_silence_that_makes_a_node_gone() {
    let (mut tracker, start) = (tracker(), Instant::now());
    tracker.on_envelope(&heartbeat(OTHER, 0), start);
    tracker.on_envelope(&message(OTHER, 1), start + 2 * SECOND);
    tracker.handle_timeout(start + 4 * SECOND);
    assert_eq!(tracker.alive().collect::<Vec<_>>(), [OTHER]);
    assert_eq!(tracker.poll_timeout(), Some(start + 5 * SECOND));
}

#[test]
fn a_gone_node_heard_again_returns_and_what_it_published_meanwhile_is_a_gap() {
    let (mut tracker, start) = (tracker(), Instant::now());
    tracker.on_envelope(&message(OTHER, 1), start);
    tracker.handle_timeout(start + 10 * SECOND);
    changes(&mut tracker);
    assert_eq!(
        tracker.on_envelope(&message(OTHER, 6), start + 11 * SECOND),
        deliver(4)
    );
    assert_eq!(
        changes(&mut tracker),
        [MembershipChange::Returned { origin: OTHER }]
    );
    assert_eq!(tracker.alive_count(), 1);
}

#[test]
fn stale_envelopes_do_not_keep_a_node_alive() {
    let (mut tracker, start) = (tracker(), Instant::now());
    let restarted = Origin { epoch: 51, ..OTHER };
    tracker.on_envelope(&heartbeat(restarted, 0), start);
    tracker.on_envelope(&heartbeat(OTHER, 0), start + 2 * SECOND);
    tracker.handle_timeout(start + 3 * SECOND);
    assert_eq!(tracker.alive_count(), 0);
}

#[test]
fn a_node_silent_past_forget_after_is_a_first_contact_again() {
    let membership =
        Membership::new(SECOND, 3, Duration::from_secs(60)).expect("a valid membership");
    let (mut tracker, start) = (GapTracker::new(ME, membership), Instant::now());
    tracker.on_envelope(&message(OTHER, 1), start);
    tracker.handle_timeout(start + 3 * SECOND);
    assert_eq!(tracker.poll_timeout(), Some(start + 60 * SECOND));
    tracker.handle_timeout(start + 60 * SECOND);
    assert_eq!(tracker.poll_timeout(), None, "nothing left to track");
    changes(&mut tracker);
    // Its next message is a new baseline: no gap for what it published while forgotten.
    assert_eq!(
        tracker.on_envelope(&message(OTHER, 500), start + 61 * SECOND),
        deliver(0)
    );
    assert_eq!(
        changes(&mut tracker),
        [MembershipChange::Joined { origin: OTHER }]
    );
}

#[test]
fn poll_timeout_is_the_earliest_time_a_node_may_be_gone() {
    let (mut tracker, start) = (tracker(), Instant::now());
    assert_eq!(tracker.poll_timeout(), None);
    let third = Origin {
        node: 0x0000_0003_0000_0000,
        epoch: 1,
    };
    tracker.on_envelope(&heartbeat(OTHER, 0), start + SECOND);
    tracker.on_envelope(&heartbeat(third, 0), start);
    assert_eq!(tracker.poll_timeout(), Some(start + 3 * SECOND));
}

#[test]
fn malformed_envelopes_are_counted() {
    let mut tracker = tracker();
    tracker.on_malformed();
    tracker.on_malformed();
    assert_eq!(tracker.stats().malformed, 2);
}

#[test]
fn the_largest_numbers_neither_overflow_nor_panic() {
    let (mut tracker, now) = (tracker(), Instant::now());
    tracker.on_envelope(&heartbeat(OTHER, 0), now);
    assert_eq!(
        tracker.on_envelope(&message(OTHER, u64::MAX), now),
        deliver(u64::MAX - 1)
    );
    assert_eq!(
        tracker.on_envelope(&heartbeat(OTHER, u64::MAX), now),
        Verdict::Heartbeat { lost_tail: 0 }
    );
    assert_eq!(
        tracker.on_envelope(&message(OTHER, u64::MAX), now),
        Verdict::Duplicate
    );
    let last = Origin {
        epoch: u64::MAX,
        ..OTHER
    };
    assert_eq!(
        tracker.on_envelope(&heartbeat(last, u64::MAX), now),
        Verdict::Heartbeat {
            lost_tail: u64::MAX
        }
    );
    assert_eq!(tracker.stats().lost(), u64::MAX, "saturates");
}
