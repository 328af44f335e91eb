//! Conformance (§9): every vector of `spec/vectors/` through the real decoder (whole, one byte at a
//! time and under seeded random splits), through the encoder, and through the reference decoder
//! `spec/reference.rs`. The runner contract is in `spec/vectors/README.md`.
//!
//! Each test runs every vector and reports every failing vector by id, not just the first.

mod common;

#[path = "../spec/reference.rs"]
mod reference;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::vectors::{self, DecodeVector, End, Mode, Vector};
use framechat::{DecodeError, DecodeErrorKind, EncodeError, Role};
use reference::{decode_chunks, decode_whole, ReferenceConfig, ReferenceOutcome};

const PROTOCOL: &str = include_str!("../spec/PROTOCOL.md");

/// Runs `check` on each item, catching panics, and fails once with every failing id.
fn check_all<T>(items: &[T], id: impl Fn(&T) -> &str, check: impl Fn(&T) -> Result<(), String>) {
    assert!(!items.is_empty(), "no vectors to check");
    let mut failures = Vec::new();
    for item in items {
        match catch_unwind(AssertUnwindSafe(|| check(item))) {
            Ok(Ok(())) => {}
            Ok(Err(message)) => failures.push(format!("{}: {message}", id(item))),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: panicked: {message}", id(item)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        items.len(),
        failures.join("\n")
    );
}

fn decode_vectors() -> Vec<DecodeVector> {
    vectors::decode_vectors()
}

fn reference_config(vector: &DecodeVector) -> ReferenceConfig {
    ReferenceConfig {
        role: vector.receiver,
        mode: match vector.mode {
            Mode::Legacy => reference::Mode::Legacy,
            Mode::Typed => reference::Mode::Typed,
            Mode::Detect => reference::Mode::Detect,
        },
        limits: vector.limits,
    }
}

/// The vector's expectation in the outcome shape of `spec/reference.rs`.
fn expected(vector: &DecodeVector) -> ReferenceOutcome {
    ReferenceOutcome {
        frames: vector.frames.clone(),
        error: vector.error,
    }
}

fn compare(what: &str, vector: &DecodeVector, got: &ReferenceOutcome) -> Result<(), String> {
    let want = expected(vector);
    if *got == want {
        return Ok(());
    }
    Err(format!(
        "{what}: ({})\n  expected frames {:?}\n       and error  {:?}\n  got      frames {:?}\n       and error  {:?}",
        vector.meta.description, want.frames, want.error, got.frames, got.error
    ))
}

/// A small deterministic generator (SplitMix64) for reproducible splits.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Cuts `input` into chunks: about a fifth empty, a fifth of 1 byte, the rest of any size.
fn random_split(input: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut rng = SplitMix(seed);
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < input.len() {
        let left = input.len() - at;
        let len = match rng.below(5) {
            0 => 0,
            1 => 1,
            _ => 1 + rng.below(left),
        }
        .min(left);
        chunks.push(&input[at..at + len]);
        at += len;
    }
    if rng.below(2) == 0 {
        chunks.push(&[]);
    }
    chunks
}

const SPLIT_SEEDS: u64 = 12;

#[test]
fn every_decode_vector_decodes_as_the_spec_says_when_given_whole() {
    check_all(
        &decode_vectors(),
        |v| &v.meta.id,
        |vector| {
            let got = decode_chunks(&reference_config(vector), &[&vector.input], vector.finish);
            compare("whole input", vector, &got)
        },
    );
}

#[test]
fn every_decode_vector_decodes_the_same_one_byte_at_a_time_within_its_memory_bound() {
    // FC-18 (1-byte chunks, each followed by an empty one), FC-19, FC-22.
    check_all(
        &decode_vectors(),
        |v| &v.meta.id,
        |vector| {
            let mut decoder = vector.decoder();
            let limit = vector.limits.max_frame_len() as usize;
            let mut frames = Vec::new();
            let mut error = None;
            'bytes: for (at, byte) in vector.input.iter().enumerate() {
                for chunk in [std::slice::from_ref(byte), &[]] {
                    match decoder.decode(chunk) {
                        Ok(decoded) => {
                            if let Some(frame) = decoded.frame {
                                frames.push(frame.into_owned());
                            }
                        }
                        Err(err) => {
                            error = Some(err);
                            break 'bytes;
                        }
                    }
                    // FC-22: one header plus L at most, and no more reserved than L.
                    if decoder.buffered() > 5 + limit || decoder.reserved() > limit {
                        return Err(format!(
                        "FC-22: after byte {at} the decoder holds {} bytes and reserves {} (L = {limit})",
                        decoder.buffered(),
                        decoder.reserved()
                    ));
                    }
                }
            }
            if error.is_none() && vector.finish {
                error = decoder.finish().err();
            }
            if let Some(err) = error {
                // FC-19: no byte is consumed past the detection offset.
                if decoder.stream_offset() != err.offset {
                    return Err(format!(
                        "FC-19: stream_offset() is {} after an error detected at {}",
                        decoder.stream_offset(),
                        err.offset
                    ));
                }
                if decoder.decode(b"\x00").err() != Some(err) || decoder.finish().err() != Some(err)
                {
                    return Err("FC-19: the error is not reported again".to_string());
                }
            }
            compare(
                "one byte at a time",
                vector,
                &ReferenceOutcome { frames, error },
            )
        },
    );
}

