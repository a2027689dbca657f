//! `--observe` and `--observe-null`: pgline with its metrics and spans on.
//!
//! Owns the switch, the process-wide recorder and `tracing` subscriber it
//! installs, and the hooks pgline clients get. `--observe` installs the
//! real ones (a Prometheus recorder and a `tracing` registry: the cost end
//! to end); `--observe-null` installs a recorder whose handles do nothing
//! and a subscriber that wants every span and keeps none, so what is left
//! is pgline's own cost of calling them. Must not: be on unless asked; the
//! default runs measure pgline with nothing installed.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use pgline::observe::{Hooks, Metrics, Spans};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Subscriber};

static HOOKS: OnceLock<Hooks> = OnceLock::new();

/// What `--observe` installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observe {
    /// A Prometheus recorder (no HTTP listener) and a `tracing` registry.
    Exporters,
    /// [`NullRecorder`] and [`NullSubscriber`].
    Null,
}

/// Installs the recorder and subscriber `what` names as the global
/// defaults, and hooks for pgline clients.
pub fn enable(what: Observe) {
    match what {
        Observe::Exporters => {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let _ = metrics::set_global_recorder(recorder);
            let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        }
        Observe::Null => {
            let _ = metrics::set_global_recorder(NullRecorder);
            let _ = tracing::subscriber::set_global_default(NullSubscriber::default());
        }
    }
    let _ = HOOKS.set(Hooks::new().all(Metrics::new()).all(Spans));
}

/// The hooks pgline clients install: none unless [`enable`] ran.
pub fn hooks() -> Hooks {
    HOOKS.get().cloned().unwrap_or_default()
}

/// A recorder that accepts every key and hands out handles that do
/// nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullRecorder;

impl Recorder for NullRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// A subscriber enabled for every span and event that records nothing:
/// spans get fresh ids and are forgotten.
#[derive(Debug, Default)]
pub struct NullSubscriber {
    next: AtomicU64,
}

impl Subscriber for NullSubscriber {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> Interest {
        Interest::always()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
