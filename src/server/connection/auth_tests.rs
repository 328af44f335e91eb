//! Authentication in the lifecycle (§8.9, FC-34 to FC-36), driven without sockets: time is an
//! argument, and what the driver hears (frames, the join, writer starts, the close) is recorded in
//! order.

use super::*;
use crate::server::auth::{AuthConfig, LegacyPolicy, TokenSet};
use crate::{AuthScheme, Encoder, UnixMicros};

const WINDOW: Duration = Duration::from_millis(200);
const FRAME_DEADLINE: Duration = Duration::from_secs(1);
const AUTH_DEADLINE: Duration = Duration::from_secs(5);
const GOOD: &str = "correct horse battery staple";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(legacy: LegacyPolicy) -> ServerConfig {
    let tokens = TokenSet::parse(&TokenSet::line_for(GOOD.as_bytes())).expect("a valid line");
    ServerConfig {
        detect_window: WINDOW,
        frame_deadline: FRAME_DEADLINE,
        idle_timeout: Duration::from_secs(3_600),
        auth: Some(AuthConfig {
            tokens,
            deadline: AUTH_DEADLINE,
            legacy,
        }),
        ..ServerConfig::default()
    }
}

/// What the driver heard, in order.
#[derive(Debug, PartialEq, Eq)]
enum Heard {
    Joined,
    Frame(Frame<String>),
    WriterStarts(Profile),
    Closed {
        cause: Cause,
        error: Option<ErrorCode>,
    },
}

/// A connection accepted at `accepted` and what its driver heard.
struct Driven {
    accepted: Instant,
    connection: Connection,
    heard: Vec<Heard>,
}

impl Driven {
    fn new(config: &ServerConfig) -> Driven {
        let accepted = Instant::now();
        Driven {
            accepted,
            connection: Connection::new(config, accepted),
            heard: Vec::new(),
        }
    }

    fn read(&mut self, bytes: &[u8], at: Duration) {
        // Both callbacks record into one list, in the order they are called.
        let heard = std::cell::RefCell::new(Vec::new());
        let step = self.connection.on_read_joining(
            bytes,
            self.accepted + at,
            &mut || heard.borrow_mut().push(Heard::Joined),
            &mut |frame| heard.borrow_mut().push(Heard::Frame(frame.into_owned())),
        );
        self.heard.extend(heard.into_inner());
        self.record(step);
    }

    /// Fires every clock up to `until`, as the reader does when no byte arrives.
    fn wait(&mut self, until: Duration) {
        while !self.closed() {
            let (deadline, _) = self.connection.next_deadline();
            if deadline > self.accepted + until {
                return;
            }
            let step = self.connection.on_timeout(deadline);
            self.record(step);
        }
    }

    fn record(&mut self, step: Step) {
        if let Some(profile) = step.start_writer {
            self.heard.push(Heard::WriterStarts(profile));
        }
        if let Then::Close(closing) = step.then {
            self.heard.push(Heard::Closed {
                cause: closing.cause,
                error: closing.error.map(|(code, _)| code),
            });
        }
    }

    fn closed(&self) -> bool {
        matches!(self.heard.last(), Some(Heard::Closed { .. }))
    }
}

/// A typed client's bytes: the preface, then `frames`.
fn typed(frames: &[Frame<&str>]) -> Vec<u8> {
    let mut encoder = Encoder::client(Profile::Typed, Limits::default());
    let mut bytes = Vec::new();
    encoder.write_preface(&mut bytes);
    for frame in frames {
        encoder
            .encode(frame.clone(), &mut bytes)
            .expect("a valid frame");
    }
    bytes
}

fn auth(token: &str) -> Frame<&str> {
    Frame::Auth {
        scheme: AuthScheme::BEARER,
        token,
    }
}

fn chat(text: &str) -> Frame<&str> {
    Frame::Chat {
        sent_at: UnixMicros(1),
        text,
    }
}

fn unauthorized() -> Heard {
    Heard::Closed {
        cause: Cause::Unauthorized,
        error: Some(ErrorCode::UNAUTHORIZED),
    }
}

#[test]
fn without_authentication_the_writer_starts_at_the_preface_and_auth_is_a_plain_frame() {
    // §8.9: a server without authentication welcomes at once and ignores AUTH (the driver drops it).
    let config = ServerConfig {
        auth: None,
        ..config(LegacyPolicy::Refuse)
    };
    let mut driven = Driven::new(&config);
    driven.read(&typed(&[auth("anything"), chat("hi")]), ms(10));
    assert_eq!(
        driven.heard,
        [
            Heard::Frame(auth("anything").into_owned()),
            Heard::Frame(chat("hi").into_owned()),
            Heard::WriterStarts(Profile::Typed),
        ]
    );
}

