//! The API callers hold: `Client` and how a call becomes a request
//! (queries, prepared statements, batches, transactions), the rows that come
//! back, notifications, and the per-connection statement cache.
//!
//! Must not touch: the socket or the driver task. It writes requests into
//! the engine's shared write buffer and reads replies through `Responses`.

pub(crate) mod batch_rows;
pub(crate) mod copy_sql;
pub(crate) mod handle;
pub(crate) mod listener;
pub(crate) mod notify;
pub(crate) mod observed;
pub(crate) mod one_row;
pub(crate) mod pipeline;
pub(crate) mod query;
pub(crate) mod row;
pub(crate) mod row_access;
pub(crate) mod simple_stream;
pub(crate) mod stmt_cache;
pub(crate) mod transaction;
pub(crate) mod type_lookup;
