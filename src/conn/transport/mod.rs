//! Getting bytes to and from one server: the socket (TCP or unix, keepalive,
//! the receive low-water system call), TLS by rustls, the out-of-band cancel
//! request, and opening a connection (each host and address in turn, the
//! startup exchange, then handing the socket to the engine).
//!
//! Must not touch: request slots, replies or anything a caller holds. It
//! builds the engine's state once, at connect, and never reaches into it
//! afterwards.

pub(crate) mod cancel;
pub(crate) mod connect;
pub(crate) mod endpoint;
pub(crate) mod host_choice;
pub(crate) mod socket;
pub(crate) mod tls;
