//! Leak watch: a connection held past the threshold is reported once, as a
//! `tracing` warning naming the acquire site, an event and a count.
#![cfg(feature = "runtime")]

mod pool_support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pgline::pool::{Pool, PoolEvent};
use pool_support::{bounded, config_for, server};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Keeps the text of every warning.
struct CaptureWarnings(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for CaptureWarnings {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

// Single-threaded, so the pool's background task runs where the capturing
// subscriber is installed.
#[tokio::test(flavor = "current_thread")]
async fn held_connection_is_reported_with_its_acquire_site() {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let _guard = tracing::subscriber::set_default(CaptureWarnings(Arc::clone(&warnings)));

    let pool = Pool::builder(config_for(server(), "pool_leak"))
        .max_size(2)
        .leak_threshold(Some(Duration::from_millis(100)))
        .maintenance_interval(Duration::from_millis(20))
        .connect()
        .await
        .unwrap();
    let mut events = pool.subscribe();

    let short = pool.acquire().await.unwrap();
    drop(short);
    let acquire_line = line!() + 1;
    let held = pool.acquire().await.unwrap();

    let (site, held_for, pid) = bounded(async {
        loop {
            match events.recv().await.unwrap() {
                PoolEvent::LeakSuspected {
                    acquired_at,
                    held_for,
                    backend_pid,
                } => return (acquired_at, held_for, backend_pid),
                _ => continue,
            }
        }
    })
    .await;
    assert!(site.file().ends_with("pool_leak.rs"), "{site}");
    assert_eq!(site.line(), acquire_line);
    assert!(held_for >= Duration::from_millis(100));
    assert_eq!(pid, held.backend_pid());

    let expected_site = format!("pool_leak.rs:{acquire_line}");
    let logged = warnings.lock().unwrap().clone();
    let leak_lines: Vec<_> = logged
        .iter()
        .filter(|w| w.contains("leak threshold"))
        .collect();
    assert_eq!(leak_lines.len(), 1, "{logged:?}");
    assert!(leak_lines[0].contains(&expected_site), "{logged:?}");

    // Reported once, however long it is held.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pool.stats().leaks, 1);
    drop(held);
    pool.close(Duration::from_secs(5)).await;
    assert_eq!(pool.stats().leaks, 1);
}
