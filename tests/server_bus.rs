//! A node of a cluster without a NATS server (§11): its configuration is checked, it serves its own
//! clients whatever the bus does, its peer ids carry its tag (FC-41), what cannot reach the bus is
//! counted (FC-48), and its shutdown stops the bus thread. The tests with real nats-servers are
//! elsewhere (they need one installed); these need nothing.
#![cfg(feature = "cluster")]

use std::net::{SocketAddr, TcpListener};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_std::net::TcpStream;
use async_std::task;
use framechat::cluster::{ClusterConfig, ClusterName};
use framechat::futures::{FrameSink, FrameStream};
use framechat::server::{BindError, Server, ServerConfig, ServerConfigError};
use framechat::{Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

mod server_support;
use server_support::{metrics_until, start};

/// An upper bound for one frame to arrive; only a lost frame reaches it.
const WAIT: Duration = Duration::from_secs(10);

/// This node's id: its peer ids are `0x0000_BEEF_xxxx_xxxx` (FC-41).
const NODE: u64 = 0x0000_BEEF_0000_0001;

/// The bus threads of every test in this binary are counted by name, so the tests run one at a
/// time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A NATS URL where nothing listens: a port the kernel gave and took back.
fn closed_nats_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    format!("nats://127.0.0.1:{port}")
}

fn cluster(publish_queue: usize) -> ClusterConfig {
    let name = ClusterName::new("tests").expect("a valid name");
    let mut cluster = ClusterConfig::new(vec![closed_nats_url()], name);
    cluster.node = Some(NODE);
    cluster.publish_queue = publish_queue;
    cluster
}

fn config(cluster: Option<ClusterConfig>) -> ServerConfig {
    ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_interval: None,
        // Every client here is typed and speaks first: no window decides anything.
        detect_window: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(2),
        cluster,
        ..ServerConfig::default()
    }
}

/// Threads of this process named `name` (Linux: /proc/self/task/*/comm).
fn threads_named(name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

type Client = (FrameStream<TcpStream>, FrameSink<TcpStream>);

async fn typed_client(addr: SocketAddr) -> (Client, u64) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let limits = Limits::default();
    let mut writer = FrameSink::new(stream.clone(), Encoder::client(Profile::Typed, limits));
    writer.flush().await.expect("send the preface");
    let mut reader = FrameStream::new(stream, Decoder::client(Profile::Typed, limits));
    let peer_id = match recv(&mut reader).await {
        Frame::Welcome { peer_id, .. } => peer_id,
        other => panic!("expected WELCOME first, got {other:?}"),
    };
    ((reader, writer), peer_id)
}

async fn recv(reader: &mut FrameStream<TcpStream>) -> Frame {
    server_support::next_frame(reader).await
}

async fn say(writer: &mut FrameSink<TcpStream>, text: &str) {
    let frame = Frame::Chat {
        sent_at: UnixMicros(1),
        text: text.to_string(),
    };
    writer.send(frame).await.expect("send");
}

#[test]
fn a_cluster_needs_a_server_a_readable_address_and_a_queue() {
    let _serial = one_at_a_time();
    let refused = |cluster: ClusterConfig| config(Some(cluster)).validate().err();
    let mut empty = cluster(8);
    empty.servers.clear();
    assert_eq!(refused(empty), Some(ServerConfigError::NoClusterServers));
    let mut unreadable = cluster(8);
    unreadable.servers.push("nats://127.0.0.1:port".to_string());
    assert_eq!(
        refused(unreadable),
        Some(ServerConfigError::BadClusterServer { index: 1 })
    );
    assert_eq!(
        refused(cluster(0)),
        Some(ServerConfigError::ZeroPublishQueue)
    );
    assert_eq!(refused(cluster(1)), None);
    task::block_on(async {
        let err = Server::bind(config(Some(cluster(0)))).await.err();
        assert!(
            matches!(
                err,
                Some(BindError::Config(ServerConfigError::ZeroPublishQueue))
            ),
            "{err:?}"
        );
    });
    assert_eq!(
        threads_named("framechat-bus"),
        0,
        "a refused config starts no bus"
    );
}

#[test]
fn a_node_whose_bus_is_down_still_serves_its_clients_and_says_so() {
    // §11: local delivery never waits for the bus.
    let _serial = one_at_a_time();
    task::block_on(async {
        let server = start(config(Some(cluster(64)))).await;
        assert_eq!(
            server.handle.cluster_origin().map(|origin| origin.node),
            Some(NODE)
        );
        let ((mut alice_in, mut alice_out), alice) = typed_client(server.addr()).await;
        let ((mut bob_in, _bob_out), bob) = typed_client(server.addr()).await;
        // FC-41: this node's tag, then its own count.
        assert_eq!(alice >> 32, NODE >> 32);
        assert_eq!(bob, alice + 1);

        say(&mut alice_out, "hi").await;
        assert!(matches!(recv(&mut alice_in).await, Frame::Echo { ref text, .. } if text == "hi"));
        assert!(matches!(
            recv(&mut bob_in).await,
            Frame::Broadcast { from, ref text, .. } if from == alice && text == "hi"
        ));

        let bus = server.handle.metrics().bus.expect("a node shows its bus");
        assert!(!bus.connected);
        assert_eq!(
            (bus.published, bus.publish_dropped),
            (0, 0),
            "queued, not dropped"
        );
        // FC-49: the node says its bus is down.
        let text = server.handle.metrics().to_prometheus();
        assert!(text.contains("\nframechat_bus_connected 0\n"), "{text}");

        let last = server.stop().await;
        let bus = last.bus.expect("the final metrics show the bus");
        assert_eq!(last.messages_total, 1);
        assert_eq!(
            (bus.published, bus.publish_dropped),
            (0, 1),
            "what never reached the bus is counted when the node stops"
        );
    });
    assert_eq!(
        threads_named("framechat-bus"),
        0,
        "the bus thread was joined"
    );
}

