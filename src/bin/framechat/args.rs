//! The command line. Every default is taken from the configuration it fills
//! (`ServerConfig::default()`, `Limits`, `BenchConfig::default()`), so `--help` shows the values
//! the code uses and no number is spelled twice.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use framechat::hub::{HubConfig, HubConfigError};
use framechat::server::{AuthConfig, LegacyPolicy, ServerConfig, ServerConfigError, TokenSet};
#[cfg(feature = "tls")]
use framechat::server::{TlsConfig, TlsIdentity};
use framechat::{Limits, Profile};

use crate::bench::{BenchConfig, Load, Target};
use crate::client::{TlsClient, Token};
use crate::AnyError;

/// A specified length-prefixed chat protocol: server, client, demo and bench.
#[derive(Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    /// Log level: error, warn, info, debug, trace or off.
    #[arg(long, global = true, default_value = "info")]
    pub(crate) log_level: log::LevelFilter,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the chat server (both profiles on one port).
    Serve(Box<ServeArgs>),
    /// An interactive line client: stdin lines are sent, what arrives is printed.
    Client(ClientArgs),
    /// The notebook's demo: an in-process server and two concurrent clients.
    Demo,
    /// The stress bench: N clients, closed-loop, throughput, latency percentiles and loss.
    Bench(BenchArgs),
    /// Reads a token on stdin and prints the line `serve --auth-tokens` stores for it (its
    /// SHA-256), so that no clear token is ever written to the server's disk.
    HashToken,
}

#[derive(Parser)]
pub(crate) struct ServeArgs {
    /// Address to listen on (host:port; a name such as localhost is resolved).
    #[arg(long, default_value_t = Address::from(ServerConfig::default().addr))]
    addr: Address,
    /// Largest frame payload accepted, in bytes.
    #[arg(long, default_value_t = ServerConfig::default().limits.max_frame_len())]
    max_frame_len: u32,
    /// Largest number of connections; past it connections get SERVER_FULL and are closed.
    #[arg(long, default_value_t = ServerConfig::default().hub.max_peers())]
    max_connections: usize,
    /// Per-peer outbound queue bound, in frames.
    #[arg(long, default_value_t = ServerConfig::default().hub.max_queue_frames())]
    queue_frames: usize,
    /// Per-peer outbound queue bound, in bytes.
    #[arg(long, default_value_t = ServerConfig::default().hub.max_queue_bytes())]
    queue_bytes: usize,
    /// Close a connection idle this long (e.g. 300s, 500ms, 5m).
    #[arg(long, default_value_t = Span(ServerConfig::default().idle_timeout))]
    idle_timeout: Span,
    /// Close a connection that leaves a frame incomplete this long.
    #[arg(long, default_value_t = Span(ServerConfig::default().frame_deadline))]
    frame_deadline: Span,
    /// Treat a connection that sends nothing this long as legacy.
    #[arg(long, default_value_t = Span(ServerConfig::default().detect_window))]
    detect_window: Span,
    /// Give up on a peer whose socket accepts nothing this long.
    #[arg(long, default_value_t = Span(ServerConfig::default().write_timeout))]
    write_timeout: Span,
    /// How long shutdown waits for queues to drain.
    #[arg(long, default_value_t = Span(ServerConfig::default().shutdown_grace))]
    shutdown_grace: Span,
    /// Print the metrics line this often (0s: never).
    #[arg(long, default_value_t = Span(ServerConfig::default().metrics_interval.unwrap_or_default()))]
    metrics_interval: Span,
    /// Serve Prometheus metrics over HTTP on this address (e.g. 127.0.0.1:9090).
    #[arg(long)]
    metrics_addr: Option<Address>,
    /// Require typed clients to authenticate with a token whose SHA-256 is a line of this file
    /// (`framechat hash-token` prints the lines; `#` comments allowed).
    #[arg(long, value_name = "FILE")]
    auth_tokens: Option<PathBuf>,
    /// With --auth-tokens: close a typed connection whose AUTH is not complete this long after
    /// its accept.
    #[arg(long, requires = "auth_tokens", default_value_t = Span(AuthConfig::new(TokenSet::default()).deadline))]
    auth_deadline: Span,
    /// With --auth-tokens: what legacy connections, which cannot authenticate, get. `allow` lets
    /// anyone who reaches the port read every message: only for a trusted network.
    #[arg(long, requires = "auth_tokens", value_enum, default_value_t = LegacyPolicyArg::Refuse)]
    legacy_policy: LegacyPolicyArg,
    /// How many connections the kernel queues until they are accepted, on every listener
    /// [default: the system's maximum, net.core.somaxconn, or 4096 where it cannot be read].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    listen_backlog: Option<u32>,
    /// Executor threads running the connections [default: async-std's, one per CPU core, or
    /// ASYNC_STD_THREAD_COUNT]. With the clients on the same cores, one thread measured less CPU
    /// per delivery and a lower p99 (BENCHMARKS.md, "The async-std ceiling").
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    #[cfg(feature = "tls")]
    #[command(flatten)]
    tls: TlsServeArgs,
    #[cfg(feature = "cluster")]
    #[command(flatten)]
    cluster: ClusterServeArgs,
    /// Without the `cluster` feature, `--cluster` is refused with a word on how to get it, rather
    /// than as an unknown flag.
    #[cfg(not(feature = "cluster"))]
    #[arg(long, hide = true, value_name = "URLS")]
    cluster: Option<String>,
}

