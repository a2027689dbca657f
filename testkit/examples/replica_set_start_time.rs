//! Measures how long a primary with two streaming replicas takes to start: the first set
//! (which also runs `initdb` for the template) and three more (template copies), and how
//! long dropping one takes.
//!
//! Run: `cargo run -p pgline-testkit --release --example replica_set_start_time`

use std::time::Instant;

use pgline_testkit::ReplicaSetBuilder;

fn main() -> Result<(), pgline_testkit::Error> {
    let first = ReplicaSetBuilder::new().replicas(2).start()?;
    println!(
        "first set (initdb template + 3 copies):  {:?}",
        first.startup_time()
    );
    drop(first);
    for i in 0..3 {
        let set = ReplicaSetBuilder::new().replicas(2).start()?;
        println!(
            "primary + 2 replicas #{i}:               {:?}",
            set.startup_time()
        );
        let began = Instant::now();
        drop(set);
        println!(
            "drop:                                   {:?}",
            began.elapsed()
        );
    }
    Ok(())
}
