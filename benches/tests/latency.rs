//! The open-loop latency workload runs every shape at the quick plan's
//! rates against a real throwaway server: every scheduled request is
//! answered (the replies' sum is checked inside the run) and recorded once,
//! the percentiles are ordered, and the tables name every shape and rate.

use pgline_benches::latency::{Plan, Shape, markdown, run_rounds};
use pgline_benches::{BenchEnv, Mode};

#[test]
fn every_shape_runs_at_every_quick_rate() {
    let env = BenchEnv::start(Mode::Quick).expect("start the benchmark server");
    let plan = Plan::for_mode(Mode::Quick);
    let rounds = run_rounds(&env, &plan);
    assert!(rounds.failures.is_empty(), "{:?}", rounds.failures);
    for (i, &rate) in plan.rates.iter().enumerate() {
        for shape in Shape::ALL {
            let what = format!("{} at {rate}/s", shape.name());
            let summary = rounds.summary(i, shape).expect(&what);
            assert_eq!(summary.rounds, plan.rounds, "{what}");
            let f = summary.median;
            assert_eq!(f.recorded, plan.count(rate) * plan.rounds as u64, "{what}");
            assert!(f.p50 > 0.0, "{what}: {f:?}");
            assert!(
                f.p50 <= f.p99 && f.p99 <= f.p999 && f.p999 <= f.max,
                "{what}: {f:?}"
            );
            assert!(f.achieved > 0.0 && f.cpu_us > 0.0, "{what}: {f:?}");
        }
    }
    let text = markdown(&plan, &rounds);
    for shape in Shape::ALL {
        for rate in &plan.rates {
            let row = format!("| {rate:.0} | {} |", shape.name());
            assert!(text.contains(&row), "{row} missing from\n{text}");
        }
    }
    assert!(text.contains("Reply coalescing on vs off"), "{text}");
}