/// `serve`'s cluster bus (§11): this node serves one room with the others over NATS.
#[cfg(feature = "cluster")]
#[derive(clap::Args)]
struct ClusterServeArgs {
    /// Join a cluster over these NATS servers (nats://host:port, comma-separated).
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    cluster: Vec<String>,
    /// The cluster's name: 1 to 64 ASCII letters, digits, '-' or '_'.
    #[arg(long, requires = "cluster", default_value = "framechat")]
    cluster_name: String,
    /// This node's id, hex (0x...) or decimal [default: random at each start]. Its high 32 bits
    /// are the tag of its peer ids: not 0, and different from every other node's (FC-41).
    #[arg(long, requires = "cluster", value_parser = parse_node_id)]
    node_id: Option<u64>,
    /// How many local messages may wait for the bus; past it they are dropped and counted.
    #[arg(long, value_name = "N", requires = "cluster", default_value_t = framechat::cluster::ClusterConfig::DEFAULT_PUBLISH_QUEUE)]
    bus_queue: usize,
    /// How many bytes of local messages may wait for the bus; past it they are dropped and
    /// counted.
    #[arg(long, value_name = "BYTES", requires = "cluster", default_value_t = framechat::cluster::ClusterConfig::DEFAULT_PUBLISH_QUEUE_BYTES)]
    bus_queue_bytes: usize,
}

#[cfg(feature = "cluster")]
impl ClusterServeArgs {
    /// The cluster these flags describe, if `--cluster` was given.
    fn config(&self) -> Result<Option<framechat::cluster::ClusterConfig>, AnyError> {
        if self.cluster.is_empty() {
            return Ok(None);
        }
        let name = framechat::cluster::ClusterName::new(&self.cluster_name)
            .map_err(|err| format!("--cluster-name: {err}"))?;
        let mut config = framechat::cluster::ClusterConfig::new(self.cluster.clone(), name);
        config.node = self.node_id;
        config.publish_queue = self.bus_queue;
        config.publish_queue_bytes = self.bus_queue_bytes;
        Ok(Some(config))
    }
}

/// A node id: `0x` and hex digits, or decimal digits.
#[cfg(feature = "cluster")]
fn parse_node_id(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    let node = parsed
        .map_err(|err| format!("{text:?} is not a node id (hex with 0x, or decimal): {err}"))?;
    // Small ids (1, 2, 3) would all carry tag 0, and their nodes would hand out the same peer ids.
    if node >> 32 == 0 {
        return Err(format!(
            "{text:?} has 0 in its high 32 bits, the tag of this node's peer ids (FC-41): give \
             each node its own tag, e.g. 0x{:x} for tag 1",
            1u64 << 32
        ));
    }
    Ok(node)
}

