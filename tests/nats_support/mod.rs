//! Real nats-servers and `framechat serve --cluster` nodes for the cluster tests (§11), each a
//! child process killed and reaped on drop, and chat clients that record what they receive.
//!
//! Every port is picked by the OS (nats-server's `-1`, then read from its log) or by binding port 0
//! and letting go of it, retried if another process took it meanwhile. Every wait is for an event (a
//! log line, a route count, a metric, a frame) with a clock only as a generous upper bound.
//!
//! nats-server must be on PATH: without it the tests fail and say how to install it, never skip.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use framechat::io::{FrameReader, FrameWriter};
use framechat::{Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

use crate::cli_support::{Reaped, BIN};

/// The upper bound of every wait: only a lost event reaches it, never a slow machine.
pub(crate) const WITHIN: Duration = Duration::from_secs(30);

/// How often a condition that no event announces (a metric, a route count) is read again.
const POLL: Duration = Duration::from_millis(50);

/// How many times a start is tried again when a port picked for it was taken meanwhile.
const START_ATTEMPTS: usize = 5;

const INSTALL_HINT: &str = "nats-server is not on PATH, and the cluster tests (feature \
    `nats-tests`) need it: install it with `apt-get install nats-server`, or put the nats-server \
    binary of a release from https://nats.io/download/ on PATH";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding a lock has failed already; its data is still readable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Polls `read` until `ready` accepts its value or [`WITHIN`] passes; returns the last value
/// either way, for the caller's assertion to show.
pub(crate) fn poll_until<T>(mut read: impl FnMut() -> T, ready: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + WITHIN;
    loop {
        let value = read();
        if ready(&value) || Instant::now() > deadline {
            return value;
        }
        std::thread::sleep(POLL);
    }
}

/// A free loopback port: bound, then released for a child to take (a clash is retried by the
/// callers).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The lines a child writes to one of its streams, as they come, kept for waits and for failure
/// messages.
#[derive(Clone)]
pub(crate) struct Log(Arc<(Mutex<LogLines>, Condvar)>);

#[derive(Default)]
struct LogLines {
    lines: Vec<String>,
    ended: bool,
}

impl Log {
    fn drain(stream: impl Read + Send + 'static) -> Log {
        let log = Log(Arc::default());
        let filled = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lock(&filled.0 .0).lines.push(line);
                filled.0 .1.notify_all();
            }
            lock(&filled.0 .0).ended = true;
            filled.0 .1.notify_all();
        });
        log
    }

    /// How many lines have come so far: a wait for what comes next starts there.
    pub(crate) fn len(&self) -> usize {
        lock(&self.0 .0).lines.len()
    }

    /// Every line so far, one string.
    pub(crate) fn text(&self) -> String {
        lock(&self.0 .0).lines.join("\n")
    }

    /// The first line at index `from` or later that contains `needle`, with its index; `None` if
    /// the stream ends or [`WITHIN`] passes first.
    pub(crate) fn wait_for(&self, from: usize, needle: &str) -> Option<(usize, String)> {
        let deadline = Instant::now() + WITHIN;
        let mut seen = lock(&self.0 .0);
        let mut next = from;
        loop {
            if let Some(found) = seen.lines[next.min(seen.lines.len())..]
                .iter()
                .position(|line| line.contains(needle))
            {
                let index = next + found;
                return Some((index, seen.lines[index].clone()));
            }
            next = next.max(seen.lines.len());
            let left = deadline.saturating_duration_since(Instant::now());
            if seen.ended || left.is_zero() {
                return None;
            }
            seen = self
                .0
                 .1
                .wait_timeout(seen, left)
                .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard);
        }
    }

    /// How many lines contain `needle`.
    pub(crate) fn count(&self, needle: &str) -> usize {
        lock(&self.0 .0)
            .lines
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }
}

/// The port at the end of the first log line that contains `needle`.
fn port_after(log: &Log, needle: &str) -> Option<u16> {
    let (_, line) = log.wait_for(0, needle)?;
    line.trim().rsplit(':').next()?.parse().ok()
}

