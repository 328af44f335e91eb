//! Conformance of the cluster bus (§11.2): every vector of `spec/vectors/bus/` through
//! `Envelope::decode` and `Envelope::encode`. The runner contract is in
//! `spec/vectors/bus/README.md`.
//!
//! Each test runs every vector and reports every failing one by id, not just the first.
#![cfg(feature = "cluster")]

use std::collections::BTreeSet;

use framechat::cluster::{BusDecodeError, BusEncodeError, Envelope, Origin, RelayedMessage};
use framechat::{
    DecodeError, DecodeErrorKind, EncodeError, Limits, Part, Profile, Role, UnixMicros,
};
use serde_json::Value;

const PROTOCOL: &str = include_str!("../spec/PROTOCOL.md");
const VECTORS: &str = include_str!("../spec/vectors/bus/bus.json");

fn vectors() -> Vec<Value> {
    let root: Value = serde_json::from_str(VECTORS).expect("bus.json is JSON");
    let list = root["vectors"]
        .as_array()
        .expect("a \"vectors\" array")
        .clone();
    assert!(!list.is_empty(), "no bus vectors");
    list
}

fn of_type(kind: &str) -> Vec<Value> {
    vectors()
        .into_iter()
        .filter(|vector| vector["type"] == kind)
        .collect()
}

fn id(vector: &Value) -> &str {
    vector["id"].as_str().unwrap_or("<no id>")
}

/// Runs `check` on each vector and fails once with every failing id.
fn check_all(vectors: &[Value], check: impl Fn(&Value) -> Result<(), String>) {
    assert!(!vectors.is_empty(), "no vectors to check");
    let failures: Vec<String> = vectors
        .iter()
        .filter_map(|vector| {
            check(vector)
                .err()
                .map(|why| format!("{}: {why}", id(vector)))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

fn u64_field(value: &Value, name: &str) -> u64 {
    value[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} is an integer in {value}"))
}

fn u32_field(value: &Value, name: &str) -> u32 {
    u32::try_from(u64_field(value, name)).unwrap_or_else(|_| panic!("{name} fits a u32"))
}

fn usize_field(value: &Value, name: &str) -> usize {
    usize::try_from(u64_field(value, name)).unwrap_or_else(|_| panic!("{name} fits a usize"))
}

fn str_field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} is a string in {value}"))
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "hex of odd length");
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("lowercase hex"))
        .collect()
}

fn limits(vector: &Value) -> Limits {
    Limits::new(u32_field(vector, "limit")).expect("a vector's limit is valid (§6.1)")
}

fn parse_envelope(value: &Value) -> Envelope {
    let origin = Origin {
        node: u64_field(value, "node"),
        epoch: u64_field(value, "epoch"),
    };
    match str_field(value, "kind") {
        "message" => Envelope::Message {
            origin,
            seq: u64_field(value, "seq"),
            message: RelayedMessage {
                from: u64_field(value, "from"),
                sent_at: UnixMicros(u64_field(value, "sent_at")),
                relayed_at: UnixMicros(u64_field(value, "relayed_at")),
                text: str_field(value, "text").to_owned(),
            },
        },
        "heartbeat" => Envelope::Heartbeat {
            origin,
            last_seq: u64_field(value, "last_seq"),
        },
        other => panic!("unknown envelope kind {other}"),
    }
}

/// A frame's decoding error, in the form of `spec/vectors/README.md`.
fn parse_frame_error(value: &Value) -> DecodeError {
    let kind = match str_field(value, "kind") {
        "FrameTooLarge" => DecodeErrorKind::FrameTooLarge {
            declared: u32_field(value, "declared"),
            limit: u32_field(value, "limit"),
        },
        "BadLength" => DecodeErrorKind::BadLength {
            frame_type: u8::try_from(u64_field(value, "frame_type")).expect("a type byte"),
            declared: u32_field(value, "declared"),
            min: u32_field(value, "min"),
            max: value["max"].as_u64().map(|max| max as u32),
        },
        "InvalidUtf8" => DecodeErrorKind::InvalidUtf8 {
            valid_up_to: u32_field(value, "valid_up_to"),
        },
        "Truncated" => DecodeErrorKind::Truncated {
            part: match str_field(value, "part") {
                "preface" => Part::Preface,
                "header" => Part::Header,
                "payload" => Part::Payload,
                other => panic!("unknown part {other}"),
            },
            received: u32_field(value, "received"),
            expected: u32_field(value, "expected"),
        },
        "UnexpectedFrameType" => DecodeErrorKind::UnexpectedFrameType {
            frame_type: u8::try_from(u64_field(value, "frame_type")).expect("a type byte"),
            receiver: match str_field(value, "receiver") {
                "client" => Role::Client,
                _ => Role::Server,
            },
        },
        other => panic!("a frame error the bus vectors do not use: {other}"),
    };
    DecodeError {
        kind,
        offset: u64_field(value, "offset"),
        frame_index: u64_field(value, "frame_index"),
    }
}

