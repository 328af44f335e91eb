//! `framechat demo`: the seed notebook's demo run, ending by itself with every message delivered.

use async_std::task;
use framechat::Profile;

#[test]
fn the_demo_delivers_every_echo_and_every_peer_message_and_stops() {
    let (logs, metrics) = task::block_on(async {
        async_std::future::timeout(std::time::Duration::from_secs(30), crate::demo::run())
            .await
            .expect("the demo ends by itself")
            .expect("the demo runs")
    });
    let [legacy, typed] = logs.as_slice() else {
        panic!("two clients, got {logs:?}")
    };
    assert_eq!(
        (legacy.profile, typed.profile),
        (Profile::Legacy, Profile::Typed)
    );
    let mut legacy_lines = legacy.received.clone();
    legacy_lines.sort();
    assert_eq!(
        legacy_lines,
        ["echo: a", "echo: b", "echo: c", "echo: d", "peer: x", "peer: y", "peer: z"]
    );
    // Typed lines carry the measured latency: compare what precedes it.
    let typed_lines: Vec<&str> = typed
        .received
        .iter()
        .map(|line| line.split("  (").next().unwrap_or_default())
        .collect();
    assert!(typed_lines[0].starts_with("welcome: you are peer "));
    let mut rest = typed_lines[1..].to_vec();
    rest.sort();
    let from = typed_lines[1..]
        .iter()
        .find_map(|line| line.strip_prefix("peer ")?.split(':').next())
        .expect("a broadcast names its sender");
    let peer = |text: &str| format!("peer {from}: {text}");
    let mut expected = vec![
        "echo: x".to_string(),
        "echo: y".to_string(),
        "echo: z".to_string(),
        peer("a"),
        peer("b"),
        peer("c"),
        peer("d"),
    ];
    expected.sort();
    assert_eq!(rest, expected);
    assert_eq!(metrics.messages_total, 7);
}
