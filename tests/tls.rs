//! TLS on its own listener (§10): the same lifecycle inside TLS as over TCP, one room for both
//! listeners, and every way a handshake can fail (not TLS, stalled, a certificate the client
//! refuses) closed, counted and bounded. Certificates are made by rcgen at test time.
#![cfg(feature = "tls")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::sync::Arc;
use std::time::Duration;

use async_std::net::TcpStream;
use async_std::task;
use framechat::futures::{FrameSink, FrameStream};
use framechat::hub::HubConfig;
use framechat::server::{AuthConfig, Server, ServerConfig, TlsConfig, TlsIdentity, TokenSet};
use framechat::wire::PREFACE;
use framechat::{AuthScheme, Decoder, Encoder, ErrorCode, Frame, Limits, Profile, UnixMicros};
use futures_lite::io::{split, ReadHalf, WriteHalf};
use futures_lite::StreamExt as _;
use futures_rustls::client::TlsStream;
use futures_rustls::rustls::{self, pki_types::ServerName, RootCertStore};
use futures_rustls::TlsConnector;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A generous bound on waiting for an event (a frame, an end of stream, a count): only a lost
/// event reaches it, never a slow machine.
mod server_support;
use server_support::{metrics_until, start};

const WAIT: Duration = Duration::from_secs(10);

/// A detection window no typed client can miss, however late a loaded machine runs it (FC-27).
/// Every legacy client here speaks first, so no test waits for it to run out.
const UNMISSABLE_WINDOW: Duration = Duration::from_secs(30);

/// A handshake deadline no honest client on a loaded machine reaches.
const UNMISSABLE_HANDSHAKE: Duration = Duration::from_secs(30);

/// A certificate authority and the server certificate it signed for `localhost`.
struct Pki {
    ca_pem: String,
    server: TlsIdentity,
    cert_pem: String,
    key_pem: String,
}

/// A self-signed certificate authority named `name`.
fn certificate_authority(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().expect("a CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("a self-signed CA");
    (cert, key)
}

/// A CA and a `localhost` certificate it signed, valid now, or, when `expired`, only in 2001.
fn pki(expired: bool) -> Pki {
    let (ca, ca_key) = certificate_authority("framechat test CA");
    let key = KeyPair::generate().expect("a server key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let cert = params
        .signed_by(&key, &ca, &ca_key)
        .expect("a server certificate");
    let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    Pki {
        ca_pem: ca.pem(),
        server: TlsIdentity::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())
            .expect("rcgen's PEM loads"),
        cert_pem,
        key_pem,
    }
}

/// A server with a plain and a TLS listener, both on free ports.
fn config(identity: TlsIdentity) -> ServerConfig {
    ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_interval: None,
        detect_window: UNMISSABLE_WINDOW,
        shutdown_grace: WAIT,
        tls: Some(TlsConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            handshake_timeout: UNMISSABLE_HANDSHAKE,
            identity,
        }),
        ..ServerConfig::default()
    }
}

/// A TLS client that trusts only `ca_pem`.
fn connector(ca_pem: &str) -> TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("a CA certificate");
    }
    #[allow(deprecated)] // ring, as the server: see src/server/tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// The client's side of the handshake with the server at `addr`, as `localhost`.
async fn handshake(addr: SocketAddr, ca_pem: &str) -> std::io::Result<TlsStream<TcpStream>> {
    let socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let name = ServerName::try_from("localhost").expect("a DNS name");
    connector(ca_pem).connect(name, socket).await
}

type TlsReader = FrameStream<ReadHalf<TlsStream<TcpStream>>>;
type TlsWriter = FrameSink<WriteHalf<TlsStream<TcpStream>>>;

