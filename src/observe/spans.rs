//! `tracing` spans named by OpenTelemetry's database conventions.
//!
//! Owns [`Spans`], a hook for every phase that opens a span at the start
//! and closes it at the end: `pgline.query`, `pgline.prepare` (cache
//! misses and explicit prepares), `pgline.batch`, `pgline.copy`,
//! `pgline.connect` and `pgline.acquire`, all at INFO under the target
//! `pgline`. `db.query.text` is the SQL as written, with its `$n`
//! placeholders; parameter values are never recorded. A span's parent is
//! the caller's current span, and the observed call runs inside it, so
//! what it does nests: a cache miss's `pgline.prepare` under its
//! `pgline.query` or `pgline.batch`, the `pgline.connect` of a new
//! connection under its `pgline.acquire`.

use std::sync::OnceLock;

use tracing::field::{Empty, Field};
use tracing::{Span, info_span};

use super::{
    AcquireEnd, AcquireHook, AcquireStart, BatchEnd, BatchHook, BatchStart, ClusterChange,
    ClusterHook, ConnectEnd, ConnectHook, ConnectStart, CopyEnd, CopyHook, CopyStart, HookData,
    PrepareEnd, PrepareHook, PrepareStart, QueryEnd, QueryHook, QueryStart, Release,
    ReleaseDecision, ReleaseHook,
};
use crate::error::Error;

/// Opens a span per operation; install with `Hooks::new().all(Spans)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spans;

/// `db.response.returned_rows` of one span kind's callsite, found once:
/// recording a field by name searches the span's fields every time.
type RowsField = OnceLock<Option<Field>>;

/// The returned-rows field of the `pgline.query` spans.
static QUERY_ROWS: RowsField = OnceLock::new();

/// The returned-rows field of the `pgline.copy` spans.
static COPY_ROWS: RowsField = OnceLock::new();

/// Records the outcome fields on a span and closes it; `rows` with the
/// field of the span's kind.
fn close(data: HookData, error: Option<&Error>, rows: Option<(u64, &'static RowsField)>) {
    let Some(span) = data.take::<Span>() else {
        return;
    };
    if let (Some((rows, field)), Some(meta)) = (rows, span.metadata()) {
        let field = field.get_or_init(|| meta.fields().field("db.response.returned_rows"));
        // A field of another callsite is ignored by `record`; each kind
        // has its own.
        if let Some(field) = field {
            span.record(field, rows);
        }
    }
    if let Some(error) = error {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", error_type(error));
        if let Some(code) = error.code() {
            span.record("db.response.status_code", code.code());
        }
        span.record("error.message", tracing::field::display(error));
    }
}

/// `error.type`: the SQLSTATE when the server sent one, else the kind.
fn error_type(error: &Error) -> &str {
    match error.code() {
        Some(code) => code.code(),
        None => super::error_kind_name(error.kind()),
    }
}

/// A client span named `$name` carrying the fields every pgline span has:
/// kind and system first, `$fields` next, then the outcome fields
/// [`close`] fills in on failure.
macro_rules! client_span {
    ($name:literal, $($fields:tt)*) => {
        info_span!(
            target: "pgline",
            $name,
            otel.kind = "client",
            db.system.name = "postgresql",
            $($fields)*
            db.response.status_code = Empty,
            error.type = Empty,
            error.message = Empty,
            otel.status_code = Empty,
        )
    };
}

/// The span as the hook's data, or nothing when no subscriber wants it.
fn opened(span: Span) -> HookData {
    if span.is_disabled() {
        HookData::none()
    } else {
        HookData::new(span)
    }
}

impl QueryHook for Spans {
    fn query_start(&self, q: &QueryStart<'_>) -> HookData {
        let span = client_span!(
            "pgline.query",
            db.namespace = &*q.server.namespace,
            db.operation.name = q.operation,
            db.query.text = q.sql,
            server.address = &*q.server.address,
            server.port = q.server.port,
            db.response.returned_rows = Empty,
        );
        opened(span)
    }
    fn query_end(&self, data: HookData, q: &QueryEnd<'_>) {
        close(data, q.error, q.rows.map(|r| (r, &QUERY_ROWS)));
    }
}

impl PrepareHook for Spans {
    fn prepare_start(&self, p: &PrepareStart<'_>) -> HookData {
        if p.cached {
            return HookData::none();
        }
        let span = client_span!(
            "pgline.prepare",
            db.namespace = &*p.server.namespace,
            db.operation.name = "prepare",
            db.query.text = p.sql,
            server.address = &*p.server.address,
            server.port = p.server.port,
        );
        opened(span)
    }
    fn prepare_end(&self, data: HookData, p: &PrepareEnd<'_>) {
        close(data, p.error, None);
    }
}

impl BatchHook for Spans {
    fn batch_start(&self, b: &BatchStart<'_>) -> HookData {
        let span = client_span!(
            "pgline.batch",
            db.namespace = &*b.server.namespace,
            db.operation.name = "batch",
            db.operation.batch.size = Empty,
            server.address = &*b.server.address,
            server.port = b.server.port,
        );
        // The convention: a batch of one is not a batch.
        if b.size >= 2 && !span.is_disabled() {
            span.record("db.operation.batch.size", b.size);
        }
        opened(span)
    }
    fn batch_end(&self, data: HookData, b: &BatchEnd<'_>) {
        close(data, b.error, None);
    }
}

impl CopyHook for Spans {
    fn copy_start(&self, c: &CopyStart<'_>) -> HookData {
        let span = client_span!(
            "pgline.copy",
            db.namespace = &*c.server.namespace,
            db.operation.name = c.direction.operation_name(),
            db.query.text = c.sql,
            server.address = &*c.server.address,
            server.port = c.server.port,
            db.response.returned_rows = Empty,
            pgline.copy.bytes = Empty,
        );
        opened(span)
    }
    fn copy_end(&self, data: HookData, c: &CopyEnd<'_>) {
        if let Some(span) = data.get::<Span>() {
            span.record("pgline.copy.bytes", c.bytes);
        }
        close(data, c.error, c.rows.map(|r| (r, &COPY_ROWS)));
    }
}

impl ConnectHook for Spans {
    fn connect_start(&self, c: &ConnectStart<'_>) -> HookData {
        let span = client_span!(
            "pgline.connect",
            db.namespace = c.namespace,
            server.address = c.host,
            server.port = c.port,
            pgline.backend_pid = Empty,
        );
        opened(span)
    }
    fn connect_end(&self, data: HookData, c: &ConnectEnd<'_>) {
        if let (Some(span), Some(pid)) = (data.get::<Span>(), c.backend_pid) {
            span.record("pgline.backend_pid", pid);
        }
        close(data, c.error, None);
    }
}

impl AcquireHook for Spans {
    fn acquire_start(&self, a: &AcquireStart<'_>) -> HookData {
        let span = client_span!(
            "pgline.acquire",
            db.client.connection.pool.name = a.pool.name,
        );
        opened(span)
    }
    fn acquire_end(&self, data: HookData, a: &AcquireEnd<'_>) {
        close(data, a.error, None);
    }
}

impl ReleaseHook for Spans {
    fn release(&self, _: &Release<'_>) -> ReleaseDecision {
        ReleaseDecision::Keep
    }
}

/// Cluster changes become `tracing` events (INFO, target `pgline`) in
/// whatever span is current; samples, routing and retries are metrics'
/// business.
impl ClusterHook for Spans {
    fn cluster_change(&self, change: &ClusterChange<'_>) {
        tracing::info!(
            target: "pgline",
            change = change.name(),
            detail = ?change,
            "pgline cluster change"
        );
    }
}
