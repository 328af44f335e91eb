//! Connection storms (issue 13): the kernel holds every connection of a burst until the server
//! accepts it, and the server accepts all of them. Every wait is bounded; ports come from the OS.
#![cfg(feature = "server")]

use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::time::{Duration, Instant};

use async_std::task;
use framechat::server::{BindError, Server, ServerConfig, ServerConfigError};

/// A generous bound on waiting for an event (a connect, a count): only a lost event reaches it,
/// never a slow machine. A SYN the kernel dropped costs its client a retransmit after 1 s, then
/// 3 s, then 7 s, so a connection that needed one would still connect within it: a connect that
/// does not is one the kernel kept dropping because the queue stayed full.
const WAIT: Duration = Duration::from_secs(10);

/// More connections than `TcpListener::bind`'s fixed backlog of 128 holds (the kernel queues one
/// past the backlog).
const BURST: usize = 300;

fn config(listen_backlog: u32) -> ServerConfig {
    ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_interval: None,
        listen_backlog,
        ..ServerConfig::default()
    }
}

#[test]
fn a_burst_larger_than_128_connects_before_the_server_accepts_any_and_all_are_admitted() {
    assert!(
        ServerConfig::system_listen_backlog() as usize > BURST,
        "this test needs net.core.somaxconn above {BURST}"
    );
    task::block_on(async {
        let server = Server::bind(config(ServerConfig::system_listen_backlog()))
            .await
            .expect("binds");
        let addr = server.local_addr();
        // Nothing accepts yet: every connection of the burst waits in the listen queue, and a
        // connect returns only once its handshake is done, so one the queue could not hold
        // would wait for retransmits the queue (never drained) keeps dropping.
        let burst: Vec<StdTcpStream> = (0..BURST)
            .map(|i| {
                StdTcpStream::connect_timeout(&addr, WAIT)
                    .unwrap_or_else(|err| panic!("connection {i} of {BURST} not queued: {err}"))
            })
            .collect();
        let handle = server.handle();
        let running = task::spawn(server.run());
        // FC-26: each is admitted to the room once the server accepts it.
        let deadline = Instant::now() + WAIT;
        while handle.metrics().connections_total < BURST as u64 && Instant::now() < deadline {
            task::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(handle.metrics().connections_total, BURST as u64);
        handle.shutdown();
        running.await.expect("runs");
        drop(burst);
    });
}

#[test]
fn a_zero_listen_backlog_is_refused_when_the_server_binds() {
    let refused = task::block_on(Server::bind(config(0)));
    assert!(matches!(
        refused,
        Err(BindError::Config(ServerConfigError::ZeroListenBacklog))
    ));
}

#[test]
fn by_default_the_listen_backlog_is_the_systems_largest() {
    let default = ServerConfig::default().listen_backlog;
    assert_eq!(default, ServerConfig::system_listen_backlog());
    match std::fs::read_to_string("/proc/sys/net/core/somaxconn") {
        Ok(text) => assert_eq!(Ok(default), text.trim().parse::<u32>()),
        Err(_) => assert_eq!(default, ServerConfig::FALLBACK_LISTEN_BACKLOG),
    }
}

/// §8.7: past the connection limit, at most 64 refusals (each waiting out a detection window to
/// know whether to send SERVER_FULL) run at once; a connection beyond them is closed at its accept,
/// so a flood past the limit costs the server an accept each, not a task and a window.
#[test]
fn past_64_refusals_in_flight_a_connection_is_closed_at_once() {
    use std::io::Read;
    const HELD_REFUSALS: usize = 64;
    const EXTRA: usize = 6;
    task::block_on(async {
        let config = ServerConfig {
            // No refusal may end by its window running out while the test looks.
            detect_window: Duration::from_secs(60),
            hub: framechat::hub::HubConfig::new(1, 1024, 8 << 20).expect("non-zero bounds"),
            ..config(ServerConfig::system_listen_backlog())
        };
        let server = Server::bind(config).await.expect("binds");
        let (addr, handle) = (server.local_addr(), server.handle());
        let running = task::spawn(server.run());
        let connect = || StdTcpStream::connect_timeout(&addr, WAIT).expect("connects");
        let admitted = connect();
        let mut silent = Vec::new();
        for expected in 1..=HELD_REFUSALS as u64 {
            silent.push(connect());
            // One at a time, so the server has accepted each before the next: the 64 in flight
            // are these, whatever the scheduler does.
            let deadline = Instant::now() + WAIT;
            while handle.metrics().connections_refused < expected && Instant::now() < deadline {
                task::sleep(Duration::from_millis(2)).await;
            }
            assert_eq!(handle.metrics().connections_refused, expected);
        }
        for extra in 0..EXTRA {
            let mut flood = connect();
            flood.set_read_timeout(Some(WAIT)).expect("a read timeout");
            let mut byte = [0u8; 1];
            // A close, not a read that timed out: the server ended it (FIN) or reset it.
            match flood.read(&mut byte) {
                Ok(0) => {}
                Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => {}
                other => panic!("connection {extra} past the 64 got {other:?}, not a close"),
            }
        }
        assert_eq!(
            handle.metrics().connections_refused,
            (HELD_REFUSALS + EXTRA) as u64,
            "every one is counted as refused"
        );
        handle.shutdown();
        running.await.expect("runs");
        drop((admitted, silent));
    });
}
