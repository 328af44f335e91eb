//! The UTF-8 check every received text passes (FC-2, FC-17): the crate's only `unsafe` code.
//!
//! `core::str::from_utf8` is the only safe way from bytes to `&str`, and on ASCII it runs at about
//! half the speed of `<[u8]>::is_ascii`. Chat text is mostly ASCII, so [`text`] lets `is_ascii`
//! vouch for the ASCII blocks at the start of a text and has `from_utf8` check only the rest, from
//! the first block with a non-ASCII byte on: then no byte is checked twice but the few of that
//! block, and a long English text that ends in an emoji costs no more than an ASCII one. The
//! benchmarks behind this are `decode/*`, `decode-utf8/*` and `decode-late/*` in `benches/codec.rs`
//! (BENCHMARKS.md, "What changed").
//!
//! A payload cut across reads is gathered in a [`TextBuf`], which asks `is_ascii` of each piece as
//! it is appended, while the piece is still in the cache the copy brought it to: a gathered ASCII
//! text is then vouched for without reading it again, and any other text is checked from the end of
//! its leading ASCII pieces on (BENCHMARKS.md, "The codec's 64 KiB segmented path").

use alloc::vec::Vec;

/// The unit in which leading ASCII is vouched for: large enough that `is_ascii` runs at its full
/// speed, small enough that `from_utf8` redoes little of it when a block turns out not to be ASCII.
const ASCII_BLOCK: usize = 256;

/// `bytes` as text, or `Err(valid_up_to)`: the length of the longest valid UTF-8 prefix, as
/// `core::str::Utf8Error::valid_up_to` reports it.
#[inline]
#[expect(unsafe_code, reason = "calls text_after_ascii")]
pub(crate) fn text(bytes: &[u8]) -> Result<&str, usize> {
    // SAFETY: an empty prefix is ASCII.
    unsafe { text_after_ascii(bytes, 0) }
}

/// [`text`] of `bytes`, whose first `ascii` bytes are already known to be ASCII.
///
/// # Safety
///
/// `bytes[..ascii]` must be ASCII (and `ascii <= bytes.len()`): those bytes are not read again.
#[inline]
#[expect(
    unsafe_code,
    reason = "ASCII vouched for by is_ascii; see the module docs"
)]
unsafe fn text_after_ascii(bytes: &[u8], ascii: usize) -> Result<&str, usize> {
    debug_assert!(bytes[..ascii].is_ascii());
    let rest = &bytes[ascii..];
    let ascii = ascii
        + rest
            .chunks(ASCII_BLOCK)
            .take_while(|block| block.is_ascii())
            .map(<[u8]>::len)
            .sum::<usize>();
    if ascii == bytes.len() {
        // SAFETY: every byte is below 0x80 (`is_ascii`, block by block, or piece by piece as
        // `TextBuf` gathered them), and a sequence of such bytes is valid UTF-8: each is a complete
        // one-byte character (RFC 3629 §3).
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

/// A growable byte buffer that knows how much of its start is ASCII, so that [`TextBuf::text`]
/// need not read those bytes again. It reads as a `[u8]`; it is written only by appending.
#[derive(Clone, Default)]
pub(crate) struct TextBuf {
    /// Zeroed beyond `filled` when reserved, so that [`TextBuf::append`] can copy into it with a
    /// loop of its own (safe code needs initialized bytes to write to); its length is what was
    /// reserved, its capacity at least that.
    bytes: Vec<u8>,
    /// The bytes appended so far: `bytes[..filled]`.
    filled: usize,
    /// `bytes[..ascii]` is ASCII, and `ascii <= filled`: the soundness of [`TextBuf::text`] rests
    /// on it, so every method that writes `bytes` or `filled` keeps it.
    ascii: usize,
}

impl TextBuf {
    /// Appends `piece`, vouching for it if it is ASCII and continues an all-ASCII buffer. Room is
    /// made if [`reserve_exact`](TextBuf::reserve_exact) did not make it.
    #[inline]
    pub(crate) fn append(&mut self, piece: &[u8]) {
        // A byte at a time is the common case of small reads: kept small enough to inline.
        if let ([byte], Some(to)) = (piece, self.bytes.get_mut(self.filled)) {
            *to = *byte;
            if self.ascii == self.filled && byte.is_ascii() {
                self.ascii += 1;
            }
            self.filled += 1;
        } else {
            self.append_slice(piece);
        }
    }

    /// [`append`](TextBuf::append) of anything but one byte, out of line: inlined, it made the
    /// byte-at-a-time loop slower.
    fn append_slice(&mut self, piece: &[u8]) {
        let end = self.filled + piece.len();
        // Room is normally reserved already; then this changes nothing.
        self.bytes.resize(end.max(self.bytes.len()), 0);
        let into = &mut self.bytes[self.filled..end];
        let continues_ascii = self.ascii == self.filled;
        self.filled = end;
        if !continues_ascii {
            into.copy_from_slice(piece);
        } else if copy_ascii(into, piece) {
            self.ascii = end;
        }
    }

    /// The whole buffer as text, or `Err(valid_up_to)`, as [`text`] says; the ASCII pieces at its
    /// start are not read again.
    #[inline]
    #[expect(unsafe_code, reason = "calls text_after_ascii")]
    pub(crate) fn text(&self) -> Result<&str, usize> {
        // SAFETY: `bytes[..ascii]` is ASCII and `ascii <= filled`, the invariant of `ascii`.
        unsafe { text_after_ascii(&self.bytes[..self.filled], self.ascii) }
    }

    #[inline]
    pub(crate) fn clear(&mut self) {
        self.filled = 0;
        self.ascii = 0;
    }

    /// The bytes appended so far (what the `[u8]` it reads as holds, without building the slice).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.filled
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Makes room for `additional` more bytes than are filled, and no more (as `Vec::reserve_exact`).
    pub(crate) fn reserve_exact(&mut self, additional: usize) {
        let wanted = self.filled + additional;
        if let Some(more) = wanted.checked_sub(self.bytes.len()) {
            self.bytes.reserve_exact(more);
            self.bytes.resize(wanted, 0);
        }
    }
}

impl core::ops::Deref for TextBuf {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.filled]
    }
}

