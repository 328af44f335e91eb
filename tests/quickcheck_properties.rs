//! The roundtrip and differential properties again, with quickcheck as a second generator,
//! independent of proptest's (`tests/properties.rs`) and of the crate's own generators.
//!
//! With the `quickcheck` feature, one more property runs over the crate's `Arbitrary` newtypes
//! (`framechat::generators`). Test counts are `TESTS_*` below; `QUICKCHECK_TESTS` overrides them.

#[path = "../spec/reference.rs"]
mod reference;

use framechat::wire::PREFACE;
use framechat::{Encoder, ErrorCode, Frame, Limits, Profile, Role, UnixMicros};
use quickcheck::{Arbitrary, Gen, QuickCheck, Testable};
use reference::{decode_chunks, decode_whole, Mode, ReferenceConfig, ReferenceOutcome};

const TESTS_ROUNDTRIP: u64 = 1000;
const TESTS_SPLIT_INVARIANCE: u64 = 1000;
const TESTS_DIFFERENTIAL: u64 = 2000;

fn check<A: Testable>(tests: u64, property: A) {
    let tests = std::env::var("QUICKCHECK_TESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(tests);
    QuickCheck::new()
        .tests(tests)
        .max_tests(tests * 10)
        .quickcheck(property);
}

/// A number below `bound` (which must not be 0).
fn below(g: &mut Gen, bound: usize) -> usize {
    usize::arbitrary(g) % bound
}

fn pick<T: Copy>(g: &mut Gen, items: &[T]) -> T {
    *g.choose(items).expect("a non-empty list")
}

fn any_limits(g: &mut Gen) -> Limits {
    let l = match below(g, 4) {
        0 => Limits::MIN_FRAME_LEN,
        1 => Limits::MIN_FRAME_LEN + u32::from(u8::arbitrary(g)),
        2 => Limits::DEFAULT_MAX_FRAME_LEN,
        _ => Limits::MAX_FRAME_LEN,
    };
    Limits::new(l).expect("within MIN_FRAME_LEN..=MAX_FRAME_LEN")
}

/// A receiving configuration (detection only for a server, §5).
#[derive(Clone, Copy, Debug)]
struct AnyConfig(ReferenceConfig);

impl Arbitrary for AnyConfig {
    fn arbitrary(g: &mut Gen) -> Self {
        let (role, mode) = pick(
            g,
            &[
                (Role::Client, Mode::Legacy),
                (Role::Client, Mode::Typed),
                (Role::Server, Mode::Legacy),
                (Role::Server, Mode::Typed),
                (Role::Server, Mode::Detect),
            ],
        );
        AnyConfig(ReferenceConfig {
            role,
            mode,
            limits: any_limits(g),
        })
    }
}

/// Chunk sizes used in turn; 0 and 1 are frequent.
#[derive(Clone, Debug)]
struct Cuts(Vec<usize>);

impl Arbitrary for Cuts {
    fn arbitrary(g: &mut Gen) -> Self {
        let count = below(g, 16);
        Cuts(
            (0..count)
                .map(|_| match below(g, 10) {
                    0..=1 => 0,
                    2..=4 => 1,
                    5..=8 => 2 + below(g, 15),
                    _ => 17 + below(g, 4096),
                })
                .collect(),
        )
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(self.0.shrink().map(Cuts))
    }
}

impl Cuts {
    /// `input` cut by the sizes in turn (the rest whole if they make no progress).
    fn cut<'a>(&self, input: &'a [u8]) -> Vec<&'a [u8]> {
        if self.0.iter().all(|&size| size == 0) {
            let mut chunks: Vec<&[u8]> = self.0.iter().map(|_| &input[..0]).collect();
            chunks.push(input);
            return chunks;
        }
        let mut chunks = Vec::new();
        let mut at = 0;
        for &size in self.0.iter().cycle() {
            if at == input.len() {
                break;
            }
            let size = size.min(input.len() - at);
            chunks.push(&input[at..at + size]);
            at += size;
        }
        chunks
    }
}

/// FC-15: the most payload bytes a receiver in `receiver` accepts for `frame_type` (`None`: legacy).
fn receiver_limit(receiver: Role, limits: Limits, frame_type: Option<u8>) -> usize {
    let l = limits.max_frame_len() as usize;
    match (receiver, frame_type) {
        (Role::Server, None) => l - 24,
        (Role::Server, Some(0x81)) => l - 16,
        _ => l,
    }
}

