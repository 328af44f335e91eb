//! A connection's reader task: the async-std shell around its [`Connection`]. It reads with the
//! machine's deadline, feeds it, acts on its step, relays each message through the hub, and
//! never writes while a writer runs.

use std::future::{pending, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use async_std::io::prelude::ReadExt;
use async_std::net::TcpStream;
use futures_lite::future::or;

use super::close::linger_and_close;
use super::connection::{Cause, Closing, Connection, Step, Then};
use super::link::Link;
use super::metrics::Metrics;
use super::outgoing::{Outgoing, PeerOutbox, Relayed};
use super::writer::{close_within, start_writer, write_error_directly, WriterEnd};
use super::{lock, ReadHalf, Shared, WriteHalf};
use crate::hub::{CloseReason, Drain, HubConfig, PeerId, Weight};
use crate::{Frame, Profile, UnixMicros};

/// Reads of up to this many bytes need no heap buffer (see [`SocketReader`]): a preface, a few
/// short frames.
const SMALL_READ: usize = 512;
/// A connection's heap read buffer starts at this size and doubles up to `MAX_READ_BUF` when
/// reads fill it.
const MIN_READ_BUF: usize = 4 * 1024;
const MAX_READ_BUF: usize = 64 * 1024;

/// Serves one admitted connection from its accept to its close. `read` and `write` are its byte
/// streams (two clones of the TCP socket, or the halves of its TLS stream); `socket` is the TCP
/// under them, closed after the linger.
pub(super) async fn serve_connection<R: ReadHalf, W: WriteHalf>(
    shared: &Arc<Shared>,
    read: R,
    write: W,
    socket: TcpStream,
    peer: PeerId,
    addr: SocketAddr,
    outbox: PeerOutbox,
) {
    let link = Arc::new(Link::new());
    let mut connection = Connection::new(&shared.config, Instant::now());
    let mut reader = SocketReader::new(read);
    let mut unstarted = Some(Unstarted::new(outbox.clone()));
    // The write side is this task's until the writer starts, then the writer's.
    let mut write = Some(write);
    let mut writer = None;
    let closing = loop {
        let step = next_step(
            shared,
            peer,
            &mut connection,
            &mut reader,
            &link,
            &mut unstarted,
        )
        .await;
        // A step names a profile once; the outbox and what was held move to the writer then.
        let starting = step
            .start_writer
            .and_then(|p| Some((p, unstarted.take()?, write.take()?)));
        if let Some((profile, waiting, write)) = starting {
            writer = Some(start_writer(
                shared,
                peer,
                write,
                waiting.outbox,
                waiting.held,
                profile,
                &link,
            ));
        }
        if let Then::Close(closing) = step.then {
            break closing;
        }
    };
    count(shared, &closing);
    if let Some((code, reason)) = closing.error.clone() {
        match write.as_mut() {
            // No writer: the error is inside the preface, and this task is the only writer.
            Some(write) => write_error_directly(write, code, &reason, &shared.config).await,
            // The writer sends it after what is queued, once `leave` below closes the outbox.
            None => *lock(&link.farewell) = Some((code, reason)),
        }
    }
    if let Some(mut write) = write {
        close_within(&mut write, shared.config.write_timeout).await;
    }
    shared.hub.leave(peer);
    let writer_end = match writer {
        Some(writer) => Some(writer.await),
        None => None,
    };
    log_disconnect(
        peer,
        addr,
        connection.profile(),
        &closing,
        &outbox,
        writer_end,
    );
    // Boxed: the linger's discard buffer would otherwise sit in every connection's task for its
    // whole life, idle or not, though only a closing connection uses it.
    Box::pin(linger_and_close(socket, &shared.config)).await;
}

/// What the reader hears: its socket, its writer, and, before the writer starts, the outbox and
/// the shutdown.
enum Input<'a> {
    /// A read ended: bytes, the end of stream, a timeout or a failure.
    Read(io::Result<&'a [u8]>),
    /// The writer stopped the reading: the server closes the connection.
    Stopped,
    /// Messages were moved from the outbox to the held ones.
    Held,
    /// The outbox closed before the writer started.
    OutboxClosed,
    /// The server began to shut down before the writer started.
    ShuttingDown,
}

/// Waits for the next input the connection must hear (bytes, the end, a clock running out, or,
/// before the writer starts, a shutdown or a full queue) and feeds it.
async fn next_step<R: ReadHalf>(
    shared: &Shared,
    peer: PeerId,
    connection: &mut Connection,
    socket: &mut SocketReader<R>,
    link: &Link,
    unstarted: &mut Option<Unstarted>,
) -> Step {
    if let Some(written) = lock(&link.last_write).take() {
        connection.on_written(written);
    }
    let (deadline, _) = connection.next_deadline();
    // A clock that has already run out still lets bytes waiting in the socket be read first
    // (the timeout polls the read before its timer): they arrived in time.
    let wait = deadline.saturating_duration_since(Instant::now());
    let read = async { Input::Read(async_std::io::timeout(wait, socket.read()).await) };
    let stopped = async {
        let _ = link.reading_stopped.recv().await;
        Input::Stopped
    };
    let before_writer = async {
        match unstarted.as_mut() {
            Some(waiting) => waiting.next_input(shared).await,
            None => pending().await,
        }
    };
    let input = or(read, or(stopped, before_writer)).await;
    let server_closed = link.closed_by_server.load(Ordering::Acquire)
        || shared.shutting_down.load(Ordering::Acquire);
    let now = Instant::now();
    match input {
        Input::Stopped => Step::gone(),
        // FC-34: a typed connection that has not authenticated is not in the room yet.
        Input::Held if connection.awaiting_auth() => {
            if let Some(waiting) = unstarted.as_mut() {
                waiting.drop_held();
            }
            connection.on_timeout(now)
        }
        Input::Held => match unstarted {
            Some(waiting) if waiting.is_full(&shared.config.hub) => connection.on_queue_full(now),
            _ => connection.on_timeout(now),
        },
        Input::OutboxClosed => connection.on_timeout(now),
        Input::ShuttingDown => connection.on_shutdown(now),
        Input::Read(Ok([])) if server_closed => Step::gone(),
        Input::Read(Ok([])) => connection.on_eof(),
        Input::Read(Ok(bytes)) => {
            Metrics::add(&shared.metrics.bytes_in, bytes.len() as u64);
            let mut on_joined = || {
                if let Some(waiting) = unstarted.as_mut() {
                    waiting.drop_held();
                }
            };
            connection.on_read_joining(bytes, now, &mut on_joined, &mut |frame| {
                handle_frame(shared, peer, frame)
            })
        }
        Input::Read(Err(err)) if err.kind() == io::ErrorKind::TimedOut => {
            if let Some(written) = lock(&link.last_write).take() {
                connection.on_written(written);
            }
            connection.on_timeout(now)
        }
        Input::Read(Err(_)) => Step::gone(),
    }
}

/// A connection's outbox while its writer may not start yet (FC-27), and the messages moved out of
/// it meanwhile. The hub bounds only what an outbox holds, so holding them here keeps the bound
/// from closing a peer the server was not yet allowed to write to. Once the held ones reach the
/// bound, a silent connection is decided legacy at once (FC-29); any other stops being drained,
/// and the hub's bound applies to what queues after that.
struct Unstarted {
    outbox: PeerOutbox,
    held: Vec<Outgoing>,
    held_bytes: usize,
    outbox_closed: bool,
}

impl Unstarted {
    fn new(outbox: PeerOutbox) -> Unstarted {
        Unstarted {
            outbox,
            held: Vec::new(),
            held_bytes: 0,
            outbox_closed: false,
        }
    }

    /// Drops what is held and what the outbox holds now: the connection joins the room only
    /// now (FC-26 as §8.9 amends it), so nothing relayed before may reach it.
    fn drop_held(&mut self) {
        self.held.clear();
        self.held_bytes = 0;
        let _ = self.outbox.try_drain(&mut self.held);
        self.held.clear();
    }

    fn is_full(&self, bounds: &HubConfig) -> bool {
        self.held.len() >= bounds.max_queue_frames() || self.held_bytes >= bounds.max_queue_bytes()
    }

    /// Waits for the shutdown, or for messages to hold while there is room for them.
    async fn next_input(&mut self, shared: &Shared) -> Input<'static> {
        let shutting_down = async {
            let _ = shared.shutdown_heard.recv().await;
            Input::ShuttingDown
        };
        let drained = async {
            if self.outbox_closed || self.is_full(&shared.config.hub) {
                return pending().await;
            }
            let before = self.held.len();
            let drain = poll_fn(|cx| self.outbox.poll_drain(cx, &mut self.held)).await;
            self.held_bytes += self.held[before..]
                .iter()
                .map(Weight::weight)
                .sum::<usize>();
            match drain {
                Drain::Closed(_) => {
                    self.outbox_closed = true;
                    Input::OutboxClosed
                }
                Drain::Messages | Drain::Empty => Input::Held,
            }
        };
        or(shutting_down, drained).await
    }
}

