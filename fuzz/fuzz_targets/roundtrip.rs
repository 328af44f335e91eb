//! Fuzz target `roundtrip`: structure-aware. Valid frames for a fuzzer-chosen profile, sender and
//! limit (`framechat::generators::fuzzing::ValidStream`), with skippable unassigned frames between them, are
//! encoded, then decoded in fuzzer-chosen chunks; they must come back unchanged, with the stream
//! consumed whole, a clean `finish()`, and every invariant of the `decode` target on the way. The
//! input's reading order is documented in `tests/fuzz/roundtrip_check.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Err: the input ran out before a whole case was read; nothing to check.
    let _ = framechat_fuzz::roundtrip_check::check_roundtrip_input(data);
});
