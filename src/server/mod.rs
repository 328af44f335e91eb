//! The async-std chat server: a thin shell that moves bytes between sockets, the codec and the hub.
//!
//! ```text
//! socket → reader task: Connection (Decoder) → Hub::relay → per-peer Outbox → writer task: Encoder → socket
//! ```
//!
//! Each connection has two tasks. The reader owns the socket's read side and a sans-IO
//! `Connection`, the lifecycle of §8 (which clock bounds a read, when the profile is decided, when
//! the writer may start, which ERROR closes); it relays each message through the
//! [`Hub`] and never writes while the writer runs. The writer owns the write side
//! and the [`Encoder`](crate::Encoder); it drains its peer's whole outbox into one buffer and writes it with
//! one call (write coalescing), so frames never interleave. The hub's queues hold profile-neutral
//! messages, so what is queued before a connection's profile is known is encoded in that profile
//! once it is (FC-27).
//!
//! | module | its one job |
//! |--------|-------------|
//! | `config` | [`ServerConfig`], its defaults, [`ServerConfigError`] |
//! | `auth` | [`TokenSet`], [`AuthConfig`], [`LegacyPolicy`]: who may join (§8.9) |
//! | `connection` | the sans-IO lifecycle of one connection |
//! | `reader` | the reader task that drives it and relays |
//! | `writer` | the writer task: encoding, coalescing, the farewell ERROR |
//! | `close` | linger-and-close, refusing at the limit, shutdown |
//! | `metrics`, `http` | [`Snapshot`], its JSON line and Prometheus text, the HTTP endpoint |
//! | `backoff` | waiting, and logging sparingly, while accepts fail (out of file descriptors) |
//! | `tls` | (feature `tls`) [`TlsConfig`], its certificate, the handshake under its deadline |
//! | this one | [`Server`], [`ServerHandle`], the accept loop and admission |
//!
//! ```no_run
//! use framechat::server::{Server, ServerConfig};
//!
//! async_std::task::block_on(async {
//!     let server = Server::bind(ServerConfig::default()).await?;
//!     println!("listening on {}", server.local_addr());
//!     let final_metrics = server.run().await?;
//!     println!("{}", final_metrics.to_final_json_line());
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod backoff;
#[cfg(feature = "cluster")]
mod bus;
mod close;
mod config;
mod connection;
mod error;
mod http;
mod link;
mod metrics;
mod outgoing;
mod reader;
#[cfg(feature = "tls")]
mod tls;
mod writer;

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_std::net::{Shutdown, TcpListener, TcpStream};
use async_std::task;
use futures_io::{AsyncRead, AsyncWrite};

pub use auth::{AuthConfig, LegacyPolicy, TokenFileError, TokenSet};
#[cfg(feature = "cluster")]
pub use bus::{BusEvent, BusStats};
pub use config::{ServerConfig, ServerConfigError};
pub use error::BindError;
pub use metrics::Snapshot;
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsIdentity, TlsIdentityError};

use crate::hub::{Hub, JoinError, PeerId};
use metrics::Metrics;
use outgoing::{Outgoing, PeerOutbox};

/// Locks `mutex`, recovering the guard if a task panicked while holding it: the server's critical
/// sections (a map insert or remove, an `Option` swap, a histogram record) leave their state
/// consistent at every point, as the hub's do, so one panicking task does not take others down.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a connection's reader reads from: a TCP socket, or the read half of TLS over one.
trait ReadHalf: AsyncRead + Unpin + Send + 'static {}
impl<T: AsyncRead + Unpin + Send + 'static> ReadHalf for T {}

/// What a connection's writer writes to: a clone of its TCP socket, or the write half of TLS.
trait WriteHalf: AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncWrite + Unpin + Send + 'static> WriteHalf for T {}

/// How an accepted TCP connection carries framechat's bytes.
#[derive(Clone)]
enum Transport {
    /// Directly: the reader and the writer each own a clone of the socket, with no lock between.
    Tcp,
    /// Inside TLS, once the handshake is done under its deadline (§10).
    #[cfg(feature = "tls")]
    Tls(tls::Handshaker),
}