/// `serve`'s TLS listener (§10), beside the plain one on `--addr`.
#[cfg(feature = "tls")]
#[derive(clap::Args)]
struct TlsServeArgs {
    /// Also serve TLS, presenting this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Address of the TLS listener.
    #[arg(long, requires = "tls_cert", default_value_t = Address::from(TlsConfig::DEFAULT_ADDR))]
    tls_addr: Address,
    /// Close a TLS connection whose handshake is not done this long after its accept.
    #[arg(long, requires = "tls_cert", default_value_t = Span(TlsConfig::DEFAULT_HANDSHAKE_TIMEOUT))]
    tls_handshake_timeout: Span,
}

#[cfg(feature = "tls")]
impl TlsServeArgs {
    /// The TLS listener these flags describe, if `--tls-cert` was given; a file that cannot be
    /// used is named in the error.
    fn config(&self) -> Result<Option<TlsConfig>, AnyError> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let identity = TlsIdentity::from_pem_files(cert, key)?;
        let mut config = TlsConfig::new(identity);
        config.addr = self.tls_addr.first();
        config.handshake_timeout = self.tls_handshake_timeout.0;
        Ok(Some(config))
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum LegacyPolicyArg {
    Refuse,
    Allow,
}

impl ServeArgs {
    /// The authentication these flags ask for, its token file read now.
    fn auth(&self) -> Result<Option<AuthConfig>, AnyError> {
        let Some(path) = &self.auth_tokens else {
            return Ok(None);
        };
        let mut auth = AuthConfig::new(TokenSet::load(path)?);
        if auth.tokens.is_empty() {
            return Err(format!("--auth-tokens {}: no token in the file", path.display()).into());
        }
        auth.deadline = self.auth_deadline.0;
        auth.legacy = match self.legacy_policy {
            LegacyPolicyArg::Refuse => LegacyPolicy::Refuse,
            LegacyPolicyArg::Allow => LegacyPolicy::Allow,
        };
        Ok(Some(auth))
    }
}

impl ServeArgs {
    /// The executor threads `--threads` asks for, if it was given.
    pub(crate) fn threads(&self) -> Option<u16> {
        self.threads
    }

