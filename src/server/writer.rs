//! The peer writer: drains its outbox, encodes each batch in the peer's profile into one buffer,
//! writes it with one call (write coalescing, so frames never interleave), and ends with the
//! farewell ERROR that says why the connection closes.

use std::future::poll_fn;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::task;
use futures_lite::AsyncWriteExt as _;

use super::link::Link;
use super::metrics::Metrics;
use super::outgoing::{Outgoing, PeerOutbox};
use super::{lock, ServerConfig, Shared, WriteHalf};
use crate::hub::{CloseReason, Drain, Outbox, PeerId};
use crate::{Encoder, ErrorCode, Frame, Profile};

/// The most output buffer a writer keeps between writes while its outbox still gives more.
const MAX_RETAINED_OUT: usize = 256 * 1024;

/// How a writer ended, for the disconnect's log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WriterEnd {
    /// Its outbox closed and what it held was written (or the peer was gone).
    Drained,
    /// A write failed or timed out: nothing more could be sent.
    WriteFailed,
}

/// Starts the writer of `peer` in `profile`: from now on it is the socket's only writer. It writes
/// `held` (what the reader took from the outbox before the writer could start) first, then what
/// the outbox gives.
pub(super) fn start_writer<W: WriteHalf>(
    shared: &Arc<Shared>,
    peer: PeerId,
    stream: W,
    outbox: PeerOutbox,
    held: Vec<Outgoing>,
    profile: Profile,
    link: &Arc<Link>,
) -> task::JoinHandle<WriterEnd> {
    let (shared, link) = (shared.clone(), link.clone());
    task::spawn(
        async move { write_loop(&shared, peer, stream, &outbox, held, profile, &link).await },
    )
}

async fn write_loop<W: WriteHalf>(
    shared: &Shared,
    peer: PeerId,
    mut stream: W,
    outbox: &Outbox<Outgoing>,
    held: Vec<Outgoing>,
    profile: Profile,
    link: &Link,
) -> WriterEnd {
    let config = &shared.config;
    let mut writer = PeerWriter::new(Encoder::server(profile, config.limits));
    if profile == Profile::Typed {
        writer.put(Frame::Welcome {
            peer_id: peer,
            max_frame_len: config.limits.max_frame_len(),
        });
    }
    for message in &held {
        writer.put_outgoing(message);
    }
    drop(held);
    let ended = writer
        .deliver(shared, peer, &mut stream, outbox, link)
        .await;
    // A slow consumer is logged with its disconnect, by the reader.
    let farewell = match ended.reason {
        Some(CloseReason::SlowConsumer) => Some((
            ErrorCode::SLOW_CONSUMER,
            "your queue was full: read faster".to_string(),
        )),
        Some(CloseReason::Shutdown) => Some((
            ErrorCode::GOING_AWAY,
            "the server is shutting down".to_string(),
        )),
        // The reader left: with its error, if it had one.
        Some(_) => lock(&link.farewell).take(),
        None => None,
    };
    if !ended.write_failed {
        if let (Some((code, reason)), Profile::Typed) = (&farewell, profile) {
            writer.put(Frame::Error {
                code: *code,
                reason,
            });
        }
        let _ = writer.flush(shared, &mut stream).await;
    }
    // Our end of stream, after the last frame. The read side stays open: closing it while the
    // peer still sends would make the kernel reset the connection and destroy what the peer has
    // not read yet, the ERROR included. The reader's task lingers, then closes the socket.
    close_within(&mut stream, config.write_timeout).await;
    if !matches!(ended.reason, Some(CloseReason::Left)) {
        // The server closes while the reader still runs: tell it the end is ours, and stop it.
        link.closed_by_server.store(true, Ordering::Release);
        link.stop_reading.close();
    }
    if ended.write_failed {
        WriterEnd::WriteFailed
    } else {
        WriterEnd::Drained
    }
}

/// How a writer's delivery ended.
struct Ended {
    /// Why the outbox closed; `None` if a write failed before it did.
    reason: Option<CloseReason>,
    /// A write failed: nothing more can be sent.
    write_failed: bool,
}

/// Writes one typed ERROR on a connection that has no writer task (a refused connection, an error
/// inside the preface): the calling task is then the socket's only writer.
pub(super) async fn write_error_directly<W: WriteHalf>(
    stream: &mut W,
    code: ErrorCode,
    reason: &str,
    config: &ServerConfig,
) {
    let mut out = Vec::new();
    let frame = Frame::Error { code, reason };
    if Encoder::server(Profile::Typed, config.limits)
        .encode(frame, &mut out)
        .is_ok()
    {
        let _ = write_all_within(stream, &out, config.write_timeout).await;
    }
}

