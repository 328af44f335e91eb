//! The stress bench: the notebook's exercise 3 ("50 concurrent clients; record rps and avg service ms")
//! as a load generator that reports throughput, latency percentiles and loss together.
//!
//! Every client connects first; then all start at once. Each sends closed-loop, with at most
//! `window` of its own messages not yet echoed back, and reads everything it receives (its echoes
//! and every other client's broadcasts) the whole time. A message therefore costs `clients`
//! deliveries: one echo and `clients − 1` broadcasts. The same workload drives a framechat server in
//! either profile, the notebook's Python server (legacy), or a NATS server (every client subscribes to one
//! subject and publishes to it, so it receives its own message back and every other client's).
//!
//! Given several addresses (the nodes of one cluster, §11), the bench places its clients on them
//! round-robin ([`node_of`]) and reports latency twice more: for deliveries whose sender is on the
//! receiver's node ("local") and for the others ("cross-node"), which crossed the bus.

mod cpu;
mod nats;

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_std::channel;
use async_std::net::Shutdown;
use async_std::task;
use clap::ValueEnum;
use hdrhistogram::Histogram;

use crate::client::{self, Reader, TlsClient, Token, Writer};
use crate::AnyError;
use framechat::futures::Error;
use framechat::server::{Server, ServerConfig, ServerHandle, Snapshot};
use framechat::{Frame, Limits, Profile, UnixMicros};

/// Which server protocol the bench speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Target {
    /// framechat's typed profile: latency from the frames' `sent_at`, sender to every receiver.
    Typed,
    /// The notebook's framing: latency is the sender's echo round trip.
    Legacy,
    /// A NATS server: PUB/SUB on one subject; latency from a timestamp in the payload.
    Nats,
}

/// How long the load lasts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Load {
    /// Each client sends this many messages.
    Messages(u64),
    /// Clients send until this much time has passed.
    Duration(Duration),
}

/// The bench's settings; each is a `framechat bench` flag.
#[derive(Clone, Debug)]
pub(crate) struct BenchConfig {
    /// The servers, one per node of a cluster, clients placed on them round-robin ([`node_of`]);
    /// none starts a framechat server in-process on a free port.
    pub addrs: Vec<SocketAddr>,
    /// The protocol spoken.
    pub target: Target,
    /// Concurrent clients. Default 50, as the notebook's exercise.
    pub clients: usize,
    /// How much each client sends.
    pub load: Load,
    /// Message size in bytes (NATS: at least 16, for the sender id and timestamp).
    pub size: usize,
    /// Messages each client may have in flight (sent, own echo not yet received).
    pub window: usize,
    /// How long to wait for deliveries still in flight after the last send.
    pub drain: Duration,
    /// Nodes, for the capacity estimate.
    pub nodes: f64,
    /// Utilization, for the capacity estimate.
    pub utilization: f64,
    /// Sent in AUTH by typed clients, for a server that requires it (§8.9).
    pub token: Option<Token>,
    /// Speak TLS to `addr` (a framechat server's TLS listener); `None` for plain TCP.
    pub tls: Option<TlsClient>,
    /// Measure connection setup instead of the load: open this many connections one after
    /// another. `None` for the load.
    pub handshakes: Option<u64>,
    /// The processes of the servers at `addrs` (one per node), whose CPU time, summed, the report
    /// divides by the deliveries. Ignored for an in-process server, whose process is the bench's
    /// own.
    pub server_pids: Vec<u32>,
}

impl BenchConfig {
    /// Messages each client sends by default.
    pub(crate) const DEFAULT_MESSAGES: u64 = 1000;
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            addrs: Vec::new(),
            target: Target::Typed,
            clients: 50,
            load: Load::Messages(Self::DEFAULT_MESSAGES),
            size: 16,
            window: 1,
            drain: Duration::from_secs(5),
            nodes: 1.0,
            utilization: 0.7,
            token: None,
            tls: None,
            handshakes: None,
            server_pids: Vec::new(),
        }
    }
}

/// What a bench run measured.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Report {
    /// The protocol spoken.
    pub target: Target,
    /// Whether the clients spoke TLS.
    pub tls: bool,
    /// Clients.
    pub clients: usize,
    /// Message size.
    pub size: usize,
    /// Window per client.
    pub window: usize,
    /// Messages sent by all clients.
    pub messages_sent: u64,
    /// Seconds from the start to the last delivery.
    pub elapsed_s: f64,
    /// Echoes received per second (each sender's own messages back).
    pub echo_rps: f64,
    /// Frames received per second: echoes and broadcasts.
    pub deliveries_per_s: f64,
    /// Deliveries received.
    pub deliveries: u64,
    /// Deliveries expected (`messages_sent × clients`) and not received before the drain ended.
    pub lost: u64,
    /// Why: the clients that lost deliveries, grouped by how their run ended.
    pub lost_by: Vec<LostBy>,
    /// The in-process server's mean relay time (a message decoded → queued for every peer), in
    /// milliseconds; `None` against an external server. It leaves out the writes to the peers.
    pub server_relay_ms: Option<f64>,
    /// The mean service time per message, as the notebook means it (the server's whole
    /// work per message, writes included), seen from outside: `1 / echo_rps`, in milliseconds.
    pub avg_service_ms: f64,
    /// End-to-end latency percentiles in microseconds: p50, p90, p99, p99.9, max.
    pub latency_us: [u64; 5],
    /// The nodes the clients were spread over: the addresses driven (1 for an in-process server).
    pub nodes_driven: usize,
    /// Latency of the deliveries whose sender is on the receiver's node (echoes included).
    pub local: Option<LatencySplit>,
    /// Latency of the deliveries whose sender is on another node: they crossed the bus.
    pub cross_node: Option<LatencySplit>,
    /// `1 / avg_service_ms`: the measured per-node rate, by construction.
    pub rps_per_node: f64,
    /// `nodes × rps_per_node × utilization`.
    pub cluster_rps: f64,
    /// The capacity inputs.
    pub nodes: f64,
    /// The capacity inputs.
    pub utilization: f64,
    /// The server's CPU time over the load, when its process could be read.
    pub server_cpu: Option<ServerCpu>,
}

