//! A LISTEN/NOTIFY listener that survives lost connections.
//!
//! Owns [`Listener`]: a dedicated connection, the set of channels it
//! listens to, and the reconnect loop. When the connection is lost (server
//! restart, `pg_terminate_backend`, network), the next [`Listener::recv`]
//! opens a new connection, issues every `LISTEN` again, and only then
//! reports [`ListenerEvent::Reconnected`]. Notifications sent while no
//! connection listened are not delivered by PostgreSQL; the event is how a
//! caller learns that it must catch up (re-read the state it watches).
//!
//! The delay between failed attempts comes from the crate's one backoff
//! rule (`crate::backoff::exponential`), with the random value drawn here.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::Config;
use crate::backoff;
use crate::conn::client::handle::Client;
use crate::conn::client::notify::{Notification, Notifications};
use crate::conn::client::transaction::quote_ident;
use crate::conn::transport::connect::Connector;
use crate::error::{Error, Severity};

/// What [`Listener::recv`] returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum ListenerEvent {
    /// A notification on one of the listened channels.
    Notification(Notification),
    /// The connection was lost and a new one listens again to every
    /// channel. Notifications sent in between were not delivered.
    Reconnected(Reconnect),
}

/// A reconnection, as reported by [`ListenerEvent::Reconnected`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Reconnect {
    /// Why the previous connection ended.
    pub cause: Error,
    /// Connection attempts it took (1 when the first succeeded).
    pub attempts: u32,
    /// Reconnections of this listener so far, this one included.
    pub reconnects: u64,
    /// The new connection's backend process id.
    pub backend_pid: u32,
}

/// A connection dedicated to LISTEN, that reconnects and listens again
/// after the connection is lost, and says so.
///
/// ```no_run
/// # async fn run() -> Result<(), pgline::Error> {
/// use pgline::{Listener, ListenerEvent};
///
/// let config: pgline::Config = "postgres://app@localhost/app".parse().unwrap();
/// let mut listener = Listener::connect(&config).await?;
/// listener.listen("jobs").await?;
/// loop {
///     match listener.recv().await? {
///         ListenerEvent::Notification(n) => println!("{}: {}", n.channel(), n.payload()),
///         // Anything sent while disconnected is lost: re-read what you watch.
///         ListenerEvent::Reconnected(r) => println!("reconnected after: {}", r.cause),
///         _ => {}
///     }
/// }
/// # }
/// ```
///
/// Notifications are buffered per connection and dropped on overflow as
/// [`Notifications`] describes; [`Listener::dropped`] counts them over
/// every connection of the listener.
///
/// [`Listener::recv`] is cancel safe: a notification is either returned or
/// stays buffered, and a reconnect interrupted by dropping the future is
/// taken up (and reported) by the next call.
#[derive(Debug)]
pub struct Listener {
    connector: Connector,
    /// The live connection and its notification stream; `None` between a
    /// lost connection and the next successful reconnect.
    live: Option<(Client, Notifications)>,
    channels: BTreeSet<String>,
    /// Why the last connection ended, until a reconnect reports it.
    lost: Option<Error>,
    /// Failed attempts since the connection was lost.
    failures: u32,
    reconnects: u64,
    /// Overflow drops of the connections already closed.
    dropped_before: u64,
    backoff_base: Duration,
    backoff_cap: Duration,
    max_attempts: Option<u32>,
}

impl Listener {
    /// Opens the listener's connection with `config`.
    pub async fn connect(config: &Config) -> Result<Self, Error> {
        Self::connect_with(Connector::new(config.clone())).await
    }

    /// Opens the listener's connection through `connector` (every
    /// reconnect uses it too).
    pub async fn connect_with(connector: Connector) -> Result<Self, Error> {
        let client = connector.connect().await?;
        let stream = take_stream(&client)?;
        Ok(Self {
            connector,
            live: Some((client, stream)),
            channels: BTreeSet::new(),
            lost: None,
            failures: 0,
            reconnects: 0,
            dropped_before: 0,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(10),
            max_attempts: None,
        })
    }

    /// Sets the wait between failed reconnect attempts: `base` doubled
    /// for each failure in a row, capped at `cap`, with jitter (defaults
    /// 100 ms and 10 s).
    pub fn reconnect_backoff(&mut self, base: Duration, cap: Duration) -> &mut Self {
        self.backoff_base = base;
        self.backoff_cap = cap;
        self
    }

    /// Makes [`Listener::recv`] return the connect error after `attempts`
    /// failed attempts in a row (default: retry forever). The next call
    /// starts over.
    pub fn max_reconnect_attempts(&mut self, attempts: Option<u32>) -> &mut Self {
        self.max_attempts = attempts;
        self
    }

    /// Listens to `channel` (an exact, case-sensitive name: it is quoted).
    /// While disconnected, or when the connection is lost during the
    /// call, the channel is recorded, `Ok` is returned, and the next
    /// reconnect listens to it. Other errors (a refused LISTEN) leave the
    /// channel out.
    pub async fn listen(&mut self, channel: &str) -> Result<(), Error> {
        if !self.channels.insert(channel.to_owned()) {
            return Ok(());
        }
        let sql = format!("LISTEN {}", quote_ident(channel));
        match self.run_on_live(&sql).await {
            Err(e) if !ends_session(&e) => {
                self.channels.remove(channel);
                Err(e)
            }
            _ => Ok(()),
        }
    }

