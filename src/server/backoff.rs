//! Backing off after failed accepts. Out of file descriptors, `accept` fails at once for as long
//! as the shortage lasts: retrying in a loop burns a core and floods the log. So the wait doubles
//! from [`MIN_WAIT`] to [`MAX_WAIT`] while accepts fail, and the failure is logged at most once per
//! [`LOG_EVERY`], with how many failures were not logged in between.

use std::io;
use std::time::{Duration, Instant};

/// The wait after a first failure.
const MIN_WAIT: Duration = Duration::from_millis(20);
/// The longest wait between two tries.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// At most one log line per this long.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// One accept loop's back-off state. Time is an argument: it reads no clock.
#[derive(Debug)]
pub(super) struct AcceptBackoff {
    /// Which listener, for the log line.
    what: &'static str,
    /// The wait after the next failure.
    next_wait: Duration,
    /// When a failure was last logged.
    last_logged: Option<Instant>,
    /// Failures since the last log line that were not logged.
    suppressed: u64,
}

impl AcceptBackoff {
    pub(super) fn new(what: &'static str) -> AcceptBackoff {
        AcceptBackoff {
            what,
            next_wait: MIN_WAIT,
            last_logged: None,
            suppressed: 0,
        }
    }

    /// An accept succeeded: the next failure waits the least again.
    pub(super) fn on_success(&mut self) {
        self.next_wait = MIN_WAIT;
    }

    /// An accept failed at `now` with `err`: logs it if it is time, and says how long to wait
    /// before the next try.
    pub(super) fn on_failure(&mut self, err: &io::Error, now: Instant) -> Duration {
        if let Some(suppressed) = self.should_log(now) {
            let what = self.what;
            if suppressed == 0 {
                log::warn!("{what}: accept failed: {err}");
            } else {
                log::warn!("{what}: accept failed: {err} ({suppressed} more failures not logged)");
            }
        }
        self.wait_after_failure()
    }

    /// `Some(failures not logged since the last line)` if a failure at `now` is to be logged.
    fn should_log(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last_logged
            .is_none_or(|last| now.saturating_duration_since(last) >= LOG_EVERY);
        if !due {
            self.suppressed += 1;
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }

    /// The wait now, doubling the next one up to [`MAX_WAIT`].
    fn wait_after_failure(&mut self) -> Duration {
        let wait = self.next_wait;
        self.next_wait = (wait * 2).min(MAX_WAIT);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn failure() -> io::Error {
        io::Error::other("Too many open files")
    }

    #[test]
    fn repeated_failures_double_the_wait_up_to_a_second() {
        let mut backoff = AcceptBackoff::new("test");
        let start = Instant::now();
        let waits: Vec<Duration> = (0..9)
            .map(|_| backoff.on_failure(&failure(), start))
            .collect();
        let expected = [20, 40, 80, 160, 320, 640, 1000, 1000, 1000].map(ms);
        assert_eq!(waits, expected);
    }

    #[test]
    fn a_success_resets_the_wait() {
        let mut backoff = AcceptBackoff::new("test");
        let start = Instant::now();
        for _ in 0..5 {
            let _ = backoff.on_failure(&failure(), start);
        }
        backoff.on_success();
        assert_eq!(backoff.on_failure(&failure(), start), MIN_WAIT);
    }

    #[test]
    fn failures_are_logged_at_most_once_a_second_with_the_count_not_logged() {
        let mut backoff = AcceptBackoff::new("test");
        let start = Instant::now();
        assert_eq!(backoff.should_log(start), Some(0));
        // Fifty failures within the second: none logged.
        for i in 1..=50 {
            assert_eq!(backoff.should_log(start + ms(i * 19)), None);
        }
        assert_eq!(backoff.should_log(start + ms(1_000)), Some(50));
        assert_eq!(backoff.should_log(start + ms(1_500)), None);
        assert_eq!(backoff.should_log(start + ms(2_000)), Some(1));
    }
}
