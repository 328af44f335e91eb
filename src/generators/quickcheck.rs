//! The quickcheck `Arbitrary` newtypes over the module's description of a valid frame.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;

use ::quickcheck::{Arbitrary, Gen};

use super::{build, kind_at, kinds, text_within, total_weight, Fields, TEXT_LEN_FOR_ANY_LIMIT};
use crate::{ErrorCode, Frame, Profile, Role, UnixMicros};

impl Fields for Gen {
    type Error = Infallible;

    fn u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::arbitrary(self))
    }

    fn u8(&mut self) -> Result<u8, Infallible> {
        Ok(u8::arbitrary(self))
    }

    fn u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::arbitrary(self))
    }

    fn u16(&mut self) -> Result<u16, Infallible> {
        Ok(u16::arbitrary(self))
    }

    fn micros(&mut self) -> Result<UnixMicros, Infallible> {
        Ok(UnixMicros(u64::arbitrary(self)))
    }

    /// Its length scaled by the `Gen`'s size.
    fn text(&mut self, max_len: usize) -> Result<String, Infallible> {
        let len = usize::arbitrary(self) % (self.size().max(1));
        Ok(text_within(
            (0..len).map(|_| char::arbitrary(self)),
            max_len,
        ))
    }
}

/// A frame `sender` may send on a `profile` stream, its text within [`TEXT_LEN_FOR_ANY_LIMIT`]
/// bytes so that it fits every limit.
fn any_frame(g: &mut Gen, profile: Profile, sender: Role) -> Frame<String> {
    let kinds = kinds(profile, sender);
    let kind = kind_at(kinds, u8::arbitrary(g) % total_weight(kinds));
    match build(kind, TEXT_LEN_FOR_ANY_LIMIT, g) {
        Ok(frame) => frame,
        Err(never) => match never {},
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
