//! A blocking chat client on plain `std::net`, through `framechat::io::{FrameReader, FrameWriter}`.
//!
//! Start a server (`framechat serve`, or `cargo run --example tokio_echo_server --features
//! tokio-codec`), then:
//!
//! ```text
//! cargo run --example blocking_echo_client --features std -- [ADDR] [--legacy]
//! ```
//!
//! Each line typed on stdin is sent as a message (a CHAT stamped with the send time, or a legacy
//! text); a reader thread prints every frame the server sends, with the end-to-end latency of
//! timestamped ones. End stdin (Ctrl-D) to close the sending side and wait for the server to
//! close; the connection's end is reported as clean or cut (FC-21).

use std::error::Error;
use std::io::{self, BufRead};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::thread;

use framechat::io::{FrameReader, FrameWriter};
use framechat::{Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

const USAGE: &str = "usage: blocking_echo_client [--addr ADDR | ADDR] [--legacy | --typed]";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Invocation {
    Run { addr: String, profile: Profile },
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Invocation, String> {
    let mut addr = None;
    let mut profile = Profile::Typed;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let given = match arg.as_str() {
            "-h" | "--help" => return Ok(Invocation::Help),
            "--legacy" => {
                profile = Profile::Legacy;
                continue;
            }
            "--typed" => {
                profile = Profile::Typed;
                continue;
            }
            "--addr" => args.next().ok_or("--addr needs a value")?,
            flag if flag.starts_with("--addr=") => flag["--addr=".len()..].to_string(),
            flag if flag.starts_with('-') => return Err(format!("unknown flag {flag}")),
            _ => arg,
        };
        if let Some(first) = addr.replace(given) {
            return Err(format!(
                "expected at most one address, and {first} came first"
            ));
        }
    }
    Ok(Invocation::Run {
        addr: addr.unwrap_or_else(|| String::from("127.0.0.1:50555")),
        profile,
    })
}

fn main() -> ExitCode {
    let (addr, profile) = match parse_args(std::env::args().skip(1)) {
        Ok(Invocation::Run { addr, profile }) => (addr, profile),
        Ok(Invocation::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("blocking_echo_client: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match chat(&addr, profile) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("blocking_echo_client: {}", chain(&*err));
            ExitCode::FAILURE
        }
    }
}

/// The session: stdin lines out, frames in, until the server closes after our end of input.
fn chat(addr: &str, profile: Profile) -> Result<(), Box<dyn Error>> {
    let limits = Limits::default();

    let stream =
        TcpStream::connect(addr).map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    stream.set_nodelay(true)?;
    eprintln!("connected to {addr} ({profile:?} profile); type lines, Ctrl-D to quit");

    // Recipe step 1: one decoder for what the server sends, one encoder for what we send.
    // A typed server may be configured with a larger limit than ours: adopt the one its WELCOME
    // announces (§4.4) rather than refuse its first large frame.
    let reader = FrameReader::new(stream.try_clone()?, Decoder::client(profile, limits))
        .adopt_welcome_limit();
    let mut writer = FrameWriter::new(stream, Encoder::client(profile, limits));
    writer.flush()?; // a typed client's preface goes out at once (FC-3)

    let printer = thread::spawn(move || -> Result<(), framechat::io::Error> {
        // `FrameReader` is an iterator of owned frames; it ends at a clean end of stream and
        // yields a `Truncated` error for a stream cut inside a frame.
        for frame in reader {
            println!("{}", describe(&frame?, UnixMicros::now()));
        }
        eprintln!("server closed the connection cleanly");
        Ok(())
    });

    for line in io::stdin().lock().lines() {
        let line = line.map_err(|err| format!("cannot read stdin: {err}"))?;
        let frame = match profile {
            Profile::Typed => Frame::Chat {
                sent_at: UnixMicros::now(),
                text: line.as_str(),
            },
            Profile::Legacy => Frame::Text(line.as_str()),
        };
        // A refused frame (e.g. a text above the limit) is a typed error; nothing is sent.
        if let Err(err) = writer.write_frame(frame) {
            eprintln!("not sent: {}", chain(&err));
        }
    }
    // Our end of stream; the server may have closed the connection already (it refused us).
    let _ = writer.get_ref().shutdown(Shutdown::Write);
    match printer.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(chain(&err).into()),
        Err(_) => Err("the reader thread panicked".into()),
    }
}

/// One line per frame, with the latency its `sent_at` gives.
fn describe(frame: &Frame, now: UnixMicros) -> String {
    match frame {
        Frame::Welcome {
            peer_id,
            max_frame_len,
        } => {
            format!("welcome: you are peer {peer_id}, max frame {max_frame_len} bytes")
        }
        Frame::Echo { sent_at, text, .. } => {
            format!("echo: {text}  ({} µs)", now.saturating_since(*sent_at))
        }
        Frame::Broadcast {
            from,
            sent_at,
            text,
            ..
        } => {
            format!(
                "peer {from}: {text}  ({} µs)",
                now.saturating_since(*sent_at)
            )
        }
        Frame::Error { code, reason } => format!("server error {code}: {reason}"),
        other => other
            .text()
            .map_or_else(|| format!("{other:?}"), str::to_owned),
    }
}

/// The error and its sources on one line: `framechat::io::Error` keeps the codec's error as its
/// source.
fn chain(err: &dyn Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use framechat::Profile;

    use super::{parse_args, Invocation};

    fn parse(args: &[&str]) -> Result<Invocation, String> {
        parse_args(args.iter().map(|arg| arg.to_string()))
    }

    #[test]
    fn the_address_may_come_after_the_flags() {
        let expected = Ok(Invocation::Run {
            addr: "localhost:1".into(),
            profile: Profile::Legacy,
        });
        assert_eq!(parse(&["--legacy", "localhost:1"]), expected);
        assert_eq!(parse(&["--legacy", "--addr", "localhost:1"]), expected);
    }

    #[test]
    fn help_unknown_flags_and_a_second_address_are_not_taken_for_an_address() {
        assert_eq!(parse(&["x", "--help"]), Ok(Invocation::Help));
        assert_eq!(parse(&["--legay"]), Err("unknown flag --legay".into()));
        assert!(parse(&["a:1", "b:2"]).is_err());
        assert!(parse(&["--addr"]).is_err());
    }
}
