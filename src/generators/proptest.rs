//! The proptest strategies over the module's description of a valid frame.

use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;

use ::proptest::collection::SizeRange;
use ::proptest::prelude::*;
use ::proptest::strategy::Union;

use super::{build, kinds, text_budget, text_within, Fields, Kind};
use crate::{AuthScheme, Frame, Limits, Profile, Role, UnixMicros};

/// Texts of at most `max_len` bytes: any Unicode scalar values, often empty, and sometimes
/// exactly `max_len` bytes long (when that is at most 64 KiB, to keep cases cheap).
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let mut runner = TestRunner::deterministic();
/// for _ in 0..100 {
///     let text = framechat::generators::text(10).new_tree(&mut runner).unwrap().current();
///     assert!(text.len() <= 10);
/// }
/// ```
pub fn text(max_len: usize) -> BoxedStrategy<String> {
    let chars = ::proptest::collection::vec(any::<char>(), 0..32)
        .prop_map(move |chars| text_within(chars, max_len));
    if max_len <= 64 * 1024 {
        prop_oneof![
            6 => chars,
            1 => Just(String::new()),
            1 => Just("x".repeat(max_len)),
        ]
        .boxed()
    } else {
        prop_oneof![6 => chars, 1 => Just(String::new())].boxed()
    }
}

fn micros() -> impl Strategy<Value = UnixMicros> {
    prop_oneof![Just(0), Just(u64::MAX), any::<u64>()].prop_map(UnixMicros)
}

/// Values for every field a frame may have, drawn (and shrunk) by proptest up front; [`build`]
/// takes those its kind needs, in order.
#[derive(Clone, Debug)]
struct Drawn {
    numbers: [u64; 3],
    micros: [UnixMicros; 2],
    max_frame_len: u32,
    code: u16,
    scheme: u8,
    text: String,
    numbers_taken: usize,
    micros_taken: usize,
}

impl Fields for Drawn {
    type Error = Infallible;

    fn u64(&mut self) -> Result<u64, Infallible> {
        let value = self.numbers[self.numbers_taken % self.numbers.len()];
        self.numbers_taken += 1;
        Ok(value)
    }

    fn u8(&mut self) -> Result<u8, Infallible> {
        Ok(self.scheme)
    }

    fn u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.max_frame_len)
    }

    fn u16(&mut self) -> Result<u16, Infallible> {
        Ok(self.code)
    }

    fn micros(&mut self) -> Result<UnixMicros, Infallible> {
        let value = self.micros[self.micros_taken % self.micros.len()];
        self.micros_taken += 1;
        Ok(value)
    }

    fn text(&mut self, _max_len: usize) -> Result<String, Infallible> {
        // Drawn within the kind's budget already, by `kind_strategy`.
        Ok(core::mem::take(&mut self.text))
    }
}

/// The frames of one kind.
fn kind_strategy(kind: Kind, max_text: usize) -> BoxedStrategy<Frame<String>> {
    let numbers = any::<[u64; 3]>();
    let stamps = [micros(), micros()];
    let scheme = prop_oneof![3 => Just(AuthScheme::BEARER.0), 1 => any::<u8>()];
    (
        numbers,
        stamps,
        any::<u32>(),
        any::<u16>(),
        scheme,
        text(max_text),
    )
        .prop_map(
            move |(numbers, micros, max_frame_len, code, scheme, text)| {
                let mut drawn = Drawn {
                    numbers,
                    micros,
                    max_frame_len,
                    code,
                    scheme,
                    text,
                    numbers_taken: 0,
                    micros_taken: 0,
                };
                match build(kind, max_text, &mut drawn) {
                    Ok(frame) => frame,
                    Err(never) => match never {},
                }
            },
        )
        .boxed()
}

/// Frames that `sender` may send on a `profile` stream, within the limit its receiver applies
/// under `limits` (FC-15): every frame type of the profile that travels that way.
///
/// ```
/// use framechat::{generators, Decoder, Encoder, Limits, Profile, Role};
/// use proptest::prelude::*;
///
/// proptest!(|(frame in generators::frame(Profile::Typed, Role::Client, Limits::default()))| {
///     let mut wire = Vec::new();
///     Encoder::client(Profile::Typed, Limits::default()).encode(frame.as_ref(), &mut wire)?;
///     let mut decoder = Decoder::server(Profile::Typed, Limits::default());
///     let decoded = decoder.decode(&wire)?;
///     prop_assert_eq!(decoded.frame.map(|f| f.into_owned()), Some(frame));
/// });
/// ```
pub fn frame(profile: Profile, sender: Role, limits: Limits) -> BoxedStrategy<Frame<String>> {
    let choices = kinds(profile, sender).iter().map(|&(kind, weight)| {
        let max_text = text_budget(sender, limits, kind);
        (u32::from(weight), kind_strategy(kind, max_text))
    });
    Union::new_weighted(choices.collect::<Vec<_>>()).boxed()
}

/// Sequences of [`frame`]s, as one sender writes them on one stream.
///
/// ```
/// use framechat::{generators, Encoder, Limits, Profile, Role};
/// use proptest::prelude::*;
///
/// let limits = Limits::new(64)?;
/// proptest!(|(frames in generators::frames(Profile::Legacy, Role::Client, limits, 0..8))| {
///     let mut encoder = Encoder::client(Profile::Legacy, limits);
///     let mut wire = Vec::new();
///     for frame in &frames {
///         encoder.encode(frame.as_ref(), &mut wire)?; // never refused
///     }
/// });
/// # Ok::<(), framechat::ConfigError>(())
/// ```
pub fn frames(
    profile: Profile,
    sender: Role,
    limits: Limits,
    len: impl Into<SizeRange>,
) -> BoxedStrategy<Vec<Frame<String>>> {
    ::proptest::collection::vec(frame(profile, sender, limits), len).boxed()
}
