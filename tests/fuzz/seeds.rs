//! Seeds for the `decode` target, built from the encoder's output for typical streams and from a
//! few hand-made violations, each laid out as `decode_check` documents and cut in several ways.
//! `fuzz/examples/seed_corpus.rs` writes them out; `tests/fuzz_regressions.rs` replays them.

use framechat::wire::PREFACE;
use framechat::{Encoder, ErrorCode, Frame, Limits, Profile, Role, UnixMicros};

use crate::decode_check::{encode_input, LimitChoice};
use crate::reference::Mode;

/// A stream and the receivers it is seeded for.
struct Stream {
    name: &'static str,
    bytes: Vec<u8>,
    receivers: Vec<(Role, Mode, LimitChoice)>,
}

fn encoded(profile: Profile, sender: Role, limits: Limits, frames: &[Frame<&str>]) -> Vec<u8> {
    let mut encoder = match sender {
        Role::Client => Encoder::client(profile, limits),
        Role::Server => Encoder::server(profile, limits),
    };
    let mut out = Vec::new();
    for frame in frames {
        encoder
            .encode(frame.clone(), &mut out)
            .expect("seed frames are valid for their stream");
    }
    out
}

fn legacy_frame(len: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn typed_frame(frame_type: u8, len: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![frame_type];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn with_preface(rest: &[u8]) -> Vec<u8> {
    let mut out = PREFACE.to_vec();
    out.extend_from_slice(rest);
    out
}

fn streams() -> Vec<Stream> {
    let default = Limits::default();
    // The smallest limit: 64, so a server applies 40 to legacy frames and 48 to CHAT (FC-15).
    let small = Limits::new(64).expect("64 is the smallest valid limit");
    let t = |micros| UnixMicros(micros);
    let (client_typed, server_typed) = (Mode::Typed, Mode::Typed);
    let to_server = |mode| {
        vec![
            (Role::Server, mode, LimitChoice::Default),
            (Role::Server, mode, LimitChoice::Small(0)),
        ]
    };
    let to_client = |mode| {
        vec![
            (Role::Client, mode, LimitChoice::Default),
            (Role::Client, mode, LimitChoice::Small(0)),
        ]
    };
    let typed_to_server = {
        let mut r = to_server(server_typed);
        r.extend(to_server(Mode::Detect));
        r
    };
    let legacy_to_server = {
        let mut r = to_server(Mode::Legacy);
        r.extend(to_server(Mode::Detect));
        r
    };

    let typed_client_frames = [
        Frame::Chat {
            sent_at: t(1_700_000_000_000_000),
            text: "hello",
        },
        Frame::Ping { nonce: 42 },
        Frame::Chat {
            sent_at: t(0),
            text: "",
        },
        Frame::Chat {
            sent_at: t(7),
            text: "héllo wörld ✓ 🎉",
        },
        Frame::Pong { nonce: u64::MAX },
        Frame::Error {
            code: ErrorCode::GOING_AWAY,
            reason: "bye",
        },
        Frame::Error {
            code: ErrorCode(999),
            reason: "",
        },
    ];
    let typed_server_frames = [
        Frame::Welcome {
            peer_id: 3,
            max_frame_len: 1 << 20,
        },
        Frame::Echo {
            sent_at: t(5),
            relayed_at: t(9),
            text: "hello",
        },
        Frame::Broadcast {
            from: 2,
            sent_at: t(5),
            relayed_at: t(9),
            text: "hi ✓",
        },
        Frame::Ping { nonce: 1 },
        Frame::Error {
            code: ErrorCode::SLOW_CONSUMER,
            reason: "too slow",
        },
    ];
    let legacy_frames = [
        Frame::Text("hi"),
        Frame::Text(""),
        Frame::Text("héllo ✓ 🎉"),
        Frame::Text("echo: hi"),
    ];

    // Exactly at the server's limits for L = 64: a 40-byte legacy text, a CHAT with 40 bytes of text.
    let at_limit_text = "x".repeat(40);
    let at_limit_legacy = encoded(
        Profile::Legacy,
        Role::Client,
        small,
        &[Frame::Text(&at_limit_text)],
    );
    let at_limit_chat = encoded(
        Profile::Typed,
        Role::Client,
        small,
        &[Frame::Chat {
            sent_at: t(1),
            text: &at_limit_text,
        }],
    );

    let skippable = [
        typed_frame(0x87, 0, &[]),
        typed_frame(0xbf, 3, b"abc"),
        typed_frame(0xb0, 20, &[0xff; 20]),
    ]
    .concat();

    vec![
        Stream {
            name: "typed-client",
            bytes: encoded(Profile::Typed, Role::Client, default, &typed_client_frames),
            receivers: typed_to_server.clone(),
        },
        Stream {
            name: "typed-server",
            bytes: encoded(Profile::Typed, Role::Server, default, &typed_server_frames),
            receivers: to_client(client_typed),
        },
        Stream {
            name: "legacy-client",
            bytes: encoded(Profile::Legacy, Role::Client, default, &legacy_frames),
            receivers: legacy_to_server.clone(),
        },
        Stream {
            name: "legacy-server",
            bytes: encoded(Profile::Legacy, Role::Server, default, &legacy_frames),
            receivers: to_client(Mode::Legacy),
        },
        Stream {
            name: "legacy-at-server-limit",
            bytes: at_limit_legacy,
            receivers: legacy_to_server.clone(),
        },
        Stream {
            name: "legacy-over-server-limit",
            bytes: legacy_frame(41, &[b'x'; 41]),
            receivers: legacy_to_server.clone(),
        },
        Stream {
            name: "chat-at-server-limit",
            bytes: at_limit_chat,
            receivers: typed_to_server.clone(),
        },
        Stream {
            name: "typed-with-skipped-frames",
            bytes: with_preface(
                &[
                    skippable.clone(),
                    typed_frame(0x84, 8, &[0; 8]),
                    skippable.clone(),
                ]
                .concat(),
            ),
            receivers: typed_to_server.clone(),
        },
        Stream {
            name: "typed-skipped-frames-to-client",
            bytes: [skippable, typed_frame(0x85, 8, &[1; 8])].concat(),
            receivers: to_client(client_typed),
        },
        Stream {
            name: "bad-preface",
            bytes: b"\xffFCHAT/2\r\n".to_vec(),
            receivers: typed_to_server.clone(),
        },
        Stream {
            name: "preface-to-legacy",
            bytes: encoded(
                Profile::Typed,
                Role::Client,
                default,
                &typed_client_frames[..1],
            ),
            receivers: to_server(Mode::Legacy),
        },
        Stream {
            name: "legacy-to-typed",
            bytes: encoded(Profile::Legacy, Role::Client, default, &legacy_frames[..1]),
            receivers: to_server(Mode::Typed),
        },
        Stream {
            name: "invalid-type",
            bytes: with_preface(&typed_frame(0x7f, 0, &[])),
            receivers: typed_to_server.clone(),
        },
        Stream {
            name: "unexpected-type",
            bytes: with_preface(&typed_frame(0x82, 16, &[0; 16])),
            receivers: typed_to_server.clone(),
        },
        Stream {
            name: "chat-to-client",
            bytes: typed_frame(0x81, 8, &[0; 8]),
            receivers: to_client(client_typed),
        },
        Stream {
            name: "bad-length",
            bytes: with_preface(&typed_frame(0x84, 7, &[0; 7])),
            receivers: typed_to_server.clone(),
        },
        Stream {
            name: "too-large-and-bad-length",
            bytes: with_preface(&typed_frame(0x84, 0xffff_ffff, &[])),
            receivers: typed_to_server.clone(),
        },
        Stream {
            name: "invalid-utf8",
            bytes: legacy_frame(6, b"ab\xe2\x9c\xffz"),
            receivers: legacy_to_server.clone(),
        },
        Stream {
            name: "utf8-split-char",
            bytes: legacy_frame(4, "🎉".as_bytes()),
            receivers: legacy_to_server.clone(),
        },
        Stream {
            name: "truncated-payload",
            bytes: legacy_frame(10, b"abc"),
            receivers: legacy_to_server.clone(),
        },
        Stream {
            name: "truncated-header",
            bytes: vec![0, 0],
            receivers: legacy_to_server,
        },
        Stream {
            name: "truncated-preface",
            bytes: PREFACE[..7].to_vec(),
            receivers: typed_to_server,
        },
    ]
}

/// The chunk-length patterns each stream is seeded with.
fn cuts(len: usize) -> Vec<(&'static str, Vec<u8>)> {
    let ones = vec![1; len.min(255)];
    let growing: Vec<u8> = (0..=255u8)
        .scan(0usize, |sum, n| {
            *sum += usize::from(n);
            (*sum <= len + 255).then_some(n)
        })
        .collect();
    let zeros_between: Vec<u8> = (0..len.min(127)).flat_map(|_| [0, 1]).collect();
    vec![
        ("whole", Vec::new()),
        ("bytes", ones),
        ("growing", growing),
        ("empty-chunks", zeros_between),
    ]
}

/// Every seed: a file name and a `decode` input.
pub fn decode_seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for stream in streams() {
        for (role, mode, limit) in &stream.receivers {
            for (cut, lens) in cuts(stream.bytes.len()) {
                let limit_name = match limit {
                    LimitChoice::Small(offset) => format!("L{}", 64 + u32::from(*offset)),
                    LimitChoice::Default => "Ldefault".to_string(),
                    LimitChoice::Max => "Lmax".to_string(),
                };
                let name =
                    format!("{}-{role:?}-{mode:?}-{limit_name}-{cut}", stream.name).to_lowercase();
                seeds.push((
                    name,
                    encode_input(*role, *mode, *limit, &lens, &stream.bytes),
                ));
            }
        }
    }
    seeds
}
