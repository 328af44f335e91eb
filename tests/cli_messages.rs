//! What the `framechat` binary says outside a client session: a closed stdout does not crash the
//! server, a failed connect names its address, the help speaks of the notebook.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_framechat");

#[test]
fn serve_with_a_closed_stdout_still_shuts_down_cleanly() {
    // `framechat serve | head -n 1` once `head` has gone: the final metrics line has nowhere to go.
    let mut server = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--metrics-interval", "0s"])
        .args(["--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    drop(server.stdout.take());
    let mut stderr = BufReader::new(server.stderr.take().expect("piped stderr"));
    let mut banner = String::new();
    stderr.read_line(&mut banner).expect("the banner");
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let mut rest = String::new();
    for line in stderr.lines().map_while(Result::ok) {
        rest.push_str(&line);
        rest.push('\n');
    }
    let status = server.wait().expect("the server exits");
    assert!(status.success(), "{status:?}: {rest}");
    assert!(!rest.contains("panicked"), "{rest}");
}

#[test]
fn bench_names_the_address_it_cannot_connect_to() {
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .to_string();
    let output = Command::new(BIN)
        .args([
            "bench",
            "--addr",
            &addr,
            "--clients",
            "1",
            "--messages",
            "1",
        ])
        .output()
        .expect("the bench runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot connect to {addr}: ")),
        "{stderr}"
    );
}

#[test]
fn the_help_speaks_of_the_notebook_not_the_seed() {
    for command in [&["--help"][..], &["bench", "--help"], &["demo", "--help"]] {
        let output = Command::new(BIN)
            .args(command)
            .output()
            .expect("the binary runs");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(!help.to_lowercase().contains("seed"), "{command:?}: {help}");
    }
    let output = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert!(String::from_utf8_lossy(&output.stdout).contains("The notebook's demo"));
}