    /// The server configuration these flags describe; refused here, naming the flag, if a value is
    /// out of range.
    pub(crate) fn config(&self) -> Result<ServerConfig, AnyError> {
        #[cfg(not(feature = "cluster"))]
        if self.cluster.is_some() {
            return Err(
                "--cluster needs a framechat built with the `cluster` feature \
                 (cargo build --release --features cluster)"
                    .into(),
            );
        }
        let hub = HubConfig::new(self.max_connections, self.queue_frames, self.queue_bytes)
            .map_err(|err| {
                let flag = match err {
                    HubConfigError::ZeroMaxPeers => "--max-connections",
                    HubConfigError::ZeroMaxQueueFrames => "--queue-frames",
                    _ => "--queue-bytes",
                };
                format!("{flag} must be more than 0")
            })?;
        let config = ServerConfig {
            addr: self.addr.first(),
            limits: Limits::new(self.max_frame_len)
                .map_err(|err| format!("--max-frame-len: {err}"))?,
            hub,
            idle_timeout: self.idle_timeout.0,
            frame_deadline: self.frame_deadline.0,
            detect_window: self.detect_window.0,
            write_timeout: self.write_timeout.0,
            shutdown_grace: self.shutdown_grace.0,
            metrics_interval: Some(self.metrics_interval.0).filter(|every| !every.is_zero()),
            metrics_addr: self.metrics_addr.as_ref().map(Address::first),
            auth: self.auth()?,
            #[cfg(feature = "tls")]
            tls: self.tls.config()?,
            listen_backlog: self
                .listen_backlog
                .unwrap_or_else(ServerConfig::system_listen_backlog),
            #[cfg(feature = "cluster")]
            cluster: self.cluster.config()?,
        };
        config.validate().map_err(|err| match err {
            ServerConfigError::ZeroDuration { name } => {
                format!("{} must be longer than zero", flag_of(name))
            }
            ServerConfigError::QueueSmallerThanMessage {
                max_queue_bytes,
                needed,
            } => format!(
                "--queue-bytes {max_queue_bytes} cannot hold the largest message under \
                 --max-frame-len {} ({needed} bytes): raise --queue-bytes or lower --max-frame-len",
                self.max_frame_len
            ),
            #[cfg(feature = "cluster")]
            ServerConfigError::NoClusterServers => "--cluster needs at least one URL".to_string(),
            #[cfg(feature = "cluster")]
            ServerConfigError::BadClusterServer { index } => format!(
                "--cluster: {:?} is not a NATS address (nats://host:port)",
                self.cluster.cluster.get(index).map_or("", String::as_str)
            ),
            #[cfg(feature = "cluster")]
            ServerConfigError::ZeroPublishQueue => "--bus-queue must be at least 1".to_string(),
            #[cfg(feature = "cluster")]
            ServerConfigError::PublishQueueSmallerThanMessage { needed, .. } => format!(
                "--bus-queue-bytes cannot hold the largest message under --max-frame-len {} \
                 ({needed} bytes): raise --bus-queue-bytes or lower --max-frame-len",
                self.max_frame_len
            ),
            other => other.to_string(),
        })?;
        Ok(config)
    }
}

/// The flag that sets a [`ServerConfig`] field, for errors that name the field.
fn flag_of(field: &str) -> &str {
    match field {
        "idle_timeout" => "--idle-timeout",
        "frame_deadline" => "--frame-deadline",
        "detect_window" => "--detect-window",
        "write_timeout" => "--write-timeout",
        "shutdown_grace" => "--shutdown-grace",
        "metrics_interval" => "--metrics-interval",
        "auth.deadline" => "--auth-deadline",
        "tls.handshake_timeout" => "--tls-handshake-timeout",
        other => other,
    }
}

#[derive(Parser)]
pub(crate) struct ClientArgs {
    /// Server address (host:port; every address a name resolves to is tried in turn).
    #[arg(long, default_value_t = Address::from(ServerConfig::default().addr))]
    pub(crate) addr: Address,
    /// Wire profile.
    #[arg(long, value_enum, default_value_t = ProfileArg::Typed)]
    profile: ProfileArg,
    /// Largest frame accepted from the server, in bytes (typed clients adopt the server's from
    /// WELCOME).
    #[arg(long, default_value_t = Limits::default().max_frame_len())]
    max_frame_len: u32,
    /// Authenticate with the token in this file (typed only); without it, the token in the
    /// FRAMECHAT_TOKEN environment variable, if set. Never on the command line, where `ps` shows it.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[cfg(feature = "tls")]
    #[command(flatten)]
    tls: TlsClientArgs,
}

/// A client's TLS (`client`, `bench`): off unless `--tls`, and then it trusts only `--ca`.
#[cfg(feature = "tls")]
#[derive(clap::Args)]
pub(crate) struct TlsClientArgs {
    /// Speak TLS (to a server's --tls-addr); needs --ca.
    #[arg(long, requires = "ca")]
    tls: bool,
    /// The PEM certificate(s) of the authority that signed the server's certificate: the only
    /// ones trusted (no system or public roots are used).
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca: Option<std::path::PathBuf>,
    /// The name the server's certificate must carry [default: the host of --addr].
    #[arg(long, requires = "tls")]
    server_name: Option<String>,
}

#[cfg(feature = "tls")]
impl TlsClientArgs {
    /// The TLS client these flags describe for `addr`, or `None` without `--tls`.
    fn client(&self, addr: &Address) -> Result<Option<TlsClient>, AnyError> {
        let Some(ca) = self.ca.as_deref().filter(|_| self.tls) else {
            return Ok(None);
        };
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => addr.host().to_string(),
        };
        TlsClient::new(ca, &name).map(Some)
    }
}

