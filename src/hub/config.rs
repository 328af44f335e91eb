//! The hub's bounds ([`HubConfig`]) and the error that refuses a bound of zero ([`HubConfigError`]).

use std::fmt;

/// The hub's bounds, validated when built: a bound of zero is refused by [`HubConfig::new`], so a
/// `HubConfig` always describes a room someone can join and queues that can hold a message.
///
/// ```
/// use framechat::hub::{HubConfig, HubConfigError};
///
/// let config = HubConfig::default();
/// assert_eq!(config.max_peers(), 1024);
/// assert_eq!(config.max_queue_frames(), 1 << 18);
/// assert_eq!(config.max_queue_bytes(), 8 << 20);
///
/// let small = HubConfig::new(50, 64, 64 << 10)?;
/// assert_eq!(small.max_queue_bytes(), 65_536);
/// assert_eq!(
///     HubConfig::new(50, 0, 1024),
///     Err(HubConfigError::ZeroMaxQueueFrames)
/// );
/// # Ok::<(), HubConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HubConfig {
    /// Invariant: `>= 1`. Peers in the room at once (FC-31).
    max_peers: usize,
    /// Invariant: `>= 1`. Messages one outbox may hold (FC-29).
    max_queue_frames: usize,
    /// Invariant: `>= 1`. Sum of the [`Weight`](super::Weight)s one outbox may hold (FC-29).
    max_queue_bytes: usize,
    /// The high 32 bits of every peer id (FC-41), when the hub is one node of a cluster.
    peer_id_tag: Option<u32>,
}

impl HubConfig {
    /// Default connection limit: 1024 peers.
    pub const DEFAULT_MAX_PEERS: usize = 1024;
    /// Default frame bound of each outbox: 262,144 messages, a guard behind the byte bound against
    /// floods of tiny messages (at the server's weights, 8 MiB holds fewer messages of any size).
    pub const DEFAULT_MAX_QUEUE_FRAMES: usize = 1 << 18;
    /// Default byte bound of each outbox, the main one: 8 MiB, eight frames of the default 1 MiB
    /// limit, or about 130,000 messages of 16 bytes (the anchors': NATS 64 MB pending per
    /// connection, Redis pub/sub 32 MB). A healthy reader held up by its scheduler falls that far
    /// behind only after seconds, not milliseconds, at the fan-out rates of BENCHMARKS.md.
    pub const DEFAULT_MAX_QUEUE_BYTES: usize = 8 << 20;

    /// A configuration with these bounds; each must be at least 1, and the first that is 0 is named
    /// by the error.
    ///
    /// `max_queue_bytes` should be at least the weight of the largest message the server relays:
    /// a message heavier than the whole bound can never be queued, so it makes every recipient a
    /// slow consumer.
    pub const fn new(
        max_peers: usize,
        max_queue_frames: usize,
        max_queue_bytes: usize,
    ) -> Result<HubConfig, HubConfigError> {
        if max_peers == 0 {
            return Err(HubConfigError::ZeroMaxPeers);
        }
        if max_queue_frames == 0 {
            return Err(HubConfigError::ZeroMaxQueueFrames);
        }
        if max_queue_bytes == 0 {
            return Err(HubConfigError::ZeroMaxQueueBytes);
        }
        Ok(HubConfig {
            max_peers,
            max_queue_frames,
            max_queue_bytes,
            peer_id_tag: None,
        })
    }

    /// The same bounds, with peer ids taken in the range of `tag` (FC-41): the hub hands out
    /// `(tag << 32) | n` for n = 1, 2, ..., so that nodes of one cluster, each with its own tag,
    /// never give the same id. Once n has used all 32 low bits, [`Hub::join`](super::Hub::join)
    /// refuses with [`JoinError::PeerIdsExhausted`](super::JoinError::PeerIdsExhausted).
    ///
    /// ```
    /// use framechat::hub::{Hub, HubConfig};
    ///
    /// let config = HubConfig::default().with_peer_id_tag(0xABCD);
    /// assert_eq!(config.peer_id_tag(), Some(0xABCD));
    /// let hub: Hub<String> = Hub::new(config);
    /// let (first, _outbox) = hub.join()?;
    /// assert_eq!(first, 0xABCD_0000_0001);
    /// # Ok::<(), framechat::hub::JoinError>(())
    /// ```
    pub const fn with_peer_id_tag(self, tag: u32) -> HubConfig {
        HubConfig {
            peer_id_tag: Some(tag),
            ..self
        }
    }

    /// The high 32 bits of every peer id, if [`HubConfig::with_peer_id_tag`] set them; `None`:
    /// ids are 1, 2, ...
    pub const fn peer_id_tag(&self) -> Option<u32> {
        self.peer_id_tag
    }

    /// Peers in the room at once; [`Hub::join`](super::Hub::join) refuses the next one.
    pub const fn max_peers(&self) -> usize {
        self.max_peers
    }

    /// Messages one outbox may hold.
    pub const fn max_queue_frames(&self) -> usize {
        self.max_queue_frames
    }

    /// Sum of the [`Weight`](super::Weight)s one outbox may hold.
    pub const fn max_queue_bytes(&self) -> usize {
        self.max_queue_bytes
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_peers: Self::DEFAULT_MAX_PEERS,
            max_queue_frames: Self::DEFAULT_MAX_QUEUE_FRAMES,
            max_queue_bytes: Self::DEFAULT_MAX_QUEUE_BYTES,
            peer_id_tag: None,
        }
    }
}

/// Why [`HubConfig::new`] refused its bounds: the one that was zero.
///
/// ```
/// use framechat::hub::{HubConfig, HubConfigError};
///
/// let err = HubConfig::new(0, 64, 1024).unwrap_err();
/// assert_eq!(err, HubConfigError::ZeroMaxPeers);
/// assert_eq!(err.bound(), "max_peers");
/// assert_eq!(err.to_string(), "the hub's max_peers must be more than 0");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HubConfigError {
    /// `max_peers` was 0: a room nobody could join (FC-31).
    ZeroMaxPeers,
    /// `max_queue_frames` was 0: an outbox that could never hold a message (FC-29).
    ZeroMaxQueueFrames,
    /// `max_queue_bytes` was 0: an outbox that could never hold a message (FC-29).
    ZeroMaxQueueBytes,
}

impl HubConfigError {
    /// The name of the bound that was refused, as [`HubConfig::new`]'s parameter spells it.
    pub const fn bound(&self) -> &'static str {
        match self {
            HubConfigError::ZeroMaxPeers => "max_peers",
            HubConfigError::ZeroMaxQueueFrames => "max_queue_frames",
            HubConfigError::ZeroMaxQueueBytes => "max_queue_bytes",
        }
    }
}

impl fmt::Display for HubConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the hub's {} must be more than 0", self.bound())
    }
}

impl core::error::Error for HubConfigError {}
