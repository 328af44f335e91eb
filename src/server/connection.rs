//! A connection's lifecycle (§8.2–§8.7) as a sans-IO state machine: bytes and instants in, what
//! to do out.
//!
//! # Theory of operation
//!
//! A [`Connection`] owns the connection's [`Decoder`] and the three clocks that bound its reads. It
//! reads no clock, does no I/O and spawns nothing; the reader task drives it:
//!
//! 1. [`next_deadline`](Connection::next_deadline) says until when to wait for bytes, and which
//!    clock that is;
//! 2. read until then and call [`on_read`](Connection::on_read) with the bytes (frames come out
//!    through a callback, in stream order), [`on_eof`](Connection::on_eof) at the peer's end of
//!    stream, or [`on_timeout`](Connection::on_timeout) when the wait runs out;
//! 3. act on the [`Step`]: start the writer if it names a profile, then read again or close.
//!
//! Three more inputs come from the server, not the socket:
//! [`on_written`](Connection::on_written) after each successful write to the peer (a peer being
//! written to is not idle, FC-32), and, while the writer may not start yet,
//! [`on_shutdown`](Connection::on_shutdown) (FC-33) and [`on_queue_full`](Connection::on_queue_full)
//! (FC-29): both decide legacy at once if no byte has arrived, as the window running out would.
//!
//! Which clock bounds the next read:
//!
//! ```text
//! no byte yet ─────────────── detection window, from the accept; when it runs out: legacy (FC-27)
//! a frame, the preface or ─── frame deadline, from the read that started it; a read that completes
//! the first 1..3 bytes            a frame or the preface restarts it, one that only continues the
//! incomplete                      same frame keeps it (FC-32)
//! between frames ──────────── idle timeout, from the last read or successful write (FC-32)
//! ```
//!
//! The writer may start once the profile is known and, for typed, the preface is complete and
//! good: a client with a bad preface never gets a WELCOME (§8.3). A decoding error closes the
//! connection with ERROR and the matching code, a clock with ERROR TIMEOUT; both only on a typed
//! connection, as legacy has no ERROR (FC-30, FC-32).
//!
//! With authentication on (§8.9) a typed connection's first frame after the preface must be an
//! admitted AUTH, within the authentication deadline from the accept (a fourth clock, whichever of
//! it and the one above runs out first). Until then no frame reaches the driver and the writer may
//! not start; on the AUTH the driver hears `on_joined` (drop what was queued before: the
//! connection joins the room now, FC-26, FC-34), then the frames that followed it in the same
//! read, and the writer starts. Anything else first closes with ERROR UNAUTHORIZED. A legacy
//! connection is closed without a frame when the policy refuses it (FC-36), before any of its
//! frames reaches the driver.

use std::time::{Duration, Instant};

use super::auth::{AuthConfig, LegacyPolicy};
use super::config::ServerConfig;
use crate::wire::PREFACE;
use crate::{DecodeError, DecodeErrorKind, Decoder, ErrorCode, Frame, Limits, Profile};

/// One connection's lifecycle state; see the [module docs](self) for the calls and their order.
#[derive(Debug)]
pub(crate) struct Connection {
    decoder: Decoder,
    limits: Limits,
    detect_window: Duration,
    frame_deadline: Duration,
    idle_timeout: Duration,
    accepted_at: Instant,
    /// The last read, successful write or legacy decision: what the idle timeout measures from.
    idle_since: Instant,
    /// When the incomplete frame (or preface, or detection bytes) started; `None` between frames.
    frame_started: Option<Instant>,
    /// A [`Step`] has said to start the writer: it is said once.
    writer_started: bool,
    /// Authentication rules, `None` when it is off (§8.9).
    auth: Option<AuthConfig>,
    /// An AUTH was admitted (always false while `auth` is `None`; nothing waits for it then).
    authenticated: bool,
}

/// The clocks that bound a connection's reads (FC-27, FC-32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clock {
    /// No byte yet: when it runs out the connection is legacy.
    DetectionWindow,
    /// A frame, the preface or the detection bytes are incomplete.
    FrameDeadline,
    /// Between frames.
    IdleTimeout,
    /// A typed connection has not authenticated yet (FC-35).
    AuthDeadline,
}

impl Clock {
    /// The clock as the closing ERROR's reason and the log name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Clock::DetectionWindow => "the detection window",
            Clock::FrameDeadline => "the frame deadline",
            Clock::IdleTimeout => "the idle timeout",
            Clock::AuthDeadline => "the authentication deadline",
        }
    }
}

