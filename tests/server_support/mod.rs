//! A `framechat` server for socket tests: started on the ports its config names (0: any free one),
//! stopped within a generous bound, and its metrics awaited until a count is reached.
//!
//! Each test binary that needs it says `mod server_support;` and uses what it needs of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_std::task;
use framechat::server::{Server, ServerConfig, ServerHandle, Snapshot};

/// How long a stop may take: the shutdown grace, the server's unwinding, and time to spare on a
/// loaded machine. Only a shutdown that hangs reaches it.
pub(crate) const STOP_WITHIN: Duration = Duration::from_secs(30);

/// How long [`metrics_until`] waits for a count: only a lost event reaches it.
pub(crate) const METRICS_WITHIN: Duration = Duration::from_secs(10);

/// How long [`next_frame`] waits for a frame: only a lost frame reaches it.
pub(crate) const FRAME_WITHIN: Duration = Duration::from_secs(10);

/// A server running in a task of its own.
pub(crate) struct Running {
    pub(crate) handle: ServerHandle,
    task: task::JoinHandle<std::io::Result<Snapshot>>,
}

/// Binds `config` (free ports where it says port 0) and runs the server.
pub(crate) async fn start(config: ServerConfig) -> Running {
    let server = Server::bind(config).await.expect("bind to a free port");
    let handle = server.handle();
    Running {
        handle,
        task: task::spawn(server.run()),
    }
}

impl Running {
    /// The plain listener's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// The TLS listener's address.
    #[cfg(feature = "tls")]
    pub(crate) fn tls_addr(&self) -> SocketAddr {
        self.handle.tls_addr().expect("a TLS listener")
    }

    /// Shuts the server down and returns its final metrics.
    pub(crate) async fn stop(self) -> Snapshot {
        self.handle.shutdown();
        async_std::future::timeout(STOP_WITHIN, self.task)
            .await
            .expect("shutdown finishes within the wait")
            .expect("server ran without an I/O error")
    }
}

/// Waits until the server's metrics satisfy `ready`, at most [`METRICS_WITHIN`]; returns the last
/// metrics read either way, for the caller's assertion to show.
pub(crate) async fn metrics_until(
    handle: &ServerHandle,
    ready: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    let deadline = Instant::now() + METRICS_WITHIN;
    loop {
        let now = handle.metrics();
        if ready(&now) || Instant::now() > deadline {
            return now;
        }
        task::sleep(Duration::from_millis(5)).await;
    }
}

/// The next frame a client reads, within [`FRAME_WITHIN`]; a test fails on anything else (a
/// timeout, the end of the stream, a frame that does not decode).
pub(crate) async fn next_frame<S: futures_io::AsyncRead + Unpin>(
    reader: &mut framechat::futures::FrameStream<S>,
) -> framechat::Frame {
    use futures_lite::StreamExt as _;
    async_std::future::timeout(FRAME_WITHIN, reader.next())
        .await
        .expect("a frame within the wait")
        .expect("not the end of the stream")
        .expect("a well-formed frame")
}
