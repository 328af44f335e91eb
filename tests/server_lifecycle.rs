//! The server's lifecycle at its edges (spec §8, issue 11), over real loopback sockets: what an
//! undecided connection gets at shutdown, who counts as idle, the queue bound before the first
//! write, half-close, and the metrics endpoint under load. Every wait is on an event, with clocks
//! only as generous upper bounds; ports come from the OS.
#![cfg(feature = "server")]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::time::{Duration, Instant};

use async_std::net::TcpStream;
use async_std::task;
use framechat::futures::{FrameSink, FrameStream};
use framechat::hub::HubConfig;
use framechat::server::ServerConfig;
use framechat::{Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

mod server_support;
use server_support::{metrics_until, start};

const WAIT: Duration = Duration::from_secs(10);
/// A detection window no test outlasts: a connection still undecided at its end was decided by
/// something else than the window.
const NEVER: Duration = Duration::from_secs(600);

/// A detection window no typed client can miss, however long it is descheduled between its connect
/// and its preface; a test that needs "legacy by silence" sets a short one and talks legacy.
const UNMISSABLE_WINDOW: Duration = Duration::from_secs(30);

fn config() -> ServerConfig {
    ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_interval: None,
        detect_window: UNMISSABLE_WINDOW,
        shutdown_grace: Duration::from_secs(5),
        ..ServerConfig::default()
    }
}

/// A typed client over the futures adapter, its WELCOME read.
async fn typed_client(addr: SocketAddr) -> (FrameStream<TcpStream>, FrameSink<TcpStream>) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let limits = Limits::default();
    let mut writer = FrameSink::new(stream.clone(), Encoder::client(Profile::Typed, limits));
    writer.flush().await.expect("send the preface");
    let mut reader = FrameStream::new(stream, Decoder::client(Profile::Typed, limits));
    let first = recv(&mut reader).await;
    assert!(matches!(first, Frame::Welcome { .. }), "got {first:?}");
    (reader, writer)
}

async fn recv(reader: &mut FrameStream<TcpStream>) -> Frame {
    server_support::next_frame(reader).await
}

/// Sends a CHAT and waits for its ECHO: once this returns the server has relayed it.
async fn say(reader: &mut FrameStream<TcpStream>, writer: &mut FrameSink<TcpStream>, text: &str) {
    let chat = Frame::Chat {
        sent_at: UnixMicros::now(),
        text: text.to_string(),
    };
    writer.send(chat).await.expect("send");
    match recv(reader).await {
        Frame::Echo { text: echoed, .. } => assert_eq!(echoed, text),
        other => panic!("expected the ECHO of {text:?}, got {other:?}"),
    }
}

/// A client that never sends, connected with blocking std I/O; reads are bounded by the wait.
fn silent_client(addr: SocketAddr) -> StdTcpStream {
    let sock = StdTcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(WAIT)).expect("timeout");
    sock
}

