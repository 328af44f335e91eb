//! A `tokio_util::codec` adapter (feature `tokio-codec`): [`FrameCodec`], for `Framed`,
//! `FramedRead` and `FramedWrite`.
//!
//! [`FrameCodec`] implements [`tokio_util::codec::Decoder`] and
//! [`tokio_util::codec::Encoder`] for owned [`Frame`]s, over one sans-IO [`Decoder`] and
//! [`Encoder`], following the crate's [driving recipe](crate#the-driving-loop-a-recipe) with
//! tokio-util's buffers in place of its own. Its [`Error`] is the one error of every adapter,
//! which keeps the codec's errors typed.
//!
//! ```
//! use framechat::tokio::FrameCodec;
//! use framechat::{Frame, Limits, Profile};
//! use bytes::BytesMut;
//! use tokio_util::codec::{Decoder as _, Encoder as _};
//!
//! let mut client = FrameCodec::client(Profile::Legacy, Limits::default());
//! let mut server = FrameCodec::server(Profile::Legacy, Limits::default());
//! let mut wire = BytesMut::new();
//! client.encode(Frame::Text("hi".to_string()), &mut wire)?;
//! assert_eq!(&wire[..], b"\x00\x00\x00\x02hi");
//! assert_eq!(server.decode(&mut wire)?, Some(Frame::Text("hi".to_string())));
//! assert!(wire.is_empty());
//! assert_eq!(server.decode_eof(&mut wire)?, None); // a clean end (FC-21)
//! # Ok::<(), framechat::tokio::Error>(())
//! ```

use alloc::vec::Vec;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder as TokioDecoder, Encoder as TokioEncoder, Framed, FramedParts};

use crate::adapters::core::WelcomeLimit;
use crate::{Decoder, Encoder, Frame, Limits, Profile};

pub use crate::adapters::error::Error;

/// The framechat codec for `tokio_util::codec`: one connection's decoder and encoder.
///
/// - `decode` feeds the whole read buffer to the decoder and advances it by exactly the bytes
///   consumed. Bytes of an incomplete frame are taken into the decoder (which holds at most one
///   header plus the limit, FC-22), so the read buffer never grows beyond one read.
/// - `decode_eof` is [`Decoder::finish`]: a clean end is `Ok(None)`; a
///   stream cut inside the preface, a header or a payload is [`Error::Decode`] with a `Truncated`
///   kind (FC-21), not tokio-util's generic "bytes remaining on stream".
/// - A decode error is terminal (FC-19); `Framed` ends its stream after yielding it.
/// - `encode` refuses a frame the encoder forbids with [`Error::Encode`], writing nothing (FC-23).
///
/// A typed client's preface is written before its first frame; build the transport with
/// [`FrameCodec::framed`] to have it queued at once, then flush to send it before any frame
/// (FC-3).
///
/// It encodes owned frames only, as a `Sink` item usually is (frames that cross channels and
/// tasks are owned). One item type keeps type inference working for frames without text
/// (`Frame::Ping { nonce }`) and for `SinkExt::flush` and `close`; the borrowing, copy-free
/// [`Encoder::encode`] stays available to code that writes its own
/// buffers.
///
/// ```no_run
/// # async fn run() -> Result<(), framechat::tokio::Error> {
/// use futures_util::{SinkExt, StreamExt};
/// use framechat::tokio::FrameCodec;
/// use framechat::{Frame, Limits, Profile, UnixMicros};
///
/// let stream = tokio::net::TcpStream::connect("127.0.0.1:50555").await?;
/// let mut framed = FrameCodec::client(Profile::Typed, Limits::default()).framed(stream);
/// framed.flush().await?; // the preface, at once (FC-3)
/// framed.send(Frame::Chat { sent_at: UnixMicros::now(), text: "hello".to_string() }).await?;
/// while let Some(frame) = framed.next().await {
///     println!("{:?}", frame?);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct FrameCodec {
    decoder: Decoder,
    encoder: Encoder,
    /// Reused for every frame: the encoder writes into a `Vec<u8>`, `encode` copies it once.
    scratch: Vec<u8>,
    welcome: WelcomeLimit,
}

