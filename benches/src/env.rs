//! The benchmark server and how each driver reaches it, plus the sizes of
//! each mode.
//!
//! Owns: starting one throwaway server through testkit with benchmark
//! settings (SCRAM-SHA-256, TLS available, fsync off), the connection strings
//! of each driver, the table the COPY IN workload fills, and [`Mode`]'s op
//! counts. Must not: measure anything.

use std::path::PathBuf;

use pgline_testkit::{AuthMethod, Server, ServerBuilder};

use crate::BenchError;
use crate::libpq::PqConn;

/// The benchmark user, its password and its database.
pub const USER: &str = "bench";
/// The benchmark user's password.
pub const PASSWORD: &str = "bench-secret";
/// The benchmark database.
pub const DATABASE: &str = "bench";

/// Settings added to testkit's (which already turn fsync, synchronous_commit,
/// full_page_writes and autovacuum off).
pub const SERVER_SETTINGS: [(&str, &str); 3] = [
    ("shared_buffers", "128MB"),
    ("max_connections", "50"),
    ("log_min_messages", "warning"),
];

/// How long and how often to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A check that everything runs: small counts, 5 rounds (about a minute).
    Quick,
    /// The numbers to report: larger counts, 9 rounds.
    Full,
}

impl Mode {
    /// `"quick"` or `"full"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Full => "full",
        }
    }

    /// Alternating rounds per workload.
    pub fn rounds(self) -> usize {
        match self {
            Self::Quick => 5,
            Self::Full => 9,
        }
    }

    /// Sequential queries per run (point_select, statement_cache).
    pub fn sequential_queries(self) -> u64 {
        self.pick(3_000, 30_000)
    }

    /// Queries per run of the pipelined workload.
    pub fn pipelined_queries(self) -> u64 {
        self.pick(10_000, 100_000)
    }

    /// Batches of [`crate::workloads::batch::BATCH_SIZE`] per run.
    pub fn batches(self) -> u64 {
        self.pick(10, 100)
    }

    /// Rows of the wide result (1,000,000 in full mode, as the issue asks).
    pub fn wide_rows(self) -> u64 {
        self.pick(100_000, 1_000_000)
    }

    /// Rows per COPY.
    pub fn copy_rows(self) -> u64 {
        self.pick(100_000, 1_000_000)
    }

    /// Connections per run of the connect workload.
    pub fn connects(self) -> u64 {
        self.pick(40, 300)
    }

    fn pick(self, quick: u64, full: u64) -> u64 {
        match self {
            Self::Quick => quick,
            Self::Full => full,
        }
    }
}

/// The server and everything a workload needs to reach it.
#[derive(Debug)]
pub struct BenchEnv {
    server: Server,
    /// The mode's sizes.
    pub mode: Mode,
}

/// How a connection reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP to 127.0.0.1, without TLS.
    Tcp,
    /// The server's unix-domain socket (a service on the database's host).
    Unix,
}

impl Transport {
    /// `"tcp"` or `"unix"`, as workload names end.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Unix => "unix",
        }
    }
}

/// Whether a connection uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain TCP.
    Off,
    /// TLS, verifying the server certificate against the test CA.
    On,
}

