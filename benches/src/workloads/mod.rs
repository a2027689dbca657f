//! The workloads, one file each, every file holding one function per driver.
//!
//! Owns: the list of workloads ([`all`]) and the connection helpers the
//! workload files share. Must not: aggregate or print results.

pub mod batch;
pub mod connect;
pub mod copy;
pub mod copy_typed;
pub mod pipelined;
pub mod point_select;
pub mod pool;
pub mod simple_stream;
pub mod statement_cache;
pub mod wide_result;

use tokio::runtime::Runtime;

use crate::env::{BenchEnv, Tls, Transport};
use crate::{BenchError, Driver, Outcome};

/// The SQL of the point and pipelined workloads.
pub const SELECT_INT4: &str = "SELECT $1::int4";

/// Runs a workload once for one driver.
type RunOnce = dyn Fn(Driver, &BenchEnv) -> Result<Outcome, BenchError>;

/// One workload: a table row.
pub struct Workload {
    /// Its name in the tables and on the command line.
    pub name: String,
    /// What one op is.
    pub unit: &'static str,
    /// One line on what it measures.
    pub about: String,
    run: Box<RunOnce>,
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload")
            .field("name", &self.name)
            .field("unit", &self.unit)
            .finish_non_exhaustive()
    }
}

impl Workload {
    fn new(
        name: impl Into<String>,
        unit: &'static str,
        about: impl Into<String>,
        run: impl Fn(Driver, &BenchEnv) -> Result<Outcome, BenchError> + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            unit,
            about: about.into(),
            run: Box::new(run),
        }
    }

    /// Runs it once for `driver`.
    pub fn run(&self, driver: Driver, env: &BenchEnv) -> Result<Outcome, BenchError> {
        (self.run)(driver, env)
    }
}

/// Every workload, in report order.
pub fn all() -> Vec<Workload> {
    let mut list = vec![
        point_select::workload(Transport::Tcp),
        point_select::workload(Transport::Unix),
    ];
    list.extend(pipelined::DEPTHS.map(pipelined::workload));
    list.push(batch::workload());
    list.push(batch::sync_each_workload());
    list.push(wide_result::workload());
    list.push(simple_stream::workload());
    for format in [
        crate::copy_data::CopyFormat::Text,
        crate::copy_data::CopyFormat::Binary,
    ] {
        list.push(copy::copy_in_workload(format));
        list.push(copy::copy_out_workload(format));
    }
    list.push(copy_typed::copy_in_workload());
    list.push(copy_typed::copy_out_workload());
    list.push(connect::workload(Tls::Off));
    list.push(connect::workload(Tls::On));
    list.push(statement_cache::prepared_workload());
    list.push(statement_cache::unprepared_workload());
    list.push(pool::acquire_workload());
    list.push(pool::contended_workload());
    list
}

/// A current-thread tokio runtime, as the issue asks for the async drivers.
pub fn runtime() -> Result<Runtime, BenchError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Connects pgline (plain TCP).
pub async fn pgline_client(env: &BenchEnv) -> Result<pgline::Client, BenchError> {
    pgline_client_at(&env.pgline_conninfo(Tls::Off)).await
}

/// pgline's configuration from `conninfo`, with the bench's hooks.
pub fn pgline_config(conninfo: &str) -> Result<pgline::Config, BenchError> {
    let mut config: pgline::Config = conninfo
        .parse()
        .map_err(|e: pgline::config::ConfigError| BenchError::new(e.to_string()))?;
    config.hooks(crate::observed::hooks());
    Ok(config)
}

/// Connects pgline with `conninfo`.
pub async fn pgline_client_at(conninfo: &str) -> Result<pgline::Client, BenchError> {
    let config = pgline_config(conninfo)?;
    Ok(pgline::Connector::new(config).connect().await?)
}

/// Connects tokio-postgres (plain TCP) and spawns its connection task on the
/// current runtime.
pub async fn tokio_postgres_client(env: &BenchEnv) -> Result<tokio_postgres::Client, BenchError> {
    tokio_postgres_client_at(&env.tokio_postgres_conninfo(Tls::Off)).await
}

/// Connects tokio-postgres with `conninfo` and spawns its connection task
/// on the current runtime.
pub async fn tokio_postgres_client_at(
    conninfo: &str,
) -> Result<tokio_postgres::Client, BenchError> {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Warm-up operations before a measured run of `ops`.
pub fn warmup_ops(ops: u64) -> u64 {
    (ops / 10).clamp(20, 2_000)
}

/// The sum of `1..=n` as returned by the queries (to check every result).
pub fn expected_sum(n: u64) -> i64 {
    let n = n as i64;
    n * (n + 1) / 2
}

/// An error unless `got` equals `want`.
pub fn check_sum(what: &str, got: i64, want: i64) -> Result<(), BenchError> {
    if got == want {
        Ok(())
    } else {
        Err(BenchError::new(format!(
            "{what}: results sum to {got}, expected {want}"
        )))
    }
}

/// The int4 parameter of the `i`-th query (1-based, wraps far beyond any run).
pub fn param(i: u64) -> i32 {
    (i % 1_000_000_000) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names_are_unique_and_cover_the_issue() {
        let names: Vec<String> = all().into_iter().map(|w| w.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        for name in [
            "point_select",
            "point_select_unix",
            "pipelined_1",
            "pipelined_16",
            "pipelined_256",
            "batch_1000",
            "batch_1000_sync_each",
            "wide_result",
            "simple_stream",
            "copy_in_text",
            "copy_in_binary",
            "copy_out_text",
            "copy_out_binary",
            "connect_scram",
            "connect_scram_tls",
            "statement_cache_prepared",
            "statement_cache_unprepared",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "{name} missing from {names:?}"
            );
        }
    }

    #[test]
    fn sums_and_checks() {
        assert_eq!(expected_sum(4), 10);
        assert!(check_sum("x", 10, 10).is_ok());
        assert_eq!(
            check_sum("x", 9, 10).unwrap_err().message(),
            "x: results sum to 9, expected 10"
        );
        assert_eq!(warmup_ops(100), 20);
        assert_eq!(warmup_ops(20_000), 2_000);
        assert_eq!(param(7), 7);
    }
}
