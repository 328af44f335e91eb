//! The `framechat` binary for CLI tests: a child reaped on drop, and `framechat serve` started on
//! a free port with the address its banner names.
//!
//! Each test binary that needs it says `mod cli_support;` and uses what it needs of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_framechat");

/// A child process killed on drop, so a failing assertion leaves no process behind.
pub(crate) struct Reaped(pub(crate) Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `framechat serve` on a free port with `flags`; the server and the first `banners` lines of its
/// stderr (one per listener), whose rest is drained so its logging never meets a closed pipe.
pub(crate) fn serve_with_banners(flags: &[&str], banners: usize) -> (Reaped, Vec<String>) {
    let mut server = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--metrics-interval", "0s"])
        .args(["--log-level", "warn"])
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stderr = BufReader::new(server.stderr.take().expect("piped stderr"));
    let lines = (0..banners)
        .map(|_| {
            let mut banner = String::new();
            stderr.read_line(&mut banner).expect("a banner");
            banner.trim().to_string()
        })
        .collect();
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    (Reaped(server), lines)
}

/// `framechat serve` on a free port with `flags`; the server and the address its banner names.
pub(crate) fn serve(flags: &[&str]) -> (Reaped, String) {
    let (server, banners) = serve_with_banners(flags, 1);
    let addr = banners[0]
        .rsplit(' ')
        .next()
        .expect("an address ends the banner")
        .to_string();
    (server, addr)
}
