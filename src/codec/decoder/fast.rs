//! The fast paths [`Decoder::decode`] inlines: each handles one common case completely or changes
//! nothing and leaves it to the state machine.

use super::machine::State;
use super::payload::{be_u32, parse_payload, parse_typed};
use super::{Decoded, Decoder, RETAINED_BUFFER};
use crate::codec::error::DecodeError;
use crate::codec::frame::Frame;
use crate::codec::limits::inbound_limit;
use crate::codec::utf8::{self, TextBuf};
use crate::codec::wire::{self, TypeRule};
use crate::codec::Profile;

impl Decoder {
    /// The fast path of [`decode`](Decoder::decode), inlined with it: between frames, a whole valid
    /// frame at the start of `input` is parsed in place and returned borrowed from it, with one
    /// look at the state and the header read straight from the input.
    ///
    /// It changes nothing and returns `None` for anything else (a cut frame, any violation, a frame
    /// to skip, the preface, the other states), which [`step`](Decoder::step) then handles: every
    /// error, with its detection offset, comes from `step` or from the parse of what it completed.
    #[inline(always)]
    pub(super) fn whole_frame<'a>(&mut self, input: &'a [u8]) -> Option<Decoded<'a>> {
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
    pub(super) fn gather_payload(&mut self, input: &[u8]) -> bool {
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
    pub(super) fn gather_header(&mut self, input: &[u8]) -> bool {
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
    pub(super) fn release_returned_frame(&mut self) {
        self.buf_returned = false;
        self.buf.clear();
        if self.buf.capacity() > RETAINED_BUFFER {
            self.buf = TextBuf::default();
        }
    }

    /// A payload borrowed from the input is complete and the state is back at `Header`: parse it.
    #[inline(always)]
    pub(super) fn parse_borrowed<'p>(
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
}
