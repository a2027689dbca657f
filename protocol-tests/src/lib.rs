//! pgline's protocol conformance and robustness suite.
//!
//! Owns the tools that make a server or a network do what a real one will
//! not: [`wire`] builds backend messages and reads frontend ones byte for
//! byte, [`fake_server`] plays a scripted PostgreSQL server on loopback, and
//! [`proxy`] sits between the driver and a real server to delay, cut,
//! blackhole, slow down and record traffic. The tests themselves live in
//! `tests/` (bad input, faults, golden traces). This crate must not reach
//! into pgline's internals: it drives the driver through its public API only.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::use_self
)]

pub mod fake_server;
pub mod proxy;
pub mod wire;

pub use fake_server::{FakeServer, Script, Transcript};
pub use proxy::{Direction, Fault, FaultProxy};