/// A framechat client inside TLS: a typed one's preface is on the wire when this returns.
async fn connect_tls(addr: SocketAddr, ca_pem: &str, profile: Profile) -> (TlsReader, TlsWriter) {
    let stream = handshake(addr, ca_pem)
        .await
        .expect("the handshake succeeds");
    let (read, write) = split(stream);
    let limits = Limits::default();
    let mut writer = FrameSink::new(write, Encoder::client(profile, limits));
    writer.flush().await.expect("send the preface");
    (
        FrameStream::new(read, Decoder::client(profile, limits)),
        writer,
    )
}

type TcpReader = FrameStream<TcpStream>;
type TcpWriter = FrameSink<TcpStream>;

/// A typed framechat client over plain TCP.
async fn connect_tcp(addr: SocketAddr) -> (TcpReader, TcpWriter) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let limits = Limits::default();
    let mut writer = FrameSink::new(stream.clone(), Encoder::client(Profile::Typed, limits));
    writer.flush().await.expect("send the preface");
    (
        FrameStream::new(stream, Decoder::client(Profile::Typed, limits)),
        writer,
    )
}

async fn recv<S>(reader: &mut S) -> Frame
where
    S: futures_lite::Stream<Item = Result<Frame, framechat::io::Error>> + Unpin,
{
    async_std::future::timeout(WAIT, reader.next())
        .await
        .expect("a frame within the wait")
        .expect("not the end of the stream")
        .expect("a well-formed frame")
}

async fn send<W>(writer: &mut FrameSink<W>, text: &str)
where
    W: futures_lite::AsyncWrite + Unpin,
{
    let text = text.to_string();
    let frame = match writer.encoder().profile() {
        Profile::Typed => Frame::Chat {
            sent_at: UnixMicros::now(),
            text,
        },
        Profile::Legacy => Frame::Text(text),
    };
    writer.send(frame).await.expect("send");
}

fn welcome_id(frame: Frame) -> u64 {
    match frame {
        Frame::Welcome { peer_id, .. } => peer_id,
        other => panic!("expected WELCOME first, got {other:?}"),
    }
}

/// Reads a raw socket to its end (or a reset), bounded by the wait; what it received and whether
/// it ended (rather than the wait running out).
fn read_to_end_within(socket: &mut StdTcpStream) -> (Vec<u8>, bool) {
    socket.set_read_timeout(Some(WAIT)).expect("a read timeout");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => return (received, true),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (received, false)
            }
            Err(_) => return (received, true),
        }
    }
}

#[test]
fn typed_and_legacy_clients_over_tls_get_welcome_echo_and_broadcast_as_over_tcp() {
    task::block_on(async {
        let pki = pki(false);
        let server = start(config(pki.server.clone())).await;
        let (mut typed_reader, mut typed_writer) =
            connect_tls(server.tls_addr(), &pki.ca_pem, Profile::Typed).await;
        let typed_id = welcome_id(recv(&mut typed_reader).await);
        let (mut legacy_reader, mut legacy_writer) =
            connect_tls(server.tls_addr(), &pki.ca_pem, Profile::Legacy).await;

        // The legacy client speaks first, so its first bytes decide its profile (FC-27).
        send(&mut legacy_writer, "from legacy").await;
        assert_eq!(
            recv(&mut legacy_reader).await,
            Frame::Text("echo: from legacy".to_string())
        );
        match recv(&mut typed_reader).await {
            Frame::Broadcast { from, text, .. } => {
                assert_ne!(from, typed_id);
                assert_eq!(text, "from legacy");
            }
            other => panic!("expected BROADCAST, got {other:?}"),
        }

        send(&mut typed_writer, "from typed").await;
        match recv(&mut typed_reader).await {
            Frame::Echo { text, sent_at, .. } => {
                assert_eq!(text, "from typed");
                assert_ne!(sent_at, UnixMicros::UNKNOWN);
            }
            other => panic!("expected ECHO, got {other:?}"),
        }
        assert_eq!(
            recv(&mut legacy_reader).await,
            Frame::Text("peer: from typed".to_string())
        );
        let last = server.stop().await;
        assert_eq!(last.tls_handshakes_failed, 0);
        assert_eq!(last.messages_total, 2);
    });
}

