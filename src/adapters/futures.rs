//! Runtime-agnostic async adapters over the `futures-io` traits (feature `futures-io`):
//! [`FrameStream`] and [`FrameSink`].
//!
//! They use only `futures_io::{AsyncRead, AsyncWrite}`, `futures_core::Stream` and
//! `futures_sink::Sink`, so they work unchanged on async-std, smol, or tokio through a compat
//! layer. Both are thin shells that follow the crate's
//! [driving recipe](crate#the-driving-loop-a-recipe) through the adapters' shared sans-IO halves,
//! as the blocking `framechat::io` ones do; their [`Error`] is the one error of every adapter.
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
//!     Ok::<(), framechat::futures::Error>(())
//! })?;
//! # Ok::<(), framechat::futures::Error>(())
//! ```

use core::pin::Pin;
use core::task::{ready, Context, Poll};

use futures_core::{FusedStream, Stream};
use futures_io::{AsyncRead, AsyncWrite};
use futures_sink::Sink;

use crate::adapters::core::{ReadHalf, ReadStep, WriteHalf};
use crate::io::DEFAULT_READ_BUFFER;
use crate::{Decoder, Encoder, Frame};

pub use crate::adapters::error::Error;

/// Frames read from an [`AsyncRead`]: a [`Stream`] of `Result<Frame, Error>`.
///
/// The stream yields each owned frame as it completes. At end of input it asks
/// [`Decoder::finish`]: a clean end ends the stream; a stream cut inside the preface, a header or
/// a payload yields [`Error::Decode`] with a `Truncated` kind (FC-21), then ends. A decode error
/// is terminal (FC-19): the stream yields it once, then ends ([`FusedStream`]). An I/O error is
/// yielded as is; polling again retries the read. `Interrupted` reads are retried internally.
/// [`read_each`](FrameStream::read_each) lends frames instead, without an allocation per frame.
///
/// ```
/// use futures_lite::StreamExt;
/// use framechat::futures::FrameStream;
/// use framechat::{Decoder, Limits, Profile};
///
/// async fn print_frames(socket: impl futures_io::AsyncRead + Unpin) -> Result<(), framechat::futures::Error> {
///     // `socket`: an async-std or smol `TcpStream`, or any `AsyncRead`.
///     let mut frames = FrameStream::new(socket, Decoder::client(Profile::Legacy, Limits::default()));
///     while let Some(frame) = frames.next().await {
///         println!("{:?}", frame?.text());
///     }
///     Ok(())
/// }
/// # futures_lite::future::block_on(print_frames(&b"\0\0\0\x02hi"[..]))?;
/// # Ok::<(), framechat::futures::Error>(())
/// ```
///
/// `R` must be [`Unpin`] (sockets are); pin anything else with `Box::pin`.
#[derive(Debug)]
pub struct FrameStream<R> {
    inner: R,
    half: ReadHalf,
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
            half: ReadHalf::new(decoder, capacity),
            done: false,
        }
    }

    /// Adopts the limit a typed server announces in WELCOME (§4.4) for every frame after it, as
    /// [`FrameReader::adopt_welcome_limit`](crate::io::FrameReader::adopt_welcome_limit) does.
    ///
    /// ```
    /// use futures_lite::{future, StreamExt};
    /// use framechat::futures::FrameStream;
    /// use framechat::{Decoder, Encoder, Frame, Limits, Profile, UnixMicros};
    ///
    /// // WELCOME with L = 4 MiB, then a 2 MiB ECHO: above the client's default of 1 MiB.
    /// let server_limits = Limits::new(4 << 20)?;
    /// let mut server = Encoder::server(Profile::Typed, server_limits);
    /// let mut wire = Vec::new();
    /// server.encode(Frame::Welcome { peer_id: 1, max_frame_len: 4 << 20 }, &mut wire)?;
    /// let text = "x".repeat(2 << 20);
    /// server.encode(Frame::Echo { sent_at: UnixMicros(1), relayed_at: UnixMicros(2), text: &text }, &mut wire)?;
    ///
    /// let decoder = Decoder::client(Profile::Typed, Limits::default());
    /// let frames = FrameStream::new(&wire[..], decoder).adopt_welcome_limit();
    /// let frames: Vec<Frame> = future::block_on(frames.try_collect())?;
    /// assert_eq!(frames.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt_welcome_limit(mut self) -> FrameStream<R> {
        self.half.adopt_welcome_limit();
        self
    }

    /// Lends every frame already buffered to `on_frame`, or if there is none, reads once and
    /// lends every frame those bytes complete: no allocation per frame. `Ok(false)` once the
    /// stream has ended (cleanly, or after a decode error was returned); errors as the
    /// [`Stream`]'s.
    ///
    /// ```
    /// use futures_lite::future;
    /// use framechat::futures::FrameStream;
    /// use framechat::{Decoder, Limits, Profile};
    ///
    /// let wire: &[u8] = b"\x00\x00\x00\x01a\x00\x00\x00\x02bc";
    /// let mut frames = FrameStream::new(wire, Decoder::client(Profile::Legacy, Limits::default()));
    /// let mut total = 0;
    /// future::block_on(async {
    ///     while frames.read_each(|frame| total += frame.payload_len()).await? {}
    ///     Ok::<(), framechat::futures::Error>(())
    /// })?;
    /// assert_eq!(total, 3);
    /// # Ok::<(), framechat::futures::Error>(())
    /// ```
    pub async fn read_each(
        &mut self,
        mut on_frame: impl FnMut(Frame<&str>),
    ) -> Result<bool, Error> {
        core::future::poll_fn(|cx| self.poll_read_each(cx, &mut on_frame)).await
    }

    /// The polling form of [`read_each`](FrameStream::read_each), for hand-written futures.
    pub fn poll_read_each(
        &mut self,
        cx: &mut Context<'_>,
        mut on_frame: impl FnMut(Frame<&str>),
    ) -> Poll<Result<bool, Error>> {
        if self.done {
            return Poll::Ready(Ok(false));
        }
        // Pending is returned only before any frame is lent, so no frame is lent twice.
        let mut lent_or_read = false;
        let result = loop {
            match self.half.lend_buffered(&mut on_frame) {
                Ok(lent) => lent_or_read |= lent,
                Err(err) => break Err(Error::Decode(err)),
            }
            match self.half.step() {
                // `lend_buffered` left no frame in the buffer; lent all the same if one shows up.
                Ok(ReadStep::Frame(frame)) => {
                    on_frame(frame);
                    lent_or_read = true;
                }
                Ok(ReadStep::End) => break Ok(false),
                Ok(ReadStep::NeedRead) if lent_or_read => break Ok(true),
                Ok(ReadStep::NeedRead) => {
                    let read =
                        ready!(Pin::new(&mut self.inner).poll_read(cx, self.half.read_buf()));
                    lent_or_read = read.is_ok();
                    if let Err(err) = self.half.filled(read) {
                        break Err(Error::Io(err));
                    }
                }
                Err(err) => break Err(Error::Decode(err)),
            }
        };
        self.done = matches!(result, Ok(false) | Err(Error::Decode(_)));
        Poll::Ready(result)
    }

    /// The decoder: its profile, stream offset, frame counts.
    pub fn decoder(&self) -> &Decoder {
        self.half.decoder()
    }

    /// Bytes read from the transport but not yet given to the decoder.
    pub fn buffer(&self) -> &[u8] {
        self.half.buffered()
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
            match self.half.step()? {
                // Owned before the next read overwrites the bytes it may borrow.
                ReadStep::Frame(frame) => return Poll::Ready(Ok(Some(frame.into_owned()))),
                ReadStep::End => return Poll::Ready(Ok(None)),
                ReadStep::NeedRead => {
                    let read =
                        ready!(Pin::new(&mut self.inner).poll_read(cx, self.half.read_buf()));
                    self.half.filled(read)?;
                }
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
/// then closes it: what closing does is the transport's own (async-std's and smol's `TcpStream`
/// only flush; shut down the write side of the socket for the peer to see an end of stream). A typed client's preface is queued when the sink is built (FC-3, FC-25): flush
/// to send it before the first frame.
///
/// ```
/// use framechat::futures::FrameSink;
/// use framechat::{Encoder, Frame, Limits, Profile, UnixMicros};
///
/// async fn greet(socket: impl futures_io::AsyncWrite + Unpin) -> Result<(), framechat::futures::Error> {
///     // `socket`: an async-std or smol `TcpStream`, or any `AsyncWrite`.
///     let mut sink = FrameSink::new(socket, Encoder::client(Profile::Typed, Limits::default()));
///     sink.flush().await?; // the preface, at once (FC-3)
///     for text in ["hello", "world"] {
///         sink.feed(Frame::Chat { sent_at: UnixMicros::now(), text: text.to_string() }).await?;
///     }
///     sink.close().await // both CHATs in one write, then close
/// }
/// # futures_lite::future::block_on(greet(Vec::new()))?;
/// # Ok::<(), framechat::futures::Error>(())
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
    half: WriteHalf,
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
    pub fn with_high_water(high_water: usize, inner: W, encoder: Encoder) -> FrameSink<W> {
        FrameSink {
            inner,
            half: WriteHalf::new(encoder),
            high_water,
        }
    }

    /// Encodes one frame into the buffer, first writing the buffer out if it is past the high-water
    /// mark, without flushing: `SinkExt::feed` without the extension trait.
    pub async fn feed(&mut self, frame: Frame) -> Result<(), Error> {
        self.feed_ref(frame.as_ref()).await
    }

    /// [`feed`](FrameSink::feed) for a frame that borrows its text: nothing is copied but into the
    /// buffer, so a sender that reuses one text allocates nothing per frame.
    ///
    /// ```
    /// use futures_lite::future;
    /// use framechat::futures::FrameSink;
    /// use framechat::{Encoder, Frame, Limits, Profile};
    ///
    /// let mut sink = FrameSink::new(Vec::new(), Encoder::client(Profile::Legacy, Limits::default()));
    /// let text = String::from("again");
    /// future::block_on(async {
    ///     for _ in 0..3 {
    ///         sink.feed_ref(Frame::Text(&text)).await?;
    ///     }
    ///     sink.flush().await
    /// })?;
    /// assert_eq!(sink.get_ref().len(), 3 * (4 + text.len()));
    /// # Ok::<(), framechat::futures::Error>(())
    /// ```
    pub async fn feed_ref(&mut self, frame: Frame<&str>) -> Result<(), Error> {
        core::future::poll_fn(|cx| Pin::new(&mut *self).poll_ready(cx)).await?;
        self.half.encode(frame)?;
        Ok(())
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
        self.half.queued()
    }

    /// The encoder: its profile and role.
    pub fn encoder(&self) -> &Encoder {
        self.half.encoder()
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

    /// Writes the queue until it is empty.
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while !self.half.queued().is_empty() {
            let write = ready!(Pin::new(&mut self.inner).poll_write(cx, self.half.queued()));
            self.half.wrote(write)?;
        }
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
        if this.half.queued().len() >= this.high_water.max(1) {
            ready!(this.poll_write_queued(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, frame: Frame) -> Result<(), Error> {
        self.get_mut().half.encode(frame.as_ref())?;
        Ok(())
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
