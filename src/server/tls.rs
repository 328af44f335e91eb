//! TLS on its own listener (§10): the certificate the server presents, and the handshake that
//! runs, under its deadline, before a connection's lifecycle starts.
//!
//! Inside TLS the bytes are framechat's, unchanged: after the handshake a connection is served
//! exactly as a TCP one (detection, profiles, FC-26..FC-33). A TLS stream cannot be cloned as a
//! socket can, so it is split with `futures_lite::io::split`: a lock that each poll takes and
//! drops (never held across an await), from a crate the server already uses. Plain TCP keeps its
//! two lock-free clones.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_std::net::{TcpListener, TcpStream};
use futures_lite::future::or;
use futures_lite::io::{split, ReadHalf, WriteHalf};
use futures_rustls::rustls;
use futures_rustls::server::TlsStream;
use futures_rustls::TlsAcceptor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::metrics::Metrics;
use super::{BindError, Shared};

/// The TLS listener of a server ([`ServerConfig::tls`](super::ServerConfig::tls)): where it
/// listens, how long a handshake may take, and the certificate it presents.
///
/// ```
/// use std::time::Duration;
/// use framechat::server::{ServerConfig, TlsConfig, TlsIdentity};
///
/// let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let identity = TlsIdentity::from_pem(
///     generated.cert.pem().as_bytes(),
///     generated.key_pair.serialize_pem().as_bytes(),
/// )?;
/// let tls = TlsConfig::new(identity);
/// assert_eq!(tls.addr.port(), 50556);
/// assert_eq!(tls.handshake_timeout, Duration::from_secs(5));
/// let config = ServerConfig { tls: Some(tls), ..ServerConfig::default() };
/// config.validate()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// Where to listen for TLS. Default `127.0.0.1:50556`, next to the plain port.
    pub addr: SocketAddr,
    /// A connection whose handshake is not done in this long is closed and counted in
    /// `tls_handshakes_failed`. Default 5 s.
    pub handshake_timeout: Duration,
    /// The certificate chain and key presented to clients.
    pub identity: TlsIdentity,
}

impl TlsConfig {
    /// The default TLS address: the loopback, next to the plain port.
    pub const DEFAULT_ADDR: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50556));
    /// The default handshake deadline: a handshake takes two round trips and some signing, so
    /// a few seconds leave room for a slow network and bound what a stalled one costs.
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

    /// A TLS listener presenting `identity`, with the default address and handshake deadline.
    ///
    /// ```
    /// use framechat::server::{TlsConfig, TlsIdentity};
    ///
    /// let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let identity = TlsIdentity::from_pem(
    ///     generated.cert.pem().as_bytes(),
    ///     generated.key_pair.serialize_pem().as_bytes(),
    /// )?;
    /// assert_eq!(TlsConfig::new(identity).addr.to_string(), "127.0.0.1:50556");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(identity: TlsIdentity) -> TlsConfig {
        TlsConfig {
            addr: TlsConfig::DEFAULT_ADDR,
            handshake_timeout: TlsConfig::DEFAULT_HANDSHAKE_TIMEOUT,
            identity,
        }
    }
}

