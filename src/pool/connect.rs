//! How the pool opens its connections: the [`Connect`] seam.
//!
//! Owns the trait a pool calls for every new connection, its impl for
//! [`Connector`] (the default: the whole `Config`, by libpq's multi-host
//! rules, or one host of it) and [`connect_fn`] for any async function.
//! It must not hold pool state: a connector only opens connections; the
//! pool decides when, and records the outcome in its health state.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::{Client, Connector, Error};

/// The future a [`Connect`] returns.
pub type ConnectFuture<'a> = Pin<Box<dyn Future<Output = Result<Client, Error>> + Send + 'a>>;

/// Opens connections for a pool.
///
/// [`Connector`] implements it: [`Pool::builder`](super::Pool::builder)
/// uses `Connector::new(config)`, and a pool bound to one host of a
/// configuration is built with
/// [`Pool::with_connector`](super::Pool::with_connector)`(Connector::for_host(config, i))`.
/// [`connect_fn`] turns an async function into one.
pub trait Connect: fmt::Debug + Send + Sync + 'static {
    /// Opens one connection.
    fn connect(&self) -> ConnectFuture<'_>;
}

impl Connect for Connector {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(Self::connect(self))
    }
}

/// A [`Connect`] made of an async function, e.g. to pick a host at each
/// connect or to wrap a [`Connector`] with extra steps.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use pgline::pool::{Pool, connect_fn};
/// let config: pgline::Config = "host=db1,db2 user=app".parse()?;
/// let pool = Pool::with_connector(connect_fn(move || {
///     let config = config.clone();
///     async move { config.connect_host(1).await }
/// }))
/// .connect()
/// .await?;
/// # drop(pool); Ok(()) }
/// ```
pub fn connect_fn<F, Fut>(f: F) -> ConnectFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Client, Error>> + Send + 'static,
{
    ConnectFn(f)
}

/// The [`Connect`] made by [`connect_fn`].
pub struct ConnectFn<F>(F);

impl<F> fmt::Debug for ConnectFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectFn(<fn>)")
    }
}

impl<F, Fut> Connect for ConnectFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Client, Error>> + Send + 'static,
{
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin((self.0)())
    }
}
