//! An async-std client through the runtime-agnostic `framechat::futures::{FrameStream, FrameSink}`.
//!
//! ```text
//! cargo run --example async_std_client -- [ADDR] [MESSAGE...]
//! ```
//!
//! (`cli`, a default feature, brings async-std.) It connects to ADDR (default 127.0.0.1:50555) in
//! the typed profile, sends each MESSAGE as a CHAT in one batch (one buffer, one flush), then a
//! PING, and prints what comes back until its PONG: the ECHO of each message with its end-to-end
//! latency, and any BROADCAST from other peers. The adapters name only `futures-io` traits: the
//! same code runs on smol by swapping the `TcpStream` and `block_on`.

use std::error::Error;

use async_std::net::TcpStream;
use futures_lite::StreamExt;

use framechat::futures::{FrameSink, FrameStream};
use framechat::{Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| String::from("127.0.0.1:50555"));
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = vec![String::from("hello"), String::from("world")];
    }
    async_std::task::block_on(run(&addr, &messages))?;
    Ok(())
}

async fn run(addr: &str, messages: &[String]) -> Result<(), framechat::futures::Error> {
    let limits = Limits::default();
    let socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    // async-std's TcpStream is a cheap clone: one half reads, the other writes.
    // Adopting WELCOME's limit (§4.4): a server configured above our default is no violator.
    let mut frames = FrameStream::new(socket.clone(), Decoder::client(Profile::Typed, limits))
        .adopt_welcome_limit();
    let mut sink = FrameSink::new(socket, Encoder::client(Profile::Typed, limits));
    sink.flush().await?; // the preface, at once (FC-3)

    // `feed` encodes into the sink's one buffer (writing only past its high-water mark); one
    // `flush` then sends the whole batch.
    let nonce = 0x5eed;
    for text in messages {
        let chat = Frame::Chat {
            sent_at: UnixMicros::now(),
            text: text.clone(),
        };
        sink.feed(chat).await?;
    }
    sink.feed(Frame::Ping { nonce }).await?;
    sink.flush().await?;

    while let Some(frame) = frames.next().await {
        let now = UnixMicros::now();
        match frame? {
            Frame::Welcome { peer_id, .. } => println!("welcome: you are peer {peer_id}"),
            Frame::Echo { sent_at, text, .. } => {
                println!("echo: {text}  ({} µs)", now.saturating_since(sent_at))
            }
            Frame::Broadcast { from, text, .. } => println!("peer {from}: {text}"),
            Frame::Pong { nonce: got } if got == nonce => {
                println!("pong: every message answered");
                break;
            }
            Frame::Error { code, reason } => println!("server error {code}: {reason}"),
            other => println!("{other:?}"),
        }
    }
    // Our end of stream (async-std's `close` only flushes).
    sink.flush().await?;
    sink.get_ref().shutdown(std::net::Shutdown::Write)?;
    Ok(())
}
