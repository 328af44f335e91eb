//! Fuzz inputs replayed on stable through the fuzz targets' own checks (`tests/fuzz/*_check.rs`,
//! which the fuzz crate in `fuzz/` includes too): the seed corpus' streams, every input a fuzzer
//! ever crashed on (kept in `tests/fuzz/regressions/<target>/`), the conformance vectors, and
//! exhaustive splits of tricky streams.
//!
//! The `roundtrip` replays need the private feature `arbitrary` (`cargo test --all-features`).

#[path = "../spec/reference.rs"]
mod reference;

// These files also serve the fuzz crate, where every item is used and public.
#[path = "fuzz/decode_check.rs"]
#[allow(dead_code, unreachable_pub)]
mod decode_check;
#[cfg(feature = "__fuzzing")]
#[path = "fuzz/roundtrip_check.rs"]
#[allow(dead_code, unreachable_pub)]
mod roundtrip_check;
#[path = "fuzz/seeds.rs"]
#[allow(dead_code, unreachable_pub)]
mod seeds;

use std::path::{Path, PathBuf};

use decode_check::{check_decode_case, check_decode_input, encode_input, DecodeCase, LimitChoice};
use framechat::wire::PREFACE;
use framechat::{Limits, Role};
use reference::Mode;

/// The files of `tests/fuzz/regressions/<target>/`, sorted, with their contents. The folder must
/// hold at least one: a replay that found nothing to replay (a folder moved, or left out of the
/// package) would pass without checking anything.
fn regression_inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/regressions")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("the regression folder {}: {err}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.is_file() && path.extension().is_none_or(|ext| ext != "md"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression input in {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a readable regression input");
            (path, bytes)
        })
        .collect()
}

const RECEIVERS: [(Role, Mode); 5] = [
    (Role::Client, Mode::Legacy),
    (Role::Client, Mode::Typed),
    (Role::Server, Mode::Legacy),
    (Role::Server, Mode::Typed),
    (Role::Server, Mode::Detect),
];

#[test]
fn decode_input_layout_reads_back_as_documented() {
    // The layout of fuzz_targets/decode.rs: config byte, u16 limit offset, n, n lengths, stream.
    let input = encode_input(
        Role::Server,
        Mode::Typed,
        LimitChoice::Small(36),
        &[0, 3],
        b"abcdef",
    );
    assert_eq!(
        input,
        [
            0b0000_0011,
            0,
            36,
            2,
            0,
            3,
            b'a',
            b'b',
            b'c',
            b'd',
            b'e',
            b'f'
        ]
    );
    let case = DecodeCase::parse(&input).expect("a 4-byte prefix is enough");
    assert_eq!(case.config.role, Role::Server);
    assert_eq!(case.config.mode, Mode::Typed);
    assert_eq!(case.config.limits, Limits::new(100).expect("a valid limit"));
    assert_eq!(case.chunks(), [&b""[..], b"abc", b"def"]);

    // Detection is a server's (§5), whatever the role bit says; limit bits 2 and 3 name limits.
    let detect = encode_input(Role::Client, Mode::Detect, LimitChoice::Max, &[], b"");
    let case = DecodeCase::parse(&detect).expect("a 4-byte prefix is enough");
    assert_eq!(
        (case.config.role, case.config.mode),
        (Role::Server, Mode::Detect)
    );
    assert_eq!(case.config.limits.max_frame_len(), Limits::MAX_FRAME_LEN);
    assert!(
        DecodeCase::parse(&[0, 0, 0]).is_none(),
        "shorter than the config: ignored"
    );
}

#[test]
fn seed_corpus_streams_decode_alike_in_every_cut_and_agree_with_the_reference() {
    // FC-18, FC-19, FC-21, FC-22 and agreement with spec/reference.rs, for each seed.
    let seeds = seeds::decode_seeds();
    assert!(
        seeds.len() >= 100,
        "the seed corpus covers the typical streams"
    );
    for (name, input) in &seeds {
        let case =
            DecodeCase::parse(input).unwrap_or_else(|| panic!("seed {name} follows the layout"));
        check_decode_case(&case);
    }
}

