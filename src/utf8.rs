//! The UTF-8 check every received text passes (FC-2, FC-17): the crate's one `unsafe` block.
//!
//! `core::str::from_utf8` is the only safe way from bytes to `&str`, and on ASCII it runs at about
//! half the speed of `<[u8]>::is_ascii` (44 and 95 GB/s on a 64 KiB text, 31 and 17 ns on 1 KiB,
//! on the machine of BENCHMARKS.md). Chat text is mostly ASCII, so the decoder asks `is_ascii`
//! first and converts without a second pass when it says yes: ASCII is valid UTF-8 by definition
//! (every byte below 0x80 is a one-byte character). Anything else goes to `from_utf8`, which
//! decides and reports where the text stops being valid. The benchmark that justifies the block
//! is `decode/*/{whole,seg1500}` in `benches/codec.rs` (BENCHMARKS.md, "What changed").
#![allow(unsafe_code)]

use core::str::Utf8Error;

/// `bytes` as text: the same result as `core::str::from_utf8`, sooner when the text is ASCII.
#[inline]
pub(crate) fn text(bytes: &[u8]) -> Result<&str, Utf8Error> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80 (just checked), and a sequence of such bytes is valid
        // UTF-8: each is a complete one-byte character (RFC 3629 §3).
        Ok(unsafe { core::str::from_utf8_unchecked(bytes) })
    } else {
        core::str::from_utf8(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::text;
    use alloc::vec::Vec;

    /// Bytes of every kind: ASCII at both ends of its range, the first non-ASCII byte, valid
    /// multi-byte characters, continuation bytes alone, an overlong form, a surrogate, a truncated
    /// sequence.
    const PIECES: [&[u8]; 10] = [
        b"a",
        b"\x00",
        b"\x7f",
        b"\x80",
        "é".as_bytes(),
        "你".as_bytes(),
        "👋".as_bytes(),
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf0\x9f\x91",
    ];

    #[test]
    fn agrees_with_from_utf8_wherever_the_first_non_ascii_byte_sits() {
        // Every position in and around the chunks `is_ascii` reads at once (up to 4 words).
        for len in 0..80 {
            for at in 0..=len {
                for piece in PIECES {
                    let mut bytes: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    bytes.splice(at..at, piece.iter().copied());
                    assert_eq!(text(&bytes), core::str::from_utf8(&bytes), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn ascii_is_returned_whole_and_unchanged() {
        let ascii: Vec<u8> = (0u8..0x80).cycle().take(1000).collect();
        let converted = text(&ascii).expect("ASCII is valid UTF-8");
        assert_eq!(converted.as_bytes(), &ascii[..]);
        assert_eq!(converted.as_ptr(), ascii.as_ptr(), "borrowed, not copied");
        assert_eq!(text(b""), Ok(""));
    }
}
