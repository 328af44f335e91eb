//! `framechat client` at the edges a user hits: every end of a session is said and, unless it was
//! the user's own end of input, fails; a profile mismatch is named with the flag that fixes it; a
//! line that cannot be sent is refused alone.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use framechat::wire::PREFACE;
use framechat::{Encoder, Frame, Limits, Profile};

mod cli_support;
use cli_support::{serve, Reaped, BIN};

/// A generous bound on waiting for a child: only a hang reaches it.
const WITHIN: Duration = Duration::from_secs(30);

/// A running `framechat client`: its stdin, its stdout as lines, its stderr collected.
struct Client {
    process: Reaped,
    stdin: Option<ChildStdin>,
    stdout: mpsc::Receiver<String>,
    stderr: JoinHandle<String>,
}

fn client(addr: &str, flags: &[&str]) -> Client {
    let mut process = Command::new(BIN)
        .args(["client", "--addr", addr])
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client starts");
    let stdin = process.stdin.take();
    let stdout = lines(process.stdout.take().expect("piped stdout"));
    let mut stderr = process.stderr.take().expect("piped stderr");
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    Client {
        process: Reaped(process),
        stdin,
        stdout,
        stderr,
    }
}

impl Client {
    fn send(&mut self, bytes: &[u8]) {
        self.stdin
            .as_mut()
            .expect("stdin still open")
            .write_all(bytes)
            .expect("the client reads stdin");
    }

    fn next_line(&self) -> String {
        self.stdout
            .recv_timeout(WITHIN)
            .expect("a line within the bound")
    }

    /// Waits for the client to exit with its stdin still open (unless closed before), and returns
    /// its status and everything it printed on stderr.
    fn exit(mut self) -> (ExitStatus, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.process.0.try_wait().expect("wait") {
                break status;
            }
            assert!(started.elapsed() < WITHIN, "the client did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(self.stdin.take());
        (status, self.stderr.join().expect("stderr collected"))
    }

    /// Ends the input and waits for the client to exit.
    fn end_input(mut self) -> (ExitStatus, String) {
        drop(self.stdin.take());
        self.exit()
    }
}

/// The lines a child prints, as they come.
fn lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// A one-connection server scripted by `script`; returns its address.
fn fake_server(script: impl FnOnce(TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("bound").to_string();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            stream.set_read_timeout(Some(WITHIN)).expect("a read bound");
            script(stream);
        }
    });
    addr
}

/// Closes `stream` with bytes still unread in it, which makes the kernel reset the connection.
fn reset_once_data_arrives(stream: TcpStream) {
    let mut byte = [0u8; 1];
    let _ = stream.peek(&mut byte);
    drop(stream);
}

fn welcome(max_frame_len: u32) -> Vec<u8> {
    let mut wire = Vec::new();
    Encoder::server(Profile::Typed, Limits::default())
        .encode(
            Frame::Welcome {
                peer_id: 1,
                max_frame_len,
            },
            &mut wire,
        )
        .expect("a valid WELCOME");
    wire
}

