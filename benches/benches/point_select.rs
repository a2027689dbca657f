//! Criterion micro-benchmark of `point_select` (sequential prepared
//! `SELECT $1::int4`) for pgline, libpq and tokio-postgres on one throwaway
//! server. The full suite with alternating rounds, CPU and allocation counts
//! is the `pgline-bench` binary (`benches/run.sh`); this is criterion's view
//! of the same loop: `cargo bench --bench point_select`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use pgline_benches::env::Tls;
use pgline_benches::libpq::{Int4Param, PqConn};
use pgline_benches::workloads::{SELECT_INT4, runtime};
use pgline_benches::{BenchEnv, Mode};

fn point_select(c: &mut Criterion) {
    let env = BenchEnv::start(Mode::Quick).expect("start the benchmark server");
    let mut group = c.benchmark_group("point_select");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let rt = runtime().expect("runtime");
    let (client, stmt) = rt.block_on(async {
        let client = pgline::connect(&env.pgline_conninfo(Tls::Off))
            .await
            .expect("pgline connect");
        let stmt = client.prepare(SELECT_INT4).await.expect("pgline prepare");
        (client, stmt)
    });
    group.bench_function("pgline", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let row = client
                        .query_one(&stmt, &[&(i as i32)])
                        .await
                        .expect("query");
                    std::hint::black_box(row.get::<i32>(0).expect("int4"));
                }
                start.elapsed()
            })
        })
    });

    let conn = PqConn::connect(&env.libpq_conninfo(Tls::Off)).expect("libpq connect");
    conn.prepare_int4("point", SELECT_INT4, 1)
        .expect("libpq prepare");
    group.bench_function("libpq", |b| {
        b.iter(|| {
            let result = conn
                .exec_prepared_int4(c"point", Int4Param::new(7))
                .expect("query");
            std::hint::black_box(result.value(0, 0).map(<[u8]>::len));
        })
    });

    let tp_rt = runtime().expect("runtime");
    let (tp_client, tp_stmt) = tp_rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(
            &env.tokio_postgres_conninfo(Tls::Off),
            tokio_postgres::NoTls,
        )
        .await
        .expect("tokio-postgres connect");
        tokio::spawn(connection);
        let stmt = client
            .prepare(SELECT_INT4)
            .await
            .expect("tokio-postgres prepare");
        (client, stmt)
    });
    group.bench_function("tokio-postgres", |b| {
        b.iter_custom(|iters| {
            tp_rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let row = tp_client
                        .query_one(&tp_stmt, &[&(i as i32)])
                        .await
                        .expect("query");
                    std::hint::black_box(row.get::<_, i32>(0));
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, point_select);
criterion_main!(benches);
