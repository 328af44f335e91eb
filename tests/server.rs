//! The server over real loopback sockets (spec §8). Every wait is bounded; ports come from the OS.
#![cfg(feature = "server")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::time::{Duration, Instant};

use async_std::net::TcpStream;
use async_std::task;
use framechat::futures::{FrameSink, FrameStream};
use framechat::hub::HubConfig;
use framechat::server::{Server, ServerConfig, ServerHandle};
use framechat::wire::PREFACE;
use framechat::{Decoder, Encoder, ErrorCode, Frame, Limits, Profile, UnixMicros};
use futures_lite::StreamExt as _;

/// A generous bound on waiting for an event (a frame, an end of stream, a count): only a lost
/// event reaches it, never a slow machine.
mod server_support;
use server_support::{metrics_until, start, Running};

const WAIT: Duration = Duration::from_secs(10);

/// A detection window no typed client can miss, however late a loaded machine runs it between
/// its connect and its preface (FC-27): a test whose typed client were judged legacy would fail
/// for the machine's sake. Nothing waits for it to run out: every client that must be judged by
/// silence is in a test with [`silence_config`].
const UNMISSABLE_WINDOW: Duration = Duration::from_secs(30);

/// A detection window short enough that a silent client is judged legacy quickly (FC-27).
const SHORT_WINDOW: Duration = Duration::from_millis(100);

/// The server of most tests: every clock is an upper bound that no scheduling delay reaches.
fn config() -> ServerConfig {
    ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_interval: None,
        detect_window: UNMISSABLE_WINDOW,
        // Queues drain within this unless a peer stops reading: no test's drain is cut by it.
        shutdown_grace: WAIT,
        ..ServerConfig::default()
    }
}

/// For tests whose clients include one judged legacy by its silence (FC-27). Only legacy clients
/// may connect to it: a legacy client is legacy whether its first byte or the window decides, so
/// no scheduling delay changes what it is; a typed client here could lose the race to the window.
fn silence_config() -> ServerConfig {
    ServerConfig {
        detect_window: SHORT_WINDOW,
        ..config()
    }
}

type ClientReader = FrameStream<TcpStream>;
type ClientWriter = FrameSink<TcpStream>;

/// A client over the futures adapter: a typed one's preface is on the wire when this returns
/// (FC-3), and its reader adopts the limit WELCOME announces (§4.4).
async fn connect(addr: SocketAddr, profile: Profile) -> (ClientReader, ClientWriter) {
    let stream = TcpStream::connect(addr)
        .await
        .expect("connect to the test server");
    stream.set_nodelay(true).expect("nodelay");
    let limits = Limits::default();
    let mut writer = FrameSink::new(stream.clone(), Encoder::client(profile, limits));
    writer.flush().await.expect("send the preface");
    let reader = FrameStream::new(stream, Decoder::client(profile, limits));
    (reader, writer)
}

/// Sends in the connection's profile: CHAT stamped `sent_at` (typed), or a legacy text.
trait SendMessage {
    async fn queue_message(
        &mut self,
        text: &str,
        sent_at: UnixMicros,
    ) -> Result<(), framechat::io::Error>;
    async fn send_message(
        &mut self,
        text: &str,
        sent_at: UnixMicros,
    ) -> Result<(), framechat::io::Error>;
}

impl SendMessage for ClientWriter {
    async fn queue_message(
        &mut self,
        text: &str,
        sent_at: UnixMicros,
    ) -> Result<(), framechat::io::Error> {
        let text = text.to_string();
        let frame = match self.encoder().profile() {
            Profile::Typed => Frame::Chat { sent_at, text },
            Profile::Legacy => Frame::Text(text),
        };
        self.feed(frame).await
    }

    async fn send_message(
        &mut self,
        text: &str,
        sent_at: UnixMicros,
    ) -> Result<(), framechat::io::Error> {
        self.queue_message(text, sent_at).await?;
        self.flush().await
    }
}

async fn recv(reader: &mut ClientReader) -> Frame {
    async_std::future::timeout(WAIT, reader.next())
        .await
        .expect("a frame within the wait")
        .expect("not the end of the stream")
        .expect("a well-formed frame")
}

/// Receives until the stream ends (or fails), bounded by the wait; returns the frames.
async fn recv_to_end(reader: &mut ClientReader) -> Vec<Frame> {
    let mut frames = Vec::new();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match async_std::future::timeout(WAIT, reader.next()).await {
            Ok(Some(Ok(frame))) => frames.push(frame),
            _ => break,
        }
    }
    frames
}

/// A typed client's first frame is WELCOME (§8.3); returns its peer id.
async fn welcome(reader: &mut ClientReader) -> u64 {
    match recv(reader).await {
        Frame::Welcome { peer_id, .. } => peer_id,
        other => panic!("expected WELCOME first, got {other:?}"),
    }
}