/// A certificate chain and its private key, loaded from PEM and accepted by rustls (with the
/// `ring` provider, TLS 1.2 and 1.3), so a server never starts with one it cannot use.
///
/// ```
/// use framechat::server::{TlsIdentity, TlsIdentityError};
///
/// let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let cert = generated.cert.pem();
/// let key = generated.key_pair.serialize_pem();
/// TlsIdentity::from_pem(cert.as_bytes(), key.as_bytes())?;
///
/// let swapped = TlsIdentity::from_pem(key.as_bytes(), cert.as_bytes());
/// assert!(matches!(swapped, Err(TlsIdentityError::NoCertificate { path: None })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TlsIdentity {
    server_config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsIdentity {
    /// Says nothing of the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Loads the certificate chain (leaf first) and the private key (PKCS#8, PKCS#1 or SEC1)
    /// from PEM text.
    ///
    /// ```
    /// use framechat::server::{TlsIdentity, TlsIdentityError};
    ///
    /// let err = TlsIdentity::from_pem(b"not a certificate", b"").unwrap_err();
    /// assert!(matches!(err, TlsIdentityError::NoCertificate { path: None }));
    /// ```
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<TlsIdentity, TlsIdentityError> {
        TlsIdentity::load(cert_chain, None, key, None)
    }

    /// Loads the certificate chain and the private key from PEM files; every error names the
    /// file it is about.
    ///
    /// ```
    /// use framechat::server::{TlsIdentity, TlsIdentityError};
    ///
    /// let err = TlsIdentity::from_pem_files("/no/such/cert.pem", "/no/such/key.pem").unwrap_err();
    /// assert!(matches!(err, TlsIdentityError::Read { .. }));
    /// assert!(err.to_string().contains("/no/such/cert.pem"));
    /// ```
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsIdentity, TlsIdentityError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsIdentityError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let (cert_path, key_path) = (cert_chain.as_ref(), key.as_ref());
        let (cert_pem, key_pem) = (read(cert_path)?, read(key_path)?);
        TlsIdentity::load(&cert_pem, Some(cert_path), &key_pem, Some(key_path))
    }

    fn load(
        cert_pem: &[u8],
        cert_path: Option<&Path>,
        key_pem: &[u8],
        key_path: Option<&Path>,
    ) -> Result<TlsIdentity, TlsIdentityError> {
        let path = |p: Option<&Path>| p.map(Path::to_path_buf);
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| TlsIdentityError::Pem {
                path: path(cert_path),
                source,
            })?;
        if chain.is_empty() {
            return Err(TlsIdentityError::NoCertificate {
                path: path(cert_path),
            });
        }
        let key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(key) => key,
            Err(rustls_pki_types::pem::Error::NoItemsFound) => {
                return Err(TlsIdentityError::NoKey {
                    path: path(key_path),
                })
            }
            Err(source) => {
                return Err(TlsIdentityError::Pem {
                    path: path(key_path),
                    source,
                })
            }
        };
        let server_config = rustls::ServerConfig::builder_with_provider(ring_provider())
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|source| TlsIdentityError::Rejected {
                source: Box::new(source),
            })?;
        Ok(TlsIdentity {
            server_config: Arc::new(server_config),
        })
    }
}

/// Why a [`TlsIdentity`] could not be loaded. Errors about a file name it (`path`); `None` is PEM
/// given in memory.
///
/// ```
/// use framechat::server::{TlsIdentity, TlsIdentityError};
///
/// let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
/// let err = TlsIdentity::from_pem(generated.cert.pem().as_bytes(), b"").unwrap_err();
/// assert!(matches!(err, TlsIdentityError::NoKey { path: None }));
/// assert_eq!(err.to_string(), "the TLS key (given in memory) holds no PEM private key");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsIdentityError {
    /// A file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A PEM section is malformed.
    Pem {
        /// The file, if the PEM came from one.
        path: Option<PathBuf>,
        /// What is wrong with it.
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate PEM holds no certificate.
    NoCertificate {
        /// The file, if the PEM came from one.
        path: Option<PathBuf>,
    },
    /// The key PEM holds no private key.
    NoKey {
        /// The file, if the PEM came from one.
        path: Option<PathBuf>,
    },
    /// rustls refused the pair (a key that does not match the certificate, an unsupported key).
    Rejected {
        /// rustls's reason.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl fmt::Display for TlsIdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let named = |path: &Option<PathBuf>| match path {
            Some(path) => path.display().to_string(),
            None => "(given in memory)".to_string(),
        };
        match self {
            TlsIdentityError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            TlsIdentityError::Pem { path, source } => {
                write!(f, "{} is not valid PEM: {source}", named(path))
            }
            TlsIdentityError::NoCertificate { path } => {
                write!(
                    f,
                    "the TLS certificate {} holds no PEM certificate",
                    named(path)
                )
            }
            TlsIdentityError::NoKey { path } => {
                write!(f, "the TLS key {} holds no PEM private key", named(path))
            }
            TlsIdentityError::Rejected { source } => {
                write!(f, "the TLS certificate and key cannot be used: {source}")
            }
        }
    }
}

