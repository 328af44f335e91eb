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

use alloc::string::String;
#[cfg(feature = "proptest")]
use alloc::vec::Vec;

use crate::wire::frame_type;
use crate::{ErrorCode, Frame, UnixMicros};
use crate::{Limits, Profile, Role};

#[cfg(feature = "__fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

/// The largest text that fits any valid limit in every frame: `MIN_FRAME_LEN − 24` (FC-15).
pub const TEXT_LEN_FOR_ANY_LIMIT: usize =
    (Limits::MIN_FRAME_LEN - crate::wire::RELAY_HEADROOM) as usize;

/// Keeps the longest prefix of `chars` that fits in `max_len` bytes.
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

#[cfg(feature = "proptest")]
pub use self::strategies::{frame, frames, text};

#[cfg(feature = "proptest")]
mod strategies {
    use super::*;
    use crate::codec::limits::inbound_limit;
    use proptest::collection::SizeRange;
    use proptest::prelude::*;

    /// The most text bytes a frame of `frame_type` (`None`: legacy) from `sender` may carry under
    /// `limits`, once its fixed fields are counted (§4.3, FC-15).
    fn text_budget(sender: Role, limits: Limits, frame_type: Option<u8>) -> usize {
        let fixed = match frame_type {
            None => 0,
            Some(frame_type::CHAT) => 8,
            Some(frame_type::ECHO) => 16,
            Some(frame_type::BROADCAST) => 24,
            Some(frame_type::ERROR) => 2,
            Some(_) => 0,
        };
        inbound_limit(sender.peer(), limits, frame_type) as usize - fixed
    }

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
        let chars = proptest::collection::vec(any::<char>(), 0..32)
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
        let budget = move |frame_type| text_budget(sender, limits, frame_type);
        let error =
            (any::<u16>(), text(budget(Some(frame_type::ERROR)))).prop_map(|(code, reason)| {
                Frame::Error {
                    code: ErrorCode(code),
                    reason,
                }
            });
        let ping = any::<u64>().prop_map(|nonce| Frame::Ping { nonce });
        let pong = any::<u64>().prop_map(|nonce| Frame::Pong { nonce });
        match (profile, sender) {
            (Profile::Legacy, _) => text(budget(None)).prop_map(Frame::Text).boxed(),
            (Profile::Typed, Role::Client) => prop_oneof![
                3 => (micros(), text(budget(Some(frame_type::CHAT))))
                    .prop_map(|(sent_at, text)| Frame::Chat { sent_at, text }),
                1 => ping,
                1 => pong,
                1 => error,
            ]
            .boxed(),
            (Profile::Typed, Role::Server) => prop_oneof![
                1 => (any::<u64>(), any::<u32>()).prop_map(|(peer_id, max_frame_len)| {
                    Frame::Welcome { peer_id, max_frame_len }
                }),
                2 => (micros(), micros(), text(budget(Some(frame_type::ECHO)))).prop_map(
                    |(sent_at, relayed_at, text)| Frame::Echo { sent_at, relayed_at, text }
                ),
                2 => (any::<u64>(), micros(), micros(), text(budget(Some(frame_type::BROADCAST))))
                    .prop_map(|(from, sent_at, relayed_at, text)| Frame::Broadcast {
                        from,
                        sent_at,
                        relayed_at,
                        text,
                    }),
                1 => ping,
                1 => pong,
                1 => error,
            ]
            .boxed(),
        }
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
        proptest::collection::vec(frame(profile, sender, limits), len).boxed()
    }
}

#[cfg(feature = "quickcheck")]
pub use self::arbitrary::{
    ClientLegacyFrame, ClientTypedFrame, ServerLegacyFrame, ServerTypedFrame,
};

#[cfg(feature = "quickcheck")]
mod arbitrary {
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    use quickcheck::{Arbitrary, Gen};

    use super::*;

