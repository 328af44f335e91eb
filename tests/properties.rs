//! Properties of the codec over generated frames and streams (proptest).
//!
//! - valid frames, any chunking: decoding yields exactly those frames (§6.4, FC-18);
//! - any bytes, any two chunkings: the same frames and the same error (FC-18);
//! - encode ∘ decode is the identity on valid streams, decode ∘ encode on valid frames;
//! - differential: the real decoder agrees with `spec/reference.rs` on arbitrary input, biased
//!   towards near-valid streams (valid frames with mutations, the preface, boundary lengths).
//!
//! Case counts are set per property below (`CASES_*`); `PROPTEST_CASES` overrides them all.

#[path = "../spec/reference.rs"]
mod reference;

use std::sync::atomic::{AtomicUsize, Ordering};

use framechat::wire::PREFACE;
use framechat::{Encoder, ErrorCode, Frame, Limits, Profile, Role, UnixMicros};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use reference::{decode_chunks, decode_whole, Mode, ReferenceConfig, ReferenceOutcome};

const CASES_ROUNDTRIP: u32 = 1024;
const CASES_SPLIT_INVARIANCE: u32 = 2048;
const CASES_IDENTITY: u32 = 2048;
const CASES_DIFFERENTIAL: u32 = 4096;

fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/properties.txt"
        )))),
        ..Config::default()
    })
}

fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    if let Err(failure) = runner(cases).run(&strategy, test) {
        panic!("{failure}");
    }
}

// ---------------------------------------------------------------------------------------------
// Generators.

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        3 => Just(Limits::MIN_FRAME_LEN),
        3 => Limits::MIN_FRAME_LEN..=300,
        1 => Just(Limits::DEFAULT_MAX_FRAME_LEN),
        1 => Just(Limits::MAX_FRAME_LEN),
    ]
    .prop_map(|l| Limits::new(l).expect("within MIN_FRAME_LEN..=MAX_FRAME_LEN"))
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Client), Just(Role::Server)]
}

fn profile() -> impl Strategy<Value = Profile> {
    prop_oneof![Just(Profile::Legacy), Just(Profile::Typed)]
}

/// Any receiving configuration (detection only for a server, §5).
fn config() -> impl Strategy<Value = ReferenceConfig> {
    let role_mode = prop_oneof![
        Just((Role::Client, Mode::Legacy)),
        Just((Role::Client, Mode::Typed)),
        Just((Role::Server, Mode::Legacy)),
        Just((Role::Server, Mode::Typed)),
        Just((Role::Server, Mode::Detect)),
    ];
    (role_mode, limits()).prop_map(|((role, mode), limits)| ReferenceConfig { role, mode, limits })
}

/// FC-15: the largest payload a receiver in `receiver` accepts for `frame_type` (`None`: legacy).
fn receiver_limit(receiver: Role, limits: Limits, frame_type: Option<u8>) -> usize {
    let l = limits.max_frame_len() as usize;
    match (receiver, frame_type) {
        (Role::Server, None) => l - 24,
        (Role::Server, Some(0x81)) => l - 16,
        _ => l,
    }
}

/// A text of any Unicode scalar values, at most `budget` bytes; sometimes exactly `budget`.
fn text(budget: usize) -> BoxedStrategy<String> {
    let chars = prop::collection::vec(any::<char>(), 0..24).prop_map(move |chars| {
        let mut text = String::new();
        for c in chars {
            if text.len() + c.len_utf8() > budget {
                break;
            }
            text.push(c);
        }
        text
    });
    if budget <= 4096 {
        prop_oneof![
            6 => chars,
            1 => Just("x".repeat(budget)),
            1 => Just(String::new()),
        ]
        .boxed()
    } else {
        chars.boxed()
    }
}

fn micros() -> impl Strategy<Value = UnixMicros> {
    prop_oneof![Just(0), Just(u64::MAX), any::<u64>()].prop_map(UnixMicros)
}

