//! The `framechat` binary end to end: `serve` until SIGTERM (FC-33), `client`, `demo`.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use framechat::io::{FrameReader, FrameWriter};
use framechat::wire::PREFACE;
use framechat::{Decoder, Encoder, ErrorCode, Frame, Limits, Profile, UnixMicros};

mod cli_support;
use cli_support::{Reaped, BIN};

/// A generous bound on waiting for a child's output: only a hang reaches it.
const OUTPUT_WITHIN: Duration = Duration::from_secs(30);

/// Every test's clients are typed, and a typed client judged legacy because a loaded machine ran
/// it late between its connect and its preface would fail the test for the machine's sake
/// (FC-27). No test waits for the window to run out.
const DETECT_WINDOW: &str = "30s";

/// `framechat serve` on a free port with `flags` and the unmissable detection window.
fn serve(flags: &[&str]) -> (Reaped, String) {
    cli_support::serve(&[&["--detect-window", DETECT_WINDOW], flags].concat())
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

fn next_line(lines: &mpsc::Receiver<String>) -> String {
    lines
        .recv_timeout(OUTPUT_WITHIN)
        .expect("a line within the bound")
}

#[test]
fn serve_shuts_down_gracefully_on_sigterm_and_prints_the_final_metrics() {
    let mut server = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--metrics-interval", "0s"])
        .args(["--log-level", "warn", "--detect-window", DETECT_WINDOW])
        // An upper bound on the drain the test waits for: a starved server still sends GOING_AWAY.
        .args(["--shutdown-grace", "30s"])
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
        .set_read_timeout(Some(OUTPUT_WITHIN))
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

#[test]
fn client_sends_each_stdin_line_prints_what_comes_back_and_ends_at_end_of_input() {
    let (_server, addr) = serve(&[]);
    let mut client = Reaped(
        Command::new(BIN)
            .args(["client", "--addr", &addr])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the client starts"),
    );
    let mut stdin = client.0.stdin.take().expect("piped stdin");
    let printed = lines(client.0.stdout.take().expect("piped stdout"));
    assert!(next_line(&printed).starts_with("welcome: you are peer "));
    stdin.write_all("héllo\n".as_bytes()).expect("a line");
    assert!(next_line(&printed).starts_with("echo: héllo  ("));
    // End of input: the client ends its stream cleanly, the server closes, the client exits.
    drop(stdin);
    assert!(client.0.wait().expect("the client exits").success());
}

#[test]
fn client_adopts_the_larger_limit_its_server_announces_in_welcome() {
    // §4.4: the server's limit is four times the client's default; a peer's 2 MiB message is
    // then a BROADCAST above the client's own limit, which it must accept.
    let server_limits = Limits::new(4 << 20).expect("a valid limit");
    let max = server_limits.max_frame_len().to_string();
    let (_server, addr) = serve(&["--max-frame-len", &max]);
    let peer = TcpStream::connect(&addr).expect("connect");
    let mut peer_frames = FrameReader::new(
        peer.try_clone().expect("clone"),
        Decoder::client(Profile::Typed, server_limits),
    );
    let mut peer_writer = FrameWriter::new(peer, Encoder::client(Profile::Typed, server_limits));
    peer_writer.flush().expect("preface");
    let Ok(Some(Frame::Welcome { peer_id, .. })) = peer_frames.read_frame() else {
        panic!("§8.3: WELCOME first")
    };

    let mut client = Reaped(
        Command::new(BIN)
            .args(["client", "--addr", &addr])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the client starts"),
    );
    let stdin = client.0.stdin.take().expect("piped stdin");
    let printed = lines(client.0.stdout.take().expect("piped stdout"));
    assert!(next_line(&printed).contains(&format!("(max frame {max} bytes)")));
    let text = "z".repeat(2 << 20);
    peer_writer
        .write_frame(Frame::Chat {
            sent_at: UnixMicros::now(),
            text: &text,
        })
        .expect("within the server's limit");
    let broadcast = next_line(&printed);
    let expected = format!("peer {peer_id}: {text}  (");
    assert!(
        broadcast.starts_with(&expected),
        "the whole message, not FrameTooLarge: {:.80}",
        broadcast
    );
    drop(stdin);
    assert!(client.0.wait().expect("the client exits").success());
}

#[test]
fn client_reports_a_refused_connection_once_prefixed_and_fails() {
    // A port just freed: nothing listens there.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let output = Command::new(BIN)
        .args(["client", "--addr", &addr.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("the client runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The layer, then the transport's own words, after one prefix.
    assert!(
        stderr.starts_with("framechat: transport I/O failed: "),
        "{stderr}"
    );
    assert_eq!(stderr.matches("framechat").count(), 1, "{stderr}");
}

/// Runs `framechat hash-token` with `token` on stdin: (stdout, stderr, success).
fn hash_token(token: &str) -> (String, String, bool) {
    let mut child = Command::new(BIN)
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start framechat hash-token");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(token.as_bytes())
        .expect("write the token");
    let output = child.wait_with_output().expect("hash-token ends");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.success(),
    )
}

#[test]
fn hash_token_prints_the_sha256_line_and_warns_of_a_short_token_without_echoing_it() {
    // §8.9: the file holds SHA-256 digests; the token's line ending is not part of it.
    let (stdout, stderr, ok) = hash_token("correct-horse-battery-staple\n");
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout,
        "87cbebfeebc05f7c54ac9336c4b4bbec831227a641951a4bde7edd56020f8590\n"
    );
    assert_eq!(stderr, "", "a 28-byte token draws no warning");

    let (stdout, stderr, ok) = hash_token("hunter2");
    assert!(ok, "a short token is still hashed");
    assert_eq!(stdout.trim().len(), 64);
    assert!(stderr.contains("warning: a token of 7 bytes"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the token is never printed");

    let (_, stderr, ok) = hash_token("\n");
    assert!(!ok, "an empty token is refused");
    assert!(stderr.contains("stdin: the token is empty"), "{stderr}");
}

/// The executor threads of a running `framechat` process, by the name async-std gives them
/// (`async-std/runtime`, cut to 15 bytes by the kernel).
#[cfg(target_os = "linux")]
fn executor_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the server's threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("async-std/runti"))
        .count()
}

#[test]
#[cfg(target_os = "linux")]
fn serve_runs_as_many_executor_threads_as_threads_asks() {
    for threads in [1, 3] {
        let (server, addr) = serve(&["--threads", &threads.to_string()]);
        // A typed client's WELCOME: the executor has run the accept and the connection's tasks.
        let socket = TcpStream::connect(&addr).expect("connect");
        socket
            .set_read_timeout(Some(OUTPUT_WITHIN))
            .expect("a read bound");
        let mut frames = FrameReader::new(
            socket.try_clone().expect("clone"),
            Decoder::client(Profile::Typed, Limits::default()),
        );
        let mut writer =
            FrameWriter::new(socket, Encoder::client(Profile::Typed, Limits::default()));
        writer.flush().expect("preface");
        assert!(matches!(
            frames.read_frame(),
            Ok(Some(Frame::Welcome { .. }))
        ));
        // A thread another thread starts carries its starter's name until it names itself, so a
        // thread just started by an executor thread (a blocking pool's) may count for a moment:
        // the count is awaited, bounded, rather than read once.
        let deadline = std::time::Instant::now() + OUTPUT_WITHIN;
        let mut running = executor_threads(server.0.id());
        while running != threads && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            running = executor_threads(server.0.id());
        }
        assert_eq!(running, threads, "--threads {threads}");
    }
}
