//! Blocking adapters over `std::io` (feature `std`): [`FrameReader`] and [`FrameWriter`].
//!
//! Both are thin shells that follow the crate's [driving recipe](crate#the-driving-loop-a-recipe)
//! through the adapters' shared sans-IO halves; they only make the blocking calls. Their
//! [`Error`] is the one error of every adapter (`framechat::futures::Error` and
//! `framechat::tokio::Error` are the same type).
//!
//! ```
//! use framechat::io::{FrameReader, FrameWriter};
//! use framechat::{Decoder, Encoder, Frame, Limits, Profile};
//!
//! // A legacy client writes two frames into any `std::io::Write`...
//! let mut writer = FrameWriter::new(Vec::new(), Encoder::client(Profile::Legacy, Limits::default()));
//! writer.write_frame(Frame::Text("hi"))?;
//! writer.write_frame(Frame::Text(String::from("there")).as_ref())?;
//! let wire = writer.into_inner()?;
//!
//! // ...and a legacy server reads them back from any `std::io::Read`.
//! let mut reader = FrameReader::new(&wire[..], Decoder::server(Profile::Legacy, Limits::default()));
//! assert_eq!(reader.read_frame()?, Some(Frame::Text("hi".to_string())));
//! assert_eq!(reader.read_frame()?, Some(Frame::Text("there".to_string())));
//! assert_eq!(reader.read_frame()?, None); // a clean end between frames (FC-21)
//! # Ok::<(), framechat::io::Error>(())
//! ```

use std::io::{Read, Write};

use crate::adapters::core::{ReadHalf, ReadStep, WriteHalf};
use crate::{Decoder, Encoder, Frame};

pub use crate::adapters::error::Error;

/// Size of the read buffer of [`FrameReader::new`] and `framechat::futures::FrameStream::new`.
pub const DEFAULT_READ_BUFFER: usize = 8 * 1024;

/// Reads owned frames from a [`Read`]: the decoding half of the driving recipe (steps 2, 3, 5, 6).
///
/// Each [`read_frame`](FrameReader::read_frame) returns the next frame, `Ok(None)` at a clean end
/// of stream, or an error. End of stream is [`Decoder::finish`]: a stream cut inside the preface,
/// a header or a payload is [`Error::Decode`] with a `Truncated` kind (FC-21), never a clean end.
/// A decode error is terminal: every later call returns it again (FC-19). An I/O error is not:
/// nothing was consumed, and a later call retries the read (so a non-blocking transport's
/// `WouldBlock` is safe to retry). `Interrupted` reads are retried internally.
///
/// The reader keeps its own buffer ([`DEFAULT_READ_BUFFER`] bytes, or
/// [`with_capacity`](FrameReader::with_capacity)); wrapping the transport in a `BufReader` adds
/// nothing. It is also an [`Iterator`] of `Result<Frame, Error>` that ends after a decode error
/// or the end of stream. [`read_each`](FrameReader::read_each) lends frames instead, without an
/// allocation per frame.
///
/// ```no_run
/// use std::net::TcpStream;
/// use framechat::io::FrameReader;
/// use framechat::{Decoder, Limits, Profile};
///
/// let stream = TcpStream::connect("127.0.0.1:50555")?;
/// for frame in FrameReader::new(stream, Decoder::client(Profile::Legacy, Limits::default())) {
///     println!("{:?}", frame?.text());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    half: ReadHalf,
    /// The iterator returned its last item.
    fused: bool,
}

impl<R: Read> FrameReader<R> {
    /// A reader of `inner` through `decoder`, with a buffer of [`DEFAULT_READ_BUFFER`] bytes.
    pub fn new(inner: R, decoder: Decoder) -> FrameReader<R> {
        FrameReader::with_capacity(DEFAULT_READ_BUFFER, inner, decoder)
    }

