//! The `decode` target's input layout and the checks it runs, shared by `tests/fuzz_regressions.rs`
//! (which replays inputs on stable) and the fuzz crate in `fuzz/` (which includes this file by path).
//!
//! # Input layout
//!
//! ```text
//! byte 0      configuration bits:
//!               bit 0     role: 0 client, 1 server
//!               bits 1-2  mode: 0 legacy, 1 typed, 2 detect, 3 typed (detect implies server)
//!               bits 3-4  limit: 0 or 1 → 64 + u16 of bytes 1-2, 2 → 1 MiB default, 3 → 2^31 − 1
//!               bits 5-7  ignored
//! bytes 1-2   u16 big-endian, the limit's offset above 64 when bits 3-4 say so
//! byte 3      n: how many chunk lengths follow
//! bytes 4..   n chunk lengths, one u8 each (0 is an empty chunk); cut short if the input is
//! then        the stream: cut into chunks of those lengths in order, the rest as a last chunk
//! ```
//!
//! An input shorter than 4 bytes is ignored.

use framechat::{DecodeError, DecodeErrorKind, Decoder, Frame, Limits, Profile, Role};

use crate::reference::{self, Mode, ReferenceConfig};

/// One parsed `decode` input.
#[derive(Clone, Debug)]
pub struct DecodeCase<'d> {
    /// The receiver under test.
    pub config: ReferenceConfig,
    /// Chunk lengths, in order (the stream's rest is one more chunk).
    pub chunk_lens: Vec<u8>,
    /// The stream.
    pub data: &'d [u8],
}

/// How a `decode` input states its limit.
#[derive(Clone, Copy, Debug)]
pub enum LimitChoice {
    /// `64 + offset`.
    Small(u16),
    /// [`Limits::DEFAULT_MAX_FRAME_LEN`].
    Default,
    /// [`Limits::MAX_FRAME_LEN`].
    Max,
}

impl<'d> DecodeCase<'d> {
    /// Reads an input laid out as the module docs say; `None` if it is shorter than 4 bytes.
    pub fn parse(input: &'d [u8]) -> Option<DecodeCase<'d>> {
        if input.len() < 4 {
            return None;
        }
        let bits = input[0];
        let mode = match (bits >> 1) & 3 {
            0 => Mode::Legacy,
            2 => Mode::Detect,
            _ => Mode::Typed,
        };
        let role = if bits & 1 == 1 || mode == Mode::Detect {
            Role::Server
        } else {
            Role::Client
        };
        let max_frame_len = match (bits >> 3) & 3 {
            2 => Limits::DEFAULT_MAX_FRAME_LEN,
            3 => Limits::MAX_FRAME_LEN,
            _ => Limits::MIN_FRAME_LEN + u32::from(u16::from_be_bytes([input[1], input[2]])),
        };
        let limits =
            Limits::new(max_frame_len).expect("64..=65599 and the two named limits are valid");
        let n = usize::from(input[3]).min(input.len() - 4);
        Some(DecodeCase {
            config: ReferenceConfig { role, mode, limits },
            chunk_lens: input[4..4 + n].to_vec(),
            data: &input[4 + n..],
        })
    }

    /// The chunks the stream is cut into.
    pub fn chunks(&self) -> Vec<&'d [u8]> {
        let mut rest = self.data;
        let mut chunks = Vec::with_capacity(self.chunk_lens.len() + 1);
        for &len in &self.chunk_lens {
            let (chunk, tail) = rest.split_at(usize::from(len).min(rest.len()));
            chunks.push(chunk);
            rest = tail;
        }
        chunks.push(rest);
        chunks
    }
}

/// Lays out a `decode` input (for seeds and tests); the inverse of [`DecodeCase::parse`].
pub fn encode_input(
    role: Role,
    mode: Mode,
    limit: LimitChoice,
    chunk_lens: &[u8],
    data: &[u8],
) -> Vec<u8> {
    let role_bit = u8::from(role == Role::Server);
    let mode_bits = match mode {
        Mode::Legacy => 0,
        Mode::Typed => 1,
        Mode::Detect => 2,
    };
    let (limit_bits, offset) = match limit {
        LimitChoice::Small(offset) => (0, offset),
        LimitChoice::Default => (2, 0),
        LimitChoice::Max => (3, 0),
    };
    let n = u8::try_from(chunk_lens.len()).expect("at most 255 chunk lengths");
    let mut input = vec![role_bit | mode_bits << 1 | limit_bits << 3];
    input.extend_from_slice(&offset.to_be_bytes());
    input.push(n);
    input.extend_from_slice(chunk_lens);
    input.extend_from_slice(data);
    input
}

