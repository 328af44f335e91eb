//! What the codec tells its caller about itself, beyond the frames: the decoder's observers (the
//! server's frame deadline reads `is_mid_frame`, a client adopting WELCOME's limit calls
//! `set_limits`, FC-22 is stated in `buffered` and `reserved`), error codes' names, every error's
//! message, and the timestamp helpers.
//!
//! The conformance vectors check frames and errors; these check the rest of the public surface, so
//! that a change to it fails a test instead of passing silently (`scripts/mutants.sh`).

use framechat::wire::{frame_type, PREFACE};
use framechat::{
    AuthScheme, ConfigError, DecodeErrorKind, Decoder, EncodeError, Encoder, ErrorCode, Frame,
    Limits, Part, Profile, Role, UnixMicros,
};

fn limits(max_frame_len: u32) -> Limits {
    Limits::new(max_frame_len).expect("a limit in range")
}

/// Feeds `bytes` and expects no frame and no error.
fn feed_partial(decoder: &mut Decoder, bytes: &[u8]) {
    let decoded = decoder.decode(bytes).expect("a valid prefix");
    assert_eq!(decoded.consumed, bytes.len());
    assert_eq!(decoded.frame, None, "{bytes:02x?} completes no frame");
}

fn typed_header(frame_type: u8, len: u32) -> Vec<u8> {
    let mut header = vec![frame_type];
    header.extend_from_slice(&len.to_be_bytes());
    header
}

// ---------------------------------------------------------------------------------------------
// is_mid_frame: the server's frame deadline (FC-32) runs exactly while it is true.

#[test]
fn a_detecting_server_is_mid_frame_from_its_first_byte_until_the_frame_completes() {
    let mut decoder = Decoder::server_detect(Limits::default());
    assert!(
        !decoder.is_mid_frame(),
        "no byte yet: the detection window, not the deadline"
    );
    feed_partial(&mut decoder, &[0]);
    assert!(decoder.is_mid_frame(), "1 of the 4 detection bytes");
    feed_partial(&mut decoder, &[0, 0, 2]);
    assert!(
        decoder.is_mid_frame(),
        "a legacy header declaring 2 bytes, none arrived"
    );
    feed_partial(&mut decoder, b"h");
    assert!(decoder.is_mid_frame(), "1 of 2 payload bytes");
    let decoded = decoder.decode(b"i").expect("the last payload byte");
    assert_eq!(
        decoded.frame.map(Frame::into_owned),
        Some(Frame::Text("hi".to_owned()))
    );
    assert!(!decoder.is_mid_frame(), "between frames");
    feed_partial(&mut decoder, &[0, 0]);
    assert!(decoder.is_mid_frame(), "half of the next header");
}

#[test]
fn a_typed_server_is_mid_frame_inside_the_preface_a_header_a_payload_and_a_skipped_frame() {
    let mut decoder = Decoder::server(Profile::Typed, Limits::default());
    assert!(!decoder.is_mid_frame(), "before the preface");
    feed_partial(&mut decoder, &PREFACE[..3]);
    assert!(decoder.is_mid_frame(), "inside the preface");
    feed_partial(&mut decoder, &PREFACE[3..]);
    assert!(
        !decoder.is_mid_frame(),
        "the preface is whole: between frames"
    );

    let mut chat = typed_header(frame_type::CHAT, 9);
    chat.extend_from_slice(&7u64.to_be_bytes());
    chat.push(b'x');
    feed_partial(&mut decoder, &chat[..2]);
    assert!(decoder.is_mid_frame(), "inside a header");
    feed_partial(&mut decoder, &chat[2..8]);
    assert!(decoder.is_mid_frame(), "inside a payload");
    let decoded = decoder.decode(&chat[8..]).expect("the rest of the CHAT");
    assert!(matches!(decoded.frame, Some(Frame::Chat { text: "x", .. })));
    assert!(!decoder.is_mid_frame());

    let mut reserved = typed_header(frame_type::FIRST_RESERVED, 4);
    reserved.extend_from_slice(b"abcd");
    feed_partial(&mut decoder, &reserved[..7]);
    assert!(
        decoder.is_mid_frame(),
        "inside a frame being skipped (FC-11)"
    );
    feed_partial(&mut decoder, &reserved[7..]);
    assert!(!decoder.is_mid_frame(), "the skipped frame is over");
    assert_eq!(decoder.frames_skipped(), 1);
}

