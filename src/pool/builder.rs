//! Pool settings and the builder that opens a pool.
//!
//! Owns [`PoolBuilder`] (the `&mut Self` setters and their defaults),
//! [`ResetOnRelease`] and [`WarmUp`]. It checks settings but opens nothing
//! itself: [`PoolBuilder::connect`] hands them to the pool.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::Pool;
use super::connect::Connect;
use super::health::Backoff;
use crate::Client;
use crate::Connector;
use crate::config::Config;
use crate::error::{Error, ErrorKind};

/// What runs on a connection when it comes back to the pool, before it is
/// reused. An open or failed transaction is always rolled back first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResetOnRelease {
    /// Nothing: session state (and prepared statements) survive release.
    #[default]
    Nothing,
    /// `DISCARD ALL`: session settings, temporary tables and prepared
    /// statements are dropped.
    DiscardAll,
    /// Custom SQL, run with the simple protocol (e.g. `RESET ALL`).
    Sql(String),
}

impl ResetOnRelease {
    pub(crate) fn sql(&self) -> Option<&str> {
        match self {
            Self::Nothing => None,
            Self::DiscardAll => Some("DISCARD ALL"),
            Self::Sql(sql) => Some(sql),
        }
    }
}

/// Whether [`PoolBuilder::connect`] waits for the first `min_idle`
/// connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WarmUp {
    /// Wait until `min_idle` connections are open; a connect error is
    /// returned and the pool is not created.
    #[default]
    Wait,
    /// Return at once and open them in the background.
    Background,
}

pub(crate) type SetupFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;
pub(crate) type SetupFn = Arc<dyn Fn(Client) -> SetupFuture + Send + Sync>;

/// The settings of a pool, as built.
#[derive(Clone)]
pub(crate) struct PoolSettings {
    pub(crate) max_size: usize,
    pub(crate) min_idle: usize,
    pub(crate) acquire_timeout: Duration,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) lifetime_jitter: f64,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) health_check_interval: Option<Duration>,
    pub(crate) health_check_timeout: Duration,
    pub(crate) test_on_acquire: Option<Duration>,
    pub(crate) reset_on_release: ResetOnRelease,
    pub(crate) leak_threshold: Option<Duration>,
    pub(crate) connect_concurrency: usize,
    pub(crate) warm_up: WarmUp,
    pub(crate) backoff: Backoff,
    pub(crate) maintenance_interval: Duration,
    pub(crate) setup: Option<SetupFn>,
    /// `db.client.connection.pool.name` in hook events and metrics.
    pub(crate) name: Arc<str>,
    /// Hooks of acquire and release, and added to every connection opened.
    pub(crate) hooks: crate::observe::Hooks,
}

impl fmt::Debug for PoolSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolSettings")
            .field("max_size", &self.max_size)
            .field("min_idle", &self.min_idle)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("lifetime_jitter", &self.lifetime_jitter)
            .field("idle_timeout", &self.idle_timeout)
            .field("health_check_interval", &self.health_check_interval)
            .field("test_on_acquire", &self.test_on_acquire)
            .field("reset_on_release", &self.reset_on_release)
            .field("leak_threshold", &self.leak_threshold)
            .field("connect_concurrency", &self.connect_concurrency)
            .field("warm_up", &self.warm_up)
            .field("backoff", &self.backoff)
            .field("maintenance_interval", &self.maintenance_interval)
            .field("setup", &self.setup.as_ref().map(|_| "<fn>"))
            .field("name", &self.name)
            .field("hooks", &self.hooks)
            .finish()
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 10,
            min_idle: 0,
            acquire_timeout: Duration::from_secs(30),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            lifetime_jitter: 0.1,
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            health_check_interval: Some(Duration::from_secs(30)),
            health_check_timeout: Duration::from_secs(5),
            test_on_acquire: Some(Duration::from_secs(10)),
            reset_on_release: ResetOnRelease::Nothing,
            leak_threshold: None,
            connect_concurrency: 4,
            warm_up: WarmUp::Wait,
            backoff: Backoff::default(),
            maintenance_interval: Duration::from_secs(1),
            setup: None,
            name: Arc::from("default"),
            hooks: crate::observe::Hooks::new(),
        }
    }
}

