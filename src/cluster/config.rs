//! What a node is configured with: the cluster's name (§11.1) and the membership clock (§11.4),
//! both refused when they are built, never at use, and the transport's settings
//! ([`ClusterConfig`]), which the server validates.

use std::fmt;
use std::time::Duration;

/// The longest cluster name, in bytes (FC-37).
const MAX_NAME_LEN: usize = 64;

/// A cluster's name: 1 to 64 bytes of ASCII letters, digits, `-` and `_` (FC-37), so that the
/// subject `framechat.<cluster>.room` is three NATS tokens whatever the name.
///
/// ```
/// use framechat::cluster::{ClusterConfigError, ClusterName};
/// let name = ClusterName::new("eu-west_1")?;
/// assert_eq!(name.subject(), "framechat.eu-west_1.room");
/// assert_eq!(
///     ClusterName::new("a.b"),
///     Err(ClusterConfigError::NameByte { index: 1, byte: b'.' })
/// );
/// assert_eq!(ClusterName::new(""), Err(ClusterConfigError::NameLength { len: 0 }));
/// # Ok::<(), ClusterConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClusterName {
    /// Invariant: 1 to `MAX_NAME_LEN` bytes, each `[A-Za-z0-9_-]`.
    name: String,
}

impl ClusterName {
    /// Checks `name` against FC-37.
    pub fn new(name: &str) -> Result<ClusterName, ClusterConfigError> {
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(ClusterConfigError::NameLength { len: name.len() });
        }
        let allowed = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
        if let Some((index, &byte)) = name
            .as_bytes()
            .iter()
            .enumerate()
            .find(|(_, &b)| !allowed(b))
        {
            return Err(ClusterConfigError::NameByte { index, byte });
        }
        Ok(ClusterName {
            name: name.to_owned(),
        })
    }

    /// The name as configured.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The one subject every node of this cluster publishes and subscribes to (FC-37).
    pub fn subject(&self) -> String {
        format!("framechat.{}.room", self.name)
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// When a silent node is gone, and when it is forgotten (§11.4).
///
/// The defaults are the reference values: a heartbeat every second, gone after 3 intervals
/// without an envelope (FC-47), forgotten 10 minutes after that.
///
/// ```
/// use std::time::Duration;
/// use framechat::cluster::{ClusterConfigError, Membership};
/// let membership = Membership::default();
/// assert_eq!(membership.heartbeat_interval(), Duration::from_secs(1));
/// assert_eq!(membership.gone_after(), Duration::from_secs(3));
///
/// let fast = Membership::new(Duration::from_millis(100), 5, Duration::from_secs(60))?;
/// assert_eq!(fast.gone_after(), Duration::from_millis(500));
/// assert_eq!(
///     Membership::new(Duration::ZERO, 3, Duration::from_secs(60)),
///     Err(ClusterConfigError::ZeroHeartbeatInterval)
/// );
/// # Ok::<(), ClusterConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    /// Invariant: not zero.
    interval: Duration,
    /// Invariant: `interval * missed` does not overflow and is at most `forget_after`.
    gone_after: Duration,
    forget_after: Duration,
}

impl Membership {
    /// Heartbeats every `interval`; gone after `missed` intervals without an envelope; forgotten
    /// `forget_after` after the last envelope, which must be at least the time to be gone.
    pub fn new(
        interval: Duration,
        missed: u32,
        forget_after: Duration,
    ) -> Result<Membership, ClusterConfigError> {
        if interval.is_zero() {
            return Err(ClusterConfigError::ZeroHeartbeatInterval);
        }
        if missed == 0 {
            return Err(ClusterConfigError::ZeroMissedHeartbeats);
        }
        let gone_after = interval
            .checked_mul(missed)
            .ok_or(ClusterConfigError::ForgetBeforeGone)?;
        if forget_after < gone_after {
            return Err(ClusterConfigError::ForgetBeforeGone);
        }
        Ok(Membership {
            interval,
            gone_after,
            forget_after,
        })
    }

    /// How often a node publishes a heartbeat.
    pub fn heartbeat_interval(&self) -> Duration {
        self.interval
    }

    /// How long a node may stay silent before it is gone.
    pub fn gone_after(&self) -> Duration {
        self.gone_after
    }

    /// How long after its last envelope a node is forgotten (its next envelope is a first contact).
    pub fn forget_after(&self) -> Duration {
        self.forget_after
    }
}

impl Default for Membership {
    fn default() -> Self {
        Membership {
            interval: Duration::from_secs(1),
            gone_after: Duration::from_secs(3),
            forget_after: Duration::from_secs(600),
        }
    }
}

/// How a server joins a cluster (§11): which NATS servers carry the bus, the cluster's name, this
/// node's id, the membership clock and the bound of the queue in front of the bus. The server's
/// `cluster` field ([`ServerConfig`](crate::server::ServerConfig)) holds one; the server's
/// validation refuses an empty server list, a queue of zero and a queue too small in bytes for the
/// largest message.
///
/// ```
/// use framechat::cluster::{ClusterConfig, ClusterName};
///
/// let name = ClusterName::new("framechat")?;
/// let config = ClusterConfig::new(vec!["nats://127.0.0.1:4222".to_string()], name);
/// assert_eq!(config.publish_queue, ClusterConfig::DEFAULT_PUBLISH_QUEUE);
/// assert_eq!(config.publish_queue_bytes, 64 << 20);
/// assert_eq!(config.node, None); // drawn at random when the server starts
/// # Ok::<(), framechat::cluster::ClusterConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The NATS servers to connect to (`nats://host:port`); the client tries them in turn, and
    /// reconnects to any of them forever.
    pub servers: Vec<String>,
    /// The cluster's name: its subject is `framechat.<name>.room` (FC-37).
    pub name: ClusterName,
    /// This node's id (§11.2); `None` for 64 random bits at each start. Its high 32 bits are the
    /// tag of this node's peer ids (FC-41): a configured id must differ from the others' there.
    pub node: Option<u64>,
    /// The heartbeat interval and when a silent node is gone (§11.4).
    pub membership: Membership,
    /// How many local messages may wait for the bus. A reader never waits for the bus: past this
    /// bound a message is not published, and counted (FC-48).
    pub publish_queue: usize,
    /// How many bytes of local messages may wait for the bus, each weighed as an outbox weighs it
    /// (its text and a fixed overhead, FC-29): the bound that holds while the bus is down and
    /// clients send large messages. Past it a message is not published, and counted (FC-48).
    pub publish_queue_bytes: usize,
}

