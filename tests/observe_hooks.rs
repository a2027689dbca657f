//! Hooks against a real server: every phase's start and end, in order,
//! with the data the start returned; checkout and release verdicts.
#![cfg(feature = "runtime")]

mod pool_support;

use std::sync::{Arc, Mutex};

use pgline::observe::{
    AcquireEnd, AcquireHook, AcquireStart, BatchEnd, BatchHook, BatchStart, BatchStatement,
    Checkout, CheckoutDecision, ConnectEnd, ConnectHook, ConnectStart, CopyEnd, CopyHook,
    CopyStart, HookData, Hooks, PrepareEnd, PrepareHook, PrepareStart, QueryEnd, QueryHook,
    QueryStart, Release, ReleaseDecision, ReleaseHook,
};
use pgline::pool::Pool;
use pool_support::{bounded, config_for, server};

type Log = Arc<Mutex<Vec<String>>>;

/// Logs every event; each start hands its sequence number to its end.
struct Recorder {
    log: Log,
}

impl Recorder {
    fn push(&self, line: String) -> HookData {
        let mut log = self.log.lock().unwrap();
        log.push(line);
        HookData::new(log.len())
    }
    fn end(&self, data: HookData, line: String) {
        let started = data.take::<usize>().expect("the start's data comes back");
        self.log
            .lock()
            .unwrap()
            .push(format!("{line} (of {started})"));
    }
}

impl QueryHook for Recorder {
    fn query_start(&self, q: &QueryStart<'_>) -> HookData {
        self.push(format!("query {} {:?} {}", q.operation, q.sql, q.params))
    }
    fn query_end(&self, data: HookData, q: &QueryEnd<'_>) {
        let err = q.error.and_then(|e| e.code()).map(|c| c.code().to_owned());
        self.end(
            data,
            format!("end {} rows={:?} err={err:?}", q.operation, q.rows),
        );
    }
}

impl PrepareHook for Recorder {
    fn prepare_start(&self, p: &PrepareStart<'_>) -> HookData {
        self.push(format!("prepare {}", p.sql))
    }
    fn prepare_end(&self, data: HookData, p: &PrepareEnd<'_>) {
        self.end(data, format!("prepared already={}", p.already_prepared));
    }
}

impl BatchHook for Recorder {
    fn batch_start(&self, b: &BatchStart<'_>) -> HookData {
        self.push(format!("batch {} size={}", b.operation, b.size))
    }
    fn batch_statement(&self, _: &HookData, s: &BatchStatement<'_>) {
        self.log
            .lock()
            .unwrap()
            .push(format!("statement {} ran={}", s.index, s.ran));
    }
    fn batch_end(&self, data: HookData, b: &BatchEnd<'_>) {
        self.end(data, format!("batch end size={}", b.size));
    }
}

impl CopyHook for Recorder {
    fn copy_start(&self, c: &CopyStart<'_>) -> HookData {
        self.push(format!("copy {}", c.direction.operation_name()))
    }
    fn copy_end(&self, data: HookData, c: &CopyEnd<'_>) {
        self.end(data, format!("copied rows={:?} bytes={}", c.rows, c.bytes));
    }
}

impl ConnectHook for Recorder {
    fn connect_start(&self, c: &ConnectStart<'_>) -> HookData {
        self.push(format!("connect {}", c.namespace))
    }
    fn connect_end(&self, data: HookData, c: &ConnectEnd<'_>) {
        self.end(
            data,
            format!(
                "connected pid={} accepted={}",
                c.backend_pid.is_some_and(|p| p > 0),
                c.role_accepted
            ),
        );
    }
}

fn recorder() -> (Log, Hooks) {
    let log = Log::default();
    let r = Arc::new(Recorder { log: log.clone() });
    let hooks = Hooks::new()
        .query(r.clone())
        .prepare(r.clone())
        .batch(r.clone())
        .copy(r.clone())
        .connect(r);
    (log, hooks)
}