impl FrameCodec {
    /// A codec decoding with `decoder` and encoding with `encoder`.
    pub fn new(decoder: Decoder, encoder: Encoder) -> FrameCodec {
        FrameCodec {
            decoder,
            encoder,
            scratch: Vec::new(),
            welcome: WelcomeLimit::default(),
        }
    }

    /// Adopts the limit a typed server announces in WELCOME (§4.4) for every frame after it, as
    /// [`FrameReader::adopt_welcome_limit`](crate::io::FrameReader::adopt_welcome_limit) does.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use tokio_util::codec::Decoder as _;
    /// use framechat::tokio::FrameCodec;
    /// use framechat::{Encoder, Frame, Limits, Profile, UnixMicros};
    ///
    /// // WELCOME with L = 4 MiB, then a 2 MiB ECHO: above the client's default of 1 MiB.
    /// let mut server = Encoder::server(Profile::Typed, Limits::new(4 << 20)?);
    /// let mut wire = Vec::new();
    /// server.encode(Frame::Welcome { peer_id: 1, max_frame_len: 4 << 20 }, &mut wire)?;
    /// let text = "x".repeat(2 << 20);
    /// server.encode(Frame::Echo { sent_at: UnixMicros(1), relayed_at: UnixMicros(2), text: &text }, &mut wire)?;
    ///
    /// let mut codec = FrameCodec::client(Profile::Typed, Limits::default()).adopt_welcome_limit();
    /// let mut src = BytesMut::from(&wire[..]);
    /// assert!(matches!(codec.decode(&mut src)?, Some(Frame::Welcome { .. })));
    /// assert!(matches!(codec.decode(&mut src)?, Some(Frame::Echo { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adopt_welcome_limit(mut self) -> FrameCodec {
        self.welcome.enabled = true;
        self
    }

    /// A client's codec: it decodes what a server sends and encodes what a client sends.
    pub fn client(profile: Profile, limits: Limits) -> FrameCodec {
        FrameCodec::new(
            Decoder::client(profile, limits),
            Encoder::client(profile, limits),
        )
    }

    /// A server's codec for one connection in `profile` (typed: the preface is expected first).
    pub fn server(profile: Profile, limits: Limits) -> FrameCodec {
        FrameCodec::new(
            Decoder::server(profile, limits),
            Encoder::server(profile, limits),
        )
    }

    /// Wraps `io` in a [`Framed`] with this codec, the preface the encoder owes already queued in
    /// the write buffer (a typed client's, FC-3): `flush` sends it, and so does the first `send`.
    pub fn framed<T>(mut self, io: T) -> Framed<T, FrameCodec> {
        let mut preface = Vec::new();
        self.encoder.write_preface(&mut preface);
        let mut parts = FramedParts::new::<Frame>(io, self);
        parts.write_buf.extend_from_slice(&preface);
        Framed::from_parts(parts)
    }

    /// The decoder: its profile, stream offset, frame counts.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The encoder: its profile and role.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }
}

impl TokioDecoder for FrameCodec {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        self.welcome.apply(&mut self.decoder);
        // One call consumes up to the end of the first complete frame, or all of `src`.
        let decoded = self.decoder.decode(&src[..])?;
        let consumed = decoded.consumed;
        if let Some(frame) = &decoded.frame {
            self.welcome.note(frame);
        }
        // The frame may borrow from `src`: own it before `src` moves.
        let frame = decoded.frame.map(Frame::into_owned);
        src.advance(consumed);
        Ok(frame)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None => {
                // `decode` returned no frame, so it consumed all of `src`: the stream ends here.
                self.decoder.finish()?;
                Ok(None)
            }
        }
    }
}

impl TokioEncoder<Frame> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), Error> {
        self.scratch.clear();
        self.encoder.encode(frame.as_ref(), &mut self.scratch)?;
        dst.extend_from_slice(&self.scratch);
        Ok(())
    }
}
