//! The bench against a framechat server in-process (both profiles), the seed's Python server and a
//! NATS server: every expected delivery arrives and the report adds up.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::bench::{self, BenchConfig, Load, Report, Target};
use async_std::task;

fn small(target: Target, addr: Option<SocketAddr>) -> BenchConfig {
    BenchConfig {
        addrs: addr.into_iter().collect(),
        target,
        clients: 5,
        load: Load::Messages(40),
        size: 32,
        window: 4,
        ..BenchConfig::default()
    }
}

fn run(config: &BenchConfig) -> Report {
    task::block_on(bench::run(config, |_, _| {}))
        .unwrap_or_else(|err| panic!("the bench failed: {err:?}"))
}

/// Every message reaches every client once (its echo and the others' broadcasts), nothing is lost.
fn assert_complete(report: &Report, config: &BenchConfig) {
    let Load::Messages(per_client) = config.load else {
        panic!("fixed-count loads only")
    };
    let sent = per_client * config.clients as u64;
    assert_eq!(report.messages_sent, sent);
    assert_eq!(report.deliveries, sent * config.clients as u64);
    assert_eq!(report.lost, 0);
    assert_eq!(report.lost_by, []);
    assert!(report.echo_rps > 0.0 && report.deliveries_per_s > report.echo_rps);
    let [p50, p90, p99, p999, max] = report.latency_us;
    assert!(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max);
    assert!(
        (report.cluster_rps - report.rps_per_node * 0.7).abs() < 1e-6 * report.cluster_rps.max(1.0)
    );
}

#[test]
fn the_bench_loses_nothing_against_an_in_process_typed_server() {
    let config = small(Target::Typed, None);
    let report = run(&config);
    assert_complete(&report, &config);
    assert!(report.server_relay_ms.is_some_and(|ms| ms > 0.0));
    assert!((report.avg_service_ms * report.echo_rps - 1e3).abs() < 1e-6 * 1e3);
    let json = report.to_json();
    assert!(!json.contains('\n'), "one line: {json}");
    let json: serde_json::Value = serde_json::from_str(&json).expect("the report is JSON");
    assert_eq!(json["target"], "Typed");
    assert_eq!(json["lost"], 0);
    assert_eq!(json["messages_sent"], report.messages_sent);
    assert_eq!(json["latency_us"]["p99_9"], report.latency_us[3]);
    assert!(json["server_relay_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    let keys = |value: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = value
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    // The field names benches/fanout.sh and earlier reports read.
    assert_eq!(
        keys(&json),
        [
            "avg_service_ms",
            "capacity",
            "clients",
            "deliveries",
            "deliveries_per_s",
            "echo_rps",
            "elapsed_s",
            "latency_cross_node_us",
            "latency_local_us",
            "latency_us",
            "lost",
            "lost_by",
            "messages_sent",
            "nodes",
            "server_cpu",
            "server_relay_ms",
            "size",
            "target",
            "window"
        ]
    );
    assert_eq!(
        keys(&json["latency_us"]),
        ["max", "p50", "p90", "p99", "p99_9"]
    );
    assert_eq!(
        keys(&json["capacity"]),
        ["cluster_rps", "nodes", "rps_per_node", "utilization"]
    );
    // One node: every delivery is local.
    assert_eq!(json["nodes"], 1);
    assert_eq!(json["latency_cross_node_us"], serde_json::Value::Null);
    assert_eq!(
        json["latency_local_us"]["samples"], report.deliveries,
        "typed: every delivery is timed"
    );
    assert_eq!(report.cross_node, None);
}

#[test]
fn the_report_gives_the_server_cpu_per_delivery_of_an_in_process_server() {
    // Enough load for the 10 ms ticks of /proc to count both kinds of CPU time.
    let config = BenchConfig {
        clients: 10,
        load: Load::Messages(2000),
        window: 16,
        ..small(Target::Typed, None)
    };
    let report = run(&config);
    assert_complete(&report, &config);
    let cpu = report
        .server_cpu
        .expect("the bench's own process is readable");
    assert!(cpu.includes_clients, "in-process: the bench's own process");
    assert!(cpu.user_s > 0.0 && cpu.system_s > 0.0, "{cpu:?}");
    let deliveries = report.deliveries as f64;
    assert!((cpu.user_us_per_delivery * deliveries / 1e6 - cpu.user_s).abs() < 1e-9);
    assert!((cpu.system_us_per_delivery * deliveries / 1e6 - cpu.system_s).abs() < 1e-9);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("JSON");
    let field = |name: &str| json["server_cpu"][name].as_f64().unwrap_or(0.0);
    assert!(field("user_us_per_delivery") > 0.0 && field("system_us_per_delivery") > 0.0);
    assert_eq!(json["server_cpu"]["includes_clients"], true);
    assert!(report.to_text().contains("µs/delivery user"));
}

#[test]
fn the_bench_loses_nothing_against_an_in_process_legacy_server() {
    let config = small(Target::Legacy, None);
    assert_complete(&run(&config), &config);
}

/// A child process killed on drop, so a failing assertion leaves no server behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the child's output until `find` extracts a port from a line, then keeps draining it on a
/// thread (a server that logs to a closed pipe may die of it).
fn port_from_output(
    from: impl std::io::Read + Send + 'static,
    find: impl Fn(&str) -> Option<u16> + Send + 'static,
) -> u16 {
    let (found, port) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if let Some(port) = find(&line) {
                let _ = found.send(port);
            }
        }
    });
    port.recv_timeout(std::time::Duration::from_secs(10))
        .expect("the server says which port it chose")
}

