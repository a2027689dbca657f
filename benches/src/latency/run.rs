//! One open-loop run: connect a shape, warm it up on the schedule, then
//! release `count` requests at `rate` per second to 64 tasks and record each
//! request's latency from its scheduled send time. At the [`CLOSED`](super::pace::CLOSED) rate the
//! same tasks send back to back instead, each latency taken from its send.
//!
//! Owns: [`run_shape`] and the per-driver request loops. Must not: aggregate
//! rounds (that is [`super::rounds`]). The async shapes run on a tokio
//! runtime of the plan's workers (one: a current-thread runtime, as most
//! benches here; more: the multi-thread scheduler a `#[tokio::main]`
//! service gets), their 64 tasks spawned on it; libpq's 8 connections each
//! run on a thread of its own, taking the next due request from one shared
//! queue.

use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use tokio::sync::mpsc as tokio_mpsc;

use super::pace::{Ticket, mono_ns, spawn_pacer};
use super::shape::Shape;
use crate::env::{BenchEnv, Transport};
use crate::libpq::{Int4Param, PqConn};
use crate::workloads::point_select::decode_int4;
use crate::workloads::pool::deadpool_at;
use crate::workloads::{
    SELECT_INT4, check_sum, expected_sum, param, pgline_config, runtime, tokio_postgres_client_at,
};
use crate::{BenchError, Driver, Meter, Sample};

/// Concurrent tasks issuing requests.
pub const TASKS: usize = 64;
/// Connections of the pooled and libpq shapes.
pub const CONNECTIONS: usize = 8;

/// What one measured run gave.
#[derive(Debug, Clone)]
pub struct LatencySample {
    /// Every request's latency in nanoseconds, from its scheduled send time.
    pub histogram: Histogram<u64>,
    /// Requests, wall time (from 1 ms before the first due time to the last
    /// reply), client CPU and allocations of the measured stretch.
    pub sample: Sample,
}

/// A histogram from 1 ns to one hour at 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// Runs `shape` once: warm-up (a tenth of `count`, 64 to 2,000 requests) on
/// the same schedule, then `count` measured requests at `rate` per second.
pub fn run_shape(
    env: &BenchEnv,
    shape: Shape,
    rate: f64,
    count: u64,
    workers: usize,
) -> Result<LatencySample, BenchError> {
    let warmup = (count / 10).clamp(TASKS as u64, 2_000);
    match shape {
        Shape::Libpq => libpq_run(env, rate, warmup, count),
        _ => async_run(env, shape, rate, warmup, count, workers),
    }
}

/// A request of an async shape: the int4 it got back.
type Reply = std::pin::Pin<Box<dyn Future<Output = Result<i32, BenchError>> + Send>>;

/// Builds the request for a parameter.
type Request = Arc<dyn Fn(i32) -> Reply + Send + Sync>;

/// A current-thread runtime for one worker, else a multi-thread one.
fn runtime_of(workers: usize) -> Result<tokio::runtime::Runtime, BenchError> {
    if workers <= 1 {
        return runtime();
    }
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?)
}

fn async_run(
    env: &BenchEnv,
    shape: Shape,
    rate: f64,
    warmup: u64,
    count: u64,
    workers: usize,
) -> Result<LatencySample, BenchError> {
    let rt = runtime_of(workers)?;
    rt.block_on(async {
        let (request, close) = connect_async(env, shape).await?;
        paced_async(request.clone(), rate, warmup).await?;
        let meter = Meter::start();
        let histogram = paced_async(request, rate, count).await?;
        let sample = meter.stop(count);
        close.await;
        Ok(LatencySample { histogram, sample })
    })
}

type Close = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