impl ClientArgs {
    /// The TLS client of `--tls`, or `None` (always, in a build without the `tls` feature).
    pub(crate) fn tls(&self) -> Result<Option<TlsClient>, AnyError> {
        #[cfg(feature = "tls")]
        return self.tls.client(&self.addr);
        #[cfg(not(feature = "tls"))]
        Ok(None)
    }

    pub(crate) fn token(&self) -> Result<Option<Token>, String> {
        read_token(self.token_file.as_deref())
    }

    pub(crate) fn profile(&self) -> Profile {
        match self.profile {
            ProfileArg::Typed => Profile::Typed,
            ProfileArg::Legacy => Profile::Legacy,
        }
    }

    pub(crate) fn limits(&self) -> Result<Limits, String> {
        Limits::new(self.max_frame_len).map_err(|err| format!("--max-frame-len: {err}"))
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    Typed,
    Legacy,
}

#[derive(Parser)]
pub(crate) struct BenchArgs {
    /// Server to drive, or the nodes of one cluster comma-separated (a,b,c), clients placed on
    /// them round-robin; without it a framechat server starts in-process on a free port.
    #[arg(long, value_delimiter = ',')]
    addr: Vec<Address>,
    /// Protocol: framechat typed or legacy (the notebook's framing), or a NATS server.
    #[arg(long, value_enum, default_value_t = BenchConfig::default().target)]
    profile: Target,
    /// Concurrent clients.
    #[arg(long, default_value_t = BenchConfig::default().clients)]
    clients: usize,
    /// Messages each client sends.
    #[arg(long, conflicts_with = "duration", default_value_t = BenchConfig::DEFAULT_MESSAGES)]
    messages: u64,
    /// Send for this long instead of a fixed count (e.g. 10s).
    #[arg(long)]
    duration: Option<Span>,
    /// Message size in bytes.
    #[arg(long, default_value_t = BenchConfig::default().size)]
    size: usize,
    /// Messages each client may have in flight.
    #[arg(long, default_value_t = BenchConfig::default().window)]
    window: usize,
    /// How long to wait for deliveries in flight after the last send.
    #[arg(long, default_value_t = Span(BenchConfig::default().drain))]
    drain: Span,
    /// Nodes, for the capacity estimate [default: the nodes --addr names].
    #[arg(long)]
    nodes: Option<f64>,
    /// Utilization, for the capacity estimate.
    #[arg(long, default_value_t = BenchConfig::default().utilization)]
    utilization: f64,
    /// Print one JSON object and nothing else on stdout.
    #[arg(long)]
    pub(crate) json: bool,
    /// Typed clients authenticate with the token in this file; without it, the token in the
    /// FRAMECHAT_TOKEN environment variable, if set.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Instead of the load: open N connections one after another (each connected, through its
    /// TLS handshake with --tls, and for typed its WELCOME) and report connections per second.
    #[arg(long, value_name = "N")]
    handshakes: Option<u64>,
    /// The process id of the server at --addr (on this machine), or of each node comma-separated:
    /// the report gives their CPU time per delivery, summed, user and system. Without --addr the
    /// bench's own process is measured.
    #[arg(long, value_name = "PID", value_delimiter = ',', requires = "addr")]
    server_pid: Vec<u32>,
    #[cfg(feature = "tls")]
    #[command(flatten)]
    tls: TlsClientArgs,
}

/// The token in `file`, or else in `FRAMECHAT_TOKEN`; `None` if neither is given. The errors
/// name where the token was looked for, never the token.
fn read_token(file: Option<&Path>) -> Result<Option<Token>, String> {
    let (text, source) = match file {
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|err| format!("--token-file {}: {err}", path.display()))?,
            format!("--token-file {}", path.display()),
        ),
        None => match std::env::var("FRAMECHAT_TOKEN") {
            Ok(text) => (text, "FRAMECHAT_TOKEN".to_string()),
            Err(std::env::VarError::NotPresent) => return Ok(None),
            Err(err) => return Err(format!("FRAMECHAT_TOKEN: {err}")),
        },
    };
    Token::new(&text)
        .map(Some)
        .map_err(|why| format!("{source}: {why}"))
}