#[test]
fn the_bench_drives_the_seed_python_server_with_the_legacy_profile() {
    // Port 0: the server chooses and says which, so no other test can take the port meanwhile.
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed/seed_chat.py");
    let mut server = Reaped(
        Command::new("python3")
            .args([seed, "server", "0", "60"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the seed server"),
    );
    let stdout = server.0.stdout.take().expect("piped stdout");
    let port = port_from_output(stdout, |line| line.strip_prefix("listening ")?.parse().ok());
    let config = BenchConfig {
        server_pids: vec![server.0.id()],
        ..small(
            Target::Legacy,
            Some(SocketAddr::from(([127, 0, 0, 1], port))),
        )
    };
    let report = run(&config);
    assert_complete(&report, &config);
    assert_eq!(report.server_relay_ms, None);
    // --server-pid: the server's own process, not the bench's.
    let cpu = report
        .server_cpu
        .expect("the server's /proc/PID/stat is readable");
    assert!(!cpu.includes_clients);
}

#[test]
fn the_bench_drives_a_nats_server_with_the_same_workload() {
    // CI installs nats-server and sets FRAMECHAT_REQUIRE_NATS=1, so there this cannot be skipped.
    let required = std::env::var_os("FRAMECHAT_REQUIRE_NATS").is_some();
    let available = Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok();
    if !available {
        assert!(
            !required,
            "nats-server is required (apt-get install nats-server)"
        );
        eprintln!("SKIPPED: nats-server is not installed (apt-get install nats-server)");
        return;
    }
    // -p -1: a random port, which nats-server logs on stderr.
    let mut server = Reaped(
        Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nats-server starts"),
    );
    let stderr = server.0.stderr.take().expect("piped stderr");
    let port = port_from_output(stderr, |line| {
        let (_, after) = line.split_once("Listening for client connections on ")?;
        after.trim().rsplit(':').next()?.parse().ok()
    });
    let config = small(Target::Nats, Some(SocketAddr::from(([127, 0, 0, 1], port))));
    assert_complete(&run(&config), &config);
}

#[test]
fn lost_deliveries_are_grouped_by_how_each_client_ended_largest_loss_first() {
    use crate::bench::{lost_by, ClientEnd, LostBy};
    let end = |deliveries, reason: Option<&str>| ClientEnd {
        deliveries,
        reason: reason.map(str::to_string),
    };
    let slow = "closed by the server with ERROR 6 (SLOW_CONSUMER): your queue was full";
    let ends = [
        end(100, None),
        end(40, Some(slow)),
        end(100, Some("the connection failed: reset")),
        end(90, None),
        end(70, Some(slow)),
    ];
    assert_eq!(
        lost_by(&ends, 100),
        [
            LostBy {
                reason: slow.to_string(),
                clients: 2,
                lost: 90
            },
            LostBy {
                reason: bench::NO_REASON.to_string(),
                clients: 1,
                lost: 10
            },
        ]
    );
    assert_eq!(lost_by(&ends[..1], 100), []);
}

#[test]
fn a_client_the_server_closes_with_an_error_is_named_as_the_reason_for_its_losses() {
    use framechat::{Encoder, ErrorCode, Frame, Limits, Profile};
    use std::io::{Read, Write};

    // A server that welcomes its one client, then closes it as a slow consumer without relaying.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("the bench connects");
        let mut preface = [0u8; 10];
        socket.read_exact(&mut preface).expect("the preface");
        let mut encoder = Encoder::server(Profile::Typed, Limits::default());
        let mut out = Vec::new();
        let welcome = Frame::Welcome {
            peer_id: 1,
            max_frame_len: 1 << 20,
        };
        let closing = Frame::Error {
            code: ErrorCode::SLOW_CONSUMER,
            reason: "your queue was full",
        };
        encoder.encode(welcome, &mut out).expect("WELCOME");
        encoder.encode(closing, &mut out).expect("ERROR");
        socket.write_all(&out).expect("send");
        socket
            .shutdown(std::net::Shutdown::Write)
            .expect("our end of stream");
        // Read to the client's end, so closing never resets what it has not read yet.
        let _ = std::io::copy(&mut socket, &mut std::io::sink());
    });
    let config = BenchConfig {
        clients: 1,
        load: Load::Messages(3),
        window: 1,
        // Nothing is ever echoed: the drain only says how long the sender waits for it.
        drain: std::time::Duration::from_secs(1),
        ..small(Target::Typed, Some(addr))
    };
    let report = run(&config);
    server.join().expect("the fake server ends");
    assert!(report.lost >= 1, "{report:?}");
    let [group] = report.lost_by.as_slice() else {
        panic!("one reason, got {:?}", report.lost_by)
    };
    assert_eq!((group.clients, group.lost), (1, report.lost));
    assert!(
        group.reason.contains("SLOW_CONSUMER") && group.reason.contains("your queue was full"),
        "{}",
        group.reason
    );
    assert!(report.to_text().contains(&group.reason));
    assert!(report.to_json().contains("\"lost_by\""));
}

