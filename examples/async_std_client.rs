//! An async-std client through the runtime-agnostic `framechat::futures::{FrameStream, FrameSink}`.
//!
//! ```text
//! cargo run --example async_std_client -- [--addr ADDR | ADDR] [MESSAGE...]
//! ```
//!
//! ADDR alone is recognised only as the first word, and only in the form HOST:PORT.
//!
//! (`cli`, a default feature, brings async-std.) It connects to ADDR (default 127.0.0.1:50555) in
//! the typed profile, sends each MESSAGE as a CHAT in one batch (one buffer, one flush), then a
//! PING, and prints what comes back until its PONG: the ECHO of each message with its end-to-end
//! latency, and any BROADCAST from other peers. The adapters name only `futures-io` traits: the
//! same code runs on smol by swapping the `TcpStream` and `block_on`.

use std::io;
use std::process::ExitCode;

use async_std::net::TcpStream;
use futures_lite::StreamExt;

use framechat::futures::{FrameSink, FrameStream};
use framechat::{Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

mod support;

use support::chain;

const USAGE: &str = "usage: async_std_client [--addr ADDR | ADDR] [MESSAGE...]   \
                     (ADDR alone: first, as HOST:PORT; -- before a message that starts with -)";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Invocation {
    Run { addr: String, messages: Vec<String> },
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Invocation, String> {
    let mut addr = String::from("127.0.0.1:50555");
    let mut messages = Vec::new();
    let mut args = args.into_iter().peekable();
    // The older spelling, `ADDR MESSAGE...`: a first word that can only be an address is one.
    if let Some(first) = args.next_if(|word| looks_like_an_address(word)) {
        addr = first;
    }
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            "--" => messages.extend(args.by_ref()),
            flag if flag.starts_with("--addr=") => addr = flag["--addr=".len()..].to_string(),
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}")),
            _ => messages.push(arg),
        }
    }
    if messages.is_empty() {
        messages = vec![String::from("hello"), String::from("world")];
    }
    Ok(Invocation::Run { addr, messages })
}

/// HOST:PORT with a numeric port, decided without a name lookup.
fn looks_like_an_address(word: &str) -> bool {
    word.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.starts_with('-') && port.parse::<u16>().is_ok()
    })
}

fn main() -> ExitCode {
    let (addr, messages) = match parse_args(std::env::args().skip(1)) {
        Ok(Invocation::Run { addr, messages }) => (addr, messages),
        Ok(Invocation::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("async_std_client: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match async_std::task::block_on(run(&addr, &messages)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("async_std_client: {}", chain(&err));
            ExitCode::FAILURE
        }
    }
}

async fn run(addr: &str, messages: &[String]) -> Result<(), framechat::futures::Error> {
    let limits = Limits::default();
    let socket = TcpStream::connect(addr)
        .await
        .map_err(|err| io::Error::new(err.kind(), format!("cannot connect to {addr}: {err}")))?;
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

#[cfg(test)]
mod tests {
    use super::{parse_args, Invocation};

    fn parse(args: &[&str]) -> Result<Invocation, String> {
        parse_args(args.iter().map(|arg| arg.to_string()))
    }

    #[test]
    fn the_address_may_come_after_the_messages() {
        assert_eq!(
            parse(&["hi", "--addr", "localhost:1", "there"]),
            Ok(Invocation::Run {
                addr: "localhost:1".into(),
                messages: vec!["hi".into(), "there".into()]
            })
        );
    }

    #[test]
    fn a_first_word_of_the_form_host_port_is_the_address() {
        assert_eq!(
            parse(&["localhost:1", "hi", "b:2"]),
            Ok(Invocation::Run {
                addr: "localhost:1".into(),
                messages: vec!["hi".into(), "b:2".into()]
            })
        );
        assert_eq!(
            parse(&["note: hi"]),
            Ok(Invocation::Run {
                addr: "127.0.0.1:50555".into(),
                messages: vec!["note: hi".into()]
            })
        );
    }

    #[test]
    fn help_and_unknown_flags_are_not_taken_for_messages() {
        assert_eq!(parse(&["x", "--help"]), Ok(Invocation::Help));
        assert_eq!(parse(&["--adr", "x"]), Err("unknown flag --adr".into()));
        assert!(parse(&["--addr"]).is_err());
        assert_eq!(
            parse(&["--", "-1"]),
            Ok(Invocation::Run {
                addr: "127.0.0.1:50555".into(),
                messages: vec!["-1".into()]
            })
        );
    }
}
