//! What [`Server::bind`](super::Server::bind) can fail with.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use super::config::ServerConfigError;

/// Why [`Server::bind`](super::Server::bind) failed: the configuration, the listening socket or
/// the metrics endpoint, with the address that could not be bound.
///
/// ```
/// use std::net::SocketAddr;
/// use framechat::server::{BindError, Server, ServerConfig};
///
/// async_std::task::block_on(async {
///     let first = Server::bind(ServerConfig {
///         addr: SocketAddr::from(([127, 0, 0, 1], 0)),
///         ..ServerConfig::default()
///     })
///     .await?;
///     let taken = first.local_addr();
///     let err = Server::bind(ServerConfig { addr: taken, ..ServerConfig::default() })
///         .await
///         .err()
///         .expect("the port is taken");
///     assert!(matches!(err, BindError::Listen { addr, .. } if addr == taken));
///     assert!(err.to_string().contains(&taken.to_string()));
///     Ok::<(), BindError>(())
/// })?;
/// # Ok::<(), BindError>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BindError {
    /// [`ServerConfig::validate`](super::ServerConfig::validate) refused the configuration.
    Config(ServerConfigError),
    /// The listening socket (`ServerConfig::addr`) could not be bound.
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The TLS listener (`ServerConfig::tls`'s `addr`) could not be bound.
    TlsListen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The metrics endpoint (`ServerConfig::metrics_addr`) could not be bound.
    MetricsListen {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: io::Error,
    },
    /// The cluster bus's thread or runtime could not be started (feature `cluster`).
    #[cfg(feature = "cluster")]
    Bus(io::Error),
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindError::Config(err) => write!(f, "invalid server configuration: {err}"),
            BindError::Listen { addr, source } => {
                write!(f, "cannot listen on {addr} (--addr): {source}")
            }
            BindError::TlsListen { addr, source } => {
                write!(f, "cannot listen for TLS on {addr} (--tls-addr): {source}")
            }
            BindError::MetricsListen { addr, source } => {
                write!(
                    f,
                    "cannot serve metrics on {addr} (--metrics-addr): {source}"
                )
            }
            #[cfg(feature = "cluster")]
            BindError::Bus(source) => write!(f, "cannot start the cluster bus: {source}"),
        }
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BindError::Config(err) => Some(err),
            BindError::Listen { source, .. }
            | BindError::TlsListen { source, .. }
            | BindError::MetricsListen { source, .. } => Some(source),
            #[cfg(feature = "cluster")]
            BindError::Bus(source) => Some(source),
        }
    }
}

/// For callers whose errors are `io::Error`: a refused configuration is `InvalidInput`, a failed
/// bind keeps the operating system's kind; the message keeps the address.
impl From<BindError> for io::Error {
    fn from(err: BindError) -> io::Error {
        let kind = match &err {
            BindError::Config(_) => io::ErrorKind::InvalidInput,
            BindError::Listen { source, .. }
            | BindError::TlsListen { source, .. }
            | BindError::MetricsListen { source, .. } => source.kind(),
            #[cfg(feature = "cluster")]
            BindError::Bus(source) => source.kind(),
        };
        io::Error::new(kind, err)
    }
}
