//! A `tokio_util::codec` adapter (feature `tokio-codec`): [`FrameCodec`], for `Framed`,
//! `FramedRead` and `FramedWrite`.
//!
//! [`FrameCodec`] implements [`tokio_util::codec::Decoder`] and
//! [`tokio_util::codec::Encoder`] for owned [`Frame`]s, over one sans-IO
//! [`Decoder`] and [`Encoder`]. Its error is
//! [`crate::io::Error`], which keeps the codec's errors typed.
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
//! # Ok::<(), framechat::io::Error>(())
//! ```

use alloc::vec::Vec;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder as TokioDecoder, Encoder as TokioEncoder, Framed, FramedParts};

use crate::io::Error;
use crate::{Decoder, Encoder, Frame, Limits, Profile};

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
/// # async fn run() -> Result<(), framechat::io::Error> {
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
}

impl FrameCodec {
    /// A codec decoding with `decoder` and encoding with `encoder`.
    pub fn new(decoder: Decoder, encoder: Encoder) -> FrameCodec {
        FrameCodec {
            decoder,
            encoder,
            scratch: Vec::new(),
        }
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
        // One call consumes up to the end of the first complete frame, or all of `src`.
        let decoded = self.decoder.decode(&src[..])?;
        let consumed = decoded.consumed;
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
