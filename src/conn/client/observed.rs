//! Calls to the query, prepare and COPY hooks around the client's calls.
//!
//! Owns the observed variants of the client's public calls: each public
//! call tests its handle's hooks once and, when some are installed, goes
//! through here. A query calls the hooks' start and end through
//! [`Client::query_started`] and [`Client::query_ended`], out of line, and
//! awaits its plain future inside the span in place: no allocation, and
//! the plain call's code keeps only the two calls; prepares likewise
//! ([`Client::prepare_started`], [`Client::prepare_ended`]). Batches are
//! boxed in [`Cold`], so the unobserved call's future does not grow.
//! An observed call is passed as the function that makes its future, so
//! that future is built in place, not moved.
//! A call whose future is dropped before it finishes reports no end.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::conn::client::handle::Client;
use crate::error::Error;
use crate::observe::{
    CopyDirection, CopyEnd, CopyStart, Pending, PrepareEnd, PrepareHook, PrepareStart, QueryEnd,
    QueryHook, QueryStart,
};

impl Client {
    /// Calls the query hooks' start methods: out of line, so the call
    /// site keeps only a call.
    #[cold]
    #[inline(never)]
    pub(crate) fn query_started(
        &self,
        hooks: &[Arc<dyn QueryHook>],
        operation: &'static str,
        sql: Option<&str>,
        params: usize,
    ) -> Pending {
        let start = QueryStart {
            operation,
            sql,
            params,
            server: &self.inner.server,
        };
        Pending::start(hooks, |h| h.query_start(&start))
    }

    /// Calls the query hooks' end methods with the rows or the error.
    #[cold]
    #[inline(never)]
    pub(crate) fn query_ended(
        &self,
        hooks: &[Arc<dyn QueryHook>],
        pending: Pending,
        operation: &'static str,
        sql: Option<&str>,
        outcome: Result<Option<u64>, &Error>,
    ) {
        let (rows, error) = match outcome {
            Ok(rows) => (rows, None),
            Err(e) => (None, Some(e)),
        };
        let server = &self.inner.server;
        pending.end(hooks, |h, data, elapsed| {
            h.query_end(
                data,
                &QueryEnd {
                    operation,
                    sql,
                    elapsed,
                    rows,
                    error,
                    server,
                },
            )
        });
    }

    /// Calls the prepare hooks' start methods, out of line; answers the
    /// pending ends and the statement cache's evictions so far.
    #[cold]
    #[inline(never)]
    pub(crate) fn prepare_started(
        &self,
        hooks: &[Arc<dyn PrepareHook>],
        sql: &str,
        from_cache: bool,
        cached: bool,
    ) -> (Pending, u64) {
        let start = PrepareStart {
            sql,
            from_cache,
            cached,
            server: &self.inner.server,
        };
        let pending = Pending::start(hooks, |h| h.prepare_start(&start));
        (pending, self.statement_cache_stats().evictions)
    }

    /// Calls the prepare hooks' end methods; `evictions` is what
    /// [`prepare_started`](Self::prepare_started) answered.
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn prepare_ended(
        &self,
        hooks: &[Arc<dyn PrepareHook>],
        pending: Pending,
        sql: &str,
        from_cache: bool,
        already_prepared: bool,
        evictions: u64,
        error: Option<&Error>,
    ) {
        let evicted = self.statement_cache_stats().evictions - evictions;
        let server = &self.inner.server;
        pending.end(hooks, |h, data, elapsed| {
            h.prepare_end(
                data,
                &PrepareEnd {
                    sql,
                    already_prepared,
                    from_cache,
                    evicted,
                    elapsed,
                    error,
                    server,
                },
            )
        });
    }
}

/// A COPY between the COPY hooks' start and end: kept by the sink or
/// stream until the COPY ends; dropped before that, it reports the end
/// with no row count.
pub(crate) struct CopyObserver {
    client: Client,
    direction: CopyDirection,
    sql: Box<str>,
    pending: Option<Pending>,
}

impl std::fmt::Debug for CopyObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyObserver")
            .field("direction", &self.direction)
            .finish_non_exhaustive()
    }
}

impl CopyObserver {
    /// Calls the COPY hooks' start, when `client` has any.
    pub(crate) fn start(client: &Client, direction: CopyDirection, sql: &str) -> Option<Self> {
        let hooks = client.hooks.copies()?;
        let start = CopyStart {
            direction,
            sql,
            server: &client.inner.server,
        };
        let pending = Pending::start(hooks, |h| h.copy_start(&start));
        Some(Self {
            client: client.clone(),
            direction,
            sql: sql.into(),
            pending: Some(pending),
        })
    }

    /// Calls the COPY hooks' end.
    pub(crate) fn end(mut self, rows: Option<u64>, bytes: u64, error: Option<&Error>) {
        self.report(rows, bytes, error);
    }

    fn report(&mut self, rows: Option<u64>, bytes: u64, error: Option<&Error>) {
        let (Some(pending), Some(hooks)) = (self.pending.take(), self.client.hooks.copies()) else {
            return;
        };
        let end = |elapsed| CopyEnd {
            direction: self.direction,
            sql: &self.sql,
            rows,
            bytes,
            elapsed,
            error,
            server: &self.client.inner.server,
        };
        pending.end(hooks, |h, data, elapsed| h.copy_end(data, &end(elapsed)));
    }
}

impl Drop for CopyObserver {
    fn drop(&mut self) {
        self.report(None, 0, None);
    }
}

/// An observed call's future, boxed and polled out of line: the plain
/// call's future holds only this pointer, and its poll only a call, so
/// the hooks' code does not weigh on a call made without them.
pub(crate) struct Cold<F>(Pin<Box<F>>);

impl<F: Future> Cold<F> {
    #[inline(never)]
    pub(crate) fn new(call: F) -> Self {
        Self(Box::pin(call))
    }
}

impl<F: Future> Future for Cold<F> {
    type Output = F::Output;

    #[inline(never)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.0.as_mut().poll(cx)
    }
}