#[test]
fn clients_are_placed_round_robin_over_the_nodes() {
    let placed: Vec<usize> = (0..7).map(|client| bench::node_of(client, 3)).collect();
    assert_eq!(placed, [0, 1, 2, 0, 1, 2, 0]);
    assert!((0..5).all(|client| bench::node_of(client, 1) == 0));
}

#[test]
fn a_delivery_is_cross_node_when_its_sender_is_on_another_node() {
    use crate::bench::Seat;
    // FC-41: a peer id's high 32 bits are its node's tag.
    let seat = Seat {
        node: 1,
        nodes: 3,
        tag: Some(7),
    };
    assert!(!seat.is_cross_node_peer(7 << 32 | 5));
    assert!(seat.is_cross_node_peer(8 << 32 | 5));
    let alone = Seat { nodes: 1, ..seat };
    assert!(
        !alone.is_cross_node_peer(8 << 32 | 5),
        "one node: all local"
    );
    // NATS payloads carry the bench's client number, from 1: client k is on node (k - 1) % 3.
    assert!(!seat.is_cross_node_client(2) && !seat.is_cross_node_client(5));
    assert!(seat.is_cross_node_client(1) && seat.is_cross_node_client(3));
}

#[test]
fn bench_takes_a_comma_separated_address_and_server_pid_per_node() {
    use crate::args::{Cli, Command};
    use clap::Parser;
    let parse = |flags: &[&str]| match Cli::try_parse_from(
        ["framechat", "bench"].iter().chain(flags).copied(),
    ) {
        Ok(Cli {
            command: Command::Bench(args),
            ..
        }) => args.config(),
        Ok(_) => panic!("a bench command"),
        Err(err) => Err(err.to_string().into()),
    };
    let nodes = "127.0.0.1:4001,127.0.0.1:4002,127.0.0.1:4003";
    let config = parse(&["--addr", nodes, "--server-pid", "11,12,13"]).expect("valid");
    let ports: Vec<u16> = config.addrs.iter().map(SocketAddr::port).collect();
    assert_eq!(ports, [4001, 4002, 4003]);
    assert_eq!(config.server_pids, [11, 12, 13]);
    let config = parse(&["--addr", "127.0.0.1:4001"]).expect("one address, as before");
    assert_eq!(config.addrs, [SocketAddr::from(([127, 0, 0, 1], 4001))]);
    assert!(parse(&["--addr", "127.0.0.1:4001,nowhere"]).is_err());
    assert!(
        parse(&["--server-pid", "11,12"]).is_err(),
        "pids need --addr"
    );
}

#[test]
fn the_bench_spreads_its_clients_over_every_address_round_robin() {
    // Two servers that are no cluster: each relays only among its own clients, so what each
    // server counts shows where the clients went (3 and 2 of 5) and what each of them sent.
    task::block_on(async {
        let mut servers = Vec::new();
        for _ in 0..2 {
            servers.push(bench::InProcessServer::start().await.expect("bind"));
        }
        let config = BenchConfig {
            addrs: servers.iter().map(|s| s.handle.local_addr()).collect(),
            // Deliveries that cannot come (the other server's) are waited for this long.
            drain: std::time::Duration::from_secs(1),
            ..small(Target::Typed, None)
        };
        let report = bench::run(&config, |_, _| {})
            .await
            .expect("the bench runs");
        let mut metrics = Vec::new();
        for server in servers {
            let snapshot = server.stop().await;
            metrics.push((snapshot.connections_total, snapshot.messages_total));
        }
        assert_eq!(metrics, [(3, 3 * 40), (2, 2 * 40)]);
        assert_eq!(report.nodes_driven, 2);
        assert_eq!(report.messages_sent, 5 * 40);
        // Each client hears its own server's clients only: 3 × 3 × 40 + 2 × 2 × 40.
        assert_eq!(report.deliveries, 520);
        assert_eq!(report.lost, 5 * 5 * 40 - 520);
        assert!(report.to_text().contains("latency on 2 nodes: local p50"));
    });
}
