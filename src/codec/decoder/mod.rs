//! The sans-IO decoder: bytes in, frames out (§5, §6).

use alloc::vec::Vec;

use crate::codec::error::{DecodeError, DecodeErrorKind, Part};
use crate::codec::frame::{ErrorCode, Frame, UnixMicros};
use crate::codec::limits::inbound_limit;
use crate::codec::utf8;
use crate::codec::wire::{self, frame_type, TypeRule, PREFACE};
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

/// What one [`Decoder::step`] did: two words, returned in registers.
struct Stepped {
    /// Bytes of the input taken in.
    consumed: usize,
    outcome: Outcome,
}

impl Stepped {
    fn need_more(consumed: usize) -> Stepped {
        Stepped {
            consumed,
            outcome: Outcome::NeedMore,
        }
    }
}

/// Whether a [`Stepped`] completed a frame, and where its payload is.
enum Outcome {
    /// The input is used up, no frame complete.
    NeedMore,
    /// An empty legacy frame (§3.1).
    Empty,
    /// The payload is the last `len` bytes consumed, borrowed from the input.
    InInput { frame_type: Option<u8>, len: u32 },
    /// The payload was gathered in `buf`.
    InBuf { frame_type: Option<u8> },
}

/// [`Decoder::step`] failed; the error is in the decoder (made by [`Decoder::fail_step`], read by
/// [`Decoder::step_error`]).
struct Failed;