/// A frame that `sender` may send in `profile` and that fits what the receiver accepts (§4.3,
/// FC-15).
fn valid_frame(profile: Profile, sender: Role, limits: Limits) -> BoxedStrategy<Frame<String>> {
    let receiver = sender.peer();
    let budget =
        |frame_type: Option<u8>, fixed: usize| receiver_limit(receiver, limits, frame_type) - fixed;
    let error =
        (any::<u16>(), text(budget(Some(0x86), 2))).prop_map(|(code, reason)| Frame::Error {
            code: ErrorCode(code),
            reason,
        });
    let ping = any::<u64>().prop_map(|nonce| Frame::Ping { nonce });
    let pong = any::<u64>().prop_map(|nonce| Frame::Pong { nonce });
    match (profile, sender) {
        (Profile::Legacy, _) => text(budget(None, 0)).prop_map(Frame::Text).boxed(),
        (Profile::Typed, Role::Client) => prop_oneof![
            3 => (micros(), text(budget(Some(0x81), 8)))
                .prop_map(|(sent_at, text)| Frame::Chat { sent_at, text }),
            1 => ping,
            1 => pong,
            1 => error,
        ]
        .boxed(),
        (Profile::Typed, Role::Server) => prop_oneof![
            1 => (any::<u64>(), any::<u32>())
                .prop_map(|(peer_id, max_frame_len)| Frame::Welcome { peer_id, max_frame_len }),
            2 => (micros(), micros(), text(budget(Some(0x82), 16)))
                .prop_map(|(sent_at, relayed_at, text)| Frame::Echo { sent_at, relayed_at, text }),
            2 => (any::<u64>(), micros(), micros(), text(budget(Some(0x83), 24))).prop_map(
                |(from, sent_at, relayed_at, text)| Frame::Broadcast { from, sent_at, relayed_at, text }
            ),
            1 => ping,
            1 => pong,
            1 => error,
        ]
        .boxed(),
    }
}

/// A stream's sending side, its limit and a list of frames it may send.
#[derive(Clone, Debug)]
struct ValidStream {
    profile: Profile,
    sender: Role,
    limits: Limits,
    frames: Vec<Frame<String>>,
}

fn valid_stream() -> impl Strategy<Value = ValidStream> {
    (profile(), role(), limits()).prop_flat_map(|(profile, sender, limits)| {
        prop::collection::vec(valid_frame(profile, sender, limits), 0..8).prop_map(move |frames| {
            ValidStream {
                profile,
                sender,
                limits,
                frames,
            }
        })
    })
}

fn encoder(profile: Profile, sender: Role, limits: Limits) -> Encoder {
    match sender {
        Role::Client => Encoder::client(profile, limits),
        Role::Server => Encoder::server(profile, limits),
    }
}

/// Chunk sizes, used in turn until the input is used up: 0 and 1 are frequent.
fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![2 => Just(0usize), 3 => Just(1usize), 4 => 2usize..=16, 1 => 17usize..=4096],
        0..24,
    )
}

/// `input` cut by `sizes` in turn (the rest whole if the sizes make no progress).
fn cut<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut at = 0;
    if sizes.iter().all(|&size| size == 0) {
        chunks.extend(sizes.iter().map(|_| &input[..0]));
        chunks.push(input);
        return chunks;
    }
    let mut turn = sizes.iter().cycle();
    while at < input.len() {
        let size = (*turn.next().expect("a cycle over a non-empty list")).min(input.len() - at);
        chunks.push(&input[at..at + size]);
        at += size;
    }
    chunks
}

// Near-valid streams: pieces of valid and invalid frames, then a mutation.

fn u32_be(n: u32) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

/// Lengths at the boundaries of §4.3 and §6.1 for the limit `l`.
fn boundary_length(l: u32) -> impl Strategy<Value = u32> {
    let near_l = [l - 24, l - 23, l - 16, l - 15, l - 1, l, l + 1];
    prop_oneof![
        4 => prop::sample::select(vec![0u32, 1, 2, 7, 8, 9, 11, 12, 13, 15, 16, 17, 23, 24, 25]),
        3 => prop::sample::select(near_l.to_vec()),
        2 => prop::sample::select(vec![0x7fff_ffff, 0x8000_0000, 0xff46_4348, 0xffff_ffff]),
        1 => any::<u32>(),
    ]
}

fn interesting_type() -> impl Strategy<Value = u8> {
    prop_oneof![
        6 => 0x80u8..=0x86,
        2 => prop::sample::select(vec![0x87u8, 0x99, 0xaf, 0xb0, 0xbf]),
        1 => prop::sample::select(vec![0x00u8, 0x01, 0x7f, 0xc0, 0xfe, 0xff]),
        1 => any::<u8>(),
    ]
}

/// Bytes that are not well-formed UTF-8, or are, at the edges (RFC 3629).
fn utf8_edge() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        vec![0x80],
        vec![0xc0, 0xaf],
        vec![0xc2],
        vec![0xe0, 0x80, 0xaf],
        vec![0xed, 0xa0, 0x80],
        vec![0xed, 0x9f, 0xbf],
        vec![0xe2, 0x82],
        vec![0xf0, 0x9f, 0xa6],
        vec![0xf4, 0x8f, 0xbf, 0xbf],
        vec![0xf4, 0x90, 0x80, 0x80],
        vec![0xf5, 0x80, 0x80, 0x80],
        vec![0xff],
        "€".as_bytes().to_vec(),
        "🦀".as_bytes().to_vec(),
    ])
}