async fn connect_async(env: &BenchEnv, shape: Shape) -> Result<(Request, Close), BenchError> {
    let tcp = |driver| env.conninfo(driver, Transport::Tcp);
    Ok(match shape {
        Shape::NoQuery => {
            let request: Request = Arc::new(|n| Box::pin(async move { Ok(n) }));
            (request, Box::pin(async {}))
        }
        Shape::Pgline | Shape::PglineCoalesce => {
            let mut config = pgline_config(&tcp(Driver::Pgline))?;
            if shape == Shape::PglineCoalesce {
                config.coalesce_replies(true);
            }
            let client = Arc::new(pgline::Connector::new(config).connect().await?);
            let stmt = Arc::new(client.prepare(SELECT_INT4).await?);
            let closing = client.clone();
            let request: Request = Arc::new(move |n| {
                let (client, stmt) = (client.clone(), stmt.clone());
                Box::pin(async move { Ok(client.query_one(&*stmt, &[&n]).await?.get::<i32>(0)?) })
            });
            (
                request,
                Box::pin(async move {
                    let _ = closing.close().await;
                }),
            )
        }
        Shape::PglinePool => {
            let config = pgline_config(&tcp(Driver::Pgline))?;
            let mut builder = pgline::Pool::builder(config);
            builder.max_size(CONNECTIONS).min_idle(CONNECTIONS);
            let pool = Arc::new(builder.connect().await?);
            let closing = pool.clone();
            let request: Request = Arc::new(move |n| {
                let pool = pool.clone();
                Box::pin(
                    async move { Ok(pool.query_one(SELECT_INT4, &[&n]).await?.get::<i32>(0)?) },
                )
            });
            (
                request,
                Box::pin(async move {
                    closing.close(std::time::Duration::from_secs(5)).await;
                }),
            )
        }
        Shape::TokioPostgres => {
            let client = Arc::new(tokio_postgres_client_at(&tcp(Driver::TokioPostgres)).await?);
            let stmt = Arc::new(client.prepare(SELECT_INT4).await?);
            let request: Request = Arc::new(move |n| {
                let (client, stmt) = (client.clone(), stmt.clone());
                Box::pin(async move {
                    Ok(client
                        .query_one(&*stmt, &[&n])
                        .await?
                        .try_get::<_, i32>(0)?)
                })
            });
            (request, Box::pin(async {}))
        }
        Shape::Deadpool => {
            let pool = deadpool_at(&tcp(Driver::TokioPostgres), CONNECTIONS)?;
            let request: Request = Arc::new(move |n| {
                let pool = pool.clone();
                Box::pin(async move {
                    let client = pool
                        .get()
                        .await
                        .map_err(|e| BenchError::new(e.to_string()))?;
                    let stmt = client.prepare_cached(SELECT_INT4).await?;
                    Ok(client.query_one(&stmt, &[&n]).await?.try_get::<_, i32>(0)?)
                })
            });
            (request, Box::pin(async {}))
        }
        Shape::Libpq => return Err(BenchError::new("libpq is not an async shape")),
    })
}

/// `count` requests at `rate` per second from [`TASKS`] tasks spawned on
/// the current runtime; every reply is checked (their sum).
async fn paced_async(
    request: Request,
    rate: f64,
    count: u64,
) -> Result<Histogram<u64>, BenchError> {
    let (tx, rx) = tokio_mpsc::unbounded_channel::<Ticket>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let start = mono_ns() + 1_000_000;
    let pacer = spawn_pacer(start, rate, count, move |t| tx.send(t).is_ok());
    let mut tasks = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let (rx, request) = (rx.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            // Each task's own histogram, merged at the end: no shared
            // recording between tasks that may run on different threads.
            let mut histogram = new_histogram();
            let mut sum = 0i64;
            loop {
                let ticket = rx.lock().await.recv().await;
                let Some(ticket) = ticket else { break };
                let from = ticket.measured_from();
                let value = request(param(ticket.seq)).await?;
                let latency = mono_ns().saturating_sub(from);
                histogram.saturating_record(latency.max(1));
                sum += i64::from(value);
            }
            Ok::<(Histogram<u64>, i64), BenchError>((histogram, sum))
        }));
    }
    let mut gathered = Gathered::default();
    for task in tasks {
        let part = task
            .await
            .unwrap_or_else(|err| Err(BenchError::new(format!("task: {err}"))));
        gathered.add(part)?;
    }
    // A failed task leaves tickets nobody takes; the pacer stops once the
    // receiver is gone.
    drop(rx);
    gathered.finish(pacer, "open loop", count)
}

/// One phase's parts as its workers hand them in: latencies merged,
/// replies summed, a failure kept.
struct Gathered {
    histogram: Histogram<u64>,
    sum: i64,
    failure: Option<BenchError>,
}

impl Default for Gathered {
    fn default() -> Self {
        Self {
            histogram: new_histogram(),
            sum: 0,
            failure: None,
        }
    }
}