/// Writes all of `bytes`, giving up when one write call makes no progress for `limit` (a peer
/// that reads slowly but steadily is not cut off by the size of a batch). The flush is free on
/// TCP; TLS may hold the last record until it.
async fn write_all_within<W: WriteHalf>(
    stream: &mut W,
    mut bytes: &[u8],
    limit: Duration,
) -> io::Result<()> {
    while !bytes.is_empty() {
        let n = async_std::io::timeout(limit, stream.write(bytes)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
    }
    // TCP's flush is always ready: only a pending one (TLS) pays for a timer.
    let mut flush = stream.flush();
    match futures_lite::future::poll_once(&mut flush).await {
        Some(flushed) => flushed,
        None => async_std::io::timeout(limit, flush).await,
    }
}

/// Ends our direction of the stream: a FIN on TCP (`shutdown(Write)`), close_notify then a FIN
/// on TLS. Bounded by `limit`, as any write, since TLS may still have to send.
pub(super) async fn close_within<W: WriteHalf>(stream: &mut W, limit: Duration) {
    let _ = async_std::io::timeout(limit, stream.close()).await;
}

/// The writer's encoding state: one output buffer shared by every frame of a batch. Its buffers
/// are allocated only while there is something in them: a writer waiting on an empty outbox (an
/// idle connection) holds no heap memory of its own.
struct PeerWriter {
    encoder: Encoder,
    out: Vec<u8>,
    /// Reused for the legacy `echo: `/`peer: ` texts, so they cost no allocation.
    scratch: String,
    /// Frames in `out`, counted as deliveries once written.
    frames: u64,
}

impl PeerWriter {
    fn new(encoder: Encoder) -> PeerWriter {
        PeerWriter {
            encoder,
            out: Vec::new(),
            scratch: String::new(),
            frames: 0,
        }
    }

    /// Writes what is pending, then each batch the outbox gives, until it closes or a write fails.
    async fn deliver<W: WriteHalf>(
        &mut self,
        shared: &Shared,
        peer: PeerId,
        stream: &mut W,
        outbox: &Outbox<Outgoing>,
        link: &Link,
    ) -> Ended {
        let mut batch = Vec::new();
        loop {
            let wrote = !self.out.is_empty();
            if let Err(err) = self.flush(shared, stream).await {
                log::debug!("peer {peer}: write failed: {err}");
                // A peer that stopped reading may meanwhile have been closed as a slow consumer.
                return Ended {
                    reason: outbox.close_reason(),
                    write_failed: true,
                };
            }
            if wrote {
                *lock(&link.last_write) = Some(Instant::now());
            }
            let drained = poll_fn(|cx| {
                let drained = outbox.poll_drain(cx, &mut batch);
                if drained.is_pending() {
                    // Nothing more to write for now, maybe for minutes: keep no buffers.
                    self.out = Vec::new();
                    self.scratch = String::new();
                    batch = Vec::new();
                }
                drained
            })
            .await;
            for message in batch.drain(..) {
                self.put_outgoing(&message);
            }
            if let Drain::Closed(reason) = drained {
                return Ended {
                    reason: Some(reason),
                    write_failed: false,
                };
            }
        }
    }

    /// Writes the batch with one call where the socket takes it; counts only what was written.
    async fn flush<W: WriteHalf>(&mut self, shared: &Shared, stream: &mut W) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let written = write_all_within(stream, &self.out, shared.config.write_timeout).await;
        if let Err(err) = &written {
            if err.kind() == io::ErrorKind::TimedOut {
                Metrics::add(&shared.metrics.write_timeouts, 1);
            }
            return written;
        }
        Metrics::add(&shared.metrics.bytes_out, self.out.len() as u64);
        Metrics::add(&shared.metrics.deliveries, self.frames);
        self.out.clear();
        self.frames = 0;
        if self.out.capacity() > MAX_RETAINED_OUT {
            // A burst grew the buffer: give the memory back instead of keeping it per peer.
            self.out = Vec::new();
        }
        Ok(())
    }

    fn put(&mut self, frame: Frame<&str>) {
        match self.encoder.encode(frame, &mut self.out) {
            Ok(_) => self.frames += 1,
            // The hub only carries texts the decoder bounded by the relay headroom (FC-15), so
            // this is a bug, not a peer's fault: log it and drop the frame.
            Err(err) => log::error!("could not encode an outgoing frame: {err}"),
        }
    }

    fn put_outgoing(&mut self, message: &Outgoing) {
        match (message, self.encoder.profile()) {
            (Outgoing::Echo { text, .. }, Profile::Legacy) => self.put_legacy("echo: ", text),
            (Outgoing::Broadcast { text, .. }, Profile::Legacy) => self.put_legacy("peer: ", text),
            // Legacy has no PONG (§3.1).
            (Outgoing::Pong { .. }, Profile::Legacy) => {}
            (
                Outgoing::Echo {
                    sent_at,
                    relayed_at,
                    text,
                },
                Profile::Typed,
            ) => self.put(Frame::Echo {
                sent_at: *sent_at,
                relayed_at: *relayed_at,
                text,
            }),
            (
                Outgoing::Broadcast {
                    from,
                    sent_at,
                    relayed_at,
                    text,
                },
                Profile::Typed,
            ) => self.put(Frame::Broadcast {
                from: *from,
                sent_at: *sent_at,
                relayed_at: *relayed_at,
                text,
            }),
            (Outgoing::Pong { nonce }, Profile::Typed) => self.put(Frame::Pong { nonce: *nonce }),
        }
    }

    fn put_legacy(&mut self, prefix: &str, text: &str) {
        let mut scratch = core::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.push_str(prefix);
        scratch.push_str(text);
        self.put(Frame::Text(&scratch));
        self.scratch = scratch;
    }
}
