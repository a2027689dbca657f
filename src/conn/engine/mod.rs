//! The pipelining engine: one connection's shared state, the driver task
//! and the caller-driven I/O that reads and writes its socket, request
//! slots and the in-flight gate (backpressure), routing of replies to their
//! request in order, the reusable buffers, and the receive low-water mark
//! with its stall watch.
//!
//! Must not touch: SQL, statements or typed values (that is `client`), and
//! wire tags other than through `proto`'s decoders. Callers enter only
//! through `Shared` and `Responses`.

pub(crate) mod buf_pool;
pub(crate) mod close_reason;
pub(crate) mod driver;
pub(crate) mod gate;
pub(crate) mod handoff;
pub(crate) mod io;
pub(crate) mod lifecycle;
pub(crate) mod low_water;
#[cfg(all(test, shuttle))]
mod model;
pub(crate) mod responses;
pub(crate) mod role_cell;
pub(crate) mod shared;
pub(crate) mod slot;
pub(crate) mod stall_watch;
pub(crate) mod sync;
#[cfg(test)]
pub(crate) mod wake_count;