#[test]
fn every_decode_vector_decodes_the_same_under_random_splits() {
    // FC-18: the outcome does not depend on how the stream is cut into reads.
    check_all(
        &decode_vectors(),
        |v| &v.meta.id,
        |vector| {
            let config = reference_config(vector);
            for seed in 0..SPLIT_SEEDS {
                let chunks = random_split(&vector.input, seed);
                let got = decode_chunks(&config, &chunks, vector.finish);
                let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
                compare(
                    &format!("split seed {seed} (chunk sizes {sizes:?})"),
                    vector,
                    &got,
                )?;
            }
            Ok(())
        },
    );
}

#[test]
fn the_reference_decoder_agrees_with_every_decode_vector() {
    check_all(
        &decode_vectors(),
        |v| &v.meta.id,
        |vector| {
            let got = decode_whole(&reference_config(vector), &vector.input, vector.finish);
            compare("reference decoder", vector, &got)
        },
    );
}

#[test]
fn every_open_vector_waits_and_every_clean_vector_finishes() {
    // FC-21: a stream incomplete only for want of bytes is not an error until it ends.
    check_all(
        &decode_vectors(),
        |v| &v.meta.id,
        |vector| {
            let config = reference_config(vector);
            let unfinished = decode_chunks(&config, &[&vector.input], false);
            match vector.end {
                End::Open | End::Clean if unfinished.error.is_some() => Err(format!(
                    "without finish() the decoder reported {:?}",
                    unfinished.error
                )),
                End::Error => {
                    // An error that is not a truncation is found without the end of the stream.
                    let truncation = matches!(
                        vector.error.map(|e| e.kind),
                        Some(DecodeErrorKind::Truncated { .. })
                    );
                    if !truncation && unfinished.error != vector.error {
                        return Err(format!(
                            "without finish() the error is {:?}",
                            unfinished.error
                        ));
                    }
                    if truncation && unfinished.error.is_some() {
                        return Err("a truncation reported before the end of stream".to_string());
                    }
                    Ok(())
                }
                End::Open | End::Clean => Ok(()),
            }
        },
    );
}

#[test]
fn every_canonical_vector_is_exactly_what_the_sending_encoder_writes() {
    let canonical: Vec<DecodeVector> = decode_vectors()
        .into_iter()
        .filter(|v| v.canonical)
        .collect();
    check_all(
        &canonical,
        |v| &v.meta.id,
        |vector| {
            let mut encoder = vector
                .sender_encoder()
                .ok_or("a canonical vector names its profile or has frames")?;
            let mut out = Vec::new();
            for frame in &vector.frames {
                encoder
                    .encode(frame.as_ref(), &mut out)
                    .map_err(|e| format!("the encoder refused {frame:?}: {e}"))?;
            }
            if out != vector.input {
                return Err(format!(
                    "encoder wrote {}\n  the vector's input is {}",
                    hex(&out),
                    hex(&vector.input)
                ));
            }
            Ok(())
        },
    );
}