impl ClusterConfig {
    /// The default [`publish_queue`](ClusterConfig::publish_queue): 8192 messages, a few seconds
    /// of a busy room's traffic while the bus reconnects, a few MiB at chat sizes.
    pub const DEFAULT_PUBLISH_QUEUE: usize = 8192;

    /// The default [`publish_queue_bytes`](ClusterConfig::publish_queue_bytes): 64 MiB, so that
    /// 8192 large messages cannot pin gigabytes while the bus is down.
    pub const DEFAULT_PUBLISH_QUEUE_BYTES: usize = 64 << 20;

    /// A node of cluster `name` over `servers`, with a random node id, the reference membership
    /// clock and the default queue.
    pub fn new(servers: Vec<String>, name: ClusterName) -> ClusterConfig {
        ClusterConfig {
            servers,
            name,
            node: None,
            membership: Membership::default(),
            publish_queue: Self::DEFAULT_PUBLISH_QUEUE,
            publish_queue_bytes: Self::DEFAULT_PUBLISH_QUEUE_BYTES,
        }
    }
}

/// A cluster setting refused when it was built: the caller's mistake, not a peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterConfigError {
    /// A cluster name must be 1 to 64 bytes long (FC-37).
    NameLength {
        /// The length given.
        len: usize,
    },
    /// A cluster name may hold only ASCII letters, digits, `-` and `_` (FC-37).
    NameByte {
        /// Where the first other byte is.
        index: usize,
        /// That byte.
        byte: u8,
    },
    /// The heartbeat interval must not be zero.
    ZeroHeartbeatInterval,
    /// A node must be allowed to miss at least one heartbeat before it is gone.
    ZeroMissedHeartbeats,
    /// A node cannot be forgotten before it is gone (or the time to be gone overflows).
    ForgetBeforeGone,
}

impl fmt::Display for ClusterConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ClusterConfigError::NameLength { len } => write!(
                f,
                "a cluster name is 1 to {MAX_NAME_LEN} bytes long, not {len} (§11.1)"
            ),
            ClusterConfigError::NameByte { index, byte } => write!(
                f,
                "a cluster name holds only ASCII letters, digits, '-' and '_': byte {index} is 0x{byte:02x} (§11.1)"
            ),
            ClusterConfigError::ZeroHeartbeatInterval => {
                f.write_str("the heartbeat interval must not be zero (§11.4)")
            }
            ClusterConfigError::ZeroMissedHeartbeats => {
                f.write_str("a node must be allowed to miss at least one heartbeat (§11.4)")
            }
            ClusterConfigError::ForgetBeforeGone => f.write_str(
                "a node is forgotten only after it is gone: forget_after must be at least interval × missed (§11.4)",
            ),
        }
    }
}

impl std::error::Error for ClusterConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_name_of_every_allowed_byte_is_one_subject_token() {
        // FC-37: letters, digits, '-' and '_', 1 to 64 bytes.
        let every = "azAZ09-_";
        assert_eq!(
            ClusterName::new(every).map(|name| name.subject()),
            Ok("framechat.azAZ09-_.room".to_string())
        );
        assert!(ClusterName::new("x").is_ok());
        assert!(ClusterName::new(&"x".repeat(64)).is_ok());
    }

    #[test]
    fn a_cluster_name_that_would_break_the_subject_is_refused() {
        // FC-37: '.', '*', '>' and white space would change the subject's tokens.
        for (name, index, byte) in [
            ("a.b", 1, b'.'),
            ("*", 0, b'*'),
            ("room>", 4, b'>'),
            ("a b", 1, b' '),
            ("é", 0, 0xc3),
        ] {
            assert_eq!(
                ClusterName::new(name),
                Err(ClusterConfigError::NameByte { index, byte }),
                "{name:?}"
            );
        }
        assert_eq!(
            ClusterName::new(&"x".repeat(65)),
            Err(ClusterConfigError::NameLength { len: 65 })
        );
    }

    #[test]
    fn a_membership_that_could_never_declare_a_node_gone_is_refused() {
        let minute = Duration::from_secs(60);
        assert_eq!(
            Membership::new(Duration::from_secs(1), 0, minute),
            Err(ClusterConfigError::ZeroMissedHeartbeats)
        );
        assert_eq!(
            Membership::new(Duration::from_secs(30), 3, minute),
            Err(ClusterConfigError::ForgetBeforeGone)
        );
        assert_eq!(
            Membership::new(Duration::MAX, 2, Duration::MAX),
            Err(ClusterConfigError::ForgetBeforeGone)
        );
        assert_eq!(
            Membership::new(Duration::from_secs(1), 3, Duration::from_secs(600)),
            Ok(Membership::default())
        );
    }
}
