//! The `framechat` command: `serve`, `client`, `demo`.

mod bench;
mod client;
mod demo;
mod logger;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::client::describe;
use async_std::task;
use clap::{Parser, Subcommand, ValueEnum};
use framechat::hub::HubConfig;
use framechat::server::{Server, ServerConfig};
use framechat::{Limits, Profile, UnixMicros};

/// A specified length-prefixed chat protocol: server, client and demo.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log level: error, warn, info, debug, trace or off.
    #[arg(long, global = true, default_value = "info")]
    log_level: log::LevelFilter,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the chat server (both profiles on one port).
    Serve(ServeArgs),
    /// An interactive line client: stdin lines are sent, what arrives is printed.
    Client(ClientArgs),
    /// The seed's demo: an in-process server and two concurrent clients.
    Demo,
    /// The stress bench: N clients, closed-loop, throughput, latency percentiles and loss.
    Bench(BenchArgs),
}

#[derive(Parser)]
struct BenchArgs {
    /// Server to drive; without it a framechat server starts in-process on a free port.
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Protocol: framechat typed or legacy (the seed's framing), or a NATS server.
    #[arg(long, value_enum, default_value_t = BenchTarget::Typed)]
    profile: BenchTarget,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Messages each client sends (the default load: 1000).
    #[arg(long, conflicts_with = "duration")]
    messages: Option<u64>,
    /// Send for this long instead of a fixed count (e.g. 10s).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Message size in bytes.
    #[arg(long, default_value_t = 16)]
    size: usize,
    /// Messages each client may have in flight.
    #[arg(long, default_value_t = 1)]
    window: usize,
    /// How long to wait for deliveries in flight after the last send.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    drain: Duration,
    /// Nodes, for the capacity estimate.
    #[arg(long, default_value_t = 1.0)]
    nodes: f64,
    /// Utilization, for the capacity estimate.
    #[arg(long, default_value_t = 0.7)]
    utilization: f64,
    /// Print one JSON object and nothing else on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchTarget {
    Typed,
    Legacy,
    Nats,
}

#[derive(Parser)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50555")]
    addr: SocketAddr,
    /// Largest frame payload accepted, in bytes (64..=2147483647).
    #[arg(long, default_value_t = Limits::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: u32,
    /// Largest number of connections; past it connections get SERVER_FULL and are closed.
    #[arg(long, default_value_t = HubConfig::default().max_peers())]
    max_connections: usize,
    /// Per-peer outbound queue bound, in frames.
    #[arg(long, default_value_t = HubConfig::default().max_queue_frames())]
    queue_frames: usize,
    /// Per-peer outbound queue bound, in bytes.
    #[arg(long, default_value_t = HubConfig::default().max_queue_bytes())]
    queue_bytes: usize,
    /// Close a connection idle this long (e.g. 300s, 500ms, 5m).
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// Close a connection that leaves a frame incomplete this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    frame_deadline: Duration,
    /// Treat a connection that sends nothing this long as legacy.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    detect_window: Duration,
    /// Give up on a peer whose socket accepts nothing this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    write_timeout: Duration,
    /// How long shutdown waits for queues to drain.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    shutdown_grace: Duration,
    /// Print the metrics line this often (0s: never).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    metrics_interval: Duration,
    /// Serve Prometheus metrics over HTTP on this address (e.g. 127.0.0.1:9090).
    #[arg(long)]
    metrics_addr: Option<SocketAddr>,
}

#[derive(Parser)]
struct ClientArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:50555")]
    addr: SocketAddr,
    /// Wire profile.
    #[arg(long, value_enum, default_value_t = ProfileArg::Typed)]
    profile: ProfileArg,
    /// Largest frame accepted from the server, in bytes (typed clients adopt the server's from
    /// WELCOME).
    #[arg(long, default_value_t = Limits::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: u32,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProfileArg {
    Typed,
    Legacy,
}

