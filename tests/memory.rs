//! FC-22 measured: what the decoder allocates on hostile streams, counted by the global allocator;
//! and the encoder's one reservation per frame (§7).
//!
//! This test binary has no libtest harness (`harness = false` in Cargo.toml): it runs its scenarios
//! one after the other on one thread, so the allocator's count of live bytes is the decoder's alone.
//! Two instruments watch each scenario:
//!
//! - the live byte count, sampled after every `decode` call and compared with the bound;
//! - a ceiling: during the scenario the allocator refuses any allocation past `baseline + bound`,
//!   so even a transient peak inside one call fails (the process then aborts with "memory
//!   allocation of N bytes failed", which fails this test binary).
//!
//! `cap` provides the counting allocator, so these tests need no unsafe code of their own.

use std::alloc::System;

use cap::Cap;
use framechat::wire::PREFACE;
use framechat::{DecodeErrorKind, Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Bytes allocated and not yet freed, in the whole process.
fn live() -> usize {
    ALLOCATOR.allocated()
}

/// Runs `scenario` with the allocator refusing to go more than `bound` bytes past what is live now.
/// `scenario` gets the baseline; it must not allocate for itself.
fn under_ceiling<T>(bound: usize, scenario: impl FnOnce(usize) -> T) -> T {
    let baseline = live();
    ALLOCATOR
        .set_limit(baseline + bound)
        .expect("a ceiling above what is allocated");
    let result = scenario(baseline);
    ALLOCATOR
        .set_limit(usize::MAX)
        .expect("lifting the ceiling");
    result
}

/// The first sample that broke a bound; `Copy`, so reporting it allocates nothing.
#[derive(Clone, Copy, Debug)]
struct Violation {
    /// Bytes of the stream fed when it was seen.
    fed: usize,
    /// Live bytes above the baseline.
    live: usize,
    /// `Decoder::reserved()`.
    reserved: usize,
    /// The bound it broke.
    bound: usize,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "after {} bytes fed: {} bytes live above the baseline, {} reserved; bound {}",
            self.fed, self.live, self.reserved, self.bound
        )
    }
}

type Outcome = Result<(), String>;
type Scenario = (&'static str, fn() -> Outcome);

fn legacy_header(length: u32) -> [u8; 4] {
    length.to_be_bytes()
}

fn typed_header(frame_type: u8, length: u32) -> [u8; 5] {
    let [a, b, c, d] = length.to_be_bytes();
    [frame_type, a, b, c, d]
}

/// FC-14, FC-22: a 4 GiB declaration is refused from its header, and no byte is ever allocated.
fn a_declared_4_gib_length_costs_nothing_beyond_its_header() -> Outcome {
    let limits = Limits::default();
    let mut detect_stream = legacy_header(u32::MAX).to_vec();
    detect_stream.extend_from_slice(b"and then some");
    let mut typed_server_stream = PREFACE.to_vec();
    typed_server_stream.extend_from_slice(&typed_header(0x86, u32::MAX));
    let cases: [(&str, Decoder, Vec<u8>); 6] = [
        (
            "legacy client",
            Decoder::client(Profile::Legacy, limits),
            detect_stream.clone(),
        ),
        (
            "legacy server",
            Decoder::server(Profile::Legacy, limits),
            detect_stream.clone(),
        ),
        (
            "detecting server",
            Decoder::server_detect(limits),
            detect_stream,
        ),
        (
            "typed client, ECHO",
            Decoder::client(Profile::Typed, limits),
            typed_header(0x82, u32::MAX).to_vec(),
        ),
        (
            "typed client, skipped 0xb0",
            Decoder::client(Profile::Typed, limits),
            typed_header(0xb0, u32::MAX).to_vec(),
        ),
        (
            "typed server, ERROR",
            Decoder::server(Profile::Typed, limits),
            typed_server_stream,
        ),
    ];
    for (name, mut decoder, stream) in cases {
        let result = under_ceiling(0, |baseline| {
            for (at, byte) in stream.iter().enumerate() {
                let error = decoder.decode(std::slice::from_ref(byte)).err();
                if live() != baseline || decoder.reserved() != 0 {
                    return Err(Violation {
                        fed: at + 1,
                        live: live() - baseline,
                        reserved: decoder.reserved(),
                        bound: 0,
                    });
                }
                if let Some(error) = error {
                    return Ok(error);
                }
            }
            Err(Violation {
                fed: stream.len(),
                live: 0,
                reserved: 0,
                bound: 0,
            })
        });
        match result {
            Ok(error)
                if matches!(
                    error.kind,
                    DecodeErrorKind::FrameTooLarge {
                        declared: u32::MAX,
                        ..
                    }
                ) => {}
            Ok(error) => return Err(format!("{name}: expected FrameTooLarge, got {error}")),
            Err(v) => return Err(format!("{name}: {v} (or no error at all)")),
        }
    }
    Ok(())
}

/// FC-22: 256 streams each declare `L` = 1 MiB and send 64 payload bytes, one at a time. Memory
/// follows what arrived (at most twice it, for amortized growth), never what was declared.
fn many_streams_declaring_l_and_trickling_hold_only_what_arrived() -> Outcome {
    const STREAMS: usize = 256;
    const ROUNDS: usize = 64;
    let limits = Limits::default();
    let declared = limits.max_frame_len();
    let mut decoders: Vec<Decoder> = (0..STREAMS)
        .map(|_| Decoder::client(Profile::Legacy, limits))
        .collect();
    let bound = STREAMS * 2 * ROUNDS;
    let result = under_ceiling(bound, |baseline| {
        for decoder in decoders.iter_mut() {
            if decoder.decode(&legacy_header(declared)).is_err() {
                return Err(Violation {
                    fed: 4,
                    live: 0,
                    reserved: 0,
                    bound: 0,
                });
            }
        }
        if live() != baseline {
            // Headers alone: nothing reserved for a declared megabyte.
            return Err(Violation {
                fed: 4,
                live: live() - baseline,
                reserved: 0,
                bound: 0,
            });
        }
        for round in 1..=ROUNDS {
            for decoder in decoders.iter_mut() {
                let decoded = decoder.decode(b"a").is_ok_and(|d| d.frame.is_none());
                let reserved = decoder.reserved();
                if !decoded || reserved > 2 * round {
                    return Err(Violation {
                        fed: 4 + round,
                        live: live() - baseline,
                        reserved,
                        bound: 2 * round,
                    });
                }
            }
            if live() - baseline > STREAMS * 2 * round {
                return Err(Violation {
                    fed: 4 + round,
                    live: live() - baseline,
                    reserved: 0,
                    bound: STREAMS * 2 * round,
                });
            }
        }
        Ok(live() - baseline)
    });
    match result {
        Ok(used) => {
            println!("  {STREAMS} streams declaring {declared} bytes each, {ROUNDS} bytes received each: {used} bytes live");
            Ok(())
        }
        Err(v) => Err(format!("{v}")),
    }
}

/// A stream of equal frames and its layout.
struct Trickle<'a> {
    name: &'static str,
    decoder: Decoder,
    stream: &'a [u8],
    /// Bytes before the first frame (the preface).
    prefix: usize,
    header: usize,
    payload: usize,
    /// The length of each frame's text.
    text: usize,
}