/// The ports one nats-server listens on; kept to restart it on the same ones.
#[derive(Clone, Copy, Debug)]
struct NatsPorts {
    client: u16,
    monitor: u16,
    /// Its route listener, in a NATS cluster.
    route: Option<u16>,
}

/// A NATS cluster's name and the route ports of a server's peers.
#[derive(Clone, Debug)]
struct Routes {
    cluster: String,
    peers: Vec<u16>,
}

/// One nats-server, SIGKILLed and reaped on drop.
pub(crate) struct NatsServer {
    process: Option<Reaped>,
    log: Log,
    ports: NatsPorts,
    routes: Option<Routes>,
}

impl NatsServer {
    /// A standalone nats-server on ports of its own choosing.
    pub(crate) fn start() -> NatsServer {
        NatsServer::spawn(None, None).expect("a nats-server on random ports starts")
    }

    /// Spawns nats-server on `ports` (random ones when `None`) and waits until it listens on all of
    /// them; `None` if it ended first (its port taken).
    fn spawn(ports: Option<NatsPorts>, routes: Option<Routes>) -> Option<NatsServer> {
        let port = |fixed: Option<u16>| fixed.map_or("-1".to_string(), |port| port.to_string());
        let mut command = Command::new("nats-server");
        command
            .args(["-a", "127.0.0.1"])
            .args(["-p", &port(ports.map(|p| p.client))])
            .args(["-m", &port(ports.map(|p| p.monitor))]);
        if let Some(routes) = &routes {
            let route_port = port(ports.and_then(|p| p.route));
            // --no_advertise: a client knows only the server it was given, so killing that server
            // cuts it off, instead of sending it to another server of the cluster.
            command
                .args(["--cluster", &format!("nats://127.0.0.1:{route_port}")])
                .args(["--cluster_name", &routes.cluster, "--no_advertise"]);
            if !routes.peers.is_empty() {
                let urls: Vec<String> = routes
                    .peers
                    .iter()
                    .map(|peer| format!("nats://127.0.0.1:{peer}"))
                    .collect();
                command.args(["--routes", &urls.join(",")]);
            }
        }
        let mut child = match command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn() {
            Ok(child) => child,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
            Err(err) => panic!("nats-server does not start: {err}"),
        };
        let log = Log::drain(child.stderr.take().expect("piped stderr"));
        let process = Reaped(child);
        let client = port_after(&log, "Listening for client connections on");
        let monitor = port_after(&log, "Starting http monitor on");
        let route = match routes {
            Some(_) => Some(port_after(&log, "Listening for route connections on")?),
            None => None,
        };
        let (Some(client), Some(monitor)) = (client, monitor) else {
            eprintln!("nats-server did not start:\n{}", log.text());
            return None;
        };
        log.wait_for(0, "Server is ready")?;
        Some(NatsServer {
            process: Some(process),
            log,
            ports: NatsPorts {
                client,
                monitor,
                route,
            },
            routes,
        })
    }