/// A text field's bytes: usually valid, sometimes with an edge case inside.
fn text_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        text(48),
        prop::option::weighted(0.3, (utf8_edge(), any::<prop::sample::Index>())),
    )
        .prop_map(|(text, edge)| {
            let mut bytes = text.into_bytes();
            if let Some((edge, at)) = edge {
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, edge);
            }
            bytes
        })
}

/// A typed frame of a known type, any direction, its fields well laid out.
fn raw_typed_frame() -> impl Strategy<Value = Vec<u8>> {
    (0x80u8..=0x86, any::<[u8; 24]>(), text_bytes()).prop_map(|(frame_type, fixed, text)| {
        let fixed_len = match frame_type {
            0x80 => 12,
            0x81 | 0x84 | 0x85 => 8,
            0x82 => 16,
            0x83 => 24,
            _ => 2,
        };
        let mut payload = fixed[..fixed_len].to_vec();
        if !matches!(frame_type, 0x80 | 0x84 | 0x85) {
            payload.extend_from_slice(&text);
        }
        let mut frame = vec![frame_type];
        frame.extend(u32_be(payload.len() as u32));
        frame.extend(payload);
        frame
    })
}

fn raw_legacy_frame() -> impl Strategy<Value = Vec<u8>> {
    text_bytes().prop_map(|text| {
        let mut frame = u32_be(text.len() as u32);
        frame.extend(text);
        frame
    })
}

/// A header whose length sits on a boundary, then up to 40 of its payload bytes.
fn boundary_header(l: u32) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::option::weighted(0.6, interesting_type()),
        boundary_length(l),
        prop::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(frame_type, length, body)| {
            let mut bytes: Vec<u8> = frame_type.into_iter().collect();
            bytes.extend(u32_be(length));
            bytes.extend(body.into_iter().take(length as usize));
            bytes
        })
}

fn preface_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(PREFACE.to_vec()),
        1 => (1usize..PREFACE.len()).prop_map(|n| PREFACE[..n].to_vec()),
        1 => (0usize..PREFACE.len(), any::<u8>()).prop_map(|(at, byte)| {
            let mut preface = PREFACE.to_vec();
            preface[at] = byte;
            preface
        }),
    ]
}

fn piece(l: u32) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        5 => raw_typed_frame(),
        4 => raw_legacy_frame(),
        3 => boundary_header(l),
        1 => (0x87u8..=0xbf, prop::collection::vec(any::<u8>(), 0..20)).prop_map(|(t, body)| {
            let mut frame = vec![t];
            frame.extend(u32_be(body.len() as u32));
            frame.extend(body);
            frame
        }),
        1 => preface_piece(),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    None,
    Flip { at: prop::sample::Index, xor: u8 },
    Truncate { at: prop::sample::Index },
    Insert { at: prop::sample::Index, byte: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => Just(Mutation::None),
        2 => (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        1 => any::<prop::sample::Index>().prop_map(|at| Mutation::Truncate { at }),
        1 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
    ]
}

