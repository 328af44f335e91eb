//! Several `framechat serve --cluster` nodes over real nats-servers (§11): one room across nodes,
//! and what a crashed node, a restarted nats-server and a whole bus down do to it.
//!
//! Built only with the feature `nats-tests` (`cargo test --features nats-tests`, or
//! `--all-features`), which `.ci/run` turns on after installing nats-server; without nats-server on
//! PATH these tests fail and say how to install it.
//!
//! Every client sends numbered messages `NAME#SEQ` (see `nats_support::Client`), so what each one
//! received is checked message by message: nothing unknown, nothing twice, each sender's messages in
//! the order sent (FC-28 across nodes), and what is missing is exactly what the node's metrics count
//! as lost (FC-44, FC-45). The fault tests print their figures (`--nocapture` shows them).

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use framechat::Profile;

mod cli_support;
mod nats_support;
use nats_support::{Client, Delivery, Metrics, NatsCluster, NatsServer, Node};

/// The tests start up to three nats-servers and three nodes each, and the fault tests count on
/// heartbeats (1 s) arriving on time: one at a time, so that two of them never starve each other
/// on a small machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How long the whole bus stays down in the last test, as the issue asks: longer than the 3 s
/// after which a silent node is gone (FC-47), so the nodes also lose sight of each other.
const BUS_DOWN_FOR: Duration = Duration::from_secs(3);

/// How long a round of [`Room::settle`] waits before the next: a cadence, not a bound that fails.
const ROUND: Duration = Duration::from_secs(2);

/// A cluster name of the test's own (FC-37), so that no two runs ever share a subject.
/// One node on each NATS server of `urls`, started with `flags`, once each hears all the others:
/// killing server `i` then cuts node `i` off, and only node `i`.
fn one_node_per_server(urls: &[String], cluster: &str, flags: &[&str]) -> Vec<Node> {
    let nodes: Vec<Node> = urls
        .iter()
        .map(|url| Node::start(std::slice::from_ref(url), cluster, flags))
        .collect();
    for node in &nodes {
        node.wait_for_peers(urls.len() as u64 - 1);
    }
    nodes
}

fn cluster_name(test: &str) -> String {
    format!("t{}-{test}", std::process::id())
}

/// The clients of a test, each with the index of the node it is on.
struct Room {
    clients: Vec<(usize, Client)>,
}

impl Room {
    /// Waits until every client has every message the clients of its own node sent.
    fn wait_until_each_hears_its_own_node(&self) {
        for (node, client) in &self.clients {
            for (_, sender) in self.clients.iter().filter(|(at, _)| at == node) {
                client.wait_for(&sender.name, sender.sent);
            }
        }
    }

    /// On each node of `nodes`, one legacy and one typed client, named `n<i>-legacy`/`n<i>-typed`;
    /// returns once every node has admitted its clients.
    fn mixed(nodes: &[&Node]) -> Room {
        let mut clients = Vec::new();
        for (index, node) in nodes.iter().enumerate() {
            for (profile, kind) in [(Profile::Legacy, "legacy"), (Profile::Typed, "typed")] {
                let name = format!("n{index}-{kind}");
                clients.push((index, Client::connect(node.addr, profile, &name)));
            }
            node.wait_admitted(2);
        }
        Room { clients }
    }

    /// Every client sends `count` messages, taking turns.
    fn each_sends(&mut self, count: u64) {
        for _ in 0..count {
            for (_, client) in &mut self.clients {
                client.send();
            }
        }
    }

    /// `count` rounds: every client sends one message, and the next round starts once every client
    /// has them all. A node publishes at most two messages (its two clients') at a time, so even
    /// a small bus queue never overflows: nothing is lost unless the bus is.
    fn rounds(&mut self, count: u64) {
        for _ in 0..count {
            self.each_sends(1);
            for (_, receiver) in &self.clients {
                for (_, sender) in &self.clients {
                    receiver.wait_for(&sender.name, sender.sent);
                }
            }
        }
    }