#[test]
fn a_tcp_client_and_a_tls_client_share_one_room() {
    task::block_on(async {
        let pki = pki(false);
        let server = start(config(pki.server.clone())).await;
        let (mut tcp_reader, mut tcp_writer) = connect_tcp(server.handle.local_addr()).await;
        let tcp_id = welcome_id(recv(&mut tcp_reader).await);
        let (mut tls_reader, mut tls_writer) =
            connect_tls(server.tls_addr(), &pki.ca_pem, Profile::Typed).await;
        let tls_id = welcome_id(recv(&mut tls_reader).await);

        send(&mut tcp_writer, "over tcp").await;
        assert!(matches!(recv(&mut tcp_reader).await, Frame::Echo { .. }));
        match recv(&mut tls_reader).await {
            Frame::Broadcast { from, text, .. } => {
                assert_eq!((from, text.as_str()), (tcp_id, "over tcp"))
            }
            other => panic!("expected BROADCAST, got {other:?}"),
        }
        send(&mut tls_writer, "over tls").await;
        assert!(matches!(recv(&mut tls_reader).await, Frame::Echo { .. }));
        match recv(&mut tcp_reader).await {
            Frame::Broadcast { from, text, .. } => {
                assert_eq!((from, text.as_str()), (tls_id, "over tls"))
            }
            other => panic!("expected BROADCAST, got {other:?}"),
        }
        server.stop().await;
    });
}

/// Authentication (§8.9) runs inside TLS as over TCP: the token travels encrypted, and a wrong one
/// is refused before its connection joins the room.
#[test]
fn a_typed_client_authenticates_inside_tls_and_a_wrong_token_is_refused() {
    task::block_on(async {
        let pki = pki(false);
        let mut config = config(pki.server.clone());
        let tokens = TokenSet::parse(&TokenSet::line_for(b"inside-tls")).expect("one token");
        config.auth = Some(AuthConfig::new(tokens));
        let server = start(config).await;

        let (mut reader, mut writer) =
            connect_tls(server.tls_addr(), &pki.ca_pem, Profile::Typed).await;
        let auth = |token| Frame::Auth {
            scheme: AuthScheme::BEARER,
            token,
        };
        writer
            .send(auth("inside-tls".to_string()))
            .await
            .expect("send AUTH");
        welcome_id(recv(&mut reader).await);
        send(&mut writer, "authenticated").await;
        assert!(
            matches!(recv(&mut reader).await, Frame::Echo { text, .. } if text == "authenticated")
        );

        let (mut refused_reader, mut refused_writer) =
            connect_tls(server.tls_addr(), &pki.ca_pem, Profile::Typed).await;
        refused_writer
            .send(auth("guessed".to_string()))
            .await
            .expect("send AUTH");
        match recv(&mut refused_reader).await {
            Frame::Error { code, .. } => assert_eq!(code, ErrorCode::UNAUTHORIZED),
            other => panic!("expected ERROR UNAUTHORIZED first, got {other:?}"),
        }
        let snapshot = metrics_until(&server.handle, |s| s.auth_refused == 1).await;
        assert_eq!(
            snapshot.tls_handshakes_failed, 0,
            "the handshakes themselves succeeded"
        );
        let last = server.stop().await;
        assert_eq!(
            last.messages_total, 1,
            "only the authenticated client's message was relayed"
        );
    });
}

#[test]
fn a_plain_client_on_the_tls_port_is_closed_and_counted_and_gets_no_framechat_bytes() {
    task::block_on(async {
        let pki = pki(false);
        let server = start(config(pki.server.clone())).await;
        let tls_addr = server.tls_addr();
        let (received, ended) = task::spawn_blocking(move || {
            let mut socket = StdTcpStream::connect(tls_addr).expect("connect");
            let mut hello = PREFACE.to_vec();
            hello.extend_from_slice(&[0x80, 0, 0, 3, b'h', b'e', b'y']);
            socket.write_all(&hello).expect("write");
            read_to_end_within(&mut socket)
        })
        .await;
        // The handshake deadline is longer than the wait: this close is the handshake's failure.
        assert!(ended, "closed, not left waiting");
        assert!(
            !received.windows(4).any(|w| w == PREFACE),
            "no framechat bytes in clear: {received:?}"
        );
        let metrics = metrics_until(&server.handle, |m| m.tls_handshakes_failed >= 1).await;
        assert_eq!(metrics.tls_handshakes_failed, 1);
        assert_eq!(metrics.messages_total, 0);
        let last = server.stop().await;
        assert_eq!(last.connections_open, 0);
    });
}