    /// A text of at most [`TEXT_LEN_FOR_ANY_LIMIT`] bytes, its length scaled by the `Gen`'s size.
    fn any_text(g: &mut Gen) -> String {
        let len = usize::arbitrary(g) % (g.size().max(1));
        text_within((0..len).map(|_| char::arbitrary(g)), TEXT_LEN_FOR_ANY_LIMIT)
    }

    fn any_frame(g: &mut Gen, profile: Profile, sender: Role) -> Frame<String> {
        let micros = |g: &mut Gen| UnixMicros(u64::arbitrary(g));
        let choices: &[u8] = match (profile, sender) {
            (Profile::Legacy, _) => return Frame::Text(any_text(g)),
            (Profile::Typed, Role::Client) => &[
                frame_type::CHAT,
                frame_type::PING,
                frame_type::PONG,
                frame_type::ERROR,
            ],
            (Profile::Typed, Role::Server) => &[
                frame_type::WELCOME,
                frame_type::ECHO,
                frame_type::BROADCAST,
                frame_type::PING,
                frame_type::PONG,
                frame_type::ERROR,
            ],
        };
        match *g.choose(choices).expect("a non-empty list of types") {
            frame_type::WELCOME => Frame::Welcome {
                peer_id: u64::arbitrary(g),
                max_frame_len: u32::arbitrary(g),
            },
            frame_type::CHAT => Frame::Chat {
                sent_at: micros(g),
                text: any_text(g),
            },
            frame_type::ECHO => Frame::Echo {
                sent_at: micros(g),
                relayed_at: micros(g),
                text: any_text(g),
            },
            frame_type::BROADCAST => Frame::Broadcast {
                from: u64::arbitrary(g),
                sent_at: micros(g),
                relayed_at: micros(g),
                text: any_text(g),
            },
            frame_type::PING => Frame::Ping {
                nonce: u64::arbitrary(g),
            },
            frame_type::PONG => Frame::Pong {
                nonce: u64::arbitrary(g),
            },
            _ => Frame::Error {
                code: ErrorCode(u16::arbitrary(g)),
                reason: any_text(g),
            },
        }
    }

    /// Smaller frames of the same type: shorter texts, then smaller numbers.
    fn shrink_frame(frame: &Frame<String>) -> Box<dyn Iterator<Item = Frame<String>>> {
        let mut smaller: Vec<Frame<String>> = Vec::new();
        if let Some(text) = frame.text() {
            let text = String::from(text);
            let frame = frame.clone();
            smaller.extend(
                text.shrink()
                    .map(move |shorter| frame.clone().map_text(|_| shorter)),
            );
        }
        let numbers: Option<Frame<String>> = match frame {
            Frame::Welcome {
                peer_id,
                max_frame_len,
            } if *peer_id != 0 || *max_frame_len != 0 => Some(Frame::Welcome {
                peer_id: 0,
                max_frame_len: 0,
            }),
            Frame::Ping { nonce } if *nonce != 0 => Some(Frame::Ping { nonce: nonce / 2 }),
            Frame::Pong { nonce } if *nonce != 0 => Some(Frame::Pong { nonce: nonce / 2 }),
            Frame::Error { code, reason } if code.0 != 0 => Some(Frame::Error {
                code: ErrorCode(code.0 / 2),
                reason: reason.clone(),
            }),
            _ => None,
        };
        smaller.extend(numbers);
        Box::new(smaller.into_iter())
    }

