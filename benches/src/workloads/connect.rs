//! `connect_scram` and `connect_scram_tls`: a full connect (TCP, optional
//! TLS with certificate verification, SCRAM-SHA-256) over loopback and a
//! clean close; connections/s.
//!
//! Owns: one function per driver. Must not: reuse connections; every op is a
//! new session and includes its close.

use crate::env::{BenchEnv, Tls};
use crate::libpq::PqConn;
use crate::workloads::{Workload, runtime};
use crate::{BenchError, Driver, Meter, Outcome};

/// The workload with or without TLS.
pub fn workload(tls: Tls) -> Workload {
    let (name, about) = match tls {
        Tls::Off => (
            "connect_scram",
            "connect + SCRAM-SHA-256 + close over loopback",
        ),
        Tls::On => (
            "connect_scram_tls",
            "connect + TLS (verify-full) + SCRAM-SHA-256 + close over loopback",
        ),
    };
    Workload::new(name, "connection", about, move |driver, env| {
        let ops = env.mode.connects();
        match driver {
            Driver::Pgline => pgline_connect(env, tls, ops),
            Driver::Libpq => libpq_connect(env, tls, ops),
            Driver::TokioPostgres => tokio_postgres_connect(env, tls, ops),
        }
    })
}

/// pgline: `pgline::connect` then `close`, `ops` times.
pub fn pgline_connect(env: &BenchEnv, tls: Tls, ops: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    let conninfo = env.pgline_conninfo(tls);
    rt.block_on(async {
        let once = || async {
            let client = pgline::connect(&conninfo).await?;
            client.close().await?;
            Ok::<(), BenchError>(())
        };
        once().await?;
        let meter = Meter::start();
        for _ in 0..ops {
            once().await?;
        }
        Ok(Outcome::Measured(meter.stop(ops)))
    })
}

/// libpq: `PQconnectdb` then `PQfinish`, `ops` times.
pub fn libpq_connect(env: &BenchEnv, tls: Tls, ops: u64) -> Result<Outcome, BenchError> {
    let conninfo = env.libpq_conninfo(tls);
    drop(PqConn::connect(&conninfo)?);
    let meter = Meter::start();
    for _ in 0..ops {
        drop(PqConn::connect(&conninfo)?);
    }
    Ok(Outcome::Measured(meter.stop(ops)))
}

/// tokio-postgres: `connect` (rustls with the test CA for TLS), then drop the
/// client and wait for the connection task to end, `ops` times.
pub fn tokio_postgres_connect(env: &BenchEnv, tls: Tls, ops: u64) -> Result<Outcome, BenchError> {
    let rt = runtime()?;
    let conninfo = env.tokio_postgres_conninfo(tls);
    let connector = match tls {
        Tls::On => Some(env.tokio_postgres_tls()?),
        Tls::Off => None,
    };
    rt.block_on(async {
        let once = || async {
            let task = match &connector {
                Some(connector) => {
                    let (client, connection) =
                        tokio_postgres::connect(&conninfo, connector.clone()).await?;
                    drop(client);
                    tokio::spawn(connection)
                }
                None => {
                    let (client, connection) =
                        tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await?;
                    drop(client);
                    tokio::spawn(connection)
                }
            };
            task.await
                .map_err(|e| BenchError::new(format!("tokio-postgres connection task: {e}")))??;
            Ok::<(), BenchError>(())
        };
        once().await?;
        let meter = Meter::start();
        for _ in 0..ops {
            once().await?;
        }
        Ok(Outcome::Measured(meter.stop(ops)))
    })
}
