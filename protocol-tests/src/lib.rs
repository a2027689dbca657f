//! pgline's protocol conformance and robustness suite.
//!
//! Owns the scripted fake server, the bad-input corpus and the fault-injecting
//! proxy: the tests that make a server do what a real one will not (bad bytes,
//! wrong orders, cut connections). Tests against real behaviour live with the
//! code they test and use `pgline-testkit`. The fake server is not written yet;
//! this crate compiles so the workspace layout is fixed.
#![forbid(unsafe_code)]