impl From<ProfileArg> for Profile {
    fn from(arg: ProfileArg) -> Profile {
        match arg {
            ProfileArg::Typed => Profile::Typed,
            ProfileArg::Legacy => Profile::Legacy,
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
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
    Duration::try_from_secs_f64(seconds).map_err(|err| err.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo and the bench print results on stdout: keep the server's info lines out of them.
    let level = match cli.command {
        Command::Demo | Command::Bench(_) => cli.log_level.min(log::LevelFilter::Warn),
        _ => cli.log_level,
    };
    logger::init(level);
    let result = match cli.command {
        Command::Serve(args) => task::block_on(serve(args)),
        Command::Client(args) => task::block_on(run_client(args)),
        Command::Demo => task::block_on(demo()),
        Command::Bench(args) => task::block_on(bench(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The whole chain: an adapter error names its layer, its source says what happened.
            let mut message = format!("framechat: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

async fn serve(args: ServeArgs) -> Result<(), AnyError> {
    let config = ServerConfig {
        addr: args.addr,
        limits: Limits::new(args.max_frame_len)?,
        hub: HubConfig::new(args.max_connections, args.queue_frames, args.queue_bytes)?,
        idle_timeout: args.idle_timeout,
        frame_deadline: args.frame_deadline,
        detect_window: args.detect_window,
        write_timeout: args.write_timeout,
        shutdown_grace: args.shutdown_grace,
        metrics_interval: Some(args.metrics_interval).filter(|d| !d.is_zero()),
        metrics_addr: args.metrics_addr,
    };
    let server = Server::bind(config).await?;
    let handle = server.handle();
    // Ctrl-C / SIGTERM set a flag (async-signal-safe); a task turns it into a graceful shutdown.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    task::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            task::sleep(Duration::from_millis(50)).await;
        }
        handle.shutdown();
    });
    eprintln!(
        "framechat: serving legacy and typed clients on {}",
        server.local_addr()
    );
    let last = server.run().await?;
    println!("{}", last.to_final_json_line());
    Ok(())
}

async fn run_client(args: ClientArgs) -> Result<(), AnyError> {
    let limits = Limits::new(args.max_frame_len)?;
    let (mut reader, mut writer) = client::connect(args.addr, args.profile.into(), limits).await?;
    // Dropped when the printer ends (the server closed), which ends the input loop too.
    let (printing, printer_done) = async_std::channel::bounded::<()>(1);
    let printer = task::spawn(async move {
        let _printing = printing;
        loop {
            match reader.recv().await {
                Ok(Some(frame)) => println!("{}", describe(&frame, UnixMicros::now())),
                Ok(None) => break Ok::<(), AnyError>(()),
                Err(err) => break Err(err.into()),
            }
        }
    });
    let stdin = async_std::io::stdin();
    let mut line = String::new();
    loop {
        line.clear();
        let read =
            futures_lite::future::or(async { Some(stdin.read_line(&mut line).await) }, async {
                let _ = printer_done.recv().await;
                None
            })
            .await;
        match read {
            // The server closed the connection: nothing more can be sent.
            None => break,
            // End of input: a clean end of stream; the server closes after what is queued.
            Some(Ok(0)) => {
                writer.close()?;
                break;
            }
            Some(Ok(_)) => {
                let text = line.trim_end_matches(['\r', '\n']);
                writer.send_message(text, UnixMicros::now()).await?;
            }
            Some(Err(err)) => return Err(err.into()),
        }
    }
    printer.await
}

async fn demo() -> Result<(), AnyError> {
    let (logs, metrics) = demo::run().await?;
    for log in &logs {
        for line in &log.received {
            println!("{} ({:?}) recv: {line}", log.name, log.profile);
        }
    }
    println!("{}", metrics.to_final_json_line());
    Ok(())
}

async fn bench(args: BenchArgs) -> Result<(), AnyError> {
    use bench::{self, BenchConfig, Load, Target};
    use std::io::IsTerminal;
    if args.clients == 0 || args.window == 0 {
        return Err("--clients and --window must be at least 1".into());
    }
    let config = BenchConfig {
        addr: args.addr,
        target: match args.profile {
            BenchTarget::Typed => Target::Typed,
            BenchTarget::Legacy => Target::Legacy,
            BenchTarget::Nats => Target::Nats,
        },
        clients: args.clients,
        load: match (args.messages, args.duration) {
            (_, Some(duration)) => Load::Duration(duration),
            (messages, None) => Load::Messages(messages.unwrap_or(1000)),
        },
        size: args.size,
        window: args.window,
        drain: args.drain,
        nodes: args.nodes,
        utilization: args.utilization,
    };
    if config.target == Target::Nats && config.addr.is_none() {
        return Err("--profile nats needs --addr of a running nats-server".into());
    }
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] sent {pos}/{len} ({per_sec})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let report = bench::run(&config, |sent, quota| {
        if let Some(bar) = &bar {
            bar.set_length(quota.max(sent));
            bar.set_position(sent);
        }
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_text());
    }
    Ok(())
}