/// State shared by the accept loop, the connection tasks and the handles.
struct Shared {
    config: ServerConfig,
    /// Shared with the bus thread, which broadcasts what other nodes relay.
    hub: Arc<Hub<Outgoing>>,
    /// The cluster bus, when the server is a node of one (§11).
    #[cfg(feature = "cluster")]
    bus: Option<bus::Bus>,
    metrics: Metrics,
    shutting_down: AtomicBool,
    /// Open connections' sockets, to close those still open when the shutdown's grace runs out.
    sockets: Mutex<BTreeMap<PeerId, TcpStream>>,
    /// Closed when the shutdown begins, which every receiver hears at once: a connection whose
    /// writer has not started learns it here (FC-33), as the others do from their outbox.
    shutdown_signal: async_std::channel::Sender<()>,
    shutdown_heard: async_std::channel::Receiver<()>,
    /// Connection tasks still running.
    active: AtomicU64,
    /// Connections past the limit still being refused (FC-31): each costs a detection window and,
    /// for TLS, a handshake, so only [`REFUSALS_IN_FLIGHT`] run at once (§8.7).
    refusing: AtomicU64,
}

/// How many connections past the limit may be refused with an ERROR at once; beyond them a
/// connection is closed at its accept, without a frame (§8.7).
const REFUSALS_IN_FLIGHT: u64 = 64;

impl Shared {
    /// The metrics now; slow consumers as the hub counts them (every overflow, whichever message
    /// caused it and whether or not the peer's writer ever ran).
    fn snapshot(&self) -> Snapshot {
        let mut snapshot = self.metrics.snapshot();
        snapshot.slow_consumers = self.hub.stats().slow_consumers;
        #[cfg(feature = "cluster")]
        {
            snapshot.bus = self.bus.as_ref().map(bus::Bus::stats);
        }
        snapshot
    }
}

/// A bound server, ready to [`run`](Server::run).
///
/// ```
/// use std::net::SocketAddr;
/// use framechat::server::{Server, ServerConfig};
///
/// async_std::task::block_on(async {
///     let config = ServerConfig {
///         addr: SocketAddr::from(([127, 0, 0, 1], 0)),
///         metrics_interval: None,
///         ..ServerConfig::default()
///     };
///     let server = Server::bind(config).await?;
///     let handle = server.handle();
///     let running = async_std::task::spawn(server.run());
///     handle.shutdown();
///     let final_metrics = running.await?;
///     assert_eq!(final_metrics.connections_total, 0);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    #[cfg(feature = "tls")]
    tls_listener: Option<(TcpListener, tls::Handshaker)>,
    tls_addr: Option<SocketAddr>,
    metrics_listener: Option<TcpListener>,
    shared: Arc<Shared>,
    stop: async_std::channel::Receiver<()>,
    stop_sender: async_std::channel::Sender<()>,
}

/// Controls a running server from elsewhere: metrics and shutdown. Cheap to clone.
///
/// ```
/// use std::net::SocketAddr;
/// use framechat::server::{Server, ServerConfig};
///
/// async_std::task::block_on(async {
///     let config = ServerConfig {
///         addr: SocketAddr::from(([127, 0, 0, 1], 0)),
///         metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
///         metrics_interval: None,
///         ..ServerConfig::default()
///     };
///     let server = Server::bind(config).await?;
///     let handle = server.handle();
///     assert_eq!(handle.local_addr(), server.local_addr());
///     assert!(handle.metrics_addr().is_some());
///     assert_eq!(handle.metrics().messages_total, 0);
///     let running = async_std::task::spawn(server.run());
///     handle.shutdown();
///     running.await?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    stop: async_std::channel::Sender<()>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the TLS listener, if one was configured (feature `tls`).
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The address of the Prometheus endpoint, if one was configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The metrics now.
    pub fn metrics(&self) -> Snapshot {
        self.shared.snapshot()
    }

    /// This node's run in its cluster (§11.2): its id and epoch; `None` for a server on its own.
    #[cfg(feature = "cluster")]
    pub fn cluster_origin(&self) -> Option<crate::cluster::Origin> {
        self.shared.bus.as_ref().map(bus::Bus::origin)
    }

    /// The bus's connection changes as they happen, for a server in a cluster: each event goes to
    /// one receiver, and past 64 unread events new ones are dropped. `None` for a server on its own.
    #[cfg(feature = "cluster")]
    pub fn bus_events(&self) -> Option<async_std::channel::Receiver<BusEvent>> {
        self.shared.bus.as_ref().map(bus::Bus::events)
    }

    /// Starts a graceful shutdown (FC-33); [`Server::run`] returns when it is done, the cluster's
    /// bus (if any) stopped too.
    pub fn shutdown(&self) {
        let _ = self.stop.try_send(());
    }
}

