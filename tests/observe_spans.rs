//! Spans against a real server, read back through a capturing `tracing`
//! layer: the exact field set of each span kind, no parameter values, and
//! a query's histogram sample equal to its span's duration within 1 ms.
#![cfg(all(feature = "runtime", feature = "metrics"))]

mod pool_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use pgline::observe::{Hooks, Metrics, Spans, metric_names as n};
use pgline::pool::Pool;
use pool_support::{bounded, config_for, server};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};

#[derive(Debug, Clone)]
struct Captured {
    name: &'static str,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
    opened: Instant,
    closed: Option<Instant>,
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<BTreeMap<u64, Captured>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = if attrs.is_contextual() {
            ctx.current_span().id().map(Id::into_u64)
        } else {
            attrs.parent().map(Id::into_u64)
        };
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.spans.lock().unwrap().insert(
            id.into_u64(),
            Captured {
                name: attrs.metadata().name(),
                parent,
                fields,
                opened: Instant::now(),
                closed: None,
            },
        );
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            span.closed = Some(Instant::now());
        }
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

const COMMON: [&str; 6] = [
    "otel.kind",
    "db.system.name",
    "db.namespace",
    "db.operation.name",
    "server.address",
    "server.port",
];
const FAILED: [&str; 4] = [
    "db.response.status_code",
    "error.type",
    "error.message",
    "otel.status_code",
];

fn with(base: &[&str], more: &[&str]) -> BTreeSet<String> {
    let mut s = set(base);
    s.extend(set(more));
    s
}

#[test]
fn each_span_kind_has_its_exact_fields() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || {
            rt.block_on(async {
                let hooks = Hooks::new().all(Spans).all(Metrics::new());
                let mut config = config_for(server(), "observe_spans");
                config.hooks(Hooks::new().connect(Spans));
                let pool = bounded(
                    Pool::builder(config)
                        .name("spans")
                        .max_size(1)
                        .hooks(hooks)
                        .connect(),
                )
                .await
                .unwrap();
                let c = bounded(pool.acquire()).await.unwrap();
                c.query_one("SELECT $1::int4", &[&424242i32]).await.unwrap();
                c.execute("SELECT 1/0", &[]).await.unwrap_err();
                let mut one = c.batch();
                one.push("SELECT 3", &[]);
                one.run_atomic().await.unwrap();
                let mut two = c.batch();
                two.push("SELECT 3", &[]);
                two.push("SELECT 4", &[]);
                two.run_atomic().await.unwrap();
                c.batch_execute("CREATE TEMP TABLE s (a int)")
                    .await
                    .unwrap();
                let mut sink = c.copy_in("COPY s FROM STDIN").await.unwrap();
                sink.send(b"1\n").await.unwrap();
                sink.finish().await.unwrap();
                drop(c);
                pool.close(Duration::from_secs(5)).await;
            })
        })
    });
    let by_id = capture.spans.lock().unwrap().clone();
    let parent_name = |s: &Captured| s.parent.and_then(|p| by_id.get(&p)).map(|p| p.name);
    let spans: Vec<Captured> = by_id.values().cloned().collect();
    let keys = |s: &Captured| s.fields.keys().cloned().collect::<BTreeSet<_>>();
    let find = |name: &str, op: Option<&str>| -> Vec<&Captured> {
        spans
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                op.is_none_or(|op| {
                    s.fields.get("db.operation.name").map(|v| v.as_str()) == Some(op)
                })
            })
            .collect()
    };
    // No parameter value anywhere.
    for s in &spans {
        assert!(s.fields.values().all(|v| !v.contains("424242")), "{s:?}");
    }
    let connect = find("pgline.connect", None);
    assert_eq!(connect.len(), 1);
    assert_eq!(
        keys(connect[0]),
        set(&[
            "otel.kind",
            "db.system.name",
            "db.namespace",
            "server.address",
            "server.port",
            "pgline.backend_pid"
        ])
    );
    let connection = find("pgline.connection", None);
    assert_eq!(connection.len(), 1);
    assert_eq!(
        keys(connection[0]),
        set(&[
            "server.address",
            "server.port",
            "db.namespace",
            "pgline.backend_pid"
        ])
    );
    assert_eq!(
        connection[0].fields["pgline.backend_pid"],
        connect[0].fields["pgline.backend_pid"]
    );
    let acquire = find("pgline.acquire", None);
    assert_eq!(acquire.len(), 1);
    assert_eq!(
        keys(acquire[0]),
        set(&[
            "otel.kind",
            "db.system.name",
            "db.client.connection.pool.name"
        ])
    );
    let query = find("pgline.query", Some("query_one"));
    assert_eq!(query.len(), 1);
    assert_eq!(
        keys(query[0]),
        with(&COMMON, &["db.query.text", "db.response.returned_rows"])
    );
    assert_eq!(query[0].fields["db.query.text"], "SELECT $1::int4");
    let failed = find("pgline.query", Some("execute"));
    assert_eq!(
        keys(failed[0]),
        with(&COMMON, &["db.query.text"])
            .union(&set(&FAILED))
            .cloned()
            .collect()
    );
    assert_eq!(failed[0].fields["error.type"], "22012");
    assert_eq!(failed[0].fields["otel.status_code"], "ERROR");
    // Cache misses only: SELECT $1::int4, SELECT 1/0, SELECT 3, SELECT 4.
    let prepares = find("pgline.prepare", None);
    assert_eq!(prepares.len(), 4);
    for p in &prepares {
        assert_eq!(keys(p), with(&COMMON, &["db.query.text"]));
    }
    // Nesting: a cache miss's prepare inside its query or batch, the
    // first acquire's connect inside the acquire.
    let parents: Vec<_> = prepares.iter().map(|p| parent_name(p)).collect();
    assert_eq!(
        parents,
        [
            Some("pgline.query"),
            Some("pgline.query"),
            Some("pgline.batch"),
            Some("pgline.batch")
        ]
    );
    assert_eq!(parent_name(connect[0]), Some("pgline.acquire"));
    assert_eq!(parent_name(query[0]), None);
    let batches = find("pgline.batch", None);
    assert_eq!(batches.len(), 2);
    assert_eq!(keys(batches[0]), set(&COMMON));
    assert_eq!(
        keys(batches[1]),
        with(&COMMON, &["db.operation.batch.size"])
    );
    assert_eq!(batches[1].fields["db.operation.batch.size"], "2");
    let copy = find("pgline.copy", None);
    assert_eq!(
        keys(copy[0]),
        with(
            &COMMON,
            &[
                "db.query.text",
                "db.response.returned_rows",
                "pgline.copy.bytes"
            ]
        )
    );
    assert_eq!(copy[0].fields["db.response.returned_rows"], "1");
    // Every span but the connection's is closed; the query's histogram
    // sample is its span's duration within 1 ms.
    for s in &spans {
        assert!(s.closed.is_some(), "{s:?}");
    }
    let span_secs = (query[0].closed.unwrap() - query[0].opened).as_secs_f64();
    let sample = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find_map(|(key, _, _, value)| {
            let key = key.key();
            let is_query_one = key.name() == n::OPERATION_DURATION
                && key
                    .labels()
                    .any(|l| l.key() == "db.operation.name" && l.value() == "query_one");
            match value {
                DebugValue::Histogram(v) if is_query_one => Some(v[0].0),
                _ => None,
            }
        })
        .expect("a query_one sample");
    assert!(
        (span_secs - sample).abs() < 0.001,
        "span {span_secs} s, histogram {sample} s"
    );
}
