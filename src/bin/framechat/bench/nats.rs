//! The bench's NATS client: just enough of the NATS text protocol (INFO, CONNECT, SUB, PUB, MSG,
//! PING/PONG) to run the bench's workload against a nats-server. Every client subscribes to one
//! subject and publishes to it, so it receives its own message back and every other client's.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::channel;
use async_std::io::prelude::{ReadExt, WriteExt};
use async_std::net::{Shutdown, SocketAddr, TcpStream};
use async_std::sync::Mutex;
use async_std::task::{self, JoinHandle};

use framechat::futures::Error;
use framechat::UnixMicros;

use super::{protocol_error, Progress, Seat, Seen};

/// A payload carries the sender's id and its send time, 8 bytes each; the rest is padding.
pub(super) const MIN_SIZE: usize = 16;

/// How long the handshake may take before the server is deemed unresponsive.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);

/// A subscribed NATS connection, not yet sending.
pub(super) struct Connection {
    stream: TcpStream,
    /// Bytes read past the handshake.
    leftover: Vec<u8>,
}

impl Connection {
    /// Connects, subscribes to the bench subject, and waits until the server confirms the
    /// subscription (PONG), so no one publishes before everyone listens.
    pub(super) async fn open(addr: SocketAddr) -> Result<Connection, Error> {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|source| crate::client::connect_failed(addr, source))?;
        stream.set_nodelay(true)?;
        let mut buf = Vec::new();
        read_line(&mut stream, &mut buf).await?; // INFO {...}
        stream
            .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB bench 1\r\nPING\r\n")
            .await?;
        loop {
            let line = read_line(&mut stream, &mut buf).await?;
            if line.starts_with(b"PONG") {
                break;
            }
            if line.starts_with(b"-ERR") {
                return Err(protocol_error(String::from_utf8_lossy(&line).into_owned()));
            }
        }
        Ok(Connection {
            stream,
            leftover: buf,
        })
    }

    /// The sending half of client `me`, and a task reading its deliveries until the socket ends.
    pub(super) fn start(
        self,
        me: u64,
        seat: Seat,
        size: usize,
        progress: Arc<Progress>,
        tokens: channel::Sender<()>,
    ) -> (Writer, JoinHandle<Result<Seen, Error>>) {
        // The reader answers the server's PINGs on the same socket: the two halves share it.
        let shared = Arc::new(Mutex::new(self.stream.clone()));
        let reading = task::spawn(read(
            self.stream.clone(),
            self.leftover,
            shared.clone(),
            me,
            seat,
            progress,
            tokens,
        ));
        let writer = Writer {
            stream: shared,
            raw: self.stream,
            me,
            size: size.max(MIN_SIZE),
            message: Vec::new(),
        };
        (writer, reading)
    }
}

/// A client's sending half.
pub(super) struct Writer {
    stream: Arc<Mutex<TcpStream>>,
    /// For shutdown, which needs no lock.
    raw: TcpStream,
    me: u64,
    size: usize,
    /// Reused for every message.
    message: Vec<u8>,
}

impl Writer {
    /// Ends the connection, so the reader's pending read returns.
    pub(super) fn shutdown(&self) {
        let _ = self.raw.shutdown(Shutdown::Both);
    }

    /// Publishes one message stamped now.
    pub(super) async fn send_one(&mut self) -> Result<(), Error> {
        // PUB bench <size>\r\n | sender id u64 | sent_at u64 | padding | \r\n
        let size = self.size;
        self.message.clear();
        self.message
            .extend_from_slice(format!("PUB bench {size}\r\n").as_bytes());
        self.message.extend_from_slice(&self.me.to_be_bytes());
        self.message
            .extend_from_slice(&UnixMicros::now().0.to_be_bytes());
        self.message
            .resize(self.message.len() + size - MIN_SIZE, b'x');
        self.message.extend_from_slice(b"\r\n");
        self.stream.lock().await.write_all(&self.message).await?;
        Ok(())
    }
}

/// Reads `MSG <subject> <sid> <len>\r\n<payload>\r\n` deliveries until the socket ends.
async fn read(
    mut stream: TcpStream,
    mut buf: Vec<u8>,
    writer: Arc<Mutex<TcpStream>>,
    me: u64,
    seat: Seat,
    progress: Arc<Progress>,
    tokens: channel::Sender<()>,
) -> Result<Seen, Error> {
    let mut seen = Seen::new();
    let mut deliveries = 0u64;
    let mut chunk = vec![0u8; 64 * 1024];
    let result = loop {
        let now = UnixMicros::now();
        let mut consumed = 0;
        while let Some(eol) = buf[consumed..].windows(2).position(|w| w == b"\r\n") {
            let line = &buf[consumed..consumed + eol];
            if line.starts_with(b"PING") {
                writer.lock().await.write_all(b"PONG\r\n").await?;
                consumed += eol + 2;
                continue;
            }
            if line.starts_with(b"-ERR") {
                break;
            }
            if !line.starts_with(b"MSG ") {
                consumed += eol + 2;
                continue;
            }
            let len: usize = std::str::from_utf8(line)
                .ok()
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .ok_or_else(|| protocol_error("malformed MSG line".into()))?;
            let start = consumed + eol + 2;
            let Some(end) = start.checked_add(len).filter(|end| end + 2 <= buf.len()) else {
                break;
            };
            let payload = &buf[start..end];
            if let (Some(sender), Some(sent_at)) = (word(payload, 0), word(payload, 8)) {
                if sender == me {
                    seen.echoes += 1;
                    let _ = tokens.try_send(());
                }
                let us = now.saturating_since(UnixMicros(sent_at));
                seen.record(us, seat.is_cross_node_client(sender));
            }
            deliveries += 1;
            consumed = end + 2;
        }
        if buf[consumed..].starts_with(b"-ERR") {
            break Err(protocol_error(
                String::from_utf8_lossy(&buf[consumed..]).into_owned(),
            ));
        }
        if consumed > 0 {
            buf.drain(..consumed);
            seen.last = Some(Instant::now());
            progress.deliveries.store(deliveries, Relaxed);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    progress.reader_done.store(true, Relaxed);
    result.map(|()| seen)
}

/// The big-endian u64 at `at` in `payload`, if the payload reaches that far.
fn word(payload: &[u8], at: usize) -> Option<u64> {
    let bytes = payload.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Reads one CRLF-terminated line into the front of `buf` and returns it; keeps what follows.
async fn read_line(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>, Error> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = buf[..eol].to_vec();
            buf.drain(..eol + 2);
            return Ok(line);
        }
        if buf.len() > 1 << 20 {
            return Err(protocol_error("line longer than 1 MiB".into()));
        }
        let n = async_std::io::timeout(HANDSHAKE_WITHIN, stream.read(&mut chunk)).await?;
        if n == 0 {
            return Err(protocol_error(
                "connection closed during the handshake".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
