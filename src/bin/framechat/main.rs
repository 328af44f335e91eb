//! The `framechat` command: `serve`, `client`, `demo`, `bench`.

mod args;
mod bench;
mod client;
mod demo;
mod input;
mod logger;
mod serve;
#[cfg(test)]
mod tests;

use std::process::ExitCode;

use async_std::task;
use clap::Parser;

use crate::args::{Cli, Command};

/// Any command's error; printed with its sources by `main`.
pub(crate) type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo and the bench print results on stdout: keep the server's info lines out of them.
    let level = match cli.command {
        Command::Demo | Command::Bench(_) => cli.log_level.min(log::LevelFilter::Warn),
        _ => cli.log_level,
    };
    logger::init(level);
    let result = task::block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args.config()?).await,
            Command::Client(args) => {
                client::run(args.addr.all(), args.profile(), args.limits()?).await
            }
            Command::Demo => demo::command().await,
            Command::Bench(args) => bench::command(args.config()?, args.json).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", error_chain(&*err));
            ExitCode::FAILURE
        }
    }
}

/// `framechat: ` and the error with each of its sources: an adapter error names its layer, its
/// source says what happened.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = format!("framechat: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}
