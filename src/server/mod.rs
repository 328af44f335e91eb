//! The async-std chat server: a thin shell that moves bytes between sockets, the codec and the hub.
//!
//! ```text
//! socket → reader task: Decoder → Hub::relay → per-peer Outbox → writer task: Encoder → socket
//! ```
//!
//! Each connection has two tasks. The reader owns the socket's read side and the [`Decoder`]; it
//! relays each message through the [`Hub`] and never writes. The writer owns the write side and the
//! [`Encoder`]; it drains its peer's whole outbox into one buffer and writes it with one call (write
//! coalescing), so frames never interleave. The hub's queues hold profile-neutral messages, so what is
//! queued before a connection's profile is known is encoded in that profile once it is (FC-27).
//!
//! The lifecycle follows `spec/PROTOCOL.md` §8.

pub mod metrics;

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_std::io::prelude::{ReadExt, WriteExt};
use async_std::net::{Shutdown, TcpListener, TcpStream};
use async_std::task;

use crate::hub::{CloseReason, Drain, Hub, HubConfig, JoinError, Outbox, PeerId, Weight};
use crate::wire::PREFACE;
use crate::{
    ConfigError, DecodeError, Decoder, Encoder, ErrorCode, Frame, Limits, Profile, UnixMicros,
};
pub use metrics::{Metrics, Snapshot};

/// A connection's read buffer starts at this size and doubles up to `MAX_READ_BUF` when reads fill it.
const MIN_READ_BUF: usize = 4 * 1024;
const MAX_READ_BUF: usize = 64 * 1024;
/// A writer's output buffer: its initial capacity, and the most it keeps between writes.
const MIN_OUT: usize = 4 * 1024;
const MAX_RETAINED_OUT: usize = 256 * 1024;

/// Everything a server is configured with; each field is a `framechat serve` flag.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen. Default `127.0.0.1:50555`, the seed's address.
    pub addr: SocketAddr,
    /// The frame length limit `L` (§6.1). Default 1 MiB.
    pub limits: Limits,
    /// Connection limit and per-peer queue bounds (FC-29, FC-31).
    pub hub: HubConfig,
    /// Close a connection that sends nothing for this long (FC-32). Default 300 s.
    pub idle_timeout: Duration,
    /// Close a connection that starts a frame and does not finish it in this long (FC-32). Default 10 s.
    pub frame_deadline: Duration,
    /// A connection that sends no byte in this long is legacy (FC-27). Default 200 ms.
    pub detect_window: Duration,
    /// Give up on a peer whose socket accepts no bytes for this long. Default 10 s.
    pub write_timeout: Duration,
    /// How long shutdown waits for queues to drain (FC-33). Default 5 s.
    pub shutdown_grace: Duration,
    /// Print the metrics line this often; `None` for never. Default 2 s, as the seed.
    pub metrics_interval: Option<Duration>,
    /// Serve the Prometheus text format over HTTP here (`GET /metrics`); `None` for not at all.
    pub metrics_addr: Option<SocketAddr>,
}

impl ServerConfig {
    /// Refuses a configuration that cannot work: a zero timeout or window, or a queue bound in
    /// bytes that cannot hold the largest message (FC-29 would then call every recipient of a
    /// large message a slow consumer). [`Server::bind`] calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, duration) in [
            ("idle_timeout", self.idle_timeout),
            ("frame_deadline", self.frame_deadline),
            ("detect_window", self.detect_window),
            ("write_timeout", self.write_timeout),
        ] {
            if duration.is_zero() {
                return Err(ConfigError::ZeroLimit { name });
            }
        }
        let largest = Outgoing::largest_weight(self.limits);
        if self.hub.max_queue_bytes() < largest {
            return Err(ConfigError::QueueSmallerThanMessage {
                max_queue_bytes: self.hub.max_queue_bytes(),
                needed: largest,
            });
        }
        Ok(())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 50555)),
            limits: Limits::default(),
            hub: HubConfig::default(),
            idle_timeout: Duration::from_secs(300),
            frame_deadline: Duration::from_secs(10),
            detect_window: Duration::from_millis(200),
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            metrics_interval: Some(Duration::from_secs(2)),
            metrics_addr: None,
        }
    }
}