#[test]
fn a_stalled_handshake_is_closed_by_the_handshake_deadline_and_counted() {
    task::block_on(async {
        let pki = pki(false);
        let mut config = config(pki.server.clone());
        if let Some(tls) = &mut config.tls {
            tls.handshake_timeout = Duration::from_millis(200);
        }
        let server = start(config).await;
        let tls_addr = server.tls_addr();
        let (_, ended) = task::spawn_blocking(move || {
            // Connects and sends nothing: no ClientHello ever comes.
            let mut socket = StdTcpStream::connect(tls_addr).expect("connect");
            read_to_end_within(&mut socket)
        })
        .await;
        assert!(ended, "the server closed the stalled connection");
        let metrics = metrics_until(&server.handle, |m| {
            m.tls_handshakes_failed >= 1 && m.connections_open == 0
        })
        .await;
        assert_eq!(metrics.tls_handshakes_failed, 1);
        assert_eq!(metrics.connections_open, 0, "its place is given back");
        server.stop().await;
    });
}

#[test]
fn handshakes_in_flight_take_places_under_the_connection_limit() {
    task::block_on(async {
        let pki = pki(false);
        let server = start(ServerConfig {
            hub: HubConfig::new(1, 64, 8 << 20).expect("a valid hub config"),
            ..config(pki.server.clone())
        })
        .await;
        // A stalled handshake holds the only place...
        let stalled = StdTcpStream::connect(server.tls_addr()).expect("connect");
        let held = metrics_until(&server.handle, |m| m.connections_open == 1).await;
        assert_eq!(held.connections_open, 1);
        // ...so a TLS client that completes its handshake is refused, inside TLS (FC-31).
        let (mut reader, _writer) =
            connect_tls(server.tls_addr(), &pki.ca_pem, Profile::Typed).await;
        match recv(&mut reader).await {
            Frame::Error { code, .. } => assert_eq!(code, ErrorCode::SERVER_FULL),
            other => panic!("expected ERROR SERVER_FULL, got {other:?}"),
        }
        let metrics = metrics_until(&server.handle, |m| m.connections_refused >= 1).await;
        assert_eq!(metrics.connections_refused, 1);
        drop(stalled);
        server.stop().await;
    });
}

#[test]
fn a_client_that_does_not_trust_the_servers_ca_fails_with_a_clear_error() {
    task::block_on(async {
        let pki = pki(false);
        let other = pki_of_another_ca();
        let server = start(config(pki.server.clone())).await;
        let err = handshake(server.tls_addr(), &other)
            .await
            .expect_err("an unknown issuer is refused");
        let message = err.to_string();
        assert!(
            message.contains("invalid peer certificate") && message.contains("UnknownIssuer"),
            "{message}"
        );
        // The client's alert ends the server's handshake: counted as a failure.
        let metrics = metrics_until(&server.handle, |m| m.tls_handshakes_failed >= 1).await;
        assert_eq!(metrics.tls_handshakes_failed, 1);
        server.stop().await;
    });
}

/// The PEM of a CA that signed nothing the server has.
fn pki_of_another_ca() -> String {
    certificate_authority("another test CA").0.pem()
}

