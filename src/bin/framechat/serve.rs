//! `framechat serve`: the server until SIGINT or SIGTERM, then a graceful shutdown (FC-33) and
//! the final metrics line on stdout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_std::task;
use framechat::server::{Server, ServerConfig};

use crate::AnyError;

/// How often the signal flag is looked at: a shutdown starts at most this late.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

pub(crate) async fn run(config: ServerConfig) -> Result<(), AnyError> {
    #[cfg(feature = "cluster")]
    let cluster = config.cluster.clone();
    let server = Server::bind(config).await?;
    let handle = server.handle();
    // A signal handler may only set a flag (async-signal-safe); a task turns it into a shutdown.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    task::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            task::sleep(SIGNAL_POLL).await;
        }
        handle.shutdown();
    });
    eprintln!(
        "framechat: serving legacy and typed clients on {}",
        server.local_addr()
    );
    // A line of its own, after the first: scripts that read the plain address keep working.
    if let Some(tls_addr) = server.tls_addr() {
        eprintln!("framechat: serving legacy and typed clients over TLS on {tls_addr}");
    }
    #[cfg(feature = "cluster")]
    if let Some(cluster) = cluster {
        announce_cluster(&server, &cluster);
    }
    let last = server.run().await?;
    crate::say(&last.to_final_json_line());
    Ok(())
}

/// One line naming this node's cluster, id and epoch, then one line per bus connection change, as
/// it happens (scripts and tests wait on them).
#[cfg(feature = "cluster")]
fn announce_cluster(server: &Server, cluster: &framechat::cluster::ClusterConfig) {
    let handle = server.handle();
    let (Some(origin), Some(events)) = (handle.cluster_origin(), handle.bus_events()) else {
        return;
    };
    eprintln!(
        "framechat: cluster {} node {:016x} epoch {} on {}",
        cluster.name,
        origin.node,
        origin.epoch,
        cluster.servers.join(",")
    );
    task::spawn(async move {
        while let Ok(event) = events.recv().await {
            eprintln!("framechat: {event}");
        }
    });
}