/// A server's CPU time over the load (from the first client's start to the last one's end), and
/// per delivery. `/proc` counts in 10 ms ticks: a load shorter than a second reads coarsely.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ServerCpu {
    /// User CPU, seconds.
    pub user_s: f64,
    /// System CPU, seconds.
    pub system_s: f64,
    /// User CPU per delivery received, microseconds.
    pub user_us_per_delivery: f64,
    /// System CPU per delivery received, microseconds.
    pub system_us_per_delivery: f64,
    /// The process measured is the bench's own (an in-process server): the clients' CPU is in it,
    /// so it bounds the server's from above.
    pub includes_clients: bool,
}

impl ServerCpu {
    fn new(spent: cpu::CpuTimes, deliveries: u64, includes_clients: bool) -> ServerCpu {
        let per_delivery = |time: Duration| time.as_secs_f64() * 1e6 / deliveries.max(1) as f64;
        ServerCpu {
            user_s: spent.user.as_secs_f64(),
            system_s: spent.system.as_secs_f64(),
            user_us_per_delivery: per_delivery(spent.user),
            system_us_per_delivery: per_delivery(spent.system),
            includes_clients,
        }
    }
}

/// The latency of one kind of delivery (local or cross-node), in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LatencySplit {
    /// Deliveries timed.
    pub samples: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

impl LatencySplit {
    /// `None` when nothing was timed.
    fn of(histogram: &Histogram<u64>) -> Option<LatencySplit> {
        (!histogram.is_empty()).then(|| LatencySplit {
            samples: histogram.len(),
            p50_us: histogram.value_at_quantile(0.5),
            p99_us: histogram.value_at_quantile(0.99),
        })
    }

    fn to_json(split: Option<LatencySplit>) -> serde_json::Value {
        match split {
            Some(split) => serde_json::json!({
                "samples": split.samples, "p50": split.p50_us, "p99": split.p99_us,
            }),
            None => serde_json::Value::Null,
        }
    }

    fn to_text(split: Option<LatencySplit>) -> String {
        match split {
            Some(split) => format!(
                "p50 {} µs, p99 {} µs ({} timed)",
                split.p50_us, split.p99_us, split.samples
            ),
            None => "none timed".to_string(),
        }
    }
}

/// The node client `client` (counted from 0) connects to among `nodes`: round-robin, so each node
/// gets `clients / nodes` clients and the first `clients % nodes` nodes one more.
pub(crate) fn node_of(client: usize, nodes: usize) -> usize {
    client % nodes.max(1)
}

/// Where a client sits, to tell the deliveries from its own node from those that crossed the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seat {
    /// The client's node, by [`node_of`].
    pub(crate) node: usize,
    pub(crate) nodes: usize,
    /// The high 32 bits of the client's peer id (from WELCOME): the tag of its node (FC-41), which
    /// every peer id that node gives carries too. `None` for legacy and NATS clients.
    pub(crate) tag: Option<u32>,
}

impl Seat {
    /// Whether a BROADCAST from `from` came from another node: its peer id carries another tag
    /// (FC-41). With one node, nothing does.
    pub(crate) fn is_cross_node_peer(self, from: u64) -> bool {
        self.nodes > 1 && self.tag.is_some_and(|tag| tag != peer_tag(from))
    }

    /// Whether bench client `sender` (numbered from 1, as NATS payloads carry it) is on another
    /// node.
    pub(crate) fn is_cross_node_client(self, sender: u64) -> bool {
        let sender = usize::try_from(sender.saturating_sub(1)).unwrap_or(usize::MAX);
        node_of(sender, self.nodes) != self.node
    }
}

/// A peer id's high 32 bits: its node's tag (FC-41).
fn peer_tag(peer_id: u64) -> u32 {
    (peer_id >> 32) as u32
}

/// Clients that lost deliveries for one reason.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LostBy {
    /// How their runs ended.
    pub reason: String,
    /// How many clients ended so.
    pub clients: usize,
    /// The deliveries they did not receive.
    pub lost: u64,
}

/// What a client that lost deliveries was not told about its end.
pub(crate) const NO_REASON: &str =
    "no reason given: the stream ended without an ERROR, or nothing more came within the drain time";