fn kill(server: &Reaped, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &server.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn typed_client_whose_server_closes_before_welcome_suggests_the_legacy_profile_and_fails() {
    // A legacy-only server reads the preface as a 4 GiB length and closes (§4.1).
    let addr = fake_server(|mut stream| {
        let mut preface = [0u8; PREFACE.len()];
        let _ = stream.read_exact(&mut preface);
    });
    let (status, stderr) = client(&addr, &[]).exit();
    assert!(!status.success());
    assert!(stderr.contains(&addr), "{stderr}");
    assert!(stderr.contains("before its WELCOME"), "{stderr}");
    assert!(stderr.contains("try --profile legacy"), "{stderr}");
}

#[test]
fn typed_client_reading_a_legacy_frame_first_names_the_legacy_profile_and_fails() {
    let addr = fake_server(|mut stream| {
        let _ = stream.write_all(b"\x00\x00\x00\x05hello");
        let _ = std::io::copy(&mut stream, &mut std::io::sink());
    });
    let (status, stderr) = client(&addr, &[]).exit();
    assert!(!status.success());
    assert!(stderr.contains("type 0x00"), "{stderr}");
    assert!(
        stderr.contains("it looks like it speaks the legacy profile; try --profile legacy"),
        "{stderr}"
    );
}

#[test]
fn legacy_client_reading_a_typed_stream_names_the_typed_profile_and_fails() {
    let addr = fake_server(|mut stream| {
        let _ = stream.write_all(&welcome(Limits::DEFAULT_MAX_FRAME_LEN));
        let _ = std::io::copy(&mut stream, &mut std::io::sink());
    });
    let client = client(&addr, &["--profile", "legacy"]);
    assert_eq!(
        client.next_line(),
        format!("connected to {addr} (legacy profile)")
    );
    let (status, stderr) = client.exit();
    assert!(!status.success());
    // WELCOME's type byte 0x80 and its length's top bytes, read as a legacy length.
    assert!(stderr.contains("2147483648"), "{stderr}");
    assert!(
        stderr.contains("it looks like it speaks the typed profile; try --profile typed"),
        "{stderr}"
    );
}

#[test]
fn a_reset_connection_is_reported_and_fails() {
    let addr = fake_server(|mut stream| {
        let _ = stream.write_all(&welcome(Limits::DEFAULT_MAX_FRAME_LEN));
        let mut preface = [0u8; PREFACE.len()];
        let _ = stream.read_exact(&mut preface);
        // The CHAT the client sends next stays unread.
        reset_once_data_arrives(stream);
    });
    let mut client = client(&addr, &[]);
    assert!(client.next_line().starts_with("welcome: you are peer 1"));
    client.send(b"hello\n");
    let (status, stderr) = client.exit();
    assert!(!status.success());
    assert!(
        stderr.starts_with(&format!("framechat: the connection to {addr} failed: ")),
        "{stderr}"
    );
}

#[test]
fn both_profiles_report_a_killed_server_and_fail() {
    let (server, addr) = serve(&[]);
    let typed = client(&addr, &[]);
    assert!(typed.next_line().starts_with("welcome: "));
    let mut legacy = client(&addr, &["--profile", "legacy"]);
    assert_eq!(
        legacy.next_line(),
        format!("connected to {addr} (legacy profile)")
    );
    // Its echo proves the server took it in.
    legacy.send(b"hi\n");
    assert_eq!(legacy.next_line(), "echo: hi");
    kill(&server, "-KILL");
    for (name, client) in [("typed", typed), ("legacy", legacy)] {
        let (status, stderr) = client.exit();
        assert!(!status.success(), "{name}");
        assert!(stderr.starts_with("framechat: the "), "{name}: {stderr}");
        assert!(stderr.contains(&addr), "{name}: {stderr}");
    }
}

#[test]
fn both_profiles_report_a_graceful_shutdown_and_fail() {
    // FC-33: GOING_AWAY to the typed client; the legacy client only sees the close.
    let (server, addr) = serve(&[]);
    let typed = client(&addr, &[]);
    assert!(typed.next_line().starts_with("welcome: "));
    let mut legacy = client(&addr, &["--profile", "legacy"]);
    assert!(legacy.next_line().starts_with("connected to "));
    legacy.send(b"hi\n");
    assert_eq!(legacy.next_line(), "echo: hi");
    kill(&server, "-TERM");

    let (status, stderr) = typed.exit();
    assert!(!status.success());
    assert!(
        stderr.starts_with(&format!(
            "framechat: the server at {addr} ended the session with ERROR GOING_AWAY (8)"
        )),
        "{stderr}"
    );
    let (status, stderr) = legacy.exit();
    assert!(!status.success());
    assert_eq!(
        stderr.trim_end(),
        format!("framechat: the server at {addr} closed the connection")
    );
}

#[test]
fn a_line_over_the_servers_text_budget_is_refused_and_the_next_line_is_sent() {
    // FC-15: a frame limit of 64 leaves 40 bytes of text.
    let (_server, addr) = serve(&["--max-frame-len", "64"]);
    let mut client = client(&addr, &[]);
    assert!(client.next_line().contains("(max frame 64 bytes)"));
    client.send(&[b'x'; 100]);
    client.send(b"\nok\n");
    assert!(client.next_line().starts_with("echo: ok  ("));
    let (status, stderr) = client.end_input();
    assert!(status.success(), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "framechat: line 1 too long: 100 bytes; this server takes at most 40 bytes of text per \
         message (its frame limit 64 minus 24 bytes of relay headroom): not sent"
    );
}

#[test]
fn a_line_that_is_not_utf8_is_refused_and_the_next_line_is_sent() {
    let (_server, addr) = serve(&[]);
    let mut client = client(&addr, &["--profile", "legacy"]);
    assert!(client.next_line().starts_with("connected to "));
    client.send(b"ab\xff\nok\n");
    assert_eq!(client.next_line(), "echo: ok");
    let (status, stderr) = client.end_input();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("line 1 is not UTF-8 (invalid after its first 2 bytes): not sent"),
        "{stderr}"
    );
}

#[test]
fn client_resolves_a_host_name_and_ends_cleanly_at_end_of_input() {
    let (_server, addr) = serve(&[]);
    let port = addr.rsplit(':').next().expect("a port");
    let client = client(&format!("localhost:{port}"), &[]);
    assert!(client.next_line().starts_with("welcome: "));
    let (status, stderr) = client.end_input();
    assert!(status.success(), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