/// What driving a decoder over some chunks gave, and the decoder itself for further checks.
#[derive(Debug)]
pub struct Run {
    /// Frames delivered, in order.
    pub frames: Vec<Frame<String>>,
    /// The error that stopped the run, if any.
    pub error: Option<DecodeError>,
    /// The decoder after the last chunk (or after the error).
    pub decoder: Decoder,
}

/// The largest header of the decoder's profile (4 while a detecting decoder has not decided).
fn header_len(decoder: &Decoder) -> usize {
    match decoder.profile() {
        Some(Profile::Typed) => framechat::wire::TYPED_HEADER_LEN,
        _ => framechat::wire::LEGACY_HEADER_LEN,
    }
}

/// FC-22 and the progress counters, after any call that did not fail.
fn check_progress(decoder: &Decoder, received: u64, delivered: usize) {
    let limit = decoder.limits().max_frame_len() as usize;
    assert_eq!(
        decoder.stream_offset(),
        received,
        "stream_offset() counts the bytes consumed"
    );
    assert!(
        decoder.buffered() <= header_len(decoder) + limit,
        "FC-22: buffered() = {} holds more than a header plus the limit {limit}",
        decoder.buffered()
    );
    assert!(
        decoder.buffered() as u64 <= received,
        "FC-22: buffered() = {} exceeds the {received} bytes received",
        decoder.buffered()
    );
    assert!(
        decoder.reserved() <= limit,
        "FC-22: reserved() = {} exceeds the limit {limit}",
        decoder.reserved()
    );
    // Amortized doubling may reserve as many bytes again as arrived, never more (FC-22).
    assert!(
        decoder.reserved() as u64 <= 2 * received,
        "FC-22: reserved() = {} exceeds twice the {received} bytes received",
        decoder.reserved()
    );
    assert_eq!(
        decoder.frames_completed() - decoder.frames_skipped(),
        delivered as u64,
        "frames_completed() counts the delivered frames plus the skipped ones"
    );
    assert_eq!(decoder.error(), None, "no error reported, none recorded");
}

/// FC-19: a failed decoder repeats its error, consumes nothing and yields no frame.
fn check_sticky(decoder: &mut Decoder, error: DecodeError, more: &[u8]) {
    let offset = decoder.stream_offset();
    assert_eq!(
        error.offset, offset,
        "FC-20: the error's offset is the bytes taken in"
    );
    assert_eq!(
        error.frame_index,
        decoder.frames_completed(),
        "FC-20: the error's frame index"
    );
    assert_eq!(
        decoder.error(),
        Some(error),
        "FC-19: error() tells the terminal error"
    );
    for input in [more, &[][..], &[0x00, 0x80, 0xff][..]] {
        assert_eq!(
            decoder.decode(input),
            Err(error),
            "FC-19: the same error again"
        );
        assert_eq!(
            decoder.stream_offset(),
            offset,
            "FC-19: nothing more consumed"
        );
    }
    assert_eq!(
        decoder.finish(),
        Err(error),
        "FC-19: finish() repeats the error"
    );
    assert_eq!(
        decoder.stream_offset(),
        offset,
        "FC-19: nothing more consumed"
    );
}