/// FC-22: frames declaring the limit, their payloads trickled one byte at a time, never take the
/// decoder past one header plus `L`, and its buffer grows with what arrived.
fn one_stream_trickling_frames_of_l_never_holds_more_than_header_plus_l() -> Outcome {
    const FRAMES: usize = 3;
    let limits = Limits::new(96 * 1024).expect("a valid limit");
    let l = limits.max_frame_len();
    // A legacy client receives texts of L; a typed server receives CHATs of L − 16 (FC-15).
    let mut legacy = Vec::new();
    for _ in 0..FRAMES {
        legacy.extend_from_slice(&legacy_header(l));
        legacy.resize(legacy.len() + l as usize, b'x');
    }
    let chat_len = l - 16;
    let mut typed = PREFACE.to_vec();
    for _ in 0..FRAMES {
        typed.extend_from_slice(&typed_header(0x81, chat_len));
        typed.resize(typed.len() + 8, 0);
        typed.resize(typed.len() + chat_len as usize - 8, b'y');
    }
    let cases = [
        Trickle {
            name: "legacy client",
            decoder: Decoder::client(Profile::Legacy, limits),
            stream: &legacy,
            prefix: 0,
            header: 4,
            payload: l as usize,
            text: l as usize,
        },
        Trickle {
            name: "typed server",
            decoder: Decoder::server(Profile::Typed, limits),
            stream: &typed,
            prefix: PREFACE.len(),
            header: 5,
            payload: chat_len as usize,
            text: chat_len as usize - 8,
        },
    ];
    for case in cases {
        let Trickle {
            name,
            mut decoder,
            stream,
            prefix,
            header,
            payload,
            text,
        } = case;
        let bound = header + l as usize;
        let result = under_ceiling(bound, |baseline| {
            let mut frames = 0;
            let mut peak = 0;
            for (at, byte) in stream.iter().enumerate() {
                let complete = match decoder.decode(std::slice::from_ref(byte)) {
                    Ok(decoded) => decoded.frame.and_then(|frame| frame.text().map(str::len)),
                    Err(_) => {
                        return Err(Violation {
                            fed: at + 1,
                            live: live() - baseline,
                            reserved: decoder.reserved(),
                            bound,
                        })
                    }
                };
                // Payload bytes of the current frame fed so far, from the stream's layout.
                let arrived = (at + 1).saturating_sub(prefix) % (header + payload);
                let arrived = arrived.saturating_sub(header);
                let used = live() - baseline;
                peak = peak.max(used);
                let reserved = decoder.reserved();
                if used > bound
                    || reserved > bound
                    || (complete.is_none() && reserved > 2 * arrived)
                {
                    return Err(Violation {
                        fed: at + 1,
                        live: used,
                        reserved,
                        bound: 2 * arrived,
                    });
                }
                if let Some(text_len) = complete {
                    frames += 1;
                    if text_len != text {
                        return Err(Violation {
                            fed: at + 1,
                            live: used,
                            reserved,
                            bound: text_len,
                        });
                    }
                }
            }
            Ok((frames, peak))
        });
        match result {
            Ok((frames, peak)) if frames == FRAMES => {
                println!("  {name}: {frames} frames of {payload} bytes, 1 byte per call: peak {peak} bytes live (bound {bound})");
            }
            Ok((frames, _)) => {
                return Err(format!(
                    "{name}: {frames} frames decoded, expected {FRAMES}"
                ))
            }
            Err(v) => return Err(format!("{name}: {v}")),
        }
    }
    Ok(())
}

