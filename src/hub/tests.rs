//! The end of a tagged peer-id range (FC-41), which a test cannot reach by joining 2^32 times: it
//! starts the hub's count near the end instead.

use super::sync::lock;
use super::{Hub, HubConfig, JoinError};

#[test]
fn a_tagged_hub_refuses_joins_once_its_range_is_used_up_and_counts_them() {
    let hub: Hub<String> = Hub::new(HubConfig::default().with_peer_id_tag(0x0000_00AB));
    lock(&hub.registry).next_peer = Some(0x0000_00AB_FFFF_FFFE);
    let (a, _) = hub.join().expect("the range has two ids left");
    let (b, _) = hub.join().expect("the range has one id left");
    assert_eq!((a, b), (0x0000_00AB_FFFF_FFFE, 0x0000_00AB_FFFF_FFFF));
    assert_eq!(hub.join().err(), Some(JoinError::PeerIdsExhausted));
    assert_eq!(hub.join().err(), Some(JoinError::PeerIdsExhausted));
    hub.leave(a);
    assert_eq!(
        hub.join().err(),
        Some(JoinError::PeerIdsExhausted),
        "a leave frees a place, not an id"
    );
    let stats = hub.stats();
    assert_eq!(
        (stats.joined, stats.refused_exhausted, stats.refused_full),
        (2, 3, 0)
    );
}

#[test]
fn an_untagged_hub_refuses_rather_than_wraps_at_the_last_id() {
    let hub: Hub<String> = Hub::new(HubConfig::default());
    lock(&hub.registry).next_peer = Some(u64::MAX);
    assert_eq!(hub.join().map(|(peer, _)| peer).ok(), Some(u64::MAX));
    assert_eq!(hub.join().err(), Some(JoinError::PeerIdsExhausted));
}

#[test]
fn a_tagged_range_crosses_no_tag_boundary() {
    // tag 0 ends at 0xFFFF_FFFF, not at 0x1_0000_0000 (the first id of tag 1).
    let hub: Hub<String> = Hub::new(HubConfig::default().with_peer_id_tag(0));
    lock(&hub.registry).next_peer = Some(0xFFFF_FFFF);
    assert_eq!(hub.join().map(|(peer, _)| peer).ok(), Some(0xFFFF_FFFF));
    assert_eq!(hub.join().err(), Some(JoinError::PeerIdsExhausted));
}
