//! What a person reads: configuration errors name the flag to change, addresses are resolved as
//! typed, and an error's chain is printed once.

use std::fmt;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::error_chain;

fn parse(args: &[&str]) -> Command {
    Cli::try_parse_from(std::iter::once("framechat").chain(args.iter().copied()))
        .map(|cli| cli.command)
        .unwrap_or_else(|err| panic!("{args:?} parses: {err}"))
}

fn serve_error(args: &[&str]) -> String {
    let Command::Serve(serve) = parse(args) else {
        panic!("a serve command")
    };
    match serve.config() {
        Ok(_) => panic!("{args:?} is refused"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn a_zero_duration_names_its_flag() {
    assert_eq!(
        serve_error(&["serve", "--idle-timeout", "0s"]),
        "--idle-timeout must be longer than zero"
    );
    assert_eq!(
        serve_error(&["serve", "--write-timeout", "0ms"]),
        "--write-timeout must be longer than zero"
    );
}

#[test]
fn a_queue_too_small_for_the_largest_message_names_both_flags() {
    let message = serve_error(&["serve", "--queue-bytes", "100"]);
    assert!(
        message.starts_with("--queue-bytes 100 cannot hold"),
        "{message}"
    );
    assert!(message.contains("--max-frame-len 1048576"), "{message}");
    assert!(!message.contains("max_queue_bytes"), "{message}");
}

#[test]
fn a_frame_limit_out_of_range_names_its_flag_in_serve_and_client() {
    let message = serve_error(&["serve", "--max-frame-len", "3"]);
    assert!(message.starts_with("--max-frame-len: "), "{message}");
    let Command::Client(client) = parse(&["client", "--max-frame-len", "3"]) else {
        panic!("a client command")
    };
    let message = client.limits().expect_err("3 is below the minimum");
    assert!(message.starts_with("--max-frame-len: "), "{message}");
}

#[test]
fn a_host_name_resolves_for_serve_client_and_bench() {
    let Command::Serve(serve) = parse(&["serve", "--addr", "localhost:50555"]) else {
        panic!("a serve command")
    };
    let config = serve.config().expect("valid");
    assert!(config.addr.ip().is_loopback(), "{}", config.addr);
    assert_eq!(config.addr.port(), 50555);

    let Command::Client(client) = parse(&["client", "--addr", "localhost:50555"]) else {
        panic!("a client command")
    };
    assert!(!client.addr.all().is_empty());
    assert!(client
        .addr
        .all()
        .iter()
        .all(|addr| addr.ip().is_loopback() && addr.port() == 50555));

    let Command::Bench(bench) = parse(&["bench", "--addr", "localhost:50555"]) else {
        panic!("a bench command")
    };
    let addrs = bench.config().expect("valid").addrs;
    let [addr] = addrs[..] else {
        panic!("one address: {addrs:?}")
    };
    assert!(addr.ip().is_loopback() && addr.port() == 50555, "{addr}");
}

#[test]
fn an_address_without_a_port_is_refused_when_the_flags_are_read() {
    let refused = Cli::try_parse_from(["framechat", "client", "--addr", "localhost"]);
    let message = refused.err().map(|err| err.to_string()).unwrap_or_default();
    assert!(message.contains("--addr"), "{message}");
}

/// An error that prints its source's text and also returns it, as some library errors do.
#[derive(Debug)]
struct Repeats(std::io::Error);

impl fmt::Display for Repeats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot listen on 127.0.0.1:1: {}", self.0)
    }
}

impl std::error::Error for Repeats {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn the_error_chain_prints_each_part_once() {
    let repeated = Repeats(std::io::Error::other("address in use"));
    assert_eq!(
        error_chain(&repeated),
        "cannot listen on 127.0.0.1:1: address in use"
    );
    let layered = framechat::futures::Error::Io(std::io::Error::other("connection refused"));
    assert_eq!(
        error_chain(&layered),
        "transport I/O failed: connection refused"
    );
}
