//! The peer writer: drains its outbox, encodes each batch in the peer's profile, writes it with
//! one call where the socket takes it (write coalescing, so frames never interleave), and ends
//! with the farewell ERROR that says why the connection closes. Small frames are copied into one
//! buffer; large frames shared by every recipient are written from the shared bytes, gathered
//! with the buffer by one vectored write.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_std::task;
use futures_lite::AsyncWriteExt as _;

use super::link::Link;
use super::metrics::Metrics;
use super::outgoing::{Outgoing, PeerOutbox, Relayed, LEGACY_BROADCAST_PREFIX, LEGACY_ECHO_PREFIX};
use super::{lock, ServerConfig, Shared, WriteHalf};
use crate::hub::{CloseReason, Drain, Outbox, PeerId};
use crate::{Encoder, ErrorCode, Frame, Profile};

/// The most output buffer a writer keeps between writes while its outbox still gives more.
const MAX_RETAINED_OUT: usize = 256 * 1024;

/// Shared frames at least this long are written from the shared bytes by a vectored write;
/// shorter ones are copied into the output buffer, which costs less than one more iovec
/// (BENCHMARKS.md, "Fan-out CPU per delivery").
const SHARE_AT_LEAST: usize = 1024;

/// The most buffers one vectored write passes: Linux refuses more than `IOV_MAX` (1024).
const MAX_IOVECS: usize = 1024;

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
    flush_within(stream, limit).await
}

/// [`write_all_within`] for bytes in several buffers: as many as the system takes per call.
async fn write_vectored_all_within<W: WriteHalf>(
    stream: &mut W,
    mut slices: &mut [IoSlice<'_>],
    limit: Duration,
) -> io::Result<()> {
    while !slices.is_empty() {
        let upto = slices.len().min(MAX_IOVECS);
        let n = async_std::io::timeout(limit, stream.write_vectored(&slices[..upto])).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut slices, n);
    }
    flush_within(stream, limit).await
}