/// What the hub queues for a peer: profile-neutral, encoded by the peer's writer.
#[derive(Clone, Debug)]
pub(crate) enum Outgoing {
    /// The sender's own message (ECHO, or `echo: T`).
    Echo {
        sent_at: UnixMicros,
        relayed_at: UnixMicros,
        text: Arc<str>,
    },
    /// Another peer's message (BROADCAST, or `peer: T`).
    Broadcast {
        from: PeerId,
        sent_at: UnixMicros,
        relayed_at: UnixMicros,
        text: Arc<str>,
    },
    /// The answer to a PING.
    Pong { nonce: u64 },
}

/// What a message weighs beyond its text: about the typed encoding's header and fixed fields.
const FIXED_WEIGHT: usize = 32;

impl Outgoing {
    /// The weight of the largest message a server with these limits relays (FC-15).
    fn largest_weight(limits: Limits) -> usize {
        FIXED_WEIGHT + limits.max_text_len() as usize
    }
}

impl Weight for Outgoing {
    fn weight(&self) -> usize {
        const FIXED: usize = FIXED_WEIGHT;
        match self {
            Outgoing::Echo { text, .. } | Outgoing::Broadcast { text, .. } => FIXED + text.len(),
            Outgoing::Pong { .. } => FIXED,
        }
    }
}

/// State shared by the accept loop, the connection tasks and the handles.
struct Shared {
    config: ServerConfig,
    hub: Hub<Outgoing>,
    metrics: Metrics,
    shutting_down: AtomicBool,
    /// Open connections' sockets, to close those with nothing to deliver at shutdown. The flag says
    /// whether the writer runs.
    sockets: Mutex<BTreeMap<PeerId, (TcpStream, bool)>>,
    /// Connection tasks still running.
    active: AtomicU64,
}

impl Shared {
    /// The metrics now; slow consumers as the hub counts them (every overflow, whichever message
    /// caused it and whether or not the peer's writer ever ran).
    fn snapshot(&self) -> Snapshot {
        let mut snapshot = self.metrics.snapshot();
        snapshot.slow_consumers = self.hub.stats().slow_consumers;
        snapshot
    }
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    metrics_listener: Option<TcpListener>,
    shared: Arc<Shared>,
    stop: async_std::channel::Receiver<()>,
    stop_sender: async_std::channel::Sender<()>,
}

/// Controls a running server from elsewhere: metrics and shutdown.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    stop: async_std::channel::Sender<()>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the Prometheus endpoint, if one was configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The metrics now.
    pub fn metrics(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// Starts a graceful shutdown (FC-33); [`Server::run`] returns when it is done.
    pub fn shutdown(&self) {
        let _ = self.stop.try_send(());
    }
}

impl Server {
    /// Binds the listening socket (and the metrics endpoint, if configured). A configuration
    /// [`ServerConfig::validate`] refuses is an `InvalidInput` error carrying the [`ConfigError`].
    pub async fn bind(config: ServerConfig) -> io::Result<Server> {
        config
            .validate()
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        let listener = TcpListener::bind(config.addr).await?;
        let local_addr = listener.local_addr()?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let (stop_sender, stop) = async_std::channel::bounded(1);
        let shared = Arc::new(Shared {
            hub: Hub::new(config.hub),
            config,
            metrics: Metrics::new(),
            shutting_down: AtomicBool::new(false),
            sockets: Mutex::new(BTreeMap::new()),
            active: AtomicU64::new(0),
        });
        Ok(Server {
            listener,
            local_addr,
            metrics_listener,
            shared,
            stop,
            stop_sender,
        })
    }

