//! What a server is configured with, its one set of defaults, and what it refuses.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::auth::AuthConfig;
use super::outgoing::Outgoing;
use crate::hub::HubConfig;
use crate::Limits;

/// Everything a server is configured with; each field is a `framechat serve` flag.
///
/// [`Default`] holds the one set of defaults, which are the seed's where the seed has one.
/// [`Server::bind`](super::Server::bind) refuses a configuration that
/// [`validate`](ServerConfig::validate) refuses.
///
/// ```
/// use std::time::Duration;
/// use framechat::server::ServerConfig;
///
/// let config = ServerConfig {
///     idle_timeout: Duration::from_secs(60),
///     metrics_interval: None,
///     ..ServerConfig::default()
/// };
/// assert_eq!(config.addr.port(), 50555);
/// assert_eq!(config.detect_window, Duration::from_millis(200));
/// config.validate()?;
/// # Ok::<(), framechat::server::ServerConfigError>(())
/// ```
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
    /// Print the metrics line this often; `None` for never. Default 2 s, as the seed. A line that
    /// would repeat the last one printed (an idle server) is skipped.
    pub metrics_interval: Option<Duration>,
    /// Serve the Prometheus text format over HTTP here (`GET /metrics`); `None` for not at all.
    /// At most 16 requests are served at once, each head within 1 s; one past that gets `503`.
    pub metrics_addr: Option<SocketAddr>,
    /// Require typed clients to authenticate (§8.9); `None`, the default, for anyone may join.
    pub auth: Option<AuthConfig>,
    /// A TLS listener beside the plain one (§10); `None` for none. Default `None`.
    #[cfg(feature = "tls")]
    pub tls: Option<super::TlsConfig>,
    /// How many connections the kernel may hold, handshake done, until the server accepts them
    /// (`listen(2)`'s backlog), on every listener. A short queue overflows whenever the accept
    /// task is not scheduled for a few milliseconds, and each SYN dropped then costs its client a
    /// one-second retransmit. Default [`ServerConfig::system_listen_backlog`]; the kernel caps it
    /// at `net.core.somaxconn` whatever is asked.
    pub listen_backlog: u32,
    /// Join a cluster of nodes that serve one room over NATS (§11); `None`, the default, for a
    /// server on its own. Feature `cluster`.
    #[cfg(feature = "cluster")]
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl ServerConfig {
    /// Refuses a configuration that cannot work: a zero timeout, window or metrics interval, or a
    /// queue bound in bytes that cannot hold the largest message (FC-29 would then call every
    /// recipient of a large message a slow consumer).
    ///
    /// ```
    /// use std::time::Duration;
    /// use framechat::hub::HubConfig;
    /// use framechat::server::{ServerConfig, ServerConfigError};
    ///
    /// let no_window = ServerConfig { detect_window: Duration::ZERO, ..ServerConfig::default() };
    /// assert_eq!(no_window.validate(), Err(ServerConfigError::ZeroDuration { name: "detect_window" }));
    ///
    /// let tiny_queue = ServerConfig { hub: HubConfig::new(8, 8, 100)?, ..ServerConfig::default() };
    /// assert!(matches!(
    ///     tiny_queue.validate(),
    ///     Err(ServerConfigError::QueueSmallerThanMessage { max_queue_bytes: 100, .. })
    /// ));
    /// # Ok::<(), framechat::hub::HubConfigError>(())
    /// ```
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        let metrics_interval = self.metrics_interval.unwrap_or(Duration::MAX);
        for (name, duration) in [
            ("idle_timeout", self.idle_timeout),
            ("frame_deadline", self.frame_deadline),
            ("detect_window", self.detect_window),
            ("write_timeout", self.write_timeout),
            ("metrics_interval", metrics_interval),
            (
                "auth.deadline",
                self.auth
                    .as_ref()
                    .map_or(Duration::MAX, |auth| auth.deadline),
            ),
        ] {
            if duration.is_zero() {
                return Err(ServerConfigError::ZeroDuration { name });
            }
        }
        if self.listen_backlog == 0 {
            return Err(ServerConfigError::ZeroListenBacklog);
        }
        #[cfg(feature = "tls")]
        if self
            .tls
            .as_ref()
            .is_some_and(|tls| tls.handshake_timeout.is_zero())
        {
            return Err(ServerConfigError::ZeroDuration {
                name: "tls.handshake_timeout",
            });
        }
        #[cfg(feature = "cluster")]
        if let Some(cluster) = &self.cluster {
            validate_cluster(cluster, self.limits)?;
        }
        let needed = Outgoing::largest_weight(self.limits);
        let max_queue_bytes = self.hub.max_queue_bytes();
        if max_queue_bytes < needed {
            return Err(ServerConfigError::QueueSmallerThanMessage {
                max_queue_bytes,
                needed,
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
            auth: None,
            #[cfg(feature = "tls")]
            tls: None,
            listen_backlog: ServerConfig::system_listen_backlog(),
            #[cfg(feature = "cluster")]
            cluster: None,
        }
    }
}

/// The transport's settings that cannot work: no server to reach, an unreadable server address,
/// a queue that holds nothing.
#[cfg(feature = "cluster")]
fn validate_cluster(
    cluster: &crate::cluster::ClusterConfig,
    limits: Limits,
) -> Result<(), ServerConfigError> {
    if cluster.servers.is_empty() {
        return Err(ServerConfigError::NoClusterServers);
    }
    if let Some(index) = cluster
        .servers
        .iter()
        .position(|url| url.parse::<async_nats::ServerAddr>().is_err())
    {
        return Err(ServerConfigError::BadClusterServer { index });
    }
    if cluster.publish_queue == 0 {
        return Err(ServerConfigError::ZeroPublishQueue);
    }
    let needed = Outgoing::largest_weight(limits);
    if cluster.publish_queue_bytes < needed {
        return Err(ServerConfigError::PublishQueueSmallerThanMessage {
            publish_queue_bytes: cluster.publish_queue_bytes,
            needed,
        });
    }
    Ok(())
}

impl ServerConfig {
    /// Where the system's largest listen backlog cannot be read (not Linux, or no `/proc`).
    pub const FALLBACK_LISTEN_BACKLOG: u32 = 4096;

    /// The largest listen backlog the system grants (Linux: `/proc/sys/net/core/somaxconn`), or
    /// [`FALLBACK_LISTEN_BACKLOG`](Self::FALLBACK_LISTEN_BACKLOG) where it cannot be read: the
    /// default of [`listen_backlog`](Self::listen_backlog).
    ///
    /// ```
    /// use framechat::server::ServerConfig;
    ///
    /// let backlog = ServerConfig::system_listen_backlog();
    /// assert!(backlog > 0);
    /// assert_eq!(ServerConfig::default().listen_backlog, backlog);
    /// ```
    pub fn system_listen_backlog() -> u32 {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .filter(|&backlog| backlog > 0)
            .unwrap_or(Self::FALLBACK_LISTEN_BACKLOG)
    }
}

/// A [`ServerConfig`] that cannot work, refused by [`ServerConfig::validate`].
///
/// ```
/// use framechat::server::ServerConfigError;
/// let err = ServerConfigError::ZeroDuration { name: "idle_timeout" };
/// assert_eq!(err.to_string(), "idle_timeout must be longer than zero");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerConfigError {
    /// A timeout, window or interval that must be positive was zero.
    ZeroDuration {
        /// The refused field, as [`ServerConfig`] spells it.
        name: &'static str,
    },
    /// `listen_backlog` was zero: every connection would wait for a SYN retransmit.
    ZeroListenBacklog,
    /// The per-peer queue bound in bytes cannot hold the largest message a peer may be sent, so
    /// every such message would make its recipient a slow consumer (FC-29).
    QueueSmallerThanMessage {
        /// The queue bound asked for.
        max_queue_bytes: usize,
        /// The weight of the largest message under the configured limit.
        needed: usize,
    },
    /// `cluster.servers` was empty: the bus would have nowhere to connect (feature `cluster`).
    #[cfg(feature = "cluster")]
    NoClusterServers,
    /// `cluster.servers[index]` is not a NATS server address (`nats://host:port`).
    #[cfg(feature = "cluster")]
    BadClusterServer {
        /// Its position in the list.
        index: usize,
    },
    /// `cluster.publish_queue` was zero: no local message could ever reach the bus.
    #[cfg(feature = "cluster")]
    ZeroPublishQueue,
    /// `cluster.publish_queue_bytes` cannot hold the largest message: the largest messages could
    /// never reach the bus.
    #[cfg(feature = "cluster")]
    PublishQueueSmallerThanMessage {
        /// The bound configured.
        publish_queue_bytes: usize,
        /// What the largest message weighs under the frame limit.
        needed: usize,
    },
}

