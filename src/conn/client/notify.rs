//! LISTEN/NOTIFY: notifications as a stream.
//!
//! Owns [`Notification`] and [`Notifications`], the stream a client takes
//! once to receive every NotificationResponse of its connection, in the
//! order the server sent them, whether or not queries are running.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

/// A notification sent by `NOTIFY` (or `pg_notify`) on a channel this
/// connection listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    process_id: u32,
    channel: String,
    payload: String,
}

impl Notification {
    pub(crate) fn new(process_id: u32, channel: String, payload: String) -> Self {
        Self {
            process_id,
            channel,
            payload,
        }
    }

    /// The process id of the notifying backend.
    pub fn process_id(&self) -> u32 {
        self.process_id
    }

    /// The channel name.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The payload (empty when none was given).
    pub fn payload(&self) -> &str {
        &self.payload
    }
}

/// The stream of a connection's notifications, from
/// [`Client::notifications`](crate::Client::notifications).
///
/// It ends when the connection closes; notifications sent while no
/// connection listens are not delivered (see
/// [`Listener`](crate::Listener), which reconnects and says so).
///
/// # Buffering and overflow
///
/// A connection holds up to [`Notifications::CAPACITY`] notifications not
/// yet read, from its start (before the stream is taken, too). When that
/// buffer is full, each newer notification is **dropped** and counted in
/// [`Notifications::dropped`]; the connection never waits for the reader,
/// so a slow listener cannot stall the queries sharing its connection.
/// Once the stream is dropped, notifications are discarded uncounted.
#[derive(Debug)]
pub struct Notifications {
    rx: mpsc::Receiver<Notification>,
    dropped: Arc<AtomicU64>,
}

impl Notifications {
    /// Notifications a connection buffers until they are read.
    pub const CAPACITY: usize = crate::conn::engine::shared::NOTIFICATION_BUFFER;

    pub(crate) fn new((rx, dropped): (mpsc::Receiver<Notification>, Arc<AtomicU64>)) -> Self {
        Self { rx, dropped }
    }

    /// Notifications this connection dropped because its buffer was full
    /// (since the connection opened).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The next notification, or `None` once the connection has closed.
    pub async fn next(&mut self) -> Option<Notification> {
        self.rx.recv().await
    }
}

impl Stream for Notifications {
    type Item = Notification;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Notification>> {
        self.rx.poll_recv(cx)
    }
}
