//! Structure-aware fuzzing support: [`arbitrary::Arbitrary`] for the codec's types.
//!
//! **Not a public API.** This module exists only behind the private feature `arbitrary`, for the
//! targets in `fuzz/` and the replay tests in `tests/fuzz_regressions.rs`. It is hidden from the
//! docs, it may change in any release, and embedders must not enable the feature.
//!
//! Two families of generators:
//!
//! - `Arbitrary` for [`Frame<String>`], [`Profile`], [`Role`], [`Limits`], [`UnixMicros`] and
//!   [`ErrorCode`]: any value of the type. A `Limits` is always valid (§6.1); a `Frame` is any
//!   variant, with no regard to profile, direction or limit.
//! - [`valid_frame`] and [`ValidStream`]: only frames that an [`Encoder`](crate::Encoder) of the
//!   chosen profile and role accepts (FC-24), with payloads within the limit the receiving side
//!   applies (FC-14, FC-15), so an encode → decode round trip must give them back unchanged.

use alloc::string::String;
use alloc::vec::Vec;

use arbitrary::{Arbitrary, Result, Unstructured};

use super::{build, kind_at, kinds, text_budget, total_weight, Fields};
use crate::{AuthScheme, ErrorCode, Frame, Limits, Profile, Role, UnixMicros};

/// Texts that fill their bound exactly are generated only up to this many bytes, to keep one
/// fuzz input cheap while still hitting the limit's edge for the small limits the fuzzer picks.
const MAX_FILLED_TEXT: usize = 1 << 16;

impl<'a> Arbitrary<'a> for Profile {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if bool::arbitrary(u)? {
            Profile::Typed
        } else {
            Profile::Legacy
        })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(1))
    }
}

impl<'a> Arbitrary<'a> for Role {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(if bool::arbitrary(u)? {
            Role::Server
        } else {
            Role::Client
        })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(1))
    }
}

impl<'a> Arbitrary<'a> for Limits {
    /// Always a valid limit (§6.1), biased towards small ones so that frames reach it.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let max_frame_len = match u8::arbitrary(u)? % 8 {
            0 => Limits::DEFAULT_MAX_FRAME_LEN,
            1 => Limits::MAX_FRAME_LEN,
            2 => Limits::MIN_FRAME_LEN,
            3 => u.int_in_range(Limits::MIN_FRAME_LEN..=Limits::MAX_FRAME_LEN)?,
            _ => u.int_in_range(Limits::MIN_FRAME_LEN..=1024)?,
        };
        Ok(Limits::new(max_frame_len).unwrap_or_default())
    }
}

impl<'a> Arbitrary<'a> for UnixMicros {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(UnixMicros(u64::arbitrary(u)?))
    }

    fn size_hint(depth: usize) -> (usize, Option<usize>) {
        u64::size_hint(depth)
    }
}

impl<'a> Arbitrary<'a> for ErrorCode {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(ErrorCode(u16::arbitrary(u)?))
    }

    fn size_hint(depth: usize) -> (usize, Option<usize>) {
        u16::size_hint(depth)
    }
}

impl<'a> Arbitrary<'a> for Frame<String> {
    /// Any variant with any fields: not necessarily valid for a given stream (see [`valid_frame`]).
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0u8..=8)? {
            0 => Frame::Text(String::arbitrary(u)?),
            1 => Frame::Welcome {
                peer_id: u64::arbitrary(u)?,
                max_frame_len: u32::arbitrary(u)?,
            },
            2 => Frame::Chat {
                sent_at: UnixMicros::arbitrary(u)?,
                text: String::arbitrary(u)?,
            },
            3 => Frame::Echo {
                sent_at: UnixMicros::arbitrary(u)?,
                relayed_at: UnixMicros::arbitrary(u)?,
                text: String::arbitrary(u)?,
            },
            4 => Frame::Broadcast {
                from: u64::arbitrary(u)?,
                sent_at: UnixMicros::arbitrary(u)?,
                relayed_at: UnixMicros::arbitrary(u)?,
                text: String::arbitrary(u)?,
            },
            5 => Frame::Ping {
                nonce: u64::arbitrary(u)?,
            },
            6 => Frame::Pong {
                nonce: u64::arbitrary(u)?,
            },
            7 => Frame::Auth {
                scheme: AuthScheme(u8::arbitrary(u)?),
                token: String::arbitrary(u)?,
            },
            _ => Frame::Error {
                code: ErrorCode::arbitrary(u)?,
                reason: String::arbitrary(u)?,
            },
        })
    }
}

/// A text of at most `max_len` bytes: usually whatever the input spells (cut at a character
/// boundary), sometimes one character repeated to fill the bound as closely as it can.
fn text_within(u: &mut Unstructured<'_>, max_len: usize) -> Result<String> {
    if u.ratio(1u8, 8u8)? {
        let fill = char::arbitrary(u)?;
        let count = max_len.min(MAX_FILLED_TEXT) / fill.len_utf8();
        return Ok(core::iter::repeat_n(fill, count).collect());
    }
    let mut text = String::arbitrary(u)?;
    let mut end = text.len().min(max_len);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    Ok(text)
}

/// A frame that an encoder of `profile` on the `sender` side with `limits` accepts (FC-24), and the
/// receiving side's decoder therefore accepts too (FC-15 is applied by both).
pub fn valid_frame(
    u: &mut Unstructured<'_>,
    profile: Profile,
    sender: Role,
    limits: Limits,
) -> Result<Frame<String>> {
    let kinds = kinds(profile, sender);
    let kind = match kinds {
        [(only, _)] => *only,
        _ => kind_at(kinds, u.int_in_range(0..=total_weight(kinds) - 1)?),
    };
    build(kind, text_budget(sender, limits, kind), u)
}

impl Fields for Unstructured<'_> {
    type Error = arbitrary::Error;

    fn u64(&mut self) -> Result<u64> {
        u64::arbitrary(self)
    }

    fn u8(&mut self) -> Result<u8> {
        u8::arbitrary(self)
    }

    fn u32(&mut self) -> Result<u32> {
        u32::arbitrary(self)
    }

    fn u16(&mut self) -> Result<u16> {
        u16::arbitrary(self)
    }

    fn micros(&mut self) -> Result<UnixMicros> {
        UnixMicros::arbitrary(self)
    }

    fn text(&mut self, max_len: usize) -> Result<String> {
        text_within(self, max_len)
    }
}

/// One direction of a connection: who sends, in which profile, under which limit, and frames that
/// are all valid for it ([`valid_frame`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidStream {
    /// The connection's profile.
    pub profile: Profile,
    /// The sending side.
    pub sender: Role,
    /// The limit both sides are configured with.
    pub limits: Limits,
    /// The frames, in sending order.
    pub frames: Vec<Frame<String>>,
}

impl<'a> Arbitrary<'a> for ValidStream {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let profile = Profile::arbitrary(u)?;
        let sender = Role::arbitrary(u)?;
        let limits = Limits::arbitrary(u)?;
        let mut frames = Vec::new();
        while !u.is_empty() && bool::arbitrary(u)? {
            frames.push(valid_frame(u, profile, sender, limits)?);
        }
        Ok(ValidStream {
            profile,
            sender,
            limits,
            frames,
        })
    }
}