#[test]
fn every_encode_vector_writes_its_bytes_and_refuses_without_writing() {
    // FC-23, FC-24, FC-25.
    check_all(
        &vectors::encode_vectors(),
        |v| &v.meta.id,
        |vector| {
            let mut encoder = match vector.sender {
                Role::Client => framechat::Encoder::client(vector.profile, vector.limits),
                Role::Server => framechat::Encoder::server(vector.profile, vector.limits),
            };
            let mut out = Vec::new();
            for (index, (frame, want)) in vector.steps.iter().enumerate() {
                let before = out.clone();
                let got: Result<usize, EncodeError> = encoder.encode(frame.as_ref(), &mut out);
                match (got, want) {
                    (Ok(written), None) if written == out.len() - before.len() => {}
                    (Ok(written), None) => {
                        return Err(format!(
                            "frame {index}: encode returned {written} but wrote {}",
                            out.len() - before.len()
                        ))
                    }
                    (Err(got), Some(want)) if got == *want => {
                        if out != before {
                            return Err(format!("frame {index}: FC-23: refused but wrote bytes"));
                        }
                    }
                    (got, want) => {
                        return Err(format!(
                            "frame {index} ({frame:?}): expected {want:?}, got {got:?}"
                        ))
                    }
                }
            }
            if out != vector.output {
                return Err(format!(
                    "wrote {}\n  expected {}",
                    hex(&out),
                    hex(&vector.output)
                ));
            }
            Ok(())
        },
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tags the spec defines (a line, or a list item, that opens with `[FC-n]`), each with the
/// number of the top-level section that defines it. Mentions elsewhere (`[FC-12]` in §1's example)
/// are not definitions.
fn spec_tags() -> BTreeMap<u32, u32> {
    let mut tags = BTreeMap::new();
    let mut section = 0;
    for line in PROTOCOL.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading
                .split('.')
                .next()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(section);
        }
        let item = line.trim_start();
        let item = item.strip_prefix("- ").unwrap_or(item);
        if let Some(rest) = item.strip_prefix("[FC-") {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if rest[digits.len()..].starts_with(']') {
                let tag = digits.parse().expect("digits parse as a tag number");
                let previous = tags.insert(tag, section);
                assert!(previous.is_none(), "FC-{tag} is defined twice");
            }
        }
    }
    tags
}

/// The section numbers of the spec's headings, as `§4.3`.
fn spec_sections() -> BTreeSet<String> {
    PROTOCOL
        .lines()
        .filter_map(|line| {
            line.strip_prefix("### ")
                .or_else(|| line.strip_prefix("## "))
        })
        .filter_map(|heading| heading.split_whitespace().next())
        .filter(|number| number.starts_with(|c: char| c.is_ascii_digit()))
        .map(|number| format!("§{}", number.trim_end_matches('.')))
        .collect()
}

#[test]
fn every_tag_of_sections_3_to_7_is_cited_by_a_vector() {
    // §9: "Every tag from FC-1 to FC-25 is cited by at least one vector", read from the spec.
    let tags = spec_tags();
    let on_the_bytes: BTreeSet<u32> = tags
        .iter()
        .filter(|(_, section)| (3..=7).contains(*section))
        .map(|(tag, _)| *tag)
        .collect();
    let prose = PROTOCOL.split_whitespace().collect::<Vec<_>>().join(" ");
    let claim = prose
        .split("Every tag from FC-")
        .nth(1)
        .expect("§9 states which tags the vectors cite");
    let first: u32 = claim
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("FC-a");
    let last: u32 = claim
        .split("to FC-")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("to FC-b");
    let claimed: BTreeSet<u32> = (first..=last).collect();
    assert_eq!(
        on_the_bytes, claimed,
        "§9's range is the set of tags of §3 to §7"
    );
    let cited: BTreeSet<u32> = vectors::load()
        .iter()
        .flat_map(|v| v.meta().tags.clone())
        .map(|tag| {
            tag.trim_start_matches("FC-")
                .parse()
                .expect("tags read FC-n")
        })
        .collect();
    let missing: Vec<String> = on_the_bytes
        .difference(&cited)
        .map(|tag| format!("FC-{tag}"))
        .collect();
    assert!(missing.is_empty(), "tags no vector cites: {missing:?}");
}

#[test]
fn every_vector_cites_existing_tags_and_sections_under_a_unique_id() {
    let tags = spec_tags();
    let sections = spec_sections();
    assert!(
        sections.contains("§4.3") && sections.contains("§5"),
        "headings parsed: {sections:?}"
    );
    let all = vectors::load();
    let mut ids = BTreeSet::new();
    check_all(
        &all,
        |v| &v.meta().id,
        |vector| {
            let meta = vector.meta();
            let well_formed = !meta.id.is_empty()
                && meta
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !well_formed {
                return Err("ids are lowercase, digits and '-'".to_string());
            }
            if meta.tags.is_empty() || meta.sections.is_empty() {
                return Err("a vector cites at least one tag and one section".to_string());
            }
            for tag in &meta.tags {
                let number: u32 = tag
                    .strip_prefix("FC-")
                    .and_then(|n| n.parse().ok())
                    .ok_or(format!("tag {tag:?} is not FC-n"))?;
                if !tags.contains_key(&number) {
                    return Err(format!("{tag} is not defined in PROTOCOL.md"));
                }
            }
            for section in &meta.sections {
                if !sections.contains(section) {
                    return Err(format!("{section} is not a heading of PROTOCOL.md"));
                }
            }
            Ok(())
        },
    );
    for vector in &all {
        assert!(
            ids.insert(vector.meta().id.clone()),
            "duplicate id {}",
            vector.meta().id
        );
    }
}

