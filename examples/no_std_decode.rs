//! Decoding from fixed buffers with the borrowed-frame API: what a `no_std` + `alloc` user does.
//!
//! ```text
//! cargo run --example no_std_decode --no-default-features
//! ```
//!
//! The file is `#![no_std]`: everything but `main`'s printing uses `core` and framechat, built
//! without its `std` feature. Two ways of feeding the decoder:
//!
//! 1. The whole stream sits in one buffer (a memory-mapped log, a received datagram): every frame
//!    is returned borrowing its text from that buffer, and the decoder reserves no memory at all.
//! 2. The stream arrives in 8-byte pieces through one fixed receive buffer (a UART or DMA ring):
//!    a payload cut between pieces is gathered in the decoder's own buffer, which grows to the
//!    largest split payload once and is then reused, so there is no allocation per frame.

#![no_std]

// Only for `main`'s arguments and printing; the decoding functions below use nothing from it.
extern crate std;

use framechat::{DecodeError, Decoder, Frame, Limits, Profile, UnixMicros};

/// A typed client's stream, as a server receives it (§4).
#[rustfmt::skip]
const STREAM: [u8; 66] = [
    // preface "\xffFCHAT/1\r\n" (§4.1)
    0xff, 0x46, 0x43, 0x48, 0x41, 0x54, 0x2f, 0x31, 0x0d, 0x0a,
    // CHAT, length 14: sent_at = 1000, text "héllo" (6 bytes of UTF-8)
    0x81, 0, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f,
    // PING, length 8: nonce = 7
    0x84, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7,
    // type 0xb0 (reserved for exercise), length 3: skipped without being buffered (FC-11)
    0xb0, 0, 0, 0, 3, 1, 2, 3,
    // CHAT, length 11: sent_at = 2000, text "bye"
    0x81, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0x07, 0xd0, 0x62, 0x79, 0x65,
];

/// What the server should find in `STREAM`.
const EXPECTED: [Frame<&str>; 3] = [
    Frame::Chat {
        sent_at: UnixMicros(1000),
        text: "héllo",
    },
    Frame::Ping { nonce: 7 },
    Frame::Chat {
        sent_at: UnixMicros(2000),
        text: "bye",
    },
];

/// Way 1: decodes `input` in place, checking each frame against `EXPECTED` and that its text is
/// borrowed from `input`, not copied. Returns the number of frames.
fn decode_in_place(decoder: &mut Decoder, input: &[u8]) -> Result<usize, DecodeError> {
    let mut rest = input;
    let mut count = 0;
    while !rest.is_empty() {
        let decoded = decoder.decode(rest)?;
        rest = &rest[decoded.consumed..];
        if let Some(frame) = decoded.frame {
            assert_eq!(frame, EXPECTED[count]);
            if let Some(text) = frame.text() {
                assert!(
                    input.as_ptr_range().contains(&text.as_ptr()),
                    "borrowed, not copied"
                );
            }
            count += 1;
        }
    }
    decoder.finish()?;
    Ok(count)
}

/// Way 2: feeds `stream` through one fixed 8-byte receive buffer, as a driver would hand it over.
/// Returns the number of frames.
fn decode_through_fixed_buffer(decoder: &mut Decoder, stream: &[u8]) -> Result<usize, DecodeError> {
    let mut receive_buffer = [0u8; 8];
    let mut count = 0;
    for piece in stream.chunks(receive_buffer.len()) {
        receive_buffer[..piece.len()].copy_from_slice(piece);
        let mut rest = &receive_buffer[..piece.len()];
        while !rest.is_empty() {
            let decoded = decoder.decode(rest)?;
            rest = &rest[decoded.consumed..];
            if let Some(frame) = decoded.frame {
                // Borrowed from the receive buffer or from the decoder's gathering buffer: either
                // way, valid until the next `decode` call. Copy out what must outlive it.
                assert_eq!(frame, EXPECTED[count]);
                count += 1;
            }
        }
    }
    decoder.finish()?;
    Ok(count)
}

const USAGE: &str = "usage: no_std_decode   (no arguments: it decodes the stream built into it)";

fn main() -> std::process::ExitCode {
    use std::process::ExitCode;
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            std::println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            std::eprintln!("no_std_decode: unexpected argument {other}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            std::eprintln!("no_std_decode: STREAM did not decode: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), DecodeError> {
    let limits = Limits::default();

    let mut decoder = Decoder::server(Profile::Typed, limits);
    let frames = decode_in_place(&mut decoder, &STREAM)?;
    std::println!(
        "in place: {frames} frames, {} skipped, {} bytes reserved by the decoder",
        decoder.frames_skipped(),
        decoder.reserved()
    );
    assert_eq!(
        decoder.reserved(),
        0,
        "whole payloads are borrowed: nothing reserved"
    );

    let mut decoder = Decoder::server(Profile::Typed, limits);
    let frames = decode_through_fixed_buffer(&mut decoder, &STREAM)?;
    std::println!(
        "8-byte pieces: {frames} frames, {} skipped, {} bytes reserved by the decoder",
        decoder.frames_skipped(),
        decoder.reserved()
    );
    // The largest payload is 14 bytes: the decoder never reserves more than one payload (FC-22).
    assert!(decoder.reserved() <= 14);
    Ok(())
}