#[tokio::test]
async fn a_bare_client_calls_every_phase_with_its_own_data() {
    let (log, hooks) = recorder();
    let mut config = config_for(server(), "observe_hooks");
    config.hooks(hooks);
    let client = bounded(pgline::Connector::new(config).connect())
        .await
        .unwrap();
    let sql = "SELECT $1::int4 + 1";
    let row = client.query_one(sql, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<i32>(0).unwrap(), 2);
    client.query(sql, &[&2i32]).await.unwrap();
    let err = client.execute("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22012");
    let stmt = client.prepare("SELECT 7").await.unwrap();
    assert_eq!(stmt.sql(), "SELECT 7");
    client.query_opt(&stmt, &[]).await.unwrap();
    let mut batch = client.batch();
    batch.push("SELECT 1", &[]);
    batch.push("SELECT 2", &[]);
    batch.run_independent().await.unwrap();
    client
        .batch_execute("CREATE TEMP TABLE t (a int)")
        .await
        .unwrap();
    let mut sink = client.copy_in("COPY t FROM STDIN").await.unwrap();
    sink.send(b"1\n2\n").await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    let mut out = client.copy_out("COPY t TO STDOUT").await.unwrap();
    while let Some(chunk) = out.next().await {
        chunk.unwrap();
    }
    drop(client.copy_in("COPY t FROM STDIN").await.unwrap());
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            "connect postgres",
            "connected pid=true accepted=true (of 1)",
            "query query_one Some(\"SELECT $1::int4 + 1\") 1",
            "prepare SELECT $1::int4 + 1",
            "prepared already=false (of 4)",
            "end query_one rows=Some(1) err=None (of 3)",
            "query query Some(\"SELECT $1::int4 + 1\") 1",
            "prepare SELECT $1::int4 + 1",
            "prepared already=true (of 8)",
            "end query rows=Some(1) err=None (of 7)",
            "query execute Some(\"SELECT 1/0\") 0",
            "prepare SELECT 1/0",
            "prepared already=false (of 12)",
            "end execute rows=None err=Some(\"22012\") (of 11)",
            "prepare SELECT 7",
            "prepared already=false (of 15)",
            "query query_opt Some(\"SELECT 7\") 0",
            "end query_opt rows=Some(1) err=None (of 17)",
            "batch run_independent size=2",
            "prepare SELECT 1",
            "prepared already=false (of 20)",
            "prepare SELECT 2",
            "prepared already=false (of 22)",
            "statement 0 ran=true",
            "statement 1 ran=true",
            "batch end size=2 (of 19)",
            "query batch_execute Some(\"CREATE TEMP TABLE t (a int)\") 0",
            "end batch_execute rows=None err=None (of 27)",
            "copy COPY FROM",
            "copied rows=Some(2) bytes=4 (of 29)",
            "copy COPY TO",
            "copied rows=Some(2) bytes=4 (of 31)",
            "copy COPY FROM",
            "copied rows=None bytes=0 (of 33)",
        ]
    );
}

/// Counts acquire events and answers checkouts and releases from a script.
#[derive(Default)]
struct Gate {
    checkouts: Mutex<Vec<CheckoutDecision>>,
    releases: Mutex<Vec<ReleaseDecision>>,
    ends: Mutex<Vec<(bool, bool, bool)>>,
}

impl AcquireHook for Gate {
    fn acquire_start(&self, a: &AcquireStart<'_>) -> HookData {
        assert_eq!(a.pool.name, "observed");
        HookData::none()
    }
    fn checkout(&self, _: &Checkout<'_>) -> CheckoutDecision {
        self.checkouts.lock().unwrap().pop().unwrap_or_default()
    }
    fn acquire_end(&self, _: HookData, a: &AcquireEnd<'_>) {
        self.ends
            .lock()
            .unwrap()
            .push((a.error.is_some(), a.connect.is_some(), a.timed_out));
    }
}

impl ReleaseHook for Gate {
    fn release(&self, r: &Release<'_>) -> ReleaseDecision {
        assert_eq!(r.pool.name, "observed");
        self.releases.lock().unwrap().pop().unwrap_or_default()
    }
}

#[tokio::test]
async fn checkout_and_release_verdicts_are_obeyed() {
    let gate = Arc::new(Gate::default());
    let pool = bounded(
        Pool::builder(config_for(server(), "observe_pool"))
            .name("observed")
            .max_size(2)
            .test_on_acquire(None)
            .hooks(Hooks::new().acquire(gate.clone()).release(gate.clone()))
            .connect(),
    )
    .await
    .unwrap();
    // Discard once, then keep: the acquire opens a second connection.
    gate.checkouts
        .lock()
        .unwrap()
        .extend([CheckoutDecision::Keep, CheckoutDecision::Discard]);
    let c = bounded(pool.acquire()).await.unwrap();
    let pid = c.backend_pid();
    assert_eq!(pool.stats().closed.hook, 1);
    // The release hook discards it.
    gate.releases.lock().unwrap().push(ReleaseDecision::Discard);
    drop(c);
    assert_eq!(pool.stats().closed.hook, 2);
    assert_eq!(pool.stats().idle, 0);
    // Discard and fail.
    gate.checkouts
        .lock()
        .unwrap()
        .push(CheckoutDecision::DiscardAndFail);
    assert!(bounded(pool.acquire()).await.is_err());
    assert_eq!(pool.stats().closed.hook, 3);
    // Kept both ways: the connection comes back and is reused.
    let c = bounded(pool.acquire()).await.unwrap();
    let kept = c.backend_pid();
    assert_ne!(kept, pid);
    drop(c);
    let c = bounded(pool.acquire()).await.unwrap();
    assert_eq!(c.backend_pid(), kept);
    drop(c);
    assert_eq!(
        *gate.ends.lock().unwrap(),
        [
            (false, true, false),
            (true, true, false),
            (false, true, false),
            (false, false, false)
        ]
    );
    // The pool's hooks reach the queries of its connections too.
    let log = Log::default();
    let pool2 = bounded(
        Pool::builder(config_for(server(), "observe_pool2"))
            .max_size(1)
            .hooks(Hooks::new().query(Recorder { log: log.clone() }))
            .connect(),
    )
    .await
    .unwrap();
    pool2.execute("SELECT 1", &[]).await.unwrap();
    assert_eq!(log.lock().unwrap().len(), 2);
}
