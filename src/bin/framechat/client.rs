//! The client side the CLI client, the demo and the bench share: the library's futures adapter
//! over an async-std `TcpStream`, one clone of the socket reading and the other writing, or over
//! TLS (feature `tls`), split in two halves.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_std::channel;
use async_std::net::{Shutdown, TcpStream};
use async_std::task;
use futures_lite::{future, StreamExt as _};

use framechat::futures::{Error, FrameSink, FrameStream};
use framechat::{
    AuthScheme, DecodeError, DecodeErrorKind, Decoder, Encoder, ErrorCode, Frame, Limits, Profile,
    UnixMicros,
};

use crate::input::{BoundedLines, Line};
use crate::{say, AnyError};

/// The receiving half of a client connection.
pub(crate) type Reader = FrameStream<ReadSide>;
/// The sending half of a client connection.
pub(crate) type Writer = FrameSink<WriteSide>;

#[cfg(feature = "tls")]
pub(crate) use tls::TlsClient;

/// Without the `tls` feature there is no TLS client: `Option<TlsClient>` is always `None`.
#[cfg(not(feature = "tls"))]
#[derive(Clone, Debug)]
pub(crate) enum TlsClient {}

/// What a client reads: its TCP socket, or the read half of TLS over it.
pub(crate) enum ReadSide {
    Tcp(TcpStream),
    #[cfg(feature = "tls")]
    Tls(tls::ReadHalf),
}

/// What a client writes to: its TCP socket, or the write half of TLS over it. The socket is kept
/// either way, to shut it down.
pub(crate) struct WriteSide {
    socket: TcpStream,
    #[cfg(feature = "tls")]
    tls: Option<tls::WriteHalf>,
}

impl WriteSide {
    /// The TCP socket under the stream, to shut down both directions at once.
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.socket
    }
}

impl futures_lite::AsyncRead for ReadSide {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ReadSide::Tcp(socket) => Pin::new(socket).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ReadSide::Tls(tls) => Pin::new(tls).poll_read(cx, buf),
        }
    }
}

impl futures_lite::AsyncWrite for WriteSide {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut this.tls {
            return Pin::new(tls).poll_write(cx, buf);
        }
        Pin::new(&mut this.socket).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut this.tls {
            return Pin::new(tls).poll_flush(cx);
        }
        Pin::new(&mut this.socket).poll_flush(cx)
    }

    /// TLS: close_notify, then the socket's end of stream. TCP: as async-std's socket, a flush.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut this.tls {
            return Pin::new(tls).poll_close(cx);
        }
        Pin::new(&mut this.socket).poll_close(cx)
    }
}

/// Under load a socket read returns tens of KiB: a buffer this size takes one in one call.
const READ_BUFFER: usize = 64 * 1024;

/// A bearer token (§8.9), read from a file or the environment, never from the command line. Its
/// `Debug` form hides it, so a configuration that holds one can be debug-printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Token(pub(crate) String);