/// Any text, cut to `budget` bytes at a character boundary.
fn text_within(g: &mut Gen, budget: usize) -> String {
    let mut text = String::new();
    for c in String::arbitrary(g).chars() {
        if text.len() + c.len_utf8() > budget {
            break;
        }
        text.push(c);
    }
    text
}

/// A frame `sender` may send in `profile`, within its receiver's limit.
fn valid_frame(g: &mut Gen, profile: Profile, sender: Role, limits: Limits) -> Frame<String> {
    let budget = |frame_type: u8, fixed: usize| {
        receiver_limit(sender.peer(), limits, Some(frame_type)) - fixed
    };
    let micros = |g: &mut Gen| {
        let any = u64::arbitrary(g);
        UnixMicros(pick(g, &[0, u64::MAX, any]))
    };
    let kinds: &[u8] = match (profile, sender) {
        (Profile::Legacy, _) => {
            let budget = receiver_limit(sender.peer(), limits, None);
            return Frame::Text(text_within(g, budget));
        }
        (Profile::Typed, Role::Client) => &[0x81, 0x81, 0x84, 0x85, 0x86],
        (Profile::Typed, Role::Server) => &[0x80, 0x82, 0x83, 0x84, 0x85, 0x86],
    };
    match pick(g, kinds) {
        0x80 => Frame::Welcome {
            peer_id: u64::arbitrary(g),
            max_frame_len: u32::arbitrary(g),
        },
        0x81 => Frame::Chat {
            sent_at: micros(g),
            text: text_within(g, budget(0x81, 8)),
        },
        0x82 => Frame::Echo {
            sent_at: micros(g),
            relayed_at: micros(g),
            text: text_within(g, budget(0x82, 16)),
        },
        0x83 => Frame::Broadcast {
            from: u64::arbitrary(g),
            sent_at: micros(g),
            relayed_at: micros(g),
            text: text_within(g, budget(0x83, 24)),
        },
        0x84 => Frame::Ping {
            nonce: u64::arbitrary(g),
        },
        0x85 => Frame::Pong {
            nonce: u64::arbitrary(g),
        },
        _ => Frame::Error {
            code: ErrorCode(u16::arbitrary(g)),
            reason: text_within(g, budget(0x86, 2)),
        },
    }
}

/// Frames one sender writes on one stream.
#[derive(Clone, Debug)]
struct ValidFrames {
    profile: Profile,
    sender: Role,
    limits: Limits,
    frames: Vec<Frame<String>>,
}

