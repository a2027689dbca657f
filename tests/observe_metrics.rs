//! Metrics against a real server, read back through `metrics-util`'s
//! debugging recorder: a scripted workload (queries, an error, a batch, a
//! COPY, pool contention) and every series' labels and value; distinct SQL
//! texts never add series.
#![cfg(all(feature = "runtime", feature = "metrics"))]

mod pool_support;
mod recorder_support;

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use pgline::observe::{Hooks, Metrics, metric_names as n};
use pgline::pool::Pool;
use pool_support::{bounded, config_for, server};
use recorder_support::{Series, labels, series};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_scripted_workload_records_every_metric_with_its_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (address, port) = metrics::with_local_recorder(&recorder, || {
        runtime().block_on(async {
            let metrics = Metrics::new();
            // Connect attempts are made by the connector, from the config.
            let mut config = config_for(server(), "observe_metrics");
            config.hooks(Hooks::new().connect(metrics.clone()));
            let pool = bounded(
                Pool::builder(config)
                    .name("scripted")
                    .max_size(1)
                    .min_idle(0)
                    .test_on_acquire(None)
                    .acquire_timeout(Duration::from_millis(300))
                    .hooks(Hooks::new().all(metrics))
                    .connect(),
            )
            .await
            .unwrap();
            let c = bounded(pool.acquire()).await.unwrap();
            let info = c.server_info().clone();
            for i in 0..3 {
                c.query_one("SELECT $1::int4", &[&i]).await.unwrap();
            }
            let err = c.execute("SELECT 1/0", &[]).await.unwrap_err();
            assert_eq!(err.code().unwrap().code(), "22012");
            let mut batch = c.batch();
            batch.push("SELECT 1", &[]);
            batch.push("SELECT 2", &[]);
            batch.run_atomic().await.unwrap();
            c.batch_execute("CREATE TEMP TABLE m (a int)")
                .await
                .unwrap();
            let mut sink = c.copy_in("COPY m FROM STDIN").await.unwrap();
            sink.send(b"1\n2\n3\n").await.unwrap();
            assert_eq!(sink.finish().await.unwrap(), 3);
            // Contention: the only connection is held, so this acquire
            // waits out its timeout.
            assert!(pool.acquire().await.unwrap_err().is_timeout());
            drop(c);
            // Released: the next acquire gets it at once.
            let c = bounded(pool.acquire()).await.unwrap();
            drop(c);
            (info.address.to_string(), info.port.to_string())
        })
    });
    let all = series(&snapshotter);
    let op = |name: &str, extra: &[(&str, &str)]| {
        let mut l = vec![
            ("db.system.name", "postgresql"),
            ("db.namespace", "postgres"),
            ("db.operation.name", name),
            ("server.address", address.as_str()),
            ("server.port", port.as_str()),
        ];
        l.extend_from_slice(extra);
        (
            "histogram".to_owned(),
            n::OPERATION_DURATION.to_owned(),
            labels(&l),
        )
    };
    let count = |key: &(String, String, Vec<(String, String)>)| match all.get(key) {
        Some(DebugValue::Histogram(v)) => v.len(),
        other => panic!("{key:?}: {other:?}"),
    };
    let value = |kind: &str, name: &str, l: &[(&str, &str)]| {
        all.get(&(kind.to_owned(), name.to_owned(), labels(l)))
            .unwrap_or_else(|| panic!("no {kind} {name} {l:?} in {all:#?}"))
    };
    assert_eq!(count(&op("query_one", &[])), 3);
    assert_eq!(
        count(&op(
            "execute",
            &[
                ("error.type", "22012"),
                ("db.response.status_code", "22012")
            ]
        )),
        1
    );
    // SELECT $1::int4, SELECT 1/0, SELECT 1 and SELECT 2 were prepared.
    assert_eq!(count(&op("prepare", &[])), 4);
    assert_eq!(count(&op("batch", &[])), 1);
    assert_eq!(count(&op("batch_execute", &[])), 1);
    assert_eq!(count(&op("COPY FROM", &[])), 1);
    let db = [("db.namespace", "postgres")];
    assert_eq!(
        value("counter", n::STATEMENT_CACHE_HITS, &db),
        &DebugValue::Counter(2)
    );
    assert_eq!(
        value("counter", n::STATEMENT_CACHE_MISSES, &db),
        &DebugValue::Counter(4)
    );
    assert_eq!(
        value("counter", n::STATEMENT_CACHE_EVICTIONS, &db),
        &DebugValue::Counter(0)
    );
    assert_eq!(
        value(
            "counter",
            n::ERRORS,
            &[
                ("error.type", "22012"),
                ("db.operation.name", "execute"),
                ("db.namespace", "postgres")
            ]
        ),
        &DebugValue::Counter(1)
    );
    let copy = [
        ("pgline.copy.direction", "in"),
        ("db.namespace", "postgres"),
    ];
    assert_eq!(
        value("counter", n::COPY_ROWS, &copy),
        &DebugValue::Counter(3)
    );
    assert_eq!(
        value("counter", n::COPY_BYTES, &copy),
        &DebugValue::Counter(6)
    );
    assert_eq!(
        value(
            "counter",
            n::CONNECT_ATTEMPTS,
            &[
                ("pgline.outcome", "ok"),
                ("server.address", address.as_str()),
                ("server.port", port.as_str())
            ]
        ),
        &DebugValue::Counter(1)
    );
    let pool = [("db.client.connection.pool.name", "scripted")];
    assert_eq!(
        value("counter", n::CONNECTION_TIMEOUTS, &pool),
        &DebugValue::Counter(1)
    );
    let hist = |name: &str| match value("histogram", name, &pool) {
        DebugValue::Histogram(v) => v.len(),
        other => panic!("{other:?}"),
    };
    // Three acquires ended (one timed out), one opened a connection, two
    // connections were given back.
    assert_eq!(hist(n::CONNECTION_WAIT_TIME), 3);
    assert_eq!(hist(n::CONNECTION_CREATE_TIME), 1);
    assert_eq!(hist(n::CONNECTION_USE_TIME), 2);
    let gauge = |name: &str, extra: &[(&str, &str)]| {
        let mut l = pool.to_vec();
        l.extend_from_slice(extra);
        match value("gauge", name, &l) {
            DebugValue::Gauge(v) => v.0,
            other => panic!("{other:?}"),
        }
    };
    // After the last release: one idle, none used or waiting.
    assert_eq!(
        gauge(
            n::CONNECTION_COUNT,
            &[("db.client.connection.state", "idle")]
        ),
        1.0
    );
    assert_eq!(
        gauge(
            n::CONNECTION_COUNT,
            &[("db.client.connection.state", "used")]
        ),
        0.0
    );
    assert_eq!(gauge(n::CONNECTION_MAX, &[]), 1.0);
    assert_eq!(gauge(n::CONNECTION_IDLE_MAX, &[]), 1.0);
    assert_eq!(gauge(n::CONNECTION_IDLE_MIN, &[]), 0.0);
    assert_eq!(gauge(n::CONNECTION_PENDING, &[]), 0.0);
    // Nothing else was recorded, and no label holds SQL.
    assert_eq!(all.len(), 23, "{all:#?}");
    for (_, _, l) in all.keys() {
        assert!(l.iter().all(|(_, v)| !v.contains("SELECT")), "{l:?}");
    }
}

