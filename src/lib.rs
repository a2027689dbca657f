//! pgline: an async PostgreSQL driver written from the wire protocol up.
//!
//! The crate is layered, bottom to top:
//!
//! | module | owns | I/O |
//! |---|---|---|
//! | [`proto`] | frames, frontend and backend messages, the startup/auth state machine | none (sans-IO) |
//! | [`types`] | binary encode/decode of PostgreSQL values | none |
//! | [`config`] | connection settings: URL, key=value, environment, `.pgpass`, service file | reads files only when asked |
//! | `conn` | sockets, TLS, the pipelining driver, the [`Client`], statement cache, COPY, transactions | tokio (`runtime` feature) |
//! | [`pool`] | the connection pool: warming, health, recycling, fairness, leak watch | tokio (`runtime` feature) |
//! | [`observe`] | hooks and counters used by every layer | none |
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `runtime` | yes | tokio, rustls (ring provider) and the connection/client layer |
//! | `derive` | yes | `#[derive(FromRow, PgEnum, PgComposite)]` (the `pgline-derive` crate) |
//! | `serde_json` | no | `types::Json<T>` and `serde_json::Value` for json/jsonb (numbers beyond `i64`/`u64`/`f64` are rounded; `types::JsonText`, always available, keeps the exact text); the `json` attribute of `FromRow` |
//! | `uuid` | no | `uuid::Uuid` for `uuid` |
//! | `chrono` | no | `chrono` `NaiveDate`, `NaiveTime`, `NaiveDateTime`, `DateTime<Utc>` for date/time/timestamp/timestamptz |
//! | `time` | no | `time` `Date`, `Time`, `PrimitiveDateTime`, `OffsetDateTime` for date/time/timestamp/timestamptz |
//! | `rust_decimal` | no | `rust_decimal::Decimal` for `numeric` |
//!
//! Without `runtime`, `proto`, `types` and `config` build with no tokio at all,
//! so the protocol core can be fuzzed and tested byte for byte.
// One audited system call (`conn::transport::socket`'s receive low-water mark) is the
// only `unsafe` in the crate; everything else is refused.
#![deny(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::use_self
)]

#[cfg(feature = "runtime")]
mod backoff;
pub mod cluster;
pub mod config;
pub mod error;
pub mod observe;
#[cfg(feature = "runtime")]
pub mod pool;
pub mod proto;
pub mod types;

#[cfg(feature = "runtime")]
mod conn;

pub use config::Config;
#[cfg(feature = "runtime")]
pub use conn::{
    Batch, BatchRows, BatchRowsIter, BinaryCopyInWriter, BinaryCopyOutReader, BinaryCopyRow,
    BufferPool, BufferPoolStats, CancelToken, Client, Column, ColumnIndex, ConnectionStats,
    Connector, CopyInSink, CopyOutReader, CopyOutStream, CopyProgress, Endpoint, ExportedSnapshot,
    IsolationLevel, Listener, ListenerEvent, Notification, Notifications, Params, Reconnect,
    Retried, RetryPolicy, Row, RowStream, ServerRole, SimpleQueryMessage, SimpleQueryRow,
    Statement, StatementCacheStats, StatementOutcome, ToStatement, Transaction, TransactionBuilder,
    connect, copy_in_parallel,
};
pub use error::Error;
#[cfg(feature = "derive")]
pub use pgline_derive::{FromRow, PgComposite, PgEnum};
#[cfg(feature = "runtime")]
pub use pool::{Pool, PoolBuilder, PooledClient};
pub use proto::TransactionStatus;
pub use types::FromRow;
