//! The tokio connection layer: sockets, TLS, the driver task and the client.
//!
//! Owns everything that does I/O for one connection. It calls `proto` for
//! bytes and `types` for values, and nothing above it.

mod cancel;
mod client;
mod connect;
mod driver;
mod row;
mod row_access;
mod socket;
mod tls;
mod type_lookup;

pub use cancel::CancelToken;
pub use client::{Client, Statement, ToStatement, Transaction};
pub use connect::connect;
pub use row::{Column, ColumnIndex, Row, SimpleQueryMessage, SimpleQueryRow};
