//! Measures what `#[derive(FromRow)]` mapping costs next to hand-written
//! `row.get` calls, on rows fetched once from a throwaway server (or the
//! server at the URL given as the first argument). Only the mapping is
//! timed, not the query. Prints nanoseconds per row and the ratio.
//!
//! `cargo run --release --example derive_bench`

use std::hint::black_box;
use std::time::{Duration, Instant};

use pgline::Row;
use pgline::types::RowMapper;

/// The fields are read by the mapping; only `id` is looked at afterwards.
#[allow(dead_code)]
#[derive(Debug, pgline::FromRow)]
struct Record {
    id: i64,
    name: String,
    score: f64,
    active: bool,
    note: Option<String>,
}

fn by_hand(row: &Row) -> Result<Record, pgline::Error> {
    Ok(Record {
        id: row.get(0)?,
        name: row.get(1)?,
        score: row.get(2)?,
        active: row.get(3)?,
        note: row.get(4)?,
    })
}

/// Runs both mappings `rounds` times, alternating which goes first, and
/// keeps the best time of each (after one untimed warm-up of both).
fn best_of<A: FnMut() -> usize, B: FnMut() -> usize>(
    rounds: usize,
    mut a: A,
    mut b: B,
) -> (Duration, Duration) {
    black_box(a());
    black_box(b());
    let (mut best_a, mut best_b) = (Duration::MAX, Duration::MAX);
    for round in 0..rounds {
        for which in [round % 2, 1 - round % 2] {
            let start = Instant::now();
            if which == 0 {
                black_box(a());
                best_a = best_a.min(start.elapsed());
            } else {
                black_box(b());
                best_b = best_b.min(start.elapsed());
            }
        }
    }
    (best_a, best_b)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server;
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            server = pgline_testkit::shared();
            server.url("pgline", Some("pgline-secret"), "pgline")
        }
    };
    let client = pgline::connect(&url).await?;
    let rows = client
        .query(
            "SELECT g::int8 AS id, 'name ' || g AS name, g * 0.5::float8 AS score, \
             g % 2 = 0 AS active, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' END AS note \
             FROM generate_series(1, 5000) g",
            &[],
        )
        .await?;
    let n = 5_000;
    let rounds = 400;
    // Small batches, many rounds: the best time of a short batch is
    // rarely disturbed by other processes on a shared machine.
    let batch = &rows[..];
    let (hand, derived) = best_of(
        rounds,
        || {
            batch
                .iter()
                .map(|r| by_hand(r).map(|x| x.id).unwrap_or(0) as usize)
                .sum()
        },
        || {
            let mut mapper = RowMapper::<Record>::new();
            batch
                .iter()
                .map(|r| mapper.map(r).map(|x| x.id).unwrap_or(0) as usize)
                .sum()
        },
    );
    let per_row = |d: Duration| d.as_nanos() as f64 / n as f64;
    println!("batch of {n} rows, best of {rounds} rounds");
    println!("hand-written row.get: {:.1} ns/row", per_row(hand));
    println!("derive(FromRow):      {:.1} ns/row", per_row(derived));
    println!(
        "ratio derive/hand:    {:.3}",
        derived.as_secs_f64() / hand.as_secs_f64()
    );
    client.close().await?;
    Ok(())
}
