//! The Prometheus endpoint: a minimal HTTP/1.0 responder that answers every request with the text
//! exposition of the metrics now.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_std::io::prelude::{ReadExt, WriteExt};
use async_std::net::{TcpListener, TcpStream};
use async_std::task;

use super::{Shared, ACCEPT_BACKOFF};

/// At most this many requests are answered at once; more are dropped unanswered.
const MAX_IN_FLIGHT: u64 = 16;
/// Each request's head must arrive, and its response leave, within this time.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// A request head longer than this is not waited for to its end.
const MAX_HEAD: usize = 8192;
/// How often the accept loop wakes to notice the shutdown.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);

/// Answers requests until the server shuts down, then ends, releasing its port.
pub(super) async fn serve_metrics(shared: Arc<Shared>, listener: TcpListener) {
    let in_flight = Arc::new(AtomicU64::new(0));
    while !shared.shutting_down.load(Ordering::Acquire) {
        let stream = match async_std::io::timeout(SHUTDOWN_POLL, listener.accept()).await {
            Ok((stream, _)) => stream,
            Err(err) if err.kind() == io::ErrorKind::TimedOut => continue,
            Err(_) => {
                task::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let (shared, in_flight) = (shared.clone(), in_flight.clone());
        task::spawn(async move {
            answer(&shared, stream).await;
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// Reads one request head (its content is ignored) and writes the metrics, each within the
/// deadline; a client too slow for it gets nothing.
async fn answer(shared: &Shared, mut stream: TcpStream) {
    if async_std::io::timeout(REQUEST_DEADLINE, read_head(&mut stream))
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
    let _ = async_std::io::timeout(REQUEST_DEADLINE, stream.write_all(response.as_bytes())).await;
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