    /// After a fault, sends rounds of one message per client until a round reaches every client:
    /// then every path across the bus works again, and, by each sender's order, whatever a client
    /// is still missing is lost, not late. A round is given [`ROUND`] before the next is
    /// sent: a message lost because the bus was still healing (a subscription not yet known to
    /// another nats-server) is lost, not late, and the next round replaces it. Only the whole,
    /// [`nats_support::WITHIN`], is a bound that fails the test.
    fn settle(&mut self) -> u32 {
        let deadline = Instant::now() + nats_support::WITHIN;
        for round in 1.. {
            self.each_sends(1);
            let reached = |receiver: &Client| {
                let got = receiver.wait_until_within(ROUND, |got| self.has_latest_of_all(got));
                self.has_latest_of_all(&got)
            };
            if self.clients.iter().all(|(_, receiver)| reached(receiver)) {
                return round;
            }
            assert!(
                Instant::now() < deadline,
                "no round of messages reached every client after {round} rounds"
            );
        }
        unreachable!("the rounds end by returning or failing")
    }

    /// Whether `got` holds every sender's latest message.
    fn has_latest_of_all(&self, got: &[Delivery]) -> bool {
        self.clients.iter().all(|(_, sender)| {
            got.iter()
                .any(|delivery| delivery.sender == sender.name && delivery.seq == sender.sent)
        })
    }

    /// Every sender's name and how many messages it sent.
    fn sent(&self) -> Vec<(String, u64)> {
        self.clients
            .iter()
            .map(|(_, client)| (client.name.clone(), client.sent))
            .collect()
    }

    /// All messages sent in all.
    fn total_sent(&self) -> u64 {
        self.clients.iter().map(|(_, client)| client.sent).sum()
    }

    /// Waits until every client has received all of `sent`, then checks that each got exactly
    /// that (see [`missed`]).
    fn assert_everyone_got_everything(&self, sent: &[(String, u64)]) {
        let all: u64 = sent.iter().map(|(_, count)| count).sum();
        for (node, client) in &self.clients {
            client.wait_until(|got| got.len() as u64 >= all);
            let missed = missed(client, sent);
            assert!(
                missed.is_empty(),
                "{} on node {node} missed {} messages: {missed:?}",
                client.name,
                missed.len()
            );
        }
    }

    /// The messages the clients of `node` missed: every client of a node hears the same bus, so
    /// they missed the same ones, and never a message of their own node.
    fn missed_on(&self, node: usize) -> Vec<(String, u64)> {
        let sent = self.sent();
        let on_node: Vec<&Client> = self
            .clients
            .iter()
            .filter(|(at, _)| *at == node)
            .map(|(_, client)| client)
            .collect();
        let first = missed(on_node[0], &sent);
        for client in &on_node {
            let missed = missed(client, &sent);
            assert_eq!(missed, first, "the clients of node {node} missed the same");
            let local = format!("n{node}-");
            assert!(
                missed.iter().all(|(sender, _)| !sender.starts_with(&local)),
                "{} missed a message of its own node: {missed:?}",
                client.name
            );
        }
        first
    }
}

/// Checks what `client` received against what every sender sent: nothing unknown, nothing twice,
/// its own messages as echoes and the others' as peer messages, each sender's messages in the
/// order sent (FC-28). Returns the messages it did not receive, sorted.
fn missed(client: &Client, sent: &[(String, u64)]) -> Vec<(String, u64)> {
    let got = client.deliveries();
    let counts: BTreeMap<&str, u64> = sent.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    let mut seen = HashSet::new();
    let mut last_of: BTreeMap<&str, u64> = BTreeMap::new();
    for delivery in &got {
        let Delivery { echo, sender, seq } = delivery;
        let sent = counts.get(sender.as_str()).copied().unwrap_or(0);
        assert!(
            (1..=sent).contains(seq),
            "{} received {sender}#{seq}, never sent",
            client.name
        );
        assert_eq!(
            *echo,
            *sender == client.name,
            "{} received {sender}#{seq} as {}",
            client.name,
            if *echo { "an echo" } else { "a peer's" }
        );
        assert!(
            seen.insert((sender.clone(), *seq)),
            "{} received {sender}#{seq} twice",
            client.name
        );
        let last = last_of.entry(sender.as_str()).or_insert(0);
        assert!(
            *seq > *last,
            "{} received {sender}#{seq} after #{last}",
            client.name
        );
        *last = *seq;
    }
    assert_eq!(client.unexpected(), Vec::<String>::new(), "{}", client.name);
    sent.iter()
        .flat_map(|(sender, count)| (1..=*count).map(move |seq| (sender.clone(), seq)))
        .filter(|message| !seen.contains(message))
        .collect()
}