#[test]
fn an_admitted_auth_joins_then_starts_the_writer() {
    // FC-34: no WELCOME before the AUTH is admitted.
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    driven.read(&typed(&[]), ms(10));
    assert!(driven.heard.is_empty(), "{:?}", driven.heard);
    assert!(driven.connection.awaiting_auth());
    driven.read(&typed(&[auth(GOOD)])[PREFACE.len()..], ms(20));
    assert_eq!(
        driven.heard,
        [Heard::Joined, Heard::WriterStarts(Profile::Typed)]
    );
    assert!(!driven.connection.awaiting_auth());
}

#[test]
fn a_chat_in_the_same_read_as_the_preface_and_auth_is_delivered_after_the_join() {
    // §8.3: nothing sent with the preface is lost; its relay comes after the join, so its ECHO is
    // not dropped with what was queued before.
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    driven.read(&typed(&[auth(GOOD), chat("first"), chat("second")]), ms(10));
    assert_eq!(
        driven.heard,
        [
            Heard::Joined,
            Heard::Frame(chat("first").into_owned()),
            Heard::Frame(chat("second").into_owned()),
            Heard::WriterStarts(Profile::Typed),
        ]
    );
}

#[test]
fn an_auth_split_across_reads_is_judged_once_whole() {
    // FC-18 at the lifecycle: one byte a read, the join and the writer come with the last byte.
    let bytes = typed(&[auth(GOOD), chat("hi")]);
    let auth_end = bytes.len() - typed(&[chat("hi")])[PREFACE.len()..].len();
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    for (index, byte) in bytes[..auth_end].iter().enumerate() {
        assert!(
            driven.heard.is_empty(),
            "after byte {index}: {:?}",
            driven.heard
        );
        driven.read(&[*byte], ms(10 + index as u64));
    }
    assert_eq!(
        driven.heard,
        [Heard::Joined, Heard::WriterStarts(Profile::Typed)]
    );
    driven.read(&bytes[auth_end..], ms(2_000));
    assert_eq!(driven.heard[2..], [Heard::Frame(chat("hi").into_owned())]);
}

#[test]
fn a_token_not_admitted_closes_with_unauthorized_and_delivers_nothing() {
    // FC-34: the CHAT after the refused AUTH never reaches the room.
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    driven.read(&typed(&[auth("wrong horse"), chat("leak")]), ms(10));
    assert_eq!(driven.heard, [unauthorized()]);
}

#[test]
fn a_first_frame_other_than_auth_closes_with_unauthorized() {
    // FC-34: an old client's CHAT, or a PING, first.
    for first in [chat("hello"), Frame::Ping { nonce: 1 }] {
        let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
        driven.read(&typed(std::slice::from_ref(&first)), ms(10));
        assert_eq!(driven.heard, [unauthorized()], "{first:?}");
    }
}

#[test]
fn an_unknown_scheme_is_refused_even_with_an_admitted_token() {
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    let other_scheme = Frame::Auth {
        scheme: AuthScheme(2),
        token: GOOD,
    };
    driven.read(&typed(&[other_scheme]), ms(10));
    assert_eq!(driven.heard, [unauthorized()]);
}

#[test]
fn a_silent_typed_connection_is_closed_by_the_authentication_deadline() {
    // FC-35: ERROR TIMEOUT at the deadline from the accept, though the idle timeout is an hour.
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    driven.read(&typed(&[]), ms(10));
    assert_eq!(
        driven.connection.next_deadline(),
        (driven.accepted + AUTH_DEADLINE, Clock::AuthDeadline)
    );
    driven.wait(AUTH_DEADLINE);
    assert_eq!(
        driven.heard,
        [Heard::Closed {
            cause: Cause::Timeout(Clock::AuthDeadline),
            error: Some(ErrorCode::TIMEOUT),
        }]
    );
}

#[test]
fn a_trickled_auth_cannot_outlast_the_authentication_deadline() {
    // FC-35: a byte every 500 ms, within a frame deadline longer than the AUTH deadline.
    let bytes = typed(&[auth(GOOD)]);
    let config = ServerConfig {
        frame_deadline: Duration::from_secs(60),
        ..config(LegacyPolicy::Refuse)
    };
    let mut driven = Driven::new(&config);
    // The first byte within the detection window, then one every 500 ms.
    let mut at = ms(100);
    for byte in &bytes[..bytes.len() - 1] {
        driven.wait(at);
        if driven.closed() {
            break;
        }
        driven.read(&[*byte], at);
        at += ms(500);
    }
    assert_eq!(
        driven.heard,
        [Heard::Closed {
            cause: Cause::Timeout(Clock::AuthDeadline),
            error: Some(ErrorCode::TIMEOUT),
        }]
    );
}

