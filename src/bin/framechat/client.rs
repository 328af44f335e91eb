//! An async-std client: the connection the CLI client, the demo and the bench share.
//!
//! It follows the crate's driving recipe: a read buffer it owns, [`Decoder::decode`] until the
//! buffer is used up, [`Encoder::encode`] into one output buffer per write.

use std::collections::VecDeque;
use std::net::SocketAddr;

use async_std::io::prelude::{ReadExt, WriteExt};
use async_std::net::{Shutdown, TcpStream};

use framechat::{DecodeError, Decoder, Encoder, Frame, Limits, Profile, UnixMicros};

/// What can go wrong on a client connection: the socket (`Io`), the server's bytes (`Decode`) or
/// a frame this client asked to send (`Encode`). The same typed error as the blocking adapter's.
pub(crate) use framechat::io::Error as ClientError;

/// Connects to `addr` with TCP_NODELAY and returns the two halves of a client.
///
/// A typed client sends its preface at once (FC-3).
pub(crate) async fn connect(
    addr: SocketAddr,
    profile: Profile,
    limits: Limits,
) -> Result<(ClientReader, ClientWriter), ClientError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut writer = ClientWriter {
        stream: stream.clone(),
        encoder: Encoder::client(profile, limits),
        out: Vec::new(),
    };
    writer.encoder.write_preface(&mut writer.out);
    writer.flush().await?;
    let reader = ClientReader {
        stream,
        decoder: Decoder::client(profile, limits),
        buf: vec![0; 64 * 1024],
        pending: VecDeque::new(),
        eof: false,
    };
    Ok((reader, writer))
}

/// The sending half.
pub(crate) struct ClientWriter {
    stream: TcpStream,
    encoder: Encoder,
    out: Vec<u8>,
}

impl ClientWriter {
    /// The connection's profile.
    pub(crate) fn profile(&self) -> Profile {
        self.encoder.profile()
    }

    /// Queues a frame in the output buffer; [`flush`](ClientWriter::flush) writes it.
    pub(crate) fn queue(&mut self, frame: Frame<&str>) -> Result<(), ClientError> {
        self.encoder.encode(frame, &mut self.out)?;
        Ok(())
    }

    /// Queues a message in the connection's profile: CHAT stamped `sent_at` (typed) or a legacy text.
    pub(crate) fn queue_message(
        &mut self,
        text: &str,
        sent_at: UnixMicros,
    ) -> Result<(), ClientError> {
        match self.profile() {
            Profile::Typed => self.queue(Frame::Chat { sent_at, text }),
            Profile::Legacy => self.queue(Frame::Text(text)),
        }
    }

    /// Writes everything queued with one call.
    pub(crate) async fn flush(&mut self) -> Result<(), ClientError> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Sends one message now.
    pub(crate) async fn send_message(
        &mut self,
        text: &str,
        sent_at: UnixMicros,
    ) -> Result<(), ClientError> {
        self.queue_message(text, sent_at)?;
        self.flush().await
    }

    /// Closes the connection both ways: the reader's pending or next read ends the stream.
    pub(crate) fn shutdown(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Closes the sending direction: the server sees a clean end of stream.
    pub(crate) fn close(&self) -> Result<(), ClientError> {
        self.stream.shutdown(Shutdown::Write)?;
        Ok(())
    }
}

/// The receiving half.
pub(crate) struct ClientReader {
    stream: TcpStream,
    decoder: Decoder,
    buf: Vec<u8>,
    /// Frames decoded from the last read and not yet returned.
    pending: VecDeque<Frame>,
    eof: bool,
}

impl ClientReader {
    /// The next frame, or `None` at a clean end of stream.
    pub(crate) async fn recv(&mut self) -> Result<Option<Frame>, ClientError> {
        loop {
            if let Some(frame) = self.pending.pop_front() {
                return Ok(Some(frame));
            }
            if self.eof {
                return Ok(None);
            }
            let n = self.stream.read(&mut self.buf).await?;
            if n == 0 {
                self.eof = true;
                self.decoder.finish()?;
                continue;
            }
            let pending = &mut self.pending;
            decode_learning_limits(&mut self.decoder, &self.buf[..n], |frame| {
                pending.push_back(frame.into_owned())
            })?;
        }
    }
}

impl ClientReader {
    /// Reads once and hands every frame those bytes complete to `on_frame`, borrowed: no copy and
    /// no allocation per frame. Returns `Ok(false)` at a clean end of stream.
    pub(crate) async fn read_each(
        &mut self,
        mut on_frame: impl FnMut(Frame<&str>),
    ) -> Result<bool, ClientError> {
        while let Some(frame) = self.pending.pop_front() {
            on_frame(frame.as_ref());
        }
        if self.eof {
            return Ok(false);
        }
        let n = self.stream.read(&mut self.buf).await?;
        if n == 0 {
            self.eof = true;
            self.decoder.finish()?;
            return Ok(false);
        }
        decode_learning_limits(&mut self.decoder, &self.buf[..n], on_frame)?;
        Ok(true)
    }
}

/// The driving loop over one read, adopting the server's limit from WELCOME (§4.4) before the
/// frames that follow it, so a server configured above the default limit is not taken for a
/// protocol violator.
fn decode_learning_limits(
    decoder: &mut Decoder,
    mut input: &[u8],
    mut on_frame: impl FnMut(Frame<&str>),
) -> Result<(), DecodeError> {
    while !input.is_empty() {
        let decoded = decoder.decode(input)?;
        input = &input[decoded.consumed..];
        let Some(frame) = decoded.frame else {
            break;
        };
        let learned = match frame {
            Frame::Welcome { max_frame_len, .. } => Limits::new(max_frame_len).ok(),
            _ => None,
        };
        on_frame(frame);
        if let Some(limits) = learned {
            decoder.set_limits(limits);
        }
    }
    Ok(())
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