impl Gathered {
    /// Takes one worker's part: its histogram and the sum of its replies.
    fn add(&mut self, part: Result<(Histogram<u64>, i64), BenchError>) -> Result<(), BenchError> {
        match part {
            Ok((histogram, sum)) => {
                self.histogram
                    .add(&histogram)
                    .map_err(|e| BenchError::new(format!("histogram: {e:?}")))?;
                self.sum += sum;
            }
            Err(err) => self.failure = Some(err),
        }
        Ok(())
    }

    /// Waits for the pacer, then the merged latencies if every worker
    /// succeeded and the replies of `count` requests add up.
    fn finish(
        self,
        pacer: std::thread::JoinHandle<()>,
        what: &str,
        count: u64,
    ) -> Result<Histogram<u64>, BenchError> {
        pacer
            .join()
            .map_err(|_| BenchError::new("the pacer thread panicked"))?;
        if let Some(err) = self.failure {
            return Err(err);
        }
        check_sum(what, self.sum, expected_sum(count))?;
        Ok(self.histogram)
    }
}

/// One phase of libpq's threads: the queue of due requests.
type Phase = Arc<Mutex<mpsc::Receiver<Ticket>>>;

/// What one libpq thread gives back per phase.
type PhaseResult = Result<(Histogram<u64>, i64), BenchError>;

fn libpq_run(
    env: &BenchEnv,
    rate: f64,
    warmup: u64,
    count: u64,
) -> Result<LatencySample, BenchError> {
    let conninfo = env.conninfo(Driver::Libpq, Transport::Tcp);
    let (result_tx, result_rx) = mpsc::channel::<PhaseResult>();
    let mut controls = Vec::with_capacity(CONNECTIONS);
    let mut threads = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let (control_tx, control_rx) = mpsc::channel::<Phase>();
        let (conninfo, result_tx) = (conninfo.clone(), result_tx.clone());
        controls.push(control_tx);
        threads.push(std::thread::spawn(move || {
            libpq_thread(&conninfo, &control_rx, &result_tx)
        }));
    }
    drop(result_tx);
    let run_phase = |count: u64| -> Result<Histogram<u64>, BenchError> {
        let (tx, rx) = mpsc::channel::<Ticket>();
        let phase: Phase = Arc::new(Mutex::new(rx));
        for control in &controls {
            control
                .send(phase.clone())
                .map_err(|_| BenchError::new("a libpq thread ended early"))?;
        }
        drop(phase);
        let start = mono_ns() + 1_000_000;
        let pacer = spawn_pacer(start, rate, count, move |t| tx.send(t).is_ok());
        let mut gathered = Gathered::default();
        for _ in 0..CONNECTIONS {
            let part = result_rx
                .recv()
                .unwrap_or_else(|_| Err(BenchError::new("a libpq thread ended early")));
            gathered.add(part)?;
        }
        gathered.finish(pacer, "libpq open loop", count)
    };
    let outcome = run_phase(warmup).and_then(|_| {
        let meter = Meter::start();
        let histogram = run_phase(count)?;
        Ok(LatencySample {
            histogram,
            sample: meter.stop(count),
        })
    });
    drop(controls);
    for thread in threads {
        let _ = thread.join();
    }
    outcome
}

/// One libpq connection: for each phase sent on `control`, takes due
/// requests from the phase's queue until the pacer is done, and reports its
/// latencies and the sum of its replies.
fn libpq_thread(
    conninfo: &str,
    control: &mpsc::Receiver<Phase>,
    results: &mpsc::Sender<PhaseResult>,
) {
    let conn = PqConn::connect(conninfo).and_then(|conn| {
        conn.prepare_int4("point", SELECT_INT4, 1)?;
        Ok(conn)
    });
    for phase in control {
        let result = match &conn {
            Ok(conn) => libpq_phase(conn, &phase),
            Err(err) => Err(err.clone()),
        };
        drop(phase);
        if results.send(result).is_err() {
            return;
        }
    }
}

fn libpq_phase(conn: &PqConn, phase: &Phase) -> PhaseResult {
    let mut histogram = new_histogram();
    let mut sum = 0i64;
    loop {
        let ticket = match phase.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return Err(BenchError::new("libpq queue poisoned")),
        };
        let Ok(ticket) = ticket else { break };
        let from = ticket.measured_from();
        let result = conn.exec_prepared_int4(c"point", Int4Param::new(param(ticket.seq)))?;
        let value = decode_int4(result.value(0, 0))?;
        let latency = mono_ns().saturating_sub(from);
        histogram.saturating_record(latency.max(1));
        sum += i64::from(value);
    }
    Ok((histogram, sum))
}