impl BenchEnv {
    /// Starts the benchmark server and creates the COPY IN table.
    pub fn start(mode: Mode) -> Result<Self, BenchError> {
        let mut builder = ServerBuilder::new()
            .auth(AuthMethod::ScramSha256)
            .tls(true)
            .user(USER, PASSWORD)
            .database(DATABASE, USER);
        for (name, value) in SERVER_SETTINGS {
            builder = builder.setting(name, value);
        }
        let server = builder.start()?;
        let env = Self { server, mode };
        let conn = PqConn::connect(&env.libpq_conninfo(Tls::Off))?;
        conn.exec(crate::copy_data::CREATE_TABLE)?;
        Ok(env)
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    fn ca_path(&self) -> Result<PathBuf, BenchError> {
        self.server
            .tls()
            .map(|tls| tls.ca_cert().to_path_buf())
            .ok_or_else(|| BenchError::new("the bench server has no TLS files"))
    }

    fn base(&self) -> String {
        self.server.key_value(USER, Some(PASSWORD), DATABASE)
    }

    /// pgline's connection string.
    pub fn pgline_conninfo(&self, tls: Tls) -> String {
        match (tls, self.ca_path()) {
            (Tls::On, Ok(ca)) => format!(
                "{} sslmode=verify-full sslrootcert='{}'",
                self.base(),
                ca.display()
            ),
            _ => format!("{} sslmode=disable", self.base()),
        }
    }

    /// A connection string over the server's unix socket that pgline,
    /// libpq and tokio-postgres all read the same way (a `host` starting
    /// with `/` is a socket folder); the socket's `local` lines ask for the
    /// same SCRAM-SHA-256 login as TCP.
    pub fn unix_conninfo(&self) -> String {
        self.server.unix_key_value(USER, Some(PASSWORD), DATABASE)
    }

    /// The connection string of `driver` over `transport` (TCP without TLS).
    pub fn conninfo(&self, driver: crate::Driver, transport: Transport) -> String {
        use crate::Driver;
        match (driver, transport) {
            (Driver::Pgline, Transport::Tcp) => self.pgline_conninfo(Tls::Off),
            (Driver::Libpq, Transport::Tcp) => self.libpq_conninfo(Tls::Off),
            (Driver::TokioPostgres, Transport::Tcp) => self.tokio_postgres_conninfo(Tls::Off),
            (Driver::Libpq, Transport::Unix) => {
                format!("{} gssencmode=disable", self.unix_conninfo())
            }
            (_, Transport::Unix) => self.unix_conninfo(),
        }
    }

    /// libpq's connection string (GSSAPI encryption off, so no Kerberos probe).
    pub fn libpq_conninfo(&self, tls: Tls) -> String {
        format!("{} gssencmode=disable", self.pgline_conninfo(tls))
    }

    /// tokio-postgres's connection string; with TLS, the certificate is
    /// checked by the rustls configuration from [`Self::tokio_postgres_tls`].
    pub fn tokio_postgres_conninfo(&self, tls: Tls) -> String {
        match tls {
            Tls::On => format!("{} sslmode=require", self.base()),
            Tls::Off => format!("{} sslmode=disable", self.base()),
        }
    }

    /// A rustls connector for tokio-postgres trusting the test CA.
    pub fn tokio_postgres_tls(
        &self,
    ) -> Result<tokio_postgres_rustls::MakeRustlsConnect, BenchError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.ca_path()?)
            .map_err(|e| BenchError::new(format!("reading the CA: {e}")))?
        {
            let cert = cert.map_err(|e| BenchError::new(format!("reading the CA: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| BenchError::new(format!("adding the CA: {e}")))?;
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BenchError::new(format!("rustls: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }

    /// The server's version and the settings that matter here, as
    /// `(name, value)` pairs read back from the running server.
    pub fn server_settings(&self) -> Result<Vec<(String, String)>, BenchError> {
        let text = self.server.psql(
            "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN \
             ('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', \
             'autovacuum', 'shared_buffers', 'work_mem', 'max_connections', 'ssl', \
             'password_encryption', 'scram_iterations', 'wal_level', 'listen_addresses') \
             ORDER BY name",
        )?;
        Ok(text
            .lines()
            .filter_map(|line| line.split_once('|'))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_mode_is_smaller_than_full() {
        let (q, f) = (Mode::Quick, Mode::Full);
        assert!(q.rounds() < f.rounds());
        assert!(q.sequential_queries() < f.sequential_queries());
        assert!(q.pipelined_queries() < f.pipelined_queries());
        assert!(q.batches() < f.batches());
        assert_eq!(f.wide_rows(), 1_000_000);
        assert_eq!(f.copy_rows(), 1_000_000);
        assert_eq!(q.name(), "quick");
    }
}
