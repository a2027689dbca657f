//! The tokio connection layer: sockets, TLS, the driver task and the client.
//!
//! Owns everything that does I/O for one connection. It calls `proto` for
//! bytes and `types` for values, and nothing above it.

mod batch_rows;
mod buf_pool;
mod cancel;
mod client;
mod connect;
mod copy;
mod copy_binary;
mod copy_parallel;
mod driver;
mod gate;
mod io;
mod low_water;
mod notify;
mod one_row;
mod pipeline;
mod query;
mod responses;
mod row;
mod row_access;
mod shared;
mod slot;
mod socket;
mod stall_watch;
mod stmt_cache;
mod tls;
mod transaction;
mod type_lookup;
#[cfg(test)]
mod wake_count;

pub use batch_rows::{BatchRows, BatchRowsIter};
pub use buf_pool::{BufferPool, BufferPoolStats};
pub use cancel::CancelToken;
pub use client::{Client, Statement};
pub use connect::connect;
pub use copy::{CopyInSink, CopyOutReader, CopyOutStream, CopyProgress};
pub use copy_binary::{BinaryCopyInWriter, BinaryCopyOutReader, BinaryCopyRow};
pub use copy_parallel::copy_in_parallel;
pub use notify::{Notification, Notifications};
pub use pipeline::{Batch, StatementOutcome};
pub use query::{Params, RowStream, ToStatement};
pub use row::{Column, ColumnIndex, Row, SimpleQueryMessage, SimpleQueryRow};
pub use shared::ConnectionStats;
pub use stmt_cache::StatementCacheStats;
pub use transaction::{
    ExportedSnapshot, IsolationLevel, Retried, RetryPolicy, Transaction, TransactionBuilder,
};