    macro_rules! arbitrary_frame {
        ($(#[$doc:meta])* $name:ident, $profile:expr, $sender:expr) => {
            $(#[$doc])*
            #[derive(Clone, Debug, PartialEq, Eq)]
            pub struct $name(pub Frame<String>);

            impl $name {
                /// The profile of the stream these frames are sent on.
                pub const PROFILE: Profile = $profile;
                /// The side that sends them.
                pub const SENDER: Role = $sender;
            }

            impl Arbitrary for $name {
                fn arbitrary(g: &mut Gen) -> Self {
                    $name(any_frame(g, Self::PROFILE, Self::SENDER))
                }

                fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
                    Box::new(shrink_frame(&self.0).map($name))
                }
            }
        };
    }

    arbitrary_frame!(
        /// A legacy frame a client sends (§3.1), fitting every valid limit.
        ///
        /// ```
        /// use framechat::generators::ClientLegacyFrame;
        /// use framechat::{Decoder, Encoder, Limits, Profile};
        ///
        /// fn roundtrip(frame: ClientLegacyFrame) -> bool {
        ///     let limits = Limits::new(64).expect("the smallest limit");
        ///     let mut wire = Vec::new();
        ///     Encoder::client(Profile::Legacy, limits).encode(frame.0.as_ref(), &mut wire).is_ok()
        ///         && Decoder::server(Profile::Legacy, limits)
        ///             .decode(&wire)
        ///             .is_ok_and(|decoded| decoded.frame == Some(frame.0.as_ref()))
        /// }
        /// quickcheck::quickcheck(roundtrip as fn(ClientLegacyFrame) -> bool);
        /// ```
        ClientLegacyFrame,
        Profile::Legacy,
        Role::Client
    );
    arbitrary_frame!(
        /// A legacy frame a server sends (§3.1), fitting every valid limit.
        ///
        /// ```
        /// use framechat::generators::ServerLegacyFrame;
        /// use framechat::Frame;
        /// use quickcheck::{Arbitrary, Gen};
        ///
        /// let frame = ServerLegacyFrame::arbitrary(&mut Gen::new(100));
        /// assert!(matches!(frame.0, Frame::Text(ref text) if text.len() <= 40));
        /// ```
        ServerLegacyFrame,
        Profile::Legacy,
        Role::Server
    );
    arbitrary_frame!(
        /// A typed frame a client sends: CHAT, PING, PONG or ERROR (§4.3), fitting every valid
        /// limit.
        ///
        /// ```
        /// use framechat::generators::ClientTypedFrame;
        /// use framechat::{Decoder, Encoder, Limits, Profile};
        ///
        /// fn roundtrip(frames: Vec<ClientTypedFrame>) -> bool {
        ///     let mut encoder = Encoder::client(Profile::Typed, Limits::default());
        ///     let mut wire = Vec::new();
        ///     for frame in &frames {
        ///         encoder.encode(frame.0.as_ref(), &mut wire).expect("valid by construction");
        ///     }
        ///     let mut decoder = Decoder::server(Profile::Typed, Limits::default());
        ///     let mut decoded = Vec::new();
        ///     decoder.decode_each(&wire, |f| decoded.push(f.into_owned())).expect("valid");
        ///     decoded == frames.into_iter().map(|f| f.0).collect::<Vec<_>>()
        /// }
        /// quickcheck::quickcheck(roundtrip as fn(Vec<ClientTypedFrame>) -> bool);
        /// ```
        ClientTypedFrame,
        Profile::Typed,
        Role::Client
    );
    arbitrary_frame!(
        /// A typed frame a server sends: WELCOME, ECHO, BROADCAST, PING, PONG or ERROR (§4.3),
        /// fitting every valid limit.
        ///
        /// ```
        /// use framechat::generators::ServerTypedFrame;
        /// use framechat::{Encoder, Limits, Profile};
        ///
        /// fn accepted(frame: ServerTypedFrame) -> bool {
        ///     let limits = Limits::new(64).expect("the smallest limit");
        ///     let mut encoder = Encoder::server(ServerTypedFrame::PROFILE, limits);
        ///     encoder.encode(frame.0.as_ref(), &mut Vec::new()).is_ok()
        /// }
        /// quickcheck::quickcheck(accepted as fn(ServerTypedFrame) -> bool);
        /// ```
        ServerTypedFrame,
        Profile::Typed,
        Role::Server
    );
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

    #[cfg(feature = "proptest")]
    #[test]
    fn proptest_frames_are_accepted_by_the_encoder_and_decode_back_identical() {
        use proptest::strategy::{Strategy, ValueTree};
        use proptest::test_runner::TestRunner;

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
        use proptest::strategy::{Strategy, ValueTree};
        use proptest::test_runner::TestRunner;

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
        use quickcheck::{Arbitrary, Gen};

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
