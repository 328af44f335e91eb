//! Who may join (§8.9, FC-34 to FC-36), over real loopback sockets: a server without
//! authentication, one requiring a token, and its two legacy policies. Every wait is on an event
//! (a frame, the end of a stream, a counter), with clocks only as generous upper bounds.
#![cfg(feature = "server")]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::time::Duration;

use async_std::net::TcpStream;
use async_std::task;
use framechat::futures::{FrameSink, FrameStream};
use framechat::server::{AuthConfig, LegacyPolicy, ServerConfig, TokenSet};
use framechat::{AuthScheme, Decoder, Encoder, ErrorCode, Frame, Limits, Profile, UnixMicros};
use futures_lite::StreamExt as _;

mod server_support;
use server_support::{metrics_until, start};

const WAIT: Duration = Duration::from_secs(10);
/// Typed clients here send their preface at once; a descheduled one must not be judged legacy.
const UNMISSABLE_WINDOW: Duration = Duration::from_secs(30);
const TOKEN: &str = "s3cret-for-tests";

fn config(auth: Option<AuthConfig>) -> ServerConfig {
    ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_interval: None,
        detect_window: UNMISSABLE_WINDOW,
        auth,
        ..ServerConfig::default()
    }
}

fn requiring_token(legacy: LegacyPolicy) -> AuthConfig {
    let tokens = TokenSet::parse(&format!(
        "# the test's one token\n{}\n",
        TokenSet::line_for(TOKEN.as_bytes())
    ))
    .expect("a valid token file");
    AuthConfig {
        legacy,
        ..AuthConfig::new(tokens)
    }
}

type Reader = FrameStream<TcpStream>;
type Writer = FrameSink<TcpStream>;

/// A typed client that sends its preface and `first` frames in one write, and reads nothing yet.
async fn typed_connect(addr: SocketAddr, first: &[Frame<&str>]) -> (Reader, Writer) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let limits = Limits::default();
    let mut writer = FrameSink::new(stream.clone(), Encoder::client(Profile::Typed, limits));
    for frame in first {
        writer.feed_ref(frame.clone()).await.expect("queue a frame");
    }
    writer
        .flush()
        .await
        .expect("send the preface and the first frames");
    let reader = FrameStream::new(stream, Decoder::client(Profile::Typed, limits));
    (reader, writer)
}

fn auth(token: &str) -> Frame<&str> {
    Frame::Auth {
        scheme: AuthScheme::BEARER,
        token,
    }
}

fn chat(text: &str) -> Frame<&str> {
    Frame::Chat {
        sent_at: UnixMicros::now(),
        text,
    }
}

/// A typed client that authenticated with `token` (or sent no AUTH) and got its WELCOME.
async fn welcomed(addr: SocketAddr, token: Option<&str>) -> (Reader, Writer) {
    let first: Vec<Frame<&str>> = token.map(auth).into_iter().collect();
    let (mut reader, writer) = typed_connect(addr, &first).await;
    let welcome = recv(&mut reader).await;
    assert!(matches!(welcome, Frame::Welcome { .. }), "got {welcome:?}");
    (reader, writer)
}

async fn next(reader: &mut Reader) -> Option<Frame> {
    async_std::future::timeout(WAIT, reader.next())
        .await
        .expect("a frame or the end within the wait")
        .map(|frame| frame.expect("a well-formed frame"))
}

async fn recv(reader: &mut Reader) -> Frame {
    next(reader).await.expect("not the end of the stream")
}

/// Sends a CHAT and waits for its ECHO, which is then the next frame this client reads: anything
/// relayed to it before (by another sender) would have come first.
async fn say(reader: &mut Reader, writer: &mut Writer, text: &str) {
    writer.send(chat(text).into_owned()).await.expect("send");
    match recv(reader).await {
        Frame::Echo { text: echoed, .. } => assert_eq!(echoed, text),
        other => panic!("expected the ECHO of {text:?}, got {other:?}"),
    }
}