    /// Stops listening to `channel`.
    pub async fn unlisten(&mut self, channel: &str) -> Result<(), Error> {
        if !self.channels.remove(channel) {
            return Ok(());
        }
        let sql = format!("UNLISTEN {}", quote_ident(channel));
        match self.run_on_live(&sql).await {
            Err(e) if !ends_session(&e) => Err(e),
            _ => Ok(()),
        }
    }

    /// The channels listened to, in order.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.channels.iter().map(String::as_str)
    }

    /// The live connection's backend process id (`None` while
    /// disconnected).
    pub fn backend_pid(&self) -> Option<u32> {
        self.live.as_ref().map(|(client, _)| client.backend_pid())
    }

    /// Reconnections so far.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Notifications dropped because a connection's buffer was full, over
    /// every connection of this listener.
    pub fn dropped(&self) -> u64 {
        self.dropped_before + self.live.as_ref().map_or(0, |(_, s)| s.dropped())
    }

    /// The next notification, or the report of a reconnection.
    ///
    /// Fails only when reconnecting failed [`max_reconnect_attempts`]
    /// times in a row, or when a new connection refused a `LISTEN`.
    ///
    /// [`max_reconnect_attempts`]: Listener::max_reconnect_attempts
    pub async fn recv(&mut self) -> Result<ListenerEvent, Error> {
        loop {
            if let Some((client, stream)) = &mut self.live {
                // The stream ends only when the connection has closed.
                if let Some(n) = stream.next().await {
                    return Ok(ListenerEvent::Notification(n));
                }
                let cause = client.shared().closed_error();
                tracing::warn!(
                    target: "pgline::listener",
                    error = %cause,
                    "listener connection lost; reconnecting"
                );
                self.dropped_before += stream.dropped();
                self.live = None;
                self.lost = Some(cause);
                self.failures = 0;
            }
            match self.reconnect().await {
                Ok(reconnect) => return Ok(ListenerEvent::Reconnected(reconnect)),
                Err(e) => {
                    self.failures += 1;
                    if self.max_attempts.is_some_and(|max| self.failures >= max) {
                        self.failures = 0;
                        return Err(e);
                    }
                    let unit = crate::jitter::unit();
                    let wait = backoff::exponential(
                        self.failures,
                        self.backoff_base,
                        self.backoff_cap,
                        unit,
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Opens a connection and listens to every channel on it; the
    /// connection becomes live only once every LISTEN was acknowledged.
    async fn reconnect(&mut self) -> Result<Reconnect, Error> {
        let client = self.connector.connect().await?;
        let stream = take_stream(&client)?;
        if !self.channels.is_empty() {
            let sql: String = self
                .channels
                .iter()
                .map(|c| format!("LISTEN {};", quote_ident(c)))
                .collect();
            client.batch_execute(&sql).await?;
        }
        self.reconnects += 1;
        let reconnect = Reconnect {
            cause: self.lost.take().unwrap_or_else(Error::closed),
            attempts: self.failures + 1,
            reconnects: self.reconnects,
            backend_pid: client.backend_pid(),
        };
        self.failures = 0;
        self.live = Some((client, stream));
        Ok(reconnect)
    }

    /// Runs `sql` on the live connection; a closed error when there is none.
    async fn run_on_live(&self, sql: &str) -> Result<(), Error> {
        match &self.live {
            Some((client, _)) => client.batch_execute(sql).await,
            None => Err(Error::closed()),
        }
    }
}

/// Whether `e` means the connection is gone: closed, or a FATAL/PANIC
/// from the server (a terminated backend answers the request in flight
/// with FATAL 57P01 before closing). The channel set then stands, and the
/// next reconnect issues it.
fn ends_session(e: &Error) -> bool {
    e.is_closed()
        || e.as_db_error()
            .and_then(|db| db.severity())
            .is_some_and(|s| matches!(s, Severity::Fatal | Severity::Panic))
}

fn take_stream(client: &Client) -> Result<Notifications, Error> {
    // A fresh connection's stream is always there to take.
    client.notifications().ok_or_else(Error::closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_ident("jobs"), "\"jobs\"");
        assert_eq!(quote_ident("Mixed Case"), "\"Mixed Case\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn fatal_and_closed_errors_end_the_session_others_do_not() {
        use crate::error::DbError;
        let db = |severity: &str, code: &str| {
            Error::db(DbError::from_fields([
                (b'S', severity),
                (b'V', severity),
                (b'C', code),
                (b'M', "m"),
            ]))
        };
        // A backend terminated while a LISTEN was in flight answers it so.
        assert!(ends_session(&db("FATAL", "57P01")));
        assert!(ends_session(&db("PANIC", "XX000")));
        assert!(ends_session(&Error::closed()));
        assert!(!ends_session(&db("ERROR", "42601")));
    }
}