fn parse_decode_error(value: &Value) -> BusDecodeError {
    match str_field(value, "type") {
        "Short" => BusDecodeError::Short {
            len: usize_field(value, "len"),
            needed: usize_field(value, "needed"),
        },
        "UnsupportedVersion" => BusDecodeError::UnsupportedVersion {
            version: u8::try_from(u64_field(value, "version")).expect("a byte"),
        },
        "UnknownKind" => BusDecodeError::UnknownKind {
            kind: u8::try_from(u64_field(value, "kind")).expect("a byte"),
        },
        "ZeroSequence" => BusDecodeError::ZeroSequence,
        "WrongFrameType" => BusDecodeError::WrongFrameType {
            frame_type: u8::try_from(u64_field(value, "frame_type")).expect("a byte"),
        },
        "Frame" => BusDecodeError::Frame(parse_frame_error(&value["frame"])),
        "TrailingBytes" => BusDecodeError::TrailingBytes {
            extra: usize_field(value, "extra"),
        },
        "ForeignPeerId" => BusDecodeError::ForeignPeerId {
            from: u64_field(value, "from"),
            node: u64_field(value, "node"),
        },
        other => panic!("unknown bus error {other}"),
    }
}

fn parse_encode_error(value: &Value) -> BusEncodeError {
    match str_field(value, "type") {
        "ZeroSequence" => BusEncodeError::ZeroSequence,
        "ForeignPeerId" => BusEncodeError::ForeignPeerId {
            from: u64_field(value, "from"),
            node: u64_field(value, "node"),
        },
        "Frame" => {
            let frame = &value["frame"];
            assert_eq!(
                str_field(frame, "kind"),
                "TooLarge",
                "the only refusal used"
            );
            BusEncodeError::Frame(EncodeError::TooLarge {
                payload_len: usize_field(frame, "payload_len"),
                limit: u32_field(frame, "limit"),
            })
        }
        other => panic!("unknown bus refusal {other}"),
    }
}

fn expected_outcome(vector: &Value) -> Result<Envelope, BusDecodeError> {
    let expect = &vector["expect"];
    match (&expect["envelope"], &expect["error"]) {
        (envelope, Value::Null) => Ok(parse_envelope(envelope)),
        (Value::Null, error) => Err(parse_decode_error(error)),
        _ => panic!("a vector expects an envelope or an error, not both"),
    }
}

#[test]
fn every_decode_vector_gives_its_envelope_or_its_error() {
    check_all(&of_type("decode"), |vector| {
        let input = hex(str_field(vector, "input"));
        let got = Envelope::decode(&input, limits(vector));
        let want = expected_outcome(vector);
        if got == want {
            Ok(())
        } else {
            Err(format!("expected {want:?}\n  got {got:?}"))
        }
    });
}

#[test]
fn no_proper_prefix_of_a_valid_envelope_decodes() {
    let valid: Vec<Value> = of_type("decode")
        .into_iter()
        .filter(|vector| vector["expect"]["error"].is_null())
        .collect();
    check_all(&valid, |vector| {
        let input = hex(str_field(vector, "input"));
        match (0..input.len()).find(|&len| Envelope::decode(&input[..len], limits(vector)).is_ok())
        {
            None => Ok(()),
            Some(len) => Err(format!("its first {len} bytes decode")),
        }
    });
}

