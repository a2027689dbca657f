//! Measures how long throwaway servers take to start: the first one (which also runs
//! `initdb` for the template), template copies, a fresh `initdb`, and TLS with users.
//!
//! Run: `cargo run -p pgline-testkit --release --example start_time`

use std::time::Instant;

use pgline_testkit::{AuthMethod, ServerBuilder};

fn main() -> Result<(), pgline_testkit::Error> {
    let first = ServerBuilder::new().start()?;
    println!(
        "first server (initdb template + copy): {:?}",
        first.startup_time()
    );
    drop(first);

    for i in 0..3 {
        let server = ServerBuilder::new().start()?;
        println!(
            "template copy #{i}:                   {:?}",
            server.startup_time()
        );
    }

    let fresh = ServerBuilder::new().fresh_initdb(true).start()?;
    println!(
        "fresh initdb:                          {:?}",
        fresh.startup_time()
    );
    drop(fresh);

    let tls = ServerBuilder::new()
        .auth(AuthMethod::ScramSha256)
        .tls(true)
        .user("pgline", "pgline-secret")
        .database("pgline", "pgline")
        .start()?;
    println!(
        "TLS + user + database:                 {:?}",
        tls.startup_time()
    );

    let began = Instant::now();
    drop(tls);
    println!(
        "drop (immediate stop + rm -rf):        {:?}",
        began.elapsed()
    );
    Ok(())
}
