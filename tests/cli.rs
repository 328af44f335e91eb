//! The `framechat` binary end to end: `serve` until SIGTERM (FC-33), `client`, `demo`.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use framechat::wire::PREFACE;
use framechat::{Decoder, ErrorCode, Frame, Limits, Profile};

const BIN: &str = env!("CARGO_BIN_EXE_framechat");

#[test]
fn serve_shuts_down_gracefully_on_sigterm_and_prints_the_final_metrics() {
    let mut server = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--metrics-interval", "0s"])
        .args(["--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // "framechat: serving legacy and typed clients on 127.0.0.1:PORT"
    let mut banner = String::new();
    let mut stderr = BufReader::new(server.stderr.take().expect("piped stderr"));
    stderr.read_line(&mut banner).expect("the banner");
    // Keep draining it: a write to a closed pipe would fail the server's logging.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let addr = banner
        .trim()
        .rsplit(' ')
        .next()
        .expect("an address ends the banner")
        .to_string();

    let mut client = TcpStream::connect(&addr).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    client.write_all(PREFACE).expect("preface");
    let mut welcome = [0u8; 17];
    client.read_exact(&mut welcome).expect("WELCOME");
    assert_eq!(welcome[0], 0x80);

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());

    // The client gets GOING_AWAY, then the end of the stream.
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("the server ends the stream");
    let mut decoder = Decoder::client(Profile::Typed, Limits::default());
    let mut frames = Vec::new();
    decoder
        .decode_each(&rest, |f| frames.push(f.into_owned()))
        .expect("valid frames");
    assert!(
        matches!(frames.as_slice(), [Frame::Error { code, .. }] if *code == ErrorCode::GOING_AWAY),
        "got {frames:?}"
    );

    let output = server.wait_with_output().expect("the server exits");
    assert!(output.status.success(), "exit status {:?}", output.status);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().expect("a final metrics line");
    assert!(last.starts_with("{\"final\": true, "), "{last}");
    assert!(last.contains("\"connections_total\": 1"), "{last}");
}

#[test]
fn demo_prints_what_both_clients_received_and_the_final_metrics() {
    let output = Command::new(BIN)
        .arg("demo")
        .output()
        .expect("the demo runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in [
        "client 1 (Legacy) recv: echo: a",
        "client 1 (Legacy) recv: peer: z",
        "client 2 (Typed) recv: welcome: you are peer 2",
        "client 2 (Typed) recv: echo: x",
        "client 2 (Typed) recv: peer 1: d",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(stdout.contains("\"messages_total\": 7"), "{stdout}");
}