/// What the driver does after an input.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub(crate) struct Step {
    /// Writing may begin: start the writer in this profile. Said once per connection, before the
    /// `then` of the same step (so an ERROR that closes follows the WELCOME).
    pub(crate) start_writer: Option<Profile>,
    /// Then: read on, or close.
    pub(crate) then: Then,
}

/// Whether the connection reads on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// Read until [`Connection::next_deadline`].
    Read,
    /// Stop reading and close the connection.
    Close(Closing),
}

/// Why a connection closes, and its last frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Closing {
    /// Whose doing the close is.
    pub(crate) cause: Cause,
    /// The ERROR to send last (FC-30, FC-32): only on a typed connection.
    pub(crate) error: Option<(ErrorCode, String)>,
}

/// Why a connection closes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The peer ended its stream between frames, or the server closed the connection itself.
    Ended,
    /// The peer sent something invalid (FC-30).
    Protocol(DecodeError),
    /// The peer was too slow for a clock (FC-32, FC-35).
    Timeout(Clock),
    /// Authentication is on and the peer's first frame was not an admitted AUTH (FC-34).
    Unauthorized,
    /// Authentication is on, the connection is legacy and the policy refuses it (FC-36).
    LegacyRefused,
}

impl Step {
    fn read(start_writer: Option<Profile>) -> Step {
        Step {
            start_writer,
            then: Then::Read,
        }
    }

    /// The connection is gone through no fault of the peer's and with nothing to send: the server
    /// closed it, or the socket failed.
    pub(crate) fn gone() -> Step {
        Step {
            start_writer: None,
            then: Then::Close(Closing {
                cause: Cause::Ended,
                error: None,
            }),
        }
    }
}

/// A deadline far enough not to matter, for durations `Instant` cannot add.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `start + wait`, saturating at [`FOREVER`] instead of overflowing: a configured duration may
/// be as long as `Duration` allows.
pub(super) fn after(start: Instant, wait: Duration) -> Instant {
    start
        .checked_add(wait)
        .or_else(|| start.checked_add(FOREVER))
        .unwrap_or(start)
}

impl Connection {
    /// A connection accepted at `accepted_at`, profile unknown (§5).
    pub(crate) fn new(config: &ServerConfig, accepted_at: Instant) -> Connection {
        Connection {
            decoder: Decoder::server_detect(config.limits),
            limits: config.limits,
            detect_window: config.detect_window,
            frame_deadline: config.frame_deadline,
            idle_timeout: config.idle_timeout,
            accepted_at,
            idle_since: accepted_at,
            frame_started: None,
            writer_started: false,
            auth: config.auth.clone(),
            authenticated: false,
        }
    }

    /// A typed connection that must still authenticate: what is queued for it meanwhile is
    /// dropped, since it is not yet in the room (FC-34).
    pub(crate) fn awaiting_auth(&self) -> bool {
        self.auth.is_some() && !self.authenticated && self.profile() == Some(Profile::Typed)
    }

    /// Authentication is on and refuses this connection's legacy profile (FC-36).
    fn refuses_legacy(&self) -> bool {
        self.profile() == Some(Profile::Legacy) && self.policy_refuses_legacy()
    }

    /// Authentication is on and refuses legacy, whatever this connection's profile turns out to be.
    fn policy_refuses_legacy(&self) -> bool {
        self.auth
            .as_ref()
            .is_some_and(|auth| auth.legacy == LegacyPolicy::Refuse)
    }

    /// The profile, once decided.
    pub(crate) fn profile(&self) -> Option<Profile> {
        self.decoder.profile()
    }

    /// Until when the next read may wait, and which clock that is.
    pub(crate) fn next_deadline(&self) -> (Instant, Clock) {
        let lifecycle = self.lifecycle_deadline();
        match &self.auth {
            // FC-35 bounds typed connections: an undecided one may still turn out legacy, and is
            // bounded meanwhile by the detection window or the frame deadline.
            Some(auth) if !self.authenticated && self.profile() == Some(Profile::Typed) => {
                let auth_deadline = (after(self.accepted_at, auth.deadline), Clock::AuthDeadline);
                // A tie goes to the lifecycle clock: the detection window still decides legacy.
                if auth_deadline.0 < lifecycle.0 {
                    auth_deadline
                } else {
                    lifecycle
                }
            }
            _ => lifecycle,
        }
    }

    /// The clock of §8.2 and §8.7 that bounds the next read, authentication aside.
    fn lifecycle_deadline(&self) -> (Instant, Clock) {
        if self.profile().is_none() && self.decoder.stream_offset() == 0 {
            (
                after(self.accepted_at, self.detect_window),
                Clock::DetectionWindow,
            )
        } else if let Some(started) = self.frame_started {
            (after(started, self.frame_deadline), Clock::FrameDeadline)
        } else {
            (
                after(self.idle_since, self.idle_timeout),
                Clock::IdleTimeout,
            )
        }
    }