    /// A reader with a read buffer of `capacity` bytes (at least 1).
    ///
    /// The buffer bounds how much one `read` call takes, not the frame size: a frame larger than
    /// the buffer is gathered by the decoder, which never holds more than one header plus the
    /// limit (FC-22).
    pub fn with_capacity(capacity: usize, inner: R, decoder: Decoder) -> FrameReader<R> {
        FrameReader {
            inner,
            half: ReadHalf::new(decoder, capacity),
            fused: false,
        }
    }

    /// Adopts the limit a typed server announces in WELCOME (§4.4) for every frame after it.
    ///
    /// A client's decoder starts with its own limit, and a server may be configured with a larger
    /// one: without this, the first frame above the client's limit is a `FrameTooLarge` error.
    /// With it, WELCOME's `max_frame_len` replaces the decoder's limit before the next frame is
    /// decoded (as [`Decoder::set_limits`] would by hand).
    ///
    /// ```
    /// use framechat::io::{Error, FrameReader};
    /// use framechat::{Decoder, DecodeErrorKind, Encoder, Frame, Limits, Profile, UnixMicros};
    ///
    /// // A server configured with L = 4 MiB says so in WELCOME, then echoes a 2 MiB message.
    /// let server_limits = Limits::new(4 << 20)?;
    /// let mut server = Encoder::server(Profile::Typed, server_limits);
    /// let mut wire = Vec::new();
    /// let welcome = Frame::Welcome { peer_id: 1, max_frame_len: server_limits.max_frame_len() };
    /// server.encode(welcome, &mut wire)?;
    /// let text = "x".repeat(2 << 20);
    /// server.encode(Frame::Echo { sent_at: UnixMicros(1), relayed_at: UnixMicros(2), text: &text }, &mut wire)?;
    ///
    /// // The client's own limit is the default, 1 MiB.
    /// let client = || Decoder::client(Profile::Typed, Limits::default());
    /// let mut adopting = FrameReader::new(&wire[..], client()).adopt_welcome_limit();
    /// assert!(matches!(adopting.read_frame()?, Some(Frame::Welcome { .. })));
    /// assert_eq!(adopting.read_frame()?.and_then(|echo| echo.text().map(str::len)), Some(2 << 20));
    ///
    /// let mut keeping_its_own = FrameReader::new(&wire[..], client());
    /// keeping_its_own.read_frame()?; // WELCOME
    /// match keeping_its_own.read_frame() {
    ///     Err(Error::Decode(err)) => assert!(matches!(err.kind, DecodeErrorKind::FrameTooLarge { limit: 1048576, .. })),
    ///     other => panic!("expected FrameTooLarge, got {other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt_welcome_limit(mut self) -> FrameReader<R> {
        self.half.adopt_welcome_limit();
        self
    }

    /// The next frame; `Ok(None)` once the stream has ended cleanly between frames.
    pub fn read_frame(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            match self.half.step()? {
                // Owned before the next read overwrites the bytes it may borrow.
                ReadStep::Frame(frame) => return Ok(Some(frame.into_owned())),
                ReadStep::End => return Ok(None),
                ReadStep::NeedRead => {
                    let read = self.inner.read(self.half.read_buf());
                    self.half.filled(read)?;
                }
            }
        }
    }

    /// Lends every frame already buffered to `on_frame`, or if there is none, reads once and
    /// lends every frame those bytes complete: no allocation per frame. `Ok(false)` once the
    /// stream has ended cleanly; errors as [`read_frame`](FrameReader::read_frame).
    ///
    /// ```
    /// use framechat::io::FrameReader;
    /// use framechat::{Decoder, Limits, Profile};
    ///
    /// let wire: &[u8] = b"\x00\x00\x00\x01a\x00\x00\x00\x02bc";
    /// let mut reader = FrameReader::new(wire, Decoder::client(Profile::Legacy, Limits::default()));
    /// let mut total = 0;
    /// while reader.read_each(|frame| total += frame.payload_len())? {}
    /// assert_eq!(total, 3);
    /// # Ok::<(), framechat::io::Error>(())
    /// ```
    pub fn read_each(&mut self, mut on_frame: impl FnMut(Frame<&str>)) -> Result<bool, Error> {
        let mut lent_or_read = false;
        loop {
            lent_or_read |= self.half.lend_buffered(&mut on_frame)?;
            match self.half.step()? {
                // `lend_buffered` left no frame in the buffer; lent all the same if one shows up.
                ReadStep::Frame(frame) => {
                    on_frame(frame);
                    lent_or_read = true;
                }
                ReadStep::End => return Ok(false),
                ReadStep::NeedRead if lent_or_read => return Ok(true),
                ReadStep::NeedRead => {
                    let read = self.inner.read(self.half.read_buf());
                    lent_or_read = read.is_ok();
                    self.half.filled(read)?;
                }
            }
        }
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

    /// The transport back; the bytes of [`buffer`](FrameReader::buffer) are dropped.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Iterator for FrameReader<R> {
    type Item = Result<Frame, Error>;

    /// The next frame or error; `None` after the end of stream or a decode error.
    fn next(&mut self) -> Option<Self::Item> {
        if self.fused {
            return None;
        }
        match self.read_frame() {
            Ok(Some(frame)) => Some(Ok(frame)),
            Ok(None) => {
                self.fused = true;
                None
            }
            Err(err) => {
                // A decode error is terminal; an I/O error may pass, as in `std::io::Lines`.
                self.fused = matches!(err, Error::Decode(_));
                Some(Err(err))
            }
        }
    }
}

