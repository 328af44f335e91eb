//! A connection's reader task: the async-std shell around its [`Connection`]. It reads with the
//! machine's deadline, feeds it, acts on its step, relays each message through the hub, and
//! never writes while a writer runs.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use async_std::io::prelude::ReadExt;
use async_std::net::TcpStream;

use super::close::linger_and_close;
use super::connection::{Cause, Closing, Connection, Step, Then};
use super::link::Link;
use super::metrics::Metrics;
use super::outgoing::{Outgoing, PeerOutbox};
use super::writer::{start_writer, write_error_directly};
use super::{lock, Shared};
use crate::hub::PeerId;
use crate::{Frame, UnixMicros};

/// A connection's read buffer starts at this size and doubles up to `MAX_READ_BUF` when reads fill it.
const MIN_READ_BUF: usize = 4 * 1024;
const MAX_READ_BUF: usize = 64 * 1024;

/// Serves one admitted connection from its accept to its close.
pub(super) async fn serve_connection(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: PeerId,
    outbox: PeerOutbox,
) {
    let link = Arc::new(Link::new());
    let mut connection = Connection::new(&shared.config, Instant::now());
    let mut socket = SocketReader::new(stream.clone());
    let mut outbox = Some(outbox);
    let mut writer = None;
    let closing = loop {
        let step = next_step(shared, peer, &mut connection, &mut socket, &link).await;
        if let (Some(profile), Some(outbox)) = (step.start_writer, outbox.take()) {
            writer = Some(start_writer(
                shared,
                peer,
                stream.clone(),
                outbox,
                profile,
                &link,
            ));
        }
        if let Then::Close(closing) = step.then {
            break closing;
        }
    };
    count_and_log(shared, peer, &closing);
    if let Some((code, reason)) = closing.error {
        if writer.is_some() {
            // The writer sends it after what is queued, once `leave` below closes the outbox.
            *lock(&link.farewell) = Some((code, reason));
        } else {
            // No writer: the error is inside the preface, and this task is the only writer.
            write_error_directly(&mut stream.clone(), code, &reason, &shared.config).await;
        }
    }
    shared.hub.leave(peer);
    if let Some(writer) = writer {
        writer.await;
    }
    linger_and_close(stream, &shared.config).await;
}

/// Waits for the next input the connection must hear (bytes, the end, or a clock running out)
/// and feeds it.
async fn next_step(
    shared: &Shared,
    peer: PeerId,
    connection: &mut Connection,
    socket: &mut SocketReader,
    link: &Link,
) -> Step {
    let (deadline, _) = connection.next_deadline();
    // A clock that has already run out still lets bytes waiting in the socket be read first
    // (the timeout polls the read before its timer): they arrived in time.
    let wait = deadline.saturating_duration_since(Instant::now());
    let read = futures_lite::future::or(
        async { Some(async_std::io::timeout(wait, socket.read()).await) },
        async {
            let _ = link.reading_stopped.recv().await;
            None
        },
    )
    .await;
    // The writer stopped the reading: the server closes the connection.
    let Some(read) = read else {
        return Step::gone();
    };
    let server_closed = link.closed_by_server.load(Ordering::Acquire)
        || shared.shutting_down.load(Ordering::Acquire);
    match read {
        Ok([]) if server_closed => Step::gone(),
        Ok([]) => connection.on_eof(),
        Ok(bytes) => {
            Metrics::add(&shared.metrics.bytes_in, bytes.len() as u64);
            connection.on_read(bytes, Instant::now(), &mut |frame| {
                handle_frame(shared, peer, frame)
            })
        }
        Err(err) if err.kind() == io::ErrorKind::TimedOut => connection.on_timeout(Instant::now()),
        Err(_) => Step::gone(),
    }
}

/// Counts and logs a close that was the peer's fault.
fn count_and_log(shared: &Shared, peer: PeerId, closing: &Closing) {
    match &closing.cause {
        Cause::Ended => {}
        Cause::Protocol(err) => {
            Metrics::add(&shared.metrics.protocol_errors, 1);
            log::info!("peer {peer}: protocol error: {err}");
        }
        Cause::Timeout(clock) => {
            Metrics::add(&shared.metrics.timeouts, 1);
            log::info!("peer {peer}: closed by {}", clock.name());
        }
    }
}

/// Relays a message (FC-28), answers a PING (§8.4), logs a peer's ERROR.
fn handle_frame(shared: &Shared, peer: PeerId, frame: Frame<&str>) {
    let started = Instant::now();
    let now = UnixMicros::now();
    let (sent_at, text) = match frame {
        // §4.5: a legacy message's send time is the server's receive time.
        Frame::Text(text) => (now, text),
        Frame::Chat { sent_at, text } => (sent_at, text),
        Frame::Ping { nonce } => {
            shared.hub.send(peer, Outgoing::Pong { nonce });
            return;
        }
        Frame::Error { code, reason } => {
            log::info!("peer {peer} reports error {code}: {reason}");
            return;
        }
        // PONG needs no answer; every other type is refused by the decoder for this direction.
        _ => return,
    };
    let text: Arc<str> = Arc::from(text);
    // Slow consumers this relay made are counted and logged by their writers.
    shared.hub.relay(
        peer,
        Outgoing::Echo {
            sent_at,
            relayed_at: now,
            text: text.clone(),
        },
        Outgoing::Broadcast {
            from: peer,
            sent_at,
            relayed_at: now,
            text,
        },
    );
    shared.metrics.record_message(started.elapsed());
}

/// The socket's read side and its buffer, which starts small (most connections are chatty with
/// short messages, so one costs 4 KiB until it streams) and doubles whenever a read fills it.
struct SocketReader {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: bool,
}

impl SocketReader {
    fn new(stream: TcpStream) -> SocketReader {
        SocketReader {
            stream,
            buf: vec![0; MIN_READ_BUF],
            filled: false,
        }
    }

    /// The next bytes the peer sent; empty at its end of stream.
    async fn read(&mut self) -> io::Result<&[u8]> {
        if self.filled && self.buf.len() < MAX_READ_BUF {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf).await?;
        self.filled = n == self.buf.len();
        Ok(&self.buf[..n])
    }
}
