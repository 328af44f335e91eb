//! The notebook's demo run as one command: a server on a free port, two clients at once.

use std::net::SocketAddr;
use std::time::Duration;

use async_std::task;
use futures_lite::StreamExt as _;

use crate::client::{self, describe, Reader, Writer};
use crate::{say, AnyError};
use framechat::futures::Error;
use framechat::server::{Server, ServerConfig, Snapshot};
use framechat::{Frame, Limits, Profile, UnixMicros};

/// `framechat demo`: runs the demo and prints what each client received, then the final metrics.
pub(crate) async fn command() -> Result<(), AnyError> {
    let (logs, metrics) = run().await?;
    for log in &logs {
        for line in &log.received {
            say(&format!("{} ({:?}) recv: {line}", log.name, log.profile));
        }
    }
    say(&metrics.to_final_json_line());
    Ok(())
}

/// What one demo client saw.
#[derive(Debug, Clone)]
pub(crate) struct ClientLog {
    /// The client's name in the output.
    pub name: String,
    /// Its profile.
    pub profile: Profile,
    /// Every frame it received, described.
    pub received: Vec<String>,
}

/// Runs the demo: the notebook's two clients (`a b c d` as a legacy client, `x y z` as a typed one),
/// concurrently, against an in-process server; returns what each received and the final metrics.
///
/// Each client sends a message, waits for its echo (printing peer messages that arrive meanwhile),
/// and after its last echo waits for the other client's messages, so the run ends on its own.
pub(crate) async fn run() -> Result<(Vec<ClientLog>, Snapshot), Error> {
    let config = ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        metrics_interval: None,
        // Every client here speaks first, so its first bytes decide its profile: a client
        // descheduled between connect and first write must not be judged legacy by the clock.
        detect_window: crate::IN_PROCESS_DETECT_WINDOW,
        ..ServerConfig::default()
    };
    let server = Server::bind(config).await.map_err(std::io::Error::from)?;
    let addr = server.local_addr();
    let handle = server.handle();
    let server_task = task::spawn(server.run());

    const NOTEBOOK_A: [&str; 4] = ["a", "b", "c", "d"];
    const NOTEBOOK_X: [&str; 3] = ["x", "y", "z"];
    // Both are in the room before either sends, so each sees all of the other's messages. A
    // connect returns before the server has accepted; client 2's WELCOME proves it was, and the
    // server accepts in order, so client 1 was too.
    let a = client::connect(addr, Profile::Legacy, Limits::default()).await?;
    let (mut x_reader, x_writer) = client::connect(addr, Profile::Typed, Limits::default()).await?;
    let welcome = match recv_within(&mut x_reader).await? {
        Some(frame @ Frame::Welcome { .. }) => describe(&frame, UnixMicros::now()),
        other => {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("expected WELCOME first, got {other:?}"),
            )))
        }
    };
    let first = task::spawn(demo_client(
        "client 1",
        a,
        Vec::new(),
        &NOTEBOOK_A,
        NOTEBOOK_X.len(),
    ));
    let second = task::spawn(demo_client(
        "client 2",
        (x_reader, x_writer),
        vec![welcome],
        &NOTEBOOK_X,
        NOTEBOOK_A.len(),
    ));
    let logs = vec![first.await?, second.await?];

    handle.shutdown();
    let snapshot = server_task.await?;
    Ok((logs, snapshot))
}

async fn demo_client(
    name: &str,
    (mut reader, mut writer): (Reader, Writer),
    received: Vec<String>,
    messages: &[&str],
    peer_messages: usize,
) -> Result<ClientLog, Error> {
    let mut log = ClientLog {
        name: name.to_string(),
        profile: writer.encoder().profile(),
        received,
    };
    let mut peers_seen = 0;
    for message in messages {
        client::send_message(&mut writer, message, UnixMicros::now()).await?;
        // Until our own echo comes back, noting the peers' messages that arrive meanwhile.
        while let Some(frame) = recv_within(&mut reader).await? {
            log.received.push(describe(&frame, UnixMicros::now()));
            match kind(&frame) {
                Kind::Echo => break,
                Kind::Peer => peers_seen += 1,
                Kind::Other => {}
            }
        }
    }
    while peers_seen < peer_messages {
        let Some(frame) = recv_within(&mut reader).await? else {
            break;
        };
        log.received.push(describe(&frame, UnixMicros::now()));
        if kind(&frame) == Kind::Peer {
            peers_seen += 1;
        }
    }
    client::finish(&mut writer).await?;
    Ok(log)
}

#[derive(PartialEq)]
enum Kind {
    Echo,
    Peer,
    Other,
}

fn kind(frame: &Frame) -> Kind {
    match frame {
        Frame::Echo { .. } => Kind::Echo,
        Frame::Broadcast { .. } => Kind::Peer,
        Frame::Text(text) if text.starts_with("echo: ") => Kind::Echo,
        Frame::Text(text) if text.starts_with("peer: ") => Kind::Peer,
        _ => Kind::Other,
    }
}

/// Far longer than a frame takes on loopback: only a lost frame reaches it.
const RECEIVE_WITHIN: Duration = Duration::from_secs(5);

/// A receive bounded in time, so a lost frame ends the demo with an error instead of a hang.
async fn recv_within(reader: &mut Reader) -> Result<Option<Frame>, Error> {
    match async_std::future::timeout(RECEIVE_WITHIN, reader.try_next()).await {
        Ok(result) => result,
        Err(_) => Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no frame within {RECEIVE_WITHIN:?}"),
        ))),
    }
}