/// Series recorded by `texts` distinct SQL texts run once each.
fn series_for(texts: usize) -> Series {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        runtime().block_on(async {
            let mut config = config_for(server(), "observe_metrics_n");
            config.statement_cache_capacity(8);
            config.hooks(Hooks::new().all(Metrics::new()));
            let client = bounded(pgline::Connector::new(config).connect())
                .await
                .unwrap();
            for i in 0..texts {
                let sql = format!("SELECT {i} AS c");
                client.query_one(sql.as_str(), &[]).await.unwrap();
            }
        })
    });
    series(&snapshotter)
}

#[test]
fn ten_thousand_sql_texts_make_no_more_series_than_ten() {
    let few = series_for(10);
    let many = series_for(10_000);
    let keys = |s: &Series| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&few), keys(&many));
    let misses = few
        .iter()
        .find(|((_, name, _), _)| name == n::STATEMENT_CACHE_MISSES)
        .map(|(_, v)| v);
    assert_eq!(misses, Some(&DebugValue::Counter(10)));
    let evictions = |s: &Series| {
        s.iter()
            .find(|((_, name, _), _)| name == n::STATEMENT_CACHE_EVICTIONS)
            .map(|(_, v)| match v {
                DebugValue::Counter(c) => *c,
                _ => 0,
            })
    };
    assert_eq!(evictions(&few), Some(2));
    assert_eq!(evictions(&many), Some(10_000 - 8));
}
