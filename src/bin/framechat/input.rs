//! The client's stdin as messages: one line each, refused one at a time when it cannot be sent.
//!
//! A line is held only up to the text budget; past it the rest of the line is counted and
//! discarded as it is read, so a line of any length costs at most the budget in memory.

use std::io::{self, BufRead};

/// One line of input, as far as the client needs to know it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line that fits the budget, without its line ending.
    Text(String),
    /// A line longer than the budget: its length in bytes, without its line ending.
    TooLong { len: u64 },
    /// A line that is not UTF-8: how many of its bytes are.
    NotUtf8 { valid_up_to: usize },
}

/// Lines of `input` of at most `budget` bytes each (`\n` or `\r\n` ends a line, and so does the end
/// of input after a last unterminated line).
pub(crate) struct BoundedLines<R> {
    input: R,
    budget: usize,
    /// The current line's bytes, never more than `budget + 1` (room for a `\r` before the `\n`).
    held: Vec<u8>,
    /// The current line's length so far, held or not.
    len: u64,
    /// The current line's last byte, so a `\r` before the `\n` is not counted once discarded.
    last: Option<u8>,
}

impl<R: BufRead> BoundedLines<R> {
    pub(crate) fn new(input: R, budget: usize) -> BoundedLines<R> {
        BoundedLines {
            input,
            budget,
            held: Vec::new(),
            len: 0,
            last: None,
        }
    }

    /// The next line, or `None` at the end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line>> {
        loop {
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if available.is_empty() {
                return Ok((self.len > 0).then(|| self.take_line()));
            }
            let (part, ends_line) = match available.iter().position(|&byte| byte == b'\n') {
                Some(newline) => (&available[..newline], true),
                None => (available, false),
            };
            let room = (self.budget + 1).saturating_sub(self.held.len());
            self.held.extend_from_slice(&part[..part.len().min(room)]);
            self.len += part.len() as u64;
            if let Some(&byte) = part.last() {
                self.last = Some(byte);
            }
            let consumed = part.len() + usize::from(ends_line);
            self.input.consume(consumed);
            if ends_line {
                return Ok(Some(self.take_line()));
            }
        }
    }

    /// The capacity of the buffer a line is held in (for tests of the bound).
    #[cfg(test)]
    pub(crate) fn held_capacity(&self) -> usize {
        self.held.capacity()
    }

    fn take_line(&mut self) -> Line {
        let mut len = self.len;
        if self.last == Some(b'\r') {
            len -= 1;
            if self.held.len() as u64 == self.len {
                self.held.pop();
            }
        }
        self.len = 0;
        self.last = None;
        if len > self.budget as u64 {
            self.held.clear();
            return Line::TooLong { len };
        }
        let bytes = std::mem::take(&mut self.held);
        match String::from_utf8(bytes) {
            Ok(text) => Line::Text(text),
            Err(err) => Line::NotUtf8 {
                valid_up_to: err.utf8_error().valid_up_to(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Read};

    use super::{BoundedLines, Line};

    fn lines(input: &[u8], budget: usize) -> Vec<Line> {
        let mut lines = BoundedLines::new(input, budget);
        let mut all = Vec::new();
        while let Some(line) = lines.next_line().expect("a slice cannot fail") {
            all.push(line);
        }
        all
    }

    fn text(text: &str) -> Line {
        Line::Text(text.to_string())
    }

    #[test]
    fn lines_end_at_a_newline_a_crlf_or_the_end_of_input() {
        assert_eq!(
            lines(b"one\ntwo\r\n\nlast", 16),
            [text("one"), text("two"), text(""), text("last")]
        );
    }

    #[test]
    fn a_line_of_exactly_the_budget_is_sent_and_one_byte_more_is_refused() {
        assert_eq!(
            lines(b"abcd\r\nabcde\nok\n", 4),
            [text("abcd"), Line::TooLong { len: 5 }, text("ok")]
        );
    }

    #[test]
    fn a_line_too_long_is_counted_whole_and_the_next_line_still_arrives() {
        assert_eq!(
            lines(b"0123456789abcdef\r\nnext\n", 4),
            [Line::TooLong { len: 16 }, text("next")]
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused_alone() {
        assert_eq!(
            lines(b"ok\nab\xff\nafter\n", 16),
            [text("ok"), Line::NotUtf8 { valid_up_to: 2 }, text("after")]
        );
    }

    #[test]
    fn a_huge_line_is_discarded_as_it_is_read_not_buffered() {
        let huge = 10 << 20;
        let input = std::io::repeat(b'x')
            .take(huge)
            .chain(&b"\nstill here\n"[..]);
        let mut lines = BoundedLines::new(BufReader::with_capacity(4096, input), 16);
        assert_eq!(
            lines.next_line().expect("in memory"),
            Some(Line::TooLong { len: huge })
        );
        // Bounded by the budget, not by the 10 MiB the line had.
        assert!(lines.held_capacity() <= 2 * 17, "{}", lines.held_capacity());
        assert_eq!(
            lines.next_line().expect("in memory"),
            Some(text("still here"))
        );
        assert_eq!(lines.next_line().expect("in memory"), None);
    }
}