/// Drives a fresh decoder for `config` over `chunks` as the crate's recipe says, checking after
/// every call what must hold whatever the input.
pub fn drive(config: &ReferenceConfig, chunks: &[&[u8]]) -> Run {
    let mut decoder = reference::real_decoder(config);
    let mut frames = Vec::new();
    let mut received = 0u64;
    for chunk in chunks {
        let mut input = *chunk;
        loop {
            let before = decoder.stream_offset();
            let (consumed, frame) = match decoder.decode(input) {
                Ok(decoded) => (decoded.consumed, decoded.frame.map(Frame::into_owned)),
                Err(error) => {
                    let taken = decoder.stream_offset() - before;
                    assert!(
                        taken <= input.len() as u64,
                        "took {taken} bytes of a {}-byte input",
                        input.len()
                    );
                    check_sticky(&mut decoder, error, &input[taken as usize..]);
                    return Run {
                        frames,
                        error: Some(error),
                        decoder,
                    };
                }
            };
            assert!(
                consumed <= input.len(),
                "consumed {consumed} of a {}-byte input",
                input.len()
            );
            if frame.is_none() {
                assert_eq!(
                    consumed,
                    input.len(),
                    "no frame: the whole input is consumed"
                );
            }
            received += consumed as u64;
            input = &input[consumed..];
            let done = frame.is_none();
            frames.extend(frame);
            check_progress(&decoder, received, frames.len());
            if done {
                break;
            }
        }
    }
    Run {
        frames,
        error: None,
        decoder,
    }
}

/// Ends a run (FC-21) and checks what a finished decoder does; returns `finish()`'s result.
pub fn finish(run: &mut Run) -> Result<(), DecodeError> {
    let decoder = &mut run.decoder;
    let offset = decoder.stream_offset();
    let result = decoder.finish();
    match result {
        Ok(()) => {
            assert!(
                !decoder.is_mid_frame(),
                "FC-21: a clean end is between frames"
            );
            assert_eq!(
                decoder.finish(),
                Ok(()),
                "finish() twice is still a clean end"
            );
            let empty = decoder
                .decode(&[])
                .expect("an empty input after a clean finish is no error");
            assert_eq!((empty.consumed, empty.frame), (0, None));
            let after = decoder
                .decode(b"\x00")
                .expect_err("input after finish() is refused");
            assert_eq!(after.kind, DecodeErrorKind::InputAfterFinish);
            assert_eq!(after.offset, offset);
        }
        Err(error) => {
            assert!(
                matches!(error.kind, DecodeErrorKind::Truncated { .. }) || Some(error) == run.error,
                "FC-21: finish() reports Truncated or the earlier error, got {error:?}"
            );
            check_sticky(decoder, error, b"\x00");
        }
    }
    assert_eq!(decoder.stream_offset(), offset, "finish() consumes nothing");
    result
}

/// The observable state two runs over the same bytes must share (FC-18).
fn progress(decoder: &Decoder) -> (u64, u64, u64, Option<Profile>, bool) {
    (
        decoder.stream_offset(),
        decoder.frames_completed(),
        decoder.frames_skipped(),
        decoder.profile(),
        decoder.is_mid_frame(),
    )
}

/// Everything the `decode` target asserts about one input.
pub fn check_decode_case(case: &DecodeCase<'_>) {
    let config = &case.config;
    let mut whole = drive(config, &[case.data]);
    let mut split = drive(config, &case.chunks());

    // FC-18: the chunks change nothing, the error's offset and frame index included.
    assert_eq!(
        split.frames, whole.frames,
        "FC-18: same frames whole and split"
    );
    assert_eq!(
        split.error, whole.error,
        "FC-18: same error whole and split"
    );
    assert_eq!(
        progress(&split.decoder),
        progress(&whole.decoder),
        "FC-18: same progress"
    );

    // Agreement with the reference decoder, before and at the end of the stream.
    let expected = reference::decode_whole(config, case.data, false);
    assert_eq!(
        whole.frames, expected.frames,
        "frames agree with the reference decoder"
    );
    assert_eq!(
        whole.error, expected.error,
        "error agrees with the reference decoder"
    );

    let ended = reference::decode_whole(config, case.data, true);
    assert_eq!(
        ended.frames, whole.frames,
        "the end of the stream adds no frame"
    );
    let whole_end = finish(&mut whole);
    let split_end = finish(&mut split);
    assert_eq!(split_end, whole_end, "FC-18: same end whole and split");
    assert_eq!(
        whole_end.err(),
        ended.error,
        "end agrees with the reference decoder"
    );
}

/// The `decode` target: parse, then check.
pub fn check_decode_input(input: &[u8]) {
    if let Some(case) = DecodeCase::parse(input) {
        check_decode_case(&case);
    }
}