/// Groups the clients that received fewer than `expected` deliveries by their end's reason, the
/// largest loss first, so that no lost delivery goes unexplained.
pub(crate) fn lost_by(ends: &[ClientEnd], expected: u64) -> Vec<LostBy> {
    let mut groups: Vec<LostBy> = Vec::new();
    for end in ends {
        let lost = expected.saturating_sub(end.deliveries);
        if lost == 0 {
            continue;
        }
        let reason = end.reason.as_deref().unwrap_or(NO_REASON);
        match groups.iter_mut().find(|group| group.reason == reason) {
            Some(group) => {
                group.clients += 1;
                group.lost += lost;
            }
            None => groups.push(LostBy {
                reason: reason.to_string(),
                clients: 1,
                lost,
            }),
        }
    }
    groups.sort_by(|a, b| b.lost.cmp(&a.lost).then_with(|| a.reason.cmp(&b.reason)));
    groups
}

/// Shared tallies of one run.
struct Tally {
    deliveries: AtomicU64,
    echoes: AtomicU64,
    sent: AtomicU64,
    latency_us: Mutex<Histogram<u64>>,
    local_us: Mutex<Histogram<u64>>,
    cross_node_us: Mutex<Histogram<u64>>,
    last_delivery: Mutex<Option<Instant>>,
    stop_sending: AtomicBool,
    /// Clients whose sending is over (they may still be draining).
    senders_done: AtomicU64,
    /// Clients entirely done.
    clients_done: AtomicU64,
    /// Each finished client's deliveries and why its stream ended, to explain what was lost.
    ends: Mutex<Vec<ClientEnd>>,
}

/// How one client's run ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ClientEnd {
    /// Deliveries the client received.
    pub(crate) deliveries: u64,
    /// Why it stopped early, if it was told or its connection failed.
    pub(crate) reason: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            deliveries: AtomicU64::new(0),
            echoes: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            latency_us: Mutex::new(latency_histogram()),
            local_us: Mutex::new(latency_histogram()),
            cross_node_us: Mutex::new(latency_histogram()),
            last_delivery: Mutex::new(None),
            stop_sending: AtomicBool::new(false),
            senders_done: AtomicU64::new(0),
            clients_done: AtomicU64::new(0),
            ends: Mutex::new(Vec::new()),
        }
    }
}

/// Latencies from 1 µs to 10 minutes, 3 significant digits.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("static histogram bounds")
}