impl Arbitrary for ValidFrames {
    fn arbitrary(g: &mut Gen) -> Self {
        let profile = pick(g, &[Profile::Legacy, Profile::Typed]);
        let sender = pick(g, &[Role::Client, Role::Server]);
        let limits = any_limits(g);
        let count = below(g, 8);
        let frames = (0..count)
            .map(|_| valid_frame(g, profile, sender, limits))
            .collect();
        ValidFrames {
            profile,
            sender,
            limits,
            frames,
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        // Fewer frames: drop each one in turn.
        let this = self.clone();
        Box::new((0..self.frames.len()).map(move |skip| {
            let mut smaller = this.clone();
            smaller.frames.remove(skip);
            smaller
        }))
    }
}

fn u32_be(n: u32) -> [u8; 4] {
    n.to_be_bytes()
}

/// A piece of a near-valid stream.
fn piece(g: &mut Gen, l: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    match below(g, 12) {
        // A typed frame of a known type, any direction, fields well laid out.
        0..=3 => {
            let frame_type = 0x80 + below(g, 7) as u8;
            let fixed = match frame_type {
                0x80 => 12,
                0x81 | 0x84 | 0x85 => 8,
                0x82 => 16,
                0x83 => 24,
                _ => 2,
            };
            let mut payload: Vec<u8> = (0..fixed).map(|_| u8::arbitrary(g)).collect();
            if !matches!(frame_type, 0x80 | 0x84 | 0x85) {
                payload.extend(text_bytes(g));
            }
            bytes.push(frame_type);
            bytes.extend(u32_be(payload.len() as u32));
            bytes.extend(payload);
        }
        // A legacy frame.
        4..=6 => {
            let text = text_bytes(g);
            bytes.extend(u32_be(text.len() as u32));
            bytes.extend(text);
        }
        // A header on a boundary of §4.3 or §6.1, then a few payload bytes.
        7..=8 => {
            if bool::arbitrary(g) {
                bytes.push(pick(
                    g,
                    &[
                        0x00, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0xaf, 0xb0,
                        0xbf, 0xc0, 0xff,
                    ],
                ));
            }
            let any = u32::arbitrary(g);
            let length = pick(
                g,
                &[
                    0,
                    1,
                    2,
                    7,
                    8,
                    9,
                    12,
                    16,
                    24,
                    l - 24,
                    l - 23,
                    l - 16,
                    l - 15,
                    l,
                    l + 1,
                    0x8000_0000,
                    0xffff_ffff,
                    any,
                ],
            );
            bytes.extend(u32_be(length));
            let body = below(g, 40).min(length as usize);
            bytes.extend((0..body).map(|_| u8::arbitrary(g)));
        }
        // A skipped type.
        9 => {
            bytes.push(0x87 + below(g, 0xbf - 0x87 + 1) as u8);
            let body = below(g, 20);
            bytes.extend(u32_be(body as u32));
            bytes.extend((0..body).map(|_| u8::arbitrary(g)));
        }
        // The preface, or part of it.
        10 => bytes.extend_from_slice(&PREFACE[..1 + below(g, PREFACE.len())]),
        _ => bytes.extend(Vec::<u8>::arbitrary(g).into_iter().take(12)),
    }
    bytes
}

/// Text bytes: usually valid UTF-8, sometimes with an ill-formed sequence inside.
fn text_bytes(g: &mut Gen) -> Vec<u8> {
    let mut bytes = text_within(g, 48).into_bytes();
    if below(g, 3) == 0 {
        let bad: &[u8] = pick(
            g,
            &[
                &[0x80][..],
                &[0xc0, 0x80],
                &[0xe0, 0x9f, 0x80],
                &[0xed, 0xa0, 0x80],
                &[0xe2, 0x82],
                &[0xf4, 0x90, 0x80, 0x80],
                &[0xff],
            ],
        );
        let at = below(g, bytes.len() + 1);
        bytes.splice(at..at, bad.iter().copied());
    }
    bytes
}

/// A configuration and a stream biased towards what it nearly accepts.
#[derive(Clone, Debug)]
struct NearValid {
    config: ReferenceConfig,
    stream: Vec<u8>,
}

impl Arbitrary for NearValid {
    fn arbitrary(g: &mut Gen) -> Self {
        let AnyConfig(config) = AnyConfig::arbitrary(g);
        let l = config.limits.max_frame_len();
        let mut stream = Vec::new();
        let expects_preface = config.role == Role::Server && config.mode != Mode::Legacy;
        if expects_preface && below(g, 5) != 0 {
            stream.extend_from_slice(PREFACE);
        }
        for _ in 0..below(g, 6) {
            stream.extend(piece(g, l));
        }
        match below(g, 8) {
            0..=1 if !stream.is_empty() => {
                let at = below(g, stream.len());
                stream[at] ^= 1 + below(g, 255) as u8;
            }
            2 => stream.truncate(below(g, stream.len() + 1)),
            3 => stream.insert(below(g, stream.len() + 1), u8::arbitrary(g)),
            _ => {}
        }
        NearValid { config, stream }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let config = self.config;
        Box::new(
            self.stream
                .shrink()
                .map(move |stream| NearValid { config, stream }),
        )
    }
}

fn encoder(profile: Profile, sender: Role, limits: Limits) -> Encoder {
    match sender {
        Role::Client => Encoder::client(profile, limits),
        Role::Server => Encoder::server(profile, limits),
    }
}

/// Encodes `frames` and decodes them, cut by `cuts`, with every receiver that reads them.
fn roundtrips(
    profile: Profile,
    sender: Role,
    limits: Limits,
    frames: &[Frame<String>],
    cuts: &Cuts,
) -> bool {
    let mut encoder = encoder(profile, sender, limits);
    let mut wire = Vec::new();
    for frame in frames {
        if encoder.encode(frame.as_ref(), &mut wire).is_err() {
            return false;
        }
    }
    let role = sender.peer();
    let mut modes = vec![match profile {
        Profile::Legacy => Mode::Legacy,
        Profile::Typed => Mode::Typed,
    }];
    if role == Role::Server {
        modes.push(Mode::Detect);
    }
    let want = ReferenceOutcome {
        frames: frames.to_vec(),
        error: None,
    };
    modes.into_iter().all(|mode| {
        let config = ReferenceConfig { role, mode, limits };
        decode_chunks(&config, &cuts.cut(&wire), true) == want
            && decode_whole(&config, &wire, true) == want
    })
}

#[test]
fn valid_frames_decode_back_exactly_however_their_encoding_is_cut() {
    // §6.4, FC-18.
    fn property(stream: ValidFrames, cuts: Cuts) -> bool {
        roundtrips(
            stream.profile,
            stream.sender,
            stream.limits,
            &stream.frames,
            &cuts,
        )
    }
    check(TESTS_ROUNDTRIP, property as fn(ValidFrames, Cuts) -> bool);
}

#[test]
fn any_two_chunkings_of_any_stream_give_the_same_frames_and_error() {
    // FC-18.
    fn property(input: NearValid, first: Cuts, second: Cuts, end_of_stream: bool) -> bool {
        let one = decode_chunks(&input.config, &first.cut(&input.stream), end_of_stream);
        let other = decode_chunks(&input.config, &second.cut(&input.stream), end_of_stream);
        one == other
    }
    check(
        TESTS_SPLIT_INVARIANCE,
        property as fn(NearValid, Cuts, Cuts, bool) -> bool,
    );
}

#[test]
fn the_real_decoder_agrees_with_the_reference_on_near_valid_streams() {
    fn property(input: NearValid, cuts: Cuts, end_of_stream: bool) -> bool {
        decode_chunks(&input.config, &cuts.cut(&input.stream), end_of_stream)
            == decode_whole(&input.config, &input.stream, end_of_stream)
    }
    check(
        TESTS_DIFFERENTIAL,
        property as fn(NearValid, Cuts, bool) -> bool,
    );
}

#[test]
fn the_real_decoder_agrees_with_the_reference_on_arbitrary_bytes() {
    fn property(config: AnyConfig, stream: Vec<u8>, cuts: Cuts, end_of_stream: bool) -> bool {
        decode_chunks(&config.0, &cuts.cut(&stream), end_of_stream)
            == decode_whole(&config.0, &stream, end_of_stream)
    }
    check(
        TESTS_DIFFERENTIAL,
        property as fn(AnyConfig, Vec<u8>, Cuts, bool) -> bool,
    );
}

#[cfg(feature = "quickcheck")]
#[test]
fn the_crates_arbitrary_frames_roundtrip_under_any_chunking() {
    use framechat::generators::{
        ClientLegacyFrame, ClientTypedFrame, ServerLegacyFrame, ServerTypedFrame,
    };

    fn property(
        client_legacy: Vec<ClientLegacyFrame>,
        server_legacy: Vec<ServerLegacyFrame>,
        client_typed: Vec<ClientTypedFrame>,
        server_typed: Vec<ServerTypedFrame>,
        cuts: Cuts,
    ) -> bool {
        // Their texts fit every limit, the smallest included.
        let smallest = Limits::new(Limits::MIN_FRAME_LEN).expect("the smallest limit");
        roundtrips(
            ClientLegacyFrame::PROFILE,
            ClientLegacyFrame::SENDER,
            smallest,
            &client_legacy.into_iter().map(|f| f.0).collect::<Vec<_>>(),
            &cuts,
        ) && roundtrips(
            ServerLegacyFrame::PROFILE,
            ServerLegacyFrame::SENDER,
            smallest,
            &server_legacy.into_iter().map(|f| f.0).collect::<Vec<_>>(),
            &cuts,
        ) && roundtrips(
            ClientTypedFrame::PROFILE,
            ClientTypedFrame::SENDER,
            smallest,
            &client_typed.into_iter().map(|f| f.0).collect::<Vec<_>>(),
            &cuts,
        ) && roundtrips(
            ServerTypedFrame::PROFILE,
            ServerTypedFrame::SENDER,
            smallest,
            &server_typed.into_iter().map(|f| f.0).collect::<Vec<_>>(),
            &cuts,
        )
    }
    check(
        TESTS_ROUNDTRIP,
        property
            as fn(
                Vec<ClientLegacyFrame>,
                Vec<ServerLegacyFrame>,
                Vec<ClientTypedFrame>,
                Vec<ServerTypedFrame>,
                Cuts,
            ) -> bool,
    );
}
