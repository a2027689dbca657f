//! The pool's state as acquire and release events report it.
//!
//! Owns [`PoolFigures`]: enough for the `db.client.connection.*` gauges
//! without a second look at the pool.

/// A pool's figures at the time of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolFigures<'a> {
    /// The pool's name (`db.client.connection.pool.name`).
    pub name: &'a str,
    /// Connections idle in the pool.
    pub idle: usize,
    /// Connections handed out.
    pub used: usize,
    /// Acquires waiting.
    pub pending: usize,
    /// The configured maximum size.
    pub max: usize,
    /// The configured minimum of idle connections.
    pub min_idle: usize,
}

impl<'a> PoolFigures<'a> {
    /// Figures of the pool `name`, all zero.
    pub fn new(name: &'a str) -> Self {
        Self {
            name,
            idle: 0,
            used: 0,
            pending: 0,
            max: 0,
            min_idle: 0,
        }
    }
}
