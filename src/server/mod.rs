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
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_std::io::prelude::{ReadExt, WriteExt};
use async_std::net::{Shutdown, TcpListener, TcpStream};
use async_std::task;

use crate::hub::{CloseReason, Drain, Hub, HubConfig, JoinError, Outbox, PeerId, Weight};
use crate::wire::PREFACE;
use crate::{DecodeError, Decoder, Encoder, ErrorCode, Frame, Limits, Profile, UnixMicros};
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
    /// The last frame before a close (typed only).
    Error { code: ErrorCode, reason: Arc<str> },
}

impl Weight for Outgoing {
    fn weight(&self) -> usize {
        // The fixed part approximates the frame header and fields of the typed encoding.
        const FIXED: usize = 32;
        match self {
            Outgoing::Echo { text, .. } | Outgoing::Broadcast { text, .. } => FIXED + text.len(),
            Outgoing::Error { reason, .. } => FIXED + reason.len(),
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
        self.shared.metrics.snapshot()
    }

    /// Starts a graceful shutdown (FC-33); [`Server::run`] returns when it is done.
    pub fn shutdown(&self) {
        let _ = self.stop.try_send(());
    }
}

impl Server {
    /// Binds the listening socket.
    pub async fn bind(config: ServerConfig) -> io::Result<Server> {
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
    /// and returns the final metrics.
    pub async fn run(self) -> io::Result<Snapshot> {
        let shared = self.shared.clone();
        if let Some(interval) = shared.config.metrics_interval {
            let shared = shared.clone();
            task::spawn(async move {
                let mut previous = shared.metrics.snapshot();
                while !shared.shutting_down.load(Ordering::Acquire) {
                    task::sleep(interval).await;
                    let now = shared.metrics.snapshot();
                    println!("{}", now.to_json_line(Some(&previous)));
                    previous = now;
                }
            });
        }
        if let Some(listener) = self.metrics_listener {
            log::info!("metrics on http://{}/metrics", listener.local_addr()?);
            task::spawn(serve_metrics(shared.clone(), listener));
        }
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
                    task::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        drop(self.listener);
        Ok(shutdown(&shared).await)
    }
}

/// A minimal HTTP/1.0 responder: every request gets the Prometheus text of the metrics now.
async fn serve_metrics(shared: Arc<Shared>, listener: TcpListener) {
    while !shared.shutting_down.load(Ordering::Acquire) {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        task::spawn(async move {
            // Read the request head (bounded in size and time); its content does not matter.
            let mut head = Vec::new();
            let mut chunk = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                match async_std::io::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await
                {
                    Ok(n) if n > 0 => head.extend_from_slice(&chunk[..n]),
                    _ => return,
                }
            }
            let body = shared.metrics.snapshot().to_prometheus();
            let response = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
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
    let deadline = Instant::now() + shared.config.shutdown_grace;
    while shared.active.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        task::sleep(Duration::from_millis(5)).await;
    }
    close_sockets(shared, |_| true);
    let snapshot = shared.metrics.snapshot();
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
            let shared = shared.clone();
            task::spawn(async move { refuse(&shared, stream).await });
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
        let mut out = Vec::new();
        let reason = "the server is at its connection limit";
        let frame = Frame::Error {
            code: ErrorCode::SERVER_FULL,
            reason,
        };
        if Encoder::server(Profile::Typed, shared.config.limits)
            .encode(frame, &mut out)
            .is_ok()
        {
            let _ =
                async_std::io::timeout(shared.config.write_timeout, stream.write_all(&out)).await;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Why a connection's reader stopped.
enum ReadEnd {
    /// The peer closed between frames, or an I/O error.
    Closed,
    /// A decoding error (FC-30).
    Protocol(DecodeError),
    /// The idle timeout or frame deadline (FC-32).
    Timeout(&'static str),
}

async fn serve_connection(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: PeerId,
    outbox: crate::sync::Arc<Outbox<Outgoing>>,
) {
    let config = &shared.config;
    let mut reader = stream.clone();
    let mut decoder = Decoder::server_detect(config.limits);
    // Starts small (most connections are chatty with short messages) and doubles whenever a read
    // fills it, so a connection costs 4 KiB until it streams.
    let mut read_buf = vec![0u8; MIN_READ_BUF];
    let connected_at = Instant::now();
    let mut frame_started: Option<Instant> = None;
    let mut writer: Option<task::JoinHandle<()>> = None;
    let mut outbox = Some(outbox);

    let end = 'read: loop {
        let profile = decoder.profile();
        if writer.is_none() && writer_may_start(&decoder) {
            if let (Some(profile), Some(outbox)) = (profile, outbox.take()) {
                writer = Some(start_writer(shared, peer, stream.clone(), outbox, profile));
            }
        }
        // Which clock bounds this read: detection window, frame deadline, or idle timeout.
        let (wait, what) = if profile.is_none() && decoder.stream_offset() == 0 {
            let left = config.detect_window.saturating_sub(connected_at.elapsed());
            if left.is_zero() {
                // FC-27: no byte within the window: legacy.
                decoder = Decoder::server(Profile::Legacy, config.limits);
                continue;
            }
            (left, "detect")
        } else if let Some(started) = frame_started {
            let left = config.frame_deadline.saturating_sub(started.elapsed());
            (left, "the frame deadline")
        } else {
            (config.idle_timeout, "the idle timeout")
        };
        let read = async_std::io::timeout(wait, reader.read(&mut read_buf)).await;
        let n = match read {
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
        let filled = n == read_buf.len();
        let mut input = &read_buf[..n];
        while !input.is_empty() {
            match decoder.decode(input) {
                Ok(decoded) => {
                    input = &input[decoded.consumed..];
                    if let Some(frame) = decoded.frame {
                        handle_frame(shared, peer, frame);
                    }
                }
                Err(err) => break 'read ReadEnd::Protocol(err),
            }
        }
        if filled && read_buf.len() < MAX_READ_BUF {
            read_buf.resize(read_buf.len() * 2, 0);
        }
        frame_started = if decoder.is_mid_frame() {
            Some(frame_started.unwrap_or_else(Instant::now))
        } else {
            None
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
            match writer {
                // The writer sends it after what is queued, then closes (FC-30).
                Some(_) => {
                    shared.hub.send(
                        peer,
                        Outgoing::Error {
                            code,
                            reason: reason.into(),
                        },
                    );
                }
                // No writer yet (an error inside the preface): this task is the only writer.
                None => {
                    let mut out = Vec::new();
                    let frame = Frame::Error {
                        code,
                        reason: reason.as_str(),
                    };
                    if Encoder::server(Profile::Typed, config.limits)
                        .encode(frame, &mut out)
                        .is_ok()
                    {
                        let mut stream = stream.clone();
                        let _ =
                            async_std::io::timeout(config.write_timeout, stream.write_all(&out))
                                .await;
                    }
                }
            }
        }
    }
    shared.hub.leave(peer);
    match writer {
        Some(writer) => writer.await,
        None => {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// The writer starts once the profile is known and, for typed, the preface is complete, so a
/// client with a bad preface never gets a WELCOME.
fn writer_may_start(decoder: &Decoder) -> bool {
    match decoder.profile() {
        Some(Profile::Legacy) => true,
        Some(Profile::Typed) => decoder.stream_offset() >= PREFACE.len() as u64,
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
    let relayed = shared.hub.relay(
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
    if relayed.slow_consumers > 0 {
        Metrics::add(
            &shared.metrics.slow_consumers,
            relayed.slow_consumers as u64,
        );
        log::warn!(
            "{} slow consumer(s) disconnected while relaying peer {peer}'s message",
            relayed.slow_consumers
        );
    }
    shared.metrics.record_message(started.elapsed());
}

fn start_writer(
    shared: &Arc<Shared>,
    peer: PeerId,
    stream: TcpStream,
    outbox: crate::sync::Arc<Outbox<Outgoing>>,
    profile: Profile,
) -> task::JoinHandle<()> {
    if let Ok(mut sockets) = shared.sockets.lock() {
        if let Some(entry) = sockets.get_mut(&peer) {
            entry.1 = true;
        }
    }
    let shared = shared.clone();
    task::spawn(async move { write_loop(&shared, peer, stream, &outbox, profile).await })
}

async fn write_loop(
    shared: &Shared,
    peer: PeerId,
    mut stream: TcpStream,
    outbox: &Outbox<Outgoing>,
    profile: Profile,
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
    loop {
        if !writer.out.is_empty() {
            let written =
                async_std::io::timeout(config.write_timeout, stream.write_all(&writer.out)).await;
            if let Err(err) = written {
                log::info!("peer {peer}: write failed: {err}");
                break;
            }
            Metrics::add(&shared.metrics.bytes_out, writer.out.len() as u64);
            Metrics::add(&shared.metrics.deliveries, writer.frames);
            writer.out.clear();
            writer.frames = 0;
            if writer.out.capacity() > MAX_RETAINED_OUT {
                // A burst grew the buffer: give the memory back instead of keeping it per peer.
                writer.out = Vec::with_capacity(MIN_OUT);
            }
        }
        let drained = poll_fn(|cx| outbox.poll_drain(cx, &mut batch)).await;
        for message in batch.drain(..) {
            writer.put_outgoing(&message);
        }
        if let Drain::Closed(reason) = drained {
            let farewell = match reason {
                CloseReason::SlowConsumer => {
                    Some((ErrorCode::SLOW_CONSUMER, "your queue was full: read faster"))
                }
                CloseReason::Shutdown => {
                    Some((ErrorCode::GOING_AWAY, "the server is shutting down"))
                }
                _ => None,
            };
            if let (Some((code, reason)), Profile::Typed) = (farewell, profile) {
                writer.put(Frame::Error { code, reason });
            }
            if !writer.out.is_empty() {
                let _ = async_std::io::timeout(config.write_timeout, stream.write_all(&writer.out))
                    .await;
                Metrics::add(&shared.metrics.bytes_out, writer.out.len() as u64);
                Metrics::add(&shared.metrics.deliveries, writer.frames);
            }
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
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
            // Legacy has neither PONG nor ERROR (§3.1).
            (Outgoing::Pong { .. } | Outgoing::Error { .. }, Profile::Legacy) => {}
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
            (Outgoing::Error { code, reason }, Profile::Typed) => self.put(Frame::Error {
                code: *code,
                reason,
            }),
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