impl Token {
    /// The token in `text`: a file's or a variable's content, without its line ending.
    pub(crate) fn new(text: &str) -> Result<Token, &'static str> {
        let token = text.strip_suffix('\n').unwrap_or(text);
        let token = token.strip_suffix('\r').unwrap_or(token);
        if token.is_empty() {
            return Err("the token is empty");
        }
        if token.len() > framechat::wire::MAX_TOKEN_LEN as usize {
            return Err("the token is longer than 1024 bytes (§4.3)");
        }
        Ok(Token(token.to_string()))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Connects to `addr` with TCP_NODELAY and returns the two halves of a client.
pub(crate) async fn connect(
    addr: SocketAddr,
    profile: Profile,
    limits: Limits,
) -> Result<(Reader, Writer), Error> {
    connect_over(addr, None, profile, limits, None).await
}

/// [`connect`], inside TLS when `tls` is given (the handshake is done before the preface is sent,
/// and a failed one says why: "the TLS handshake with ADDR failed", then rustls's reason), then,
/// for a typed client with a `token`, AUTH right after the preface in the same write (§4.4: no
/// round trip).
///
/// A typed client sends its preface at once (FC-3) and adopts the limit its server announces in
/// WELCOME (§4.4), so a server configured above `limits` is not taken for a protocol violator.
/// A failed connect names the address: "cannot connect to ADDR", then the system's reason.
pub(crate) async fn connect_over(
    addr: SocketAddr,
    tls: Option<&TlsClient>,
    profile: Profile,
    limits: Limits,
    token: Option<&Token>,
) -> Result<(Reader, Writer), Error> {
    let socket = TcpStream::connect(addr)
        .await
        .map_err(|source| connect_failed(addr, source))?;
    socket.set_nodelay(true)?;
    let (read, write) = match tls {
        None => (
            ReadSide::Tcp(socket.clone()),
            WriteSide {
                socket,
                #[cfg(feature = "tls")]
                tls: None,
            },
        ),
        #[cfg(feature = "tls")]
        Some(tls) => {
            let (read, write) = tls.handshake(addr, socket.clone()).await?;
            (
                ReadSide::Tls(read),
                WriteSide {
                    socket,
                    tls: Some(write),
                },
            )
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match *never {},
    };
    let decoder = Decoder::client(profile, limits);
    let reader = FrameStream::with_capacity(READ_BUFFER, read, decoder).adopt_welcome_limit();
    let mut writer = FrameSink::new(write, Encoder::client(profile, limits));
    if let (Profile::Typed, Some(Token(token))) = (profile, token) {
        writer
            .feed_ref(Frame::Auth {
                scheme: AuthScheme::BEARER,
                token,
            })
            .await?;
    }
    writer.flush().await?;
    Ok((reader, writer))
}

/// "cannot connect to ADDR", then `source`; of `source`'s kind, so callers can still match on it.
pub(crate) fn connect_failed(addr: SocketAddr, source: io::Error) -> io::Error {
    io::Error::new(source.kind(), ConnectError { addr, source })
}

/// A connect that failed, with the address it was for.
#[derive(Debug)]
struct ConnectError {
    addr: SocketAddr,
    source: io::Error,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot connect to {}", self.addr)
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Sends one message now, in the connection's profile: a CHAT stamped `sent_at` (typed) or a
/// legacy text.
pub(crate) async fn send_message(
    writer: &mut Writer,
    text: &str,
    sent_at: UnixMicros,
) -> Result<(), Error> {
    let message = match writer.encoder().profile() {
        Profile::Typed => Frame::Chat { sent_at, text },
        Profile::Legacy => Frame::Text(text),
    };
    writer.feed_ref(message).await?;
    writer.flush().await
}

/// Sends what is queued, then closes the sending direction: the server sees a clean end of
/// stream (FC-21) and closes after what it has queued for this client.
///
/// Not [`FrameSink::close`] on TCP: async-std's `TcpStream` only flushes on close, it does not
/// half-close. TLS closes its write half: close_notify, then the socket's end of stream.
pub(crate) async fn finish(writer: &mut Writer) -> Result<(), Error> {
    writer.flush().await?;
    #[cfg(feature = "tls")]
    if let Some(tls) = &mut writer.get_mut().tls {
        futures_lite::AsyncWriteExt::close(tls).await?;
        return Ok(());
    }
    writer.get_ref().socket().shutdown(Shutdown::Write)?;
    Ok(())
}

/// `framechat client`: stdin lines are sent, what arrives is printed, until either side ends.
///
/// Only the user's own end of input ends it with `Ok`: the client closes its side (FC-21), prints
/// what is still coming and returns once the server has closed too. Every other end is a
/// [`SessionEnd`] saying what happened. A line that cannot be sent is refused on stderr and the
/// session goes on.
pub(crate) async fn run(
    addrs: &[SocketAddr],
    profile: Profile,
    limits: Limits,
    token: Option<&Token>,
    tls: Option<TlsClient>,
) -> Result<(), AnyError> {
    if profile == Profile::Legacy && token.is_some() {
        return Err("a legacy client cannot authenticate (§8.9): use --profile typed".into());
    }
    if token.is_some() && tls.is_none() && addrs.iter().any(|addr| !addr.ip().is_loopback()) {
        eprintln!(
            "framechat: warning: the token goes in clear text over plain TCP to a host that is not \
             this one; use --tls (§8.9)"
        );
    }
    let (mut reader, writer, peer) =
        connect_any(addrs, tls.as_ref(), profile, limits, token).await?;
    let (mut writer, budget) = match profile {
        Profile::Typed => {
            let budget = await_welcome(&mut reader, peer).await?;
            // The preface went out at connect (FC-3); this encoder only checks each CHAT against
            // the limit the server announced, the one its budget message cites.
            let mut encoder = Encoder::client(Profile::Typed, budget.limits);
            encoder.write_preface(&mut Vec::new());
            (FrameSink::new(writer.into_inner(), encoder), budget)
        }
        Profile::Legacy => {
            say(&format!("connected to {peer} (legacy profile)"));
            (writer, Budget::from_flag(limits))
        }
    };
    let mut printer = task::spawn(print_until_end(reader, peer, profile));
    let input = read_stdin(budget.text_len());
    let mut line_number = 0u64;
    loop {
        let event = future::or(async { Event::Input(input.recv().await.ok()) }, async {
            Event::ServerEnded((&mut printer).await)
        })
        .await;
        let line = match event {
            Event::ServerEnded(end) => return Err(end.into()),
            // End of input: a clean end of stream; the server closes after what is queued.
            Event::Input(None) => break,
            Event::Input(Some(Err(err))) => return Err(format!("cannot read stdin: {err}").into()),
            Event::Input(Some(Ok(line))) => line,
        };
        line_number += 1;
        let text = match line {
            Line::Text(text) => text,
            Line::TooLong { len } => {
                eprintln!(
                    "framechat: line {line_number} too long: {len} bytes; {budget}: not sent"
                );
                continue;
            }
            Line::NotUtf8 { valid_up_to } => {
                eprintln!(
                    "framechat: line {line_number} is not UTF-8 (invalid after its first \
                     {valid_up_to} bytes): not sent"
                );
                continue;
            }
        };
        match send_message(&mut writer, &text, UnixMicros::now()).await {
            Ok(()) => {}
            // Checked against the budget already; nothing was written, so the session is intact.
            Err(Error::Encode(err)) => eprintln!("framechat: line {line_number} not sent: {err}"),
            Err(err) => return Err(after_write_failed(&writer, printer, err).await.into()),
        }
    }
    if let Err(err) = finish(&mut writer).await {
        return Err(after_write_failed(&writer, printer, err).await.into());
    }
    match printer.await {
        SessionEnd::Closed { .. } => Ok(()),
        end => Err(end.into()),
    }
}

enum Event {
    Input(Option<io::Result<Line>>),
    ServerEnded(SessionEnd),
}

/// Tries each address in turn; the last one's error if none accepts.
async fn connect_any(
    addrs: &[SocketAddr],
    tls: Option<&TlsClient>,
    profile: Profile,
    limits: Limits,
    token: Option<&Token>,
) -> Result<(Reader, Writer, SocketAddr), Error> {
    let mut failure = Error::Io(io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to nothing",
    ));
    for &addr in addrs {
        match connect_over(addr, tls, profile, limits, token).await {
            Ok((reader, writer)) => return Ok((reader, writer, addr)),
            Err(err) => failure = err,
        }
    }
    Err(failure)
}

/// A write failed: the connection is gone. The reader usually knows why (an ERROR, a reset), so
/// its end is reported, once both directions are shut so that it cannot wait on anything.
async fn after_write_failed(
    writer: &Writer,
    printer: task::JoinHandle<SessionEnd>,
    err: Error,
) -> SessionEnd {
    let _ = writer.get_ref().socket().shutdown(Shutdown::Both);
    match printer.await {
        end @ (SessionEnd::ServerError { .. } | SessionEnd::Invalid { .. }) => end,
        SessionEnd::Closed { peer } | SessionEnd::Transport { peer, .. } => SessionEnd::Transport {
            peer,
            source: err.into(),
        },
        other => other,
    }
}

/// Reads the typed server's first frame, which §8.3 says is WELCOME, prints it and returns the text
/// budget it gives; anything else first means the server is not a typed framechat server or
/// refused this client.
async fn await_welcome(reader: &mut Reader, peer: SocketAddr) -> Result<Budget, SessionEnd> {
    let first = reader.try_next().await;
    let frame = match first {
        Ok(Some(frame)) => frame,
        Ok(None) => {
            return Err(SessionEnd::OtherProfile {
                peer,
                seen: "closed the connection before its WELCOME (§8.3)".to_string(),
                speaks: Profile::Legacy,
                certain: false,
            })
        }
        Err(Error::Decode(err)) => {
            return Err(match err.kind {
                DecodeErrorKind::InvalidFrameType { frame_type } => SessionEnd::OtherProfile {
                    peer,
                    seen: format!(
                        "sent a frame of type {frame_type:#04x} where its WELCOME belongs (§8.3)"
                    ),
                    speaks: Profile::Legacy,
                    certain: true,
                },
                _ => SessionEnd::Invalid { peer, source: err },
            })
        }
        Err(err) => {
            return Err(SessionEnd::OtherProfile {
                peer,
                seen: format!(
                    "ended the connection before its WELCOME (§8.3): {}",
                    io::Error::from(err)
                ),
                speaks: Profile::Legacy,
                certain: false,
            })
        }
    };
    match frame {
        Frame::Welcome { max_frame_len, .. } => {
            say(&describe(&frame, UnixMicros::now()));
            Ok(match Limits::new(max_frame_len) {
                Ok(limits) => Budget {
                    limits,
                    announced: true,
                },
                // Out of §6.1's range: the decoder keeps the client's own limit, and so does this.
                Err(_) => Budget::from_flag(reader.decoder().limits()),
            })
        }
        Frame::Error { code, reason } => Err(SessionEnd::ServerError { peer, code, reason }),
        _ => Err(SessionEnd::OtherProfile {
            peer,
            seen: "sent another frame before its WELCOME (§8.3)".to_string(),
            speaks: Profile::Legacy,
            certain: false,
        }),
    }
}

/// Prints every frame until the connection ends, and says how it ended. An ERROR frame is the
/// server's reason for the end that follows (§4.4), so it is kept and reported instead of a reset
/// that may come after it.
async fn print_until_end(mut reader: Reader, peer: SocketAddr, profile: Profile) -> SessionEnd {
    let mut server_error = None;
    let mut received = 0u64;
    let end = loop {
        match reader.try_next().await {
            Ok(Some(Frame::Error { code, reason })) => server_error = Some((code, reason)),
            Ok(Some(frame)) => {
                received += 1;
                say(&describe(&frame, UnixMicros::now()));
            }
            Ok(None) => break SessionEnd::Closed { peer },
            Err(Error::Decode(err)) => break legacy_reading_typed(peer, profile, received, err),
            Err(err) => {
                break SessionEnd::Transport {
                    peer,
                    source: err.into(),
                }
            }
        }
    };
    match server_error {
        Some((code, reason)) => SessionEnd::ServerError { peer, code, reason },
        None => end,
    }
}

/// A legacy client's first header that declares 2^31 or more is a typed header: its first byte
/// is a type byte in `0x80..=0xbf` (§4.2) read as the top of a length (§5 notes the converse).
fn legacy_reading_typed(
    peer: SocketAddr,
    profile: Profile,
    received: u64,
    err: DecodeError,
) -> SessionEnd {
    match err.kind {
        DecodeErrorKind::FrameTooLarge { declared, .. }
            if profile == Profile::Legacy
                && received == 0
                && (0x80..=0xbf).contains(&(declared >> 24)) =>
        {
            SessionEnd::OtherProfile {
                peer,
                seen: format!(
                    "sent a first header this legacy client reads as a length of {declared} bytes"
                ),
                speaks: Profile::Typed,
                certain: true,
            }
        }
        _ => SessionEnd::Invalid { peer, source: err },
    }
}

/// Stdin's lines on a thread of their own, at most one line ahead of the sender: blocking reads
/// stay off the executor, and input waiting to be sent is bounded by the budget.
fn read_stdin(budget: usize) -> channel::Receiver<io::Result<Line>> {
    let (lines, input) = channel::bounded(1);
    std::thread::spawn(move || {
        let mut stdin = BoundedLines::new(std::io::stdin().lock(), budget);
        loop {
            let next = match stdin.next_line() {
                Ok(Some(line)) => Ok(line),
                Ok(None) => break,
                Err(err) => Err(err),
            };
            let failed = next.is_err();
            if lines.send_blocking(next).is_err() || failed {
                break;
            }
        }
    });
    input
}

/// How much text one message may carry, and where that limit comes from.
#[derive(Clone, Copy)]
struct Budget {
    limits: Limits,
    /// The server announced the limit in WELCOME (typed); otherwise it is `--max-frame-len`.
    announced: bool,
}

impl Budget {
    fn from_flag(limits: Limits) -> Budget {
        Budget {
            limits,
            announced: false,
        }
    }

    fn text_len(self) -> usize {
        // u32 into usize: framechat's targets have at least 32-bit pointers.
        self.limits.max_text_len() as usize
    }
}

/// "this server takes at most T bytes of text per message (its frame limit L minus 24 bytes of
/// relay headroom)" (FC-15).
impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let frame = self.limits.max_frame_len();
        let text = self.limits.max_text_len();
        let headroom = frame - text;
        if self.announced {
            write!(
                f,
                "this server takes at most {text} bytes of text per message (its frame limit \
                 {frame} minus {headroom} bytes of relay headroom)"
            )
        } else {
            write!(
                f,
                "this client sends at most {text} bytes of text per message (--max-frame-len \
                 {frame} minus {headroom} bytes of relay headroom)"
            )
        }
    }
}

