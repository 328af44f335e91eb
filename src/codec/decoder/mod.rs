//! The sans-IO decoder: bytes in, frames out (§5, §6).
//!
//! - `mod.rs`: the API, [`Decoder`] and what it returns.
//! - `fast.rs`: the inlined fast paths of [`Decoder::decode`] (a whole frame in the input, a cut
//!   header or payload continued); they decide nothing the state machine would not.
//! - `machine.rs`: the state machine every other case goes through, and every error.
//! - `payload.rs`: parsing a complete payload into a [`Frame`].

mod fast;
mod machine;
mod payload;

use core::fmt;

use self::machine::{record_failure, Outcome, State, Stepped};
use self::payload::parse_buffered;
use crate::codec::error::{DecodeError, DecodeErrorKind, Part};
use crate::codec::frame::Frame;
use crate::codec::utf8::TextBuf;
use crate::codec::wire::{self, PREFACE};
use crate::codec::{Limits, Profile, Role};

/// A buffer larger than this is released once its frame is done, so an idle connection that once
/// received a large frame does not keep its memory.
const RETAINED_BUFFER: usize = 64 * 1024;

/// What one [`Decoder::decode`] call did.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "advance the input by `consumed` and handle `frame`"]
pub struct Decoded<'a> {
    /// How many bytes of the input were consumed. When `frame` is `None` this is the whole input.
    pub consumed: usize,
    /// The frame completed by those bytes, borrowing from the input or the decoder.
    pub frame: Option<Frame<&'a str>>,
}

/// The frame decoder of one stream: a state machine with no I/O, no clock and no locks.
///
/// # Driving it
///
/// 1. Build it for the receiving side: [`Decoder::client`], [`Decoder::server`] or
///    [`Decoder::server_detect`].
/// 2. For each chunk of bytes you read, of any size, call [`decode`](Decoder::decode) until the chunk is
///    used up, advancing past [`Decoded::consumed`] bytes and handling [`Decoded::frame`] each time.
///    (Or let [`decode_each`](Decoder::decode_each) run that loop.)
/// 3. On an error, stop: it is terminal (FC-19) and tells the detection offset.
/// 4. At end of stream call [`finish`](Decoder::finish): `Ok` for a clean end, `Truncated` otherwise.
///
/// ```
/// use framechat::{Decoder, Frame, Limits, Profile};
/// let mut decoder = Decoder::client(Profile::Legacy, Limits::default());
/// let stream = b"\x00\x00\x00\x02hi\x00\x00\x00\x00";
/// let mut frames = Vec::new();
/// for chunk in stream.chunks(3) {
///     let mut input = &chunk[..];
///     while !input.is_empty() {
///         let decoded = decoder.decode(input)?;
///         input = &input[decoded.consumed..];
///         if let Some(frame) = decoded.frame {
///             frames.push(frame.into_owned());
///         }
///     }
/// }
/// decoder.finish()?;
/// assert_eq!(frames, [Frame::Text("hi".to_string()), Frame::Text(String::new())]);
/// # Ok::<(), framechat::DecodeError>(())
/// ```
///
/// # Memory
///
/// A payload that arrives whole inside one input is returned borrowed from that input, with no copy.
/// One split across inputs is gathered in an internal buffer that grows only as its bytes arrive
/// and never beyond the declared length (FC-22), and is returned borrowed from that buffer. The decoder
/// thus never holds more than one header plus the limit.
#[derive(Clone)]
pub struct Decoder {
    /// The side this decoder receives on: it decides directions (FC-8) and limits (FC-15).
    role: Role,
    limits: Limits,
    /// `None` only in `State::Detect`.
    profile: Option<Profile>,
    state: State,
    /// The header (or the detection bytes) received so far; `header_len <= TYPED_HEADER_LEN`.
    header: [u8; wire::TYPED_HEADER_LEN],
    header_len: u8,
    /// A split payload; `buf.len() < len` of `State::Payload` and `buf.capacity() <= len`.
    buf: TextBuf,
    /// `buf` holds a frame already returned: cleared at the next call.
    buf_returned: bool,
    /// Bytes of the stream taken in so far.
    offset: u64,
    /// Frames completed so far, skipped ones included.
    frame_index: u64,
    skipped: u64,
}

