//! What a connection's two tasks, the reader and the writer, share.

use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Instant;

use crate::ErrorCode;

/// The reader's and the writer's meeting point.
pub(super) struct Link {
    /// The reader's last words: the ERROR the writer sends after everything queued before the
    /// reader left the room, and nothing after it (FC-30, FC-32).
    pub(super) farewell: Mutex<Option<(ErrorCode, String)>>,
    /// The writer closed the connection on the server's initiative (slow consumer, shutdown,
    /// failed write): the reader's end of stream is then not the peer's doing, nor a protocol
    /// error.
    pub(super) closed_by_server: AtomicBool,
    /// Closed by the writer when the server closes the connection: the reader stops reading
    /// (and relaying) at once, and the connection lingers before its socket is closed.
    pub(super) stop_reading: async_std::channel::Sender<()>,
    pub(super) reading_stopped: async_std::channel::Receiver<()>,
    /// When the writer last wrote to the peer successfully, taken by the reader: a peer being
    /// written to is not idle (FC-32).
    pub(super) last_write: Mutex<Option<Instant>>,
}

impl Link {
    pub(super) fn new() -> Link {
        let (stop_reading, reading_stopped) = async_std::channel::bounded(1);
        Link {
            farewell: Mutex::new(None),
            closed_by_server: AtomicBool::new(false),
            stop_reading,
            reading_stopped,
            last_write: Mutex::new(None),
        }
    }
}