/// The bus's loss counters of a node, for the figures.
fn loss_figures(metrics: &Metrics) -> String {
    [
        "lost_total",
        "gap_messages_total",
        "lost_tail_messages_total",
        "publish_dropped_total",
        "reconnects_total",
    ]
    .iter()
    .map(|name| format!("{name} {}", metrics.count(&format!("framechat_bus_{name}"))))
    .collect::<Vec<_>>()
    .join(", ")
}

/// Waits until every node counts as lost exactly what its clients missed (heartbeats reveal lost
/// tails within an interval, FC-45), then asserts it; returns the messages missed per node.
fn assert_loss_is_counted(nodes: &[&Node], room: &Room) -> Vec<u64> {
    let missed: Vec<u64> = (0..nodes.len())
        .map(|node| room.missed_on(node).len() as u64)
        .collect();
    for (index, node) in nodes.iter().enumerate() {
        let metrics = node.metrics_until(|m| m.count("framechat_bus_lost_total") == missed[index]);
        assert!(metrics.has("framechat_bus_lost_total"), "{metrics:?}");
        assert_eq!(
            metrics.count("framechat_bus_lost_total"),
            missed[index],
            "node {index}'s clients missed {} messages, its metrics count {}:\n{}",
            missed[index],
            loss_figures(&metrics),
            node.log.text()
        );
        assert_eq!(
            metrics.count("framechat_bus_lost_total"),
            metrics.count("framechat_bus_gap_messages_total")
                + metrics.count("framechat_bus_lost_tail_messages_total"),
            "lost = gaps + lost tails"
        );
        eprintln!(
            "cluster figures: node {index}: clients missed {}; {}",
            missed[index],
            loss_figures(&metrics)
        );
    }
    missed
}

/// Waits until `node` is on the bus again after a disconnection the test caused.
fn wait_reconnected(node: &Node) -> Metrics {
    let metrics = node.metrics_until(|m| {
        m.count("framechat_bus_connected") == 1 && m.count("framechat_bus_reconnects_total") >= 1
    });
    assert_eq!(
        metrics.count("framechat_bus_connected"),
        1,
        "reconnected:\n{}",
        node.log.text()
    );
    assert!(metrics.count("framechat_bus_reconnects_total") >= 1);
    metrics
}

#[test]
fn mixed_clients_on_three_nodes_get_every_message_once_in_each_senders_order() {
    // FC-28 across nodes, §11.2: echoes stay local, the rest arrives as peer:/BROADCAST.
    let _serial = one_at_a_time();
    let nats = NatsServer::start();
    let cluster = cluster_name("mixed");
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&[nats.url()], &cluster, &[]))
        .collect();
    let nodes: Vec<&Node> = nodes.iter().collect();
    for node in &nodes {
        node.wait_for_peers(2);
    }
    let mut room = Room::mixed(&nodes);
    room.each_sends(100);
    room.assert_everyone_got_everything(&room.sent());
    for (index, node) in nodes.iter().enumerate() {
        // 6 clients × 100, of which the 2 × 100 of this node's own never cross the bus.
        let metrics = node.metrics_until(|m| m.count("framechat_bus_delivered_total") >= 400);
        assert_eq!(
            metrics.count("framechat_bus_delivered_total"),
            400,
            "{index}"
        );
        assert_eq!(metrics.count("framechat_bus_lost_total"), 0, "{index}");
        assert_eq!(
            metrics.count("framechat_bus_duplicates_total"),
            0,
            "{index}"
        );
        assert_eq!(metrics.count("framechat_bus_malformed_total"), 0, "{index}");
    }
    eprintln!(
        "cluster figures: 3 nodes, 6 mixed clients: {} messages sent, every one delivered to \
         every client once, lost 0",
        room.total_sent()
    );
}

