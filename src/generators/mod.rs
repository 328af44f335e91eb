//! Generators of valid frames for your own property tests (features `proptest` and `quickcheck`).
//!
//! Every frame generated here is one its sender may send (§4.3's direction column) on a stream of
//! its profile, and fits the limit its receiver applies (§6.1, FC-15): an [`Encoder`](crate::Encoder)
//! of that sender accepts it, and a [`Decoder`](crate::Decoder) of the receiver decodes it back
//! identical. Texts are any Unicode, empty included.
//!
//! - With `proptest`: the strategies `text`, `frame` and `frames`, parameterised by profile,
//!   sender and limit.
//! - With `quickcheck`: one `Arbitrary` newtype per profile and sender (`ClientLegacyFrame`,
//!   `ServerLegacyFrame`, `ClientTypedFrame`, `ServerTypedFrame`). `Arbitrary` takes no
//!   parameters, so their texts stay within [`TEXT_LEN_FOR_ANY_LIMIT`] (40) bytes: they fit every
//!   limit [`Limits::new`] accepts.
//!
//! Both, and the private fuzzing support, draw from one description of a valid frame (this
//! module's private `kinds`, `text_budget` and `build`); each only says where the values come from.

use alloc::string::String;

use crate::wire::frame_type;
use crate::{AuthScheme, ErrorCode, Frame, Limits, Profile, Role, UnixMicros};

#[cfg(feature = "__fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "proptest")]
mod proptest;
#[cfg(feature = "quickcheck")]
mod quickcheck;

#[cfg(feature = "proptest")]
pub use self::proptest::{frame, frames, text};
#[cfg(feature = "quickcheck")]
pub use self::quickcheck::{
    ClientLegacyFrame, ClientTypedFrame, ServerLegacyFrame, ServerTypedFrame,
};

/// The largest text that fits any valid limit in every frame: `MIN_FRAME_LEN − 24` (FC-15).
pub const TEXT_LEN_FOR_ANY_LIMIT: usize =
    (Limits::MIN_FRAME_LEN - crate::wire::RELAY_HEADROOM) as usize;

/// A kind of frame: `None` for a legacy text, otherwise a typed frame's type byte.
type Kind = Option<u8>;

/// The frames `sender` may send on a `profile` stream (§4.3's direction column), each with its
/// weight in a random choice. A typed client's weights add up to 7, a typed server's to 6.
fn kinds(profile: Profile, sender: Role) -> &'static [(Kind, u8)] {
    use frame_type::{AUTH, BROADCAST, CHAT, ECHO, ERROR, PING, PONG, WELCOME};
    match (profile, sender) {
        (Profile::Legacy, _) => &[(None, 1)],
        (Profile::Typed, Role::Client) => &[
            (Some(PING), 1),
            (Some(PONG), 1),
            (Some(ERROR), 1),
            (Some(CHAT), 3),
            (Some(AUTH), 1),
        ],
        (Profile::Typed, Role::Server) => &[
            (Some(PING), 1),
            (Some(PONG), 1),
            (Some(ERROR), 1),
            (Some(WELCOME), 1),
            (Some(ECHO), 1),
            (Some(BROADCAST), 1),
        ],
    }
}

#[cfg(any(feature = "quickcheck", feature = "__fuzzing"))]
/// The kind that a draw in `0..total weight` of [`kinds`] stands for.
fn kind_at(kinds: &[(Kind, u8)], mut draw: u8) -> Kind {
    for &(kind, weight) in kinds {
        if draw < weight {
            return kind;
        }
        draw -= weight;
    }
    kinds.last().and_then(|&(kind, _)| kind)
}

#[cfg(any(feature = "quickcheck", feature = "__fuzzing"))]
/// The sum of [`kinds`]' weights.
fn total_weight(kinds: &[(Kind, u8)]) -> u8 {
    kinds.iter().map(|&(_, weight)| weight).sum()
}

#[cfg(any(feature = "proptest", feature = "__fuzzing"))]
/// The most text bytes a frame of `kind` from `sender` may carry under `limits`, once its fixed
/// fields are counted (§4.3, FC-15); an AUTH's token stays within its own maximum.
fn text_budget(sender: Role, limits: Limits, kind: Kind) -> usize {
    use crate::codec::limits::inbound_limit;
    use crate::wire::{fixed_len, MAX_TOKEN_LEN};
    let fixed = kind.and_then(fixed_len::of).unwrap_or(0);
    let budget = (inbound_limit(sender.peer(), limits, kind) - fixed) as usize;
    match kind {
        Some(frame_type::AUTH) => budget.min(MAX_TOKEN_LEN as usize),
        _ => budget,
    }
}

