//! Backpressure: many requests issued at once against a small in-flight bound.
//!
//! Alone in its test binary, so the process's memory figures are its own.

mod support;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use support::shared_config as config;

#[tokio::test(flavor = "current_thread")]
async fn backpressure_bounds_requests_in_flight() {
    let mut config = config();
    config.max_in_flight(16);
    let client = config.connect().await.unwrap();
    // Warm the statement cache so the run below is the steady state.
    client.query_one("SELECT $1::int4", &[&0i32]).await.unwrap();
    let start_peak = support::peak_rss_kib();
    let mut calls = FuturesUnordered::new();
    for n in 0..100_000i32 {
        let client = &client;
        calls.push(async move {
            let row = client.query_one("SELECT $1::int4", &[&n]).await.unwrap();
            assert_eq!(row.get::<i32>(0).unwrap(), n);
        });
    }
    let issued_peak = support::peak_rss_kib();
    let mut done = 0;
    while calls.next().await.is_some() {
        done += 1;
    }
    let end_peak = support::peak_rss_kib();
    let stats = client.connection_stats();
    let per_request = (end_peak.saturating_sub(start_peak) * 1024) / 100_000;
    println!(
        "100000 requests issued at once, max_in_flight=16: peak RSS {start_peak} KiB before, \
         {issued_peak} KiB with all issued, {end_peak} KiB at the end ({per_request} bytes per \
         request, the callers' own futures); at most {} in flight, {} socket writes",
        stats.max_in_flight, stats.socket_writes
    );
    assert_eq!(done, 100_000);
    assert!(stats.max_in_flight <= 16, "{}", stats.max_in_flight);
    // Nothing but the callers' futures grows with the number of requests
    // waiting: the connection buffers at most 16 requests.
    assert!(
        end_peak <= issued_peak + 16 * 1024,
        "memory grew by {} KiB while the requests ran",
        end_peak - issued_peak
    );
}
