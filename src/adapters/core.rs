//! The sans-IO halves every adapter shell drives: [`ReadHalf`] owns the read buffer and the
//! decoder, [`WriteHalf`] the encoder and the output buffer. Neither touches a transport: a shell
//! asks what to do next, moves the bytes with its own blocking or async call, and reports the
//! result back, so the buffer bookkeeping exists once.

use std::io;

use crate::{DecodeError, Decoder, EncodeError, Encoder, Frame, Limits};

/// What [`ReadHalf::step`] found.
#[derive(Debug)]
pub(crate) enum ReadStep<'a> {
    /// A frame, borrowing the read buffer or the decoder until the next call.
    Frame(Frame<&'a str>),
    /// Every buffered byte is decoded: read into [`ReadHalf::read_buf`], then report the result
    /// with [`ReadHalf::filled`].
    NeedRead,
    /// The transport ended between frames (FC-21).
    End,
}

/// The decoding half of the driving recipe (steps 2, 3, 5, 6).
#[derive(Debug)]
pub(crate) struct ReadHalf {
    decoder: Decoder,
    /// Bytes read from the transport; `buf[pos..len]` is not yet given to the decoder.
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// The transport reported end of stream; every later step asks [`Decoder::finish`] again.
    eof: bool,
    welcome: WelcomeLimit,
}

impl ReadHalf {
    /// A half reading through `decoder` into a buffer of `capacity` bytes (at least 1).
    pub(crate) fn new(decoder: Decoder, capacity: usize) -> ReadHalf {
        ReadHalf {
            decoder,
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            welcome: WelcomeLimit::default(),
        }
    }

    /// From now on, a WELCOME's limit governs the frames after it.
    pub(crate) fn adopt_welcome_limit(&mut self) {
        self.welcome.enabled = true;
    }

    /// The next frame in the buffer, or what the shell must do for one.
    ///
    /// A decode error is terminal: the decoder keeps it, and every later step returns it again
    /// without asking for a read (FC-19).
    pub(crate) fn step(&mut self) -> Result<ReadStep<'_>, DecodeError> {
        self.welcome.apply(&mut self.decoder);
        if self.pos < self.len {
            let decoded = self.decoder.decode(&self.buf[self.pos..self.len])?;
            self.pos += decoded.consumed;
            // No frame means the decoder took the whole input: the buffer is free for a read.
            return Ok(match decoded.frame {
                Some(frame) => {
                    self.welcome.note(&frame);
                    ReadStep::Frame(frame)
                }
                None => ReadStep::NeedRead,
            });
        }
        if self.eof {
            self.decoder.finish()?;
            return Ok(ReadStep::End);
        }
        match self.decoder.error() {
            Some(err) => Err(err),
            None => Ok(ReadStep::NeedRead),
        }
    }

    /// Lends `on_frame` every frame the buffered bytes complete, in one loop over
    /// [`Decoder::decode`], and leaves no byte undecoded; returns whether it lent one.
    ///
    /// The `read_each` shells call this rather than [`step`](ReadHalf::step) frame by frame: with
    /// the decoder and `on_frame` inlined in one loop, each frame stays in registers instead of
    /// going through a [`ReadStep`] in memory (BENCHMARKS.md, "Issue 9").
    #[inline]
    pub(crate) fn lend_buffered(
        &mut self,
        mut on_frame: impl FnMut(Frame<&str>),
    ) -> Result<bool, DecodeError> {
        let mut lent = false;
        while self.pos < self.len {
            self.welcome.apply(&mut self.decoder);
            let decoded = self.decoder.decode(&self.buf[self.pos..self.len])?;
            self.pos += decoded.consumed;
            let Some(frame) = decoded.frame else {
                break;
            };
            self.welcome.note(&frame);
            on_frame(frame);
            lent = true;
        }
        Ok(lent)
    }

    /// Where the read [`ReadStep::NeedRead`] asked for goes.
    pub(crate) fn read_buf(&mut self) -> &mut [u8] {
        debug_assert!(self.pos == self.len, "a read would drop undecoded bytes");
        &mut self.buf
    }

    /// Takes the outcome of a read into [`read_buf`](ReadHalf::read_buf): bytes to decode, the
    /// end of the stream, or the transport's error. An `Interrupted` read is no error: the next
    /// step asks for the read again.
    pub(crate) fn filled(&mut self, read: io::Result<usize>) -> io::Result<()> {
        match read {
            Ok(0) => self.eof = true,
            Ok(n) => {
                self.pos = 0;
                self.len = n;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
        Ok(())
    }

    pub(crate) fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// Bytes read from the transport but not yet given to the decoder.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.len]
    }
}

/// A client's adoption of the limit `L` a typed server announces in WELCOME (§4.4).
///
/// The limit is noted when WELCOME is decoded and applied before the next decode, so it governs
/// exactly the frames that follow WELCOME; a frame then above the client's own default is not
/// taken for a protocol violation. A WELCOME whose limit is outside what [`Limits::new`] accepts
/// changes nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct WelcomeLimit {
    pub(crate) enabled: bool,
    pending: Option<Limits>,
}

impl WelcomeLimit {
    /// Call with every decoded frame.
    pub(crate) fn note(&mut self, frame: &Frame<&str>) {
        if let (true, Frame::Welcome { max_frame_len, .. }) = (self.enabled, frame) {
            self.pending = Limits::new(*max_frame_len).ok();
        }
    }

    /// Call before every decode.
    pub(crate) fn apply(&mut self, decoder: &mut Decoder) {
        if let Some(limits) = self.pending.take() {
            decoder.set_limits(limits);
        }
    }
}

/// The encoding half of the driving recipe (step 4): frames encoded into one buffer, written out
/// in as many pieces as the transport takes.
#[derive(Debug)]
pub(crate) struct WriteHalf {
    encoder: Encoder,
    /// Encoded bytes; `out[written..]` is not yet accepted by the transport.
    out: Vec<u8>,
    written: usize,
}

impl WriteHalf {
    /// A half encoding with `encoder`; a preface the encoder owes is queued now (FC-3, FC-25).
    pub(crate) fn new(mut encoder: Encoder) -> WriteHalf {
        let mut out = Vec::new();
        encoder.write_preface(&mut out);
        WriteHalf {
            encoder,
            out,
            written: 0,
        }
    }

    /// Encodes `frame` after what is queued; a refused frame leaves the queue as it was (FC-23).
    pub(crate) fn encode(&mut self, frame: Frame<&str>) -> Result<(), EncodeError> {
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        self.encoder.encode(frame, &mut self.out)?;
        Ok(())
    }

    /// Bytes encoded but not yet accepted by the transport: what to write next.
    pub(crate) fn queued(&self) -> &[u8] {
        &self.out[self.written..]
    }

    /// Takes the outcome of a write of [`queued`](WriteHalf::queued). A write of 0 bytes is
    /// `WriteZero`; an `Interrupted` write is no error (write again).
    pub(crate) fn wrote(&mut self, write: io::Result<usize>) -> io::Result<()> {
        match write {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            // `min`: a transport claiming more than it was given must not break the bookkeeping.
            Ok(n) => self.written = (self.written + n).min(self.out.len()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        Ok(())
    }

    pub(crate) fn encoder(&self) -> &Encoder {
        &self.encoder
    }
}
