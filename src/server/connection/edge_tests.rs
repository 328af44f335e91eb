//! The server-side inputs of the lifecycle (issue 11's edges): a successful write restarts the idle
//! timeout (FC-32), and a shutdown (FC-33) or a full queue (FC-29) decides a silent connection
//! legacy before its window runs out. Time is an argument; no sockets.

use super::*;

const WINDOW: Duration = Duration::from_millis(200);
const IDLE: Duration = Duration::from_secs(2);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config() -> ServerConfig {
    ServerConfig {
        detect_window: WINDOW,
        frame_deadline: Duration::from_secs(1),
        idle_timeout: IDLE,
        ..ServerConfig::default()
    }
}

fn legacy_after_the_window(accepted: Instant) -> Connection {
    let mut connection = Connection::new(&config(), accepted);
    let step = connection.on_timeout(accepted + WINDOW);
    assert_eq!(step.start_writer, Some(Profile::Legacy));
    connection
}

#[test]
fn a_listen_only_peer_being_written_to_is_not_idle() {
    let accepted = Instant::now();
    let mut connection = legacy_after_the_window(accepted);
    let decided = accepted + WINDOW;
    // Writes every second keep the idle deadline ahead, though the peer never sends.
    for second in 1..=10 {
        let written = decided + ms(1_000 * second);
        connection.on_written(written);
        assert_eq!(
            connection.next_deadline(),
            (written + IDLE, Clock::IdleTimeout)
        );
        assert_eq!(connection.on_timeout(written + ms(1_999)), Step::read(None));
    }
}

#[test]
fn a_listen_only_peer_that_is_not_written_to_is_closed_one_idle_timeout_after_the_last_write() {
    let accepted = Instant::now();
    let mut connection = legacy_after_the_window(accepted);
    let written = accepted + ms(700);
    connection.on_written(written);
    let step = connection.on_timeout(written + IDLE);
    assert_eq!(
        step.then,
        Then::Close(Closing {
            cause: Cause::Timeout(Clock::IdleTimeout),
            error: None,
        })
    );
}

#[test]
fn a_write_reported_late_never_moves_the_idle_clock_back() {
    let accepted = Instant::now();
    let mut connection = legacy_after_the_window(accepted);
    let read_at = accepted + ms(1_500);
    let step = connection.on_read(b"\x00\x00\x00\x01a", read_at, &mut |_| {});
    assert_eq!(step, Step::read(None));
    connection.on_written(accepted + ms(900));
    assert_eq!(
        connection.next_deadline(),
        (read_at + IDLE, Clock::IdleTimeout)
    );
}

#[test]
fn a_write_does_not_extend_the_frame_deadline() {
    let accepted = Instant::now();
    let mut connection = legacy_after_the_window(accepted);
    let started = accepted + ms(300);
    let _ = connection.on_read(b"\x00\x00", started, &mut |_| {});
    connection.on_written(accepted + ms(800));
    let deadline = started + Duration::from_secs(1);
    assert_eq!(connection.next_deadline(), (deadline, Clock::FrameDeadline));
}

#[test]
fn shutdown_decides_a_silent_connection_legacy_inside_its_window() {
    let accepted = Instant::now();
    let mut connection = Connection::new(&config(), accepted);
    let step = connection.on_shutdown(accepted + ms(50));
    assert_eq!(step, Step::read(Some(Profile::Legacy)));
    assert_eq!(connection.profile(), Some(Profile::Legacy));
    // Said once: the window running out later starts nothing more.
    assert_eq!(connection.on_timeout(accepted + WINDOW).start_writer, None);
}

#[test]
fn shutdown_closes_a_connection_in_the_middle_of_its_preface_without_writing() {
    let accepted = Instant::now();
    let mut connection = Connection::new(&config(), accepted);
    let _ = connection.on_read(&PREFACE[..6], accepted + ms(10), &mut |_| {});
    assert_eq!(connection.profile(), Some(Profile::Typed));
    let step = connection.on_shutdown(accepted + ms(20));
    assert_eq!(
        step,
        Step {
            start_writer: None,
            then: Then::Close(Closing {
                cause: Cause::Ended,
                error: None,
            }),
        }
    );
}

#[test]
fn shutdown_closes_a_connection_waiting_for_its_fourth_detection_byte() {
    let accepted = Instant::now();
    let mut connection = Connection::new(&config(), accepted);
    let _ = connection.on_read(&PREFACE[..2], accepted + ms(10), &mut |_| {});
    let step = connection.on_shutdown(accepted + ms(20));
    assert_eq!(step.start_writer, None);
    assert!(matches!(step.then, Then::Close(_)));
}

#[test]
fn shutdown_leaves_a_connection_whose_writer_runs_to_its_writer() {
    let accepted = Instant::now();
    let mut connection = Connection::new(&config(), accepted);
    let step = connection.on_read(PREFACE, accepted + ms(10), &mut |_| {});
    assert_eq!(step.start_writer, Some(Profile::Typed));
    assert_eq!(connection.on_shutdown(accepted + ms(20)), Step::read(None));
}

#[test]
fn a_full_queue_decides_a_silent_connection_legacy_at_once() {
    let accepted = Instant::now();
    let mut connection = Connection::new(&config(), accepted);
    let full_at = accepted + ms(30);
    assert_eq!(
        connection.on_queue_full(full_at),
        Step::read(Some(Profile::Legacy))
    );
    // From the decision on, the idle clock runs.
    assert_eq!(
        connection.next_deadline(),
        (full_at + IDLE, Clock::IdleTimeout)
    );
}

#[test]
fn a_full_queue_changes_nothing_once_the_peer_has_sent_a_byte() {
    let accepted = Instant::now();
    let mut connection = Connection::new(&config(), accepted);
    let _ = connection.on_read(&PREFACE[..1], accepted + ms(10), &mut |_| {});
    assert_eq!(
        connection.on_queue_full(accepted + ms(20)),
        Step::read(None)
    );
    assert_eq!(connection.profile(), None);
    // The fourth byte still decides, as FC-27 says.
    let step = connection.on_read(&PREFACE[1..], accepted + ms(30), &mut |_| {});
    assert_eq!(step.start_writer, Some(Profile::Typed));
}