#[test]
fn a_legacy_connection_refused_is_closed_without_a_frame_and_its_messages_go_nowhere() {
    // FC-36, `refuse`.
    let mut hi = 2u32.to_be_bytes().to_vec();
    hi.extend_from_slice(b"hi");
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    driven.read(&hi, ms(10));
    assert_eq!(
        driven.heard,
        [Heard::Closed {
            cause: Cause::LegacyRefused,
            error: None,
        }]
    );
}

#[test]
fn a_silent_connection_decided_legacy_is_refused_at_the_window() {
    // FC-27 then FC-36: a listen-only legacy client cannot authenticate.
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    driven.wait(WINDOW);
    assert_eq!(
        driven.heard,
        [Heard::Closed {
            cause: Cause::LegacyRefused,
            error: None,
        }]
    );
}

#[test]
fn a_legacy_connection_allowed_joins_unauthenticated() {
    // FC-36, `allow`: as without authentication (FC-26, FC-27).
    let mut hi = 2u32.to_be_bytes().to_vec();
    hi.extend_from_slice(b"hi");
    let mut driven = Driven::new(&config(LegacyPolicy::Allow));
    driven.wait(WINDOW);
    assert_eq!(driven.heard, [Heard::WriterStarts(Profile::Legacy)]);
    driven.read(&hi, ms(300));
    assert_eq!(driven.heard[1..], [Heard::Frame(Frame::Text("hi".into()))]);
    assert!(!driven.connection.awaiting_auth());
}

#[test]
fn the_authentication_deadline_does_not_close_a_connection_whose_profile_is_unknown() {
    // FC-35 is for typed connections: with a detection window longer than the deadline, a silent
    // connection is still decided legacy by the window (FC-27) and, allowed, joins.
    let config = ServerConfig {
        detect_window: AUTH_DEADLINE * 2,
        ..config(LegacyPolicy::Allow)
    };
    let mut driven = Driven::new(&config);
    driven.wait(AUTH_DEADLINE * 2);
    assert_eq!(driven.heard, [Heard::WriterStarts(Profile::Legacy)]);
}

#[test]
fn a_shutdown_before_the_auth_closes_without_a_welcome() {
    // FC-33 with §8.9: the writer may not start for a connection that has not authenticated.
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    driven.read(&typed(&[]), ms(10));
    let step = driven.connection.on_shutdown(driven.accepted + ms(20));
    driven.record(step);
    assert_eq!(
        driven.heard,
        [Heard::Closed {
            cause: Cause::Ended,
            error: None,
        }]
    );
}

#[test]
fn an_auth_that_fails_to_decode_is_refused_as_unauthorized_saying_nothing_of_it() {
    // FC-34: a decoding error's text would tell the token's length; UNAUTHORIZED tells nothing.
    let too_long = "t".repeat(crate::wire::MAX_TOKEN_LEN as usize + 1);
    let mut header = vec![crate::wire::frame_type::AUTH];
    header.extend_from_slice(&(too_long.len() as u32 + 1).to_be_bytes());
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    driven.read(&[typed(&[]), header].concat(), ms(10));
    assert_eq!(driven.heard, [unauthorized()]);

    let mut bytes = typed(&[auth(GOOD)]);
    bytes.truncate(bytes.len() - 3);
    let mut cut = Driven::new(&config(LegacyPolicy::Refuse));
    cut.read(&bytes, ms(10));
    assert_eq!(cut.heard, []);
    let step = cut.connection.on_eof();
    cut.record(step);
    assert_eq!(
        cut.heard,
        [unauthorized()],
        "an AUTH cut by the end of the stream"
    );
}

#[test]
fn a_bad_preface_is_still_bad_preface_with_authentication_on() {
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    let mut bytes = typed(&[]);
    bytes[5] = b'X'; // after the 4 bytes that decide typed (§5)
    driven.read(&bytes, ms(10));
    assert!(
        matches!(
            driven.heard.as_slice(),
            [Heard::Closed {
                cause: Cause::Protocol(_),
                error: Some(ErrorCode::BAD_PREFACE),
            }]
        ),
        "{:?}",
        driven.heard
    );
}

#[test]
fn a_silent_connection_at_shutdown_is_closed_not_counted_as_a_refused_legacy_one() {
    // FC-33 with FC-36: deciding legacy at shutdown would only refuse it.
    let mut driven = Driven::new(&config(LegacyPolicy::Refuse));
    let step = driven.connection.on_shutdown(driven.accepted + ms(20));
    driven.record(step);
    assert_eq!(
        driven.heard,
        [Heard::Closed {
            cause: Cause::Ended,
            error: None,
        }]
    );
    // With legacy allowed it is decided legacy and gets its queue, as without authentication.
    let mut allowed = Driven::new(&config(LegacyPolicy::Allow));
    let step = allowed.connection.on_shutdown(allowed.accepted + ms(20));
    allowed.record(step);
    assert_eq!(allowed.heard, [Heard::WriterStarts(Profile::Legacy)]);
}
