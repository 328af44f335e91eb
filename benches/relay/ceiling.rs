//! The async-std ceiling relay: the fastest relay of issue 13's workload we could write on
//! async-std itself, to measure how much of framechat's fan-out cost is the runtime's and how much
//! is framechat's own (BENCHMARKS.md, "The async-std ceiling").
//!
//! ```text
//! ceiling-relay [ADDR]          (default 127.0.0.1:0; prints `listening on ADDR`)
//! framechat bench --addr ADDR --profile legacy --server-pid PID ...
//! ```
//!
//! The workload is the seed's (spec §3.1): 4-byte big-endian length, then the text. Every message
//! goes back to its sender as `echo: T` and to every other connection as `peer: T`. There is no
//! hub, no codec, no limit beyond a sanity cap on one frame, no metrics, no slow-consumer policy:
//! a queue grows as long as its peer is slow. Do not put it in front of anything but the bench.
//!
//! What it does to be fast:
//! - one reader and one writer task per connection on async-std's default executor;
//! - the reader parses every complete frame of a read in place and builds the batch's `echo:`
//!   and `peer:` frames once, whatever the number of recipients;
//! - a `peer:` batch of [`SHARE_FROM`] bytes or more is shared by every recipient as one
//!   `Arc<[u8]>` and written in place with `write_vectored`; a smaller one is copied into each
//!   recipient's queue, where it joins the bytes already waiting (one plain write later);
//! - a writer is woken by the first push after it parked and by none after it, until it runs.
//!
//! `CEILING_YIELD=1` makes each writer yield once before it takes its queue, so that readers
//! running meanwhile add to the batch (fewer, larger writes; BENCHMARKS.md says what it measured).
use std::io::{self, IoSlice};
use std::mem;
use std::net::Shutdown;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use async_std::io::prelude::{ReadExt, WriteExt};
use async_std::net::{TcpListener, TcpStream};
use async_std::task;

/// A `peer:` batch at least this long is shared rather than copied per recipient: below it, a
/// copy into the bytes already queued costs less than one more iovec (the crossover framechat's
/// writer measured, BENCHMARKS.md "Fan-out CPU per delivery").
const SHARE_FROM: usize = 1024;

/// A frame longer than this closes its connection: the only limit, so a stray client cannot make
/// the relay reserve gigabytes.
const MAX_FRAME: usize = 16 << 20;

/// How much one read asks for at most.
const READ_SIZE: usize = 64 << 10;

/// The prefixes of the seed's relayed lines.
const ECHO: &[u8] = b"echo: ";
const PEER: &[u8] = b"peer: ";

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    if let Err(err) = task::block_on(serve(&addr)) {
        eprintln!("ceiling-relay: {err}");
        std::process::exit(1);
    }
}

async fn serve(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let room = Arc::new(Room::default());
    loop {
        let (stream, _) = listener.accept().await?;
        // Small frames each way: Nagle would hold echoes back behind unacknowledged ones.
        stream.set_nodelay(true)?;
        let peer = Arc::new(Peer::default());
        room.join(&peer);
        task::spawn(write_queue(stream.clone(), peer.clone()));
        task::spawn(read_and_relay(stream, peer, room.clone()));
    }
}

/// Everyone connected. Readers take a snapshot per batch and never hold the lock while pushing.
#[derive(Default)]
struct Room {
    peers: Mutex<Arc<Vec<Arc<Peer>>>>,
}

impl Room {
    fn join(&self, peer: &Arc<Peer>) {
        let mut peers = lock(&self.peers);
        let mut next = Vec::clone(&peers);
        next.push(peer.clone());
        *peers = Arc::new(next);
    }

    fn leave(&self, peer: &Arc<Peer>) {
        let mut peers = lock(&self.peers);
        let next = peers
            .iter()
            .filter(|other| !Arc::ptr_eq(other, peer))
            .cloned()
            .collect();
        *peers = Arc::new(next);
    }

    fn snapshot(&self) -> Arc<Vec<Arc<Peer>>> {
        lock(&self.peers).clone()
    }
}

/// One connection's outgoing queue, shared by every reader that relays to it and its writer.
#[derive(Default)]
struct Peer {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    pending: Pending,
    /// The parked writer's waker; taken by the first push, so later pushes wake nobody.
    waker: Option<Waker>,
    /// The reader is gone: the writer flushes what is queued and shuts the socket.
    closed: bool,
}

/// Bytes waiting to be written, in order: runs of copied bytes and shared batches.
#[derive(Default)]
struct Pending {
    copied: Vec<u8>,
    parts: Vec<Part>,
}

enum Part {
    Copied(Range<usize>),
    Shared(Arc<[u8]>),
}

impl Pending {
    fn push_copy(&mut self, bytes: &[u8]) {
        let start = self.copied.len();
        self.copied.extend_from_slice(bytes);
        let end = self.copied.len();
        match self.parts.last_mut() {
            Some(Part::Copied(run)) => run.end = end,
            _ => self.parts.push(Part::Copied(start..end)),
        }
    }