/// A configuration and a stream biased towards what it nearly accepts.
fn near_valid() -> impl Strategy<Value = (ReferenceConfig, Vec<u8>)> {
    config().prop_flat_map(|config| {
        let l = config.limits.max_frame_len();
        let expects_preface = config.role == Role::Server && config.mode != Mode::Legacy;
        (
            prop::bool::weighted(if expects_preface { 0.8 } else { 0.05 }),
            prop::collection::vec(piece(l), 0..6),
            mutation(),
        )
            .prop_map(move |(preface, pieces, mutation)| {
                let mut stream = if preface {
                    PREFACE.to_vec()
                } else {
                    Vec::new()
                };
                stream.extend(pieces.into_iter().flatten());
                match mutation {
                    Mutation::None => {}
                    Mutation::Flip { at, xor } if !stream.is_empty() => {
                        let at = at.index(stream.len());
                        stream[at] ^= xor;
                    }
                    Mutation::Truncate { at } => stream.truncate(at.index(stream.len() + 1)),
                    Mutation::Insert { at, byte } => {
                        stream.insert(at.index(stream.len() + 1), byte)
                    }
                    Mutation::Flip { .. } => {}
                }
                (config, stream)
            })
    })
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// The receiving configurations that read what `sender` writes in `profile`.
fn receivers(profile: Profile, sender: Role, limits: Limits) -> Vec<ReferenceConfig> {
    let role = sender.peer();
    let mut modes = vec![match profile {
        Profile::Legacy => Mode::Legacy,
        Profile::Typed => Mode::Typed,
    }];
    if role == Role::Server {
        modes.push(Mode::Detect);
    }
    modes
        .into_iter()
        .map(|mode| ReferenceConfig { role, mode, limits })
        .collect()
}

#[test]
fn valid_frames_decode_back_exactly_however_their_encoding_is_cut() {
    // §6.4, FC-18; FC-23/FC-24: the encoder accepts every frame the sender may send.
    run(
        CASES_ROUNDTRIP,
        (valid_stream(), cuts()),
        |(stream, sizes)| {
            let mut encoder = encoder(stream.profile, stream.sender, stream.limits);
            let mut wire = Vec::new();
            for frame in &stream.frames {
                let written = encoder.encode(frame.as_ref(), &mut wire);
                prop_assert!(
                    written.is_ok(),
                    "the encoder refused {frame:?}: {written:?}"
                );
            }
            let want = ReferenceOutcome {
                frames: stream.frames.clone(),
                error: None,
            };
            for config in receivers(stream.profile, stream.sender, stream.limits) {
                let chunks = cut(&wire, &sizes);
                prop_assert_eq!(
                    &decode_chunks(&config, &chunks, true),
                    &want,
                    "{:?}",
                    config
                );
                prop_assert_eq!(
                    &decode_whole(&config, &wire, true),
                    &want,
                    "reference, {:?}",
                    config
                );
            }
            Ok(())
        },
    );
}

#[test]
fn any_two_chunkings_of_any_stream_give_the_same_frames_and_error() {
    // FC-18: frames, error kind and detail, detection offset and frame index.
    run(
        CASES_SPLIT_INVARIANCE,
        (near_valid(), cuts(), cuts(), any::<bool>()),
        |((config, stream), first, second, end_of_stream)| {
            let one = decode_chunks(&config, &cut(&stream, &first), end_of_stream);
            let other = decode_chunks(&config, &cut(&stream, &second), end_of_stream);
            prop_assert_eq!(one, other);
            Ok(())
        },
    );
}

#[test]
fn encoding_what_a_valid_stream_decodes_to_gives_back_the_stream() {
    // decode then encode is the identity on valid streams without skipped frames.
    let valid = AtomicUsize::new(0);
    run(CASES_IDENTITY, near_valid(), |(config, stream)| {
        let mut decoder = reference::real_decoder(&config);
        let mut frames = Vec::new();
        let mut input = &stream[..];
        let decoded_cleanly = loop {
            match decoder.decode(input) {
                Ok(decoded) => {
                    input = &input[decoded.consumed..];
                    match decoded.frame {
                        Some(frame) => frames.push(frame.into_owned()),
                        None => break decoder.finish().is_ok(),
                    }
                }
                Err(_) => break false,
            }
        };
        if !decoded_cleanly || decoder.frames_skipped() > 0 {
            return Ok(());
        }
        valid.fetch_add(1, Ordering::Relaxed);
        let profile = decoder.profile().unwrap_or(Profile::Legacy);
        let mut encoder = encoder(profile, config.role.peer(), config.limits);
        let mut wire = Vec::new();
        if stream.starts_with(PREFACE) {
            encoder.write_preface(&mut wire);
        }
        for frame in &frames {
            let written = encoder.encode(frame.as_ref(), &mut wire);
            prop_assert!(
                written.is_ok(),
                "the encoder refused {frame:?}: {written:?}"
            );
        }
        prop_assert_eq!(wire, stream);
        Ok(())
    });
    // The property is not vacuous: a fair share of the near-valid streams are valid.
    let valid = valid.into_inner();
    println!("{valid} valid streams re-encoded");
    assert!(valid >= 50, "only {valid} valid streams were generated");
}

#[test]
fn the_real_decoder_agrees_with_the_reference_on_near_valid_streams() {
    run(
        CASES_DIFFERENTIAL,
        (near_valid(), cuts(), any::<bool>()),
        |((config, stream), sizes, end_of_stream)| {
            let real = decode_chunks(&config, &cut(&stream, &sizes), end_of_stream);
            let reference = decode_whole(&config, &stream, end_of_stream);
            prop_assert_eq!(real, reference);
            Ok(())
        },
    );
}

#[test]
fn the_real_decoder_agrees_with_the_reference_on_arbitrary_bytes() {
    run(
        CASES_DIFFERENTIAL / 2,
        (
            config(),
            prop::collection::vec(any::<u8>(), 0..64),
            cuts(),
            any::<bool>(),
        ),
        |(config, stream, sizes, end_of_stream)| {
            let real = decode_chunks(&config, &cut(&stream, &sizes), end_of_stream);
            prop_assert_eq!(real, decode_whole(&config, &stream, end_of_stream));
            Ok(())
        },
    );
}