impl Server {
    /// Validates the configuration ([`ServerConfig::validate`]), then binds the listening socket
    /// and the metrics endpoint, if one is configured. Each failure says which it was, with the
    /// address.
    pub async fn bind(config: ServerConfig) -> Result<Server, BindError> {
        config.validate().map_err(BindError::Config)?;
        let listen_error = |addr| move |source| BindError::Listen { addr, source };
        let listener =
            listen(config.addr, config.listen_backlog).map_err(listen_error(config.addr))?;
        let local_addr = listener.local_addr().map_err(listen_error(config.addr))?;
        #[cfg(feature = "tls")]
        let tls_listener = match &config.tls {
            Some(tls) => Some(tls::bind(tls, config.listen_backlog)?),
            None => None,
        };
        #[cfg(feature = "tls")]
        let tls_addr = tls_listener
            .as_ref()
            .map(|(_, handshaker)| handshaker.local_addr());
        #[cfg(not(feature = "tls"))]
        let tls_addr = None;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(
                listen(addr, config.listen_backlog)
                    .map_err(|source| BindError::MetricsListen { addr, source })?,
            ),
            None => None,
        };
        let (stop_sender, stop) = async_std::channel::bounded(1);
        let (shutdown_signal, shutdown_heard) = async_std::channel::bounded(1);
        #[cfg(feature = "cluster")]
        let (hub, bus) = match &config.cluster {
            Some(cluster) => {
                let origin = bus::origin_for(cluster);
                // FC-41: this node's peer ids carry the high 32 bits of its id.
                let tag = (origin.node >> 32) as u32;
                let hub = Arc::new(Hub::new(config.hub.with_peer_id_tag(tag)));
                let bus = bus::Bus::start(cluster, origin, config.limits, hub.clone())
                    .map_err(BindError::Bus)?;
                (hub, Some(bus))
            }
            None => (Arc::new(Hub::new(config.hub)), None),
        };
        #[cfg(not(feature = "cluster"))]
        let hub = Arc::new(Hub::new(config.hub));
        let shared = Arc::new(Shared {
            hub,
            #[cfg(feature = "cluster")]
            bus,
            config,
            metrics: Metrics::new(),
            shutting_down: AtomicBool::new(false),
            sockets: Mutex::new(BTreeMap::new()),
            shutdown_signal,
            shutdown_heard,
            active: AtomicU64::new(0),
            refusing: AtomicU64::new(0),
        });
        Ok(Server {
            listener,
            local_addr,
            #[cfg(feature = "tls")]
            tls_listener,
            tls_addr,
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

    /// The address of the TLS listener (useful after binding port 0), if one was configured
    /// (feature `tls`).
    ///
    /// ```
    /// # #[cfg(feature = "tls")] {
    /// use std::net::SocketAddr;
    /// use framechat::server::{Server, ServerConfig, TlsConfig, TlsIdentity};
    ///
    /// let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let identity = TlsIdentity::from_pem(
    ///     generated.cert.pem().as_bytes(),
    ///     generated.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    /// let config = ServerConfig {
    ///     addr: loopback,
    ///     tls: Some(TlsConfig { addr: loopback, ..TlsConfig::new(identity) }),
    ///     ..ServerConfig::default()
    /// };
    /// let server = async_std::task::block_on(Server::bind(config))?;
    /// let tls_addr = server.tls_addr().expect("a TLS listener was configured");
    /// assert_ne!(tls_addr.port(), 0);
    /// assert_eq!(server.handle().tls_addr(), Some(tls_addr));
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// A handle for metrics and shutdown.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
            local_addr: self.local_addr,
            tls_addr: self.tls_addr,
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
        let printer = shared
            .config
            .metrics_interval
            .map(|interval| task::spawn(print_metrics(shared.clone(), interval)));
        let metrics_endpoint = match self.metrics_listener {
            Some(listener) => {
                log::info!("metrics on http://{}/metrics", listener.local_addr()?);
                Some(task::spawn(http::serve_metrics(shared.clone(), listener)))
            }
            None => None,
        };
        log::info!("listening on {}", self.local_addr);
        let plain = accept_forever(&shared, &self.listener, Transport::Tcp);
        #[cfg(feature = "tls")]
        let tls = async {
            match &self.tls_listener {
                Some((listener, handshaker)) => {
                    log::info!("listening for TLS on {}", handshaker.local_addr());
                    let transport = Transport::Tls(handshaker.clone());
                    accept_forever(&shared, listener, transport).await
                }
                None => std::future::pending().await,
            }
        };
        #[cfg(not(feature = "tls"))]
        let tls = std::future::pending::<()>();
        let stopped = async {
            let _ = self.stop.recv().await;
        };
        futures_lite::future::or(stopped, futures_lite::future::or(plain, tls)).await;
        drop(self.listener);
        #[cfg(feature = "tls")]
        drop(self.tls_listener);
        let snapshot = close::shutdown(&shared).await;
        // The bus goes last: what the last readers relayed is still published, within the grace.
        #[cfg(feature = "cluster")]
        let snapshot = match &shared.bus {
            Some(bus) => {
                bus.stop(shared.config.shutdown_grace).await;
                shared.snapshot()
            }
            None => snapshot,
        };
        // The endpoint releases its port when it ends. The printer is not awaited (it may be
        // asleep for a whole interval): it checks the flag after waking and prints nothing more.
        if let Some(endpoint) = metrics_endpoint {
            endpoint.await;
        }
        drop(printer);
        Ok(snapshot)
    }
}

/// Binds a listener on `addr` with a listen queue of `backlog` connections (the kernel caps it at
/// `net.core.somaxconn`), as `TcpListener::bind` does with its fixed 128 otherwise:
/// `SO_REUSEADDR` on Unix, so a restarted server can bind while old connections sit in TIME_WAIT.
pub(super) fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(TcpListener::from(std::net::TcpListener::from(socket)))
}