#[test]
fn the_vectors_cover_every_error_kind_and_every_frame_each_way_it_travels() {
    let decode = decode_vectors();
    let kinds: BTreeSet<&str> = decode
        .iter()
        .filter_map(|v| v.error.map(|e| error_kind_name(&e)))
        .collect();
    for kind in [
        "BadPreface",
        "InvalidFrameType",
        "UnexpectedFrameType",
        "FrameTooLarge",
        "BadLength",
        "InvalidUtf8",
        "Truncated",
    ] {
        assert!(kinds.contains(kind), "no vector expects {kind}");
    }
    // §4.3's direction column: each frame type decoded by each receiver it may reach.
    let received: std::collections::HashSet<(Option<u8>, Role)> = decode
        .iter()
        .flat_map(|v| v.frames.iter().map(move |f| (f.frame_type(), v.receiver)))
        .collect();
    let both = [Role::Client, Role::Server];
    let ways: [(Option<u8>, &[Role]); 8] = [
        (None, &both),
        (Some(0x80), &[Role::Client]),
        (Some(0x81), &[Role::Server]),
        (Some(0x82), &[Role::Client]),
        (Some(0x83), &[Role::Client]),
        (Some(0x84), &both),
        (Some(0x85), &both),
        (Some(0x86), &both),
    ];
    for (frame_type, receivers) in ways {
        for receiver in receivers {
            assert!(
                received.contains(&(frame_type, *receiver)),
                "no vector has a {receiver:?} receive type {frame_type:?}"
            );
        }
    }
    let valid = decode.iter().filter(|v| v.error.is_none()).count();
    let invalid = decode.len() - valid;
    assert!(valid > 0 && invalid > 0, "valid {valid}, invalid {invalid}");
    let refusals: BTreeSet<String> = vectors::encode_vectors()
        .iter()
        .flat_map(|v| {
            v.steps
                .iter()
                .filter_map(|(_, e)| e.map(|e| format!("{e:?}")))
        })
        .map(|e| e.split([' ', '{']).next().unwrap_or_default().to_string())
        .collect();
    for kind in ["WrongProfile", "WrongDirection", "TooLarge"] {
        assert!(
            refusals.contains(kind),
            "no encode vector expects {kind}: {refusals:?}"
        );
    }
}

fn error_kind_name(error: &DecodeError) -> &'static str {
    match error.kind {
        DecodeErrorKind::BadPreface { .. } => "BadPreface",
        DecodeErrorKind::InvalidFrameType { .. } => "InvalidFrameType",
        DecodeErrorKind::UnexpectedFrameType { .. } => "UnexpectedFrameType",
        DecodeErrorKind::FrameTooLarge { .. } => "FrameTooLarge",
        DecodeErrorKind::BadLength { .. } => "BadLength",
        DecodeErrorKind::InvalidUtf8 { .. } => "InvalidUtf8",
        DecodeErrorKind::Truncated { .. } => "Truncated",
        _ => "other",
    }
}

#[test]
fn vector_counts_are_reported() {
    // Not an assertion on counts: a census printed with `--nocapture`, and a floor so that an
    // accidentally emptied file fails.
    let all = vectors::load();
    let decode = decode_vectors();
    let valid = decode.iter().filter(|v| v.error.is_none()).count();
    let by_file = all.iter().fold(BTreeMap::new(), |mut map, v| {
        *map.entry(v.meta().file.clone()).or_insert(0) += 1;
        map
    });
    println!(
        "{} vectors: {} decode ({} valid, {} invalid), {} encode; per file {by_file:?}",
        all.len(),
        decode.len(),
        valid,
        decode.len() - valid,
        all.len() - decode.len()
    );
    for (file, count) in by_file {
        assert!(count >= 5, "{file} holds only {count} vectors");
    }
    assert!(all.iter().any(|v| matches!(v, Vector::Encode(_))));
}