#[test]
fn a_listen_only_legacy_client_on_another_node_gets_every_message() {
    // FC-26 across nodes: a legacy client that never sends is in the room from its accept, and
    // hears the other node's senders like a local peer.
    let _serial = one_at_a_time();
    let nats = NatsServer::start();
    let cluster = cluster_name("listener");
    let speaking = Node::start(&[nats.url()], &cluster, &[]);
    let listening = Node::start(&[nats.url()], &cluster, &[]);
    speaking.wait_for_peers(1);
    listening.wait_for_peers(1);
    let listener = Client::connect(listening.addr, Profile::Legacy, "listener");
    listening.wait_admitted(1);
    let mut room = Room::mixed(&[&speaking]);
    room.each_sends(100);
    let sent = room.sent();
    room.assert_everyone_got_everything(&sent);
    let all: u64 = sent.iter().map(|(_, count)| count).sum();
    listener.wait_until(|got| got.len() as u64 >= all);
    assert_eq!(missed(&listener, &sent), Vec::new());
    eprintln!(
        "cluster figures: a listen-only legacy client got all {all} messages of the other node"
    );
}

#[test]
fn a_node_killed_with_sigkill_leaves_the_clients_of_the_others_undisturbed() {
    // FC-47: the others see it gone after 3 heartbeat intervals; nothing among them is lost.
    let _serial = one_at_a_time();
    let nats = NatsServer::start();
    let cluster = cluster_name("crash");
    let mut nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&[nats.url()], &cluster, &[]))
        .collect();
    for node in &nodes {
        node.wait_for_peers(2);
    }
    let mut survivors = Room::mixed(&[&nodes[0], &nodes[1]]);
    let mut doomed = Client::connect(nodes[2].addr, Profile::Typed, "n2-typed");
    survivors.each_sends(50);
    for _ in 0..50 {
        doomed.send();
    }
    let mut sent = survivors.sent();
    sent.push((doomed.name.clone(), doomed.sent));
    survivors.assert_everyone_got_everything(&sent);

    let killed_at = Instant::now();
    nodes[2].kill();
    // Clients of the others keep talking while the others still count the dead node alive...
    survivors.each_sends(50);
    for node in &nodes[..2] {
        let metrics = node.metrics_until(|m| m.count("framechat_cluster_nodes_alive") == 1);
        assert_eq!(metrics.count("framechat_cluster_nodes_alive"), 1);
    }
    let gone_after = killed_at.elapsed();
    // ...and after it is gone.
    survivors.each_sends(50);
    let mut sent = survivors.sent();
    sent.push((doomed.name.clone(), doomed.sent));
    survivors.assert_everyone_got_everything(&sent);
    for node in &nodes[..2] {
        let metrics = node.metrics();
        assert_eq!(metrics.count("framechat_bus_lost_total"), 0, "{metrics:?}");
        assert_eq!(metrics.count("framechat_bus_connected"), 1);
    }
    eprintln!(
        "cluster figures: a node SIGKILLed: {} messages sent by the 4 clients of the 2 others, \
         lost 0; the others saw it gone after {} ms",
        survivors.total_sent(),
        gone_after.as_millis()
    );
}