impl PoolSettings {
    /// Checks the settings hold together.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |msg: String| Err(Error::msg(ErrorKind::Config, msg));
        if self.max_size == 0 {
            return bad("pool max_size must be at least 1".into());
        }
        if self.min_idle > self.max_size {
            return bad(format!(
                "pool min_idle ({}) is larger than max_size ({})",
                self.min_idle, self.max_size
            ));
        }
        if self.connect_concurrency == 0 {
            return bad("pool connect_concurrency must be at least 1".into());
        }
        if self.maintenance_interval.is_zero() {
            return bad("pool maintenance_interval must not be zero".into());
        }
        if self.health_check_interval.is_some_and(|d| d.is_zero()) {
            return bad("pool health_check_interval must not be zero (use None)".into());
        }
        if !(0.0..=1.0).contains(&self.lifetime_jitter) {
            return bad(format!(
                "pool lifetime_jitter ({}) must be within 0..=1",
                self.lifetime_jitter
            ));
        }
        if self.backoff.base.is_zero() || self.backoff.cap < self.backoff.base {
            return bad("pool backoff needs 0 < base <= cap".into());
        }
        Ok(())
    }
}

/// Builds a [`Pool`]. Every setting has a default; see each setter.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use pgline::pool::{Pool, ResetOnRelease};
///
/// let config: pgline::Config = "postgres://app@localhost/app".parse()?;
/// let pool = Pool::builder(config)
///     .max_size(16)
///     .min_idle(4)
///     .acquire_timeout(Duration::from_secs(2))
///     .reset_on_release(ResetOnRelease::Nothing)
///     .setup(|client| async move { client.batch_execute("SET search_path TO app").await })
///     .connect()
///     .await?;
/// let rows = pool.query("SELECT 1", &[]).await?;
/// # drop(rows);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    pub(crate) connector: Arc<dyn Connect>,
    pub(crate) settings: PoolSettings,
}

impl PoolBuilder {
    /// A builder for connections made with `config`, to any of its hosts
    /// ([`Connector::new`]).
    pub fn new(config: Config) -> Self {
        Self::with_connector(Connector::new(config))
    }

    /// A builder for connections opened by `connector`.
    pub fn with_connector(connector: impl Connect) -> Self {
        Self {
            connector: Arc::new(connector),
            settings: PoolSettings::default(),
        }
    }

    /// The most connections open at once, in use or idle (default 10).
    pub fn max_size(&mut self, n: usize) -> &mut Self {
        self.settings.max_size = n;
        self
    }

    /// Connections kept idle and ready (default 0): opened at start and
    /// replaced when closed.
    pub fn min_idle(&mut self, n: usize) -> &mut Self {
        self.settings.min_idle = n;
        self
    }

