//! COPY: the COPY IN sink and COPY OUT stream (text, CSV and binary bytes),
//! the typed binary row writer and reader on top of them, and parallel COPY
//! IN over several connections.
//!
//! Must not touch: the socket or the driver task. A COPY is a request like
//! any other; its data goes through the engine's write buffer and its rows
//! come back through `Responses`.

pub(crate) mod binary;
pub(crate) mod parallel;
pub(crate) mod stream;
