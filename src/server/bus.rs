//! The cluster bus's transport (§11, feature `cluster`): the NATS client on a thread of its own.
//!
//! ```text
//!  reader tasks (async-std)                 "framechat-bus" thread (tokio, current-thread)
//!  hub.relay(...) then                      +-------------------------------------------+
//!  Bus::publish(relayed) --try_send-->  [publish queue, bounded] --> number, wrap, publish --> NATS
//!        | full: unsequenced_drops += 1     |                                           |
//!                                           |  subscription --> decode --> GapTracker   |
//!  hub.broadcast(...) <--------------------------------------- Verdict::Deliver         |
//!                                           |  heartbeat timer, membership timer        |
//!                                           +-------------------------------------------+
//! ```
//!
//! A reader never waits for the bus: it hands the message over with a non-blocking `try_send` and
//! goes on. When the queue is full (the bus is slow or down) the message is not published, and the
//! drop is counted in `unsequenced_drops`; the bus task adds those to the next number it gives, so
//! every dropped message is a gap or a lost tail at every receiver (FC-48). Numbers are given by
//! the one bus task, in queue order, never by the readers: two readers could enqueue in the other
//! order than they numbered. One queue, one task, one NATS connection: the bus keeps each local
//! sender's order (FC-28).
//!
//! The hub is plain sync code, so the bus thread calls [`Hub::broadcast`] itself, in envelope order.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::{ConnectOptions, Event, ServerAddr};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::lock;
use super::outgoing::{Outgoing, Relayed};
use crate::cluster::{
    ClusterConfig, Envelope, GapTracker, MembershipChange, Origin, RelayedMessage, TrackerStats,
    Verdict,
};
use crate::hub::Hub;
use crate::{Limits, Profile};

/// The longest wait between two attempts to reach a NATS server: a restarted server is found
/// within this long, and a missing one costs a connection attempt this often.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// How many messages from the bus the client holds for the bus task before it drops them (NATS's
/// slow-consumer policy): a bound on what a stalled node holds, not the client's default of
/// 65,536. What it drops shows as a gap (FC-44) at the origin's next message.
const SUBSCRIPTION_CAPACITY: usize = 8192;

/// How many bus events ([`BusEvent`]) wait for a reader before new ones are dropped.
const EVENT_QUEUE: usize = 64;

/// The bus's figures at one instant: part of [`Snapshot`](super::Snapshot) when the server is a
/// node of a cluster (§11). Messages count envelopes of kind message, never heartbeats.
///
/// ```
/// use framechat::server::BusStats;
/// let stats = BusStats { gap_messages: 2, lost_tail_messages: 3, ..BusStats::default() };
/// assert_eq!(stats.lost(), 5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Whether the NATS connection is up now.
    pub connected: bool,
    /// Local messages published on the bus.
    pub published: u64,
    /// Local messages not published because the queue in front of the bus was full (FC-48).
    pub publish_dropped: u64,
    /// Remote messages given to the room.
    pub delivered: u64,
    /// Remote messages found missing by gaps (FC-44).
    pub gap_messages: u64,
    /// Remote messages found missing by heartbeats (FC-45).
    pub lost_tail_messages: u64,
    /// Remote messages dropped as already accounted for (FC-44).
    pub duplicates: u64,
    /// Envelopes dropped as from an older run of their node (FC-46).
    pub stale_epoch: u64,
    /// Envelopes dropped as malformed (FC-42).
    pub malformed: u64,
    /// Connections to a NATS server after the first.
    pub reconnects: u64,
    /// Other nodes alive now (FC-47).
    pub nodes_alive: u64,
}

impl BusStats {
    /// Every remote message known lost: gaps and lost tails.
    pub fn lost(&self) -> u64 {
        self.gap_messages.saturating_add(self.lost_tail_messages)
    }
}

/// A change in the bus's connection, for whoever shows it (`framechat serve` prints each).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusEvent {
    /// Connected (or reconnected) to a NATS server: `server` is its URL as configured when it is
    /// one of the configured servers, else as it describes itself.
    Connected {
        /// `nats://host:port`.
        server: String,
    },
    /// The connection to the NATS server was lost; the client reconnects on its own.
    Disconnected,
}

impl fmt::Display for BusEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusEvent::Connected { server } => write!(f, "bus connected to {server}"),
            BusEvent::Disconnected => f.write_str("bus disconnected"),
        }
    }
}