/// Counts a close that was the peer's fault.
fn count(shared: &Shared, closing: &Closing) {
    match &closing.cause {
        Cause::Ended => {}
        Cause::Protocol(_) => Metrics::add(&shared.metrics.protocol_errors, 1),
        Cause::Timeout(_) => Metrics::add(&shared.metrics.timeouts, 1),
        Cause::Unauthorized => Metrics::add(&shared.metrics.auth_refused, 1),
        Cause::LegacyRefused => Metrics::add(&shared.metrics.legacy_refused, 1),
    }
}

/// Logs a disconnect at info, with its peer, address, profile and reason; a slow consumer at
/// warn, whether or not its writer ever ran (FC-29).
fn log_disconnect(
    peer: PeerId,
    addr: SocketAddr,
    profile: Option<Profile>,
    closing: &Closing,
    outbox: &PeerOutbox,
    writer_end: Option<WriterEnd>,
) {
    let profile = match profile {
        Some(Profile::Legacy) => "legacy",
        Some(Profile::Typed) => "typed",
        None => "undecided",
    };
    let reason = match (&closing.cause, outbox.close_reason()) {
        (_, Some(CloseReason::SlowConsumer)) => {
            log::warn!(
                "peer {peer} ({addr}, {profile}) disconnected: slow consumer, its queue was full"
            );
            return;
        }
        (Cause::Protocol(err), _) => format!("protocol error: {err}"),
        (Cause::Timeout(clock), _) => format!("closed by {}", clock.name()),
        // Nothing about what the client sent: no token, no length (§8.9).
        (Cause::Unauthorized, _) => "not authenticated: ERROR UNAUTHORIZED".to_string(),
        (Cause::LegacyRefused, _) => "legacy, refused: authentication is required".to_string(),
        (Cause::Ended, Some(CloseReason::Shutdown)) => "the server shut down".to_string(),
        (Cause::Ended, _) if writer_end == Some(WriterEnd::WriteFailed) => {
            "a write failed".to_string()
        }
        (Cause::Ended, _) => "the connection ended".to_string(),
    };
    log::info!("peer {peer} ({addr}, {profile}) disconnected: {reason}");
}

