//! framechat's legacy profile against the seed's own Python code (tests/seed/seed_chat.py): its
//! client against our server, our client against its server (§3).
#![cfg(feature = "server")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use async_std::net::TcpStream;
use async_std::task;
use framechat::futures::{FrameSink, FrameStream};
use framechat::server::{Server, ServerConfig};
use framechat::{Decoder, Encoder, Frame, Limits, Profile};
use futures_lite::StreamExt as _;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/seed/seed_chat.py");

#[test]
fn the_seed_client_talks_to_the_framechat_server() {
    task::block_on(async {
        let config = ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_interval: None,
            ..ServerConfig::default()
        };
        let server = Server::bind(config).await.expect("bind");
        let port = server.local_addr().port();
        let handle = server.handle();
        let running = task::spawn(server.run());
        let output = task::spawn_blocking(move || {
            Command::new("python3")
                .args([SEED, "client", &port.to_string(), "a", "b", "c", "d"])
                .stderr(Stdio::inherit())
                .output()
                .expect("python3 runs the seed client")
        })
        .await;
        assert!(output.status.success(), "the seed client failed");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "recv: echo: a\nrecv: echo: b\nrecv: echo: c\nrecv: echo: d\n"
        );
        handle.shutdown();
        let metrics = running.await.expect("server ran");
        assert_eq!(metrics.messages_total, 4);
    });
}

#[test]
fn the_framechat_client_talks_to_the_seed_server() {
    // Port 0: the seed server's wrapper prints the port the OS chose.
    let mut seed = Command::new("python3")
        .args([SEED, "server", "0", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the seed server");
    let mut first_line = String::new();
    let mut stdout = BufReader::new(seed.stdout.take().expect("piped stdout"));
    stdout
        .read_line(&mut first_line)
        .expect("the seed server starts");
    let port: u16 = first_line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .expect("the seed server says which port it chose");
    // Keep reading its output (its metrics line every 2 s) so it never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let result = task::block_on(async {
        let first = TcpStream::connect(addr)
            .await
            .expect("the seed server listens once it printed its port");
        let second = TcpStream::connect(addr).await.expect("second client");
        let limits = Limits::default();
        let mut r1 = FrameStream::new(first.clone(), Decoder::client(Profile::Legacy, limits));
        let mut w1 = FrameSink::new(first, Encoder::client(Profile::Legacy, limits));
        let mut r2 = FrameStream::new(second.clone(), Decoder::client(Profile::Legacy, limits));
        let mut w2 = FrameSink::new(second, Encoder::client(Profile::Legacy, limits));
        // A generous bound: only a lost frame reaches it.
        let wait = Duration::from_secs(10);
        // The seed server registers a client in its accept thread, after `connect` returned. The
        // second client's echo proves it registered; the first, accepted before it, receives
        // the message as a peer once it is registered too.
        w2.send(Frame::Text("ready".to_string()))
            .await
            .expect("send");
        let ready_echo = async_std::future::timeout(wait, r2.next()).await;
        let ready_peer = async_std::future::timeout(wait, r1.next()).await;
        w1.send(Frame::Text("héllo".to_string()))
            .await
            .expect("send");
        let echo = async_std::future::timeout(wait, r1.next()).await;
        let peer = async_std::future::timeout(wait, r2.next()).await;
        [ready_echo, ready_peer, echo, peer]
    });
    let _ = seed.kill();
    let _ = seed.wait();
    let texts = result.map(|received| match received {
        Ok(Some(Ok(Frame::Text(text)))) => text,
        other => panic!("expected a legacy text, got {other:?}"),
    });
    assert_eq!(
        texts,
        ["echo: ready", "peer: ready", "echo: héllo", "peer: héllo"]
    );
}