/// Where a generator's field values come from: a proptest value tree, a quickcheck `Gen`, a
/// fuzzer's bytes.
trait Fields {
    /// Why a value could not be drawn (the fuzzer's input ran out); never, for the others.
    type Error;
    fn u64(&mut self) -> Result<u64, Self::Error>;
    fn u8(&mut self) -> Result<u8, Self::Error>;
    fn u32(&mut self) -> Result<u32, Self::Error>;
    fn u16(&mut self) -> Result<u16, Self::Error>;
    fn micros(&mut self) -> Result<UnixMicros, Self::Error>;
    /// A text of at most `max_len` bytes.
    fn text(&mut self, max_len: usize) -> Result<String, Self::Error>;
}

/// The frame of `kind`, its fields drawn from `fields` in the order they are declared and its
/// text within `max_text` bytes. A type byte §4.3 does not define builds an ERROR.
fn build<F: Fields>(
    kind: Kind,
    max_text: usize,
    fields: &mut F,
) -> Result<Frame<String>, F::Error> {
    Ok(match kind {
        None => Frame::Text(fields.text(max_text)?),
        Some(frame_type::WELCOME) => Frame::Welcome {
            peer_id: fields.u64()?,
            max_frame_len: fields.u32()?,
        },
        Some(frame_type::CHAT) => Frame::Chat {
            sent_at: fields.micros()?,
            text: fields.text(max_text)?,
        },
        Some(frame_type::ECHO) => Frame::Echo {
            sent_at: fields.micros()?,
            relayed_at: fields.micros()?,
            text: fields.text(max_text)?,
        },
        Some(frame_type::BROADCAST) => Frame::Broadcast {
            from: fields.u64()?,
            sent_at: fields.micros()?,
            relayed_at: fields.micros()?,
            text: fields.text(max_text)?,
        },
        Some(frame_type::PING) => Frame::Ping {
            nonce: fields.u64()?,
        },
        Some(frame_type::PONG) => Frame::Pong {
            nonce: fields.u64()?,
        },
        Some(frame_type::AUTH) => Frame::Auth {
            scheme: AuthScheme(fields.u8()?),
            token: fields.text(max_text)?,
        },
        Some(_) => Frame::Error {
            code: ErrorCode(fields.u16()?),
            reason: fields.text(max_text)?,
        },
    })
}

