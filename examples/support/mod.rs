//! What the examples share and none of them is about: reading `[--addr ADDR | ADDR]` and a profile
//! flag from the command line, and printing an error with its sources. Each example includes it
//! with `mod support;`.
#![allow(dead_code, reason = "each example uses the part it needs")]

use std::error::Error;
use std::process::ExitCode;

use framechat::Profile;

/// What a client or server example's command line asks for: `[--addr ADDR | ADDR] [--legacy | --typed]`.
#[derive(Debug, PartialEq)]
pub(crate) enum Invocation {
    Run { addr: String, profile: Profile },
    Help,
}

pub(crate) fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Invocation, String> {
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

/// `example`'s address and profile from its command line; or, once the usage (for `--help`, exit
/// 0) or the error and the usage (exit 2) are printed, the code to exit with.
pub(crate) fn addr_and_profile_or_exit(
    example: &str,
    usage: &str,
) -> Result<(String, Profile), ExitCode> {
    match parse_args(std::env::args().skip(1)) {
        Ok(Invocation::Run { addr, profile }) => Ok((addr, profile)),
        Ok(Invocation::Help) => {
            println!("{usage}");
            Err(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("{example}: {message}\n{usage}");
            Err(ExitCode::from(2))
        }
    }
}

/// The error and its sources on one line: the adapters' error names its layer and keeps what
/// happened (the transport's error, or the codec's) as its source.
pub(crate) fn chain(err: &dyn Error) -> String {
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