/// A legacy frame of `text` (§3.1).
fn legacy_frame(text: &str) -> Vec<u8> {
    let mut frame = (text.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// The next legacy frame's text (§3.1), or `None` at the end of the stream.
fn legacy_recv(sock: &mut StdTcpStream) -> Option<String> {
    let mut header = [0u8; 4];
    match sock.read_exact(&mut header) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::UnexpectedEof => return None,
        Err(err) => panic!("reading a legacy header: {err}"),
    }
    let mut text = vec![0u8; u32::from_be_bytes(header) as usize];
    sock.read_exact(&mut text).expect("a legacy payload");
    Some(String::from_utf8(text).expect("UTF-8 text"))
}

#[test]
fn shutdown_delivers_the_queue_of_a_silent_connection_still_inside_its_detection_window() {
    // FC-33 with FC-27: at shutdown an undecided connection is decided legacy and gets its queue.
    task::block_on(async {
        let server = start(ServerConfig {
            detect_window: NEVER,
            ..config()
        })
        .await;
        let addr = server.addr();
        let mut silent = silent_client(addr);
        metrics_until(&server.handle, |m| m.connections_open >= 1).await;
        let (mut r, mut w) = typed_client(addr).await;
        for text in ["a", "b", "c"] {
            say(&mut r, &mut w, text).await;
        }
        // The echo is queued before the others' copies (§8.4): the relay of "c" is done, its copy
        // for the silent connection queued, once the server counts it, not when "c" is echoed.
        metrics_until(&server.handle, |m| m.messages_total >= 3).await;
        let stopping = task::spawn(server.stop());
        let received = task::spawn_blocking(move || {
            std::iter::from_fn(|| legacy_recv(&mut silent)).collect::<Vec<_>>()
        })
        .await;
        assert_eq!(received, ["peer: a", "peer: b", "peer: c"]);
        let metrics = stopping.await;
        assert_eq!(metrics.connections_open, 0);
    });
}

#[test]
fn a_listen_only_client_that_keeps_receiving_outlives_the_idle_timeout() {
    // FC-26 with FC-32: a successful write restarts the idle timeout; silence both ways closes.
    task::block_on(async {
        let idle_timeout = Duration::from_secs(2);
        // The listener is legacy by its silence; the talker is legacy too, so that its profile is
        // the same whether its first bytes or the short window decide it.
        let server = start(ServerConfig {
            idle_timeout,
            detect_window: Duration::from_millis(100),
            ..config()
        })
        .await;
        let addr = server.addr();
        let mut listener = silent_client(addr);
        metrics_until(&server.handle, |m| m.connections_open >= 1).await;
        let mut talker = silent_client(addr);
        // Two idle timeouts of messages, a tenth of one apart: the listener never sends.
        let count = 40;
        let talking = Instant::now();
        for i in 0..count {
            let text = format!("m{i}");
            talker
                .write_all(&legacy_frame(&text))
                .expect("send a legacy text");
            // Its echo: the server has relayed it to the listener too (FC-28).
            assert_eq!(legacy_recv(&mut talker), Some(format!("echo: {text}")));
            task::sleep(idle_timeout / 20).await;
        }
        assert!(
            talking.elapsed() > idle_timeout,
            "the talk outlasted the idle timeout"
        );
        let heard = task::spawn_blocking(move || {
            let heard: Vec<String> = (0..count)
                .filter_map(|_| legacy_recv(&mut listener))
                .collect();
            // Then nothing is written: the idle timeout closes it (legacy: without an ERROR).
            let after = legacy_recv(&mut listener);
            (heard, after)
        })
        .await;
        let expected: Vec<String> = (0..count).map(|i| format!("peer: m{i}")).collect();
        assert_eq!(heard.0, expected);
        assert_eq!(heard.1, None, "closed once nothing more was written");
        let metrics = server.stop().await;
        assert!(
            metrics.timeouts >= 1,
            "the idle timeout closed the listener"
        );
    });
}

#[test]
fn a_silent_legacy_client_joining_a_busy_room_receives_and_is_not_closed() {
    // FC-29 with FC-27: the queue bound cannot close a peer the server may not write to yet; a full
    // queue decides a silent connection legacy at once.
    task::block_on(async {
        let max_queue_frames = 16;
        let server = start(ServerConfig {
            detect_window: NEVER,
            hub: HubConfig::new(8, max_queue_frames, HubConfig::default().max_queue_bytes())
                .expect("valid hub bounds"),
            ..config()
        })
        .await;
        let addr = server.addr();
        let mut joiner = silent_client(addr);
        metrics_until(&server.handle, |m| m.connections_open >= 1).await;
        let (mut r, mut w) = typed_client(addr).await;
        let count = 4 * max_queue_frames;
        for i in 0..count {
            say(&mut r, &mut w, &format!("m{i}")).await;
        }
        let heard = task::spawn_blocking(move || {
            (0..count)
                .map_while(|_| legacy_recv(&mut joiner))
                .collect::<Vec<_>>()
        })
        .await;
        let expected: Vec<String> = (0..count).map(|i| format!("peer: m{i}")).collect();
        assert_eq!(heard, expected);
        let metrics = server.stop().await;
        assert_eq!(metrics.slow_consumers, 0);
    });
}

/// One scrape of the metrics endpoint: the whole response, or the error that ended it (a reset).
fn scrape(addr: SocketAddr) -> std::io::Result<String> {
    let mut sock = StdTcpStream::connect(addr)?;
    sock.set_read_timeout(Some(WAIT))?;
    sock.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")?;
    let mut response = String::new();
    sock.read_to_string(&mut response)?;
    Ok(response)
}

/// A scraper that sends half a request head and stalls, holding one of the endpoint's slots.
fn stalled_scraper(addr: SocketAddr) -> StdTcpStream {
    let mut sock = StdTcpStream::connect(addr).expect("connect");
    sock.write_all(b"GET /metrics HTTP/1.0\r\n")
        .expect("half a head");
    sock
}

#[test]
fn a_scrape_past_the_endpoints_limit_gets_503_and_one_after_the_stalled_heads_time_out_gets_200() {
    // The endpoint holds at most 16 requests; stalled heads cannot make it reset the others, and
    // the chat is not affected by them.
    task::block_on(async {
        let server = start(ServerConfig {
            metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..config()
        })
        .await;
        let metrics_addr = server.handle.metrics_addr().expect("an endpoint");
        let (answers, stalled) = task::spawn_blocking(move || {
            let mut stalled = Vec::new();
            let mut answers = Vec::new();
            // Each round stalls 16 more heads, then scrapes; a round only fails to fill the slots
            // if the server was starved past the head deadline in between.
            for _ in 0..5 {
                stalled.extend((0..16).map(|_| stalled_scraper(metrics_addr)));
                let answer = scrape(metrics_addr).expect("an answer, not a reset");
                let refused = answer.starts_with("HTTP/1.0 503 ");
                answers.push(answer);
                if refused {
                    break;
                }
            }
            (answers, stalled)
        })
        .await;
        let last = answers.last().expect("at least one scrape");
        assert!(last.starts_with("HTTP/1.0 503 "), "{answers:?}");
        assert!(
            answers.iter().all(|a| a.starts_with("HTTP/1.0 ")),
            "every scrape was answered: {answers:?}"
        );

        // The chat is served meanwhile.
        let (mut r, mut w) = typed_client(server.addr()).await;
        say(&mut r, &mut w, "still here").await;
        // The relay counts the message just after queueing its ECHO.
        metrics_until(&server.handle, |m| m.messages_total >= 1).await;

        // Once the stalled heads time out (still open), a scrape is answered with the metrics again.
        let deadline = Instant::now() + WAIT;
        let served = task::spawn_blocking(move || loop {
            let answer = scrape(metrics_addr).expect("an answer, not a reset");
            if answer.starts_with("HTTP/1.0 200 ") || Instant::now() > deadline {
                return answer;
            }
            std::thread::sleep(Duration::from_millis(50));
        })
        .await;
        assert!(served.starts_with("HTTP/1.0 200 OK"), "{served}");
        assert!(
            served.contains("\nframechat_messages_total 1\n"),
            "{served}"
        );
        drop(stalled);
        server.stop().await;
    });
}

#[test]
fn a_client_that_half_closes_leaves_the_room_at_once_and_gets_its_echoes_then_the_end() {
    // §8.4 half-close: the echoes queued before the end arrive, then the server's end, no ERROR.
    task::block_on(async {
        let server = start(config()).await;
        let addr = server.addr();
        let (mut other_r, _other_w) = typed_client(addr).await;
        let frames = task::spawn_blocking(move || {
            let mut sock = StdTcpStream::connect(addr).expect("connect");
            sock.set_read_timeout(Some(WAIT)).expect("timeout");
            let mut encoder = Encoder::client(Profile::Typed, Limits::default());
            let mut bytes = Vec::new();
            for text in ["one", "two", "three"] {
                let chat = Frame::Chat {
                    sent_at: UnixMicros::now(),
                    text,
                };
                encoder.encode(chat, &mut bytes).expect("encode a CHAT");
            }
            sock.write_all(&bytes)
                .expect("send the preface and three CHATs");
            sock.shutdown(std::net::Shutdown::Write)
                .expect("half-close");
            let mut received = Vec::new();
            sock.read_to_end(&mut received)
                .expect("read to the server's end");
            let mut frames = Vec::new();
            Decoder::client(Profile::Typed, Limits::default())
                .decode_each(&received, |frame| frames.push(frame.into_owned()))
                .expect("well-formed frames");
            frames
        })
        .await;
        assert!(matches!(frames[0], Frame::Welcome { .. }), "{frames:?}");
        let echoes: Vec<&str> = frames[1..]
            .iter()
            .map(|frame| match frame {
                Frame::Echo { text, .. } => text.as_str(),
                other => panic!("only ECHOes after the WELCOME, got {other:?}"),
            })
            .collect();
        assert_eq!(echoes, ["one", "two", "three"]);
        for text in ["one", "two", "three"] {
            match recv(&mut other_r).await {
                Frame::Broadcast { text: heard, .. } => assert_eq!(heard, text),
                other => panic!("expected a BROADCAST, got {other:?}"),
            }
        }
        let metrics = metrics_until(&server.handle, |m| m.connections_open == 1).await;
        assert_eq!(metrics.connections_open, 1, "the half-closed client left");
        assert_eq!(metrics.protocol_errors, 0);
        server.stop().await;
    });
}

/// Everything the server sends on a connection that sends `bytes` and then waits, decoded as typed
/// frames.
fn typed_frames_after(addr: SocketAddr, bytes: &[u8]) -> Vec<Frame> {
    let mut sock = StdTcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(WAIT)).expect("timeout");
    sock.write_all(bytes).expect("send");
    let mut received = Vec::new();
    sock.read_to_end(&mut received)
        .expect("read to the server's end");
    let mut frames = Vec::new();
    Decoder::client(Profile::Typed, Limits::default())
        .decode_each(&received, |frame| frames.push(frame.into_owned()))
        .expect("well-formed frames");
    frames
}

#[test]
fn an_error_that_closes_an_unwelcomed_connection_is_its_first_and_only_frame() {
    // §8.3, §4.4: the first frame is WELCOME, or an ERROR closing a connection never welcomed.
    task::block_on(async {
        let server = start(ServerConfig {
            frame_deadline: Duration::from_millis(300),
            ..config()
        })
        .await;
        let addr = server.addr();
        let (stalled, bad) = task::spawn_blocking(move || {
            let preface = framechat::wire::PREFACE;
            let stalled = typed_frames_after(addr, &preface[..6]);
            let mut wrong = preface.to_vec();
            wrong[5] ^= 0xff;
            let bad = typed_frames_after(addr, &wrong);
            (stalled, bad)
        })
        .await;
        let only_error = |frames: &[Frame], expected: framechat::ErrorCode| {
            assert!(
                matches!(frames, [Frame::Error { code, .. }] if *code == expected),
                "{frames:?}"
            );
        };
        only_error(&stalled, framechat::ErrorCode::TIMEOUT);
        only_error(&bad, framechat::ErrorCode::BAD_PREFACE);
        server.stop().await;
    });
}