impl BenchArgs {
    /// The bench configuration these flags describe, or why it cannot run.
    pub(crate) fn config(&self) -> Result<BenchConfig, AnyError> {
        if self.clients == 0 || self.window == 0 {
            return Err("--clients and --window must be at least 1".into());
        }
        if self.profile == Target::Nats && self.addr.is_empty() {
            return Err("--profile nats needs --addr of a running nats-server".into());
        }
        if self.handshakes == Some(0) {
            return Err("--handshakes must be at least 1".into());
        }
        #[cfg(feature = "tls")]
        // One TLS client for every node: the first address names the certificate's host.
        let tls = match self.addr.first() {
            Some(addr) => self.tls.client(addr)?,
            None if self.tls.tls => {
                return Err("--tls needs --addr of a server's TLS listener".into())
            }
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let tls = None;
        if tls.is_some() && self.profile == Target::Nats {
            return Err("--tls drives framechat servers only, not --profile nats".into());
        }
        Ok(BenchConfig {
            addrs: self.addr.iter().map(Address::first).collect(),
            target: self.profile,
            clients: self.clients,
            load: match self.duration {
                Some(limit) => Load::Duration(limit.0),
                None => Load::Messages(self.messages),
            },
            size: self.size,
            window: self.window,
            drain: self.drain.0,
            nodes: self.nodes.unwrap_or(self.addr.len().max(1) as f64),
            utilization: self.utilization,
            token: read_token(self.token_file.as_deref())?,
            tls,
            handshakes: self.handshakes,
            server_pids: self.server_pid.clone(),
        })
    }
}

/// A duration as the flags spell it: a number and a unit, `ms`, `s` or `m` (`300s`, `0.5s`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Span(pub(crate) Duration);

impl FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Span, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{text}` needs a unit: ms, s or m"))?;
        let (number, unit) = text.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{number}` is not a number"))?;
        let seconds = match unit {
            "ms" => value / 1e3,
            "s" => value,
            "m" => value * 60.0,
            other => return Err(format!("unknown unit `{other}`: use ms, s or m")),
        };
        Duration::try_from_secs_f64(seconds)
            .map(Span)
            .map_err(|err| err.to_string())
    }
}

/// The shortest spelling [`FromStr`] reads back as the same duration (shown by `--help`).
impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{}s", self.0.as_secs())
        } else if self.0.subsec_nanos() % 1_000_000 == 0 {
            write!(f, "{}ms", self.0.as_millis())
        } else {
            write!(f, "{}s", self.0.as_secs_f64())
        }
    }
}

/// An address as the flags spell it, `host:port`, resolved once when the flags are read:
/// `127.0.0.1:50555`, `[::1]:50555`, `localhost:50555`.
#[derive(Clone, Debug)]
pub(crate) struct Address {
    text: String,
    /// What `text` resolved to, in the resolver's order; never empty.
    resolved: Vec<SocketAddr>,
}

