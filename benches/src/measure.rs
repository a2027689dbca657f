//! One measured stretch of work: wall time, client CPU and heap allocations
//! for a known number of operations.
//!
//! Owns: [`Sample`] and [`Meter`]. Must not: know drivers or workloads.

use std::time::{Duration, Instant};

use crate::alloc::AllocCount;
use crate::cpu::{CpuTime, process_cpu_time};

/// What one run of a workload cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Operations done (queries, rows or connections: the workload says).
    pub ops: u64,
    /// Wall-clock time.
    pub wall: Duration,
    /// Client CPU time (user + system of the bench process).
    pub cpu: Duration,
    /// The user part of `cpu` (the rest is system time).
    pub cpu_user: Duration,
    /// Heap allocations made.
    pub allocations: u64,
    /// Heap bytes asked for.
    pub bytes: u64,
}

impl Sample {
    /// Operations per second of wall time.
    pub fn throughput(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.ops as f64 / secs
        } else {
            0.0
        }
    }

    /// Client CPU microseconds per operation.
    pub fn cpu_us_per_op(&self) -> f64 {
        per_op(self.cpu.as_secs_f64() * 1e6, self.ops)
    }

    /// Client CPU microseconds per operation in user space.
    pub fn cpu_user_us_per_op(&self) -> f64 {
        per_op(self.cpu_user.as_secs_f64() * 1e6, self.ops)
    }

    /// Client CPU microseconds per operation in the kernel.
    pub fn cpu_system_us_per_op(&self) -> f64 {
        let system = self.cpu.saturating_sub(self.cpu_user);
        per_op(system.as_secs_f64() * 1e6, self.ops)
    }

    /// Heap allocations per operation.
    pub fn allocations_per_op(&self) -> f64 {
        per_op(self.allocations as f64, self.ops)
    }

    /// Heap bytes per operation.
    pub fn bytes_per_op(&self) -> f64 {
        per_op(self.bytes as f64, self.ops)
    }
}

fn per_op(total: f64, ops: u64) -> f64 {
    if ops == 0 { 0.0 } else { total / ops as f64 }
}

/// A started measurement; [`Meter::stop`] turns it into a [`Sample`].
#[derive(Debug)]
pub struct Meter {
    wall: Instant,
    cpu: CpuTime,
    allocs: AllocCount,
}

impl Meter {
    /// Starts measuring now.
    pub fn start() -> Self {
        let allocs = AllocCount::now();
        let cpu = process_cpu_time();
        Self {
            wall: Instant::now(),
            cpu,
            allocs,
        }
    }

    /// Stops, counting `ops` operations.
    pub fn stop(self, ops: u64) -> Sample {
        let wall = self.wall.elapsed();
        let cpu = process_cpu_time().since(self.cpu);
        let allocs = AllocCount::now().since(self.allocs);
        Sample {
            ops,
            wall,
            cpu: cpu.total(),
            cpu_user: cpu.user,
            allocations: allocs.allocations,
            bytes: allocs.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ops: u64, wall_ms: u64, cpu_ms: u64, allocations: u64) -> Sample {
        Sample {
            ops,
            wall: Duration::from_millis(wall_ms),
            cpu: Duration::from_millis(cpu_ms),
            cpu_user: Duration::from_millis(cpu_ms / 4),
            allocations,
            bytes: allocations * 16,
        }
    }

    #[test]
    fn per_op_figures() {
        let s = sample(1000, 500, 20, 3000);
        assert_eq!(s.throughput(), 2000.0);
        assert_eq!(s.cpu_us_per_op(), 20.0);
        assert_eq!(s.cpu_user_us_per_op(), 5.0);
        assert_eq!(s.cpu_system_us_per_op(), 15.0);
        assert_eq!(s.allocations_per_op(), 3.0);
        assert_eq!(s.bytes_per_op(), 48.0);
    }

    #[test]
    fn zero_ops_and_zero_time_give_zero_not_nan() {
        let s = sample(0, 0, 0, 0);
        assert_eq!(s.throughput(), 0.0);
        assert_eq!(s.cpu_us_per_op(), 0.0);
        assert_eq!(s.cpu_user_us_per_op(), 0.0);
        assert_eq!(s.cpu_system_us_per_op(), 0.0);
        assert_eq!(s.allocations_per_op(), 0.0);
    }

    #[test]
    fn meter_counts_ops_given() {
        let meter = Meter::start();
        let sample = meter.stop(7);
        assert_eq!(sample.ops, 7);
    }
}