/// Writes whole frames to a [`Write`]: the encoding half of the driving recipe (step 4).
///
/// [`write_frame`](FrameWriter::write_frame) encodes one frame and writes it out before it returns.
/// A frame the encoder refuses is [`Error::Encode`] and writes nothing (FC-23). If the transport
/// fails part-way, the unwritten bytes stay queued, in order, and go out first on the next
/// `write_frame` or [`flush`](FrameWriter::flush): no frame is ever half-written by the adapter,
/// so a non-blocking transport's `WouldBlock` is safe to retry. An [`Error::Io`] from
/// `write_frame` thus means the frame was accepted and queued: do not write it again. A typed
/// client's preface is queued when the writer is built (FC-3, FC-25): call `flush` to send it
/// before the first frame.
///
/// ```no_run
/// use std::net::TcpStream;
/// use framechat::io::FrameWriter;
/// use framechat::{Encoder, Frame, Limits, Profile, UnixMicros};
///
/// let stream = TcpStream::connect("127.0.0.1:50555")?;
/// let mut writer = FrameWriter::new(stream, Encoder::client(Profile::Typed, Limits::default()));
/// writer.flush()?; // the preface, at once (FC-3)
/// writer.write_frame(Frame::Chat { sent_at: UnixMicros::now(), text: "hello" })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    half: WriteHalf,
}

impl<W: Write> FrameWriter<W> {
    /// A writer of frames to `inner` through `encoder`; a preface the encoder owes is queued now.
    pub fn new(inner: W, encoder: Encoder) -> FrameWriter<W> {
        FrameWriter {
            inner,
            half: WriteHalf::new(encoder),
        }
    }

    /// Encodes `frame` and writes it, after anything still queued.
    ///
    /// It borrows the frame's text, as [`Encoder::encode`] does: pass an owned frame with
    /// [`Frame::as_ref`]. This does not flush `inner`: call [`flush`](FrameWriter::flush) if it
    /// buffers.
    pub fn write_frame(&mut self, frame: Frame<&str>) -> Result<(), Error> {
        self.half.encode(frame)?;
        self.write_queued()
    }

    /// Writes everything queued, then flushes `inner`.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_queued()?;
        self.inner.flush()?;
        Ok(())
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

    /// Flushes, then returns the transport.
    pub fn into_inner(mut self) -> Result<W, Error> {
        self.flush()?;
        Ok(self.inner)
    }

    fn write_queued(&mut self) -> Result<(), Error> {
        while !self.half.queued().is_empty() {
            let write = self.inner.write(self.half.queued());
            self.half.wrote(write)?;
        }
        Ok(())
    }
}
