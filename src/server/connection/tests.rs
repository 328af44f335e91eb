//! The lifecycle rules of §8.2–§8.7, driven without sockets or sleeps: time is an argument.

use proptest::prelude::*;

use super::*;

const WINDOW: Duration = Duration::from_millis(200);
const DEADLINE: Duration = Duration::from_millis(1_000);
const IDLE: Duration = Duration::from_secs(3_600);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> ServerConfig {
    ServerConfig {
        detect_window: WINDOW,
        frame_deadline: DEADLINE,
        idle_timeout: IDLE,
        ..ServerConfig::default()
    }
}

/// What a simulated driver saw, times measured from the accept.
#[derive(Debug, Default)]
struct Outcome {
    /// Every "start the writer" said, with when.
    writer_starts: Vec<(Profile, Duration)>,
    frames: Vec<Frame<String>>,
    closed: Option<(Closing, Duration)>,
}

/// How a simulated connection ends after its arrivals.
enum Finish {
    /// The peer ends its stream right after the last arrival.
    Eof,
    /// Nothing more arrives until this long after the accept.
    Silence(Duration),
}

/// Drives a connection as the reader task does, with an exact clock and an idle task: each clock
/// that runs out before an arrival fires first, at its deadline (a tie goes to the clock), then
/// the bytes are read.
fn drive(config: &ServerConfig, arrivals: &[(Duration, &[u8])], finish: Finish) -> Outcome {
    let accepted = Instant::now();
    let mut connection = Connection::new(config, accepted);
    let mut outcome = Outcome::default();
    for &(at, bytes) in arrivals {
        if fire_clocks(&mut connection, accepted, accepted + at, &mut outcome) {
            return outcome;
        }
        let mut frames = Vec::new();
        let step = connection.on_read(bytes, accepted + at, &mut |frame| {
            frames.push(frame.into_owned())
        });
        outcome.frames.extend(frames);
        if apply(step, at, &mut outcome) {
            return outcome;
        }
    }
    match finish {
        Finish::Eof => {
            let at = arrivals.last().map_or(Duration::ZERO, |&(at, _)| at);
            let step = connection.on_eof();
            apply(step, at, &mut outcome);
        }
        Finish::Silence(until) => {
            fire_clocks(&mut connection, accepted, accepted + until, &mut outcome);
        }
    }
    outcome
}

/// Fires every clock that runs out before `until`; true if one closed the connection.
fn fire_clocks(
    connection: &mut Connection,
    accepted: Instant,
    until: Instant,
    outcome: &mut Outcome,
) -> bool {
    loop {
        let (deadline, _) = connection.next_deadline();
        if deadline > until {
            return false;
        }
        let step = connection.on_timeout(deadline);
        if apply(step, deadline - accepted, outcome) {
            return true;
        }
    }
}

/// Records a step; true if it closed the connection.
fn apply(step: Step, at: Duration, outcome: &mut Outcome) -> bool {
    if let Some(profile) = step.start_writer {
        outcome.writer_starts.push((profile, at));
    }
    match step.then {
        Then::Read => false,
        Then::Close(closing) => {
            outcome.closed = Some((closing, at));
            true
        }
    }
}