impl Address {
    /// The host as written, without the port or an IPv6 address's brackets: the name a TLS
    /// client expects in the server's certificate by default.
    #[cfg(feature = "tls")]
    fn host(&self) -> &str {
        let host = self
            .text
            .rsplit_once(':')
            .map_or(&*self.text, |(host, _)| host);
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// The resolver's first answer: what a listener binds and the bench drives.
    pub(crate) fn first(&self) -> SocketAddr {
        self.resolved[0]
    }

    /// Every answer, for a client that tries each in turn.
    pub(crate) fn all(&self) -> &[SocketAddr] {
        &self.resolved
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Address {
        Address {
            text: addr.to_string(),
            resolved: vec![addr],
        }
    }
}

impl FromStr for Address {
    type Err = String;

    fn from_str(text: &str) -> Result<Address, String> {
        let resolved: Vec<SocketAddr> = text
            .to_socket_addrs()
            .map_err(|err| format!("cannot resolve `{text}`: {err}"))?
            .collect();
        if resolved.is_empty() {
            return Err(format!("`{text}` resolves to no address"));
        }
        Ok(Address {
            text: text.to_string(),
            resolved,
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `serve --cluster` and its flags (§11): what they configure, and what they refuse.
#[cfg(test)]
mod cluster_tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn serve(args: &[&str]) -> Result<framechat::server::ServerConfig, String> {
        let argv = ["framechat", "serve"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Serve(args),
                ..
            }) => args.config().map_err(|err| err.to_string()),
            Ok(_) => Err("not serve".to_string()),
            Err(err) => Err(err.to_string()),
        }
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn serve_cluster_configures_the_servers_name_node_and_queue() {
        use framechat::cluster::ClusterConfig;

        let plain = serve(&[]).expect("valid");
        assert_eq!(plain.cluster, None, "no cluster unless asked");

        let config =
            serve(&["--cluster", "nats://127.0.0.1:4222,nats://127.0.0.1:4223"]).expect("valid");
        let cluster = config.cluster.expect("a cluster");
        assert_eq!(
            cluster.servers,
            ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"]
        );
        assert_eq!(cluster.name.as_str(), "framechat");
        assert_eq!(cluster.node, None);
        assert_eq!(cluster.publish_queue, ClusterConfig::DEFAULT_PUBLISH_QUEUE);

        let config = serve(&[
            "--cluster",
            "nats://n:4222",
            "--cluster-name",
            "eu_1",
            "--node-id",
            "0xBEEF00000001",
            "--bus-queue",
            "16",
            "--bus-queue-bytes",
            "2000000",
        ])
        .expect("valid");
        let cluster = config.cluster.expect("a cluster");
        assert_eq!(cluster.name.as_str(), "eu_1");
        assert_eq!(cluster.node, Some(0xBEEF_0000_0001));
        assert_eq!(cluster.publish_queue, 16);
        assert_eq!(cluster.publish_queue_bytes, 2_000_000);
        let decimal =
            serve(&["--cluster", "nats://n:4222", "--node-id", "4294967296"]).expect("valid");
        assert_eq!(decimal.cluster.and_then(|c| c.node), Some(1 << 32));
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn serve_cluster_refuses_what_cannot_work_naming_the_flag() {
        let refused = |args: &[&str]| serve(args).expect_err("refused");
        assert!(refused(&["--cluster", "nats://n:4222", "--bus-queue", "0"])
            .contains("--bus-queue must be at least 1"));
        assert!(refused(&["--cluster", "nats://n:port"]).contains("\"nats://n:port\""));
        assert!(
            refused(&["--cluster", "nats://n:4222", "--cluster-name", "a.b"])
                .contains("--cluster-name")
        );
        assert!(
            refused(&["--cluster", "nats://n:4222", "--node-id", "0xZZ"])
                .contains("is not a node id")
        );
        // FC-41: ids 1, 2, 3 would all carry tag 0.
        assert!(
            refused(&["--cluster", "nats://n:4222", "--node-id", "4294967295"])
                .contains("0 in its high 32 bits")
        );
        assert!(
            refused(&["--cluster", "nats://n:4222", "--bus-queue-bytes", "1000"])
                .contains("--bus-queue-bytes cannot hold the largest message")
        );
        // The cluster's own flags mean nothing without a cluster.
        assert!(refused(&["--cluster-name", "x"]).contains("--cluster"));
    }

    #[cfg(not(feature = "cluster"))]
    #[test]
    fn serve_cluster_without_the_feature_says_how_to_get_it() {
        let err = serve(&["--cluster", "nats://127.0.0.1:4222"]).expect_err("refused");
        assert!(err.contains("--features cluster"), "{err}");
    }
}