/// Where the decoder stands in the stream.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Server, either profile: collecting the first 4 bytes into `header` (§5).
    Detect,
    /// Typed server: `matched` preface bytes have been checked (§4.1).
    Preface { matched: u8 },
    /// Collecting a header into `header[..header_len]`.
    Header,
    /// Collecting a known frame's payload into `buf`, unless it arrives whole in one input.
    Payload { frame_type: Option<u8>, len: u32 },
    /// Discarding an unassigned type's payload without keeping it (FC-11).
    Skip { remaining: u32, len: u32 },
    /// Terminal (FC-19): every later call reports this error again.
    Failed(DecodeError),
    /// [`Decoder::finish`] found a clean end.
    Finished,
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
#[derive(Clone, Debug)]
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
    buf: Vec<u8>,
    /// `buf` holds a frame already returned: cleared at the next call.
    buf_returned: bool,
    /// Bytes of the stream taken in so far.
    offset: u64,
    /// Frames completed so far, skipped ones included.
    frame_index: u64,
    skipped: u64,
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
            buf: Vec::new(),
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
    // Always inlined (a dispatcher over three small fast paths, a call to `step` and the parsing
    // of what it completed): in the caller's loop the frame then comes back in registers rather
    // than through a 56-byte return slot in memory (see `step`).
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
                match parse_payload(frame_type, &self.buf) {
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

    /// The fast path of [`decode`](Decoder::decode), inlined with it: between frames, a whole valid
    /// frame at the start of `input` is parsed in place and returned borrowed from it, with one
    /// look at the state and the header read straight from the input.
    ///
    /// It changes nothing and returns `None` for anything else (a cut frame, any violation, a frame
    /// to skip, the preface, the other states), which [`step`](Decoder::step) then handles: every
    /// error, with its detection offset, comes from `step` or from the parse of what it completed.
    #[inline(always)]
    fn whole_frame<'a>(&mut self, input: &'a [u8]) -> Option<Decoded<'a>> {
        if !matches!(self.state, State::Header) || self.header_len != 0 {
            return None;
        }
        let (frame_type, header_len) = match self.profile {
            Some(Profile::Typed) => (Some(*input.first()?), wire::TYPED_HEADER_LEN),
            _ => (None, wire::LEGACY_HEADER_LEN),
        };
        let declared = be_u32(input.get(..header_len)?, header_len - 4);
        // The checks of §6.2, in a form that only says "all pass".
        if declared > inbound_limit(self.role, self.limits, frame_type) {
            return None;
        }
        if let Some(frame_type) = frame_type {
            match wire::type_rule(frame_type) {
                TypeRule::Known {
                    direction,
                    min_len,
                    max_len,
                } if direction.reaches(self.role)
                    && declared >= min_len
                    && max_len.is_none_or(|max| declared <= max) => {}
                _ => return None,
            }
        }
        let end = header_len + declared as usize;
        let payload = input.get(header_len..end)?;
        let frame = match frame_type {
            // A legacy frame is all text. `text(..).ok()` rather than `parse_payload`: only
            // "valid or not" is needed here, and building the error kind costs in the hot loop.
            None => Frame::Text(utf8::text(payload).ok()?),
            Some(type_byte) => parse_typed(type_byte, payload).ok()?,
        };
        self.offset += end as u64;
        self.frame_index += 1;
        Some(Decoded {
            consumed: end,
            frame: Some(frame),
        })
    }

    /// The other fast path, inlined for small reads: `input` continues a cut payload without
    /// completing it, so all of it goes to `buf` (growing as `append_payload` allows, FC-22) and
    /// there is nothing to return. An input that completes the payload is [`step`](Decoder::step)'s.
    #[inline(always)]
    fn gather_payload(&mut self, input: &[u8]) -> bool {
        let State::Payload { len, .. } = self.state else {
            return false;
        };
        let len = len as usize;
        if self.buf.len() + input.len() >= len {
            return false;
        }
        self.append_payload(input, len);
        true
    }

    /// The same for a header cut across inputs: `input` continues it without completing it. A typed
    /// header's type byte (checked on its own, FC-20) and the bytes that complete a header are
    /// [`step`](Decoder::step)'s.
    #[inline(always)]
    fn gather_header(&mut self, input: &[u8]) -> bool {
        if !matches!(self.state, State::Header)
            || (self.header_len == 0 && self.profile == Some(Profile::Typed))
        {
            return false;
        }
        let have = usize::from(self.header_len);
        if have + input.len() >= self.header_size() {
            return false;
        }
        self.header[have..have + input.len()].copy_from_slice(input);
        self.header_len = (have + input.len()) as u8;
        self.offset += input.len() as u64;
        true
    }

    /// The frame returned last call was borrowed from `buf`; the caller is done with it now.
    fn release_returned_frame(&mut self) {
        self.buf_returned = false;
        self.buf.clear();
        if self.buf.capacity() > RETAINED_BUFFER {
            self.buf = Vec::new();
        }
    }

    /// The state machine: one step of [`decode`](Decoder::decode) from any state, over any input.
    ///
    /// It says what it did in a [`Stepped`] of two words, which comes back in registers, and
    /// `decode` builds the frame. When `step` returned the 56-byte `Result<Decoded, _>` itself
    /// (through memory), the compiler merged the inlined fast paths' results into that memory
    /// too, on every call (BENCHMARKS.md, "What changed", has what that cost). An error is
    /// recorded by [`fail_step`](Decoder::fail_step) and read back by
    /// [`step_error`](Decoder::step_error).
    fn step(&mut self, input: &[u8]) -> Result<Stepped, Failed> {
        let mut pos = 0usize;
        // Each pass of this loop handles one state over as many bytes as that state can take at
        // once (a header, a payload, a run of skipped bytes), not one byte per pass. Only a typed
        // header's type byte (checked on its own), the detection bytes and the preface (a few
        // bytes once per connection) go byte by byte.
        loop {
            match self.state {
                State::Failed(_) => return Err(Failed),
                State::Finished => {
                    if input.is_empty() {
                        return Ok(Stepped::need_more(0));
                    }
                    return Err(Failed);
                }
                _ if pos == input.len() => return Ok(Stepped::need_more(pos)),
                State::Header if self.header_len == 0 && self.profile == Some(Profile::Typed) => {
                    // The type byte alone first: FC-6/FC-8 are detected right after it (FC-20),
                    // before any length byte is taken in.
                    self.push_header_byte(input[pos]);
                    pos += 1;
                    self.check_type_byte(self.header[0])?;
                }
                State::Header => {
                    // All of the header this input has, at once (usually the whole of it).
                    let size = self.header_size();
                    let have = usize::from(self.header_len);
                    let take = (size - have).min(input.len() - pos);
                    self.header[have..have + take].copy_from_slice(&input[pos..pos + take]);
                    pos += take;
                    self.offset += take as u64;
                    self.header_len = (have + take) as u8;
                    if have + take < size {
                        // `take` was all the input had left.
                        return Ok(Stepped::need_more(pos));
                    }
                    let (frame_type, declared) = self.header_fields();
                    if self.header_complete(frame_type, declared)? {
                        return Ok(Stepped {
                            consumed: pos,
                            outcome: Outcome::Empty,
                        });
                    }
                }
                State::Detect => {
                    self.push_header_byte(input[pos]);
                    pos += 1;
                    if usize::from(self.header_len) == wire::DETECT_LEN {
                        if self.header[..wire::DETECT_LEN] == PREFACE[..wire::DETECT_LEN] {
                            self.profile = Some(Profile::Typed);
                            self.header_len = 0;
                            self.state = State::Preface {
                                matched: wire::DETECT_LEN as u8,
                            };
                        } else {
                            self.profile = Some(Profile::Legacy);
                            self.state = State::Header;
                            let (frame_type, declared) = self.header_fields();
                            if self.header_complete(frame_type, declared)? {
                                return Ok(Stepped {
                                    consumed: pos,
                                    outcome: Outcome::Empty,
                                });
                            }
                        }
                    }
                }
                State::Preface { matched } => {
                    let found = input[pos];
                    pos += 1;
                    self.offset += 1;
                    let expected = PREFACE[usize::from(matched)];
                    if found != expected {
                        return Err(self.fail_step(DecodeErrorKind::BadPreface {
                            index: matched,
                            expected,
                            found,
                        }));
                    }
                    self.state = if usize::from(matched) + 1 == PREFACE.len() {
                        State::Header
                    } else {
                        State::Preface {
                            matched: matched + 1,
                        }
                    };
                }
                State::Skip { remaining, len } => {
                    let take = remaining.min(u32::try_from(input.len() - pos).unwrap_or(u32::MAX));
                    pos += take as usize;
                    self.offset += u64::from(take);
                    let remaining = remaining - take;
                    self.state = State::Skip { remaining, len };
                    if remaining == 0 {
                        self.skipped += 1;
                        self.frame_index += 1;
                        self.state = State::Header;
                    }
                }
                State::Payload {
                    frame_type,
                    len: declared,
                } => {
                    let len = declared as usize;
                    let available = input.len() - pos;
                    // Once the payload is complete (borrowed or gathered), `decode` parses it.
                    if self.buf.is_empty() && available >= len {
                        // The header came in an earlier input, the whole payload in this one:
                        // borrowed from it, no copy.
                        pos += len;
                        self.offset += len as u64;
                        self.header_len = 0;
                        self.state = State::Header;
                        return Ok(Stepped {
                            consumed: pos,
                            outcome: Outcome::InInput {
                                frame_type,
                                len: declared,
                            },
                        });
                    }
                    let take = (len - self.buf.len()).min(available);
                    self.append_payload(&input[pos..pos + take], len);
                    pos += take;
                    if self.buf.len() < len {
                        // `take` was all the input had left.
                        return Ok(Stepped::need_more(pos));
                    }
                    self.header_len = 0;
                    self.state = State::Header;
                    return Ok(Stepped {
                        consumed: pos,
                        outcome: Outcome::InBuf { frame_type },
                    });
                }
            }
        }
    }

    /// Records `kind` as the terminal error (FC-19): the only way `step` fails but in `Finished`.
    fn fail_step(&mut self, kind: DecodeErrorKind) -> Failed {
        self.fail(kind);
        Failed
    }

    /// The error a failed [`step`](Decoder::step) left: the terminal one (FC-19), or input after
    /// [`finish`](Decoder::finish), which is the caller's slip and leaves the state as it is.
    #[cold]
    fn step_error(&self) -> DecodeError {
        match self.state {
            State::Failed(err) => err,
            State::Finished => DecodeError {
                kind: DecodeErrorKind::InputAfterFinish,
                offset: self.offset,
                frame_index: self.frame_index,
            },
            _ => unreachable!("`step` fails only through `fail_step` or in `Finished`"),
        }
    }

    /// A payload borrowed from the input is complete and the state is back at `Header`: parse it.
    #[inline(always)]
    fn parse_borrowed<'p>(
        &mut self,
        frame_type: Option<u8>,
        payload: &'p [u8],
    ) -> Result<Frame<&'p str>, DecodeError> {
        match parse_payload(frame_type, payload) {
            Ok(frame) => {
                self.frame_index += 1;
                Ok(frame)
            }
            Err(kind) => Err(self.fail(kind)),
        }
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

    fn fail(&mut self, kind: DecodeErrorKind) -> DecodeError {
        record_failure(&mut self.state, kind, self.offset, self.frame_index)
    }

    fn push_header_byte(&mut self, byte: u8) {
        self.header[usize::from(self.header_len)] = byte;
        self.header_len += 1;
        self.offset += 1;
    }

    fn header_size(&self) -> usize {
        match self.profile {
            Some(Profile::Typed) => wire::TYPED_HEADER_LEN,
            _ => wire::LEGACY_HEADER_LEN,
        }
    }

    /// FC-6 then FC-8, right after the type byte.
    fn check_type_byte(&mut self, frame_type: u8) -> Result<(), Failed> {
        let kind = match wire::type_rule(frame_type) {
            TypeRule::Invalid => DecodeErrorKind::InvalidFrameType { frame_type },
            TypeRule::Known { direction, .. } if !direction.reaches(self.role) => {
                DecodeErrorKind::UnexpectedFrameType {
                    frame_type,
                    receiver: self.role,
                }
            }
            TypeRule::Known { .. } | TypeRule::Skip => return Ok(()),
        };
        Err(self.fail_step(kind))
    }

    /// The type and length of the header gathered in `header`.
    fn header_fields(&self) -> (Option<u8>, u32) {
        match self.profile {
            Some(Profile::Typed) => (Some(self.header[0]), be_u32(&self.header, 1)),
            _ => (None, be_u32(&self.header, 0)),
        }
    }

    /// The header is whole: FC-14/FC-15, then FC-7 (§6.2). `true`: it was an empty legacy frame,
    /// complete at once.
    fn header_complete(&mut self, frame_type: Option<u8>, declared: u32) -> Result<bool, Failed> {
        let limit = inbound_limit(self.role, self.limits, frame_type);
        if declared > limit {
            return Err(self.fail_step(DecodeErrorKind::FrameTooLarge { declared, limit }));
        }
        let rule = frame_type.map(|t| (t, wire::type_rule(t)));
        if let Some((
            frame_type,
            TypeRule::Known {
                min_len, max_len, ..
            },
        )) = rule
        {
            if declared < min_len || max_len.is_some_and(|max| declared > max) {
                return Err(self.fail_step(DecodeErrorKind::BadLength {
                    frame_type,
                    declared,
                    min: min_len,
                    max: max_len,
                }));
            }
        }
        if let Some((_, TypeRule::Skip)) = rule {
            self.header_len = 0;
            self.state = State::Skip {
                remaining: declared,
                len: declared,
            };
            if declared == 0 {
                self.skipped += 1;
                self.frame_index += 1;
                self.state = State::Header;
            }
            return Ok(false);
        }
        if declared == 0 {
            // Only a legacy frame can be empty: every known typed frame has fixed fields (§4.3).
            self.header_len = 0;
            self.frame_index += 1;
            return Ok(true);
        }
        self.state = State::Payload {
            frame_type,
            len: declared,
        };
        Ok(false)
    }

    /// Takes `bytes` of the payload in progress, of declared length `len`, into `buf`: room is
    /// reserved first, doubling for amortized growth but never past `len` (FC-22).
    #[inline(always)]
    fn append_payload(&mut self, bytes: &[u8], len: usize) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            self.grow_buf_to(needed, len);
        }
        // The room is made, so `push` never grows `buf` itself; a one-byte `extend_from_slice`
        // would call `memcpy`, which costs a byte-at-a-time source more than the rest of the call.
        if let [byte] = bytes {
            self.buf.push(*byte);
        } else {
            self.buf.extend_from_slice(bytes);
        }
        self.offset += bytes.len() as u64;
    }

    /// The rare half of `append_payload`, kept out of the inlined fast paths.
    fn grow_buf_to(&mut self, needed: usize, len: usize) {
        let target = needed.max(self.buf.capacity() * 2).min(len);
        self.buf.reserve_exact(target - self.buf.len());
    }
}