/// Copies `from` into `into` (of the same length) and says whether it was all ASCII: one pass over
/// the bytes while they are in the nearest cache, instead of a copy, then `is_ascii` over them
/// again. Byte-wise ORs of whole 64-byte blocks, which the compiler turns into vector loads, ORs
/// and stores (blocks of 8-byte words or of 16 bytes it leaves scalar: BENCHMARKS.md, "The codec's
/// 64 KiB segmented path").
#[inline]
fn copy_ascii(into: &mut [u8], from: &[u8]) -> bool {
    const BLOCK: usize = 64;
    let mut high_bits = [0u8; BLOCK];
    let mut into_blocks = into.chunks_exact_mut(BLOCK);
    let mut from_blocks = from.chunks_exact(BLOCK);
    for (to, from) in (&mut into_blocks).zip(&mut from_blocks) {
        let mut block = [0; BLOCK];
        block.copy_from_slice(from);
        for (bits, byte) in high_bits.iter_mut().zip(&block) {
            *bits |= byte;
        }
        to.copy_from_slice(&block);
    }
    let rest = from_blocks.remainder();
    into_blocks.into_remainder().copy_from_slice(rest);
    high_bits.is_ascii() && rest.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::{text, TextBuf, ASCII_BLOCK};
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

    /// Appends `text` to a fresh buffer in pieces of `piece` bytes, into reserved room, as the
    /// decoder does (one byte into reserved room takes `append`'s inlined path).
    fn gathered(text: &[u8], piece: usize) -> TextBuf {
        let mut buf = TextBuf::default();
        buf.reserve_exact(text.len());
        for part in text.chunks(piece.max(1)) {
            buf.append(part);
        }
        buf
    }

    #[test]
    fn a_gathered_text_is_checked_as_from_utf8_checks_it_wherever_the_pieces_are_cut() {
        // Pieces shorter than, equal to and longer than the 64-byte copy block, a non-ASCII
        // piece at every position, so that each piece is the first non-ASCII one somewhere.
        let lens: &[usize] = if MIRI {
            &[1, 65]
        } else {
            &[1, 3, 63, 64, 65, 130, 1500]
        };
        let len = if MIRI { 140 } else { 300 };
        for &piece in lens {
            for at in (0..=len).step_by(if MIRI { 29 } else { 7 }) {
                for inserted in PIECES {
                    let mut bytes = ascii(len);
                    bytes.splice(at..at, inserted.iter().copied());
                    let buf = gathered(&bytes, piece);
                    assert_eq!(&buf[..], &bytes[..], "the bytes are copied unchanged");
                    assert_eq!(
                        buf.text(),
                        from_utf8(&bytes),
                        "{inserted:?} at {at}, pieces of {piece}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_gathered_ascii_text_is_vouched_for_piece_by_piece() {
        let bytes = ascii(1000);
        for piece in [1, 64, 100, 1000] {
            let buf = gathered(&bytes, piece);
            assert_eq!(buf.ascii, bytes.len(), "pieces of {piece}");
            assert_eq!(buf.text().map(str::as_bytes), Ok(&bytes[..]));
        }
    }

    #[test]
    fn ascii_after_a_non_ascii_piece_is_left_to_the_final_check() {
        let mut buf = TextBuf::default();
        buf.append(b"abc");
        buf.append("é".as_bytes());
        buf.append(b"def");
        assert_eq!(
            buf.ascii, 3,
            "only the leading ASCII pieces are vouched for"
        );
        assert_eq!(buf.text(), Ok("abcédef"));
        buf.append(b"\xff");
        assert_eq!(buf.text(), Err(8));
    }

    #[test]
    fn appending_without_reserved_room_makes_room() {
        let mut buf = TextBuf::default();
        for byte in b"room" {
            buf.append(&[*byte]);
        }
        buf.append(b" made");
        assert_eq!(buf.text(), Ok("room made"));
        assert_eq!(buf.ascii, 9);
    }

    #[test]
    fn a_cleared_buffer_keeps_its_room_and_forgets_its_bytes() {
        let mut buf = gathered("é".repeat(40).as_bytes(), 64);
        let reserved = buf.capacity();
        buf.clear();
        assert_eq!((buf.len(), buf.ascii, buf.capacity()), (0, 0, reserved));
        buf.append(b"plain");
        assert_eq!(
            buf.text(),
            Ok("plain"),
            "nothing of the earlier text is read"
        );
    }

    #[test]
    fn reserving_makes_exactly_the_room_asked_for_beyond_the_filled_bytes() {
        let mut buf = TextBuf::default();
        assert_eq!(buf.capacity(), 0);
        buf.append(b"0123456789");
        buf.reserve_exact(90);
        assert!(buf.capacity() >= 100);
        let reserved = buf.capacity();
        buf.append(&ascii(90));
        assert_eq!(
            buf.capacity(),
            reserved,
            "appending into reserved room does not grow it"
        );
        assert_eq!(buf.len(), 100);
        buf.reserve_exact(0);
        assert_eq!(buf.capacity(), reserved, "no room asked for, none made");
    }
}