/// `framechat bench`: runs the bench with a progress bar on a terminal, then prints the report.
/// The bar counts messages sent against the quota, or, for a timed load, time against its length.
pub(crate) async fn command(config: BenchConfig, json: bool) -> Result<(), AnyError> {
    if let Some(connections) = config.handshakes {
        let report = run_handshakes(&config, connections).await?;
        crate::say(&if json {
            report.to_json()
        } else {
            report.to_text()
        });
        return Ok(());
    }
    let template = match config.load {
        Load::Messages(_) => "{spinner} {elapsed_precise} [{bar:30}] sent {pos}/{len} ({per_sec})",
        Load::Duration(_) => "{spinner} {elapsed_precise} [{bar:30}] {msg}",
    };
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let started = Instant::now();
    let report = run(&config, |sent, quota| {
        let Some(bar) = &bar else { return };
        match config.load {
            Load::Messages(_) => {
                bar.set_length(quota.max(sent));
                bar.set_position(sent);
            }
            Load::Duration(limit) => {
                let limit_ms = limit.as_millis().max(1) as u64;
                bar.set_length(limit_ms);
                bar.set_position((started.elapsed().as_millis() as u64).min(limit_ms));
                bar.set_message(format!("sent {sent}"));
            }
        }
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if json {
        crate::say(&report.to_json());
    } else {
        crate::say(&report.to_text());
    }
    Ok(())
}

/// How often `run` reports progress while the clients work.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Runs the bench; `progress` is called about 10 times a second with (messages sent, messages to
/// send in all, or 0 for a timed load).
pub(crate) async fn run(
    config: &BenchConfig,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report, Error> {
    let (addrs, in_process) = servers(config).await?;
    let tally = Arc::new(Tally::new());
    // Dropping `go` starts every client at once.
    let (go, ready) = channel::bounded::<()>(1);
    let mut clients = Vec::with_capacity(config.clients);
    for id in 0..config.clients {
        let node = node_of(id, addrs.len());
        let conn = Connection::open(
            addrs[node],
            config.target,
            config.tls.as_ref(),
            config.token.as_ref(),
        )
        .await?;
        let seat = Seat {
            node,
            nodes: addrs.len(),
            tag: conn.peer_id().map(peer_tag),
        };
        let (tally, ready, config) = (tally.clone(), ready.clone(), config.clone());
        clients.push(task::spawn(async move {
            let _ = ready.recv().await;
            let result = conn.drive(&config, &tally, id as u64 + 1, seat).await;
            tally.clients_done.fetch_add(1, Relaxed);
            result
        }));
    }
    if config.target == Target::Legacy {
        // A legacy connection has no WELCOME to confirm that the server registered it, and a
        // server registers it after `connect` returns (the notebook's in its accept thread): let the
        // accepts settle, or the first broadcasts would miss late registrants.
        task::sleep(LEGACY_SETTLE).await;
    }
    let measured: Vec<cpu::Process> = match &in_process {
        Some(_) => vec![cpu::Process::Own],
        None => config
            .server_pids
            .iter()
            .map(|&pid| cpu::Process::Pid(pid))
            .collect(),
    };
    let cpu_before = cpu::Process::total_times(&measured);
    let start = Instant::now();
    drop(go);
    if let Load::Duration(limit) = config.load {
        let tally = tally.clone();
        task::spawn(async move {
            task::sleep(limit).await;
            tally.stop_sending.store(true, Relaxed);
        });
    }
    let quota = match config.load {
        Load::Messages(n) => n * config.clients as u64,
        Load::Duration(_) => 0,
    };
    while tally.clients_done.load(Relaxed) < config.clients as u64 {
        task::sleep(PROGRESS_EVERY).await;
        progress(tally.sent.load(Relaxed), quota);
    }
    for client in clients {
        client.await?;
    }
    let cpu_spent = cpu::Process::total_times(&measured)
        .zip(cpu_before)
        .map(|(after, before)| after.since(before));
    let last = lock(&tally.last_delivery).unwrap_or_else(Instant::now);
    let elapsed_s = last.duration_since(start).as_secs_f64().max(1e-9);
    let server_relay_ms = match in_process {
        Some(server) => Some(server.stop().await.avg_service_ms),
        None => None,
    };
    let mut report = Report::new(config, &tally, elapsed_s, server_relay_ms);
    report.server_cpu = cpu_spent
        .map(|spent| ServerCpu::new(spent, report.deliveries, measured == [cpu::Process::Own]));
    Ok(report)
}

/// The servers to drive: `config.addrs`, or else one started in-process, returned too so that the
/// caller stops it.
async fn servers(
    config: &BenchConfig,
) -> Result<(Vec<SocketAddr>, Option<InProcessServer>), Error> {
    if !config.addrs.is_empty() {
        return Ok((config.addrs.clone(), None));
    }
    let server = InProcessServer::start().await?;
    Ok((vec![server.handle.local_addr()], Some(server)))
}

/// The framechat server `run` starts when it is given no address.
pub(crate) struct InProcessServer {
    pub(crate) handle: ServerHandle,
    running: task::JoinHandle<std::io::Result<Snapshot>>,
}

impl InProcessServer {
    pub(crate) async fn start() -> Result<InProcessServer, Error> {
        let server = Server::bind(ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_interval: None,
            // Every client here speaks first, so its first bytes decide its profile: a client
            // descheduled between connect and first write must not be judged legacy by the clock.
            detect_window: crate::IN_PROCESS_DETECT_WINDOW,
            ..ServerConfig::default()
        })
        .await
        .map_err(std::io::Error::from)?;
        Ok(InProcessServer {
            handle: server.handle(),
            running: task::spawn(server.run()),
        })
    }

    /// Shuts the server down; returns its metrics from before the shutdown.
    pub(crate) async fn stop(self) -> Snapshot {
        let metrics = self.handle.metrics();
        self.handle.shutdown();
        let _ = self.running.await;
        metrics
    }
}

impl Report {
    fn new(
        config: &BenchConfig,
        tally: &Tally,
        elapsed_s: f64,
        server_relay_ms: Option<f64>,
    ) -> Report {
        let expected_per_message = config.clients as u64;
        let sent = tally.sent.load(Relaxed);
        let deliveries = tally.deliveries.load(Relaxed);
        let echoes = tally.echoes.load(Relaxed);
        let echo_rps = echoes as f64 / elapsed_s;
        // Each node echoes its own clients' messages: over N nodes, one node's share of the rate.
        let nodes_driven = config.addrs.len().max(1);
        let avg_service_ms = if echo_rps > 0.0 {
            1e3 * nodes_driven as f64 / echo_rps
        } else {
            0.0
        };
        let rps_per_node = if avg_service_ms > 0.0 {
            1e3 / avg_service_ms
        } else {
            0.0
        };
        let local = LatencySplit::of(&lock(&tally.local_us));
        let cross_node = LatencySplit::of(&lock(&tally.cross_node_us));
        let latency_us = match lock(&tally.latency_us) {
            h if !h.is_empty() => [
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.9),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                h.max(),
            ],
            _ => [0; 5],
        };
        Report {
            target: config.target,
            tls: config.tls.is_some(),
            clients: config.clients,
            size: config.size,
            window: config.window,
            messages_sent: sent,
            elapsed_s,
            echo_rps,
            deliveries_per_s: deliveries as f64 / elapsed_s,
            deliveries,
            lost: (sent * expected_per_message).saturating_sub(deliveries),
            lost_by: lost_by(&lock(&tally.ends), sent),
            server_relay_ms,
            avg_service_ms,
            latency_us,
            nodes_driven,
            local,
            cross_node,
            rps_per_node,
            cluster_rps: config.nodes * rps_per_node * config.utilization,
            nodes: config.nodes,
            utilization: config.utilization,
            server_cpu: None,
        }
    }
}

/// One bench client's connection, in the protocol of the run.
// One per client, moved once into its task: boxing the larger variant would save nothing.
#[allow(clippy::large_enum_variant)]
enum Connection {
    Framechat {
        reader: Reader,
        writer: Writer,
        /// From WELCOME; `None` for legacy.
        peer_id: Option<u64>,
    },
    Nats(nats::Connection),
}

/// A client's sending half.
enum BenchWriter {
    Framechat {
        writer: Writer,
        /// Legacy only: send times, for the echo round trip (echoes return in order).
        send_times: Option<SendTimes>,
        /// Every message's text: one allocation for the whole run.
        text: String,
    },
    Nats(nats::Writer),
}

type SendTimes = Arc<Mutex<VecDeque<Instant>>>;

impl BenchWriter {
    /// Ends the connection, so the reader's pending read returns.
    fn shutdown(&self) {
        match self {
            BenchWriter::Framechat { writer, .. } => {
                let _ = writer.get_ref().socket().shutdown(Shutdown::Both);
            }
            BenchWriter::Nats(writer) => writer.shutdown(),
        }
    }

    async fn send_one(&mut self) -> Result<(), Error> {
        match self {
            BenchWriter::Framechat {
                writer,
                send_times,
                text,
            } => {
                if let Some(times) = send_times {
                    lock(times).push_back(Instant::now());
                }
                client::send_message(writer, text, UnixMicros::now()).await
            }
            BenchWriter::Nats(writer) => writer.send_one().await,
        }
    }
}

/// What a client's reader saw, merged into the tally at its end.
struct Seen {
    echoes: u64,
    /// Deliveries from the receiver's node; all of them with one node.
    local_us: Histogram<u64>,
    /// Deliveries from other nodes.
    cross_node_us: Histogram<u64>,
    last: Option<Instant>,
    /// Why the server ended this client's stream, when it said (an ERROR frame) or when the
    /// connection failed; `None` for an end with no word.
    end: Option<String>,
}

/// A client's live delivery count: its own atomic, so readers never contend on one cache line.
#[derive(Default)]
struct Progress {
    deliveries: AtomicU64,
    reader_done: AtomicBool,
}

impl Seen {
    fn new() -> Seen {
        Seen {
            echoes: 0,
            local_us: latency_histogram(),
            cross_node_us: latency_histogram(),
            last: None,
            end: None,
        }
    }

    /// One delivery's latency.
    fn record(&mut self, us: u64, cross_node: bool) {
        let histogram = if cross_node {
            &mut self.cross_node_us
        } else {
            &mut self.local_us
        };
        histogram.saturating_record(us.max(1));
    }

    fn merge_into(self, tally: &Tally) {
        tally.echoes.fetch_add(self.echoes, Relaxed);
        {
            let mut all = lock(&tally.latency_us);
            let _ = all.add(&self.local_us);
            let _ = all.add(&self.cross_node_us);
        }
        let _ = lock(&tally.local_us).add(&self.local_us);
        let _ = lock(&tally.cross_node_us).add(&self.cross_node_us);
        if let Some(mine) = self.last {
            let mut last = lock(&tally.last_delivery);
            *last = Some(last.map_or(mine, |l| l.max(mine)));
        }
    }
}

/// Connects a framechat client (inside TLS when `tls` is given) and, if typed, reads its WELCOME
/// (§8.3), which is not part of the workload; its peer id is returned with the connection.
async fn open_framechat(
    addr: SocketAddr,
    profile: Profile,
    tls: Option<&TlsClient>,
    token: Option<&Token>,
) -> Result<(Reader, Writer, Option<u64>), Error> {
    let (mut reader, writer) =
        client::connect_over(addr, tls, profile, Limits::default(), token).await?;
    let mut peer_id = None;
    if profile == Profile::Typed {
        // WELCOME first (§8.3); it is not part of the workload.
        match futures_lite::StreamExt::try_next(&mut reader).await? {
            Some(Frame::Welcome { peer_id: id, .. }) => peer_id = Some(id),
            // UNAUTHORIZED, most likely: no --token-file, or a token the server does not admit.
            Some(Frame::Error { code, reason }) => {
                return Err(protocol_error(format!(
                    "the server refused the connection: ERROR {code}: {reason}"
                )))
            }
            other => return Err(protocol_error(format!("expected WELCOME, got {other:?}"))),
        }
    }
    Ok((reader, writer, peer_id))
}

/// What `--handshakes N` measured: connections set up one after another.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HandshakeReport {
    /// The profile spoken.
    pub target: Target,
    /// Whether each connection did a TLS handshake.
    pub tls: bool,
    /// Connections opened.
    pub connections: u64,
    /// Seconds for all of them.
    pub elapsed_s: f64,
    /// `connections / elapsed_s`.
    pub per_s: f64,
    /// Setup time of one connection (connect, handshake, WELCOME), microseconds: p50, p99, max.
    pub setup_us: [u64; 3],
}