#[test]
fn every_canonical_envelope_encodes_to_its_input() {
    let canonical: Vec<Value> = of_type("decode")
        .into_iter()
        .filter(|vector| vector["canonical"] == true)
        .collect();
    check_all(&canonical, |vector| {
        let envelope = parse_envelope(&vector["expect"]["envelope"]);
        let mut out = Vec::new();
        envelope
            .encode(limits(vector), &mut out)
            .map_err(|refused| format!("refused: {refused}"))?;
        let want = str_field(vector, "input");
        let got = out
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>();
        if got == want {
            Ok(())
        } else {
            Err(format!("expected {want}\n  got {got}"))
        }
    });
}

#[test]
fn every_encode_vector_writes_its_output_or_refuses_leaving_the_output_untouched() {
    check_all(&of_type("encode"), |vector| {
        let envelope = parse_envelope(&vector["envelope"]);
        let already = b"earlier".to_vec();
        let mut out = already.clone();
        let result = envelope.encode(limits(vector), &mut out);
        let written = &out[already.len()..];
        let want_output = hex(str_field(&vector["expect"], "output"));
        let want_result = match &vector["expect"]["error"] {
            Value::Null => Ok(want_output.len()),
            error => Err(parse_encode_error(error)),
        };
        if !out.starts_with(&already) {
            return Err("the bytes already in the output changed".to_string());
        }
        if result != want_result || written != want_output.as_slice() {
            return Err(format!(
                "expected {want_result:?} writing {want_output:02x?}\n  got {result:?} writing {written:02x?}"
            ));
        }
        Ok(())
    });
}

#[test]
fn vector_ids_are_unique() {
    let all = vectors();
    let ids: BTreeSet<&str> = all.iter().map(id).collect();
    assert_eq!(ids.len(), all.len(), "duplicate vector ids");
}

/// The `FC-n` tags of §11.2, the envelope's bytes, read from the spec.
fn envelope_tags() -> BTreeSet<String> {
    let section = PROTOCOL
        .split("### 11.2 ")
        .nth(1)
        .and_then(|rest| rest.split("\n### ").next())
        .expect("§11.2 is in the spec");
    section
        .split("[FC-")
        .skip(1)
        .filter_map(|rest| rest.split(']').next())
        .map(|number| format!("FC-{number}"))
        .collect()
}

#[test]
fn every_tag_on_the_envelopes_bytes_is_cited_by_a_vector() {
    // §11: "Every tag on the bytes of an envelope, from FC-38 to FC-41, is cited by at least one
    // vector", read from the spec.
    let prose = PROTOCOL.split_whitespace().collect::<Vec<_>>().join(" ");
    let claim = prose
        .split("Every tag on the bytes of an envelope, from FC-")
        .nth(1)
        .expect("§11 states which tags the bus vectors cite");
    let bound = |text: &str| -> u32 {
        text.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a tag number")
    };
    let first = bound(claim);
    let last = bound(claim.split("to FC-").nth(1).expect("to FC-b"));
    let claimed: BTreeSet<String> = (first..=last).map(|n| format!("FC-{n}")).collect();
    let section_tags = envelope_tags();
    assert!(
        claimed.is_subset(&section_tags),
        "the claimed range {claimed:?} lies in §11.2"
    );
    let cited: BTreeSet<String> = vectors()
        .iter()
        .flat_map(|vector| vector["tags"].as_array().cloned().unwrap_or_default())
        .filter_map(|tag| tag.as_str().map(str::to_owned))
        .collect();
    let missing: Vec<&String> = claimed.difference(&cited).collect();
    assert!(
        missing.is_empty(),
        "tags cited by no bus vector: {missing:?}"
    );
    let unknown: Vec<&String> = cited.difference(&section_tags).collect();
    assert!(
        unknown.is_empty(),
        "bus vectors cite tags outside §11.2: {unknown:?}"
    );
}

#[test]
fn the_inner_frame_is_read_as_a_typed_client_reads_it() {
    // FC-39 names the decoder; this keeps the runner honest about `Profile` and `Role` too: the
    // first valid message's frame, alone, is what a typed client's decoder accepts.
    let vector = of_type("decode")
        .into_iter()
        .find(|vector| vector["expect"]["envelope"]["kind"] == "message")
        .expect("a valid message vector");
    let input = hex(str_field(&vector, "input"));
    let mut decoder = framechat::Decoder::client(Profile::Typed, limits(&vector));
    let decoded = decoder.decode(&input[26..]).expect("the frame decodes");
    assert_eq!(decoded.consumed, input.len() - 26);
    assert!(decoded.frame.is_some());
}