/// The connection's only frame is ERROR `code`, then the server ends the stream.
async fn refused_with(reader: &mut Reader, code: ErrorCode) -> String {
    let reason = match recv(reader).await {
        Frame::Error { code: got, reason } if got == code => reason,
        other => panic!("expected ERROR {code}, got {other:?}"),
    };
    assert_eq!(next(reader).await, None, "nothing after the ERROR");
    reason
}

fn legacy_frame(text: &str) -> Vec<u8> {
    let mut frame = (text.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// A seed-style legacy client: blocking std I/O, reads bounded by the wait.
fn legacy_client(addr: SocketAddr) -> StdTcpStream {
    let sock = StdTcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(WAIT)).expect("timeout");
    sock
}

/// The next legacy text, or `None` at the end of the stream (or a reset: the server closed).
fn legacy_recv(sock: &mut StdTcpStream) -> Option<String> {
    let mut header = [0u8; 4];
    match sock.read_exact(&mut header) {
        Ok(()) => {}
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
            ) =>
        {
            return None
        }
        Err(err) => panic!("reading a legacy header: {err}"),
    }
    let mut text = vec![0u8; u32::from_be_bytes(header) as usize];
    sock.read_exact(&mut text).expect("a legacy payload");
    Some(String::from_utf8(text).expect("UTF-8 text"))
}

#[test]
fn without_authentication_clients_with_and_without_auth_are_welcomed_and_relayed() {
    // §8.9: authentication is off by default; a server that knows AUTH but does not require it
    // ignores it, as an old server skips it (FC-11).
    task::block_on(async {
        let server = start(config(None)).await;
        let (mut plain_reader, mut plain_writer) = welcomed(server.addr(), None).await;
        let (mut auth_reader, mut auth_writer) = welcomed(server.addr(), Some("any token")).await;
        say(&mut plain_reader, &mut plain_writer, "from plain").await;
        match recv(&mut auth_reader).await {
            Frame::Broadcast { text, .. } => assert_eq!(text, "from plain"),
            other => panic!("expected the BROADCAST, got {other:?}"),
        }
        say(&mut auth_reader, &mut auth_writer, "from auth").await;
        let metrics = server.stop().await;
        assert_eq!((metrics.auth_refused, metrics.legacy_refused), (0, 0));
    });
}

#[test]
fn an_admitted_token_gets_welcome_and_relays() {
    // FC-34: WELCOME after the AUTH, then the room as usual.
    task::block_on(async {
        let server = start(config(Some(requiring_token(LegacyPolicy::Refuse)))).await;
        let (mut a_reader, mut a_writer) = welcomed(server.addr(), Some(TOKEN)).await;
        let (mut b_reader, _b_writer) = welcomed(server.addr(), Some(TOKEN)).await;
        say(&mut a_reader, &mut a_writer, "hello b").await;
        match recv(&mut b_reader).await {
            Frame::Broadcast { text, .. } => assert_eq!(text, "hello b"),
            other => panic!("expected the BROADCAST, got {other:?}"),
        }
        assert_eq!(server.stop().await.auth_refused, 0);
    });
}

#[test]
fn a_chat_sent_with_the_preface_and_auth_is_relayed_after_the_welcome() {
    // §8.3 with §8.9: one write, no round trip, nothing lost.
    task::block_on(async {
        let server = start(config(Some(requiring_token(LegacyPolicy::Refuse)))).await;
        let (mut reader, _writer) =
            typed_connect(server.addr(), &[auth(TOKEN), chat("at once")]).await;
        assert!(matches!(recv(&mut reader).await, Frame::Welcome { .. }));
        match recv(&mut reader).await {
            Frame::Echo { text, .. } => assert_eq!(text, "at once"),
            other => panic!("expected the ECHO, got {other:?}"),
        }
        server.stop().await;
    });
}