/// Opens `connections` connections one after another, each to its end: TCP connect, the TLS
/// handshake with `config.tls`, and for typed the WELCOME; each is then closed (our end of
/// stream) before the next, so the server's cost per connection is what is measured.
pub(crate) async fn run_handshakes(
    config: &BenchConfig,
    connections: u64,
) -> Result<HandshakeReport, Error> {
    let profile = match config.target {
        Target::Typed => Profile::Typed,
        Target::Legacy => Profile::Legacy,
        Target::Nats => {
            return Err(protocol_error(
                "--handshakes measures framechat servers, not --profile nats".to_string(),
            ))
        }
    };
    let (addrs, in_process) = servers(config).await?;
    let mut setup_us = latency_histogram();
    let start = Instant::now();
    for connection in 0..connections {
        let began = Instant::now();
        let addr = addrs[node_of(
            usize::try_from(connection).unwrap_or(usize::MAX),
            addrs.len(),
        )];
        let (_reader, mut writer, _) =
            open_framechat(addr, profile, config.tls.as_ref(), config.token.as_ref()).await?;
        setup_us.saturating_record(began.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
        // A failed close costs the server nothing more: the next connection does not wait on it.
        let _ = client::finish(&mut writer).await;
    }
    let elapsed_s = start.elapsed().as_secs_f64().max(1e-9);
    if let Some(server) = in_process {
        server.stop().await;
    }
    Ok(HandshakeReport {
        target: config.target,
        tls: config.tls.is_some(),
        connections,
        elapsed_s,
        per_s: connections as f64 / elapsed_s,
        setup_us: [
            setup_us.value_at_quantile(0.5),
            setup_us.value_at_quantile(0.99),
            setup_us.max(),
        ],
    })
}

impl HandshakeReport {
    /// One JSON object.
    pub(crate) fn to_json(&self) -> String {
        let [p50, p99, max] = self.setup_us;
        serde_json::json!({
            "mode": "handshakes",
            "target": format!("{:?}", self.target),
            "tls": self.tls,
            "connections": self.connections,
            "elapsed_s": rounded(self.elapsed_s, 3),
            "connections_per_s": rounded(self.per_s, 1),
            "setup_us": { "p50": p50, "p99": p99, "max": max },
        })
        .to_string()
    }

    /// For people.
    pub(crate) fn to_text(&self) -> String {
        let [p50, p99, max] = self.setup_us;
        let over = if self.tls { "TLS" } else { "TCP" };
        format!(
            "handshakes, target {:?} over {over}: {} connections one after another\n\
             elapsed            {:.3} s\n\
             connections/s      {:.1}\n\
             setup (connect{}{}): p50 {p50} µs, p99 {p99} µs, max {max} µs",
            self.target,
            self.connections,
            self.elapsed_s,
            self.per_s,
            if self.tls { ", TLS handshake" } else { "" },
            if self.target == Target::Typed {
                ", WELCOME"
            } else {
                ""
            },
        )
    }
}

/// How often a client whose sending is over checks whether its reader is done.
const POLL: Duration = Duration::from_millis(10);

/// How long legacy clients wait after connecting before the load starts.
const LEGACY_SETTLE: Duration = Duration::from_millis(250);

/// The server broke the protocol the bench speaks with it.
fn protocol_error(what: String) -> Error {
    Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, what))
}

