//! The PostgreSQL frontend/backend protocol (3.0 and 3.2), sans-IO.
//!
//! Owns the byte-level codec: [`frame`] cuts the server's stream into
//! [`Frame`]s, [`backend`] decodes them into [`BackendMessage`]s, and
//! [`frontend`] encodes the client's messages into a caller-owned
//! `BytesMut`. [`startup`] is the startup/authentication state machine and
//! [`auth`] its SCRAM, MD5 and channel-binding pieces; [`session`] says
//! which session parameters the codecs rely on. Errors are [`ProtoError`]s naming what the peer did.
//!
//! This module must not do I/O, read a clock, use randomness or depend on
//! tokio: it takes and returns bytes, so every decoder is reachable from
//! unit tests and fuzz targets without a socket.
//!
//! # Stability
//!
//! `proto` is public so that tools can speak the protocol without a
//! connection (proxies, test servers, capture decoders), but it is the
//! driver's internals: its types follow the wire and the engine's needs,
//! and they may change in any minor release (new message fields, renamed
//! accessors, new error variants). Applications should use the
//! [`Client`](crate::Client) layer, whose API is what semantic versioning
//! covers. The enums here are `#[non_exhaustive]` where the protocol can
//! grow.
//!
//! ```
//! use bytes::BytesMut;
//! use pgline::proto::{BackendMessage, FrameSplitter, TransactionStatus};
//!
//! let mut read_buf = BytesMut::from(&b"Z\0\0\0\x05I"[..]);
//! let frame = FrameSplitter::default().split(&mut read_buf)?.expect("a whole frame");
//! assert_eq!(
//!     BackendMessage::parse(frame)?,
//!     BackendMessage::ReadyForQuery(TransactionStatus::Idle)
//! );
//! # Ok::<(), pgline::proto::ProtoError>(())
//! ```

pub mod auth;
pub mod backend;
pub mod copy;
pub mod error;
pub mod frame;
pub mod frontend;
// Entry points of the fuzz targets (fuzz/): no stability promise.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod nul;
pub mod session;
pub mod startup;

pub use backend::{
    Authentication, BackendKeyData, BackendMessage, CommandComplete, CopyData, CopyResponse,
    DataRow, ErrorFields, FieldDescription, Format, NegotiateProtocolVersion, Notification,
    ParameterDescription, ParameterStatus, RowDescription, SaslMechanisms, TransactionStatus,
};
pub use error::ProtoError;
pub use frame::{DEFAULT_MAX_MESSAGE_LEN, Frame, FrameSplitter};
/// Runs of frames of one type: [`FrameSplitter::run`] and [`frame_run::next_in_run`].
pub mod frame_run {
    pub use super::frame::{Run, RunStep, next_in_run, peek_in_run};
}
pub use frontend::ProtocolVersion;
