//! A large simple-protocol result read with `simple_query_stream` is never
//! held in memory whole.
//!
//! Alone in its test binary, so the process's memory figures are its own.

mod support;

use pgline::SimpleQueryMessage;

use support::shared_config as config;

#[tokio::test]
async fn a_large_simple_query_result_streams_without_being_held_in_memory() {
    let client = config().connect().await.unwrap();
    let rss_before = support::rss_kib();
    let mut stream = client
        .simple_query_stream(
            "SELECT i, i::text || 'some padding to make rows wider' FROM generate_series(1, 2000000) i",
        )
        .await
        .unwrap();
    let mut count = 0i64;
    let mut sum = 0i64;
    let mut completed = None;
    let mut max_rss = rss_before;
    while let Some(message) = stream.next().await {
        match message.unwrap() {
            SimpleQueryMessage::Row(row) => {
                sum += row.get(0).unwrap().parse::<i64>().unwrap();
                count += 1;
                if count % 100_000 == 0 {
                    max_rss = max_rss.max(support::rss_kib());
                }
            }
            SimpleQueryMessage::CommandComplete(n) => completed = n,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(count, 2_000_000);
    assert_eq!(sum, 2_000_000 * 2_000_001 / 2);
    assert_eq!(completed, Some(2_000_000));
    let growth = max_rss.saturating_sub(rss_before);
    println!(
        "2M rows streamed (simple protocol): RSS {rss_before} KiB before, at most {max_rss} KiB while reading"
    );
    // Held whole (as simple_query does), these rows would take well over 100 MiB.
    assert!(growth < 48 * 1024, "RSS grew by {growth} KiB");
}
