//! The `framechat` command: `serve`, `client`, `demo`, `bench`.

mod args;
mod bench;
mod client;
mod demo;
mod input;
mod logger;
#[cfg(test)]
mod message_tests;
mod serve;
#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::process::ExitCode;

use async_std::task;
use clap::Parser;

use crate::args::{Cli, Command};

/// Any command's error; printed with its sources by `main`.
pub(crate) type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The detection window of the demo's and the bench's in-process servers, whose clients all speak
/// first (FC-27): generous, so that only a client's bytes decide its profile.
pub(crate) const IN_PROCESS_DETECT_WINDOW: std::time::Duration = std::time::Duration::from_secs(30);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo and the bench print results on stdout: keep the server's info lines out of them.
    let level = match cli.command {
        Command::Demo | Command::Bench(_) => cli.log_level.min(log::LevelFilter::Warn),
        _ => cli.log_level,
    };
    logger::init(level);
    if let Command::Serve(args) = &cli.command {
        if let Some(threads) = args.threads() {
            // async-std reads it once, when its first task is spawned, which is after this: no
            // thread of this process exists yet to read the environment concurrently.
            std::env::set_var("ASYNC_STD_THREAD_COUNT", threads.to_string());
        }
    }
    let result = task::block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args.config()?).await,
            Command::Client(args) => {
                let token = args.token()?;
                client::run(
                    args.addr.all(),
                    args.profile(),
                    args.limits()?,
                    token.as_ref(),
                    args.tls()?,
                )
                .await
            }
            Command::Demo => demo::command().await,
            Command::Bench(args) => bench::command(args.config()?, args.json).await,
            Command::HashToken => hash_token(),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("framechat: {}", error_chain(&*err));
            ExitCode::FAILURE
        }
    }
}

/// Below this many bytes `hash-token` warns that the token is weak (§8.9).
const SHORTEST_ADVISED_TOKEN: usize = 16;

/// `framechat hash-token`: the token is stdin's whole content, without its line ending, as
/// `client --token-file` reads it; the line printed is what `serve --auth-tokens` stores.
fn hash_token() -> Result<(), AnyError> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|err| format!("cannot read the token on stdin: {err}"))?;
    let client::Token(token) = client::Token::new(&text).map_err(|why| format!("stdin: {why}"))?;
    if token.len() < SHORTEST_ADVISED_TOKEN {
        // The digests are unsalted (§8.9): a short token falls to a dictionary if the file leaks.
        eprintln!(
            "framechat: warning: a token of {} bytes is easy to guess from its digest; use {} \
             random bytes or more (e.g. `head -c 24 /dev/urandom | base64`)",
            token.len(),
            SHORTEST_ADVISED_TOKEN
        );
    }
    say(&framechat::server::TokenSet::line_for(token.as_bytes()));
    Ok(())
}

/// Prints a line on stdout. A closed stdout (`framechat serve | head -n 1`) loses the line instead
/// of panicking: what is printed is a report, and the work it reports is done either way.
pub(crate) fn say(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// The error with each of its sources, on one line: an adapter error names its layer, its source
/// says what happened. A source whose text the message already ends with (an error that both
/// prints and returns its source) is not repeated.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.ends_with(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}