    /// The URL a client connects to.
    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.ports.client)
    }

    /// Ends the server at once (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) {
        drop(self.process.take());
    }

    /// Starts the server again on the same ports, with the same routes; retried while a port is
    /// still held by someone else.
    pub(crate) fn restart(&mut self) {
        assert!(
            self.process.is_none(),
            "kill the server before restarting it"
        );
        for _ in 0..START_ATTEMPTS {
            if let Some(again) = NatsServer::spawn(Some(self.ports), self.routes.clone()) {
                *self = again;
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("nats-server did not restart on {:?}", self.ports);
    }

    /// How many other servers this one has a route to now, from its monitoring endpoint. Counted
    /// by their ids, not as `num_routes`: nats-server 2.10 and later pool several connections per
    /// route, each listed.
    fn num_routes(&self) -> u64 {
        let body = http_get(self.ports.monitor, "/routez").unwrap_or_default();
        let Ok(routez) = serde_json::from_str::<serde_json::Value>(&body) else {
            return 0;
        };
        let peers: std::collections::BTreeSet<&str> = routez["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|route| route["remote_id"].as_str())
            .collect();
        peers.len() as u64
    }
}

/// Three nats-servers routed to each other on loopback: one NATS cluster.
pub(crate) struct NatsCluster {
    pub(crate) servers: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts `size` servers, the first on random ports and the others routed to it, and returns
    /// once every server sees a route to each of the others.
    pub(crate) fn start(size: usize) -> NatsCluster {
        let cluster = format!("framechat-tests-{}", std::process::id());
        let routes = |peers: Vec<u16>| Routes {
            cluster: cluster.clone(),
            peers,
        };
        let first = NatsServer::spawn(None, Some(routes(Vec::new())))
            .expect("the first nats-server of the cluster starts");
        let seed = first.ports.route.expect("a route port");
        let mut servers = vec![first];
        for _ in 1..size {
            servers.push(
                NatsServer::spawn(None, Some(routes(vec![seed])))
                    .expect("a nats-server of the cluster starts"),
            );
        }
        // Restarted, each server routes to every other one, whichever went down.
        let all: Vec<u16> = servers
            .iter()
            .map(|server| server.ports.route.expect("a route port"))
            .collect();
        for server in &mut servers {
            let own = server.ports.route;
            server.routes = Some(routes(
                all.iter().copied().filter(|p| Some(*p) != own).collect(),
            ));
        }
        let cluster = NatsCluster { servers };
        cluster.wait_for_routes();
        cluster
    }

    /// Waits until every server has a route to each of the others (`/routez`).
    pub(crate) fn wait_for_routes(&self) {
        let want = self.servers.len() as u64 - 1;
        for (index, server) in self.servers.iter().enumerate() {
            let routes = poll_until(|| server.num_routes(), |routes| *routes == want);
            assert_eq!(
                routes,
                want,
                "nats-server {index} sees {routes} routes:\n{}",
                server.log.text()
            );
        }
    }

    /// Kills server `index` (SIGKILL).
    pub(crate) fn kill(&mut self, index: usize) {
        self.servers[index].kill();
    }

    /// Restarts server `index` on its ports (see [`NatsCluster::wait_for_routes`]).
    pub(crate) fn restart(&mut self, index: usize) {
        self.servers[index].restart();
    }

    /// Every server's client URL.
    pub(crate) fn urls(&self) -> Vec<String> {
        self.servers.iter().map(NatsServer::url).collect()
    }
}

/// `GET path` over HTTP/1.0 on loopback; the body, or `None` if nothing answers.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(WITHIN)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

/// One scrape of a node's Prometheus endpoint: every sample by its name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Metrics(HashMap<String, f64>);

impl Metrics {
    fn parse(text: &str) -> Metrics {
        Metrics(
            text.lines()
                .filter(|line| !line.starts_with('#'))
                .filter_map(|line| {
                    let (name, value) = line.split_once(' ')?;
                    Some((name.to_string(), value.trim().parse().ok()?))
                })
                .collect(),
        )
    }

    /// A count by its full name (`framechat_bus_lost_total`); 0 while the node does not export it,
    /// so a wait for it goes on, and the assertion after the wait names it.
    pub(crate) fn count(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0.0) as u64
    }

    /// Whether the scrape has the metric at all.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// A `framechat serve --cluster` node, SIGKILLed and reaped on drop.
pub(crate) struct Node {
    process: Option<Reaped>,
    /// Its stderr: the banners, then its log.
    pub(crate) log: Log,
    /// Where clients connect.
    pub(crate) addr: SocketAddr,
    metrics_port: u16,
}

/// Typed clients send their preface at once, but a starved test thread could still reach the
/// server late; listen-only legacy clients wait out the window before anything is written to them
/// (FC-27). Long enough for the first, short enough not to slow the second much.
const DETECT_WINDOW: &str = "3s";

impl Node {
    /// A node on free ports, on the bus at `urls`, in cluster `cluster`, with `flags` added.
    pub(crate) fn start(urls: &[String], cluster: &str, flags: &[&str]) -> Node {
        for _ in 0..START_ATTEMPTS {
            if let Some(node) = Node::spawn(urls, cluster, flags) {
                return node;
            }
        }
        panic!("framechat serve --cluster did not start");
    }

    fn spawn(urls: &[String], cluster: &str, flags: &[&str]) -> Option<Node> {
        let metrics_port = free_port();
        let mut child = std::process::Command::new(BIN)
            .args(["--log-level", "info", "serve", "--addr", "127.0.0.1:0"])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .args(["--metrics-interval", "0s", "--detect-window", DETECT_WINDOW])
            .args(["--cluster", &urls.join(","), "--cluster-name", cluster])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the framechat binary starts");
        let log = Log::drain(child.stderr.take().expect("piped stderr"));
        let process = Reaped(child);
        let Some((_, banner)) = log.wait_for(0, "framechat: serving legacy and typed clients on")
        else {
            // Most likely the metrics port was taken meanwhile: the log says.
            eprintln!("framechat serve --cluster ended early:\n{}", log.text());
            return None;
        };
        let addr = banner
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|addr| addr.parse().ok())
            .expect("an address ends the banner");
        log.wait_for(0, "framechat: cluster ")
            .unwrap_or_else(|| panic!("no cluster banner:\n{}", log.text()));
        Some(Node {
            process: Some(process),
            log,
            addr,
            metrics_port,
        })
    }

    /// The node's metrics now (empty if its endpoint does not answer).
    pub(crate) fn metrics(&self) -> Metrics {
        Metrics::parse(&http_get(self.metrics_port, "/metrics").unwrap_or_default())
    }

    /// Waits until the node's metrics satisfy `ready` (at most [`WITHIN`]); the last scrape.
    pub(crate) fn metrics_until(&self, ready: impl Fn(&Metrics) -> bool) -> Metrics {
        poll_until(|| self.metrics(), ready)
    }

    /// Waits until the node hears `others` other nodes (§11.4) and is on the bus.
    pub(crate) fn wait_for_peers(&self, others: u64) {
        let metrics = self.metrics_until(|m| {
            m.count("framechat_cluster_nodes_alive") == others
                && m.count("framechat_bus_connected") == 1
        });
        assert_eq!(
            (
                metrics.count("framechat_cluster_nodes_alive"),
                metrics.count("framechat_bus_connected")
            ),
            (others, 1),
            "a node on the bus that hears {others} others: {metrics:?}\n{}",
            self.log.text()
        );
    }

    /// Waits until the node has admitted `n` connections in all: a legacy client (no WELCOME)
    /// hears what is relayed after that (FC-26).
    pub(crate) fn wait_admitted(&self, n: u64) {
        let metrics = self.metrics_until(|m| m.count("framechat_connections_total") >= n);
        assert!(
            metrics.count("framechat_connections_total") >= n,
            "{n} connections admitted: {metrics:?}"
        );
    }

    /// Ends the node at once (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) {
        drop(self.process.take());
    }

    /// Its process id, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|process| process.0.id())
    }
}