impl fmt::Display for ServerConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerConfigError::ZeroDuration { name } => {
                write!(f, "{name} must be longer than zero")
            }
            ServerConfigError::ZeroListenBacklog => {
                write!(f, "listen_backlog must be at least 1")
            }
            ServerConfigError::QueueSmallerThanMessage {
                max_queue_bytes,
                needed,
            } => write!(
                f,
                "a queue bound of {max_queue_bytes} bytes cannot hold the largest message \
                 ({needed} bytes): raise it or lower the frame limit"
            ),
            #[cfg(feature = "cluster")]
            ServerConfigError::NoClusterServers => {
                write!(f, "a cluster needs at least one NATS server")
            }
            #[cfg(feature = "cluster")]
            ServerConfigError::BadClusterServer { index } => write!(
                f,
                "cluster server {index} is not a NATS address (nats://host:port)"
            ),
            #[cfg(feature = "cluster")]
            ServerConfigError::PublishQueueSmallerThanMessage {
                publish_queue_bytes,
                needed,
            } => write!(
                f,
                "a publish queue of {publish_queue_bytes} bytes cannot hold the largest message \
                 ({needed} bytes): raise it or lower the frame limit"
            ),
            #[cfg(feature = "cluster")]
            ServerConfigError::ZeroPublishQueue => {
                write!(
                    f,
                    "the cluster's publish queue must hold at least 1 message"
                )
            }
        }
    }
}

impl std::error::Error for ServerConfigError {}