#[test]
fn a_full_publish_queue_drops_and_counts_without_holding_the_sender() {
    // FC-48: a queue of 1, no bus to empty it: every message after the first is dropped, and the
    // sender still gets every echo.
    let _serial = one_at_a_time();
    task::block_on(async {
        let server = start(config(Some(cluster(1)))).await;
        let ((mut alice_in, mut alice_out), _) = typed_client(server.addr()).await;
        for text in ["a", "b", "c", "d"] {
            say(&mut alice_out, text).await;
            assert!(
                matches!(recv(&mut alice_in).await, Frame::Echo { text: ref got, .. } if got == text)
            );
        }
        let now = metrics_until(&server.handle, |m| {
            m.bus.is_some_and(|bus| bus.publish_dropped == 3)
        })
        .await;
        assert_eq!(now.bus.map(|bus| bus.publish_dropped), Some(3));
        assert_eq!(now.messages_total, 4);
        let last = server.stop().await;
        assert_eq!(last.bus.map(|bus| bus.publish_dropped), Some(4));
    });
}

#[test]
fn the_publish_queue_is_bounded_in_bytes_too() {
    // FC-48: room for 1000 messages but 5000 bytes, and no bus to empty it: two messages of
    // 2000 bytes fit (each weighs its text and a fixed overhead), the third does not; the sender
    // still gets every echo.
    let _serial = one_at_a_time();
    task::block_on(async {
        let mut cluster = cluster(1000);
        cluster.publish_queue_bytes = 5000;
        let mut config = config(Some(cluster));
        config.limits = Limits::new(4096).expect("a valid limit");
        let server = start(config).await;
        let ((mut alice_in, mut alice_out), _) = typed_client(server.addr()).await;
        for text in ["1", "2", "3"].map(|n| n.repeat(2000)) {
            say(&mut alice_out, &text).await;
            assert!(
                matches!(recv(&mut alice_in).await, Frame::Echo { text: ref got, .. } if *got == text)
            );
        }
        let now = metrics_until(&server.handle, |m| {
            m.bus.is_some_and(|bus| bus.publish_dropped == 1)
        })
        .await;
        assert_eq!(now.bus.map(|bus| bus.publish_dropped), Some(1));
        // A short message still fits beside the two queued.
        say(&mut alice_out, "short").await;
        assert!(matches!(recv(&mut alice_in).await, Frame::Echo { .. }));
        assert_eq!(
            server.handle.metrics().bus.map(|bus| bus.publish_dropped),
            Some(1)
        );
        let last = server.stop().await;
        // The three queued were never published: counted at the stop.
        assert_eq!(last.bus.map(|bus| bus.publish_dropped), Some(4));
    });
}

#[test]
fn a_publish_queue_too_small_for_the_largest_message_is_refused() {
    let _serial = one_at_a_time();
    let mut cluster = cluster(8);
    cluster.publish_queue_bytes = 1000;
    let mut config = config(Some(cluster));
    config.limits = Limits::new(4096).expect("a valid limit");
    assert!(matches!(
        config.validate(),
        Err(ServerConfigError::PublishQueueSmallerThanMessage { publish_queue_bytes: 1000, needed })
            if needed > 4000
    ));
}

#[test]
fn a_server_on_its_own_has_no_bus_and_no_bus_figures() {
    let _serial = one_at_a_time();
    task::block_on(async {
        let server = start(config(None)).await;
        assert_eq!(server.handle.cluster_origin(), None);
        assert!(server.handle.bus_events().is_none());
        let ((_, _), peer) = typed_client(server.addr()).await;
        assert_eq!(peer, 1, "untagged ids, as before");
        let now = server.handle.metrics();
        assert_eq!(now.bus, None);
        assert!(!now.to_prometheus().contains("framechat_bus_"));
        assert!(!now.to_json_line(None).contains("bus_"));
        assert_eq!(threads_named("framechat-bus"), 0);
        server.stop().await;
    });
}

#[test]
fn dropping_a_bound_node_that_never_ran_ends_its_bus_thread() {
    let _serial = one_at_a_time();
    task::block_on(async {
        let server = Server::bind(config(Some(cluster(8)))).await.expect("binds");
        // A new thread names itself once it runs.
        assert_eq!(bus_threads_become(1), 1);
        drop(server);
    });
    // The thread hears its stop channel close.
    assert_eq!(bus_threads_become(0), 0);
}

/// Waits until `n` bus threads run, at most [`WAIT`]; returns how many run then.
fn bus_threads_become(n: usize) -> usize {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let running = threads_named("framechat-bus");
        if running == n || std::time::Instant::now() > deadline {
            return running;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