    /// How long an acquire may wait, connect included (default 30 s).
    pub fn acquire_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.settings.acquire_timeout = timeout;
        self
    }

    /// Connections are closed after this long (default 30 min), shortened by
    /// up to `lifetime_jitter` of it for each connection; `None`: forever.
    pub fn max_lifetime(&mut self, lifetime: Option<Duration>) -> &mut Self {
        self.settings.max_lifetime = lifetime;
        self
    }

    /// The fraction (0..=1, default 0.1) by which each connection's lifetime
    /// is randomly shortened, so connections do not expire together.
    pub fn lifetime_jitter(&mut self, fraction: f64) -> &mut Self {
        self.settings.lifetime_jitter = fraction;
        self
    }

    /// Idle connections beyond `min_idle` are closed after this long
    /// (default 10 min); `None`: never.
    pub fn idle_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.settings.idle_timeout = timeout;
        self
    }

    /// How often idle connections get a background round trip (default
    /// 30 s); `None`: never.
    pub fn health_check_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.settings.health_check_interval = interval;
        self
    }

    /// How long a health check round trip may take (default 5 s).
    pub fn health_check_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.settings.health_check_timeout = timeout;
        self
    }

    /// A connection idle at least this long gets a round trip before it is
    /// handed out (default 10 s); `None`: never.
    pub fn test_on_acquire(&mut self, idle_threshold: Option<Duration>) -> &mut Self {
        self.settings.test_on_acquire = idle_threshold;
        self
    }

    /// What runs on a released connection (default: nothing).
    pub fn reset_on_release(&mut self, reset: ResetOnRelease) -> &mut Self {
        self.settings.reset_on_release = reset;
        self
    }

    /// A connection held longer than this is reported once (a `tracing`
    /// warning naming the acquire site, a [`PoolEvent`](super::PoolEvent)
    /// and a count in the stats). Default: `None`, no watch.
    pub fn leak_threshold(&mut self, threshold: Option<Duration>) -> &mut Self {
        self.settings.leak_threshold = threshold;
        self
    }

    /// The most connections opened at the same time by warm-up and
    /// replenishment (default 4).
    pub fn connect_concurrency(&mut self, n: usize) -> &mut Self {
        self.settings.connect_concurrency = n;
        self
    }

    /// Whether [`connect`](Self::connect) waits for `min_idle` connections
    /// (default [`WarmUp::Wait`]).
    pub fn warm_up(&mut self, warm_up: WarmUp) -> &mut Self {
        self.settings.warm_up = warm_up;
        self
    }

    /// Backoff between failed connect attempts and the failure count that
    /// marks the pool down (default: 100 ms base, 10 s cap, down after 3).
    pub fn backoff(&mut self, backoff: Backoff) -> &mut Self {
        self.settings.backoff = backoff;
        self
    }

    /// How often the background task looks for expired, idle and leaked
    /// connections and refills `min_idle` (default 1 s).
    pub fn maintenance_interval(&mut self, interval: Duration) -> &mut Self {
        self.settings.maintenance_interval = interval;
        self
    }

    /// Runs on every new connection before first use (e.g.
    /// `SET search_path`); an error fails that connect.
    pub fn setup<F, Fut>(&mut self, setup: F) -> &mut Self
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.settings.setup = Some(Arc::new(move |client| Box::pin(setup(client))));
        self
    }

    /// The pool's name, as hook events and metrics report it
    /// (`db.client.connection.pool.name`); default `default`.
    pub fn name(&mut self, name: &str) -> &mut Self {
        self.settings.name = Arc::from(name);
        self
    }

    /// Installs hooks (after earlier ones): the acquire and release hooks
    /// run on this pool's checkouts and returns, and the query, prepare,
    /// batch and COPY hooks are added to the connections it opens (after
    /// the configuration's own). Connect hooks belong on the
    /// [`Config`](crate::Config): the connector makes the attempts.
    pub fn hooks(&mut self, hooks: crate::observe::Hooks) -> &mut Self {
        self.settings.hooks = self.settings.hooks.merged(&hooks);
        self
    }

    /// Checks the settings, starts the pool's background task and, with
    /// [`WarmUp::Wait`], opens `min_idle` connections before returning.
    /// Must be called within a tokio runtime.
    pub async fn connect(&self) -> Result<Pool, Error> {
        self.settings.validate()?;
        Pool::start(Arc::clone(&self.connector), self.settings.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(f: impl FnOnce(&mut PoolBuilder)) -> String {
        let mut b = PoolBuilder::new(Config::new());
        f(&mut b);
        let err = b.settings.validate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        err.to_string()
    }

    #[test]
    fn defaults_are_valid() {
        let b = PoolBuilder::new(Config::new());
        assert!(b.settings.validate().is_ok());
        assert_eq!(b.settings.max_size, 10);
        assert_eq!(
            b.settings.health_check_interval,
            Some(Duration::from_secs(30))
        );
        assert_eq!(b.settings.reset_on_release.sql(), None);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        assert!(
            invalid(|b| {
                b.max_size(0);
            })
            .contains("max_size must be at least 1")
        );
        assert!(
            invalid(|b| {
                b.max_size(2).min_idle(3);
            })
            .contains("min_idle (3) is larger than max_size (2)")
        );
        assert!(
            invalid(|b| {
                b.connect_concurrency(0);
            })
            .contains("connect_concurrency")
        );
        assert!(
            invalid(|b| {
                b.lifetime_jitter(1.5);
            })
            .contains("lifetime_jitter (1.5)")
        );
        assert!(
            invalid(|b| {
                b.health_check_interval(Some(Duration::ZERO));
            })
            .contains("health_check_interval")
        );
        assert!(
            invalid(|b| {
                b.backoff(Backoff {
                    base: Duration::from_secs(2),
                    cap: Duration::from_secs(1),
                    down_after: 3,
                });
            })
            .contains("backoff")
        );
    }

    #[test]
    fn reset_sql() {
        assert_eq!(ResetOnRelease::DiscardAll.sql(), Some("DISCARD ALL"));
        assert_eq!(
            ResetOnRelease::Sql("RESET ALL".into()).sql(),
            Some("RESET ALL")
        );
    }

    #[test]
    fn debug_hides_the_setup_callback_body() {
        let mut b = PoolBuilder::new(Config::new());
        b.setup(|_client| async { Ok(()) });
        let text = format!("{:?}", b.settings);
        assert!(text.contains("setup: Some(\"<fn>\")"), "{text}");
    }
}