/// Keeps the longest prefix of `chars` that fits in `max_len` bytes.
#[cfg(any(feature = "proptest", feature = "quickcheck"))]
fn text_within(chars: impl IntoIterator<Item = char>, max_len: usize) -> String {
    let mut text = String::new();
    for c in chars {
        if text.len() + c.len_utf8() > max_len {
            break;
        }
        text.push(c);
    }
    text
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;
    use crate::{Decoder, Encoder};

    /// Encodes `frames` as `sender` and decodes them as its peer, in one input and byte by byte;
    /// panics (naming the frame) if the encoder refuses one or the decoder gives back anything else.
    fn assert_roundtrip(profile: Profile, sender: Role, limits: Limits, frames: &[Frame<String>]) {
        let mut encoder = match sender {
            Role::Client => Encoder::client(profile, limits),
            Role::Server => Encoder::server(profile, limits),
        };
        let mut wire = Vec::new();
        for frame in frames {
            if let Err(error) = encoder.encode(frame.as_ref(), &mut wire) {
                panic!("the encoder refused a generated frame {frame:?}: {error}");
            }
        }
        let decoder = || match sender.peer() {
            Role::Client => Decoder::client(profile, limits),
            Role::Server => Decoder::server(profile, limits),
        };
        for chunk_len in [wire.len().max(1), 1] {
            let mut decoder = decoder();
            let mut decoded = Vec::new();
            for chunk in wire.chunks(chunk_len) {
                decoder
                    .decode_each(chunk, |frame| decoded.push(frame.into_owned()))
                    .expect("a generated stream decodes");
            }
            decoder.finish().expect("a generated stream ends cleanly");
            assert_eq!(decoded, frames, "chunks of {chunk_len}");
        }
    }

    const SENDERS: [(Profile, Role); 4] = [
        (Profile::Legacy, Role::Client),
        (Profile::Legacy, Role::Server),
        (Profile::Typed, Role::Client),
        (Profile::Typed, Role::Server),
    ];

    /// Every field zero, every text empty.
    struct Zeros;

    impl Fields for Zeros {
        type Error = core::convert::Infallible;
        fn u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0)
        }
        fn u8(&mut self) -> Result<u8, Self::Error> {
            Ok(0)
        }
        fn u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0)
        }
        fn u16(&mut self) -> Result<u16, Self::Error> {
            Ok(0)
        }
        fn micros(&mut self) -> Result<UnixMicros, Self::Error> {
            Ok(UnixMicros(0))
        }
        fn text(&mut self, _max_len: usize) -> Result<String, Self::Error> {
            Ok(String::new())
        }
    }

    #[test]
    fn each_sender_draws_exactly_the_typed_frames_its_encoder_accepts() {
        for sender in [Role::Client, Role::Server] {
            let drawn = kinds(Profile::Typed, sender);
            for frame_type in (frame_type::WELCOME..=frame_type::ERROR).chain([frame_type::AUTH]) {
                let Ok(frame) = build(Some(frame_type), 0, &mut Zeros);
                assert_eq!(frame.frame_type(), Some(frame_type));
                let mut encoder = match sender {
                    Role::Client => Encoder::client(Profile::Typed, Limits::default()),
                    Role::Server => Encoder::server(Profile::Typed, Limits::default()),
                };
                let accepted = encoder.encode(frame.as_ref(), &mut Vec::new()).is_ok();
                let listed = drawn.iter().any(|&(kind, _)| kind == Some(frame_type));
                assert_eq!(listed, accepted, "{sender:?} and type {frame_type:#x}");
            }
        }
        let Ok(legacy) = build(None, 0, &mut Zeros);
        assert_eq!(legacy, Frame::Text(String::new()));
    }

    #[cfg(any(feature = "quickcheck", feature = "__fuzzing"))]
    #[test]
    fn a_draw_picks_each_kind_as_often_as_its_weight() {
        for (profile, sender) in SENDERS {
            let kinds = kinds(profile, sender);
            for &(kind, weight) in kinds {
                let picked = (0..total_weight(kinds))
                    .filter(|&draw| kind_at(kinds, draw) == kind)
                    .count();
                assert_eq!(
                    picked,
                    usize::from(weight),
                    "{profile:?} {sender:?} {kind:?}"
                );
            }
        }
        assert_eq!(total_weight(kinds(Profile::Typed, Role::Client)), 7);
        assert_eq!(total_weight(kinds(Profile::Typed, Role::Server)), 6);
    }

    #[cfg(feature = "proptest")]
    #[test]
    fn proptest_frames_are_accepted_by_the_encoder_and_decode_back_identical() {
        use ::proptest::strategy::{Strategy, ValueTree};
        use ::proptest::test_runner::TestRunner;

        let mut runner = TestRunner::deterministic();
        let limits = [
            Limits::new(Limits::MIN_FRAME_LEN).expect("the smallest limit"),
            Limits::new(100).expect("a valid limit"),
            Limits::default(),
        ];
        for (profile, sender) in SENDERS {
            for limits in limits {
                let strategy = frames(profile, sender, limits, 0..8);
                for _ in 0..64 {
                    let frames = strategy
                        .new_tree(&mut runner)
                        .expect("the strategy never rejects")
                        .current();
                    assert_roundtrip(profile, sender, limits, &frames);
                }
            }
        }
    }

    #[cfg(feature = "proptest")]
    #[test]
    fn proptest_texts_reach_the_receivers_exact_limit() {
        use ::proptest::strategy::{Strategy, ValueTree};
        use ::proptest::test_runner::TestRunner;

        // FC-15 at the boundary: some legacy texts from a client are exactly L − 24 bytes.
        let limits = Limits::new(64).expect("the smallest limit");
        let strategy = frame(Profile::Legacy, Role::Client, limits);
        let mut runner = TestRunner::deterministic();
        let longest = (0..256)
            .map(|_| {
                strategy
                    .new_tree(&mut runner)
                    .expect("no rejection")
                    .current()
            })
            .filter_map(|frame| frame.text().map(str::len))
            .max();
        assert_eq!(longest, Some(40));
    }

    #[cfg(feature = "quickcheck")]
    #[test]
    fn quickcheck_frames_and_their_shrinks_are_accepted_and_decode_back_identical() {
        use ::quickcheck::{Arbitrary, Gen};

        let mut g = Gen::new(200);
        let smallest = Limits::new(Limits::MIN_FRAME_LEN).expect("the smallest limit");
        for _ in 0..256 {
            let cases: [(Profile, Role, Frame<String>); 4] = [
                (
                    Profile::Legacy,
                    Role::Client,
                    ClientLegacyFrame::arbitrary(&mut g).0,
                ),
                (
                    Profile::Legacy,
                    Role::Server,
                    ServerLegacyFrame::arbitrary(&mut g).0,
                ),
                (
                    Profile::Typed,
                    Role::Client,
                    ClientTypedFrame::arbitrary(&mut g).0,
                ),
                (
                    Profile::Typed,
                    Role::Server,
                    ServerTypedFrame::arbitrary(&mut g).0,
                ),
            ];
            for (profile, sender, frame) in cases {
                assert_roundtrip(profile, sender, smallest, core::slice::from_ref(&frame));
                assert_roundtrip(
                    profile,
                    sender,
                    Limits::default(),
                    core::slice::from_ref(&frame),
                );
            }
            let typed = ClientTypedFrame::arbitrary(&mut g);
            let shrunk: Vec<Frame<String>> = typed.shrink().take(32).map(|f| f.0).collect();
            assert!(shrunk
                .iter()
                .all(|f| f.frame_type() == typed.0.frame_type()));
            assert_roundtrip(Profile::Typed, Role::Client, smallest, &shrunk);
        }
    }
}