/// Flushes the stream, giving up after `limit`.
async fn flush_within<W: WriteHalf>(stream: &mut W, limit: Duration) -> io::Result<()> {
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

/// The writer's encoding state: the frames of a batch, in one output buffer and, for large
/// shared frames, in the shared bytes. Its buffers are allocated only while there is something in
/// them: a writer waiting on an empty outbox (an idle connection) holds no heap memory of its own.
struct PeerWriter {
    encoder: Encoder,
    out: Vec<u8>,
    /// Shared broadcasts written from their own bytes rather than copied: each `(at, relayed)`
    /// goes after `out[..at]`, and its frame is in this writer's profile. Invariant: the `at`
    /// never decrease and are at most `out.len()`.
    shared: Vec<(usize, Relayed)>,
    /// Reused for the legacy `echo: `/`peer: ` texts, so they cost no allocation.
    scratch: String,
    /// Frames pending, counted as deliveries once written.
    frames: u64,
}

impl PeerWriter {
    fn new(encoder: Encoder) -> PeerWriter {
        PeerWriter {
            encoder,
            out: Vec::new(),
            shared: Vec::new(),
            scratch: String::new(),
            frames: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.out.is_empty() && self.shared.is_empty()
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
            let wrote = !self.is_empty();
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
                    self.shared = Vec::new();
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

    /// Writes the batch, counting only what was written.
    async fn flush<W: WriteHalf>(&mut self, shared: &Shared, stream: &mut W) -> io::Result<()> {
        let written = self
            .write_pending(stream, shared.config.write_timeout)
            .await;
        match written {
            Ok((bytes, frames)) => {
                Metrics::add(&shared.metrics.bytes_out, bytes);
                Metrics::add(&shared.metrics.deliveries, frames);
                Ok(())
            }
            Err(err) => {
                if err.kind() == io::ErrorKind::TimedOut {
                    Metrics::add(&shared.metrics.write_timeouts, 1);
                }
                Err(err)
            }
        }
    }

    /// Writes every pending frame with one call where the socket takes it: a plain write of the
    /// buffer, or a vectored one when shared frames sit between its bytes. Returns the bytes and
    /// frames written.
    async fn write_pending<W: WriteHalf>(
        &mut self,
        stream: &mut W,
        limit: Duration,
    ) -> io::Result<(u64, u64)> {
        if self.is_empty() {
            return Ok((0, 0));
        }
        let mut bytes = self.out.len();
        if self.shared.is_empty() {
            write_all_within(stream, &self.out, limit).await?;
        } else {
            let mut slices = gather(&self.out, &self.shared, self.encoder.profile());
            bytes = slices.iter().map(|slice| slice.len()).sum();
            write_vectored_all_within(stream, &mut slices, limit).await?;
        }
        let frames = self.frames;
        self.out.clear();
        self.shared.clear();
        self.frames = 0;
        if self.out.capacity() > MAX_RETAINED_OUT {
            // A burst grew the buffer: give the memory back instead of keeping it per peer.
            self.out = Vec::new();
        }
        Ok((bytes as u64, frames))
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
        let profile = self.encoder.profile();
        match (message, profile) {
            (Outgoing::Broadcast(relayed), _) => match relayed.broadcast_in(profile) {
                // Encoded already, in this profile: copied if small, else written in place.
                Some(bytes) if bytes.len() < SHARE_AT_LEAST => {
                    self.out.extend_from_slice(bytes);
                    self.frames += 1;
                }
                Some(_) => {
                    self.shared.push((self.out.len(), relayed.clone()));
                    self.frames += 1;
                }
                None => self.put_relayed(relayed, false),
            },
            (Outgoing::Echo(relayed), _) => self.put_relayed(relayed, true),
            // Legacy has no PONG (§3.1).
            (Outgoing::Pong { .. }, Profile::Legacy) => {}
            (Outgoing::Pong { nonce }, Profile::Typed) => self.put(Frame::Pong { nonce: *nonce }),
        }
    }

    /// Encodes, for this writer alone, the sender's echo or a broadcast whose shared bytes are in
    /// the other profile.
    fn put_relayed(&mut self, relayed: &Relayed, echo: bool) {
        let text = match relayed.text() {
            Ok(text) => text,
            Err(err) => {
                log::error!("a relayed message's text is not UTF-8: {err}");
                return;
            }
        };
        match (self.encoder.profile(), echo) {
            (Profile::Legacy, true) => self.put_legacy(LEGACY_ECHO_PREFIX, text),
            (Profile::Legacy, false) => self.put_legacy(LEGACY_BROADCAST_PREFIX, text),
            (Profile::Typed, true) => self.put(Frame::Echo {
                sent_at: relayed.sent_at(),
                relayed_at: relayed.relayed_at(),
                text,
            }),
            (Profile::Typed, false) => self.put(Frame::Broadcast {
                from: relayed.from(),
                sent_at: relayed.sent_at(),
                relayed_at: relayed.relayed_at(),
                text,
            }),
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

/// The pending bytes in order: `out` cut at each shared frame's place, the shared frames between.
fn gather<'a>(out: &'a [u8], shared: &'a [(usize, Relayed)], profile: Profile) -> Vec<IoSlice<'a>> {
    let mut slices = Vec::with_capacity(2 * shared.len() + 1);
    let mut from = 0;
    for (at, relayed) in shared {
        if *at > from {
            slices.push(IoSlice::new(&out[from..*at]));
        }
        // Only broadcasts in `profile` are put in `shared`.
        if let Some(bytes) = relayed.broadcast_in(profile) {
            slices.push(IoSlice::new(bytes));
        }
        from = *at;
    }
    if from < out.len() {
        slices.push(IoSlice::new(&out[from..]));
    }
    slices
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures_lite::future::block_on;

    use super::*;
    use crate::{Limits, UnixMicros};

    /// A socket that takes at most `per_call` bytes per write, across buffers when vectored.
    struct Trickle {
        written: Vec<u8>,
        per_call: usize,
        vectored_calls: usize,
    }

    impl futures_io::AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.per_call);
            self.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            assert!(
                bufs.len() <= MAX_IOVECS,
                "more buffers than the system takes"
            );
            self.vectored_calls += 1;
            let mut room = self.per_call;
            for buf in bufs {
                let n = buf.len().min(room);
                self.written.extend_from_slice(&buf[..n]);
                room -= n;
            }
            Poll::Ready(Ok(self.per_call - room))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn relayed(sender: Profile, text: &str) -> Relayed {
        let relayed = Relayed::encode(
            sender,
            Limits::default(),
            7,
            UnixMicros(1),
            UnixMicros(2),
            text,
        );
        relayed.expect("the text is within the limits")
    }

    fn broadcast(sender: Profile, text: &str) -> Outgoing {
        Outgoing::Broadcast(relayed(sender, text))
    }

    fn echo(sender: Profile, text: &str) -> Outgoing {
        Outgoing::Echo(relayed(sender, text))
    }

    /// What a writer in `profile` must write for `message`, encoded on its own.
    fn expected(profile: Profile, message: &Outgoing) -> Vec<u8> {
        let mut encoder = Encoder::server(profile, Limits::default());
        let mut out = Vec::new();
        let line: String;
        let frame: Frame<&str> = match (message, profile) {
            (Outgoing::Echo(relayed), Profile::Legacy) => {
                line = format!("echo: {}", relayed.text().expect("UTF-8"));
                Frame::Text(&line)
            }
            (Outgoing::Broadcast(frame), Profile::Legacy) => {
                line = format!("peer: {}", frame.text().expect("UTF-8"));
                Frame::Text(&line)
            }
            (Outgoing::Pong { .. }, Profile::Legacy) => return out,
            (Outgoing::Echo(relayed), Profile::Typed) => Frame::Echo {
                sent_at: UnixMicros(1),
                relayed_at: UnixMicros(2),
                text: relayed.text().expect("UTF-8"),
            },
            (Outgoing::Broadcast(frame), Profile::Typed) => Frame::Broadcast {
                from: 7,
                sent_at: UnixMicros(1),
                relayed_at: UnixMicros(2),
                text: frame.text().expect("UTF-8"),
            },
            (Outgoing::Pong { nonce }, Profile::Typed) => Frame::Pong { nonce: *nonce },
        };
        encoder.encode(frame, &mut out).expect("encodes");
        out
    }

    /// Puts `messages` into a writer in `profile`, writes them `per_call` bytes at a time, and
    /// returns what reached the socket, the frames counted, and the vectored calls made.
    fn write(profile: Profile, messages: &[Outgoing], per_call: usize) -> (Vec<u8>, u64, usize) {
        let mut writer = PeerWriter::new(Encoder::server(profile, Limits::default()));
        for message in messages {
            writer.put_outgoing(message);
        }
        let mut socket = Trickle {
            written: Vec::new(),
            per_call,
            vectored_calls: 0,
        };
        let limit = Duration::from_secs(30);
        let (bytes, frames) = block_on(writer.write_pending(&mut socket, limit)).expect("writes");
        assert_eq!(bytes, socket.written.len() as u64);
        assert!(writer.is_empty(), "everything pending was written");
        (socket.written, frames, socket.vectored_calls)
    }

    fn mixed_batch() -> Vec<Outgoing> {
        let large = "x".repeat(SHARE_AT_LEAST);
        vec![
            Outgoing::Pong { nonce: 9 },
            broadcast(Profile::Typed, "small, typed sender"),
            broadcast(Profile::Typed, &large),
            echo(Profile::Typed, "mine"),
            echo(Profile::Legacy, &large),
            broadcast(Profile::Legacy, &large),
            broadcast(Profile::Legacy, "small, legacy sender"),
            broadcast(Profile::Typed, &large),
            broadcast(Profile::Legacy, &large),
        ]
    }

    #[test]
    fn every_frame_is_written_in_queue_order_whether_shared_copied_or_encoded_here() {
        // FC-28: per-sender order; FC-27: each frame in the writer's profile, whichever profile
        // the sender's shared bytes are in.
        let batch = mixed_batch();
        for profile in [Profile::Typed, Profile::Legacy] {
            let want: Vec<u8> = batch.iter().flat_map(|m| expected(profile, m)).collect();
            let frames = batch.len() as u64 - u64::from(profile == Profile::Legacy);
            for per_call in [1, 7, 1500, usize::MAX] {
                let (written, counted, vectored) = write(profile, &batch, per_call);
                assert!(written == want, "{profile:?}, {per_call} bytes per call");
                assert_eq!(counted, frames);
                assert!(vectored > 0, "large shared frames go by vectored writes");
            }
        }
    }

    #[test]
    fn small_frames_are_copied_into_one_plain_write() {
        let batch = [
            broadcast(Profile::Typed, "a"),
            broadcast(Profile::Typed, "b"),
        ];
        let (written, frames, vectored) = write(Profile::Typed, &batch, usize::MAX);
        let want: Vec<u8> = batch
            .iter()
            .flat_map(|m| expected(Profile::Typed, m))
            .collect();
        assert_eq!((written, frames, vectored), (want, 2, 0));
    }

    #[test]
    fn more_shared_frames_than_one_vectored_write_takes_are_all_written() {
        let large = "y".repeat(SHARE_AT_LEAST);
        let batch: Vec<Outgoing> = (0..MAX_IOVECS + 10)
            .map(|_| broadcast(Profile::Legacy, &large))
            .collect();
        let (written, frames, vectored) = write(Profile::Legacy, &batch, usize::MAX);
        let one = expected(Profile::Legacy, &batch[0]);
        assert_eq!(written.len(), one.len() * batch.len());
        assert!(written.chunks(one.len()).all(|frame| frame == one));
        assert_eq!((frames, vectored), (batch.len() as u64, 2));
    }
}