#[test]
fn decode_inputs_that_once_failed_the_fuzzer_now_hold_every_invariant() {
    for (path, input) in regression_inputs("decode") {
        println!("replaying {}", path.display());
        check_decode_input(&input);
    }
}

#[cfg(feature = "__fuzzing")]
#[test]
fn roundtrip_inputs_that_once_failed_the_fuzzer_now_round_trip() {
    for (path, input) in regression_inputs("roundtrip") {
        println!("replaying {}", path.display());
        roundtrip_check::check_roundtrip_input(&input).expect("a regression input is a whole case");
    }
}

#[cfg(feature = "__fuzzing")]
#[test]
fn seed_bytes_read_as_structured_inputs_round_trip() {
    // The roundtrip target is seeded with the decode seeds' bytes: any bytes spell some case.
    let mut whole_cases = 0;
    for (_, input) in seeds::decode_seeds() {
        if roundtrip_check::check_roundtrip_input(&input).is_ok() {
            whole_cases += 1;
        }
    }
    assert!(whole_cases > 0, "some seeds spell whole round-trip cases");
}

/// Every way of cutting `stream` into three chunks (empty ones included), for every receiver.
fn check_every_cut(stream: &[u8], limit: LimitChoice) {
    for (role, mode) in RECEIVERS {
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let lens = [a as u8, (b - a) as u8];
                let input = encode_input(role, mode, limit, &lens, stream);
                let case = DecodeCase::parse(&input).expect("a laid-out input");
                assert_eq!(case.chunks().concat(), stream, "the cuts keep every byte");
                check_decode_case(&case);
            }
        }
    }
}

#[test]
fn a_typed_stream_with_skipped_frames_and_split_characters_decodes_alike_in_every_cut() {
    // FC-18 over the preface, a skipped reserved frame (FC-11) and a 4-byte character.
    let mut stream = PREFACE.to_vec();
    stream.extend_from_slice(&[0xb3, 0, 0, 0, 2, 0xff, 0xfe]);
    stream.extend_from_slice(&[0x81, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 9]);
    stream.extend_from_slice("a🎉".as_bytes());
    check_every_cut(&stream, LimitChoice::Default);
}

#[test]
fn violations_are_reported_alike_in_every_cut() {
    // FC-18 with FC-20's offsets: an invalid character (FC-17), a length over the server's legacy
    // limit (FC-15), a preface byte that differs (FC-4) and a stream cut inside a payload (FC-21).
    check_every_cut(&[0, 0, 0, 3, b'a', 0xc3, 0x28], LimitChoice::Default);
    check_every_cut(&[0, 0, 0, 41, b'x', b'y'], LimitChoice::Small(0));
    check_every_cut(b"\xffFCHAT/9\r\n\x84", LimitChoice::Default);
    check_every_cut(&[0, 0, 0, 9, b'a', b'b'], LimitChoice::Small(0));
}

#[test]
fn conformance_vectors_decode_alike_whole_and_byte_by_byte() {
    // spec/vectors/*.json: every `input` (hex), for every receiver, whole and in 1-byte chunks.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/vectors");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("the vector folder {}: {err}", dir.display()));
    let mut files = 0;
    for entry in entries {
        let path = entry.expect("a readable folder entry").path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).expect("a readable vector file");
        let json: serde_json::Value = serde_json::from_str(&text).expect("vector files are JSON");
        let mut inputs = Vec::new();
        collect_inputs(&json, &mut inputs);
        for stream in inputs {
            let ones = vec![1; stream.len().min(255)];
            for (role, mode) in RECEIVERS {
                for limit in [LimitChoice::Default, LimitChoice::Small(0)] {
                    check_decode_input(&encode_input(role, mode, limit, &ones, &stream));
                }
            }
        }
    }
    assert!(files > 0, "no vector file in {}", dir.display());
}

/// Every string field named `input` anywhere in `json`, read as hex.
fn collect_inputs(json: &serde_json::Value, out: &mut Vec<Vec<u8>>) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value.as_str()) {
                    ("input", Some(hex)) => out.push(from_hex(hex)),
                    _ => collect_inputs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_inputs(item, out)),
        _ => {}
    }
}

fn from_hex(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).expect("hex digits are ASCII");
            u8::from_str_radix(text, 16).expect("two hex digits")
        })
        .collect()
}