/// What a client received: one message, by its sender's name and number (see [`Client::send`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Delivery {
    /// An echo (`echo: T` or ECHO) rather than a peer's message (`peer: T` or BROADCAST).
    pub(crate) echo: bool,
    pub(crate) sender: String,
    pub(crate) seq: u64,
}

/// What a client's reader has seen so far.
#[derive(Default)]
struct Inbox {
    deliveries: Vec<Delivery>,
    /// Frames that are no message of the test, as text for the failure message.
    unexpected: Vec<String>,
    ended: bool,
}

/// A chat client on a node: it sends numbered messages `NAME#SEQ` and a thread of its own reads
/// everything it is sent, so the server never finds it slow (FC-29).
pub(crate) struct Client {
    pub(crate) name: String,
    pub(crate) profile: Profile,
    stream: TcpStream,
    writer: FrameWriter<TcpStream>,
    inbox: Arc<(Mutex<Inbox>, Condvar)>,
    /// The number of the last message sent.
    pub(crate) sent: u64,
}

impl Client {
    /// Connects to `addr`; a typed client returns once it has its WELCOME (it is in the room).
    pub(crate) fn connect(addr: SocketAddr, profile: Profile, name: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the node");
        stream.set_nodelay(true).expect("nodelay");
        let limits = Limits::default();
        let mut writer = FrameWriter::new(
            stream.try_clone().expect("a second handle"),
            Encoder::client(profile, limits),
        );
        writer.flush().expect("the preface");
        let inbox: Arc<(Mutex<Inbox>, Condvar)> = Arc::default();
        let filled = inbox.clone();
        let mut reader = FrameReader::new(
            stream.try_clone().expect("a second handle"),
            Decoder::client(profile, limits),
        );
        let (welcomed_tx, welcomed) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(Some(frame)) = reader.read_frame() {
                let mut seen = lock(&filled.0);
                match received(&frame) {
                    Some(delivery) => seen.deliveries.push(delivery),
                    None if matches!(frame, Frame::Welcome { .. }) => {
                        let _ = welcomed_tx.send(());
                    }
                    None => seen.unexpected.push(format!("{frame:?}")),
                }
                drop(seen);
                filled.1.notify_all();
            }
            lock(&filled.0).ended = true;
            filled.1.notify_all();
        });
        if profile == Profile::Typed {
            welcomed
                .recv_timeout(WITHIN)
                .expect("a WELCOME within the bound");
        }
        Client {
            name: name.to_string(),
            profile,
            stream,
            writer,
            inbox,
            sent: 0,
        }
    }

    /// Sends the next message, `NAME#SEQ`; returns its number.
    pub(crate) fn send(&mut self) -> u64 {
        self.sent += 1;
        let text = format!("{}#{}", self.name, self.sent);
        let frame = match self.profile {
            Profile::Typed => Frame::Chat {
                sent_at: UnixMicros::now(),
                text: text.as_str(),
            },
            Profile::Legacy => Frame::Text(text.as_str()),
        };
        self.writer.write_frame(frame).expect("send a message");
        self.writer.flush().expect("send a message");
        self.sent
    }

    /// Everything received so far.
    pub(crate) fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.inbox.0).deliveries.clone()
    }

    /// Waits until what was received satisfies `ready` (at most [`WITHIN`], or until the stream
    /// ends); returns it either way.
    pub(crate) fn wait_until(&self, ready: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
        self.wait_until_within(WITHIN, ready)
    }

    /// [`Client::wait_until`] with a bound of the caller's.
    pub(crate) fn wait_until_within(
        &self,
        within: Duration,
        ready: impl Fn(&[Delivery]) -> bool,
    ) -> Vec<Delivery> {
        let deadline = Instant::now() + within;
        let mut seen = lock(&self.inbox.0);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if ready(&seen.deliveries) || seen.ended || left.is_zero() {
                return seen.deliveries.clone();
            }
            seen = self
                .inbox
                .1
                .wait_timeout(seen, left)
                .map_or_else(|poisoned| poisoned.into_inner().0, |(guard, _)| guard);
        }
    }

    /// Waits until message `seq` of `sender` has arrived.
    pub(crate) fn wait_for(&self, sender: &str, seq: u64) -> Vec<Delivery> {
        let got = self.wait_until(|seen| {
            seen.iter()
                .any(|delivery| delivery.sender == sender && delivery.seq == seq)
        });
        assert!(
            got.iter().any(|d| d.sender == sender && d.seq == seq),
            "{} did not receive {sender}#{seq}",
            self.name
        );
        got
    }

    /// Frames received that carry no message of the test (an ERROR, say).
    pub(crate) fn unexpected(&self) -> Vec<String> {
        lock(&self.inbox.0).unexpected.clone()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Ends the reader thread too.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// The message a frame carries, if it is one of the test's (`NAME#SEQ`).
fn received(frame: &Frame) -> Option<Delivery> {
    let (echo, text) = match frame {
        Frame::Text(text) => match (text.strip_prefix("echo: "), text.strip_prefix("peer: ")) {
            (Some(text), _) => (true, text),
            (_, Some(text)) => (false, text),
            _ => return None,
        },
        Frame::Echo { text, .. } => (true, text.as_str()),
        Frame::Broadcast { text, .. } => (false, text.as_str()),
        _ => return None,
    };
    let (sender, seq) = text.rsplit_once('#')?;
    Some(Delivery {
        echo,
        sender: sender.to_string(),
        seq: seq.parse().ok()?,
    })
}
