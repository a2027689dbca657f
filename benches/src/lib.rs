//! pgline-benches: pgline measured against libpq and tokio-postgres on one
//! throwaway server, in alternating rounds, reported as ratios.
//!
//! Owns: the workloads (one file each under [`workloads`], with one function
//! per driver), the measurement pieces ([`measure`], [`cpu`], [`alloc`]), the
//! alternating-rounds runner ([`rounds`]) and the report ([`report`]). Must
//! not: be part of the pgline workspace's default build (it has its own
//! `[workspace]`), or hold `unsafe` code outside [`libpq`], [`cpu`],
//! [`alloc`] and [`latency::pace`], which carry SAFETY comments.
//!
//! The open-loop latency workload ([`latency`]) has a binary of its own
//! (`latency`): its results are percentiles per offered rate, not the
//! throughput rows of `pgline-bench`.
#![deny(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::use_self
)]

#[allow(unsafe_code)]
pub mod alloc;
pub mod cli;
pub mod copy_data;
#[allow(unsafe_code)]
pub mod cpu;
pub mod driver;
pub mod env;
pub mod latency;
#[allow(unsafe_code)]
pub mod libpq;
pub mod machine;
pub mod measure;
pub mod observed;
pub mod report;
pub mod rounds;
pub mod stats;
pub mod workloads;

mod error;

pub use driver::{Driver, Outcome};
pub use env::{BenchEnv, Mode, Transport};
pub use error::BenchError;
pub use measure::{Meter, Sample};