/// Makes `kind`, detected at `offset` in frame `frame_index`, the terminal error (FC-19). A free
/// function over the fields it needs, so `decode` can record an error about a frame that still
/// borrows `buf`; everywhere else, [`Decoder::fail`].
fn record_failure(
    state: &mut State,
    kind: DecodeErrorKind,
    offset: u64,
    frame_index: u64,
) -> DecodeError {
    let err = DecodeError {
        kind,
        offset,
        frame_index,
    };
    *state = State::Failed(err);
    err
}

// `#[inline]`: used by `decode`'s fast path, which is inlined into the caller's crate.
#[inline]
fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

fn be_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

#[inline]
fn text_at(payload: &[u8], at: usize) -> Result<&str, DecodeErrorKind> {
    utf8::text(&payload[at..]).map_err(|valid_up_to| DecodeErrorKind::InvalidUtf8 {
        valid_up_to: valid_up_to as u32,
    })
}

/// Parses a payload whose length the header checks already validated against §4.3.
///
/// Inlined for the legacy text, so a text frame is built in registers where it is returned; the
/// typed payloads go through `parse_typed`, kept out of line.
#[inline]
fn parse_payload(frame_type: Option<u8>, payload: &[u8]) -> Result<Frame<&str>, DecodeErrorKind> {
    match frame_type {
        None => Ok(Frame::Text(text_at(payload, 0)?)),
        Some(type_byte) => parse_typed(type_byte, payload),
    }
}

