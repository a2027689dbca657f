//! LISTEN/NOTIFY: notifications as a stream.
//!
//! Owns [`Notification`] and [`Notifications`], the stream a client takes
//! once to receive every NotificationResponse of its connection, in the
//! order the server sent them, whether or not queries are running.

use std::pin::Pin;
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
/// It ends when the connection closes. Notifications are buffered until
/// read, so a listener that stops reading should drop the stream.
#[derive(Debug)]
pub struct Notifications {
    rx: mpsc::UnboundedReceiver<Notification>,
}

impl Notifications {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Notification>) -> Self {
        Self { rx }
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
