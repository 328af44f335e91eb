//! A tokio echo server over `Framed<TcpStream, framechat::tokio::FrameCodec>`.
//!
//! ```text
//! cargo run --example tokio_echo_server --features tokio-codec -- [ADDR] [--legacy]
//! ```
//!
//! It listens on ADDR (default 127.0.0.1:50555, the port `framechat serve` uses, so the example
//! clients talk to either) and speaks one profile, typed unless `--legacy`. Each connection is
//! echoed back to its sender only (no room): a typed client gets WELCOME, an ECHO per CHAT and a
//! PONG per PING; a legacy client gets `echo: T` per text `T` (§3.2). On a decoding error a typed
//! client gets ERROR with the matching code before the connection closes (FC-30).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};

use framechat::tokio::FrameCodec;
use framechat::{Frame, Limits, Profile, UnixMicros};

static NEXT_PEER_ID: AtomicU64 = AtomicU64::new(1);

mod support;

use support::{addr_and_profile_or_exit, chain};

const USAGE: &str = "usage: tokio_echo_server [--addr ADDR | ADDR] [--legacy | --typed]";

fn main() -> ExitCode {
    let (addr, profile) = match addr_and_profile_or_exit("tokio_echo_server", USAGE) {
        Ok(run) => run,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("tokio_echo_server: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(listen(&addr, profile)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tokio_echo_server: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts connections for ever, each served on its own task.
async fn listen(addr: &str, profile: Profile) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
    let local = listener
        .local_addr()
        .map_err(|err| format!("cannot listen on {addr}: {err}"))?;
    eprintln!("echoing {profile:?} frames on {local}");
    loop {
        let (socket, peer) = listener
            .accept()
            .await
            .map_err(|err| format!("cannot accept on {local}: {err}"))?;
        tokio::spawn(async move {
            match serve(socket, profile).await {
                Ok(()) => eprintln!("{peer}: closed cleanly"),
                Err(err) => eprintln!("{peer}: {}", chain(&err)),
            }
        });
    }
}

async fn serve(socket: TcpStream, profile: Profile) -> Result<(), framechat::tokio::Error> {
    socket.set_nodelay(true)?;
    let limits = Limits::default();
    let mut framed = FrameCodec::server(profile, limits).framed(socket);
    if profile == Profile::Typed {
        let peer_id = NEXT_PEER_ID.fetch_add(1, Ordering::Relaxed);
        framed
            .send(Frame::Welcome {
                peer_id,
                max_frame_len: limits.max_frame_len(),
            })
            .await?;
    }
    while let Some(frame) = framed.next().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(framechat::tokio::Error::Decode(err)) if profile == Profile::Typed => {
                // FC-30: tell a typed client why, then close. The typed error carries the code.
                let code = err.error_code();
                let _ = framed
                    .send(Frame::Error {
                        code,
                        reason: err.to_string(),
                    })
                    .await;
                return Err(err.into());
            }
            Err(err) => return Err(err),
        };
        let relayed_at = UnixMicros::now();
        match frame {
            // The decoded text moves into the reply: no copy.
            Frame::Chat { sent_at, text } => {
                framed
                    .send(Frame::Echo {
                        sent_at,
                        relayed_at,
                        text,
                    })
                    .await?
            }
            Frame::Text(text) => framed.send(Frame::Text(format!("echo: {text}"))).await?,
            Frame::Ping { nonce } => framed.send(Frame::Pong { nonce }).await?,
            Frame::Error { code, reason } => {
                eprintln!("client error {code}: {reason}");
                break;
            }
            // PONG and anything a later version adds: nothing to answer.
            _ => {}
        }
    }
    Ok(())
}