impl Connection {
    async fn open(
        addr: SocketAddr,
        target: Target,
        tls: Option<&TlsClient>,
        token: Option<&Token>,
    ) -> Result<Connection, Error> {
        let profile = match target {
            Target::Typed => Profile::Typed,
            Target::Legacy => Profile::Legacy,
            Target::Nats => return Ok(Connection::Nats(nats::Connection::open(addr).await?)),
        };
        let (reader, writer, peer_id) = open_framechat(addr, profile, tls, token).await?;
        Ok(Connection::Framechat {
            reader,
            writer,
            peer_id,
        })
    }

    /// The peer id a framechat server gave a typed client.
    fn peer_id(&self) -> Option<u64> {
        match self {
            Connection::Framechat { peer_id, .. } => *peer_id,
            Connection::Nats(_) => None,
        }
    }

    /// Sends closed-loop and reads everything until the drain ends.
    async fn drive(
        self,
        config: &BenchConfig,
        tally: &Arc<Tally>,
        me: u64,
        seat: Seat,
    ) -> Result<(), Error> {
        let (tokens, token) = channel::unbounded::<()>();
        let progress = Arc::new(Progress::default());
        let (mut writer, reading) = match self {
            Connection::Framechat { reader, writer, .. } => {
                let send_times = (writer.encoder().profile() == Profile::Legacy)
                    .then(|| Arc::new(Mutex::new(VecDeque::new())));
                let reading = task::spawn(read_framechat(
                    reader,
                    progress.clone(),
                    tokens,
                    send_times.clone(),
                    seat,
                ));
                let text = "x".repeat(config.size);
                let writer = BenchWriter::Framechat {
                    writer,
                    send_times,
                    text,
                };
                (writer, reading)
            }
            Connection::Nats(connection) => {
                let (writer, reading) =
                    connection.start(me, seat, config.size, progress.clone(), tokens);
                (BenchWriter::Nats(writer), reading)
            }
        };
        let sending = send_closed_loop(&mut writer, config, tally, &token).await;
        tally.senders_done.fetch_add(1, Relaxed);
        drain(&writer, config, tally, &progress).await;
        let mut seen = reading.await?;
        let deliveries = progress.deliveries.load(Relaxed);
        tally.deliveries.fetch_add(deliveries, Relaxed);
        // The reader's reason first: a send fails because the server closed, and said why.
        let reason = seen.end.take().or_else(|| {
            sending
                .err()
                .map(|err| format!("sending failed: {}", crate::error_chain(&err)))
        });
        lock(&tally.ends).push(ClientEnd { deliveries, reason });
        seen.merge_into(tally);
        Ok(())
    }
}