/// How a session ended, other than by the user's end of input followed by the server's close.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    /// The server closed the connection without an ERROR.
    Closed { peer: SocketAddr },
    /// The server sent ERROR (§4.7) before the end.
    ServerError {
        peer: SocketAddr,
        code: ErrorCode,
        reason: String,
    },
    /// The transport failed: a reset, a refused write.
    Transport { peer: SocketAddr, source: io::Error },
    /// The server sent a stream §3–§6 forbid.
    Invalid {
        peer: SocketAddr,
        source: DecodeError,
    },
    /// What the server sent fits the other profile better than this client's.
    OtherProfile {
        peer: SocketAddr,
        /// What it did, as a phrase after "the server at ADDR".
        seen: String,
        /// The profile it seems to speak.
        speaks: Profile,
        /// Whether what it sent can only be that profile, or merely fits it.
        certain: bool,
    },
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::Closed { peer } => write!(f, "the server at {peer} closed the connection"),
            SessionEnd::ServerError { peer, code, reason } if reason.is_empty() => {
                write!(
                    f,
                    "the server at {peer} ended the session with ERROR {code}"
                )
            }
            SessionEnd::ServerError { peer, code, reason } => write!(
                f,
                "the server at {peer} ended the session with ERROR {code}: {reason}"
            ),
            SessionEnd::Transport { peer, .. } => write!(f, "the connection to {peer} failed"),
            SessionEnd::Invalid { peer, .. } => {
                write!(f, "the server at {peer} sent an invalid stream")
            }
            SessionEnd::OtherProfile {
                peer,
                seen,
                speaks,
                certain,
            } => {
                let flag = match speaks {
                    Profile::Typed => "typed",
                    Profile::Legacy => "legacy",
                };
                if *certain {
                    write!(
                        f,
                        "the server at {peer} {seen}: it looks like it speaks the {flag} \
                         profile; try --profile {flag}"
                    )
                } else {
                    write!(
                        f,
                        "the server at {peer} {seen}: if it speaks only the {flag} profile, \
                         try --profile {flag}"
                    )
                }
            }
        }
    }
}