#[test]
fn a_token_not_admitted_gets_unauthorized_and_its_messages_reach_no_one() {
    // FC-34: ERROR UNAUTHORIZED as the only frame; the CHAT sent with the bad AUTH is not relayed.
    task::block_on(async {
        let server = start(config(Some(requiring_token(LegacyPolicy::Refuse)))).await;
        let (mut member_reader, mut member_writer) = welcomed(server.addr(), Some(TOKEN)).await;
        let (mut intruder, _intruder_writer) =
            typed_connect(server.addr(), &[auth("guessed"), chat("leak")]).await;
        let reason = refused_with(&mut intruder, ErrorCode::UNAUTHORIZED).await;
        assert!(
            !reason.contains("guessed"),
            "the reason echoes the token: {reason}"
        );
        // Had "leak" been relayed, its BROADCAST would reach the member before this ECHO.
        say(&mut member_reader, &mut member_writer, "still alone").await;
        let metrics = metrics_until(&server.handle, |m| m.auth_refused == 1).await;
        assert_eq!(metrics.auth_refused, 1);
        assert_eq!(metrics.messages_total, 1);
        server.stop().await;
    });
}

#[test]
fn a_typed_client_without_auth_gets_unauthorized() {
    // FC-34 and §8.9's old client: its first frame is a CHAT.
    task::block_on(async {
        let server = start(config(Some(requiring_token(LegacyPolicy::Refuse)))).await;
        let (mut old_client, _writer) = typed_connect(server.addr(), &[chat("hi")]).await;
        refused_with(&mut old_client, ErrorCode::UNAUTHORIZED).await;
        let metrics = metrics_until(&server.handle, |m| m.auth_refused == 1).await;
        assert_eq!((metrics.auth_refused, metrics.messages_total), (1, 0));
        server.stop().await;
    });
}

#[test]
fn a_silent_typed_connection_is_closed_by_the_authentication_deadline() {
    // FC-35: the preface and nothing more; ERROR TIMEOUT once the deadline runs out.
    task::block_on(async {
        let auth = AuthConfig {
            deadline: Duration::from_millis(300),
            ..requiring_token(LegacyPolicy::Refuse)
        };
        let server = start(config(Some(auth))).await;
        let (mut silent, _writer) = typed_connect(server.addr(), &[]).await;
        let reason = refused_with(&mut silent, ErrorCode::TIMEOUT).await;
        assert!(reason.contains("authentication deadline"), "{reason}");
        let metrics = metrics_until(&server.handle, |m| m.timeouts == 1).await;
        assert_eq!((metrics.timeouts, metrics.auth_refused), (1, 0));
        server.stop().await;
    });
}

#[test]
fn a_legacy_client_is_refused_without_a_frame_and_counted() {
    // FC-36, `refuse`: a legacy client connected before a relay gets neither it nor anything else.
    task::block_on(async {
        let server = start(config(Some(requiring_token(LegacyPolicy::Refuse)))).await;
        let mut legacy = legacy_client(server.addr());
        let (mut member_reader, mut member_writer) = welcomed(server.addr(), Some(TOKEN)).await;
        say(&mut member_reader, &mut member_writer, "members only").await;
        legacy.write_all(&legacy_frame("let me in")).expect("send");
        assert_eq!(legacy_recv(&mut legacy), None, "closed without a frame");
        let metrics = metrics_until(&server.handle, |m| m.legacy_refused == 1).await;
        assert_eq!(metrics.legacy_refused, 1);
        assert_eq!(
            metrics.messages_total, 1,
            "the legacy message was not relayed"
        );
        server.stop().await;
    });
}

#[test]
fn a_legacy_client_allowed_joins_unauthenticated() {
    // FC-36, `allow`: the seed's client, as without authentication.
    task::block_on(async {
        let server = start(config(Some(requiring_token(LegacyPolicy::Allow)))).await;
        let (mut member_reader, _member_writer) = welcomed(server.addr(), Some(TOKEN)).await;
        let mut legacy = legacy_client(server.addr());
        legacy.write_all(&legacy_frame("hi")).expect("send");
        assert_eq!(legacy_recv(&mut legacy).as_deref(), Some("echo: hi"));
        match recv(&mut member_reader).await {
            Frame::Broadcast { text, .. } => assert_eq!(text, "hi"),
            other => panic!("expected the BROADCAST, got {other:?}"),
        }
        let metrics = server.stop().await;
        assert_eq!(metrics.legacy_refused, 0);
    });
}
