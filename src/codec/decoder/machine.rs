//! The decoder's state machine: every state, every check of §5–§6, every error.

use super::payload::be_u32;
use super::Decoder;
use crate::codec::error::{DecodeError, DecodeErrorKind};
use crate::codec::limits::inbound_limit;
use crate::codec::wire::{self, TypeRule, PREFACE};
use crate::codec::Profile;

/// What one [`Decoder::step`] did: two words, returned in registers.
pub(super) struct Stepped {
    /// Bytes of the input taken in.
    pub(super) consumed: usize,
    pub(super) outcome: Outcome,
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
pub(super) enum Outcome {
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
pub(super) struct Failed;

/// Where the decoder stands in the stream.
#[derive(Clone, Copy, Debug)]
pub(super) enum State {
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

impl Decoder {
    /// The state machine: one step of [`decode`](Decoder::decode) from any state, over any input.
    ///
    /// It says what it did in a [`Stepped`] of two words, which comes back in registers (not the
    /// frame itself: BENCHMARKS.md, "Round 2", has why), and `decode` builds the frame. An error is
    /// recorded by [`fail_step`](Decoder::fail_step) and read back by
    /// [`step_error`](Decoder::step_error).
    pub(super) fn step(&mut self, input: &[u8]) -> Result<Stepped, Failed> {
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
                    pos += 1;
                    if self.take_detection_byte(input[pos - 1])? {
                        return Ok(Stepped {
                            consumed: pos,
                            outcome: Outcome::Empty,
                        });
                    }
                }
                State::Preface { matched } => {
                    pos += 1;
                    self.take_preface_byte(matched, input[pos - 1])?;
                }
                State::Skip { remaining, len } => {
                    pos += self.skip_payload(remaining, len, input.len() - pos);
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

    /// One of the first 4 bytes of a detecting server's stream (§5); once all 4 are in, the
    /// profile is decided. `true`: they were an empty legacy frame, complete at once.
    fn take_detection_byte(&mut self, byte: u8) -> Result<bool, Failed> {
        self.push_header_byte(byte);
        if usize::from(self.header_len) < wire::DETECT_LEN {
            return Ok(false);
        }
        if self.header[..wire::DETECT_LEN] == PREFACE[..wire::DETECT_LEN] {
            self.profile = Some(Profile::Typed);
            self.header_len = 0;
            self.state = State::Preface {
                matched: wire::DETECT_LEN as u8,
            };
            return Ok(false);
        }
        self.profile = Some(Profile::Legacy);
        self.state = State::Header;
        let (frame_type, declared) = self.header_fields();
        self.header_complete(frame_type, declared)
    }

    /// The preface byte after the `matched` ones (§4.1, FC-3).
    fn take_preface_byte(&mut self, matched: u8, found: u8) -> Result<(), Failed> {
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
        Ok(())
    }

    /// Discards up to `available` bytes of a skipped frame's `remaining` (FC-11); returns how many.
    fn skip_payload(&mut self, remaining: u32, len: u32, available: usize) -> usize {
        let take = remaining.min(u32::try_from(available).unwrap_or(u32::MAX));
        self.offset += u64::from(take);
        let remaining = remaining - take;
        self.state = State::Skip { remaining, len };
        if remaining == 0 {
            self.skipped += 1;
            self.frame_index += 1;
            self.state = State::Header;
        }
        take as usize
    }

    /// Records `kind` as the terminal error (FC-19): the only way `step` fails but in `Finished`.
    pub(super) fn fail_step(&mut self, kind: DecodeErrorKind) -> Failed {
        self.fail(kind);
        Failed
    }

    /// The error a failed [`step`](Decoder::step) left: the terminal one (FC-19), or input after
    /// [`finish`](Decoder::finish), which is the caller's slip and leaves the state as it is.
    #[cold]
    pub(super) fn step_error(&self) -> DecodeError {
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

    pub(super) fn push_header_byte(&mut self, byte: u8) {
        self.header[usize::from(self.header_len)] = byte;
        self.header_len += 1;
        self.offset += 1;
    }

    pub(super) fn header_size(&self) -> usize {
        match self.profile {
            Some(Profile::Typed) => wire::TYPED_HEADER_LEN,
            _ => wire::LEGACY_HEADER_LEN,
        }
    }

    /// FC-6 then FC-8, right after the type byte.
    pub(super) fn check_type_byte(&mut self, frame_type: u8) -> Result<(), Failed> {
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
    pub(super) fn header_fields(&self) -> (Option<u8>, u32) {
        match self.profile {
            Some(Profile::Typed) => (Some(self.header[0]), be_u32(&self.header, 1)),
            _ => (None, be_u32(&self.header, 0)),
        }
    }

    /// The header is whole: FC-14/FC-15, then FC-7 (§6.2). `true`: it was an empty legacy frame,
    /// complete at once.
    pub(super) fn header_complete(
        &mut self,
        frame_type: Option<u8>,
        declared: u32,
    ) -> Result<bool, Failed> {
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
    pub(super) fn append_payload(&mut self, bytes: &[u8], len: usize) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            self.grow_buf_to(needed, len);
        }
        // Room is made above, so appending never grows the buffer.
        self.buf.append(bytes);
        self.offset += bytes.len() as u64;
    }

    /// The rare half of `append_payload`, kept out of the inlined fast paths.
    pub(super) fn grow_buf_to(&mut self, needed: usize, len: usize) {
        let target = needed.max(self.buf.capacity() * 2).min(len);
        self.buf.reserve_exact(target - self.buf.len());
    }
}

/// Makes `kind`, detected at `offset` in frame `frame_index`, the terminal error (FC-19). A free
/// function over the fields it needs, so `decode` can record an error about a frame that still
/// borrows `buf`; everywhere else, [`Decoder::fail`].
pub(super) fn record_failure(
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
