//! The read side's WELCOME-limit option against a real server (§4.4, §6.1): a server configured
//! with a limit above the client's default echoes a message above that default. A client that
//! adopts the limit WELCOME announces accepts the echo; one that keeps its own refuses it with
//! `FrameTooLarge`, as §6 requires of a receiver.
#![cfg(feature = "server")]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use async_std::net::TcpStream;
use async_std::task;
use futures_lite::StreamExt as _;

use framechat::futures::{Error, FrameSink, FrameStream};
use framechat::server::{Server, ServerConfig};
use framechat::{DecodeErrorKind, Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

/// The server's limit: four times the client's default.
const SERVER_LIMIT: u32 = 4 << 20;
/// A message above the client's default limit and within the server's.
const LARGE: usize = 2 << 20;

/// Runs `client` against an in-process server configured with [`SERVER_LIMIT`], then stops it.
fn with_large_limit_server<F, T>(client: impl FnOnce(SocketAddr) -> F) -> T
where
    F: Future<Output = T>,
{
    task::block_on(async {
        let server = Server::bind(ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            limits: Limits::new(SERVER_LIMIT).expect("a valid limit"),
            metrics_interval: None,
            // The clients are typed: none may be judged legacy because a loaded machine ran it
            // late between its connect and its preface (FC-27). Nothing waits for the window.
            detect_window: Duration::from_secs(30),
            ..ServerConfig::default()
        })
        .await
        .expect("bind");
        let addr = server.local_addr();
        let handle = server.handle();
        let running = task::spawn(server.run());
        // A generous bound, so a lost frame fails the test instead of hanging it.
        let outcome = async_std::future::timeout(Duration::from_secs(60), client(addr))
            .await
            .expect("the exchange ends");
        handle.shutdown();
        running.await.expect("the server ran");
        outcome
    })
}

/// Connects a typed client that may send up to the server's limit and reads with its own
/// default limit; sends one CHAT of [`LARGE`] bytes; returns the WELCOME and what came next.
async fn exchange(
    addr: SocketAddr,
    adopt: bool,
) -> (Option<Result<Frame, Error>>, Option<Result<Frame, Error>>) {
    let socket = TcpStream::connect(addr).await.expect("connect");
    let decoder = Decoder::client(Profile::Typed, Limits::default());
    let mut frames = FrameStream::new(socket.clone(), decoder);
    if adopt {
        frames = frames.adopt_welcome_limit();
    }
    let server_limits = Limits::new(SERVER_LIMIT).expect("a valid limit");
    let mut sink = FrameSink::new(socket, Encoder::client(Profile::Typed, server_limits));
    let text = "x".repeat(LARGE);
    sink.feed_ref(Frame::Chat {
        sent_at: UnixMicros(1),
        text: &text,
    })
    .await
    .expect("within the server's limit");
    sink.flush().await.expect("sent");
    let welcome = frames.next().await;
    let echo = frames.next().await;
    (welcome, echo)
}

fn assert_welcome(welcome: Option<Result<Frame, Error>>) {
    match welcome {
        Some(Ok(Frame::Welcome { max_frame_len, .. })) => assert_eq!(max_frame_len, SERVER_LIMIT),
        other => panic!("§8.3: WELCOME first, got {other:?}"),
    }
}

#[test]
fn a_frame_stream_that_adopts_the_welcome_limit_accepts_a_frame_above_its_own_default() {
    let (welcome, echo) = with_large_limit_server(|addr| exchange(addr, true));
    assert_welcome(welcome);
    match echo {
        Some(Ok(Frame::Echo { text, .. })) => assert_eq!(text.len(), LARGE),
        other => panic!("expected the large ECHO, got {other:?}"),
    }
}

#[test]
fn a_frame_stream_that_keeps_its_own_limit_refuses_the_same_frame_as_too_large() {
    let (welcome, echo) = with_large_limit_server(|addr| exchange(addr, false));
    assert_welcome(welcome);
    match echo {
        Some(Err(Error::Decode(err))) => assert_eq!(
            err.kind,
            DecodeErrorKind::FrameTooLarge {
                // ECHO's fixed fields (16 bytes) and the text.
                declared: (16 + LARGE) as u32,
                limit: Limits::DEFAULT_MAX_FRAME_LEN,
            }
        ),
        other => panic!("FC-14: expected FrameTooLarge, got {other:?}"),
    }
}

#[test]
fn a_frame_reader_that_adopts_the_welcome_limit_accepts_a_frame_above_its_own_default() {
    let frames = with_large_limit_server(|addr| {
        task::spawn_blocking(move || {
            use framechat::io::{FrameReader, FrameWriter};
            let socket = std::net::TcpStream::connect(addr).expect("connect");
            let decoder = Decoder::client(Profile::Typed, Limits::default());
            let reader =
                FrameReader::new(socket.try_clone().expect("clone"), decoder).adopt_welcome_limit();
            let server_limits = Limits::new(SERVER_LIMIT).expect("a valid limit");
            let mut writer =
                FrameWriter::new(socket, Encoder::client(Profile::Typed, server_limits));
            let text = "y".repeat(LARGE);
            writer
                .write_frame(Frame::Chat {
                    sent_at: UnixMicros(2),
                    text: &text,
                })
                .expect("sent");
            reader
                .take(2)
                .collect::<Result<Vec<Frame>, framechat::io::Error>>()
        })
    })
    .expect("WELCOME, then the ECHO within the adopted limit");
    assert!(
        matches!(frames[0], Frame::Welcome { max_frame_len, .. } if max_frame_len == SERVER_LIMIT)
    );
    assert_eq!(frames[1].text().map(str::len), Some(LARGE));
}