#[test]
fn an_expired_server_certificate_is_refused_by_the_client_with_a_clear_error() {
    task::block_on(async {
        let pki = pki(true);
        let server = start(config(pki.server.clone())).await;
        let err = handshake(server.tls_addr(), &pki.ca_pem)
            .await
            .expect_err("an expired certificate is refused");
        let message = err.to_string();
        assert!(message.contains("expired"), "{message}");
        let metrics = metrics_until(&server.handle, |m| m.tls_handshakes_failed >= 1).await;
        assert_eq!(metrics.tls_handshakes_failed, 1);
        server.stop().await;
    });
}

#[test]
fn a_certificate_and_a_key_that_do_not_match_are_refused_when_loaded() {
    let (first, second) = (pki(false), pki(false));
    let err = TlsIdentity::from_pem(first.cert_pem.as_bytes(), second.key_pem.as_bytes())
        .expect_err("a key of another certificate");
    assert!(err.to_string().contains("cannot be used"), "{err}");
}

#[test]
fn a_zero_handshake_deadline_is_refused_at_bind() {
    let pki = pki(false);
    let mut config = config(pki.server);
    if let Some(tls) = &mut config.tls {
        tls.handshake_timeout = Duration::ZERO;
    }
    let err = task::block_on(Server::bind(config)).err().expect("refused");
    assert!(err.to_string().contains("tls.handshake_timeout"), "{err}");
}

#[cfg(feature = "cli")]
mod cli_support;

