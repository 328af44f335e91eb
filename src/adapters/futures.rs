//! Runtime-agnostic async adapters over the `futures-io` traits (feature `futures-io`):
//! [`FrameStream`] and [`FrameSink`].
//!
//! They use only `futures_io::{AsyncRead, AsyncWrite}`, `futures_core::Stream` and
//! `futures_sink::Sink`, so they work unchanged on async-std, smol, or tokio through a compat
//! layer. Both are thin shells over the sans-IO [`Decoder`] and [`Encoder`], following the crate's
//! driving recipe; their error is [`crate::io::Error`].
//!
//! ```
//! use futures_lite::{future, StreamExt};
//! use framechat::futures::{FrameSink, FrameStream};
//! use framechat::{Decoder, Encoder, Frame, Limits, Profile};
//!
//! future::block_on(async {
//!     // A legacy client writes two frames into any `AsyncWrite`: one buffer, one flush...
//!     let mut sink = FrameSink::new(Vec::new(), Encoder::client(Profile::Legacy, Limits::default()));
//!     sink.send(Frame::Text("hi".to_string())).await?;
//!     sink.send(Frame::Text("there".to_string())).await?;
//!     let wire = sink.into_inner();
//!
//!     // ...and a legacy server reads them back from any `AsyncRead`.
//!     let stream = FrameStream::new(&wire[..], Decoder::server(Profile::Legacy, Limits::default()));
//!     let frames: Vec<Frame> = stream.try_collect().await?;
//!     assert_eq!(frames, [Frame::Text("hi".to_string()), Frame::Text("there".to_string())]);
//!     Ok::<(), framechat::io::Error>(())
//! })?;
//! # Ok::<(), framechat::io::Error>(())
//! ```

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use std::io;

use futures_core::{FusedStream, Stream};
use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;

use crate::io::{Error, DEFAULT_READ_BUFFER};
use crate::{Decoder, Encoder, Frame};

/// Frames read from an [`AsyncRead`]: a [`Stream`] of `Result<Frame, Error>`.
///
/// The stream yields each owned frame as it completes. At end of input it asks
/// [`Decoder::finish`]: a clean end ends the stream; a stream cut inside the preface, a header or
/// a payload yields [`Error::Decode`] with a `Truncated` kind (FC-21), then ends. A decode error
/// is terminal (FC-19): the stream yields it once, then ends ([`FusedStream`]). An I/O error is
/// yielded as is; polling again retries the read. `Interrupted` reads are retried internally.
///
/// ```
/// use futures_lite::StreamExt;
/// use framechat::futures::FrameStream;
/// use framechat::{Decoder, Limits, Profile};
///
/// async fn print_frames(socket: impl futures_io::AsyncRead + Unpin) -> Result<(), framechat::io::Error> {
///     // `socket`: an async-std or smol `TcpStream`, or any `AsyncRead`.
///     let mut frames = FrameStream::new(socket, Decoder::client(Profile::Legacy, Limits::default()));
///     while let Some(frame) = frames.next().await {
///         println!("{:?}", frame?.text());
///     }
///     Ok(())
/// }
/// # futures_lite::future::block_on(print_frames(&b"\0\0\0\x02hi"[..]))?;
/// # Ok::<(), framechat::io::Error>(())
/// ```
///
/// `R` must be [`Unpin`] (sockets are); pin anything else with `Box::pin`.
#[derive(Debug)]
pub struct FrameStream<R> {
    inner: R,
    decoder: Decoder,
    /// Bytes read from `inner`; `buf[pos..len]` is not yet given to the decoder.
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// The stream yielded its last item.
    done: bool,
}

impl<R: AsyncRead + Unpin> FrameStream<R> {
    /// A stream of the frames `decoder` finds in `inner`, with a buffer of
    /// [`DEFAULT_READ_BUFFER`] bytes.
    pub fn new(inner: R, decoder: Decoder) -> FrameStream<R> {
        FrameStream::with_capacity(DEFAULT_READ_BUFFER, inner, decoder)
    }

    /// A stream with a read buffer of `capacity` bytes (at least 1). It bounds one read, not the
    /// frame size.
    pub fn with_capacity(capacity: usize, inner: R, decoder: Decoder) -> FrameStream<R> {
        FrameStream {
            inner,
            decoder,
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            len: 0,
            done: false,
        }
    }

    /// The decoder: its profile, stream offset, frame counts.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Bytes read from the transport but not yet given to the decoder.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.len]
    }

    /// The transport.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The transport, mutably; reading from it directly skips those bytes of the stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The transport back; the bytes of [`buffer`](FrameStream::buffer) are dropped.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, Error>> {
        loop {
            if self.pos < self.len {
                let decoded = self.decoder.decode(&self.buf[self.pos..self.len])?;
                self.pos += decoded.consumed;
                if let Some(frame) = decoded.frame {
                    // Owned before the next read overwrites the bytes it may borrow.
                    return Poll::Ready(Ok(Some(frame.into_owned())));
                }
                continue;
            }
            if let Some(err) = self.decoder.error() {
                return Poll::Ready(Err(Error::Decode(err)));
            }
            match ready!(Pin::new(&mut self.inner).poll_read(cx, &mut self.buf)) {
                Ok(0) => {
                    self.decoder.finish()?;
                    return Poll::Ready(Ok(None));
                }
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Poll::Ready(Err(Error::Io(err))),
            }
        }
    }
}

impl<R: AsyncRead + Unpin> Stream for FrameStream<R> {
    type Item = Result<Frame, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        Poll::Ready(match ready!(this.poll_frame(cx)) {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                this.done = true;
                None
            }
            Err(err) => {
                // A decode error is terminal; an I/O error may pass.
                this.done = matches!(err, Error::Decode(_));
                Some(Err(err))
            }
        })
    }
}

