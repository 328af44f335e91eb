//! The UTF-8 check every received text passes (FC-2, FC-17): the crate's only `unsafe` code.
//!
//! `core::str::from_utf8` is the only safe way from bytes to `&str`, and on ASCII it runs at about
//! half the speed of `<[u8]>::is_ascii`. Chat text is mostly ASCII, so [`text`] lets `is_ascii`
//! vouch for the ASCII blocks at the start of a text and has `from_utf8` check only the rest, from
//! the first block with a non-ASCII byte on: then no byte is checked twice but the few of that
//! block, and a long English text that ends in an emoji costs no more than an ASCII one. The
//! benchmarks behind this are `decode/*`, `decode-utf8/*` and `decode-late/*` in `benches/codec.rs`
//! (BENCHMARKS.md, "What changed").

/// The unit in which leading ASCII is vouched for: large enough that `is_ascii` runs at its full
/// speed, small enough that `from_utf8` redoes little of it when a block turns out not to be ASCII.
const ASCII_BLOCK: usize = 256;

/// `bytes` as text, or `Err(valid_up_to)`: the length of the longest valid UTF-8 prefix, as
/// `core::str::Utf8Error::valid_up_to` reports it.
#[inline]
#[expect(
    unsafe_code,
    reason = "ASCII vouched for by is_ascii; see the module docs"
)]
pub(crate) fn text(bytes: &[u8]) -> Result<&str, usize> {
    let ascii = bytes
        .chunks(ASCII_BLOCK)
        .take_while(|block| block.is_ascii())
        .map(<[u8]>::len)
        .sum::<usize>();
    if ascii == bytes.len() {
        // SAFETY: every byte is below 0x80 (`is_ascii`, block by block), and a sequence of such
        // bytes is valid UTF-8: each is a complete one-byte character (RFC 3629 §3).
        return Ok(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    match core::str::from_utf8(&bytes[ascii..]) {
        // SAFETY: `bytes[..ascii]` is ASCII, hence valid UTF-8 ending on a character boundary, and
        // `from_utf8` has just accepted `bytes[ascii..]`; two valid UTF-8 texts back to back are
        // one valid UTF-8 text.
        Ok(_) => Ok(unsafe { core::str::from_utf8_unchecked(bytes) }),
        Err(err) => Err(ascii + err.valid_up_to()),
    }
}

#[cfg(test)]
mod tests {
    use super::{text, ASCII_BLOCK};
    use alloc::vec::Vec;

    /// What `from_utf8` says of `bytes`, in `text`'s terms.
    fn from_utf8(bytes: &[u8]) -> Result<&str, usize> {
        core::str::from_utf8(bytes).map_err(|err| err.valid_up_to())
    }

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

    fn ascii(len: usize) -> Vec<u8> {
        (0..len).map(|i| b'a' + (i % 26) as u8).collect()
    }

    /// Miri runs these tests about a thousand times slower: it gets fewer cases of each kind.
    const MIRI: bool = cfg!(miri);

    #[test]
    fn agrees_with_from_utf8_wherever_a_piece_sits_in_short_texts() {
        // Every position in and around the words `is_ascii` reads at once.
        for len in 0..if MIRI { 20 } else { 80 } {
            for at in 0..=len {
                for piece in PIECES {
                    let mut bytes = ascii(len);
                    bytes.splice(at..at, piece.iter().copied());
                    assert_eq!(text(&bytes), from_utf8(&bytes), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn agrees_with_from_utf8_around_every_block_boundary() {
        // A piece just before, across and just after each boundary of the first three blocks,
        // a multi-byte character cut by a boundary included; and two pieces, one per block.
        let len = 4 * ASCII_BLOCK;
        let boundaries: &[usize] = if MIRI {
            &[ASCII_BLOCK]
        } else {
            &[ASCII_BLOCK, 2 * ASCII_BLOCK, 3 * ASCII_BLOCK]
        };
        for &boundary in boundaries {
            for at in boundary - 4..=boundary + 1 {
                for piece in PIECES {
                    let mut bytes = ascii(len);
                    bytes.splice(at..at, piece.iter().copied());
                    assert_eq!(text(&bytes), from_utf8(&bytes), "{piece:?} at {at}");
                    for second in PIECES.iter().take(if MIRI { 3 } else { PIECES.len() }) {
                        let mut twice = bytes.clone();
                        twice.splice(at + 100..at + 100, second.iter().copied());
                        assert_eq!(text(&twice), from_utf8(&twice), "{piece:?}, {second:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn reports_the_valid_prefix_of_a_long_text_as_from_utf8_does() {
        let mut bytes = ascii(10 * ASCII_BLOCK);
        bytes.extend_from_slice("ünïcödé".as_bytes());
        bytes.extend_from_slice(&ascii(ASCII_BLOCK));
        assert!(text(&bytes).is_ok());
        bytes.push(0xff);
        let valid = bytes.len() - 1;
        assert_eq!(text(&bytes), Err(valid));
        assert_eq!(from_utf8(&bytes), Err(valid));
    }

    #[test]
    fn a_text_is_returned_whole_and_unchanged() {
        for bytes in [
            (0u8..0x80).cycle().take(1000).collect::<Vec<u8>>(),
            "Grüße, 你好, 👋 ".repeat(100).into_bytes(),
            Vec::new(),
        ] {
            let converted = text(&bytes).expect("valid UTF-8");
            assert_eq!(converted.as_bytes(), &bytes[..]);
            assert_eq!(converted.as_ptr(), bytes.as_ptr(), "borrowed, not copied");
        }
    }
}