/// Sends the client's quota (or until the timed load ends), with at most `window` messages whose
/// echo has not come back; an echo that does not come within the drain time ends the sending.
async fn send_closed_loop(
    writer: &mut BenchWriter,
    config: &BenchConfig,
    tally: &Tally,
    token: &channel::Receiver<()>,
) -> Result<(), Error> {
    let quota = match config.load {
        Load::Messages(n) => n,
        Load::Duration(_) => u64::MAX,
    };
    let mut sent = 0u64;
    while sent < quota && !tally.stop_sending.load(Relaxed) {
        if sent >= config.window as u64 {
            match async_std::future::timeout(config.drain, token.recv()).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        writer.send_one().await?;
        sent += 1;
        tally.sent.fetch_add(1, Relaxed);
    }
    Ok(())
}

/// Once every sender is done, a client expects each sent message once: the reader is ended when
/// it has them all, or when nothing has come for the drain time.
async fn drain(writer: &BenchWriter, config: &BenchConfig, tally: &Tally, progress: &Progress) {
    let mut last_count = progress.deliveries.load(Relaxed);
    let mut last_change = Instant::now();
    while !progress.reader_done.load(Relaxed) {
        let count = progress.deliveries.load(Relaxed);
        if count != last_count {
            (last_count, last_change) = (count, Instant::now());
        }
        let all_sent = tally.senders_done.load(Relaxed) == config.clients as u64;
        if all_sent && (count >= tally.sent.load(Relaxed) || last_change.elapsed() > config.drain) {
            writer.shutdown();
            break;
        }
        task::sleep(POLL).await;
    }
}

/// Reads a framechat connection with borrowed frames (no allocation per frame) until it ends.
async fn read_framechat(
    mut reader: Reader,
    progress: Arc<Progress>,
    tokens: channel::Sender<()>,
    send_times: Option<SendTimes>,
    seat: Seat,
) -> Result<Seen, Error> {
    let mut seen = Seen::new();
    let mut deliveries = 0u64;
    loop {
        // One clock reading per read: every frame of a read arrived together.
        let mut arrived: Option<(UnixMicros, Instant)> = None;
        let read = reader
            .read_each(|frame| {
                let (now, instant) =
                    *arrived.get_or_insert_with(|| (UnixMicros::now(), Instant::now()));
                // (latency, whether the sender is on another node)
                let latency = match frame {
                    Frame::Echo { sent_at, .. } => {
                        seen.echoes += 1;
                        let _ = tokens.try_send(());
                        Some((now.saturating_since(sent_at), false))
                    }
                    Frame::Broadcast { from, sent_at, .. } => {
                        Some((now.saturating_since(sent_at), seat.is_cross_node_peer(from)))
                    }
                    Frame::Text(text) if text.starts_with("echo: ") => {
                        seen.echoes += 1;
                        let _ = tokens.try_send(());
                        let sent = send_times
                            .as_ref()
                            .and_then(|times| lock(times).pop_front());
                        sent.map(|at| {
                            let us = instant.saturating_duration_since(at).as_micros();
                            (u64::try_from(us).unwrap_or(u64::MAX), false)
                        })
                    }
                    Frame::Text(_) => None,
                    Frame::Error { code, reason } => {
                        seen.end =
                            Some(format!("closed by the server with ERROR {code}: {reason}"));
                        return;
                    }
                    // PING/PONG are not part of the workload.
                    _ => return,
                };
                deliveries += 1;
                if let Some((us, cross_node)) = latency {
                    seen.record(us, cross_node);
                }
            })
            .await;
        if let Some((_, instant)) = arrived {
            seen.last = Some(instant);
            progress.deliveries.store(deliveries, Relaxed);
        }
        match read {
            Ok(true) => {}
            // The end of the stream: the drain is over (the writer shut the socket) or the server
            // closed; what did not arrive counts as lost.
            Ok(false) => break,
            Err(Error::Io(err)) => {
                if seen.end.is_none() {
                    seen.end = Some(format!(
                        "the connection failed: {}",
                        crate::error_chain(&err)
                    ));
                }
                break;
            }
            Err(err) => {
                seen.end = Some(format!(
                    "the server sent an invalid stream: {}",
                    crate::error_chain(&err)
                ));
                break;
            }
        }
    }
    progress.reader_done.store(true, Relaxed);
    Ok(seen)
}

/// `value` to `decimals` places: the precision the JSON report has always had.
fn rounded(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

impl Report {
    /// The report as one JSON object, on one line.
    pub(crate) fn to_json(&self) -> String {
        let [p50, p90, p99, p999, max] = self.latency_us;
        serde_json::json!({
            "target": format!("{:?}", self.target),
            "clients": self.clients,
            "size": self.size,
            "window": self.window,
            "messages_sent": self.messages_sent,
            "elapsed_s": rounded(self.elapsed_s, 3),
            "echo_rps": rounded(self.echo_rps, 1),
            "deliveries_per_s": rounded(self.deliveries_per_s, 1),
            "deliveries": self.deliveries,
            "lost": self.lost,
            "lost_by": self.lost_by.iter().map(|group| serde_json::json!({
                "reason": group.reason,
                "clients": group.clients,
                "lost": group.lost,
            })).collect::<Vec<_>>(),
            "avg_service_ms": rounded(self.avg_service_ms, 6),
            "server_relay_ms": self.server_relay_ms.map(|ms| rounded(ms, 6)),
            "latency_us": { "p50": p50, "p90": p90, "p99": p99, "p99_9": p999, "max": max },
            "nodes": self.nodes_driven,
            "latency_local_us": LatencySplit::to_json(self.local),
            "latency_cross_node_us": LatencySplit::to_json(self.cross_node),
            "server_cpu": self.server_cpu.map(|cpu| serde_json::json!({
                "user_s": rounded(cpu.user_s, 3),
                "system_s": rounded(cpu.system_s, 3),
                "user_us_per_delivery": rounded(cpu.user_us_per_delivery, 4),
                "system_us_per_delivery": rounded(cpu.system_us_per_delivery, 4),
                "includes_clients": cpu.includes_clients,
            })),
            "capacity": {
                "nodes": self.nodes,
                "utilization": self.utilization,
                "rps_per_node": rounded(self.rps_per_node, 1),
                "cluster_rps": rounded(self.cluster_rps, 1),
            },
        })
        .to_string()
    }

    /// The report for people.
    /// One line per reason clients lost deliveries, after `lost`.
    fn lost_by_text(&self) -> String {
        self.lost_by
            .iter()
            .map(|group| {
                let clients = if group.clients == 1 {
                    "client"
                } else {
                    "clients"
                };
                format!(
                    "\n  {} lost by {} {clients}: {}",
                    group.lost, group.clients, group.reason
                )
            })
            .collect()
    }

    pub(crate) fn to_text(&self) -> String {
        let [p50, p90, p99, p999, max] = self.latency_us;
        let service_of = match self.nodes_driven {
            1 => "1 / echo rps".to_string(),
            n => format!("{n} nodes / echo rps: one node's share"),
        };
        let relay = match self.server_relay_ms {
            Some(ms) => format!("\nserver relay       {ms:.4} ms (decode → queued for every peer; writes not included)"),
            None => String::new(),
        };
        let latency_kind = match self.target {
            Target::Legacy => "echo round trip",
            Target::Typed | Target::Nats => "end to end, sender to every receiver",
        };
        let over = if self.tls { " over TLS" } else { "" };
        let split = if self.nodes_driven > 1 {
            format!(
                "\nlatency on {} nodes: local {}; cross-node {}",
                self.nodes_driven,
                LatencySplit::to_text(self.local),
                LatencySplit::to_text(self.cross_node)
            )
        } else {
            String::new()
        };
        let cpu = match self.server_cpu {
            Some(cpu) => format!(
                "\nserver CPU         {:.3} µs/delivery user + {:.3} µs system ({:.2} s + {:.2} s{})",
                cpu.user_us_per_delivery,
                cpu.system_us_per_delivery,
                cpu.user_s,
                cpu.system_s,
                if cpu.includes_clients {
                    "; in-process: the clients' CPU included"
                } else {
                    ""
                },
            ),
            None => String::new(),
        };
        format!(
            "target {:?}{over}: {} clients, {} B messages, window {}\n\
             messages sent      {}\n\
             elapsed            {:.3} s\n\
             echo rps           {:.0}\n\
             deliveries/s       {:.0}  ({} deliveries)\n\
             lost               {}{}\n\
             avg service        {:.4} ms ({service_of}){relay}{cpu}\n\
             latency ({latency_kind}): p50 {} µs, p90 {} µs, p99 {} µs, p99.9 {} µs, max {} µs{split}\n\
             capacity: rps_per_node ≈ 1 / avg_service_time = {:.0}; \
             cluster_rps ≈ {} nodes × {:.0} × {} utilization = {:.0}",
            self.target,
            self.clients,
            self.size,
            self.window,
            self.messages_sent,
            self.elapsed_s,
            self.echo_rps,
            self.deliveries_per_s,
            self.deliveries,
            self.lost,
            self.lost_by_text(),
            self.avg_service_ms,
            p50,
            p90,
            p99,
            p999,
            max,
            self.rps_per_node,
            self.nodes,
            self.rps_per_node,
            self.utilization,
            self.cluster_rps,
        )
    }
}

/// Locks `mutex`, recovering it if a task panicked while holding it, as the hub and the server do:
/// every critical section here (a push, a pop, a histogram merge) leaves its data whole.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