fn legacy_frame(text: &str) -> Vec<u8> {
    let mut bytes = (text.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

fn error_code(outcome: &Outcome) -> Option<ErrorCode> {
    outcome
        .closed
        .as_ref()?
        .0
        .error
        .as_ref()
        .map(|(code, _)| *code)
}

#[test]
fn silence_through_the_detection_window_makes_the_connection_legacy() {
    // FC-27
    let hi = legacy_frame("hi");
    let outcome = drive(&config(), &[(ms(500), &hi)], Finish::Eof);
    assert_eq!(outcome.writer_starts, [(Profile::Legacy, WINDOW)]);
    assert_eq!(outcome.frames, [Frame::Text("hi".to_string())]);
    assert_eq!(
        outcome.closed.map(|(closing, _)| closing),
        Some(Closing {
            cause: Cause::Ended,
            error: None
        })
    );
}

#[test]
fn a_first_byte_within_the_window_waits_for_the_fourth_under_the_frame_deadline() {
    // FC-27: 1 to 3 bytes leave the profile undecided, past the window, under the frame deadline.
    let mut connection = Connection::new(&config(), Instant::now());
    let accepted = connection.accepted_at;
    let step = connection.on_read(&PREFACE[..1], accepted + ms(100), &mut |_| {});
    assert_eq!(step, Step::read(None));
    assert_eq!(
        connection.next_deadline(),
        (accepted + ms(100) + DEADLINE, Clock::FrameDeadline)
    );
    assert_eq!(connection.on_timeout(accepted + ms(900)), Step::read(None));
    assert_eq!(connection.profile(), None);
    let step = connection.on_read(&PREFACE[1..], accepted + ms(1_000), &mut |_| {});
    assert_eq!(step, Step::read(Some(Profile::Typed)));
}

#[test]
fn detection_bytes_stalled_past_the_frame_deadline_close_without_an_error_frame() {
    // FC-27, FC-32: the profile is unknown, so no ERROR may be written.
    let outcome = drive(
        &config(),
        &[(ms(10), &PREFACE[..2])],
        Finish::Silence(ms(5_000)),
    );
    assert!(outcome.writer_starts.is_empty());
    assert_eq!(
        outcome.closed,
        Some((
            Closing {
                cause: Cause::Timeout(Clock::FrameDeadline),
                error: None
            },
            ms(10) + DEADLINE
        ))
    );
}

#[test]
fn the_typed_writer_starts_once_the_preface_is_complete_and_only_once() {
    // §8.3: WELCOME only after the whole preface.
    let mut chat = Vec::new();
    let mut encoder = crate::Encoder::client(Profile::Typed, Limits::default());
    for text in ["a", "b"] {
        let frame = Frame::Chat {
            sent_at: crate::UnixMicros(1),
            text,
        };
        encoder.encode(frame, &mut chat).expect("a valid CHAT");
    }
    let arrivals: [(Duration, &[u8]); 3] = [
        (ms(10), &chat[..4]),
        (ms(20), &chat[4..PREFACE.len()]),
        (ms(30), &chat[PREFACE.len()..]),
    ];
    let outcome = drive(&config(), &arrivals, Finish::Eof);
    assert_eq!(outcome.writer_starts, [(Profile::Typed, ms(20))]);
    assert_eq!(outcome.frames.len(), 2);
}

#[test]
fn a_bad_preface_closes_with_bad_preface_and_never_starts_the_writer() {
    // FC-4, FC-30, §8.3
    let outcome = drive(&config(), &[(ms(1), b"\xffFCHAT/2\r\n")], Finish::Eof);
    assert!(outcome.writer_starts.is_empty());
    assert_eq!(error_code(&outcome), Some(ErrorCode::BAD_PREFACE));
    assert!(matches!(
        outcome.closed,
        Some((
            Closing {
                cause: Cause::Protocol(_),
                ..
            },
            _
        ))
    ));
}

#[test]
fn a_preface_and_a_bad_frame_in_one_read_start_the_writer_and_close_in_one_step() {
    // §8.3, FC-30: WELCOME first, then the ERROR.
    let mut bytes = PREFACE.to_vec();
    bytes.extend_from_slice(&[0x81, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]);
    let mut connection = Connection::new(&config(), Instant::now());
    let now = connection.accepted_at + ms(1);
    let step = connection.on_read(&bytes, now, &mut |_| {});
    assert_eq!(step.start_writer, Some(Profile::Typed));
    let Then::Close(closing) = step.then else {
        panic!("expected a close, got {:?}", step.then)
    };
    assert_eq!(closing.error.map(|e| e.0), Some(ErrorCode::INVALID_UTF8));
}

#[test]
fn a_legacy_protocol_error_closes_without_an_error_frame() {
    // FC-30: legacy has no ERROR.
    let outcome = drive(
        &config(),
        &[(ms(300), &[0x7f, 0xff, 0xff, 0xff, b'x'])],
        Finish::Eof,
    );
    assert_eq!(outcome.writer_starts, [(Profile::Legacy, WINDOW)]);
    let (closing, _) = outcome.closed.expect("closed");
    assert!(matches!(closing.cause, Cause::Protocol(_)));
    assert_eq!(closing.error, None);
}

#[test]
fn a_typed_frame_stalled_past_the_deadline_closes_with_timeout() {
    // FC-32 (slowloris)
    let mut stalled = PREFACE.to_vec();
    stalled.extend_from_slice(&[0x81, 0, 0]);
    let outcome = drive(&config(), &[(ms(5), &stalled)], Finish::Silence(ms(60_000)));
    let (closing, at) = outcome.closed.expect("closed");
    assert_eq!(at, ms(5) + DEADLINE);
    assert_eq!(
        closing,
        Closing {
            cause: Cause::Timeout(Clock::FrameDeadline),
            error: Some((
                ErrorCode::TIMEOUT,
                "closed by the frame deadline".to_string()
            )),
        }
    );
}

#[test]
fn an_idle_typed_connection_closes_with_timeout_one_idle_timeout_after_its_last_read() {
    // FC-32
    let config = ServerConfig {
        idle_timeout: ms(2_000),
        ..config()
    };
    let ping = [0x84, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7];
    let arrivals: [(Duration, &[u8]); 2] = [(ms(5), PREFACE), (ms(1_500), &ping)];
    let outcome = drive(&config, &arrivals, Finish::Silence(ms(60_000)));
    assert_eq!(outcome.frames, [Frame::Ping { nonce: 7 }]);
    let (closing, at) = outcome.closed.expect("closed");
    assert_eq!(at, ms(3_500));
    assert_eq!(
        closing.error,
        Some((ErrorCode::TIMEOUT, "closed by the idle timeout".to_string()))
    );
}

#[test]
fn a_wait_that_ends_before_its_deadline_changes_nothing() {
    let mut connection = Connection::new(&config(), Instant::now());
    let before = connection.next_deadline();
    assert_eq!(
        connection.on_timeout(connection.accepted_at + ms(199)),
        Step::read(None)
    );
    assert_eq!(connection.next_deadline(), before);
    assert_eq!(connection.profile(), None);
}

#[test]
fn an_end_inside_a_frame_is_a_truncated_protocol_error() {
    // FC-21, FC-30
    let mut cut = PREFACE.to_vec();
    cut.extend_from_slice(&[0x81, 0]);
    let outcome = drive(&config(), &[(ms(1), &cut)], Finish::Eof);
    let (closing, _) = outcome.closed.expect("closed");
    let Cause::Protocol(err) = closing.cause else {
        panic!("expected a protocol error, got {:?}", closing.cause)
    };
    assert!(matches!(err.kind, DecodeErrorKind::Truncated { .. }));
    assert_eq!(closing.error.map(|e| e.0), Some(ErrorCode::PROTOCOL_ERROR));
}

#[test]
fn a_frame_only_continued_past_its_deadline_is_cut_though_reads_keep_coming() {
    // FC-32: reads that complete nothing do not restart the clock.
    let frame = legacy_frame(&"x".repeat(100));
    let arrivals: Vec<(Duration, &[u8])> = frame
        .chunks(10)
        .enumerate()
        .map(|(i, chunk)| (WINDOW + ms(300 * i as u64 + 1), chunk))
        .collect();
    let outcome = drive(&config(), &arrivals, Finish::Eof);
    let (closing, at) = outcome.closed.expect("closed");
    assert_eq!(closing.cause, Cause::Timeout(Clock::FrameDeadline));
    assert_eq!(at, WINDOW + ms(1) + DEADLINE);
}

/// The FC-32 rule, computed from frame boundaries alone: when the machine must time out, if ever.
fn expected_deadline_cut(frame_ends: &[usize], reads: &[(Duration, usize)]) -> Option<Duration> {
    let mut position = 0;
    let mut started: Option<Duration> = None;
    for &(at, len) in reads {
        if let Some(started) = started.filter(|s| at >= *s + DEADLINE) {
            return Some(started + DEADLINE);
        }
        let end = position + len;
        let completed = frame_ends.iter().any(|&e| position < e && e <= end);
        let mid_frame = !frame_ends.contains(&end);
        started = match (mid_frame, started) {
            (false, _) => None,
            (true, Some(s)) if !completed => Some(s),
            (true, _) => Some(at),
        };
        position = end;
    }
    None
}

/// Splits `len` bytes at `cuts` (any positions) into read lengths.
fn read_lengths(len: usize, cuts: &[usize]) -> Vec<usize> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % len.max(1)).collect();
    cuts.extend([0, len]);
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| w[1] - w[0]).collect()
}