/// Relays a message (FC-28), answers a PING (§8.4), logs a peer's ERROR.
fn handle_frame(shared: &Shared, peer: PeerId, frame: Frame<&str>) {
    let started = Instant::now();
    let now = UnixMicros::now();
    let profile = frame.profile();
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
    // Encoded once, in the sender's profile, for its echo and every other peer.
    let relayed = Relayed::encode(profile, shared.config.limits, peer, sent_at, now, text);
    let relayed = match relayed {
        Ok(relayed) => relayed,
        // The decoder bounds every text by the relay headroom (FC-15), so this is a bug, not a
        // peer's fault: log it and relay nothing.
        Err(err) => {
            log::error!("could not encode a relayed message: {err}");
            return;
        }
    };
    // Slow consumers this relay made are counted by the hub, and logged when they disconnect.
    #[cfg(feature = "cluster")]
    let for_bus = shared.bus.as_ref().map(|bus| (bus, relayed.clone()));
    shared.hub.relay(
        peer,
        Outgoing::Echo(relayed.clone()),
        Outgoing::Broadcast(relayed),
    );
    // After the local relay, and never waiting: the echo and the room do not wait for the bus.
    #[cfg(feature = "cluster")]
    if let Some((bus, relayed)) = for_bus {
        bus.publish(relayed);
    }
    shared.metrics.record_message(started.elapsed());
}

