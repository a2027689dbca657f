//! The tokio connection layer: sockets, TLS, the driver task and the client.
//!
//! Owns everything that does I/O for one connection. It calls `proto` for
//! bytes and `types` for values, and nothing above it. Read it by folder,
//! bottom to top:
//!
//! - [`transport`]: getting bytes to one server — sockets, TLS, the
//!   cancel request, one host's connection attempt and the multi-host loop.
//! - [`engine`]: the pipelining engine — the driver task, caller-driven
//!   I/O, the shared state of one connection, request slots, the in-flight
//!   gate, reply routing, buffers, the receive low-water mark.
//! - [`client`]: the API callers hold — `Client`, queries, batches,
//!   transactions, notifications, rows, the statement cache.
//! - [`copy`]: COPY IN and OUT streams, the binary row writer and reader,
//!   parallel COPY IN.

mod client;
mod copy;
mod engine;
mod transport;

pub use client::batch_rows::{BatchRows, BatchRowsIter};
pub use client::handle::{Client, Statement};
pub use client::listener::{Listener, ListenerEvent, Reconnect};
pub use client::notify::{Notification, Notifications};
pub use client::pipeline::{Batch, IntoOwnedParams, OwnedParam, StatementOutcome};
pub use client::query::{Params, RowStream, ToStatement};
pub use client::row::{Column, ColumnIndex, Row, SimpleQueryMessage, SimpleQueryRow};
pub use client::simple_stream::SimpleQueryStream;
pub use client::stmt_cache::StatementCacheStats;
pub use client::transaction::{
    ExportedSnapshot, IsolationLevel, Retried, RetryPolicy, Transaction, TransactionBuilder,
};
pub use copy::binary::{BinaryCopyInWriter, BinaryCopyOutReader, BinaryCopyRow};
pub use copy::parallel::copy_in_parallel;
pub use copy::stream::{CopyInSink, CopyOutReader, CopyOutStream, CopyProgress};
pub use engine::buf_pool::{BufferPool, BufferPoolStats};
pub use engine::shared::ConnectionStats;
pub use transport::cancel::CancelToken;
pub use transport::connect::{Connector, connect};
pub use transport::endpoint::{Endpoint, ServerRole};
