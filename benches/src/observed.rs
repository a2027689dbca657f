//! `--observe`: pgline with its metrics and spans on.
//!
//! Owns the switch, the process-wide Prometheus recorder and `tracing`
//! registry it installs, and the hooks pgline clients get. Must not: be
//! on unless asked; the default runs measure pgline with nothing installed.

use std::sync::OnceLock;

use pgline::observe::{Hooks, Metrics, Spans};

static HOOKS: OnceLock<Hooks> = OnceLock::new();

/// Installs a Prometheus recorder (no HTTP listener) and a `tracing`
/// registry as the global defaults, and hooks for pgline clients.
pub fn enable() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let _ = metrics::set_global_recorder(recorder);
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    let _ = HOOKS.set(Hooks::new().all(Metrics::new()).all(Spans));
}

/// The hooks pgline clients install: none unless [`enable`] ran.
pub fn hooks() -> Hooks {
    HOOKS.get().cloned().unwrap_or_default()
}