impl<R: AsyncRead + Unpin> FusedStream for FrameStream<R> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

/// Frames written to an [`AsyncWrite`]: a [`Sink`] of owned [`Frame`]s.
///
/// `start_send` encodes the frame into the sink's buffer, so frames sent in a row share one
/// buffer and go out in as few writes as the transport allows; a frame the encoder refuses is
/// [`Error::Encode`] and leaves the buffer untouched (FC-23). `poll_ready` writes the buffer out
/// once it holds [`DEFAULT_WRITE_BUFFER`](FrameSink::DEFAULT_WRITE_BUFFER) bytes or more
/// (backpressure); `poll_flush` writes it all and flushes the transport; `poll_close` flushes,
/// then closes it. A typed client's preface is queued when the sink is built (FC-3, FC-25): flush
/// to send it before the first frame.
///
/// ```
/// use framechat::futures::FrameSink;
/// use framechat::{Encoder, Frame, Limits, Profile, UnixMicros};
///
/// async fn greet(socket: impl futures_io::AsyncWrite + Unpin) -> Result<(), framechat::io::Error> {
///     // `socket`: an async-std or smol `TcpStream`, or any `AsyncWrite`.
///     let mut sink = FrameSink::new(socket, Encoder::client(Profile::Typed, Limits::default()));
///     sink.flush().await?; // the preface, at once (FC-3)
///     for text in ["hello", "world"] {
///         sink.feed(Frame::Chat { sent_at: UnixMicros::now(), text: text.to_string() }).await?;
///     }
///     sink.close().await // both CHATs in one write, then close
/// }
/// # futures_lite::future::block_on(greet(Vec::new()))?;
/// # Ok::<(), framechat::io::Error>(())
/// ```
///
/// The inherent [`feed`](FrameSink::feed), [`send`](FrameSink::send), [`flush`](FrameSink::flush)
/// and [`close`](FrameSink::close) do what `SinkExt`'s do, without futures-util (async-std and smol
/// have no `SinkExt`). Owned frames only, as a `Sink` item usually is: one item type keeps type
/// inference working for frames without text (`Frame::Ping { nonce }`).
/// `W` must be [`Unpin`] (sockets are); pin anything else with `Box::pin`.
#[derive(Debug)]
pub struct FrameSink<W> {
    inner: W,
    encoder: Encoder,
    /// Encoded bytes; `out[written..]` is not yet accepted by `inner`.
    out: Vec<u8>,
    written: usize,
    high_water: usize,
}

impl<W: AsyncWrite + Unpin> FrameSink<W> {
    /// The buffered bytes above which [`poll_ready`](Sink::poll_ready) writes before accepting
    /// another frame, unless set by [`with_high_water`](FrameSink::with_high_water).
    pub const DEFAULT_WRITE_BUFFER: usize = 8 * 1024;

    /// A sink of frames to `inner` through `encoder`; a preface the encoder owes is queued now.
    pub fn new(inner: W, encoder: Encoder) -> FrameSink<W> {
        FrameSink::with_high_water(Self::DEFAULT_WRITE_BUFFER, inner, encoder)
    }

    /// A sink that writes its buffer out before accepting a frame once it holds `high_water`
    /// bytes or more (0: every frame is written before the next is accepted).
    pub fn with_high_water(high_water: usize, inner: W, mut encoder: Encoder) -> FrameSink<W> {
        let mut out = Vec::new();
        encoder.write_preface(&mut out);
        FrameSink {
            inner,
            encoder,
            out,
            written: 0,
            high_water,
        }
    }

    /// Encodes one frame into the buffer, first writing the buffer out if it is past the high-water
    /// mark, without flushing: `SinkExt::feed` without the extension trait.
    pub async fn feed(&mut self, frame: Frame) -> Result<(), Error> {
        core::future::poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        self.encode(frame.as_ref())
    }

    /// Feeds one frame, then flushes: `SinkExt::send` without the extension trait.
    pub async fn send(&mut self, frame: Frame) -> Result<(), Error> {
        self.feed(frame).await?;
        self.flush().await
    }

    /// Writes every buffered frame and flushes the transport: `SinkExt::flush` without the
    /// extension trait.
    pub async fn flush(&mut self) -> Result<(), Error> {
        core::future::poll_fn(|cx| self.poll_flush_inner(cx)).await
    }

    /// Flushes, then closes the transport: `SinkExt::close` without the extension trait.
    pub async fn close(&mut self) -> Result<(), Error> {
        core::future::poll_fn(|cx| Pin::new(&mut *self).poll_close(cx)).await
    }

    /// Bytes encoded but not yet accepted by the transport.
    pub fn queued(&self) -> &[u8] {
        &self.out[self.written..]
    }

    /// The encoder: its profile and role.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The transport.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The transport, mutably; writing to it directly corrupts the stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The transport back; [`queued`](FrameSink::queued) bytes are dropped: flush first.
    pub fn into_inner(self) -> W {
        self.inner
    }

    fn encode(&mut self, frame: Frame<&str>) -> Result<(), Error> {
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        self.encoder.encode(frame, &mut self.out)?;
        Ok(())
    }

    /// Writes `out[written..]` until it is empty.
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.out.len() {
            match ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.written..])) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => self.written += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        self.out.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    fn poll_flush_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_queued(cx))?;
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> Sink<Frame> for FrameSink<W> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.out.len() - this.written >= this.high_water.max(1) {
            ready!(this.poll_write_queued(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, frame: Frame) -> Result<(), Error> {
        self.get_mut().encode(frame.as_ref())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush_inner(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_flush_inner(cx))?;
        ready!(Pin::new(&mut this.inner).poll_close(cx))?;
        Poll::Ready(Ok(()))
    }
}
