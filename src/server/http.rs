//! The Prometheus endpoint: a minimal HTTP/1.0 responder that answers every request with the text
//! exposition of the metrics now.
//!
//! It must not be easy to starve, and must never slow the chat: at most [`MAX_IN_FLIGHT`] requests
//! are answered at once, each request head must arrive within [`HEAD_DEADLINE`], and a request past
//! the limit is answered `503 Service Unavailable` at once (not dropped unread, which the kernel
//! would turn into a reset), by at most [`MAX_REFUSING`] refusals at a time.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::io::prelude::{ReadExt, WriteExt};
use async_std::net::{Shutdown, TcpListener, TcpStream};
use async_std::task;

use super::backoff::AcceptBackoff;
use super::Shared;

/// At most this many requests are answered at once.
const MAX_IN_FLIGHT: u64 = 16;
/// At most this many requests past [`MAX_IN_FLIGHT`] are being refused at once; more are dropped.
const MAX_REFUSING: u64 = 64;
/// Each request's head must arrive within this time: a scraper sends it at once, and a short
/// deadline keeps stalled heads from holding every slot for long.
const HEAD_DEADLINE: Duration = Duration::from_secs(1);
/// A response must leave within this time.
const RESPONSE_DEADLINE: Duration = Duration::from_secs(5);
/// A refused request's client gets this long to send the rest of its request (discarded) before
/// the socket closes, so closing does not reset the connection before the 503 is read.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// A request head longer than this is not waited for to its end.
const MAX_HEAD: usize = 8192;
/// How often the accept loop wakes to notice the shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

const SERVICE_UNAVAILABLE: &[u8] = b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nRetry-After: 1\r\n\r\ntoo many scrapes now";

/// Answers requests until the server shuts down, then ends, releasing its port.
pub(super) async fn serve_metrics(shared: Arc<Shared>, listener: TcpListener) {
    let in_flight = Arc::new(AtomicU64::new(0));
    let refusing = Arc::new(AtomicU64::new(0));
    let mut backoff = AcceptBackoff::new("metrics endpoint");
    while !shared.shutting_down.load(Ordering::Acquire) {
        let stream = match async_std::io::timeout(SHUTDOWN_POLL, listener.accept()).await {
            Ok((stream, _)) => {
                backoff.on_success();
                stream
            }
            Err(err) if err.kind() == io::ErrorKind::TimedOut => continue,
            Err(err) => {
                task::sleep(backoff.on_failure(&err, Instant::now())).await;
                continue;
            }
        };
        if let Some(slot) = Slot::take(&in_flight, MAX_IN_FLIGHT) {
            let shared = shared.clone();
            task::spawn(async move {
                answer(&shared, stream).await;
                drop(slot);
            });
        } else if let Some(slot) = Slot::take(&refusing, MAX_REFUSING) {
            task::spawn(async move {
                refuse(stream).await;
                drop(slot);
            });
        }
    }
}

/// One of a bounded number of places, given back when dropped.
struct Slot(Arc<AtomicU64>);

impl Slot {
    fn take(taken: &Arc<AtomicU64>, limit: u64) -> Option<Slot> {
        if taken.fetch_add(1, Ordering::AcqRel) >= limit {
            taken.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(taken.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Reads one request head (its content is ignored) and writes the metrics, each within its
/// deadline; a client too slow for it gets nothing.
async fn answer(shared: &Shared, mut stream: TcpStream) {
    if async_std::io::timeout(HEAD_DEADLINE, read_head(&mut stream))
        .await
        .is_err()
    {
        return;
    }
    let body = shared.snapshot().to_prometheus();
    let response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = async_std::io::timeout(RESPONSE_DEADLINE, stream.write_all(response.as_bytes())).await;
}

/// Answers `503` without reading the request first, then ends the stream and discards what the
/// client still sends for a moment, so that closing does not destroy the answer.
async fn refuse(mut stream: TcpStream) {
    let written =
        async_std::io::timeout(RESPONSE_DEADLINE, stream.write_all(SERVICE_UNAVAILABLE)).await;
    let _ = stream.shutdown(Shutdown::Write);
    if written.is_ok() {
        let mut sink = [0u8; 1024];
        let mut discarded = 0;
        let deadline = Instant::now() + REFUSAL_LINGER;
        while discarded < MAX_HEAD {
            let left = deadline.saturating_duration_since(Instant::now());
            match async_std::io::timeout(left, stream.read(&mut sink)).await {
                Ok(n) if n > 0 => discarded += n,
                _ => break,
            }
        }
    }
}

/// Reads until the blank line that ends a request head, or [`MAX_HEAD`] bytes.
async fn read_head(stream: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}