    fn push_shared(&mut self, bytes: &Arc<[u8]>) {
        self.parts.push(Part::Shared(bytes.clone()));
    }

    fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    fn clear(&mut self) {
        self.copied.clear();
        self.parts.clear();
    }
}

impl Peer {
    /// Runs `push` on the queue, then wakes the writer if it was parked.
    fn push(&self, push: impl FnOnce(&mut Pending)) {
        let waker = {
            let mut queue = lock(&self.queue);
            push(&mut queue.pending);
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn close(&self) {
        let waker = {
            let mut queue = lock(&self.queue);
            queue.closed = true;
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Waits until something is queued, then swaps it with `spare` (empty, its capacity kept).
    /// `false`: closed and nothing left.
    async fn take(&self, spare: &mut Pending) -> bool {
        std::future::poll_fn(|cx| {
            let mut queue = lock(&self.queue);
            if !queue.pending.is_empty() {
                mem::swap(&mut queue.pending, spare);
                Poll::Ready(true)
            } else if queue.closed {
                Poll::Ready(false)
            } else {
                queue.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Reads frames, relays every complete frame of each read as one batch, until the stream ends.
async fn read_and_relay(mut stream: TcpStream, me: Arc<Peer>, room: Arc<Room>) {
    // Unconsumed input is `input[..filled]`, always from the start: a cut frame's bytes are moved
    // to the front after each read (a few bytes at most, but for frames longer than a read).
    let mut input = vec![0; READ_SIZE];
    let mut filled = 0;
    let mut echoes = Vec::new();
    let mut peers = Vec::new();
    loop {
        if filled == input.len() {
            let needed = needed(&input[..filled]);
            if needed > MAX_FRAME + 4 {
                break;
            }
            input.resize(needed.max(filled + READ_SIZE), 0);
        }
        match stream.read(&mut input[filled..]).await {
            Ok(0) | Err(_) => break,
            Ok(read) => filled += read,
        }

        let mut at = 0;
        echoes.clear();
        peers.clear();
        while let Some((text, next)) = frame_at(&input[..filled], at) {
            put_line(&mut echoes, ECHO, text);
            put_line(&mut peers, PEER, text);
            at = next;
        }
        input.copy_within(at..filled, 0);
        filled -= at;
        if echoes.is_empty() {
            continue;
        }

        me.push(|queue| queue.push_copy(&echoes));
        let room = room.snapshot();
        let others = room.iter().filter(|peer| !Arc::ptr_eq(peer, &me));
        if peers.len() >= SHARE_FROM {
            let shared: Arc<[u8]> = Arc::from(&peers[..]);
            for peer in others {
                peer.push(|queue| queue.push_shared(&shared));
            }
        } else {
            for peer in others {
                peer.push(|queue| queue.push_copy(&peers));
            }
        }
    }
    room.leave(&me);
    me.close();
}

/// The text of the complete frame at `at`, and where the next one starts.
fn frame_at(input: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let header: [u8; 4] = input.get(at..at + 4)?.try_into().ok()?;
    let end = at + 4 + u32::from_be_bytes(header) as usize;
    Some((input.get(at + 4..end)?, end))
}

/// How many bytes the frame that starts `input` needs in all (4 while its header is incomplete).
fn needed(input: &[u8]) -> usize {
    match input.get(..4) {
        Some(header) => {
            4 + u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize
        }
        None => 4,
    }
}

fn put_line(out: &mut Vec<u8>, prefix: &[u8], text: &[u8]) {
    let len = (prefix.len() + text.len()) as u32;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(prefix);
    out.extend_from_slice(text);
}

/// Writes whatever is queued, a whole queue per wake-up, until the reader closes the queue.
async fn write_queue(mut stream: TcpStream, me: Arc<Peer>) {
    let mut batch = Pending::default();
    let yield_first = std::env::var_os("CEILING_YIELD").is_some_and(|value| value == "1");
    loop {
        if yield_first {
            task::yield_now().await;
        }
        if !me.take(&mut batch).await {
            break;
        }
        let written = match batch.parts.as_slice() {
            [Part::Copied(run)] => stream.write_all(&batch.copied[run.clone()]).await,
            parts => write_parts(&mut stream, &batch.copied, parts).await,
        };
        batch.clear();
        if written.is_err() {
            break;
        }
    }
    // Nothing more will be written: the bench's reader sees the end of its stream.
    let _ = stream.shutdown(Shutdown::Write);
}

/// Gathers `parts` into iovecs and writes them all, resuming after partial writes (the kernel
/// takes at most 1,024 iovecs per call).
async fn write_parts(stream: &mut TcpStream, copied: &[u8], parts: &[Part]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = parts
        .iter()
        .map(|part| match part {
            Part::Copied(run) => IoSlice::new(&copied[run.clone()]),
            Part::Shared(bytes) => IoSlice::new(bytes),
        })
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let written = stream.write_vectored(rest).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, written);
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
