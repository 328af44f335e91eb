//! framechat: a specified length-prefixed chat protocol and its reference implementation.
//!
//! The protocol is normative in `spec/PROTOCOL.md` (cited here as §n and `[FC-n]`). This crate is
//! built in layers, one folder each, and data flows one way through them:
//!
//! ```text
//! socket → Decoder → hub → per-peer queue → Encoder → socket
//! ```
//!
//! - `src/codec/`: the codec ([`Decoder`], [`Encoder`], [`Frame`], [`Limits`], [`wire`]) is
//!   sans-IO: no I/O, no clock, no async, no locks. It builds with `--no-default-features` as
//!   `no_std` + `alloc` and imports nothing from the other layers (CI checks that rule).
//! - `src/adapters/`: the `io`, `futures` and `tokio` modules move bytes between a transport and
//!   the codec.
//! - `src/hub/` ([`hub`], feature `hub`): the broadcast room, plain synchronous code,
//!   model-checked under loom.
//! - `src/server/` ([`server`], feature `server`): the async-std server, a thin shell over a
//!   sans-IO connection lifecycle, the hub and the codec.
//! - `src/generators/` ([`generators`], features `proptest`, `quickcheck`): valid frames for
//!   property tests.
//! - `src/bin/framechat/` (feature `cli`, on by default): the `framechat` command, not a library
//!   module.
//!
//! Embedders who want the codec or an adapter without the server and its dependencies depend on
//! `framechat = { version = "0.1", default-features = false, features = ["futures-io"] }` (or
//! `std`, `tokio-codec`, none at all).
//!
//! # The wire, in two profiles
//!
//! ```text
//! legacy (§3):  +----------------+---------------------+
//!               | length: u32 BE | text: length bytes  |      e.g. 00 00 00 02 68 69  = "hi"
//!               +----------------+---------------------+
//!
//! typed (§4):   preface ff 46 43 48 41 54 2f 31 0d 0a, sent once by the client, then frames:
//!               +----------+----------------+--------------------------+
//!               | type: u8 | length: u32 BE | payload: length bytes    |
//!               +----------+----------------+--------------------------+
//!               PING = 84 00 00 00 08 | nonce: u64
//! ```
//!
//! Those exact bytes, decoded:
//!
//! ```
//! use framechat::{Decoder, Frame, Limits, Profile};
//! let mut legacy = Decoder::client(Profile::Legacy, Limits::default());
//! assert_eq!(legacy.decode(&[0, 0, 0, 2, 0x68, 0x69])?.frame, Some(Frame::Text("hi")));
//!
//! let mut typed = Decoder::client(Profile::Typed, Limits::default());
//! let ping = [0x84, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7];
//! assert_eq!(typed.decode(&ping)?.frame, Some(Frame::Ping { nonce: 7 }));
//! # Ok::<(), framechat::DecodeError>(())
//! ```
//!
//! # The driving loop: a recipe
//!
//! Every user of the codec (the server, the client, the bench, the adapters) follows these steps:
//!
//! 1. Build a [`Decoder`] and an [`Encoder`] for your side of the connection and its [`Profile`]
//!    (a server that serves both profiles uses [`Decoder::server_detect`] and builds its encoder once
//!    [`Decoder::profile`] is known).
//! 2. Read bytes from the transport into a buffer you own, in chunks of any size.
//! 3. Call [`Decoder::decode`] on the chunk; advance past `consumed`; handle `frame` if there is one;
//!    repeat until the chunk is used up. `Ok` with no frame means "need more bytes".
//! 4. To send, call [`Encoder::encode`] into an output `Vec<u8>` (several frames may share it) and
//!    write that buffer to the transport. The encoder writes whole frames or nothing.
//! 5. On a [`DecodeError`], stop reading: it is terminal. A server sends ERROR with
//!    [`DecodeError::error_code`] on a typed stream, then closes.
//! 6. At end of stream, call [`Decoder::finish`] to tell a clean end from a truncated frame.
//! 7. Time is an argument: pass [`UnixMicros`] into the frames you build; the codec reads no clock.
//!
//! ```
//! use framechat::{Decoder, Encoder, Frame, Limits, Profile, UnixMicros};
//!
//! // 1. a typed client and the server's side of the same connection
//! let limits = Limits::default();
//! let mut client = Encoder::client(Profile::Typed, limits);
//! let mut server = Decoder::server_detect(limits);
//!
//! // 4. the client encodes two frames into one buffer (the preface goes first, once)
//! let mut wire = Vec::new();
//! client.encode(Frame::Chat { sent_at: UnixMicros(1_000), text: "hello" }, &mut wire)?;
//! client.encode(Frame::Ping { nonce: 9 }, &mut wire)?;
//!
//! // 2-3. the server reads them in 3-byte chunks and decodes
//! let mut received = Vec::new();
//! for chunk in wire.chunks(3) {
//!     let mut input = chunk;
//!     while !input.is_empty() {
//!         let decoded = server.decode(input)?;
//!         input = &input[decoded.consumed..];
//!         if let Some(frame) = decoded.frame {
//!             received.push(frame.into_owned());
//!         }
//!     }
//! }
//! // 6. a clean end between frames
//! server.finish()?;
//! assert_eq!(server.profile(), Some(Profile::Typed));
//! assert_eq!(received, [
//!     Frame::Chat { sent_at: UnixMicros(1_000), text: "hello".to_string() },
//!     Frame::Ping { nonce: 9 },
//! ]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Embedding
//!
//! Each adapter is a thin shell over the same [`Decoder`] and [`Encoder`] and one shared sans-IO
//! core (`src/adapters/core.rs`): it owns a byte buffer, follows the recipe above, and hands out
//! owned [`Frame`]s (or lends borrowed ones through `read_each`, with no allocation per frame).
//! All three have one error type, defined once in the adapters layer and named `io::Error`,
//! `futures::Error` and `tokio::Error`; it keeps the codec's [`DecodeError`] and [`EncodeError`]
//! typed (and returns them from `source()`). At end of input each one calls [`Decoder::finish`],
//! so a stream cut inside a frame is a `Truncated` error, never a clean end (FC-21). A typed
//! client's preface is queued when the adapter is built (for tokio, by `FrameCodec::framed`):
//! flush to send it at once, before the first frame (FC-3). A typed client that should accept the
//! larger limit a server announces in WELCOME (§4.4) turns on `adopt_welcome_limit`.
//!
//! | feature | module | for | types |
//! |---------|--------|-----|-------|
//! | `std` | `io` | blocking `std::io::Read` / `Write` | `FrameReader` (an `Iterator`), `FrameWriter` |
//! | `tokio-codec` | `tokio` | `tokio_util::codec::Framed` | `FrameCodec` |
//! | `futures-io` | `futures` | any `futures_io::AsyncRead` / `AsyncWrite` (async-std, smol) | `FrameStream` (a `Stream`), `FrameSink` (a `Sink`) |
//!
//! Runnable examples (the clients talk to `framechat serve` or to the tokio example server, both on
//! 127.0.0.1:50555 by default):
//!
//! | example | what it shows |
//! |---------|---------------|
//! | `examples/blocking_echo_client.rs` | plain `std::net`, `io::FrameReader` and `io::FrameWriter` |
//! | `examples/tokio_echo_server.rs` | a tokio server, legacy or typed, over `Framed<TcpStream, FrameCodec>` |
//! | `examples/async_std_client.rs` | an async-std client over `FrameStream` / `FrameSink` |
//! | `examples/no_std_decode.rs` | decoding a fixed buffer with borrowed frames, no allocation per frame |
//!
//! ## Without `std`
//!
//! With `--no-default-features` the crate is `#![no_std]` with `alloc` and depends on no other
//! crate. It keeps the whole codec: [`Decoder`], [`Encoder`], [`Frame`], [`Limits`], [`wire`], and
//! the errors, which implement `core::error::Error` (stable since Rust 1.81; it is
//! `std::error::Error` under its `core` path, so `?` into `Box<dyn Error>` works either way). It
//! gives up `UnixMicros::now` (pass times from your own clock: the codec never reads one), the
//! adapters above, the hub and the binary. The decoder allocates only to gather a payload that
//! arrives split across inputs; one that arrives whole is borrowed from the input.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---------|--------------|
//! | (none) | the codec, `no_std` + `alloc`, no dependency |
//! | `std` | `UnixMicros::now` and the blocking adapters (`io` module) |
//! | `tokio-codec` | `tokio_util::codec` impls (`tokio` module) |
//! | `futures-io` | `Stream` / `Sink` over `AsyncRead` / `AsyncWrite` (`futures` module) |
//! | `hub` | the broadcast hub |
//! | `server` | the async-std server library (`server` module; brings `hub` and `futures-io`) |
//! | `cluster` | several servers serving one room over NATS (§11): the sans-IO `cluster` module (envelopes, gap tracking, membership) and its transport behind `ServerConfig::cluster` and `serve --cluster` (async-nats on a tokio thread of its own; not default: about 74 s more to build) |
//! | `cli` (default) | the `framechat` binary: `serve`, `client`, `demo`, `bench` |
//! | `tls` | a TLS listener in the server (`server::TlsConfig`), and `--tls` for `serve`, `client` and `bench` (rustls with the *ring* provider; not default: about 35 s more CPU to build) |
//! | `proptest`, `quickcheck` | generators of valid frames for your own property tests |
//!
//! `__fuzzing` is private (for `fuzz/` and the replay tests): not a public API.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

extern crate alloc;

mod codec;

#[cfg(feature = "std")]
mod adapters;
#[cfg(feature = "cluster")]
pub mod cluster;
#[cfg(any(feature = "proptest", feature = "quickcheck", feature = "__fuzzing"))]
pub mod generators;
#[cfg(feature = "hub")]
pub mod hub;
#[cfg(feature = "server")]
pub mod server;

pub use codec::wire;
pub use codec::{
    AuthScheme, ConfigError, DecodeError, DecodeErrorKind, Decoded, Decoder, EncodeError, Encoder,
    ErrorCode, Frame, Limits, Part, Profile, Role, UnixMicros,
};

#[cfg(feature = "futures-io")]
pub use adapters::futures;
#[cfg(feature = "std")]
pub use adapters::io;
#[cfg(feature = "tokio-codec")]
pub use adapters::tokio;