/// The socket's read side and its buffers. An idle connection is most of a server's
/// connections, and the decoder keeps a partial frame itself, so bytes live here only during the
/// read that returns them: reads go into `small`, inside the task, until one fills it (a peer
/// streaming); then into `buf` on the heap, which doubles whenever a read fills it and is given
/// back as soon as a read would have fitted in `small` again.
struct SocketReader<R> {
    stream: R,
    small: [u8; SMALL_READ],
    /// Empty (no allocation) unless the last read filled `small` or came through here at least
    /// `SMALL_READ` bytes long.
    buf: Vec<u8>,
    /// The length of the last read.
    last_read: usize,
}

impl<R: ReadHalf> SocketReader<R> {
    fn new(stream: R) -> SocketReader<R> {
        SocketReader {
            stream,
            small: [0; SMALL_READ],
            buf: Vec::new(),
            last_read: 0,
        }
    }

    /// The next bytes the peer sent; empty at its end of stream.
    async fn read(&mut self) -> io::Result<&[u8]> {
        if self.buf.is_empty() {
            if self.last_read == SMALL_READ {
                self.buf = vec![0; MIN_READ_BUF];
            }
        } else if self.last_read < SMALL_READ {
            self.buf = Vec::new();
        } else if self.last_read == self.buf.len() && self.buf.len() < MAX_READ_BUF {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let into = if self.buf.is_empty() {
            &mut self.small[..]
        } else {
            &mut self.buf[..]
        };
        let n = self.stream.read(into).await?;
        self.last_read = n;
        Ok(&into[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;

    /// A stream that returns its reads as given, one per call, then the end of stream.
    struct Reads(std::collections::VecDeque<Vec<u8>>);

    impl futures_io::AsyncRead for Reads {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            let Some(mut next) = self.0.pop_front() else {
                return std::task::Poll::Ready(Ok(0));
            };
            let n = next.len().min(buf.len());
            buf[..n].copy_from_slice(&next[..n]);
            if n < next.len() {
                self.0.push_front(next.split_off(n));
            }
            std::task::Poll::Ready(Ok(n))
        }
    }

    fn reader(reads: &[usize]) -> SocketReader<Reads> {
        let reads = reads.iter().map(|&n| vec![7u8; n]).collect();
        SocketReader::new(Reads(reads))
    }

    #[test]
    fn short_reads_allocate_nothing() {
        let mut reader = reader(&[10, SMALL_READ - 1, 1]);
        for expected in [10, SMALL_READ - 1, 1, 0] {
            let got = block_on(reader.read()).expect("reads").len();
            assert_eq!(got, expected);
            assert_eq!(reader.buf.capacity(), 0);
        }
    }

    #[test]
    fn a_read_that_fills_the_small_buffer_moves_to_the_heap_and_back_when_reads_shrink() {
        let mut reader = reader(&[SMALL_READ, 3 * SMALL_READ, 100, 5]);
        assert_eq!(block_on(reader.read()).expect("reads").len(), SMALL_READ);
        assert_eq!(reader.buf.capacity(), 0);
        // The peer streams: the next read may take a whole MIN_READ_BUF.
        assert_eq!(
            block_on(reader.read()).expect("reads").len(),
            3 * SMALL_READ
        );
        assert_eq!(reader.buf.len(), MIN_READ_BUF);
        assert_eq!(block_on(reader.read()).expect("reads").len(), 100);
        assert_eq!(reader.buf.len(), MIN_READ_BUF);
        // The last read fitted in `small`: the heap buffer is given back before this one.
        assert_eq!(block_on(reader.read()).expect("reads").len(), 5);
        assert_eq!(reader.buf.capacity(), 0);
    }

    #[test]
    fn reads_that_fill_the_heap_buffer_double_it_up_to_its_bound() {
        let mut reader = reader(&[SMALL_READ, 1 << 20]);
        let mut sizes = Vec::new();
        let _ = block_on(reader.read()).expect("reads");
        while reader.buf.len() < MAX_READ_BUF {
            let n = block_on(reader.read()).expect("reads").len();
            assert_eq!(n, reader.buf.len(), "a read fills the heap buffer");
            sizes.push(n);
        }
        assert_eq!(sizes.first(), Some(&MIN_READ_BUF));
        let n = block_on(reader.read()).expect("reads").len();
        assert_eq!((n, reader.buf.len()), (MAX_READ_BUF, MAX_READ_BUF));
    }
}