#[test]
fn a_node_whose_nats_server_restarts_reconnects_and_counts_what_its_clients_missed() {
    // FC-44, FC-45, FC-47: a skipped number is a gap, a heartbeat reveals a lost tail, and the
    // count equals what the clients missed, on every node.
    let _serial = one_at_a_time();
    let mut nats = NatsCluster::start(3);
    let cluster = cluster_name("natsrestart");
    let nodes = one_node_per_server(&nats.urls(), &cluster, &[]);
    let nodes: Vec<&Node> = nodes.iter().collect();
    let mut room = Room::mixed(&nodes);
    room.rounds(10);

    let log_mark = nodes[0].log.len();
    let killed_at = Instant::now();
    nats.kill(0);
    nodes[0]
        .log
        .wait_for(log_mark, "bus disconnected")
        .unwrap_or_else(|| panic!("node 0 sees its bus go:\n{}", nodes[0].log.text()));
    room.each_sends(30);
    // Its clients still hear each other; the others' messages cannot reach it.
    room.wait_until_each_hears_its_own_node();
    let down = nodes[0].metrics();
    assert_eq!(down.count("framechat_bus_connected"), 0, "{down:?}");

    let restarted_at = Instant::now();
    nats.restart(0);
    nats.wait_for_routes();
    let metrics = wait_reconnected(nodes[0]);
    let reconnected_after = restarted_at.elapsed();
    for node in &nodes {
        node.wait_for_peers(2);
    }
    let rounds = room.settle();
    let whole_after = restarted_at.elapsed();
    let missed = assert_loss_is_counted(&nodes, &room);
    assert!(
        missed[0] > 0,
        "node 0 missed what was sent while it was cut off"
    );
    eprintln!(
        "cluster figures: node 0's nats-server killed for {} ms then restarted: {} messages \
         sent, missed per node {missed:?} (each counted as lost); node 0 back on the bus {} ms \
         after the restart ({} reconnects), every path working again after {} ms ({rounds} rounds)",
        (restarted_at - killed_at).as_millis(),
        room.total_sent(),
        reconnected_after.as_millis(),
        metrics.count("framechat_bus_reconnects_total"),
        whole_after.as_millis()
    );
}

#[test]
fn local_delivery_goes_on_while_the_whole_bus_is_down_and_the_loss_is_reported() {
    // §11.4, FC-44, FC-45: with every nats-server down for 3 s, each node still relays among its
    // own clients; publications beyond the bus queue are dropped, and every message a client
    // missed is counted as lost.
    let _serial = one_at_a_time();
    let mut nats = NatsCluster::start(3);
    let cluster = cluster_name("busdown");
    // A small queue, so that what is sent while the bus is down overflows it.
    let nodes = one_node_per_server(&nats.urls(), &cluster, &["--bus-queue", "8"]);
    let nodes: Vec<&Node> = nodes.iter().collect();
    let mut room = Room::mixed(&nodes);
    room.rounds(10);

    let log_marks: Vec<usize> = nodes.iter().map(|node| node.log.len()).collect();
    let killed_at = Instant::now();
    for server in 0..3 {
        nats.kill(server);
    }
    for (node, mark) in nodes.iter().zip(log_marks) {
        node.log
            .wait_for(mark, "bus disconnected")
            .unwrap_or_else(|| panic!("the node sees its bus go:\n{}", node.log.text()));
    }
    room.each_sends(40);
    // Local delivery goes on while the bus is down: each client hears its own node's clients.
    room.wait_until_each_hears_its_own_node();
    for node in &nodes {
        let metrics = node.metrics();
        assert_eq!(metrics.count("framechat_bus_connected"), 0, "{metrics:?}");
    }
    // The outage lasts its planned time; this sleep is the fault, not a wait for an event.
    std::thread::sleep(BUS_DOWN_FOR.saturating_sub(killed_at.elapsed()));

    let restarted_at = Instant::now();
    for server in 0..3 {
        nats.restart(server);
    }
    nats.wait_for_routes();
    for node in &nodes {
        wait_reconnected(node);
    }
    let reconnected_after = restarted_at.elapsed();
    for node in &nodes {
        node.wait_for_peers(2);
    }
    let rounds = room.settle();
    let whole_after = restarted_at.elapsed();
    let missed = assert_loss_is_counted(&nodes, &room);
    assert!(
        missed.iter().all(|&missed| missed > 0),
        "every node missed the others' messages sent while the bus was down: {missed:?}"
    );
    let dropped: u64 = nodes
        .iter()
        .map(|node| node.metrics().count("framechat_bus_publish_dropped_total"))
        .sum();
    assert!(
        dropped > 0,
        "publications beyond the bus queue are dropped and counted"
    );
    eprintln!(
        "cluster figures: the whole bus down for {} ms: {} messages sent, missed per node \
         {missed:?} (each counted as lost), {dropped} publications dropped; every node back on \
         the bus {} ms after the restart, every path working again after {} ms ({rounds} rounds)",
        (restarted_at - killed_at).as_millis(),
        room.total_sent(),
        reconnected_after.as_millis(),
        whole_after.as_millis()
    );
}