    /// The address the server listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle for metrics and shutdown.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
            local_addr: self.local_addr,
            metrics_addr: self
                .metrics_listener
                .as_ref()
                .and_then(|l| l.local_addr().ok()),
            stop: self.stop_sender.clone(),
        }
    }

    /// Accepts and serves connections until [`ServerHandle::shutdown`], then shuts down gracefully
    /// and returns the final metrics. When it returns, its connections are closed and the ports it
    /// bound are released.
    pub async fn run(self) -> io::Result<Snapshot> {
        let shared = self.shared.clone();
        let printer = shared.config.metrics_interval.map(|interval| {
            let shared = shared.clone();
            task::spawn(async move {
                let mut previous = shared.snapshot();
                loop {
                    task::sleep(interval).await;
                    if shared.shutting_down.load(Ordering::Acquire) {
                        break;
                    }
                    let now = shared.snapshot();
                    // A closed stdout (`serve | head`) must not stop the server: drop the line.
                    let _ = writeln!(std::io::stdout(), "{}", now.to_json_line(Some(&previous)));
                    previous = now;
                }
            })
        });
        let metrics_endpoint = match self.metrics_listener {
            Some(listener) => {
                log::info!("metrics on http://{}/metrics", listener.local_addr()?);
                Some(task::spawn(serve_metrics(shared.clone(), listener)))
            }
            None => None,
        };
        log::info!("listening on {}", self.local_addr);
        loop {
            let accepted =
                futures_lite::future::or(async { Some(self.listener.accept().await) }, async {
                    let _ = self.stop.recv().await;
                    None
                })
                .await;
            match accepted {
                None => break,
                Some(Ok((stream, addr))) => admit(&shared, stream, addr),
                Some(Err(err)) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    log::warn!("accept failed: {err}");
                    task::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
        drop(self.listener);
        let snapshot = shutdown(&shared).await;
        // The endpoint releases its port when it ends. The printer is not awaited (it may be
        // asleep for a whole interval): it checks the flag after waking and prints nothing more.
        if let Some(endpoint) = metrics_endpoint {
            endpoint.await;
        }
        drop(printer);
        Ok(snapshot)
    }
}

/// After a failed accept (out of file descriptors, say), wait this long before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);
/// The metrics endpoint answers at most this many requests at once, each within this time.
const METRICS_REQUESTS: u64 = 16;
const METRICS_REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// A minimal HTTP/1.0 responder: every request gets the Prometheus text of the metrics now. Ends
/// (releasing its port) once the server shuts down.
async fn serve_metrics(shared: Arc<Shared>, listener: TcpListener) {
    let in_flight = Arc::new(AtomicU64::new(0));
    while !shared.shutting_down.load(Ordering::Acquire) {
        // Wake up now and then to notice the shutdown.
        let accepted = async_std::io::timeout(Duration::from_millis(100), listener.accept()).await;
        let mut stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) if err.kind() == io::ErrorKind::TimedOut => continue,
            Err(_) => {
                task::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if in_flight.fetch_add(1, Ordering::AcqRel) >= METRICS_REQUESTS {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let (shared, in_flight) = (shared.clone(), in_flight.clone());
        task::spawn(async move {
            // The request head, bounded in size and, as a whole, in time; its content is ignored.
            let read_head = async {
                let mut head = Vec::new();
                let mut chunk = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    head.extend_from_slice(&chunk[..n]);
                }
                Ok(())
            };
            if async_std::io::timeout(METRICS_REQUEST_DEADLINE, read_head)
                .await
                .is_ok()
            {
                let body = shared.snapshot().to_prometheus();
                let response = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = async_std::io::timeout(
                    METRICS_REQUEST_DEADLINE,
                    stream.write_all(response.as_bytes()),
                )
                .await;
            }
            in_flight.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// FC-33: stop accepting (done by the caller), drain within the grace period, close everything.
async fn shutdown(shared: &Arc<Shared>) -> Snapshot {
    shared.shutting_down.store(true, Ordering::Release);
    log::info!("shutting down");
    shared.hub.shutdown();
    // Connections with no writer have nothing they may be sent (FC-27): close them now.
    close_sockets(shared, |writer_running| !writer_running);
    let wait_for_tasks = |limit: Duration| async move {
        let deadline = Instant::now() + limit;
        while shared.active.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            task::sleep(Duration::from_millis(5)).await;
        }
    };
    wait_for_tasks(shared.config.shutdown_grace).await;
    // Past the grace period: close what is left, and let its tasks unwind before the last count.
    close_sockets(shared, |_| true);
    wait_for_tasks(Duration::from_secs(1)).await;
    let snapshot = shared.snapshot();
    log::info!("stopped");
    snapshot
}

fn close_sockets(shared: &Shared, which: impl Fn(bool) -> bool) {
    if let Ok(sockets) = shared.sockets.lock() {
        for (stream, writer_running) in sockets.values() {
            if which(*writer_running) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

fn admit(shared: &Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    match shared.hub.join() {
        Ok((peer, outbox)) => {
            Metrics::add(&shared.metrics.connections_total, 1);
            Metrics::add(&shared.metrics.connections_open, 1);
            shared.active.fetch_add(1, Ordering::AcqRel);
            if let Ok(mut sockets) = shared.sockets.lock() {
                sockets.insert(peer, (stream.clone(), false));
            }
            log::debug!("peer {peer} connected from {addr}");
            let shared = shared.clone();
            task::spawn(async move {
                serve_connection(&shared, stream, peer, outbox).await;
                if let Ok(mut sockets) = shared.sockets.lock() {
                    sockets.remove(&peer);
                }
                shared
                    .metrics
                    .connections_open
                    .fetch_sub(1, Ordering::Relaxed);
                shared.active.fetch_sub(1, Ordering::AcqRel);
                log::debug!("peer {peer} closed");
            });
        }
        Err(JoinError::Full { max_peers }) => {
            Metrics::add(&shared.metrics.connections_refused, 1);
            log::warn!("refusing {addr}: at the connection limit of {max_peers}");
            // Counted as active, so a shutdown waits for it like for any connection.
            shared.active.fetch_add(1, Ordering::AcqRel);
            let shared = shared.clone();
            task::spawn(async move {
                refuse(&shared, stream).await;
                shared.active.fetch_sub(1, Ordering::AcqRel);
            });
        }
        Err(_) => {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// FC-31: a connection past the limit gets ERROR SERVER_FULL if it turns out typed, then is closed.
async fn refuse(shared: &Shared, mut stream: TcpStream) {
    let mut first = [0u8; PREFACE.len()];
    let mut have = 0;
    let deadline = Instant::now() + shared.config.detect_window;
    while have < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        match async_std::io::timeout(left, stream.read(&mut first[have..])).await {
            Ok(n) if n > 0 => have += n,
            _ => break,
        }
    }
    if have >= 4 && first[..4] == PREFACE[..4] {
        let reason = "the server is at its connection limit";
        write_error_directly(&mut stream, ErrorCode::SERVER_FULL, reason, &shared.config).await;
    }
    linger_and_close(stream, &shared.config).await;
}

/// Why a connection's reader stopped.
enum ReadEnd {
    /// The peer closed between frames, an I/O error, or the server closed the socket itself.
    Closed,
    /// A decoding error (FC-30).
    Protocol(DecodeError),
    /// The idle timeout or frame deadline (FC-32).
    Timeout(&'static str),
}

/// What a connection's reader and writer share.
struct Link {
    /// The reader's last words: the ERROR the writer sends after everything queued before the
    /// reader left the room, and nothing after it (FC-30, FC-32).
    farewell: Mutex<Option<(ErrorCode, String)>>,
    /// The writer closed the connection on the server's initiative (slow consumer, shutdown,
    /// failed write): the reader's end of stream is then not the peer's doing, nor a protocol
    /// error.
    closed_by_server: AtomicBool,
    /// Closed by the writer when the server closes the connection: the reader stops reading
    /// (and relaying) at once, and the connection lingers before its socket is closed.
    stop_reading: async_std::channel::Sender<()>,
    reading_stopped: async_std::channel::Receiver<()>,
}

impl Link {
    fn new() -> Link {
        let (stop_reading, reading_stopped) = async_std::channel::bounded(1);
        Link {
            farewell: Mutex::new(None),
            closed_by_server: AtomicBool::new(false),
            stop_reading,
            reading_stopped,
        }
    }
}

async fn serve_connection(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: PeerId,
    outbox: std::sync::Arc<Outbox<Outgoing>>,
) {
    let config = &shared.config;
    let link = Arc::new(Link::new());
    let mut reader = stream.clone();
    let mut decoder = Decoder::server_detect(config.limits);
    // Starts small (most connections are chatty with short messages) and doubles whenever a read
    // fills it, so a connection costs 4 KiB until it streams.
    let mut read_buf = vec![0u8; MIN_READ_BUF];
    let connected_at = Instant::now();
    // When the frame in progress (or the preface) started: what the frame deadline measures.
    let mut frame_started: Option<Instant> = None;
    let mut writer: Option<task::JoinHandle<()>> = None;
    let mut outbox = Some(outbox);
    let mut start_writer_if_ready =
        |decoder: &Decoder, writer: &mut Option<task::JoinHandle<()>>| {
            if writer.is_none() && writer_may_start(decoder) {
                if let (Some(profile), Some(outbox)) = (decoder.profile(), outbox.take()) {
                    *writer = Some(start_writer(
                        shared,
                        peer,
                        stream.clone(),
                        outbox,
                        profile,
                        &link,
                    ));
                }
            }
        };

    let end = loop {
        // Which clock bounds this read: detection window, frame deadline, or idle timeout.
        let (wait, what) = if decoder.profile().is_none() && decoder.stream_offset() == 0 {
            let left = config.detect_window.saturating_sub(connected_at.elapsed());
            if left.is_zero() {
                // FC-27: no byte within the window: legacy.
                decoder = Decoder::server(Profile::Legacy, config.limits);
                start_writer_if_ready(&decoder, &mut writer);
                continue;
            }
            (left, "detect")
        } else if let Some(started) = frame_started {
            let left = config.frame_deadline.saturating_sub(started.elapsed());
            (left, "the frame deadline")
        } else {
            (config.idle_timeout, "the idle timeout")
        };
        let read = futures_lite::future::or(
            async { Some(async_std::io::timeout(wait, reader.read(&mut read_buf)).await) },
            async {
                let _ = link.reading_stopped.recv().await;
                None
            },
        )
        .await;
        // The server closed the connection (the writer said so): stop reading and relaying.
        let Some(read) = read else {
            break ReadEnd::Closed;
        };
        let server_closed = link.closed_by_server.load(Ordering::Acquire)
            || shared.shutting_down.load(Ordering::Acquire);
        let n = match read {
            Ok(0) if server_closed => break ReadEnd::Closed,
            Ok(0) => match decoder.finish() {
                Ok(()) => break ReadEnd::Closed,
                Err(err) => break ReadEnd::Protocol(err),
            },
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::TimedOut => {
                if what == "detect" {
                    continue;
                }
                break ReadEnd::Timeout(what);
            }
            Err(_) => break ReadEnd::Closed,
        };
        Metrics::add(&shared.metrics.bytes_in, n as u64);
        let frames_before = decoder.frames_completed();
        let offset_before = decoder.stream_offset();
        let mut input = &read_buf[..n];
        let mut failed = None;
        while !input.is_empty() {
            match decoder.decode(input) {
                Ok(decoded) => {
                    input = &input[decoded.consumed..];
                    if let Some(frame) = decoded.frame {
                        handle_frame(shared, peer, frame);
                    }
                }
                Err(err) => failed = Some(err),
            }
            // As soon as the profile is known and the preface complete, even within one read,
            // so that WELCOME precedes whatever this connection is sent, an ERROR included.
            start_writer_if_ready(&decoder, &mut writer);
            if failed.is_some() {
                break;
            }
        }
        if let Some(err) = failed {
            break ReadEnd::Protocol(err);
        }
        if n == read_buf.len() && read_buf.len() < MAX_READ_BUF {
            read_buf.resize(read_buf.len() * 2, 0);
        }
        // The deadline is per frame: a read that completed frames (or the preface) and stopped
        // inside a new one restarts the clock; one that only continued the same one keeps it.
        let preface_len = PREFACE.len() as u64;
        let completed_something = decoder.frames_completed() != frames_before
            || (decoder.profile() == Some(Profile::Typed)
                && offset_before < preface_len
                && decoder.stream_offset() >= preface_len);
        frame_started = match (decoder.is_mid_frame(), frame_started) {
            (false, _) => None,
            (true, Some(started)) if !completed_something => Some(started),
            (true, _) => Some(Instant::now()),
        };
    };

    let closing_error = match end {
        ReadEnd::Closed => None,
        ReadEnd::Protocol(err) => {
            Metrics::add(&shared.metrics.protocol_errors, 1);
            log::info!("peer {peer}: protocol error: {err}");
            Some((err.error_code(), err.to_string()))
        }
        ReadEnd::Timeout(what) => {
            Metrics::add(&shared.metrics.timeouts, 1);
            log::info!("peer {peer}: closed by {what}");
            Some((ErrorCode::TIMEOUT, format!("closed by {what}")))
        }
    };
    if let Some((code, reason)) = closing_error {
        if decoder.profile() == Some(Profile::Typed) {
            if writer.is_some() {
                // The writer sends it after what is queued, once `leave` below closes the outbox.
                if let Ok(mut farewell) = link.farewell.lock() {
                    *farewell = Some((code, reason));
                }
            } else {
                // No writer: the error is inside the preface, and this task is the only writer.
                write_error_directly(&mut stream.clone(), code, &reason, config).await;
            }
        }
    }
    shared.hub.leave(peer);
    if let Some(writer) = writer {
        writer.await;
    }
    linger_and_close(stream, config).await;
}

/// The writer starts once the profile is known and, for typed, the preface is complete, so a
/// client with a bad preface never gets a WELCOME.
fn writer_may_start(decoder: &Decoder) -> bool {
    let bad_preface = matches!(
        decoder.error(),
        Some(DecodeError {
            kind: crate::DecodeErrorKind::BadPreface { .. },
            ..
        })
    );
    match decoder.profile() {
        Some(Profile::Legacy) => true,
        Some(Profile::Typed) => decoder.stream_offset() >= PREFACE.len() as u64 && !bad_preface,
        None => false,
    }
}

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

fn start_writer(
    shared: &Arc<Shared>,
    peer: PeerId,
    stream: TcpStream,
    outbox: std::sync::Arc<Outbox<Outgoing>>,
    profile: Profile,
    link: &Arc<Link>,
) -> task::JoinHandle<()> {
    if let Ok(mut sockets) = shared.sockets.lock() {
        if let Some(entry) = sockets.get_mut(&peer) {
            entry.1 = true;
        }
    }
    let (shared, link) = (shared.clone(), link.clone());
    task::spawn(async move { write_loop(&shared, peer, stream, &outbox, profile, &link).await })
}

async fn write_loop(
    shared: &Shared,
    peer: PeerId,
    mut stream: TcpStream,
    outbox: &Outbox<Outgoing>,
    profile: Profile,
    link: &Link,
) {
    let config = &shared.config;
    let mut writer = PeerWriter {
        encoder: Encoder::server(profile, config.limits),
        out: Vec::with_capacity(MIN_OUT),
        scratch: String::new(),
        frames: 0,
    };
    let mut batch = Vec::new();
    if profile == Profile::Typed {
        writer.put(Frame::Welcome {
            peer_id: peer,
            max_frame_len: config.limits.max_frame_len(),
        });
    }
    let mut write_failed = false;
    let reason = loop {
        if let Err(err) = writer.flush(shared, &mut stream).await {
            log::info!("peer {peer}: write failed: {err}");
            write_failed = true;
            // A peer that stopped reading may meanwhile have been closed as a slow consumer.
            break outbox.close_reason();
        }
        let drained = poll_fn(|cx| outbox.poll_drain(cx, &mut batch)).await;
        for message in batch.drain(..) {
            writer.put_outgoing(&message);
        }
        if let Drain::Closed(reason) = drained {
            break Some(reason);
        }
    };
    // The last frame, after everything queued: why the connection closes.
    let farewell = match reason {
        Some(CloseReason::SlowConsumer) => {
            log::warn!("peer {peer}: slow consumer, its queue is full: closing it");
            Some((
                ErrorCode::SLOW_CONSUMER,
                "your queue was full: read faster".to_string(),
            ))
        }
        Some(CloseReason::Shutdown) => Some((
            ErrorCode::GOING_AWAY,
            "the server is shutting down".to_string(),
        )),
        // The reader left: with its error, if it had one.
        Some(_) => link.farewell.lock().ok().and_then(|mut f| f.take()),
        None => None,
    };
    let reader_left = matches!(reason, Some(CloseReason::Left));
    if !write_failed {
        if let (Some((code, reason)), Profile::Typed) = (&farewell, profile) {
            writer.put(Frame::Error {
                code: *code,
                reason,
            });
        }
        let _ = writer.flush(shared, &mut stream).await;
    }
    // Our end of stream, after the last frame. The read side stays open: closing it while the
    // peer still sends would make the kernel reset the connection and destroy what the peer has
    // not read yet, the ERROR included. The reader's task lingers, then closes the socket.
    let _ = stream.shutdown(Shutdown::Write);
    if !reader_left {
        // The server closes while the reader still runs: tell it the end is ours, and stop it.
        link.closed_by_server.store(true, Ordering::Release);
        link.stop_reading.close();
    }
}

/// Writes one typed ERROR on a connection that has no writer task (a refused connection, an error
/// inside the preface): this task is then the socket's only writer.
async fn write_error_directly(
    stream: &mut TcpStream,
    code: ErrorCode,
    reason: &str,
    config: &ServerConfig,
) {
    let mut out = Vec::new();
    let frame = Frame::Error { code, reason };
    if Encoder::server(Profile::Typed, config.limits)
        .encode(frame, &mut out)
        .is_ok()
    {
        let _ = write_all_within(stream, &out, config.write_timeout).await;
    }
}

/// Closes a connection whose reader is done. Closing a socket with unread input makes the kernel
/// send a reset, which can destroy the last frames (an ERROR) before the peer reads them: so send
/// our end of stream first, and read and discard what the peer still sends, bounded in bytes and
/// time, before closing.
async fn linger_and_close(mut stream: TcpStream, config: &ServerConfig) {
    const LINGER: Duration = Duration::from_millis(500);
    const LINGER_BYTES: usize = 256 * 1024;
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

/// Writes all of `bytes`, giving up when one write call makes no progress for `limit` (a peer
/// that reads slowly but steadily is not cut off by the size of a batch).
async fn write_all_within(
    stream: &mut TcpStream,
    mut bytes: &[u8],
    limit: Duration,
) -> io::Result<()> {
    while !bytes.is_empty() {
        let n = async_std::io::timeout(limit, stream.write(bytes)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
    }
    Ok(())
}

/// The writer's encoding state: one output buffer shared by every frame of a batch.
struct PeerWriter {
    encoder: Encoder,
    out: Vec<u8>,
    /// Reused for the legacy `echo: `/`peer: ` texts, so they cost no allocation.
    scratch: String,
    frames: u64,
}

impl PeerWriter {
    /// Writes the batch with one call where the socket takes it; counts only what was written.
    async fn flush(&mut self, shared: &Shared, stream: &mut TcpStream) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let written = write_all_within(stream, &self.out, shared.config.write_timeout).await;
        if let Err(err) = &written {
            if err.kind() == io::ErrorKind::TimedOut {
                Metrics::add(&shared.metrics.write_timeouts, 1);
            }
            return written;
        }
        Metrics::add(&shared.metrics.bytes_out, self.out.len() as u64);
        Metrics::add(&shared.metrics.deliveries, self.frames);
        self.out.clear();
        self.frames = 0;
        if self.out.capacity() > MAX_RETAINED_OUT {
            // A burst grew the buffer: give the memory back instead of keeping it per peer.
            self.out = Vec::with_capacity(MIN_OUT);
        }
        Ok(())
    }

    fn put(&mut self, frame: Frame<&str>) {
        match self.encoder.encode(frame, &mut self.out) {
            Ok(_) => self.frames += 1,
            // The hub only carries texts the decoder bounded by the relay headroom (FC-15), so
            // this is a bug, not a peer's fault: log it and drop the frame.
            Err(err) => log::error!("could not encode an outgoing frame: {err}"),
        }
    }

    fn put_outgoing(&mut self, message: &Outgoing) {
        let profile = self.encoder.profile();
        match (message, profile) {
            (Outgoing::Echo { text, .. }, Profile::Legacy) => self.put_legacy("echo: ", text),
            (Outgoing::Broadcast { text, .. }, Profile::Legacy) => self.put_legacy("peer: ", text),
            // Legacy has no PONG (§3.1).
            (Outgoing::Pong { .. }, Profile::Legacy) => {}
            (
                Outgoing::Echo {
                    sent_at,
                    relayed_at,
                    text,
                },
                Profile::Typed,
            ) => self.put(Frame::Echo {
                sent_at: *sent_at,
                relayed_at: *relayed_at,
                text,
            }),
            (
                Outgoing::Broadcast {
                    from,
                    sent_at,
                    relayed_at,
                    text,
                },
                Profile::Typed,
            ) => self.put(Frame::Broadcast {
                from: *from,
                sent_at: *sent_at,
                relayed_at: *relayed_at,
                text,
            }),
            (Outgoing::Pong { nonce }, Profile::Typed) => self.put(Frame::Pong { nonce: *nonce }),
        }
    }

    fn put_legacy(&mut self, prefix: &str, text: &str) {
        let mut scratch = core::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.push_str(prefix);
        scratch.push_str(text);
        self.put(Frame::Text(&scratch));
        self.scratch = scratch;
    }
}