/// Shows where the decoder stands, not the bytes it holds: a split payload may be a secret (an
/// AUTH's token, §8.9), and `{:?}` of a connection must not print it.
///
/// ```
/// use framechat::{Decoder, Limits, Profile};
/// let mut decoder = Decoder::client(Profile::Legacy, Limits::default());
/// let _ = decoder.decode(b"\x00\x00\x00\x06secr")?;
/// let debug = format!("{decoder:?}");
/// assert!(debug.contains("buffered: 8") && !debug.contains("secr"));
/// # Ok::<(), framechat::DecodeError>(())
/// ```
impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("role", &self.role)
            .field("profile", &self.profile)
            .field("limits", &self.limits)
            .field("state", &self.state)
            .field("buffered", &self.buffered())
            .field("stream_offset", &self.offset)
            .field("frames_completed", &self.frame_index)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    fn with_state(role: Role, profile: Option<Profile>, state: State, limits: Limits) -> Decoder {
        Decoder {
            role,
            limits,
            profile,
            state,
            header: [0; wire::TYPED_HEADER_LEN],
            header_len: 0,
            buf: TextBuf::default(),
            buf_returned: false,
            offset: 0,
            frame_index: 0,
            skipped: 0,
        }
    }

    /// A client's decoder of what a server sends in `profile`.
    pub fn client(profile: Profile, limits: Limits) -> Decoder {
        Decoder::with_state(Role::Client, Some(profile), State::Header, limits)
    }

    /// A server's decoder of what a client sends in `profile`; typed expects the preface first.
    ///
    /// ```
    /// use framechat::{wire::PREFACE, Decoder, Frame, Limits, Profile, UnixMicros};
    /// let mut decoder = Decoder::server(Profile::Typed, Limits::default());
    /// let mut stream = PREFACE.to_vec();
    /// stream.extend_from_slice(&[0x81, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 42, b'h', b'i']);
    /// let decoded = decoder.decode(&stream)?;
    /// assert_eq!(decoded.frame, Some(Frame::Chat { sent_at: UnixMicros(42), text: "hi" }));
    /// # Ok::<(), framechat::DecodeError>(())
    /// ```
    pub fn server(profile: Profile, limits: Limits) -> Decoder {
        let state = match profile {
            Profile::Legacy => State::Header,
            Profile::Typed => State::Preface { matched: 0 },
        };
        Decoder::with_state(Role::Server, Some(profile), state, limits)
    }

    /// A server's decoder that tells the profile from the first 4 bytes (§5).
    ///
    /// ```
    /// use framechat::{Decoder, Limits, Profile};
    /// let mut decoder = Decoder::server_detect(Limits::default());
    /// assert_eq!(decoder.profile(), None);
    /// let _ = decoder.decode(b"\xffFCH")?;
    /// assert_eq!(decoder.profile(), Some(Profile::Typed));
    /// # Ok::<(), framechat::DecodeError>(())
    /// ```
    pub fn server_detect(limits: Limits) -> Decoder {
        Decoder::with_state(Role::Server, None, State::Detect, limits)
    }

    /// The stream's profile: `None` while a detecting decoder has fewer than 4 bytes.
    pub fn profile(&self) -> Option<Profile> {
        self.profile
    }

    /// The side this decoder receives on.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limit in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the limit for every length checked from now on, e.g. by a client that learns the
    /// server's `L` from WELCOME (§4.4). A frame whose header is already complete keeps the limit
    /// it was checked against.
    ///
    /// ```
    /// use framechat::{Decoder, Frame, Limits, Profile};
    /// let mut decoder = Decoder::client(Profile::Typed, Limits::default());
    /// let welcome = [0x80, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x40, 0, 0];
    /// if let Some(Frame::Welcome { max_frame_len, .. }) = decoder.decode(&welcome)?.frame {
    ///     decoder.set_limits(Limits::new(max_frame_len).expect("a conforming server's limit"));
    /// }
    /// assert_eq!(decoder.limits().max_frame_len(), 4 << 20);
    /// # Ok::<(), framechat::DecodeError>(())
    /// ```
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Bytes of the stream taken in so far.
    pub fn stream_offset(&self) -> u64 {
        self.offset
    }

    /// Frames completed so far, skipped ones included.
    pub fn frames_completed(&self) -> u64 {
        self.frame_index
    }

    /// Frames of unassigned types skipped so far (FC-11).
    pub fn frames_skipped(&self) -> u64 {
        self.skipped
    }

    /// Bytes held for an incomplete frame: header and payload.
    pub fn buffered(&self) -> usize {
        let payload = if self.buf_returned { 0 } else { self.buf.len() };
        usize::from(self.header_len) + payload
    }

    /// Bytes of memory reserved for payloads (the internal buffer's capacity).
    pub fn reserved(&self) -> usize {
        self.buf.capacity()
    }

    /// True while a frame (or the preface, or the detection bytes) is started but not complete: what
    /// a server's frame deadline watches (FC-32).
    pub fn is_mid_frame(&self) -> bool {
        match self.state {
            State::Detect | State::Header => self.header_len > 0,
            State::Preface { matched } => matched > 0,
            State::Payload { .. } | State::Skip { .. } => true,
            State::Failed(_) | State::Finished => false,
        }
    }

    /// The error this decoder failed with, if it did.
    pub fn error(&self) -> Option<DecodeError> {
        match self.state {
            State::Failed(err) => Some(err),
            _ => None,
        }
    }

    /// Takes in bytes from `input` until one frame is complete or the input is used up.
    ///
    /// Returns how many bytes were consumed and the frame they completed, if any. `Ok` with no frame
    /// means "need more bytes": an incomplete frame is not an error. An input of any length, 0
    /// included, is accepted. After an error every call returns the same error and consumes nothing
    /// (FC-19); input after [`finish`](Decoder::finish) is refused with `InputAfterFinish`, which is
    /// the caller's slip and changes nothing.
    // Inlined whole into the caller's loop, so the frame comes back in registers (BENCHMARKS.md).
    #[inline(always)]
    pub fn decode<'a>(&'a mut self, input: &'a [u8]) -> Result<Decoded<'a>, DecodeError> {
        if self.buf_returned {
            self.release_returned_frame();
        }
        if let Some(decoded) = self.whole_frame(input) {
            return Ok(decoded);
        }
        if self.gather_payload(input) || self.gather_header(input) {
            return Ok(Decoded {
                consumed: input.len(),
                frame: None,
            });
        }
        let Ok(Stepped { consumed, outcome }) = self.step(input) else {
            return Err(self.step_error());
        };
        let frame = match outcome {
            Outcome::NeedMore => None,
            Outcome::Empty => Some(Frame::Text("")),
            Outcome::InInput { frame_type, len } => {
                // The payload is the last `len` bytes consumed (a `u32`, so `Outcome` is a word).
                let payload = &input[consumed - len as usize..consumed];
                Some(self.parse_borrowed(frame_type, payload)?)
            }
            Outcome::InBuf { frame_type } => {
                // Field by field rather than through `parse_borrowed` and `fail`: the frame borrows
                // `buf`, so all of `self` cannot be borrowed at the same time.
                self.buf_returned = true;
                match parse_buffered(frame_type, &self.buf) {
                    Ok(frame) => {
                        self.frame_index += 1;
                        Some(frame)
                    }
                    Err(kind) => {
                        return Err(record_failure(
                            &mut self.state,
                            kind,
                            self.offset,
                            self.frame_index,
                        ))
                    }
                }
            }
        };
        Ok(Decoded { consumed, frame })
    }

    /// Runs the [`decode`](Decoder::decode) loop over one chunk, handing each frame to `on_frame`.
    ///
    /// ```
    /// use framechat::{Decoder, Limits, Profile};
    /// let mut decoder = Decoder::client(Profile::Legacy, Limits::default());
    /// let mut texts = Vec::new();
    /// decoder.decode_each(b"\x00\x00\x00\x01a\x00\x00\x00\x01b", |frame| {
    ///     texts.push(frame.text().unwrap_or_default().to_owned())
    /// })?;
    /// assert_eq!(texts, ["a", "b"]);
    /// # Ok::<(), framechat::DecodeError>(())
    /// ```
    pub fn decode_each(
        &mut self,
        mut input: &[u8],
        mut on_frame: impl FnMut(Frame<&str>),
    ) -> Result<(), DecodeError> {
        loop {
            let decoded = self.decode(input)?;
            input = &input[decoded.consumed..];
            match decoded.frame {
                Some(frame) => on_frame(frame),
                None => return Ok(()),
            }
        }
    }

    /// Declares the end of the stream (FC-21).
    ///
    /// `Ok` if the stream ended between frames (or, for a server, before any byte); otherwise a
    /// `Truncated` error naming the part that was cut. Either way the decoder takes no more input.
    ///
    /// ```
    /// use framechat::{Decoder, DecodeErrorKind, Limits, Part, Profile};
    /// let mut decoder = Decoder::client(Profile::Legacy, Limits::default());
    /// let _ = decoder.decode(b"\x00\x00\x00\x05abc")?;
    /// let err = decoder.finish().unwrap_err();
    /// assert_eq!(err.kind, DecodeErrorKind::Truncated { part: Part::Payload, received: 3, expected: 5 });
    /// assert_eq!(err.offset, 7);
    /// # Ok::<(), framechat::DecodeError>(())
    /// ```
    pub fn finish(&mut self) -> Result<(), DecodeError> {
        let truncated = |part, received: usize, expected: usize| DecodeErrorKind::Truncated {
            part,
            received: received as u32,
            expected: expected as u32,
        };
        let header_len = usize::from(self.header_len);
        let kind = match self.state {
            State::Failed(err) => return Err(err),
            State::Finished => return Ok(()),
            State::Detect | State::Header if header_len == 0 => None,
            State::Preface { matched: 0 } => None,
            State::Detect => Some(truncated(Part::Header, header_len, wire::DETECT_LEN)),
            State::Header => Some(truncated(Part::Header, header_len, self.header_size())),
            State::Preface { matched } => Some(truncated(
                Part::Preface,
                usize::from(matched),
                PREFACE.len(),
            )),
            State::Payload { len, .. } => {
                Some(truncated(Part::Payload, self.buf.len(), len as usize))
            }
            State::Skip { remaining, len } => Some(truncated(
                Part::Payload,
                (len - remaining) as usize,
                len as usize,
            )),
        };
        match kind {
            None => {
                self.state = State::Finished;
                Ok(())
            }
            Some(kind) => Err(self.fail(kind)),
        }
    }

    pub(super) fn fail(&mut self, kind: DecodeErrorKind) -> DecodeError {
        record_failure(&mut self.state, kind, self.offset, self.frame_index)
    }
}
