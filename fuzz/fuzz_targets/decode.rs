//! Fuzz target `decode`: arbitrary bytes, a fuzzer-chosen receiver and fuzzer-chosen chunks.
//!
//! Input layout (config bytes, then chunk lengths, then the stream), as `tests/fuzz/decode_check.rs`
//! documents it and `seed-corpus.sh` follows it:
//!
//! ```text
//! byte 0      bit 0 role (0 client, 1 server); bits 1-2 mode (0 legacy, 1 typed, 2 detect, 3 typed;
//!             detect implies server); bits 3-4 limit (0-1: 64 + bytes 1-2, 2: 1 MiB, 3: 2^31 − 1)
//! bytes 1-2   u16 big-endian: the limit's offset above 64
//! byte 3      n, the number of chunk lengths
//! bytes 4..   n chunk lengths, one u8 each (0 = an empty chunk)
//! the rest    the stream, cut into those chunks in order, its remainder one last chunk
//! ```
//!
//! Asserts (see `check_decode_case`): no panic; the same frames, error (kind, offset, frame index)
//! and progress whole and split (FC-18); agreement with `spec/reference.rs`; after every call
//! `consumed <= input`, `stream_offset()` = bytes consumed, `buffered()`/`reserved()` within a
//! header plus the limit and within the bytes received (FC-22); errors sticky, nothing consumed
//! after one (FC-19); `finish()` clean or `Truncated` as the reference says (FC-21).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| framechat_fuzz::decode_check::check_decode_input(data));