/// The binary's TLS flags: `serve --tls-cert/--tls-key`, `client --tls --ca`, `bench --tls`.
#[cfg(feature = "cli")]
mod cli {
    use std::io::{Read, Write};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output, Stdio};
    use std::time::{Duration, Instant};

    use super::cli_support::{serve_with_banners, Reaped, BIN};
    use super::pki;

    /// A generous bound on a refusing process's exit: only a hang reaches it.
    const EXIT_WITHIN: Duration = Duration::from_secs(30);

    /// A directory of its own under the target's temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("tls-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a scratch directory");
            Scratch(dir)
        }

        fn file(&self, name: &str, contents: &str) -> String {
            let path = self.0.join(name);
            std::fs::write(&path, contents).expect("write a scratch file");
            path.to_string_lossy().into_owned()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `framechat serve` with `flags`, which it must refuse: its exit, bounded by a generous wait.
    fn serve_refusing(flags: &[&str]) -> Output {
        let child = Command::new(BIN)
            .args(["serve", "--addr", "127.0.0.1:0", "--metrics-interval", "0s"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut reaped = Reaped(child);
        let deadline = Instant::now() + EXIT_WITHIN;
        let status = loop {
            if let Some(status) = reaped.0.try_wait().expect("the child's status") {
                break status;
            }
            assert!(Instant::now() < deadline, "serve {flags:?} did not exit");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stderr = Vec::new();
        if let Some(mut pipe) = reaped.0.stderr.take() {
            let _ = pipe.read_to_end(&mut stderr);
        }
        Output {
            status,
            stdout: Vec::new(),
            stderr,
        }
    }

    #[test]
    fn serve_with_a_certificate_and_no_key_is_a_usage_error() {
        let scratch = Scratch::new("nokey");
        let cert = scratch.file("cert.pem", &pki(false).cert_pem);
        let out = serve_refusing(&["--tls-cert", &cert]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--tls-key"), "{stderr}");
    }

    #[test]
    fn serve_with_a_missing_certificate_file_names_it() {
        let scratch = Scratch::new("missing");
        let key = scratch.file("key.pem", &pki(false).key_pem);
        let missing = scratch.0.join("no-such-cert.pem");
        let missing = missing.to_string_lossy();
        let out = serve_refusing(&["--tls-cert", &missing, "--tls-key", &key]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&*missing) && stderr.contains("cannot read"),
            "{stderr}"
        );
    }

    #[test]
    fn serve_with_a_garbage_key_file_names_it() {
        let scratch = Scratch::new("garbage");
        let cert = scratch.file("cert.pem", &pki(false).cert_pem);
        let key = scratch.file("key.pem", "this is no key\n");
        let out = serve_refusing(&["--tls-cert", &cert, "--tls-key", &key]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&key) && stderr.contains("no PEM private key"),
            "{stderr}"
        );
    }

    #[test]
    fn client_tls_without_a_ca_is_a_usage_error() {
        let out = Command::new(BIN)
            .args(["client", "--tls"])
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--ca"), "{stderr}");
    }

    /// `serve` with TLS on free ports; returns it and its TLS address from the second banner line.
    fn serve_tls(scratch: &Scratch, pki: &super::Pki) -> (Reaped, String) {
        let cert = scratch.file("cert.pem", &pki.cert_pem);
        let key = scratch.file("key.pem", &pki.key_pem);
        let flags = [
            "--detect-window",
            "30s",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ];
        let (server, banners) = serve_with_banners(
            &[flags.as_slice(), &["--tls-addr", "127.0.0.1:0"]].concat(),
            2,
        );
        assert!(banners[1].contains("over TLS"), "{banners:?}");
        let port = banners[1]
            .rsplit(':')
            .next()
            .expect("a port ends the banner")
            .to_string();
        (server, format!("localhost:{port}"))
    }

    #[test]
    fn client_tls_with_the_ca_is_welcomed_and_echoed() {
        let scratch = Scratch::new("client");
        let pki = pki(false);
        let (_server, tls_addr) = serve_tls(&scratch, &pki);
        let ca = scratch.file("ca.pem", &pki.ca_pem);
        let mut client = Command::new(BIN)
            .args(["client", "--addr", &tls_addr, "--tls", "--ca", &ca])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the client starts");
        // The end of input closes our side; the client returns once the server closed too.
        let mut stdin = client.stdin.take().expect("piped stdin");
        stdin.write_all(b"hello over tls\n").expect("a line");
        drop(stdin);
        let out = client.wait_with_output().expect("the client ends");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(stdout.starts_with("welcome: you are peer "), "{stdout}");
        assert!(stdout.contains("echo: hello over tls"), "{stdout}");
    }

    #[test]
    fn client_tls_with_another_ca_says_the_handshake_failed() {
        let scratch = Scratch::new("client-other-ca");
        let pki = pki(false);
        let (_server, tls_addr) = serve_tls(&scratch, &pki);
        let other = scratch.file("other.pem", &super::pki_of_another_ca());
        let out = Command::new(BIN)
            .args(["client", "--addr", &tls_addr, "--tls", "--ca", &other])
            .stdin(Stdio::null())
            .output()
            .expect("the client runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("TLS handshake with") && stderr.contains("UnknownIssuer"),
            "{stderr}"
        );
    }

    /// Runs `framechat bench --tls --json` with `flags` against a TLS server of its own; its report.
    fn bench_over_tls(name: &str, flags: &[&str]) -> serde_json::Value {
        let scratch = Scratch::new(name);
        let pki = pki(false);
        let (_server, tls_addr) = serve_tls(&scratch, &pki);
        let ca = scratch.file("ca.pem", &pki.ca_pem);
        let out = Command::new(BIN)
            .args(["bench", "--addr", &tls_addr, "--tls", "--ca", &ca, "--json"])
            .args(flags)
            .stdin(Stdio::null())
            .output()
            .expect("the bench runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.trim()).expect("one JSON object")
    }

    #[test]
    fn bench_handshakes_over_tls_reports_connections_per_second() {
        let report = bench_over_tls("bench", &["--handshakes", "3"]);
        assert_eq!(report["tls"], true);
        assert_eq!(report["connections"], 3);
        assert!(report["connections_per_s"].as_f64().expect("a rate") > 0.0);
    }

    #[test]
    fn bench_load_over_tls_loses_nothing() {
        let flags = ["--clients", "3", "--messages", "20", "--window", "4"];
        let report = bench_over_tls("bench-load", &flags);
        assert_eq!(report["messages_sent"], 60);
        assert_eq!(report["lost"], 0);
        assert_eq!(report["deliveries"], 180);
    }
}