    /// A wait ended at `now` without bytes. Before the deadline this changes nothing; at or past
    /// it, the detection window makes the connection legacy and the other clocks close it.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> Step {
        let (deadline, clock) = self.next_deadline();
        if now < deadline {
            return Step::read(None);
        }
        match clock {
            // FC-27: no byte within the window.
            Clock::DetectionWindow => self.decide_legacy(now),
            Clock::FrameDeadline | Clock::IdleTimeout | Clock::AuthDeadline => {
                self.close(Cause::Timeout(clock))
            }
        }
    }

    /// The server wrote to the peer successfully at `now`: the idle timeout restarts, since a
    /// peer that only listens is not idle while it is being written to (FC-26, FC-32). A dead
    /// peer is caught by the write timeout and the queue bound instead.
    pub(crate) fn on_written(&mut self, now: Instant) {
        self.idle_since = self.idle_since.max(now);
    }

    /// The server shuts down (FC-33). A connection that has sent no byte is decided legacy at once
    /// (as if its window had run out), so its writer delivers its queue within the grace period;
    /// one whose writer runs already reads on (the writer ends it); one in the middle of its first
    /// bytes or its preface may not be written to (FC-27, §8.3) and is closed.
    pub(crate) fn on_shutdown(&mut self, now: Instant) -> Step {
        if self.writer_started {
            return Step::read(None);
        }
        if self.policy_refuses_legacy() {
            // Deciding legacy now would only refuse it: a shutdown, not a refusal (FC-33, FC-36).
            return self.close(Cause::Ended);
        }
        match self.decide_legacy_if_silent(now) {
            Some(step) => step,
            None => self.close(Cause::Ended),
        }
    }

    /// What the server queued for the peer before its writer may start has reached the queue's
    /// bound (FC-29). A connection that has sent no byte is decided legacy at once, so the bound
    /// never closes a peer the server was not yet allowed to write to; otherwise nothing changes
    /// and the bound applies as usual.
    pub(crate) fn on_queue_full(&mut self, now: Instant) -> Step {
        self.decide_legacy_if_silent(now)
            .unwrap_or(Step::read(None))
    }

    /// Decides legacy at `now` if the peer has sent no byte and the writer has not started.
    fn decide_legacy_if_silent(&mut self, now: Instant) -> Option<Step> {
        let silent = self.profile().is_none() && self.decoder.stream_offset() == 0;
        if !silent || self.writer_started {
            return None;
        }
        Some(self.decide_legacy(now))
    }

    /// FC-27's decision for a connection that has sent no byte: legacy from `now` on, and then
    /// refused if authentication is on and refuses legacy (FC-36).
    fn decide_legacy(&mut self, now: Instant) -> Step {
        self.decoder = Decoder::server(Profile::Legacy, self.limits);
        self.idle_since = now;
        if self.refuses_legacy() {
            return self.close(Cause::LegacyRefused);
        }
        Step::read(self.writer_may_start())
    }

    /// [`on_read_joining`](Connection::on_read_joining) for a connection without authentication,
    /// which never joins later than its accept.
    #[cfg(test)]
    pub(crate) fn on_read(
        &mut self,
        bytes: &[u8],
        now: Instant,
        on_frame: &mut impl FnMut(Frame<&str>),
    ) -> Step {
        self.on_read_joining(bytes, now, &mut || {}, on_frame)
    }

    /// Takes in `bytes` read at `now`, handing each complete frame to `on_frame` in order. With
    /// authentication on, `on_joined` is called when the AUTH is admitted, before the frames that
    /// follow it: the connection joins the room then, and what was queued for it before must be
    /// dropped, not sent (FC-26 as §8.9 amends it).
    pub(crate) fn on_read_joining(
        &mut self,
        bytes: &[u8],
        now: Instant,
        on_joined: &mut impl FnMut(),
        on_frame: &mut impl FnMut(Frame<&str>),
    ) -> Step {
        self.idle_since = now;
        let frames_before = self.decoder.frames_completed();
        let offset_before = self.decoder.stream_offset();
        let mut input = bytes;
        let mut failure = None;
        // Read once: the frames below borrow the decoder, and the policy does not change.
        let policy_refuses_legacy = self.policy_refuses_legacy();
        while !input.is_empty() {
            // FC-36: a refused legacy connection's frames never reach the room.
            if self.refuses_legacy() {
                return self.close(Cause::LegacyRefused);
            }
            match self.decoder.decode(input) {
                Ok(decoded) => {
                    input = &input[decoded.consumed..];
                    // A typed frame while not authenticated is the first after the preface; a
                    // legacy frame may come out of the very call that decided legacy.
                    let awaiting_auth = self.auth.is_some() && !self.authenticated;
                    match decoded.frame {
                        Some(Frame::Text(_)) if policy_refuses_legacy => {
                            return self.close(Cause::LegacyRefused);
                        }
                        Some(frame) if awaiting_auth && !matches!(frame, Frame::Text(_)) => {
                            if !admits(self.auth.as_ref(), &frame) {
                                return self.close(Cause::Unauthorized);
                            }
                            self.authenticated = true;
                            on_joined();
                        }
                        Some(frame) => on_frame(frame),
                        None => {}
                    }
                }
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        if self.refuses_legacy() {
            return self.close(Cause::LegacyRefused);
        }
        let start_writer = self.writer_may_start();
        if let Some(err) = failure {
            let mut step = self.close(self.decoding_failed(err));
            step.start_writer = start_writer;
            return step;
        }
        let preface_len = PREFACE.len() as u64;
        let completed_something = self.decoder.frames_completed() != frames_before
            || (self.profile() == Some(Profile::Typed)
                && offset_before < preface_len
                && self.decoder.stream_offset() >= preface_len);
        self.frame_started = match (self.decoder.is_mid_frame(), self.frame_started) {
            (false, _) => None,
            (true, Some(started)) if !completed_something => Some(started),
            (true, _) => Some(now),
        };
        Step::read(start_writer)
    }

    /// The peer ended its stream: cleanly between frames (or before any byte), otherwise a
    /// `Truncated` protocol error (FC-21).
    pub(crate) fn on_eof(&mut self) -> Step {
        match self.decoder.finish() {
            Ok(()) => self.close(Cause::Ended),
            Err(err) => self.close(self.decoding_failed(err)),
        }
    }

    /// Why a decoding error closes the connection. Past a good preface and before the AUTH was
    /// admitted the frame in error is the one that should have been AUTH, and a decoding error's
    /// text would tell its length (a `Truncated` AUTH's declared length is the token's plus one),
    /// so it is refused as UNAUTHORIZED, which says nothing of it (FC-34).
    fn decoding_failed(&self, err: DecodeError) -> Cause {
        let past_preface = !matches!(err.kind, DecodeErrorKind::BadPreface { .. })
            && err.offset > PREFACE.len() as u64;
        if self.awaiting_auth() && past_preface {
            Cause::Unauthorized
        } else {
            Cause::Protocol(err)
        }
    }

    /// Says "start the writer" the first time it may start.
    fn writer_may_start(&mut self) -> Option<Profile> {
        let bad_preface = matches!(
            self.decoder.error(),
            Some(DecodeError {
                kind: DecodeErrorKind::BadPreface { .. },
                ..
            })
        );
        let may_start = match self.profile() {
            Some(Profile::Legacy) => true,
            Some(Profile::Typed) => {
                self.decoder.stream_offset() >= PREFACE.len() as u64
                    && !bad_preface
                    && (self.auth.is_none() || self.authenticated)
            }
            None => false,
        };
        if self.writer_started || !may_start {
            return None;
        }
        self.writer_started = true;
        self.profile()
    }

    fn close(&self, cause: Cause) -> Step {
        let error = match (&cause, self.profile()) {
            (_, None | Some(Profile::Legacy)) | (Cause::Ended, _) => None,
            (Cause::Protocol(err), Some(Profile::Typed)) => {
                Some((err.error_code(), err.to_string()))
            }
            (Cause::Timeout(clock), Some(Profile::Typed)) => {
                Some((ErrorCode::TIMEOUT, format!("closed by {}", clock.name())))
            }
            // The reason says what was wrong with no word of what the client sent (§8.9).
            (Cause::Unauthorized, Some(Profile::Typed)) => Some((
                ErrorCode::UNAUTHORIZED,
                "authentication required: AUTH with an admitted token first".to_string(),
            )),
            (Cause::LegacyRefused, Some(Profile::Typed)) => None,
        };
        Step {
            start_writer: None,
            then: Then::Close(Closing { cause, error }),
        }
    }
}

/// FC-34: whether `frame`, a typed connection's first, is an AUTH that `auth` admits.
fn admits(auth: Option<&AuthConfig>, frame: &Frame<&str>) -> bool {
    match (frame, auth) {
        (Frame::Auth { scheme, token }, Some(auth)) => auth.tokens.admits(*scheme, token),
        _ => false,
    }
}

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod edge_tests;
#[cfg(test)]
mod tests;