fn text(frame: &Frame) -> &str {
    frame.text().unwrap_or_default()
}

/// Waits until the server has admitted `n` connections in all. A `connect` returns once the
/// kernel has the connection, before the server accepts it and puts it in the room (FC-26): a
/// test that needs a legacy client (which gets no WELCOME) to hear a broadcast waits for this.
async fn admitted(handle: &ServerHandle, n: u64) {
    let metrics = metrics_until(handle, |m| m.connections_total >= n).await;
    assert!(metrics.connections_total >= n, "{n} connections admitted");
}

#[test]
fn legacy_clients_get_echo_and_peer_texts() {
    // §3.2, FC-28. The second client hears the first before it speaks: judged by its silence.
    task::block_on(async {
        let server = start(silence_config()).await;
        let (mut r1, mut w1) = connect(server.addr(), Profile::Legacy).await;
        let (mut r2, mut w2) = connect(server.addr(), Profile::Legacy).await;
        admitted(&server.handle, 2).await;
        w1.send_message("hello", UnixMicros::UNKNOWN)
            .await
            .expect("send");
        assert_eq!(recv(&mut r1).await, Frame::Text("echo: hello".into()));
        assert_eq!(recv(&mut r2).await, Frame::Text("peer: hello".into()));
        w2.send_message("", UnixMicros::UNKNOWN)
            .await
            .expect("send");
        assert_eq!(recv(&mut r2).await, Frame::Text("echo: ".into()));
        assert_eq!(recv(&mut r1).await, Frame::Text("peer: ".into()));
        let metrics = server.stop().await;
        assert_eq!(metrics.messages_total, 2);
    });
}

#[test]
fn typed_clients_get_welcome_echo_and_broadcast_with_timestamps() {
    // §4.4, §4.5, §8.3, FC-28
    task::block_on(async {
        let server = start(config()).await;
        let (mut r1, mut w1) = connect(server.addr(), Profile::Typed).await;
        let (mut r2, _w2) = connect(server.addr(), Profile::Typed).await;
        let id1 = welcome(&mut r1).await;
        let Frame::Welcome {
            peer_id: id2,
            max_frame_len,
        } = recv(&mut r2).await
        else {
            panic!("expected WELCOME first")
        };
        assert_ne!(id1, id2);
        // WELCOME tells the server's limit (§4.4).
        assert_eq!(max_frame_len, Limits::default().max_frame_len());
        let sent_at = UnixMicros::now();
        w1.send_message("hi", sent_at).await.expect("send");
        match recv(&mut r1).await {
            Frame::Echo {
                sent_at: echoed,
                relayed_at,
                text,
            } => {
                assert_eq!((echoed, text.as_str()), (sent_at, "hi"));
                assert!(relayed_at >= sent_at, "relayed_at is the server's clock");
            }
            other => panic!("expected ECHO, got {other:?}"),
        }
        match recv(&mut r2).await {
            Frame::Broadcast {
                from,
                sent_at: stamped,
                text,
                ..
            } => assert_eq!((from, stamped, text.as_str()), (id1, sent_at, "hi")),
            other => panic!("expected BROADCAST, got {other:?}"),
        }
        server.stop().await;
    });
}

#[test]
fn legacy_and_typed_clients_share_one_room() {
    // §3.2, §5: the server converts between profiles.
    task::block_on(async {
        let server = start(config()).await;
        let (mut legacy_r, mut legacy_w) = connect(server.addr(), Profile::Legacy).await;
        let (mut typed_r, mut typed_w) = connect(server.addr(), Profile::Typed).await;
        let typed_id = welcome(&mut typed_r).await;
        legacy_w
            .send_message("from legacy", UnixMicros::UNKNOWN)
            .await
            .expect("send");
        assert_eq!(text(&recv(&mut legacy_r).await), "echo: from legacy");
        match recv(&mut typed_r).await {
            Frame::Broadcast { sent_at, text, .. } => {
                assert_eq!(text, "from legacy");
                // §4.5: a legacy message's send time is the server's receive time.
                assert_ne!(sent_at, UnixMicros::UNKNOWN);
            }
            other => panic!("expected BROADCAST, got {other:?}"),
        }
        typed_w
            .send_message("from typed", UnixMicros::now())
            .await
            .expect("send");
        assert!(matches!(recv(&mut typed_r).await, Frame::Echo { .. }));
        assert_eq!(text(&recv(&mut legacy_r).await), "peer: from typed");
        let _ = typed_id;
        server.stop().await;
    });
}