/// A frame larger than the retained buffer is gathered from two inputs; once the application has
/// it, the next call gives the memory back.
fn the_buffer_of_a_large_frame_is_released_once_the_frame_is_handed_over() -> Outcome {
    let limits = Limits::default();
    let l = limits.max_frame_len();
    let mut stream = legacy_header(l).to_vec();
    stream.resize(4 + l as usize, b'z');
    let (first, second) = stream.split_at(4 + l as usize / 2);
    let mut decoder = Decoder::client(Profile::Legacy, limits);
    let baseline = live();
    let first_call = decoder.decode(first).map(|d| d.frame.is_none());
    if first_call != Ok(true) {
        return Err(format!("the first half gave {first_call:?}"));
    }
    let held = live() - baseline;
    match decoder.decode(second) {
        Ok(decoded) => match decoded.frame {
            Some(Frame::Text(text)) if text.len() == l as usize => {}
            other => {
                return Err(format!(
                    "expected a text of {l} bytes, got {:?}",
                    other.map(|f| f.text().map(str::len))
                ))
            }
        },
        Err(error) => return Err(format!("{error}")),
    }
    let while_handed_over = decoder.reserved();
    let call = decoder.decode(&[]);
    if call.is_err() {
        return Err("an empty input after a frame failed".to_string());
    }
    let after = live() - baseline;
    println!(
        "  a {l}-byte frame in two halves: {held} bytes live after the first, {while_handed_over} reserved while handed over, {after} after the next call"
    );
    if held > l as usize || while_handed_over > l as usize {
        return Err(format!(
            "FC-22: {held} bytes live, {while_handed_over} reserved, above L = {l}"
        ));
    }
    if after != 0 || decoder.reserved() != 0 {
        return Err(format!(
            "{after} bytes still live, {} reserved, after the frame was handed over",
            decoder.reserved()
        ));
    }
    Ok(())
}

/// The encoder reserves room for a whole frame (and the preface, owed or not) before it writes a
/// byte, so encoding into an empty buffer allocates once, at most [`PREFACE`]'s length more than the
/// frame takes: under a ceiling of exactly that, a second, growing allocation aborts the process.
fn encoding_into_an_empty_buffer_reserves_the_frame_once() -> Outcome {
    let text = "t".repeat(1000);
    let text = text.as_str();
    let chat = || Frame::Chat {
        sent_at: UnixMicros(1),
        text,
    };
    let ceiling = PREFACE.len() + 5 + 8 + text.len();
    let encode_under_ceiling = |what: &str,
                                encoder: &mut Encoder,
                                frame: Frame<&str>,
                                frame_len: usize| {
        let mut out = Vec::new();
        match under_ceiling(ceiling, |_| encoder.encode(frame, &mut out)) {
            Ok(written) if written == frame_len && out.len() == frame_len => Ok(()),
            other => Err(format!(
                "{what}: encode returned {other:?} with {} bytes in the buffer, expected {frame_len}",
                out.len()
            )),
        }
    };
    let mut typed = Encoder::client(Profile::Typed, Limits::default());
    encode_under_ceiling(
        "a typed client's first frame, preface owed",
        &mut typed,
        chat(),
        ceiling,
    )?;
    encode_under_ceiling("its second frame", &mut typed, chat(), 5 + 8 + text.len())?;
    let mut legacy = Encoder::server(Profile::Legacy, Limits::default());
    encode_under_ceiling(
        "a legacy frame",
        &mut legacy,
        Frame::Text(text),
        4 + text.len(),
    )
}