#[test]
fn the_bench_spreads_its_clients_over_three_nodes_and_loses_nothing() {
    // `framechat bench --addr a,b,c`: round-robin placement, every delivery checked, latency
    // split into local and cross-node, CPU summed over one pid per node.
    let _serial = one_at_a_time();
    let nats = NatsServer::start();
    let cluster = cluster_name("bench");
    let nodes: Vec<Node> = (0..3)
        .map(|_| Node::start(&[nats.url()], &cluster, &[]))
        .collect();
    for node in &nodes {
        node.wait_for_peers(2);
    }
    let addrs: Vec<String> = nodes.iter().map(|node| node.addr.to_string()).collect();
    let pids: Vec<String> = nodes
        .iter()
        .map(|node| node.pid().expect("running").to_string())
        .collect();
    let output = std::process::Command::new(cli_support::BIN)
        .args(["bench", "--json", "--clients", "6", "--messages", "50"])
        .args(["--addr", &addrs.join(","), "--server-pid", &pids.join(",")])
        .output()
        .expect("the bench runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON report");
    assert_eq!(report["nodes"], 3, "{report}");
    assert_eq!(report["messages_sent"], 300, "{report}");
    assert_eq!(report["deliveries"], 6 * 300, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    // Each client has 1 other client on its node and 4 elsewhere; its echoes are local too.
    assert_eq!(
        report["latency_local_us"]["samples"],
        6 * 2 * 50,
        "{report}"
    );
    assert_eq!(
        report["latency_cross_node_us"]["samples"],
        6 * 4 * 50,
        "{report}"
    );
    assert!(report["server_cpu"].is_object(), "{report}");
    for (index, node) in nodes.iter().enumerate() {
        let metrics = node.metrics();
        assert_eq!(metrics.count("framechat_bus_lost_total"), 0, "node {index}");
    }
    eprintln!(
        "cluster figures: bench on 3 nodes, 6 clients: local p50/p99 {}/{} µs, cross-node \
         p50/p99 {}/{} µs",
        report["latency_local_us"]["p50"],
        report["latency_local_us"]["p99"],
        report["latency_cross_node_us"]["p50"],
        report["latency_cross_node_us"]["p99"]
    );
}

#[test]
fn without_nats_server_the_support_says_how_to_install_it() {
    // The gate's promise: asked for and missing, nats-server fails the tests with a way out.
    let _serial = one_at_a_time();
    let path = std::env::var_os("PATH");
    let empty = std::env::temp_dir().join(format!("framechat-no-nats-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("an empty directory");
    // Only this test changes PATH, and the others wait for it (one at a time).
    std::env::set_var("PATH", &empty);
    // Its expected panic would print like a failure in the log: the hook is silenced meanwhile.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(NatsServer::start);
    std::panic::set_hook(hook);
    match path {
        Some(path) => std::env::set_var("PATH", path),
        None => std::env::remove_var("PATH"),
    }
    let _ = std::fs::remove_dir(&empty);
    let panic = outcome.err().expect("no nats-server, no test");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(message.contains("apt-get install nats-server"), "{message}");
}