impl std::error::Error for TlsIdentityError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsIdentityError::Read { source, .. } => Some(source),
            TlsIdentityError::Pem { source, .. } => Some(source),
            TlsIdentityError::Rejected { source } => Some(source.as_ref()),
            TlsIdentityError::NoCertificate { .. } | TlsIdentityError::NoKey { .. } => None,
        }
    }
}

/// rustls with *ring*, named rather than left to the process default, so that an embedder who
/// also links aws-lc-rs gets the same provider. rustls deprecates it because *ring* has no
/// post-quantum key exchange; it is the provider that builds without a C toolchain on 2 cores.
#[allow(deprecated)]
fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The byte streams of a connection after its handshake.
pub(super) type TlsHalves = (
    ReadHalf<TlsStream<TcpStream>>,
    WriteHalf<TlsStream<TcpStream>>,
);

/// What the TLS accept loop hands each connection: the acceptor and the handshake deadline.
#[derive(Clone)]
pub(super) struct Handshaker {
    acceptor: TlsAcceptor,
    deadline: Duration,
    local_addr: SocketAddr,
}

/// Binds the TLS listener of `config`, with a listen queue of `backlog` as the plain one's.
pub(super) fn bind(
    config: &TlsConfig,
    backlog: u32,
) -> Result<(TcpListener, Handshaker), BindError> {
    let addr = config.addr;
    let listen_error = |source| BindError::TlsListen { addr, source };
    let listener = super::listen(addr, backlog).map_err(listen_error)?;
    let local_addr = listener.local_addr().map_err(listen_error)?;
    let handshaker = Handshaker {
        acceptor: TlsAcceptor::from(config.identity.server_config.clone()),
        deadline: config.handshake_timeout,
        local_addr,
    };
    Ok((listener, handshaker))
}

impl Handshaker {
    pub(super) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Runs the server's side of the handshake on `socket` (a clone: the caller keeps its own for
    /// the linger and the shutdown), within the deadline and until the server shuts down. A
    /// failure is logged with its reason and counted; the caller then closes the socket.
    pub(super) async fn handshake(
        &self,
        shared: &Shared,
        socket: &TcpStream,
        addr: SocketAddr,
    ) -> Option<TlsHalves> {
        let handshake = async {
            async_std::io::timeout(self.deadline, self.acceptor.accept(socket.clone()))
                .await
                .map(Some)
                .map_err(|err| why_failed(&err, self.deadline))
        };
        let shutdown = async {
            let _ = shared.shutdown_heard.recv().await;
            Ok(None)
        };
        match or(handshake, shutdown).await {
            Ok(Some(stream)) => Some(split(stream)),
            Ok(None) => {
                log::info!("TLS handshake with {addr} abandoned: the server is shutting down");
                None
            }
            Err(reason) => {
                Metrics::add(&shared.metrics.tls_handshakes_failed, 1);
                log::warn!("TLS handshake with {addr} failed: {reason}");
                None
            }
        }
    }
}

/// A failed handshake's log phrase: the deadline, bytes that are not TLS, the client's alert
/// (it refused the certificate), or the transport's error.
fn why_failed(err: &io::Error, deadline: Duration) -> String {
    if err.kind() == io::ErrorKind::TimedOut {
        return format!("not done within the deadline of {deadline:?}");
    }
    let rustls_error = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidMessage(_)) => {
            format!("the client does not speak TLS here ({err})")
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("the client refused the handshake, alert {alert:?} (is its CA this server's?)")
        }
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rustls_failure(err: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, err)
    }

    #[test]
    fn a_failed_handshake_is_logged_with_whose_doing_it_was() {
        let deadline = Duration::from_secs(5);
        let timed_out = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(
            why_failed(&timed_out, deadline),
            "not done within the deadline of 5s"
        );
        let plain = rustls_failure(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert!(why_failed(&plain, deadline).starts_with("the client does not speak TLS here"));
        let refused = rustls_failure(rustls::Error::AlertReceived(
            rustls::AlertDescription::UnknownCA,
        ));
        assert!(why_failed(&refused, deadline).contains("refused the handshake, alert UnknownCA"));
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(why_failed(&reset, deadline), reset.to_string());
    }
}