proptest! {
    #[test]
    fn any_arrival_of_the_preface_across_the_window_decides_as_fc_27(
        cuts in proptest::collection::vec(1usize..10, 0..9),
        gaps in proptest::collection::vec(0u64..400, 10),
    ) {
        let lengths = read_lengths(PREFACE.len(), &cuts);
        let mut at = Duration::ZERO;
        let mut position = 0;
        let mut arrivals = Vec::new();
        // When the first byte and the 4th and 10th came: what §5 and FC-27 decide on.
        let (mut fourth, mut tenth) = (Duration::ZERO, Duration::ZERO);
        for (len, gap) in lengths.iter().zip(&gaps) {
            at += ms(*gap);
            arrivals.push((at, &PREFACE[position..position + len]));
            position += len;
            if (position - len..position).contains(&3) { fourth = at; }
            if position == PREFACE.len() { tenth = at; }
        }
        let first = arrivals[0].0;
        let outcome = drive(&config(), &arrivals, Finish::Eof);
        let (closing, _) = outcome.closed.expect("every run ends closed");
        if first >= WINDOW {
            // Legacy: the preface's first 4 bytes are a length far past the limit (§5).
            prop_assert_eq!(&outcome.writer_starts, &[(Profile::Legacy, WINDOW)]);
            prop_assert_eq!(closing.error, None);
            if fourth < first + DEADLINE {
                let too_large = matches!(
                    closing.cause,
                    Cause::Protocol(DecodeError { kind: DecodeErrorKind::FrameTooLarge { .. }, .. })
                );
                prop_assert!(too_large, "{:?}", closing.cause);
            } else {
                prop_assert_eq!(closing.cause, Cause::Timeout(Clock::FrameDeadline));
            }
        } else if tenth < first + DEADLINE {
            prop_assert_eq!(&outcome.writer_starts, &[(Profile::Typed, tenth)]);
            prop_assert_eq!(closing, Closing { cause: Cause::Ended, error: None });
        } else {
            prop_assert!(outcome.writer_starts.is_empty());
            prop_assert_eq!(closing.cause, Cause::Timeout(Clock::FrameDeadline));
            // Typed once 4 bytes arrived in time: only then may an ERROR be written.
            prop_assert_eq!(closing.error.is_some(), fourth < first + DEADLINE);
        }
    }

    #[test]
    fn a_stream_of_frames_is_cut_only_by_a_frame_that_outlasts_its_deadline(
        texts in proptest::collection::vec(0usize..60, 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        gaps in proptest::collection::vec(0u64..700, 41),
    ) {
        let mut stream = Vec::new();
        let mut frame_ends = Vec::new();
        for len in &texts {
            stream.extend(legacy_frame(&"y".repeat(*len)));
            frame_ends.push(stream.len());
        }
        let mut at = WINDOW;
        let mut position = 0;
        let mut arrivals = Vec::new();
        let mut reads = Vec::new();
        for (len, gap) in read_lengths(stream.len(), &cuts).into_iter().zip(&gaps) {
            at += ms(*gap);
            arrivals.push((at, &stream[position..position + len]));
            reads.push((at, len));
            position += len;
        }
        let outcome = drive(&config(), &arrivals, Finish::Eof);
        let (closing, closed_at) = outcome.closed.expect("every run ends closed");
        match expected_deadline_cut(&frame_ends, &reads) {
            Some(cut_at) => {
                prop_assert_eq!(closing.cause, Cause::Timeout(Clock::FrameDeadline));
                prop_assert_eq!(closed_at, cut_at);
                prop_assert!(outcome.frames.len() < texts.len());
            }
            None => {
                prop_assert_eq!(closing.cause, Cause::Ended);
                prop_assert_eq!(outcome.frames.len(), texts.len());
            }
        }
    }
}
