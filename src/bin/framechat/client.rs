//! The client side the CLI client, the demo and the bench share: the library's futures adapter
//! over an async-std `TcpStream`, one clone of the socket reading and the other writing.

use std::net::SocketAddr;

use async_std::net::{Shutdown, TcpStream};
use async_std::task;
use futures_lite::StreamExt as _;

use framechat::futures::{Error, FrameSink, FrameStream};
use framechat::{Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

use crate::AnyError;

/// The receiving half of a client connection.
pub(crate) type Reader = FrameStream<TcpStream>;
/// The sending half of a client connection.
pub(crate) type Writer = FrameSink<TcpStream>;

/// Under load a socket read returns tens of KiB: a buffer this size takes one in one call.
const READ_BUFFER: usize = 64 * 1024;

/// Connects to `addr` with TCP_NODELAY and returns the two halves of a client.
///
/// A typed client sends its preface at once (FC-3) and adopts the limit its server announces in
/// WELCOME (§4.4), so a server configured above `limits` is not taken for a protocol violator.
pub(crate) async fn connect(
    addr: SocketAddr,
    profile: Profile,
    limits: Limits,
) -> Result<(Reader, Writer), Error> {
    let socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let decoder = Decoder::client(profile, limits);
    let reader =
        FrameStream::with_capacity(READ_BUFFER, socket.clone(), decoder).adopt_welcome_limit();
    let mut writer = FrameSink::new(socket, Encoder::client(profile, limits));
    writer.flush().await?;
    Ok((reader, writer))
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
/// Not [`FrameSink::close`]: async-std's `TcpStream` only flushes on close, it does not half-close.
pub(crate) async fn finish(writer: &mut Writer) -> Result<(), Error> {
    writer.flush().await?;
    writer.get_ref().shutdown(Shutdown::Write)?;
    Ok(())
}

/// `framechat client`: stdin lines are sent, what arrives is printed, until either side ends.
pub(crate) async fn run(
    addr: SocketAddr,
    profile: Profile,
    limits: Limits,
) -> Result<(), AnyError> {
    let (mut reader, mut writer) = connect(addr, profile, limits).await?;
    // Dropped when the printer ends (the server closed), which ends the input loop too.
    let (printing, printer_done) = async_std::channel::bounded::<()>(1);
    let printer = task::spawn(async move {
        let _printing = printing;
        while let Some(frame) = reader.try_next().await? {
            println!("{}", describe(&frame, UnixMicros::now()));
        }
        Ok::<(), AnyError>(())
    });
    let stdin = async_std::io::stdin();
    let mut line = String::new();
    loop {
        line.clear();
        let read =
            futures_lite::future::or(async { Some(stdin.read_line(&mut line).await) }, async {
                let _ = printer_done.recv().await;
                None
            })
            .await;
        match read {
            // The server closed the connection: nothing more can be sent.
            None => break,
            // End of input: a clean end of stream; the server closes after what is queued.
            Some(Ok(0)) => {
                finish(&mut writer).await?;
                break;
            }
            Some(Ok(_)) => {
                let text = line.trim_end_matches(['\r', '\n']);
                send_message(&mut writer, text, UnixMicros::now()).await?;
            }
            Some(Err(err)) => return Err(err.into()),
        }
    }
    printer.await
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
