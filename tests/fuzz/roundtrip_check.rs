//! The `roundtrip` target's checks, shared by `tests/fuzz_regressions.rs` and the fuzz crate in
//! `fuzz/` (which includes this file by path): valid frames, encoded, then decoded in chunks the
//! fuzzer chooses, come back unchanged.
//!
//! The input is read through [`arbitrary::Unstructured`], in this order: a
//! [`framechat::generators::fuzzing::ValidStream`] (profile, sending role, limit, frames); whether a server
//! receiver detects the profile (§5); whether a typed client writes its preface before its first
//! frame; for a typed stream, before each frame, an optional frame of an unassigned or reserved type
//! (`0x87..=0xbf` but AUTH's `0x88`, FC-11) with a payload of up to 255 bytes, which the receiver must skip; then the
//! chunk lengths (one byte each), the stream's rest being one more chunk.

use arbitrary::{Arbitrary, Unstructured};
use framechat::generators::fuzzing::ValidStream;
use framechat::wire::{fixed_len, PREFACE, TYPED_HEADER_LEN};
use framechat::{Encoder, Profile, Role};

use crate::decode_check::{drive, finish};
use crate::reference::{self, Mode, ReferenceConfig};

/// Everything the `roundtrip` target asserts about one input.
pub fn check_roundtrip_input(data: &[u8]) -> arbitrary::Result<()> {
    let mut u = Unstructured::new(data);
    let stream = ValidStream::arbitrary(&mut u)?;
    let detect = stream.sender == Role::Client && bool::arbitrary(&mut u)?;
    let preface_first = bool::arbitrary(&mut u)?;

    let mut encoder = match stream.sender {
        Role::Client => Encoder::client(stream.profile, stream.limits),
        Role::Server => Encoder::server(stream.profile, stream.limits),
    };
    let owes_preface = stream.profile == Profile::Typed && stream.sender == Role::Client;
    let mut wire = Vec::new();
    if preface_first {
        let written = encoder.write_preface(&mut wire);
        assert_eq!(
            written,
            if owes_preface { PREFACE.len() } else { 0 },
            "FC-25: the preface, once"
        );
    }
    let mut skipped = 0u64;
    for frame in &stream.frames {
        if stream.profile == Profile::Typed && bool::arbitrary(&mut u)? {
            // A type §4.3 assigns in that range (AUTH, `0x88`) is not skipped: draw again below it.
            let frame_type = match u.int_in_range(0x87u8..=0xbf)? {
                assigned if fixed_len::of(assigned).is_some() => 0x87,
                unassigned => unassigned,
            };
            // Within the limit a receiver applies to unassigned types: `L` itself (FC-11, FC-14).
            let len = u32::from(u8::arbitrary(&mut u)?).min(stream.limits.max_frame_len());
            let payload = u.bytes(len as usize)?;
            encoder.write_preface(&mut wire);
            wire.push(frame_type);
            wire.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            wire.extend_from_slice(payload);
            skipped += 1;
        }
        let before = wire.len();
        let preface_due = owes_preface && !wire.starts_with(PREFACE);
        let written = encoder
            .encode(frame.as_ref(), &mut wire)
            .expect("FC-24: a valid frame is accepted");
        assert_eq!(
            written,
            wire.len() - before,
            "encode() returns the bytes it appended"
        );
        let header = if stream.profile == Profile::Typed {
            TYPED_HEADER_LEN
        } else {
            4
        };
        let preface = if preface_due { PREFACE.len() } else { 0 };
        assert_eq!(
            written,
            preface + header + frame.payload_len(),
            "FC-25: preface once, then whole frames"
        );
    }
    if owes_preface && !stream.frames.is_empty() {
        assert!(
            wire.starts_with(PREFACE),
            "FC-25: a typed client starts with the preface"
        );
    }

    let chunk_lens: Vec<u8> = u.arbitrary()?;
    let mut rest = &wire[..];
    let mut chunks = Vec::new();
    for len in chunk_lens {
        let (chunk, tail) = rest.split_at(usize::from(len).min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks.push(rest);

    let mode = match (detect, stream.profile) {
        (true, _) => Mode::Detect,
        (false, Profile::Legacy) => Mode::Legacy,
        (false, Profile::Typed) => Mode::Typed,
    };
    let config = ReferenceConfig {
        role: stream.sender.peer(),
        mode,
        limits: stream.limits,
    };
    let mut run = drive(&config, &chunks);
    assert_eq!(
        run.error, None,
        "a stream of valid frames decodes without error"
    );
    assert_eq!(
        run.frames, stream.frames,
        "decode(encode(frames)) == frames"
    );
    assert_eq!(
        run.decoder.frames_skipped(),
        skipped,
        "FC-11: every unassigned frame skipped"
    );
    assert_eq!(
        run.decoder.stream_offset(),
        wire.len() as u64,
        "the whole stream consumed"
    );
    if detect && !wire.is_empty() {
        assert_eq!(
            run.decoder.profile(),
            Some(stream.profile),
            "§5: the profile detected"
        );
    }
    assert_eq!(
        finish(&mut run),
        Ok(()),
        "FC-21: a stream of whole frames ends cleanly"
    );

    let expected = reference::decode_whole(&config, &wire, true);
    assert_eq!(
        expected.error, None,
        "the reference decoder accepts the stream"
    );
    assert_eq!(
        expected.frames, stream.frames,
        "the reference decoder reads the same frames"
    );
    Ok(())
}