/// Prints the metrics line every `interval` until the server shuts down, unless it would repeat
/// the last line printed (an idle server).
async fn print_metrics(shared: Arc<Shared>, interval: Duration) {
    let mut periodic = metrics::PeriodicLine::new(shared.snapshot());
    loop {
        task::sleep(interval).await;
        if shared.shutting_down.load(Ordering::Acquire) {
            break;
        }
        if let Some(line) = periodic.next(shared.snapshot()) {
            // A closed stdout (`serve | head`) must not stop the server: drop the line.
            let _ = writeln!(io::stdout(), "{line}");
        }
    }
}

/// An accept loop: admits each connection, until the caller stops polling it (a stop was asked
/// for). It never waits on a connection: each is served, TLS handshake included, in its own task.
async fn accept_forever(shared: &Arc<Shared>, listener: &TcpListener, transport: Transport) {
    let name = match transport {
        Transport::Tcp => "chat listener",
        #[cfg(feature = "tls")]
        Transport::Tls(_) => "TLS listener",
    };
    let mut backoff = backoff::AcceptBackoff::new(name);
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                backoff.on_success();
                admit(shared, stream, addr, &transport);
            }
            Err(err) => task::sleep(backoff.on_failure(&err, Instant::now())).await,
        }
    }
}

/// Puts an accepted connection in the room (FC-26) and serves it, or refuses it at the
/// connection limit (FC-31). A TLS connection takes its place (and counts as active) from its
/// TCP accept, so handshakes in flight are bounded by the connection limit like connections.
fn admit(shared: &Arc<Shared>, stream: TcpStream, addr: SocketAddr, transport: &Transport) {
    let _ = stream.set_nodelay(true);
    match shared.hub.join() {
        Ok((peer, outbox)) => {
            Metrics::add(&shared.metrics.connections_total, 1);
            Metrics::add(&shared.metrics.connections_open, 1);
            shared.active.fetch_add(1, Ordering::AcqRel);
            lock(&shared.sockets).insert(peer, stream.clone());
            log::info!("peer {peer} connected from {addr}");
            let transport = transport.clone();
            task::spawn(serve_admitted(
                shared.clone(),
                stream,
                transport,
                peer,
                addr,
                outbox,
            ));
        }
        Err(JoinError::Full { max_peers }) => {
            Metrics::add(&shared.metrics.connections_refused, 1);
            if shared.refusing.fetch_add(1, Ordering::AcqRel) >= REFUSALS_IN_FLIGHT {
                // A flood past the limit: closing at once keeps its cost at an accept (§8.7).
                shared.refusing.fetch_sub(1, Ordering::AcqRel);
                log::debug!("closing {addr} at once: {REFUSALS_IN_FLIGHT} refusals in flight");
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            log::warn!("refusing {addr}: at the connection limit of {max_peers}");
            // Counted as active, so a shutdown waits for it like for any connection.
            shared.active.fetch_add(1, Ordering::AcqRel);
            let (shared, transport) = (shared.clone(), transport.clone());
            task::spawn(async move {
                match transport {
                    Transport::Tcp => {
                        close::refuse(&shared, stream.clone(), stream.clone(), stream).await
                    }
                    #[cfg(feature = "tls")]
                    Transport::Tls(handshaker) => {
                        if let Some((read, write)) =
                            handshaker.handshake(&shared, &stream, addr).await
                        {
                            close::refuse(&shared, read, write, stream).await;
                        } else {
                            close::linger_and_close(stream, &shared.config).await;
                        }
                    }
                }
                shared.refusing.fetch_sub(1, Ordering::AcqRel);
                shared.active.fetch_sub(1, Ordering::AcqRel);
            });
        }
        Err(JoinError::PeerIdsExhausted) => {
            log::error!("refusing {addr}: this node has handed out every peer id of its range");
            let _ = stream.shutdown(Shutdown::Both);
        }
        Err(_) => {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Serves an admitted connection, then takes it off the books.
async fn serve_admitted(
    shared: Arc<Shared>,
    stream: TcpStream,
    transport: Transport,
    peer: PeerId,
    addr: SocketAddr,
    outbox: PeerOutbox,
) {
    match transport {
        Transport::Tcp => {
            let (read, write) = (stream.clone(), stream.clone());
            reader::serve_connection(&shared, read, write, stream, peer, addr, outbox).await;
        }
        #[cfg(feature = "tls")]
        // Boxed: the handshake's state would otherwise enlarge every connection's task, plain or
        // TLS, for its whole life.
        Transport::Tls(handshaker) => match Box::pin(handshaker.handshake(&shared, &stream, addr))
            .await
        {
            Some((read, write)) => {
                reader::serve_connection(&shared, read, write, stream, peer, addr, outbox).await;
            }
            None => {
                // Never served: it leaves the room, and what was queued for it is dropped.
                shared.hub.leave(peer);
                // Boxed, as the reader's: only a closing connection holds the linger's buffer.
                Box::pin(close::linger_and_close(stream, &shared.config)).await;
            }
        },
    }
    lock(&shared.sockets).remove(&peer);
    shared
        .metrics
        .connections_open
        .fetch_sub(1, Ordering::Relaxed);
    shared.active.fetch_sub(1, Ordering::AcqRel);
}