/// Counters the bus thread writes and the server's snapshot reads.
#[derive(Debug, Default)]
struct BusCounters {
    connected: AtomicBool,
    published: AtomicU64,
    publish_dropped: AtomicU64,
    reconnects: AtomicU64,
    /// Mirrors of the tracker's counters, which live on the bus thread.
    delivered: AtomicU64,
    gap_messages: AtomicU64,
    lost_tail_messages: AtomicU64,
    duplicates: AtomicU64,
    stale_epoch: AtomicU64,
    malformed: AtomicU64,
    nodes_alive: AtomicU64,
    /// Messages the readers dropped on a full queue that no number has accounted for yet.
    unsequenced_drops: AtomicU64,
    /// What the messages in the publish queue weigh ([`Relayed::weight`]): added by the readers
    /// before they enqueue, taken off by the bus task as it dequeues.
    queued_bytes: AtomicUsize,
}

impl BusCounters {
    fn stats(&self) -> BusStats {
        BusStats {
            connected: self.connected.load(Relaxed),
            published: self.published.load(Relaxed),
            publish_dropped: self.publish_dropped.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            gap_messages: self.gap_messages.load(Relaxed),
            lost_tail_messages: self.lost_tail_messages.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            stale_epoch: self.stale_epoch.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            nodes_alive: self.nodes_alive.load(Relaxed),
        }
    }

    /// Copies what the tracker counted, and who is alive, for the snapshot to read.
    fn mirror(&self, tracker: &TrackerStats, alive: usize) {
        self.delivered.store(tracker.delivered, Relaxed);
        self.gap_messages.store(tracker.gap_messages, Relaxed);
        self.lost_tail_messages
            .store(tracker.lost_tail_messages, Relaxed);
        self.duplicates.store(tracker.duplicates, Relaxed);
        self.stale_epoch.store(tracker.stale_epoch, Relaxed);
        self.malformed.store(tracker.malformed, Relaxed);
        self.nodes_alive.store(alive as u64, Relaxed);
    }
}

/// Numbers this node's publications (§11.2), counting the messages dropped before the bus as used
/// numbers, so that receivers see each as a gap or a lost tail (FC-48).
#[derive(Debug, Default)]
struct Sequencer {
    /// The last number given; 0 before the first message.
    last: u64,
}

impl Sequencer {
    /// The number of the next message published, after `dropped` messages that were not.
    fn next_message(&mut self, dropped: u64) -> u64 {
        self.last = self.last.saturating_add(dropped).saturating_add(1);
        self.last
    }

    /// The `seq` of a heartbeat, after `dropped` messages that were not published: they count as
    /// published and lost, so the heartbeat announces them as a lost tail.
    fn heartbeat(&mut self, dropped: u64) -> u64 {
        self.last = self.last.saturating_add(dropped);
        self.last
    }
}

