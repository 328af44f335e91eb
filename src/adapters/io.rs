//! Blocking adapters over `std::io` (feature `std`): [`FrameReader`] and [`FrameWriter`].
//!
//! Both are thin shells over the sans-IO [`Decoder`] and [`Encoder`]: they own a byte buffer and
//! move bytes between it and the transport, and follow the crate's driving recipe step by step.
//! Their [`Error`] is also the error of the async adapters (`framechat::tokio`, `framechat::futures`).
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

use std::fmt;
use std::io::{self, Read, Write};

use crate::{DecodeError, Decoder, EncodeError, Encoder, Frame};

/// Size of the read buffer of [`FrameReader::new`] and `framechat::futures::FrameStream::new`.
pub const DEFAULT_READ_BUFFER: usize = 8 * 1024;

/// The error of every I/O adapter: the transport's, or the codec's, kept typed.
///
/// Reading yields [`Io`](Error::Io) or [`Decode`](Error::Decode); writing yields
/// [`Io`](Error::Io) or [`Encode`](Error::Encode). The codec's error is returned by
/// [`source`](std::error::Error::source) and can be matched directly:
///
/// ```
/// use framechat::io::{Error, FrameReader};
/// use framechat::{DecodeErrorKind, Decoder, Limits, Part, Profile};
///
/// // A legacy stream cut inside a payload: 5 bytes declared, 3 sent.
/// let stream: &[u8] = b"\x00\x00\x00\x05abc";
/// let mut reader = FrameReader::new(stream, Decoder::client(Profile::Legacy, Limits::default()));
/// match reader.read_frame() {
///     Err(Error::Decode(err)) => {
///         assert_eq!(err.kind, DecodeErrorKind::Truncated { part: Part::Payload, received: 3, expected: 5 });
///         assert_eq!(err.offset, 7);
///     }
///     other => panic!("FC-21: expected Truncated, got {other:?}"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
    /// The peer sent a stream §3–§6 forbid, or cut it inside a frame. Terminal (FC-19).
    Decode(DecodeError),
    /// The caller asked for a frame §7 forbids; nothing was written (FC-23).
    Encode(EncodeError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The detail is the source's: `Display` names the layer only, so chains print it once.
        f.write_str(match self {
            Error::Io(_) => "framechat transport I/O failed",
            Error::Decode(_) => "framechat peer sent an invalid stream",
            Error::Encode(_) => "framechat frame refused by the encoder",
        })
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(err) => Some(err),
            Error::Decode(err) => Some(err),
            Error::Encode(err) => Some(err),
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Error {
        Error::Io(err)
    }
}

impl From<DecodeError> for Error {
    fn from(err: DecodeError) -> Error {
        Error::Decode(err)
    }
}

impl From<EncodeError> for Error {
    fn from(err: EncodeError) -> Error {
        Error::Encode(err)
    }
}

/// For callers whose signatures speak `io::Error`: the transport's error is returned as is, a
/// decode error becomes [`InvalidData`](io::ErrorKind::InvalidData) and an encode error
/// [`InvalidInput`](io::ErrorKind::InvalidInput), each still reachable by
/// [`io::Error::get_ref`] and `downcast_ref`.
impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Io(err) => err,
            Error::Decode(err) => io::Error::new(io::ErrorKind::InvalidData, err),
            Error::Encode(err) => io::Error::new(io::ErrorKind::InvalidInput, err),
        }
    }
}

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
/// or the end of stream.
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
    decoder: Decoder,
    /// Bytes read from `inner`; `buf[pos..len]` is not yet given to the decoder.
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// `inner` returned end of stream; the decoder has been told (`finish`).
    eof: bool,
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
            decoder,
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            fused: false,
        }
    }

    /// The next frame; `Ok(None)` once the stream has ended cleanly between frames.
    pub fn read_frame(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            if self.pos < self.len {
                // Step 3: decode, advance by exactly `consumed`, own the frame before the next read
                // overwrites the bytes it may borrow.
                let decoded = self.decoder.decode(&self.buf[self.pos..self.len])?;
                self.pos += decoded.consumed;
                if let Some(frame) = decoded.frame {
                    return Ok(Some(frame.into_owned()));
                }
                continue;
            }
            if self.eof {
                // Step 6, again: the decoder repeats its verdict (clean end or the same error).
                self.decoder.finish()?;
                return Ok(None);
            }
            // A decoder that failed reports its error without reading more of the transport.
            if let Some(err) = self.decoder.error() {
                return Err(Error::Decode(err));
            }
            match self.inner.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    self.decoder.finish()?;
                    return Ok(None);
                }
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(Error::Io(err)),
            }
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
/// `write_frame` thus means the frame was accepted and queued: do not write it again. A typed client's preface is queued
/// when the writer is built (FC-3, FC-25): call `flush` to send it before the first frame.
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
    encoder: Encoder,
    /// Encoded bytes; `out[written..]` is not yet accepted by `inner`.
    out: Vec<u8>,
    written: usize,
}

impl<W: Write> FrameWriter<W> {
    /// A writer of frames to `inner` through `encoder`; a preface the encoder owes is queued now.
    pub fn new(inner: W, mut encoder: Encoder) -> FrameWriter<W> {
        let mut out = Vec::new();
        encoder.write_preface(&mut out);
        FrameWriter {
            inner,
            encoder,
            out,
            written: 0,
        }
    }

    /// Encodes `frame` and writes it, after anything still queued.
    ///
    /// It borrows the frame's text, as [`Encoder::encode`] does: pass an owned frame with
    /// [`Frame::as_ref`]. This does not flush `inner`: call [`flush`](FrameWriter::flush) if it
    /// buffers.
    pub fn write_frame(&mut self, frame: Frame<&str>) -> Result<(), Error> {
        self.encoder.encode(frame, &mut self.out)?;
        self.write_queued()?;
        Ok(())
    }

    /// Writes everything queued, then flushes `inner`.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_queued()?;
        self.inner.flush()?;
        Ok(())
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

    /// Flushes, then returns the transport.
    pub fn into_inner(mut self) -> Result<W, Error> {
        self.flush()?;
        Ok(self.inner)
    }

    fn write_queued(&mut self) -> io::Result<()> {
        while self.written < self.out.len() {
            match self.inner.write(&self.out[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
    }
}