impl std::error::Error for SessionEnd {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionEnd::Transport { source, .. } => Some(source),
            SessionEnd::Invalid { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One line describing a received frame, with the end-to-end latency its timestamps give.
pub(crate) fn describe(frame: &Frame, now: UnixMicros) -> String {
    let latency = |sent_at: UnixMicros| {
        if sent_at == UnixMicros::UNKNOWN {
            String::new()
        } else {
            format!("  ({} µs end to end)", now.saturating_since(sent_at))
        }
    };
    match frame {
        Frame::Text(text) => text.clone(),
        Frame::Welcome {
            peer_id,
            max_frame_len,
        } => format!("welcome: you are peer {peer_id} (max frame {max_frame_len} bytes)"),
        Frame::Echo { sent_at, text, .. } => format!("echo: {text}{}", latency(*sent_at)),
        Frame::Broadcast {
            from,
            sent_at,
            text,
            ..
        } => format!("peer {from}: {text}{}", latency(*sent_at)),
        Frame::Error { code, reason } => format!("error {code}: {reason}"),
        other => format!("{other:?}"),
    }
}

/// The client's side of TLS: which certificate authority it trusts and which name it expects.
#[cfg(feature = "tls")]
mod tls {
    use std::fmt;
    use std::io;
    use std::net::SocketAddr;
    use std::path::Path;
    use std::sync::Arc;

    use async_std::net::TcpStream;
    use futures_rustls::client::TlsStream;
    use futures_rustls::rustls::{self, pki_types::ServerName, RootCertStore};
    use futures_rustls::TlsConnector;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    use crate::AnyError;

    pub(crate) type ReadHalf = futures_lite::io::ReadHalf<TlsStream<TcpStream>>;
    pub(crate) type WriteHalf = futures_lite::io::WriteHalf<TlsStream<TcpStream>>;

    /// What `--tls --ca FILE [--server-name NAME]` asks for. The only trust store is `--ca`'s:
    /// framechat carries no list of public roots (it must build and run offline), so a server
    /// certificate is accepted only if that file's certificates vouch for it.
    #[derive(Clone)]
    pub(crate) struct TlsClient {
        connector: TlsConnector,
        server_name: ServerName<'static>,
    }

    impl fmt::Debug for TlsClient {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("TlsClient")
                .field("server_name", &self.server_name)
                .finish_non_exhaustive()
        }
    }

    impl TlsClient {
        /// Trusts the certificates in the PEM file `ca` and expects `server_name` (a DNS name or
        /// an IP address) in the server's certificate. Errors name the file or the flag.
        pub(crate) fn new(ca: &Path, server_name: &str) -> Result<TlsClient, AnyError> {
            let named = |what: String| format!("--ca {}: {what}", ca.display());
            let pem = std::fs::read(ca).map_err(|err| named(format!("cannot read it: {err}")))?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|err| named(format!("not valid PEM: {err}")))?;
                roots
                    .add(cert)
                    .map_err(|err| named(format!("not a usable CA certificate: {err}")))?;
            }
            if roots.is_empty() {
                return Err(named("holds no PEM certificate".to_string()).into());
            }
            let server_name = ServerName::try_from(server_name.to_string()).map_err(|err| {
                format!("--server-name {server_name}: not a DNS name or IP address: {err}")
            })?;
            let config = rustls::ClientConfig::builder_with_provider(ring_provider())
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(TlsClient {
                connector: TlsConnector::from(Arc::new(config)),
                server_name,
            })
        }

        /// The client's side of the handshake on `socket`.
        pub(super) async fn handshake(
            &self,
            addr: SocketAddr,
            socket: TcpStream,
        ) -> io::Result<(ReadHalf, WriteHalf)> {
            let stream = self
                .connector
                .connect(self.server_name.clone(), socket)
                .await
                .map_err(|source| {
                    io::Error::new(
                        source.kind(),
                        HandshakeFailed {
                            addr,
                            server_name: self.server_name.to_str().into_owned(),
                            source,
                        },
                    )
                })?;
            Ok(futures_lite::io::split(stream))
        }
    }

    /// rustls with *ring*, as the server: rustls deprecates it only for its lack of
    /// post-quantum key exchange.
    #[allow(deprecated)]
    fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// A TLS handshake that failed, with the server it was for.
    #[derive(Debug)]
    struct HandshakeFailed {
        addr: SocketAddr,
        server_name: String,
        source: io::Error,
    }

    impl fmt::Display for HandshakeFailed {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "the TLS handshake with {} (as {}) failed",
                self.addr, self.server_name
            )
        }
    }

    impl std::error::Error for HandshakeFailed {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }
}
