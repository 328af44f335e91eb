//! The command line: without flags each command configures exactly the defaults of what it runs,
//! and a duration's default reads back as itself.

use std::time::Duration;

use clap::Parser;
use framechat::server::ServerConfig;

use crate::args::{Cli, Command, Span};
use crate::bench::{BenchConfig, Load};

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("framechat").chain(args.iter().copied()))
        .map(|cli| cli.command)
}

#[test]
fn serve_without_flags_configures_the_servers_defaults() {
    let Ok(Command::Serve(args)) = parse(&["serve"]) else {
        panic!("`serve` parses")
    };
    let config = args.config().expect("the defaults are valid");
    assert_eq!(
        format!("{config:?}"),
        format!("{:?}", ServerConfig::default())
    );
}

#[test]
fn serve_with_a_zero_metrics_interval_prints_no_metrics() {
    let Ok(Command::Serve(args)) = parse(&["serve", "--metrics-interval", "0s"]) else {
        panic!("`serve` parses")
    };
    assert_eq!(args.config().expect("valid").metrics_interval, None);
}

#[test]
fn bench_without_flags_configures_the_bench_defaults() {
    let Ok(Command::Bench(args)) = parse(&["bench"]) else {
        panic!("`bench` parses")
    };
    let config = args.config().expect("the defaults are valid");
    assert_eq!(
        format!("{config:?}"),
        format!("{:?}", BenchConfig::default())
    );
}

#[test]
fn bench_takes_a_duration_or_a_message_count_but_not_both() {
    let Ok(Command::Bench(args)) = parse(&["bench", "--duration", "2s"]) else {
        panic!("`--duration` alone parses")
    };
    let config = args.config().expect("valid");
    assert!(matches!(config.load, Load::Duration(limit) if limit == Duration::from_secs(2)));
    assert!(parse(&["bench", "--duration", "2s", "--messages", "5"]).is_err());
}

#[test]
fn bench_refuses_zero_clients_and_nats_without_an_address() {
    for flags in [
        &["bench", "--clients", "0"][..],
        &["bench", "--profile", "nats"],
    ] {
        let Ok(Command::Bench(args)) = parse(flags) else {
            panic!("{flags:?} parses")
        };
        assert!(args.config().is_err(), "{flags:?} is refused");
    }
}

#[test]
fn a_duration_reads_back_as_the_spelling_help_shows() {
    let defaults = ServerConfig::default();
    for duration in [
        defaults.idle_timeout,
        defaults.detect_window,
        Duration::from_micros(1500),
        Duration::ZERO,
        Duration::from_secs(90),
    ] {
        let shown = Span(duration).to_string();
        assert_eq!(shown.parse::<Span>(), Ok(Span(duration)), "{shown}");
    }
    assert_eq!(Span(defaults.detect_window).to_string(), "200ms");
    assert!("5".parse::<Span>().is_err(), "a unit is required");
    assert!("5h".parse::<Span>().is_err(), "an unknown unit is refused");
}