/// The server's side of the bus: the queue in front of it, its counters, and its thread.
pub(super) struct Bus {
    origin: Origin,
    queue: mpsc::Sender<Relayed>,
    /// [`ClusterConfig::publish_queue_bytes`].
    max_queued_bytes: usize,
    counters: Arc<BusCounters>,
    events: async_std::channel::Receiver<BusEvent>,
    /// Taken by [`Bus::stop`]: the instant by which the bus must have flushed and exited.
    stop: Mutex<Option<oneshot::Sender<Instant>>>,
    /// Closed (its sender dropped) when the bus thread ends.
    finished: async_std::channel::Receiver<()>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Bus {
    /// Starts the bus thread for `config`. `hub` is where remote messages go; it must be built with
    /// the tag of `origin` (FC-41).
    pub(super) fn start(
        config: &ClusterConfig,
        origin: Origin,
        limits: Limits,
        hub: Arc<Hub<Outgoing>>,
    ) -> io::Result<Bus> {
        let (queue, published) = mpsc::channel(config.publish_queue);
        let counters = Arc::new(BusCounters::default());
        let (event_sender, events) = async_std::channel::bounded(EVENT_QUEUE);
        let (stop, stopped) = oneshot::channel();
        let (finished_sender, finished) = async_std::channel::bounded(1);
        let task = BusTask {
            config: config.clone(),
            origin,
            limits,
            hub,
            counters: counters.clone(),
            events: event_sender,
            sequencer: Sequencer::default(),
            tracker: GapTracker::new(origin, config.membership),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = thread::Builder::new()
            .name("framechat-bus".to_string())
            .spawn(move || {
                runtime.block_on(task.run(published, stopped));
                // Without waiting for blocking work the client may have started (a name lookup
                // while reconnecting): `Bus::stop` joins this thread once it hears the end below,
                // and that join must not wait.
                runtime.shutdown_background();
                // Dropped here, when the thread ends: `Bus::stop` hears it.
                drop(finished_sender);
            })?;
        Ok(Bus {
            origin,
            queue,
            max_queued_bytes: config.publish_queue_bytes,
            counters,
            events,
            stop: Mutex::new(Some(stop)),
            finished,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// This node's run: its id and epoch (§11.2).
    pub(super) fn origin(&self) -> Origin {
        self.origin
    }

    /// Hands a local message to the bus, never waiting: if the queue is full, in messages or in
    /// bytes, it is dropped and counted, and the next number the bus gives skips it (FC-48).
    pub(super) fn publish(&self, relayed: Relayed) {
        let weight = relayed.weight();
        // Reserved before the message is queued, so that readers racing for the last bytes cannot
        // all fit: the bound holds at every instant.
        let queued = self.counters.queued_bytes.fetch_add(weight, Relaxed) + weight;
        if queued > self.max_queued_bytes || self.queue.try_send(relayed).is_err() {
            self.counters.queued_bytes.fetch_sub(weight, Relaxed);
            self.counters.publish_dropped.fetch_add(1, Relaxed);
            self.counters.unsequenced_drops.fetch_add(1, Relaxed);
        }
    }

    /// The bus's figures now.
    pub(super) fn stats(&self) -> BusStats {
        self.counters.stats()
    }

    /// Connection changes, in order; each is given to one receiver.
    pub(super) fn events(&self) -> async_std::channel::Receiver<BusEvent> {
        self.events.clone()
    }

    /// Asks the bus to publish what is queued and exit, within `grace`, and waits for its thread
    /// (at most `grace` and a little: a bus stuck in a NATS call is left behind, and logged).
    pub(super) async fn stop(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        if let Some(stop) = lock(&self.stop).take() {
            let _ = stop.send(deadline);
        }
        // A little past the bus's own deadline: it exits by then unless a call is stuck.
        let wait = grace + Duration::from_millis(500);
        let ended = async_std::future::timeout(wait, async {
            let _ = self.finished.recv().await;
        })
        .await;
        match ended {
            Ok(()) => {
                if let Some(thread) = lock(&self.thread).take() {
                    // It has returned from its closure already: this join does not block.
                    if thread.join().is_err() {
                        log::error!("the bus thread panicked");
                    }
                }
            }
            Err(_) => log::warn!("the bus thread did not stop within {wait:?}: left behind"),
        }
    }
}

/// The bus thread's state.
struct BusTask {
    config: ClusterConfig,
    origin: Origin,
    limits: Limits,
    hub: Arc<Hub<Outgoing>>,
    counters: Arc<BusCounters>,
    events: async_std::channel::Sender<BusEvent>,
    sequencer: Sequencer,
    tracker: GapTracker,
}

impl BusTask {
    async fn run(
        mut self,
        mut published: mpsc::Receiver<Relayed>,
        mut stopped: oneshot::Receiver<Instant>,
    ) {
        let servers: Vec<ServerAddr> = self
            .config
            .servers
            .iter()
            .filter_map(|url| url.parse().ok())
            .collect();
        let (client_events, mut client_event) = mpsc::unbounded_channel();
        let options = ConnectOptions::new()
            .name(format!("framechat node {:016x}", self.origin.node))
            .retry_on_initial_connect()
            // §11.5: this node's own publications would only be decoded to be ignored (FC-43).
            .no_echo()
            .subscription_capacity(SUBSCRIPTION_CAPACITY)
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                let delay = Duration::from_millis(100).saturating_mul(attempts as u32);
                delay.min(MAX_RECONNECT_DELAY)
            })
            .event_callback(move |event| {
                // Unbounded: connection changes are rare, and none may be lost.
                let _ = client_events.send(event);
                async {}
            });
        let client = match options.connect(servers).await {
            Ok(client) => client,
            Err(err) => {
                log::error!("the bus cannot start: {err}; this node serves its own clients only");
                let _ = stopped.await;
                return;
            }
        };
        // Built once: a `Subject` is a shared buffer, cloned by a reference count per publication.
        let subject = async_nats::Subject::from(self.config.name.subject());
        let mut subscription = match client.subscribe(subject.clone()).await {
            Ok(subscription) => subscription,
            Err(err) => {
                log::error!("the bus cannot subscribe to {subject}: {err}; this node serves its own clients only");
                let _ = stopped.await;
                return;
            }
        };

        let interval = self.config.membership.heartbeat_interval();
        let mut next_heartbeat = tokio::time::Instant::now() + interval;
        let mut connected = false;
        let mut connections = 0u64;
        let mut subscribed = true;
        let deadline = loop {
            let membership_due = self
                .tracker
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                deadline = &mut stopped => break deadline.unwrap_or_else(|_| Instant::now()),
                Some(event) = client_event.recv() => match event {
                    Event::Connected => {
                        connected = true;
                        connections += 1;
                        if connections > 1 {
                            self.counters.reconnects.fetch_add(1, Relaxed);
                        }
                        self.counters.connected.store(true, Relaxed);
                        // §11.4: a heartbeat as soon as connected, before any message, so that
                        // the others' baseline holds every message this run publishes.
                        let heartbeat = self.publish_heartbeat(&client, &subject);
                        if let Some(deadline) = or_stopped(heartbeat, &mut stopped).await {
                            break deadline;
                        }
                        next_heartbeat = tokio::time::Instant::now() + interval;
                        self.check_max_payload(client.server_info().max_payload);
                        let server = connected_server(&self.config.servers, &client.server_info());
                        log::info!("bus connected to {server}");
                        let _ = self.events.try_send(BusEvent::Connected { server });
                    }
                    Event::Disconnected => {
                        connected = false;
                        self.counters.connected.store(false, Relaxed);
                        log::warn!("bus disconnected; local delivery goes on");
                        let _ = self.events.try_send(BusEvent::Disconnected);
                    }
                    // One with every failed attempt while the server is away: `Disconnected`
                    // has said so once already.
                    Event::ClientError(err) => log::debug!("bus: {err}"),
                    other => log::warn!("bus: {other}"),
                },
                message = subscription.next(), if subscribed => match message {
                    Some(message) => self.receive(&message.payload, Instant::now()),
                    None => {
                        log::error!("bus: the subscription ended; this node no longer hears the others");
                        subscribed = false;
                    }
                },
                // Only while connected: while not, messages wait in the queue (the readers drop
                // and count what does not fit) rather than in the client's own buffer.
                Some(relayed) = published.recv(), if connected => {
                    let message = self.publish_message(&client, &subject, &relayed);
                    if let Some(deadline) = or_stopped(message, &mut stopped).await {
                        break deadline;
                    }
                }
                () = tokio::time::sleep_until(next_heartbeat) => {
                    if connected {
                        let heartbeat = self.publish_heartbeat(&client, &subject);
                        if let Some(deadline) = or_stopped(heartbeat, &mut stopped).await {
                            break deadline;
                        }
                    }
                    // From now, not from when it was due: a loop held up does not burst.
                    next_heartbeat = tokio::time::Instant::now() + interval;
                }
                () = sleep_until_or_forever(membership_due) => {
                    self.tracker.handle_timeout(Instant::now());
                    self.after_tracking();
                }
            }
        };

        // Stopping: publish what is queued (FC-33's grace), then say where the run ended.
        let deadline = tokio::time::Instant::from_std(deadline);
        let flush = async {
            if connected {
                while let Ok(relayed) = published.try_recv() {
                    self.publish_message(&client, &subject, &relayed).await;
                }
                self.publish_heartbeat(&client, &subject).await;
                let _ = client.flush().await;
            }
        };
        if tokio::time::timeout_at(deadline, flush).await.is_err() {
            log::warn!("bus: the shutdown grace ran out before the queue was published");
        }
        // What is still queued is never published: counted, as a full queue's drops are.
        published.close();
        let mut unpublished = 0;
        while let Ok(relayed) = published.try_recv() {
            self.counters
                .queued_bytes
                .fetch_sub(relayed.weight(), Relaxed);
            unpublished += 1;
        }
        self.counters
            .publish_dropped
            .fetch_add(unpublished, Relaxed);
        self.counters.connected.store(false, Relaxed);
    }

    /// Warns, at each connection, when the NATS server cannot carry this node's largest messages
    /// (its `max_payload`, 1 MiB by default, below the largest envelope): each of them would fail
    /// to publish and be counted as not published (§11.5). 0 is a server that said nothing yet.
    fn check_max_payload(&self, max_payload: usize) {
        let largest = crate::cluster::largest_message_envelope(self.limits);
        if max_payload > 0 && max_payload < largest {
            log::warn!(
                "bus: the NATS server carries at most {max_payload} bytes a message, and this \
                 node's largest envelope is {largest} bytes: messages near the frame limit \
                 cannot cross the bus; raise max_payload in the NATS servers' configuration or \
                 lower the frame limit (§11.5)"
            );
        }
    }

    /// Numbers, wraps and publishes one local message.
    async fn publish_message(
        &mut self,
        client: &async_nats::Client,
        subject: &async_nats::Subject,
        relayed: &Relayed,
    ) {
        // Out of the queue: its bytes no longer count against the bound.
        self.counters
            .queued_bytes
            .fetch_sub(relayed.weight(), Relaxed);
        let dropped = self.counters.unsequenced_drops.swap(0, Relaxed);
        let seq = self.sequencer.next_message(dropped);
        let mut envelope = Vec::new();
        if let Err(err) = message_envelope(self.origin, seq, relayed, self.limits, &mut envelope) {
            // The reader relayed it under the same limit, so this is a bug: the number is used,
            // and receivers count the message as a gap.
            log::error!("bus: message {seq} cannot be wrapped: {err}");
            self.counters.publish_dropped.fetch_add(1, Relaxed);
            return;
        }
        let envelope_len = envelope.len();
        match client.publish(subject.clone(), envelope.into()).await {
            Ok(()) => {
                self.counters.published.fetch_add(1, Relaxed);
            }
            Err(err) => {
                self.counters.publish_dropped.fetch_add(1, Relaxed);
                if err.kind() == async_nats::client::PublishErrorKind::MaxPayloadExceeded {
                    // Every message this large fails the same way: said plainly, at error level.
                    log::error!(
                        "bus: message {seq} not published: its envelope ({} bytes) is larger than \
                         the NATS server's max_payload ({} bytes); raise max_payload in the NATS \
                         servers' configuration or lower the frame limit (§11.5)",
                        envelope_len,
                        client.server_info().max_payload
                    );
                } else {
                    log::warn!("bus: message {seq} not published: {err}");
                }
            }
        }
    }

    /// Publishes a heartbeat that carries the last number given (§11.4, FC-45).
    async fn publish_heartbeat(
        &mut self,
        client: &async_nats::Client,
        subject: &async_nats::Subject,
    ) {
        let dropped = self.counters.unsequenced_drops.swap(0, Relaxed);
        let last_seq = self.sequencer.heartbeat(dropped);
        let mut envelope = Vec::new();
        let heartbeat = Envelope::<&str>::Heartbeat {
            origin: self.origin,
            last_seq,
        };
        if heartbeat.encode(self.limits, &mut envelope).is_ok() {
            if let Err(err) = client.publish(subject.clone(), envelope.into()).await {
                log::warn!("bus: heartbeat not published: {err}");
            }
        }
    }

    /// Reads one publication: decodes it, tracks it, delivers it if its verdict says so.
    fn receive(&mut self, payload: &[u8], now: Instant) {
        match Envelope::decode(payload, self.limits) {
            Err(err) => {
                self.tracker.on_malformed();
                log::warn!("bus: dropped a malformed envelope: {err}");
            }
            Ok(envelope) => {
                let verdict = self.tracker.on_envelope(&envelope, now);
                let origin = envelope.origin();
                log_verdict(verdict, origin);
                if let (Verdict::Deliver { .. }, Envelope::Message { message, .. }) =
                    (verdict, envelope)
                {
                    self.deliver(message);
                }
            }
        }
        self.after_tracking();
    }

    /// Gives a remote message to the room, as a BROADCAST from its sender (§11.2).
    fn deliver(&self, message: RelayedMessage) {
        let relayed = Relayed::encode(
            Profile::Typed,
            self.limits,
            message.from,
            message.sent_at,
            message.relayed_at,
            &message.text,
        );
        match relayed {
            Ok(relayed) => {
                self.hub.broadcast(Outgoing::Broadcast(relayed));
            }
            // It was decoded under this node's limit, so it encodes under it too.
            Err(err) => log::error!("bus: a delivered message cannot be encoded: {err}"),
        }
    }

    /// Logs the membership changes and mirrors the counters.
    fn after_tracking(&mut self) {
        while let Some(change) = self.tracker.poll_membership() {
            log_membership(change);
        }
        self.counters
            .mirror(&self.tracker.stats(), self.tracker.alive_count());
    }
}

/// Appends the envelope of a local message (§11.2): the sender's typed BROADCAST bytes as they
/// are when it is typed, its frame encoded once otherwise.
fn message_envelope(
    origin: Origin,
    seq: u64,
    relayed: &Relayed,
    limits: Limits,
    out: &mut Vec<u8>,
) -> Result<(), crate::cluster::BusEncodeError> {
    if let Some(frame) = relayed.broadcast_in(Profile::Typed) {
        crate::cluster::write_message_envelope(origin, seq, frame, out);
        return Ok(());
    }
    let text = relayed.text().unwrap_or_default();
    let envelope = Envelope::Message {
        origin,
        seq,
        message: RelayedMessage {
            from: relayed.from(),
            sent_at: relayed.sent_at(),
            relayed_at: relayed.relayed_at(),
            text,
        },
    };
    envelope.encode(limits, out).map(drop)
}

/// The configured URL of the server the client reached (matched on its port), or what the server
/// says of itself when none matches.
fn connected_server(configured: &[String], info: &async_nats::ServerInfo) -> String {
    configured
        .iter()
        .find(|url| {
            url.parse::<ServerAddr>()
                .is_ok_and(|addr| addr.port() == info.port)
        })
        .cloned()
        .unwrap_or_else(|| format!("nats://{}:{}", info.host, info.port))
}

/// Runs `publication` unless the stop comes first, and then gives the stop's deadline.
///
/// A publication waits while the client's own buffer is full, which it is when the connection
/// dropped before the bus heard of it: the stop must not wait behind it.
async fn or_stopped(
    publication: impl std::future::Future<Output = ()>,
    stopped: &mut oneshot::Receiver<Instant>,
) -> Option<Instant> {
    tokio::select! {
        () = publication => None,
        deadline = stopped => Some(deadline.unwrap_or_else(|_| Instant::now())),
    }
}

async fn sleep_until_or_forever(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn log_verdict(verdict: Verdict, origin: Origin) {
    let node = origin.node;
    match verdict {
        Verdict::Deliver { gap } if gap > 0 => {
            log::warn!("bus: gap of {gap} messages from node {node:016x}");
        }
        Verdict::Heartbeat { lost_tail } if lost_tail > 0 => {
            log::warn!("bus: {lost_tail} messages of node {node:016x} never arrived (lost tail)");
        }
        Verdict::NodeIdClash => log::error!(
            "bus: another process runs with this node's id {node:016x} (epoch {}): give each node its own --node-id",
            origin.epoch
        ),
        _ => {}
    }
}

fn log_membership(change: MembershipChange) {
    match change {
        MembershipChange::Joined { origin } => log::info!(
            "bus: node {:016x} joined (epoch {})",
            origin.node,
            origin.epoch
        ),
        MembershipChange::Returned { origin } => {
            log::info!("bus: node {:016x} is back", origin.node)
        }
        MembershipChange::Restarted {
            node,
            previous_epoch,
            epoch,
        } => log::info!("bus: node {node:016x} restarted (epoch {previous_epoch} -> {epoch})"),
        MembershipChange::Gone { origin } => {
            log::warn!("bus: node {:016x} is gone", origin.node)
        }
        MembershipChange::TagClash { origin } => log::error!(
            "bus: node {:016x} has this node's peer-id tag (FC-41): give it another --node-id",
            origin.node
        ),
    }
}

/// This node's run for `config`: its configured id or 64 random bits, and the start time in
/// microseconds as its epoch (§11.2).
pub(super) fn origin_for(config: &ClusterConfig) -> Origin {
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        });
    Origin {
        node: config.node.unwrap_or_else(random_node_id),
        epoch,
    }
}

/// 64 random bits without a dependency: std's `RandomState` is seeded from the OS's randomness
/// once per process, and hashing the time and the process id with it gives a fresh value.
fn random_node_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests;
