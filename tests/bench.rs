//! The bench against a framechat server in-process (both profiles), the seed's Python server and a
//! NATS server: every expected delivery arrives and the report adds up.
#![cfg(feature = "cli")]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_std::task;
use framechat::bench::{self, BenchConfig, Load, Report, Target};

fn small(target: Target, addr: Option<SocketAddr>) -> BenchConfig {
    BenchConfig {
        addr,
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
    assert!(json.starts_with('{') && json.ends_with('}') && json.contains("\"lost\": 0"));
}

#[test]
fn the_bench_loses_nothing_against_an_in_process_legacy_server() {
    let config = small(Target::Legacy, None);
    assert_complete(&run(&config), &config);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A child process killed on drop, so a failing assertion leaves no server behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_bench_drives_the_seed_python_server_with_the_legacy_profile() {
    let port = free_port();
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed/seed_chat.py");
    let _server = Reaped(
        Command::new("python3")
            .args([seed, "server", &port.to_string(), "60"])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs the seed server"),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(addr);
    let config = small(Target::Legacy, Some(addr));
    let report = run(&config);
    assert_complete(&report, &config);
    assert_eq!(report.server_relay_ms, None);
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
    let port = free_port();
    let _server = Reaped(
        Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts"),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(addr);
    let config = small(Target::Nats, Some(addr));
    assert_complete(&run(&config), &config);
}