/// Parses a typed payload; see [`parse_payload`].
fn parse_typed(type_byte: u8, payload: &[u8]) -> Result<Frame<&str>, DecodeErrorKind> {
    // Slicing below cannot panic: `header_complete` checked each type's minimum length.
    Ok(match type_byte {
        frame_type::WELCOME => Frame::Welcome {
            peer_id: be_u64(payload, 0),
            max_frame_len: u32::from_be_bytes([payload[8], payload[9], payload[10], payload[11]]),
        },
        frame_type::CHAT => Frame::Chat {
            sent_at: UnixMicros(be_u64(payload, 0)),
            text: text_at(payload, 8)?,
        },
        frame_type::ECHO => Frame::Echo {
            sent_at: UnixMicros(be_u64(payload, 0)),
            relayed_at: UnixMicros(be_u64(payload, 8)),
            text: text_at(payload, 16)?,
        },
        frame_type::BROADCAST => Frame::Broadcast {
            from: be_u64(payload, 0),
            sent_at: UnixMicros(be_u64(payload, 8)),
            relayed_at: UnixMicros(be_u64(payload, 16)),
            text: text_at(payload, 24)?,
        },
        frame_type::PING => Frame::Ping {
            nonce: be_u64(payload, 0),
        },
        frame_type::PONG => Frame::Pong {
            nonce: be_u64(payload, 0),
        },
        frame_type::ERROR => Frame::Error {
            code: ErrorCode(u16::from_be_bytes([payload[0], payload[1]])),
            reason: text_at(payload, 2)?,
        },
        // `State::Payload` is entered only for known types; unassigned ones are skipped.
        other => unreachable!("payload state for unassigned frame type {other:#04x}"),
    })
}