#[test]
fn a_failed_or_finished_decoder_is_not_mid_frame() {
    let mut failed = Decoder::server(Profile::Typed, Limits::default());
    feed_partial(&mut failed, &PREFACE[..4]);
    assert!(
        failed.decode(b"X").is_err(),
        "a preface byte that differs (FC-4)"
    );
    assert!(!failed.is_mid_frame(), "a failed decoder waits for nothing");

    let mut finished = Decoder::client(Profile::Legacy, Limits::default());
    feed_partial(&mut finished, &[0, 0]);
    assert!(finished.finish().is_err(), "ends inside a header");
    assert!(
        !finished.is_mid_frame(),
        "a finished decoder waits for nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// limits and set_limits: a client adopts the limit WELCOME announces (§4.4).

#[test]
fn set_limits_applies_to_the_next_header_and_limits_reports_it() {
    let mut decoder = Decoder::client(Profile::Legacy, limits(1000));
    assert_eq!(decoder.limits(), limits(1000));
    decoder.set_limits(limits(100));
    assert_eq!(decoder.limits(), limits(100));

    let err = decoder
        .decode(&101u32.to_be_bytes())
        .expect_err("101 bytes is above the new limit");
    assert_eq!(
        err.kind,
        DecodeErrorKind::FrameTooLarge {
            declared: 101,
            limit: 100
        }
    );
}

#[test]
fn a_frame_whose_header_is_complete_keeps_the_limit_it_was_checked_against() {
    let mut decoder = Decoder::client(Profile::Legacy, limits(1000));
    let mut frame = 500u32.to_be_bytes().to_vec();
    frame.extend(std::iter::repeat_n(b'a', 500));
    feed_partial(&mut decoder, &frame[..10]);
    decoder.set_limits(limits(100));
    let decoded = decoder.decode(&frame[10..]).expect("checked against 1000");
    assert_eq!(
        decoded.frame.as_ref().and_then(Frame::text).map(str::len),
        Some(500)
    );
    let err = decoder
        .decode(&500u32.to_be_bytes())
        .expect_err("the next header meets the new limit");
    assert!(matches!(
        err.kind,
        DecodeErrorKind::FrameTooLarge { limit: 100, .. }
    ));
}

#[test]
fn raising_the_limit_admits_a_frame_the_old_one_refused() {
    let mut decoder = Decoder::client(Profile::Legacy, limits(100));
    decoder.set_limits(limits(1000));
    let mut frame = 500u32.to_be_bytes().to_vec();
    frame.extend(std::iter::repeat_n(b'a', 500));
    let decoded = decoder.decode(&frame).expect("500 is within the new limit");
    assert_eq!(
        decoded.frame.as_ref().and_then(Frame::text).map(str::len),
        Some(500)
    );
}

// ---------------------------------------------------------------------------------------------
// Counters and memory (FC-22).

#[test]
fn frames_completed_counts_every_frame_skipped_ones_included() {
    let mut decoder = Decoder::client(Profile::Typed, Limits::default());
    assert_eq!(decoder.frames_completed(), 0);
    let mut stream = typed_header(frame_type::PING, 8);
    stream.extend_from_slice(&1u64.to_be_bytes());
    stream.extend(typed_header(frame_type::FIRST_UNASSIGNED, 0));
    stream.extend(typed_header(frame_type::PONG, 8));
    stream.extend_from_slice(&2u64.to_be_bytes());
    let mut frames = 0;
    decoder
        .decode_each(&stream, |_| frames += 1)
        .expect("a valid stream");
    assert_eq!(frames, 2, "PING and PONG reach the caller");
    assert_eq!(
        decoder.frames_completed(),
        3,
        "the skipped frame counts (FC-11)"
    );
    assert_eq!(decoder.frames_skipped(), 1);
}

#[test]
fn buffered_counts_the_header_and_payload_bytes_of_an_incomplete_frame() {
    let mut decoder = Decoder::client(Profile::Typed, Limits::default());
    assert_eq!(decoder.buffered(), 0);
    let mut ping = typed_header(frame_type::PING, 8);
    ping.extend_from_slice(&9u64.to_be_bytes());
    feed_partial(&mut decoder, &ping[..3]);
    assert_eq!(decoder.buffered(), 3, "3 header bytes");
    feed_partial(&mut decoder, &ping[3..9]);
    assert_eq!(
        decoder.buffered(),
        9,
        "the 5-byte header and 4 payload bytes"
    );
    let decoded = decoder.decode(&ping[9..]).expect("the rest");
    assert_eq!(decoded.frame, Some(Frame::Ping { nonce: 9 }));
    assert_eq!(
        decoder.buffered(),
        0,
        "the returned frame is no longer held for the stream"
    );
}

/// A legacy frame of `len` bytes of text, fed in two pieces so that its payload is gathered in the
/// decoder's buffer rather than borrowed from the input.
fn decode_split_frame(decoder: &mut Decoder, len: usize) {
    let mut frame = u32::try_from(len)
        .expect("a test length")
        .to_be_bytes()
        .to_vec();
    frame.extend(std::iter::repeat_n(b'z', len));
    feed_partial(decoder, &frame[..5]);
    let decoded = decoder.decode(&frame[5..]).expect("the rest of the frame");
    assert_eq!(
        decoded.frame.as_ref().and_then(Frame::text).map(str::len),
        Some(len)
    );
}

#[test]
fn a_payload_buffer_up_to_64_kib_is_kept_for_the_next_frame_and_a_larger_one_released() {
    let mut decoder = Decoder::client(Profile::Legacy, Limits::default());
    assert_eq!(
        decoder.reserved(),
        0,
        "nothing is reserved before a payload arrives"
    );
    decode_split_frame(&mut decoder, 2000);
    feed_partial(&mut decoder, &[]);
    assert!(
        decoder.reserved() >= 2000,
        "a 2000-byte buffer is kept for reuse, reserved {}",
        decoder.reserved()
    );
    decode_split_frame(&mut decoder, 64 * 1024);
    feed_partial(&mut decoder, &[]);
    assert!(decoder.reserved() >= 64 * 1024, "64 KiB is still kept");
    decode_split_frame(&mut decoder, 64 * 1024 + 1);
    feed_partial(&mut decoder, &[]);
    assert_eq!(decoder.reserved(), 0, "past 64 KiB the buffer is released");
}

#[test]
fn a_payload_buffer_grows_geometrically_and_never_past_twice_what_arrived() {
    const LEN: usize = 1 << 20;
    const CHUNK: usize = 1024;
    let mut decoder = Decoder::client(Profile::Legacy, Limits::default());
    feed_partial(&mut decoder, &(LEN as u32).to_be_bytes());
    let chunk = [b'q'; CHUNK];
    let (mut arrived, mut growths, mut last_reserved) = (0, 0, 0);
    while arrived + CHUNK < LEN {
        feed_partial(&mut decoder, &chunk);
        arrived += CHUNK;
        let reserved = decoder.reserved();
        assert!(
            reserved >= arrived,
            "{arrived} bytes arrived, {reserved} reserved"
        );
        assert!(
            reserved <= 2 * arrived,
            "FC-22: {arrived} arrived, {reserved} reserved"
        );
        assert!(reserved <= LEN, "never past the declared length");
        if reserved != last_reserved {
            growths += 1;
            last_reserved = reserved;
        }
    }
    // Doubling from 1 KiB to 1 MiB is 10 growths; linear growth would be about a thousand.
    assert!(
        growths <= 12,
        "the buffer grew {growths} times for 1 MiB in 1 KiB chunks"
    );
    let decoded = decoder.decode(&chunk).expect("the last chunk");
    assert_eq!(
        decoded.frame.as_ref().and_then(Frame::text).map(str::len),
        Some(LEN)
    );
}

#[test]
fn decode_each_stops_at_the_first_error_after_handing_over_the_frames_before_it() {
    let mut decoder = Decoder::client(Profile::Legacy, limits(64));
    let mut stream = b"\x00\x00\x00\x02ok".to_vec();
    stream.extend_from_slice(&65u32.to_be_bytes());
    let mut texts = Vec::new();
    let err = decoder
        .decode_each(&stream, |frame| texts.push(frame.text().map(str::to_owned)))
        .expect_err("65 bytes is above the limit");
    assert_eq!(texts, [Some("ok".to_owned())]);
    assert_eq!(
        err.kind,
        DecodeErrorKind::FrameTooLarge {
            declared: 65,
            limit: 64
        }
    );
    assert_eq!(decoder.error(), Some(err), "the error is terminal (FC-19)");
}

// ---------------------------------------------------------------------------------------------
// Names and messages: what logs and users read.

#[test]
fn every_error_code_of_section_4_7_has_its_name_and_others_have_none() {
    let named = [
        (ErrorCode::PROTOCOL_ERROR, 1, "PROTOCOL_ERROR"),
        (ErrorCode::FRAME_TOO_LARGE, 2, "FRAME_TOO_LARGE"),
        (ErrorCode::INVALID_UTF8, 3, "INVALID_UTF8"),
        (ErrorCode::BAD_PREFACE, 4, "BAD_PREFACE"),
        (ErrorCode::SLOW_CONSUMER, 5, "SLOW_CONSUMER"),
        (ErrorCode::SERVER_FULL, 6, "SERVER_FULL"),
        (ErrorCode::TIMEOUT, 7, "TIMEOUT"),
        (ErrorCode::GOING_AWAY, 8, "GOING_AWAY"),
        (ErrorCode::UNAUTHORIZED, 9, "UNAUTHORIZED"),
    ];
    for (code, number, name) in named {
        assert_eq!(code, ErrorCode(number));
        assert_eq!(code.name(), Some(name));
        assert_eq!(code.to_string(), format!("{name} ({number})"));
    }
    for unknown in [0, 10, 999, u16::MAX] {
        assert_eq!(ErrorCode(unknown).name(), None);
        assert_eq!(
            ErrorCode(unknown).to_string(),
            format!("unknown error code {unknown}")
        );
    }
}

#[test]
fn the_bearer_scheme_is_named_and_other_schemes_are_not() {
    assert_eq!(AuthScheme::BEARER, AuthScheme(1));
    assert_eq!(AuthScheme::BEARER.name(), Some("BEARER"));
    for unknown in [0, 2, 7, u8::MAX] {
        assert_eq!(AuthScheme(unknown).name(), None);
    }
}

/// The message of the error `input` makes `decoder` fail with.
fn message_of(mut decoder: Decoder, input: &[u8]) -> String {
    let err = match decoder.decode(input) {
        Err(err) => err,
        Ok(_) => decoder.finish().expect_err("the input is invalid or cut"),
    };
    err.to_string()
}

#[test]
fn every_decode_error_says_what_was_wrong_and_where() {
    let typed_server = || Decoder::server(Profile::Typed, Limits::default());
    let typed_client = || Decoder::client(Profile::Typed, Limits::default());
    let after_preface = |frame: &[u8]| [PREFACE.as_slice(), frame].concat();
    let cases = [
        (
            message_of(typed_server(), b"\xffFX"),
            "bad preface: byte 2 is 0x58, expected 0x43 (stream offset 3, frame 0)",
        ),
        (
            message_of(typed_client(), &[0x41]),
            "invalid frame type 0x41 (valid: 0x80..=0xbf) (stream offset 1, frame 0)",
        ),
        (
            message_of(typed_server(), &after_preface(&[0x82])),
            "frame type 0x82 is never sent to a Server (stream offset 11, frame 0)",
        ),
        (
            message_of(typed_client(), &typed_header(0xb0, 2 << 20)),
            "frame too large: declared length 2097152 exceeds the limit 1048576 \
             (stream offset 5, frame 0)",
        ),
        (
            message_of(typed_client(), &typed_header(frame_type::PING, 7)),
            "bad length 7 for frame type 0x84: at least 8 and at most 8 (stream offset 5, frame 0)",
        ),
        (
            message_of(typed_client(), &typed_header(frame_type::ECHO, 3)),
            "bad length 3 for frame type 0x82: at least 16 (stream offset 5, frame 0)",
        ),
        (
            message_of(
                Decoder::client(Profile::Legacy, Limits::default()),
                b"\x00\x00\x00\x02a\xff",
            ),
            "text is not valid UTF-8 after its first 1 bytes (stream offset 6, frame 0)",
        ),
        (
            message_of(
                Decoder::client(Profile::Legacy, Limits::default()),
                b"\x00\x00\x00\x05abc",
            ),
            "stream ended inside a Payload: 3 of 5 bytes (stream offset 7, frame 0)",
        ),
    ];
    for (message, expected) in cases {
        assert_eq!(message, expected);
    }

    let mut finished = Decoder::client(Profile::Legacy, Limits::default());
    finished.finish().expect("an empty stream ends cleanly");
    let err = finished.decode(b"x").expect_err("input after finish");
    assert_eq!(err.kind, DecodeErrorKind::InputAfterFinish);
    assert_eq!(
        err.to_string(),
        "input after finish() (stream offset 0, frame 0)"
    );
}

#[test]
fn a_truncated_header_names_its_part_in_the_error_and_the_message() {
    let mut decoder = Decoder::client(Profile::Typed, Limits::default());
    feed_partial(&mut decoder, &[frame_type::PING, 0]);
    let err = decoder.finish().expect_err("ends inside a header");
    assert_eq!(
        err.kind,
        DecodeErrorKind::Truncated {
            part: Part::Header,
            received: 2,
            expected: 5
        }
    );
    assert_eq!(
        err.to_string(),
        "stream ended inside a Header: 2 of 5 bytes (stream offset 2, frame 0)"
    );
}

#[test]
fn every_encode_error_says_what_was_refused() {
    let mut out = Vec::new();
    let wrong_profile = Encoder::client(Profile::Legacy, Limits::default())
        .encode(Frame::Ping { nonce: 1 }, &mut out)
        .expect_err("PING is typed");
    assert_eq!(
        wrong_profile.to_string(),
        "a Typed frame cannot be sent on a Legacy stream"
    );
    let wrong_direction = Encoder::client(Profile::Typed, Limits::default())
        .encode(
            Frame::Echo {
                sent_at: UnixMicros(1),
                relayed_at: UnixMicros(2),
                text: "x",
            },
            &mut out,
        )
        .expect_err("a client never sends ECHO");
    assert_eq!(
        wrong_direction,
        EncodeError::WrongDirection {
            frame_type: frame_type::ECHO,
            sender: Role::Client
        }
    );
    assert_eq!(
        wrong_direction.to_string(),
        "a Client never sends frame type 0x82"
    );
    let text = "y".repeat(65);
    let too_large = Encoder::server(Profile::Legacy, limits(64))
        .encode(Frame::Text(&text), &mut out)
        .expect_err("65 bytes is above the limit");
    assert_eq!(
        too_large.to_string(),
        "payload of 65 bytes exceeds the limit 64"
    );
    assert!(out.is_empty(), "nothing is written on an error");
}

#[test]
fn a_limit_out_of_range_is_refused_with_the_range_in_its_message() {
    let err = Limits::new(Limits::MIN_FRAME_LEN - 1).expect_err("below the minimum");
    assert_eq!(
        err,
        ConfigError::MaxFrameLenOutOfRange {
            requested: u64::from(Limits::MIN_FRAME_LEN - 1),
            min: Limits::MIN_FRAME_LEN,
            max: Limits::MAX_FRAME_LEN
        }
    );
    assert_eq!(
        err.to_string(),
        "max frame length 63 is outside the allowed range 64..=2147483647"
    );
}

// ---------------------------------------------------------------------------------------------
// Timestamps (§4.5).

#[test]
fn saturating_since_is_the_difference_or_zero_when_earlier_is_later() {
    let sent = UnixMicros(1_700_000_000_000_000);
    let received = UnixMicros(1_700_000_000_000_250);
    assert_eq!(received.saturating_since(sent), 250);
    assert_eq!(sent.saturating_since(received), 0);
    assert_eq!(sent.saturating_since(sent), 0);
    assert_eq!(received.saturating_since(UnixMicros::UNKNOWN), received.0);
}

#[cfg(feature = "std")]
#[test]
fn now_reads_the_system_clock_in_microseconds_since_the_epoch() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_micros();
    let now = UnixMicros::now();
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_micros();
    assert!(u128::from(now.0) >= before && u128::from(now.0) <= after);
}

#[test]
fn a_decoders_debug_shows_where_it_stands_and_never_the_bytes_it_holds() {
    // A split AUTH sits in the decoder's buffer: `{:?}` must not print its token (§8.9).
    let mut decoder = Decoder::server(Profile::Typed, Limits::default());
    let mut auth = PREFACE.to_vec();
    auth.extend(typed_header(frame_type::AUTH, 9));
    auth.extend_from_slice(b"\x01secr");
    feed_partial(&mut decoder, &auth);
    let debug = format!("{decoder:?}");
    for field in [
        "Decoder",
        "role: Server",
        "profile: Some(Typed)",
        "buffered: 10",
        "stream_offset: 20",
        "frames_completed: 0",
    ] {
        assert!(debug.contains(field), "{field:?} not in {debug}");
    }
    assert!(
        !debug.contains("secr") && !debug.contains("115, 101, 99"),
        "{debug}"
    );
}
