//! Throwaway PostgreSQL servers for pgline's tests, examples and benches.
//!
//! Owns: finding the server binaries, making a data folder (a per-process `initdb`
//! template, copied), writing `pg_hba.conf` / `postgresql.conf`, generating TLS
//! certificates, starting the postmaster on a free loopback port with a private unix
//! socket folder, creating users and databases, and cleaning all of it up, even when the
//! test process dies. Must not: depend on `pgline` (pgline's tests depend on this crate)
//! or need an async runtime: everything here is synchronous `std`.
//!
//! ```no_run
//! use pgline_testkit::{AuthMethod, ServerBuilder};
//!
//! let server = ServerBuilder::new()
//!     .auth(AuthMethod::ScramSha256)
//!     .user("alice", "secret")
//!     .start()?;
//! let url = server.url("alice", Some("secret"), "postgres");
//! assert_eq!(server.psql("SELECT 1")?, "1");
//! # let _ = url;
//! # Ok::<(), pgline_testkit::Error>(())
//! ```
//!
//! A primary with streaming replicas, and the controls a failover test needs (promote,
//! stop, freeze, apply delay, pause replay, repoint, rejoin), come from
//! [`ReplicaSetBuilder`]; see [`ReplicaSet`].
//!
//! When run as root, the server runs as the `postgres` account (else `nobody`, or the one
//! named by `PGLINE_TESTKIT_USER`); its files are handed to that account. Server folders
//! are made under `PGLINE_TESTKIT_DIR`, else the system temporary folder.
//!
//! Servers run the machine's PostgreSQL unless asked for a major version: by
//! [`ServerBuilder::pg_major`] for one server, or by `PGLINE_PG_MAJOR` for every server of
//! the process. Versions the machine lacks come from `scripts/fetch-postgres.sh <major>`
//! (see [`pg_bin_dir_for_major`]).
//!
//! [`PgBouncerBuilder`] puts a real PgBouncer (Debian's `pgbouncer` package) in front of
//! a server, in session, transaction or statement pooling mode.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::use_self
)]

mod bin_dir;
mod builder;
mod cluster;
mod conf;
mod conninfo;
mod database_url;
mod error;
mod folder;
mod pgbouncer;
mod port;
mod postmaster;
mod replica_set;
mod server;
mod server_user;
mod shared;
mod sql;
mod tls;
mod watchdog;

pub use bin_dir::{
    CACHE_ENV, MAJOR_ENV, REQUIRED_ENV, pg_bin_dir, pg_bin_dir_for_major, pg_cache_dir,
    pg_major_or_skip, pg_major_version,
};
pub use builder::ServerBuilder;
pub use conf::AuthMethod;
pub use database_url::database_url_or_start;
pub use error::Error;
pub use pgbouncer::{
    PGBOUNCER_ENV, PgBouncer, PgBouncerBuilder, PoolMode, pgbouncer_binary, pgbouncer_version,
};
pub use replica_set::{
    Lsn, Node, NodeState, RejoinMethod, ReplicaSet, ReplicaSetBuilder, Role, StopMode,
};
pub use server::Server;
pub use shared::{SHARED_DATABASE, SHARED_PASSWORD, SHARED_USER, shared};
pub use tls::TlsFiles;
