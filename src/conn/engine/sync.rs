//! The synchronisation primitives of the engine's hand-built protocols.
//!
//! Owns the choice of primitive for the in-flight gate ([`super::gate`],
//! whose waiter count the write-room wait shares) and
//! the driver hand-off between the task and callers ([`super::handoff`]):
//! `std`'s in every build, Shuttle's under `RUSTFLAGS="--cfg shuttle"`, where
//! every lock and atomic access is a point at which the model checks in
//! `model.rs` switch between tasks. The checks so run the shipped code, not a
//! copy of it. Nothing else may use this module: the rest of the engine keeps
//! `std`'s types, which Shuttle would not see.

#[cfg(shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
#[cfg(shuttle)]
pub(crate) use shuttle::sync::{Mutex, MutexGuard, TryLockError};

#[cfg(not(shuttle))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
#[cfg(not(shuttle))]
pub(crate) use std::sync::{Mutex, MutexGuard, TryLockError};
