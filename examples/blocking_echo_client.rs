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

mod support;

use support::{addr_and_profile_or_exit, chain};

const USAGE: &str = "usage: blocking_echo_client [--addr ADDR | ADDR] [--legacy | --typed]";

fn main() -> ExitCode {
    let (addr, profile) = match addr_and_profile_or_exit("blocking_echo_client", USAGE) {
        Ok(run) => run,
        Err(code) => return code,
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