/// A payload that arrives whole in one input is returned borrowed from it: no allocation at all,
/// even for a frame of `L`.
fn a_payload_that_arrives_whole_is_borrowed_without_allocating() -> Outcome {
    let limits = Limits::default();
    let l = limits.max_frame_len();
    let mut stream = typed_header(0x82, l).to_vec();
    stream.extend_from_slice(&7u64.to_be_bytes());
    stream.extend_from_slice(&8u64.to_be_bytes());
    stream.resize(5 + l as usize, b'e');
    stream.extend_from_slice(&typed_header(0x84, 8));
    stream.extend_from_slice(&9u64.to_be_bytes());
    let mut decoder = Decoder::client(Profile::Typed, limits);
    let result = under_ceiling(0, |baseline| {
        let mut input = &stream[..];
        let mut frames = 0;
        while !input.is_empty() {
            match decoder.decode(input) {
                Ok(decoded) => {
                    input = &input[decoded.consumed..];
                    frames += usize::from(decoded.frame.is_some());
                }
                Err(_) => {
                    return Err(Violation {
                        fed: stream.len() - input.len(),
                        live: 0,
                        reserved: 0,
                        bound: 0,
                    })
                }
            }
            if live() != baseline {
                return Err(Violation {
                    fed: stream.len() - input.len(),
                    live: live() - baseline,
                    reserved: decoder.reserved(),
                    bound: 0,
                });
            }
        }
        Ok(frames)
    });
    match result {
        Ok(2) => Ok(()),
        Ok(frames) => Err(format!("{frames} frames decoded, expected 2")),
        Err(v) => Err(format!("{v}")),
    }
}

/// FC-11, FC-22: a skipped frame's payload is discarded as it arrives, never buffered.
fn skipped_payloads_are_discarded_without_buffering() -> Outcome {
    let limits = Limits::default();
    let l = limits.max_frame_len();
    let mut stream = Vec::new();
    for frame_type in [0x87u8, 0xaf, 0xb0, 0xbf] {
        stream.extend_from_slice(&typed_header(frame_type, l));
        stream.resize(stream.len() + l as usize, 0xff);
    }
    let mut decoder = Decoder::client(Profile::Typed, limits);
    let result = under_ceiling(0, |baseline| {
        // Chunks of 1, 2, 3, ... 4096 bytes in turn.
        let mut at = 0;
        let mut size = 1;
        while at < stream.len() {
            let end = (at + size).min(stream.len());
            let decoded = decoder.decode(&stream[at..end]);
            if decoded.map(|d| d.frame.is_some()) != Ok(false)
                || live() != baseline
                || decoder.reserved() != 0
            {
                return Err(Violation {
                    fed: end,
                    live: live() - baseline,
                    reserved: decoder.reserved(),
                    bound: 0,
                });
            }
            at = end;
            size = size % 4096 + 1;
        }
        Ok(decoder.frames_skipped())
    });
    match result {
        Ok(4) => Ok(()),
        Ok(skipped) => Err(format!("{skipped} frames skipped, expected 4")),
        Err(v) => Err(format!("{v}")),
    }
}

fn main() {
    let scenarios: [Scenario; 7] = [
        (
            "a_declared_4_gib_length_costs_nothing_beyond_its_header",
            a_declared_4_gib_length_costs_nothing_beyond_its_header,
        ),
        (
            "many_streams_declaring_l_and_trickling_hold_only_what_arrived",
            many_streams_declaring_l_and_trickling_hold_only_what_arrived,
        ),
        (
            "one_stream_trickling_frames_of_l_never_holds_more_than_header_plus_l",
            one_stream_trickling_frames_of_l_never_holds_more_than_header_plus_l,
        ),
        (
            "the_buffer_of_a_large_frame_is_released_once_the_frame_is_handed_over",
            the_buffer_of_a_large_frame_is_released_once_the_frame_is_handed_over,
        ),
        (
            "a_payload_that_arrives_whole_is_borrowed_without_allocating",
            a_payload_that_arrives_whole_is_borrowed_without_allocating,
        ),
        (
            "skipped_payloads_are_discarded_without_buffering",
            skipped_payloads_are_discarded_without_buffering,
        ),
        (
            "encoding_into_an_empty_buffer_reserves_the_frame_once",
            encoding_into_an_empty_buffer_reserves_the_frame_once,
        ),
    ];
    println!("\nrunning {} tests (memory, no harness)", scenarios.len());
    let mut failed = 0;
    for (name, scenario) in scenarios {
        // Named before it runs: a ceiling breach aborts the process inside the scenario.
        println!("test {name} ...");
        std::io::Write::flush(&mut std::io::stdout()).expect("stdout is writable");
        match scenario() {
            Ok(()) => println!("test {name} ... ok"),
            Err(message) => {
                failed += 1;
                println!("test {name} ... FAILED\n  {message}");
            }
        }
    }
    println!("\n{} passed, {failed} failed", scenarios.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