/// The seed's own framing, written from its text: `struct.pack('!I', len) + utf8`, blocking std.
fn seed_send(sock: &mut StdTcpStream, text: &str) {
    let mut frame = (text.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(text.as_bytes());
    sock.write_all(&frame).expect("seed send");
}

fn seed_recv(sock: &mut StdTcpStream) -> String {
    let mut header = [0u8; 4];
    sock.read_exact(&mut header).expect("seed header");
    let mut data = vec![0u8; u32::from_be_bytes(header) as usize];
    sock.read_exact(&mut data).expect("seed payload");
    String::from_utf8(data).expect("seed text")
}

#[test]
fn a_client_written_to_the_seed_framing_only_interoperates() {
    // §3: byte for byte the seed's format. The second client never speaks: judged by its silence.
    task::block_on(async {
        let server = start(silence_config()).await;
        let addr = server.addr();
        let handle = server.handle.clone();
        let received = task::spawn_blocking(move || {
            let mut a = StdTcpStream::connect(addr).expect("connect");
            let mut b = StdTcpStream::connect(addr).expect("connect");
            for sock in [&mut a, &mut b] {
                sock.set_read_timeout(Some(WAIT)).expect("timeout");
            }
            task::block_on(admitted(&handle, 2));
            let mut seen = Vec::new();
            for message in ["a", "b", "c", "d"] {
                seed_send(&mut a, message);
                seen.push(seed_recv(&mut a));
                seen.push(seed_recv(&mut b));
            }
            seen
        })
        .await;
        assert_eq!(
            received,
            [
                "echo: a", "peer: a", "echo: b", "peer: b", "echo: c", "peer: c", "echo: d",
                "peer: d"
            ]
        );
        server.stop().await;
    });
}

#[test]
fn byte_by_byte_and_coalesced_writes_give_the_same_messages() {
    // FC-18 end to end: the server's decoder sees whatever cut TCP and the client make.
    task::block_on(async {
        let server = start(config()).await;
        let (mut listener_r, _listener_w) = connect(server.addr(), Profile::Typed).await;
        welcome(&mut listener_r).await;
        let addr = server.addr();
        let writer = task::spawn_blocking(move || {
            let mut stream = StdTcpStream::connect(addr).expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut bytes = PREFACE.to_vec();
            let mut encoder = framechat::Encoder::client(Profile::Typed, Limits::default());
            let _ = encoder.write_preface(&mut Vec::new());
            for message in ["one", "two", "three"] {
                encoder
                    .encode(
                        Frame::Chat {
                            sent_at: UnixMicros(1),
                            text: message,
                        },
                        &mut bytes,
                    )
                    .expect("encode");
            }
            // The preface and first frame one byte per write, the rest in one write.
            let cut = PREFACE.len() + 5 + 8 + 3;
            for byte in &bytes[..cut] {
                stream.write_all(&[*byte]).expect("write a byte");
                std::thread::sleep(Duration::from_millis(1));
            }
            stream.write_all(&bytes[cut..]).expect("write the rest");
            // Kept open until the broadcasts are out: the test drops it after it has them.
            stream
        });
        let texts: Vec<String> = [
            recv(&mut listener_r).await,
            recv(&mut listener_r).await,
            recv(&mut listener_r).await,
        ]
        .iter()
        .map(|f| text(f).to_string())
        .collect();
        assert_eq!(texts, ["one", "two", "three"]);
        drop(writer.await);
        server.stop().await;
    });
}

#[test]
fn ping_is_answered_with_pong() {
    // §8.4
    task::block_on(async {
        let server = start(config()).await;
        let (mut r, mut w) = connect(server.addr(), Profile::Typed).await;
        welcome(&mut r).await;
        w.feed(Frame::Ping { nonce: 0xfeed }).await.expect("encode");
        w.flush().await.expect("send");
        assert_eq!(recv(&mut r).await, Frame::Pong { nonce: 0xfeed });
        server.stop().await;
    });
}

#[test]
fn a_silent_client_is_in_the_room_and_becomes_legacy() {
    // FC-26, FC-27: joined at accept; legacy once the detection window passes without a byte.
    // The talker is legacy too: with a window this short a typed talker could be misjudged on a
    // loaded machine, and typed-to-legacy relaying is `legacy_and_typed_clients_share_one_room`'s.
    task::block_on(async {
        let server = start(silence_config()).await;
        let addr = server.addr();
        let silent = task::spawn_blocking(move || {
            let mut sock = StdTcpStream::connect(addr).expect("connect");
            sock.set_read_timeout(Some(WAIT)).expect("timeout");
            (seed_recv(&mut sock), seed_recv(&mut sock))
        });
        // Let the silent client be accepted before the talker speaks.
        admitted(&server.handle, 1).await;
        let (mut r, mut w) = connect(server.addr(), Profile::Legacy).await;
        w.send_message("first", UnixMicros::UNKNOWN)
            .await
            .expect("send");
        w.send_message("second", UnixMicros::UNKNOWN)
            .await
            .expect("send");
        assert_eq!(text(&recv(&mut r).await), "echo: first");
        assert_eq!(text(&recv(&mut r).await), "echo: second");
        let (first, second) = silent.await;
        assert_eq!(
            (first.as_str(), second.as_str()),
            ("peer: first", "peer: second")
        );
        server.stop().await;
    });
}

#[test]
fn messages_queued_before_the_profile_is_known_are_encoded_in_the_decided_profile() {
    // FC-27: a typed client that connects, stays quiet briefly (within the window), then sends its
    // preface gets WELCOME and then the broadcasts queued meanwhile, all typed. The window is
    // `config()`'s, longer than any wait below: the quiet spell ends by the test's doing, when the
    // broadcast is queued, never by the clock.
    task::block_on(async {
        let server = start(config()).await;
        let addr = server.addr();
        let mut late = async_std::net::TcpStream::connect(addr)
            .await
            .expect("connect");
        admitted(&server.handle, 1).await;
        let (mut r, mut w) = connect(addr, Profile::Typed).await;
        welcome(&mut r).await;
        w.send_message("early", UnixMicros::now())
            .await
            .expect("send");
        metrics_until(&server.handle, |m| m.messages_total >= 1).await;
        use async_std::io::prelude::WriteExt;
        late.write_all(PREFACE).await.expect("preface");
        let mut late_r = LateReader::new(late.clone());
        let first = late_r.next().await;
        assert!(matches!(first, Frame::Welcome { .. }), "got {first:?}");
        let second = late_r.next().await;
        assert!(
            matches!(&second, Frame::Broadcast { text, .. } if text == "early"),
            "got {second:?}"
        );
        server.stop().await;
    });
}

/// A typed reader over a raw stream whose preface the test wrote itself.
struct LateReader {
    stream: async_std::net::TcpStream,
    decoder: framechat::Decoder,
    pending: std::collections::VecDeque<Frame>,
}

impl LateReader {
    fn new(stream: async_std::net::TcpStream) -> Self {
        LateReader {
            stream,
            decoder: framechat::Decoder::client(Profile::Typed, Limits::default()),
            pending: Default::default(),
        }
    }

    async fn next(&mut self) -> Frame {
        use async_std::io::prelude::ReadExt;
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + WAIT;
        while self.pending.is_empty() && Instant::now() < deadline {
            let n = async_std::io::timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("read");
            assert!(n > 0, "stream ended early");
            let pending = &mut self.pending;
            self.decoder
                .decode_each(&buf[..n], |f| pending.push_back(f.into_owned()))
                .expect("valid frames");
        }
        self.pending.pop_front().expect("a frame within the wait")
    }
}

/// Healthy clients chat through `bad`, then must have lost nothing.
async fn healthy_clients_survive(server: &Running, bad: impl std::future::Future<Output = ()>) {
    let before = server.handle.metrics().connections_total;
    let (mut r1, mut w1) = connect(server.addr(), Profile::Typed).await;
    let (mut r2, mut w2) = connect(server.addr(), Profile::Legacy).await;
    welcome(&mut r1).await;
    admitted(&server.handle, before + 2).await;
    w1.send_message("before", UnixMicros::now())
        .await
        .expect("send");
    // FC-28 orders each sender's messages, not two senders': once "before" is echoed it has been
    // queued for every peer, so "after" comes behind it in every queue.
    let mut typed_texts = vec![text(&recv(&mut r1).await).to_string()];
    bad.await;
    w2.send_message("after", UnixMicros::now())
        .await
        .expect("send");
    typed_texts.push(text(&recv(&mut r1).await).to_string());
    let mut legacy_texts = Vec::new();
    for _ in 0..2 {
        legacy_texts.push(text(&recv(&mut r2).await).to_string());
    }
    assert_eq!(typed_texts, ["before", "after"]);
    assert_eq!(legacy_texts, ["peer: before", "echo: after"]);
}

/// Sends `bytes` on a raw connection and returns everything the server sent back before closing.
async fn hostile(addr: SocketAddr, bytes: Vec<u8>) -> Vec<u8> {
    task::spawn_blocking(move || {
        let mut sock = StdTcpStream::connect(addr).expect("connect");
        sock.set_read_timeout(Some(WAIT)).expect("timeout");
        sock.write_all(&bytes).expect("send hostile bytes");
        let mut back = Vec::new();
        let _ = sock.read_to_end(&mut back);
        back
    })
    .await
}

/// The typed frames in `bytes` as a client decodes them.
fn typed_frames(bytes: &[u8]) -> Vec<Frame> {
    let mut decoder = framechat::Decoder::client(Profile::Typed, Limits::default());
    let mut frames = Vec::new();
    decoder
        .decode_each(bytes, |f| frames.push(f.into_owned()))
        .expect("the server sends valid frames");
    frames
}

fn last_error_code(bytes: &[u8]) -> Option<ErrorCode> {
    match typed_frames(bytes).last() {
        Some(Frame::Error { code, .. }) => Some(*code),
        _ => None,
    }
}

#[test]
fn a_declared_4_gib_length_is_refused_and_others_carry_on() {
    // FC-14, FC-30
    task::block_on(async {
        let server = start(config()).await;
        let addr = server.addr();
        let mut typed_bomb = PREFACE.to_vec();
        typed_bomb.extend_from_slice(&[0xb0, 0xff, 0xff, 0xff, 0xff]);
        let mut typed_back = Vec::new();
        let mut legacy_back = vec![1];
        healthy_clients_survive(&server, async {
            typed_back = hostile(addr, typed_bomb).await;
            legacy_back = hostile(addr, vec![0x7f, 0xff, 0xff, 0xff, b'x']).await;
        })
        .await;
        assert_eq!(
            last_error_code(&typed_back),
            Some(ErrorCode::FRAME_TOO_LARGE)
        );
        assert!(
            legacy_back.is_empty(),
            "legacy has no error frame: just a close"
        );
        let metrics = metrics_until(&server.handle, |m| m.protocol_errors >= 2).await;
        assert_eq!(metrics.protocol_errors, 2);
        server.stop().await;
    });
}

#[test]
fn invalid_utf8_bad_preface_and_malformed_frames_close_only_the_offender() {
    // FC-4, FC-6, FC-7, FC-17, FC-30
    task::block_on(async {
        let server = start(config()).await;
        let addr = server.addr();
        let mut bad_utf8 = PREFACE.to_vec();
        bad_utf8.extend_from_slice(&[0x81, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 1, 0xc3, 0x28]);
        let mut bad_length = PREFACE.to_vec();
        bad_length.extend_from_slice(&[0x84, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7]);
        let bad_preface = b"\xffFCHAT/2\r\n".to_vec();
        let mut wrong_direction = PREFACE.to_vec();
        wrong_direction.extend_from_slice(&[0x82, 0, 0, 0, 16]);
        let mut codes = Vec::new();
        healthy_clients_survive(&server, async {
            for bytes in [bad_utf8, bad_length, bad_preface, wrong_direction] {
                codes.push(last_error_code(&hostile(addr, bytes).await));
            }
        })
        .await;
        assert_eq!(
            codes,
            [
                Some(ErrorCode::INVALID_UTF8),
                Some(ErrorCode::PROTOCOL_ERROR),
                Some(ErrorCode::BAD_PREFACE),
                Some(ErrorCode::PROTOCOL_ERROR),
            ]
        );
        server.stop().await;
    });
}

#[test]
fn a_stalled_header_is_closed_by_the_frame_deadline() {
    // FC-32 (slowloris)
    task::block_on(async {
        let mut cfg = config();
        cfg.frame_deadline = Duration::from_millis(200);
        let server = start(cfg).await;
        let addr = server.addr();
        let mut stalled = PREFACE.to_vec();
        stalled.extend_from_slice(&[0x81, 0, 0]);
        let started = Instant::now();
        let mut back = Vec::new();
        healthy_clients_survive(&server, async {
            back = hostile(addr, stalled).await;
        })
        .await;
        assert_eq!(last_error_code(&back), Some(ErrorCode::TIMEOUT));
        assert!(
            started.elapsed() < WAIT,
            "closed by the deadline, not the test's wait"
        );
        let metrics = metrics_until(&server.handle, |m| m.timeouts >= 1).await;
        assert_eq!(metrics.timeouts, 1);
        server.stop().await;
    });
}

#[test]
fn an_idle_connection_is_closed_by_the_idle_timeout() {
    // FC-32
    task::block_on(async {
        let mut cfg = config();
        cfg.idle_timeout = Duration::from_millis(200);
        let server = start(cfg).await;
        let (mut r, _w) = connect(server.addr(), Profile::Typed).await;
        welcome(&mut r).await;
        let frames = recv_to_end(&mut r).await;
        assert!(
            matches!(frames.last(), Some(Frame::Error { code, .. }) if *code == ErrorCode::TIMEOUT),
            "got {frames:?}"
        );
        server.stop().await;
    });
}

#[test]
fn connections_past_the_limit_get_server_full_and_never_join() {
    // FC-31
    task::block_on(async {
        let mut cfg = config();
        cfg.hub = HubConfig::new(2, 1024, 1 << 20).expect("valid hub config");
        cfg.limits = Limits::new(64 * 1024).expect("valid limit");
        let server = start(cfg).await;
        let (mut r1, mut w1) = connect(server.addr(), Profile::Typed).await;
        let (mut r2, _w2) = connect(server.addr(), Profile::Typed).await;
        welcome(&mut r1).await;
        welcome(&mut r2).await;
        let (mut r3, _w3) = connect(server.addr(), Profile::Typed).await;
        let frames = recv_to_end(&mut r3).await;
        assert!(
            matches!(frames.as_slice(), [Frame::Error { code, .. }] if *code == ErrorCode::SERVER_FULL),
            "got {frames:?}"
        );
        w1.send_message("still here", UnixMicros::now())
            .await
            .expect("send");
        assert_eq!(text(&recv(&mut r2).await), "still here");
        let metrics = server.stop().await;
        assert_eq!(metrics.connections_refused, 1);
        assert_eq!(metrics.connections_total, 2);
    });
}

#[test]
fn a_client_that_never_reads_is_disconnected_and_the_others_lose_nothing() {
    // FC-29: bounded queue, slow consumer closed and counted, healthy peers get everything.
    task::block_on(async {
        let mut cfg = config();
        cfg.hub = HubConfig::new(64, 1024, 1 << 20).expect("valid hub config");
        cfg.limits = Limits::new(64 * 1024).expect("valid limit");
        // Long enough that the blocked writer is still there when the slow client reads at last.
        cfg.write_timeout = Duration::from_secs(30);
        let server = start(cfg).await;
        let addr = server.addr();
        // The slow client sends its preface, then never reads.
        let mut slow = StdTcpStream::connect(addr).expect("connect");
        slow.write_all(PREFACE).expect("preface");
        let (mut healthy_r, _healthy_w) = connect(addr, Profile::Typed).await;
        welcome(&mut healthy_r).await;
        let (mut sender_r, mut sender_w) = connect(addr, Profile::Typed).await;
        welcome(&mut sender_r).await;
        // 16 MiB in all: more than the kernel's socket buffers and the queue bound can hide.
        const MESSAGES: usize = 4_000;
        // The sender keeps at most this many messages unechoed, as a healthy client does.
        const WINDOW: usize = 32;
        let text = "x".repeat(4096);
        // What the healthy peer has read: the sender never runs more than WINDOW ahead of it
        // either, however the machine schedules the reader.
        let healthy_read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let broadcast_reader = task::spawn({
            let healthy_read = healthy_read.clone();
            async move {
                let mut received = 0;
                while received < MESSAGES {
                    match recv(&mut healthy_r).await {
                        Frame::Broadcast { .. } => received += 1,
                        other => panic!("unexpected {other:?}"),
                    }
                    healthy_read.store(received, std::sync::atomic::Ordering::Relaxed);
                }
                received
            }
        });
        let (mut sent, mut echoed) = (0, 0);
        while sent < WINDOW {
            sender_w
                .queue_message(&text, UnixMicros::now())
                .await
                .expect("encode");
            sent += 1;
        }
        sender_w.flush().await.expect("send");
        while echoed < MESSAGES {
            if let Frame::Echo { .. } = recv(&mut sender_r).await {
                echoed += 1;
                if sent < MESSAGES {
                    let deadline = Instant::now() + WAIT;
                    while sent - healthy_read.load(std::sync::atomic::Ordering::Relaxed) > WINDOW {
                        assert!(
                            Instant::now() < deadline,
                            "the healthy peer stopped reading"
                        );
                        task::sleep(Duration::from_millis(1)).await;
                    }
                    sender_w
                        .send_message(&text, UnixMicros::now())
                        .await
                        .expect("send");
                    sent += 1;
                }
            }
        }
        assert_eq!(broadcast_reader.await, MESSAGES);
        let metrics = metrics_until(&server.handle, |m| m.slow_consumers >= 1).await;
        assert_eq!(metrics.slow_consumers, 1);
        // The server closed it: its end of stream is not counted as the peer's protocol error.
        assert_eq!(metrics.protocol_errors, 0);
        // Reading at last, the slow client gets what was queued before the overflow, then
        // ERROR SLOW_CONSUMER, then the end of the stream (FC-29).
        let backlog = task::spawn_blocking(move || {
            slow.set_read_timeout(Some(WAIT)).expect("timeout");
            let mut bytes = Vec::new();
            slow.read_to_end(&mut bytes)
                .expect("the server ends the stream");
            bytes
        })
        .await;
        let frames = typed_frames(&backlog);
        assert!(matches!(frames.first(), Some(Frame::Welcome { .. })));
        assert!(
            frames.len() > 2,
            "some broadcasts were delivered before the overflow"
        );
        assert!(
            matches!(frames.last(), Some(Frame::Error { code, .. }) if *code == ErrorCode::SLOW_CONSUMER),
            "got {:?}",
            frames.last()
        );
        server.stop().await;
    });
}

#[test]
fn shutdown_delivers_what_is_queued_then_going_away() {
    // FC-33
    task::block_on(async {
        let server = start(config()).await;
        let (mut r1, mut w1) = connect(server.addr(), Profile::Typed).await;
        let (mut r2, _w2) = connect(server.addr(), Profile::Typed).await;
        welcome(&mut r1).await;
        welcome(&mut r2).await;
        for i in 0..100 {
            w1.queue_message(&format!("m{i}"), UnixMicros::now())
                .await
                .expect("encode");
        }
        w1.flush().await.expect("send");
        metrics_until(&server.handle, |m| m.messages_total >= 100).await;
        let handle = server.handle.clone();
        let stopping = task::spawn(server.stop());
        let frames = recv_to_end(&mut r2).await;
        let (last, broadcasts) = frames.split_last().expect("some frames");
        assert_eq!(broadcasts.len(), 100);
        assert!(broadcasts
            .iter()
            .enumerate()
            .all(|(i, f)| text(f) == format!("m{i}")));
        assert!(
            matches!(last, Frame::Error { code, .. } if *code == ErrorCode::GOING_AWAY),
            "got {last:?}"
        );
        let metrics = stopping.await;
        assert_eq!(metrics.messages_total, 100);
        assert_eq!(handle.metrics().connections_open, 0);
    });
}

#[test]
fn the_prometheus_endpoint_serves_the_counters() {
    task::block_on(async {
        let mut cfg = config();
        cfg.metrics_addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        let server = start(cfg).await;
        let (mut r, mut w) = connect(server.addr(), Profile::Legacy).await;
        w.send_message("count me", UnixMicros::UNKNOWN)
            .await
            .expect("send");
        recv(&mut r).await;
        // The server counts a message after relaying it, so its echo can arrive first.
        metrics_until(&server.handle, |m| m.messages_total >= 1).await;
        let metrics_addr = server.handle.metrics_addr().expect("a metrics endpoint");
        let body = task::spawn_blocking(move || {
            let mut sock = StdTcpStream::connect(metrics_addr).expect("connect");
            sock.set_read_timeout(Some(WAIT)).expect("timeout");
            sock.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
                .expect("request");
            let mut body = String::new();
            sock.read_to_string(&mut body).expect("response");
            body
        })
        .await;
        assert!(body.starts_with("HTTP/1.0 200 OK"), "{body}");
        assert!(body.contains("\nframechat_messages_total 1\n"), "{body}");
        assert!(
            body.contains("# TYPE framechat_connections_open gauge"),
            "{body}"
        );
        server.stop().await;
    });
}

#[test]
fn a_client_streaming_large_frames_is_not_cut_by_the_frame_deadline() {
    // FC-32: the deadline bounds one frame, not a stream of frames that straddle reads. The
    // streamer is paced by the clock only to make the stream outlast the deadline; the deadline is
    // long enough that no scheduling delay between two of its writes reaches it (the exact cut is
    // `a_frame_only_continued_past_its_deadline_is_cut_though_reads_keep_coming`'s, without sockets).
    // The listener never speaks, so the server is `silence_config`'s, and every client legacy.
    const DEADLINE: Duration = Duration::from_secs(3);
    const FRAMES: usize = 120;
    // 120 pieces 40 ms apart: 4.8 s, 1.6 deadlines.
    const PACE: Duration = Duration::from_millis(40);
    task::block_on(async {
        let mut cfg = silence_config();
        cfg.frame_deadline = DEADLINE;
        let server = start(cfg).await;
        let addr = server.addr();
        let (mut listener_r, _listener_w) = connect(addr, Profile::Legacy).await;
        admitted(&server.handle, 1).await;
        let streamer = task::spawn_blocking(move || {
            let mut sock = StdTcpStream::connect(addr).expect("connect");
            let text = "z".repeat(50_000);
            let mut bytes = Vec::new();
            for _ in 0..FRAMES {
                bytes.extend_from_slice(&(text.len() as u32).to_be_bytes());
                bytes.extend_from_slice(text.as_bytes());
            }
            // Pieces that end inside frames, each completing one frame and starting the next.
            let started = Instant::now();
            for piece in bytes.chunks(bytes.len() / FRAMES + 7) {
                sock.write_all(piece).expect("the server keeps reading");
                std::thread::sleep(PACE);
            }
            (sock, started.elapsed())
        });
        for _ in 0..FRAMES {
            assert_eq!(
                text(&recv(&mut listener_r).await).len(),
                "peer: ".len() + 50_000
            );
        }
        let (sock, streamed_for) = streamer.await;
        drop(sock);
        assert!(
            streamed_for > DEADLINE,
            "the stream outlasted one deadline: {streamed_for:?}"
        );
        let metrics = server.stop().await;
        assert_eq!(
            (metrics.timeouts, metrics.messages_total),
            (0, FRAMES as u64)
        );
    });
}

#[test]
fn a_preface_and_a_bad_frame_in_one_write_get_welcome_then_error() {
    // §8.3, FC-30: WELCOME first whatever the read boundaries, ERROR last.
    task::block_on(async {
        let server = start(config()).await;
        let mut bytes = PREFACE.to_vec();
        bytes.extend_from_slice(&[0x81, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]);
        let frames = typed_frames(&hostile(server.addr(), bytes).await);
        assert!(
            matches!(
                frames.as_slice(),
                [Frame::Welcome { .. }, Frame::Error { code, .. }] if *code == ErrorCode::INVALID_UTF8
            ),
            "got {frames:?}"
        );
        server.stop().await;
    });
}

#[test]
fn nothing_follows_the_error_frame_even_while_others_flood_the_room() {
    // FC-30: the ERROR is the last frame; relays racing the close are not sent after it.
    task::block_on(async {
        let server = start(config()).await;
        let addr = server.addr();
        let (mut flood_r, mut flood_w) = connect(addr, Profile::Typed).await;
        welcome(&mut flood_r).await;
        let flooding = task::spawn(async move {
            for i in 0..2_000 {
                flood_w
                    .send_message(&format!("flood {i}"), UnixMicros::now())
                    .await
                    .expect("send");
            }
            flood_w
        });
        let drain = task::spawn(async move { recv_to_end(&mut flood_r).await.len() });
        for _ in 0..20 {
            let mut bytes = PREFACE.to_vec();
            bytes.extend_from_slice(&[0x81, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]);
            let frames = typed_frames(&hostile(addr, bytes).await);
            assert!(
                matches!(frames.last(), Some(Frame::Error { code, .. }) if *code == ErrorCode::INVALID_UTF8),
                "got {:?}",
                frames.last()
            );
        }
        let _flood_w = flooding.await;
        server.stop().await;
        assert!(drain.await > 0);
    });
}

#[test]
fn configurations_that_cannot_work_are_refused_at_bind() {
    use framechat::server::{BindError, ServerConfigError};
    task::block_on(async {
        let refused = |cfg: ServerConfig| async move {
            match Server::bind(cfg).await {
                Err(BindError::Config(err)) => err,
                Err(other) => panic!("expected a configuration error, got {other}"),
                Ok(_) => panic!("expected the configuration to be refused"),
            }
        };
        let mut zero_idle = config();
        zero_idle.idle_timeout = Duration::ZERO;
        assert_eq!(
            refused(zero_idle).await,
            ServerConfigError::ZeroDuration {
                name: "idle_timeout"
            }
        );
        let mut tiny_queue = config();
        tiny_queue.hub = HubConfig::new(8, 8, 100).expect("valid hub config");
        assert!(matches!(
            refused(tiny_queue).await,
            ServerConfigError::QueueSmallerThanMessage {
                max_queue_bytes: 100,
                ..
            }
        ));
    });
}

#[test]
fn an_address_in_use_is_refused_at_bind_naming_the_address_and_its_flag() {
    use framechat::server::BindError;
    task::block_on(async {
        let server = start(config()).await;
        let taken = server.addr();
        let mut same_addr = config();
        same_addr.addr = taken;
        match Server::bind(same_addr).await {
            Err(err @ BindError::Listen { addr, .. }) => {
                assert_eq!(addr, taken);
                let message = err.to_string();
                assert!(message.contains(&taken.to_string()), "{message}");
                assert!(message.contains("--addr"), "{message}");
            }
            Err(other) => panic!("expected the listening address refused, got {other}"),
            Ok(_) => panic!("bound an address in use"),
        }
        let mut same_metrics_addr = config();
        same_metrics_addr.metrics_addr = Some(taken);
        match Server::bind(same_metrics_addr).await {
            Err(err @ BindError::MetricsListen { addr, .. }) => {
                assert_eq!(addr, taken);
                let message = err.to_string();
                assert!(message.contains(&taken.to_string()), "{message}");
                assert!(message.contains("--metrics-addr"), "{message}");
            }
            Err(other) => panic!("expected the metrics address refused, got {other}"),
            Ok(_) => panic!("bound an address in use"),
        }
        server.stop().await;
    });
}

#[test]
fn every_lifecycle_rule_of_section_8_is_cited_by_a_socket_test() {
    // §1: rules of §8 are each cited by a socket test; this file is where they live, with
    // tests/auth.rs for authentication (§8.9).
    let spec = include_str!("../spec/PROTOCOL.md");
    let start = spec.find("## 8. ").expect("§8 exists");
    let end = spec.find("## 9. ").expect("§9 exists");
    let tags: Vec<&str> = spec[start..end]
        .split("[FC-")
        .skip(1)
        .filter_map(|rest| rest.split(']').next())
        .collect();
    assert!(tags.len() >= 8, "§8 defines its rules: {tags:?}");
    let this_file = concat!(include_str!("server.rs"), include_str!("auth.rs"));
    let uncited: Vec<&&str> = tags
        .iter()
        .filter(|n| {
            // Cited as the tag followed by a non-digit, so a shorter tag never matches a longer one.
            !this_file
                .match_indices(&format!("FC-{n}"))
                .any(|(at, m)| !this_file[at + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect();
    assert!(
        uncited.is_empty(),
        "§8 rules no socket test cites: {uncited:?}"
    );
}
