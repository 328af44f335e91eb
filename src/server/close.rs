//! Ending connections: closing without destroying the last frames, refusing at the connection
//! limit (FC-31), and the graceful shutdown (FC-33).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::io::prelude::ReadExt;
use async_std::net::{Shutdown, TcpStream};
use async_std::task;

use super::connection::after;
use super::metrics::Snapshot;
use super::writer::{close_within, write_error_directly};
use super::{lock, ReadHalf, ServerConfig, Shared, WriteHalf};
use crate::wire::PREFACE;
use crate::ErrorCode;

/// How long a closing connection reads and discards what the peer still sends, and how much.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 256 * 1024;
/// How often shutdown looks whether the connection tasks are done.
const SHUTDOWN_POLL: Duration = Duration::from_millis(5);
/// How long shutdown lets the tasks of force-closed connections unwind before the last count.
const UNWIND: Duration = Duration::from_secs(1);

/// Closes a connection whose reader is done. Closing a socket with unread input makes the kernel
/// send a reset, which can destroy the last frames (an ERROR) before the peer reads them: so send
/// our end of stream first, and read and discard what the peer still sends, bounded in bytes and
/// time, before closing. What is discarded is read from the TCP socket itself, under any TLS: it
/// is thrown away either way.
pub(super) async fn linger_and_close(mut stream: TcpStream, config: &ServerConfig) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    let mut discarded = 0;
    while discarded < LINGER_BYTES {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .min(config.write_timeout);
        match async_std::io::timeout(left, stream.read(&mut sink)).await {
            Ok(n) if n > 0 => discarded += n,
            _ => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// FC-31: a connection past the limit gets ERROR SERVER_FULL if it turns out typed within the
/// detection window, then is closed. It never joins the room. `read` and `write` are the
/// connection's byte streams (the socket itself, or TLS over it); `socket` is the TCP under them.
pub(super) async fn refuse<R: ReadHalf, W: WriteHalf>(
    shared: &Shared,
    mut read: R,
    mut write: W,
    socket: TcpStream,
) {
    let mut first = [0u8; PREFACE.len()];
    let mut have = 0;
    let deadline = after(Instant::now(), shared.config.detect_window);
    while have < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        match async_std::io::timeout(left, read.read(&mut first[have..])).await {
            Ok(n) if n > 0 => have += n,
            _ => break,
        }
    }
    if have >= 4 && first[..4] == PREFACE[..4] {
        let reason = "the server is at its connection limit";
        write_error_directly(&mut write, ErrorCode::SERVER_FULL, reason, &shared.config).await;
    }
    close_within(&mut write, shared.config.write_timeout).await;
    linger_and_close(socket, &shared.config).await;
}

/// FC-33: stop accepting (done by the caller), drain within the grace period, close everything.
pub(super) async fn shutdown(shared: &Arc<Shared>) -> Snapshot {
    shared.shutting_down.store(true, Ordering::Release);
    log::info!("shutting down");
    // Writers hear it from their outbox; readers whose writer has not started hear it from the
    // signal and decide legacy if they can, so their queue is delivered too.
    shared.hub.shutdown();
    shared.shutdown_signal.close();
    tasks_done_within(shared, shared.config.shutdown_grace).await;
    // Past the grace period: close what is left, and let its tasks unwind before the last count.
    close_sockets(shared);
    tasks_done_within(shared, UNWIND).await;
    let snapshot = shared.snapshot();
    log::info!("stopped");
    snapshot
}

/// Waits until no connection task runs, or `limit` has passed.
async fn tasks_done_within(shared: &Shared, limit: Duration) {
    let deadline = after(Instant::now(), limit);
    while shared.active.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        task::sleep(SHUTDOWN_POLL).await;
    }
}

/// Closes both directions of every open connection.
fn close_sockets(shared: &Shared) {
    for stream in lock(&shared.sockets).values() {
        let _ = stream.shutdown(Shutdown::Both);
    }
}
