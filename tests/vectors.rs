//! Conformance: the spec's vectors (§9) through the real decoder, the encoder and the reference.

#[path = "../spec/reference.rs"]
mod reference;

use framechat::{DecodeErrorKind, Frame, Limits, Part, Role};
use reference::{decode_chunks, decode_whole, Mode, ReferenceConfig};

fn config(role: Role, mode: Mode) -> ReferenceConfig {
    ReferenceConfig {
        role,
        mode,
        limits: Limits::default(),
    }
}

#[test]
fn reference_and_real_decoder_agree_on_the_crate_doc_example() {
    // §3.1: 00 00 00 02 68 69 is the legacy frame "hi".
    let stream = [0, 0, 0, 2, 0x68, 0x69];
    let config = config(Role::Client, Mode::Legacy);
    let whole = decode_whole(&config, &stream, true);
    assert_eq!(whole.frames, [Frame::Text("hi".to_string())]);
    assert_eq!(whole.error, None);
    assert_eq!(
        decode_chunks(&config, &[&stream[..3], &[], &stream[3..]], true),
        whole
    );
}

#[test]
fn reference_reports_a_detect_stream_cut_after_two_bytes_as_a_truncated_header() {
    // §5: fewer than 4 bytes at the end of the stream end inside a header of 4 bytes.
    let config = config(Role::Server, Mode::Detect);
    let outcome = decode_whole(&config, &[0xff, 0x46], true);
    let error = outcome.error.expect("FC-21: a cut header is Truncated");
    assert_eq!(
        error.kind,
        DecodeErrorKind::Truncated {
            part: Part::Header,
            received: 2,
            expected: 4
        }
    );
    assert_eq!(decode_chunks(&config, &[&[0xff], &[0x46]], true), outcome);
}
