//! A parameter longer than the protocol can carry (its length word is an
//! `Int32`) is refused before it is copied into the connection's write
//! buffer, and the connection stays usable. Alone in its test binary: it
//! reads the process's peak memory.

use std::time::Duration;

use pgline::error::ErrorKind;

/// The process's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[tokio::test]
async fn a_parameter_over_2_gib_is_refused_without_being_copied() {
    let server = pgline_testkit::shared();
    let client = pgline::connect(&server.url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect to the shared test server");
    // Zeroed pages from the allocator: none of it is resident until
    // touched, so copying it is what would show in the peak.
    let huge = vec![0u8; i32::MAX as usize + 1];
    let before = peak_rss_kib();
    let mut errors = Vec::new();
    for sql in [
        "SELECT length($1::bytea)",
        "SELECT 1 WHERE $1::bytea IS NULL",
    ] {
        let result = tokio::time::timeout(Duration::from_secs(30), client.query(sql, &[&huge]))
            .await
            .expect("refused at once");
        errors.push(result.expect_err("too long for the protocol"));
    }
    let grown_mib = (peak_rss_kib() - before) / 1024;
    println!("peak resident memory grew by {grown_mib} MiB");
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
        assert!(
            err.to_string()
                .contains("parameter $1: the value is 2147483648 bytes long"),
            "{err}"
        );
    }
    assert!(grown_mib < 256, "the value was copied: +{grown_mib} MiB");
    let v: i32 = client
        .query_one("SELECT 7", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(v, 7);

    // The binary COPY writer checks the same way, and the COPY goes on.
    client
        .batch_execute("CREATE TEMP TABLE blobs (b bytea)")
        .await
        .unwrap();
    let sink = client
        .copy_in("COPY blobs FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let mut writer = pgline::BinaryCopyInWriter::new(sink, &[pgline::types::Type::BYTEA]);
    let before = peak_rss_kib();
    let err = writer.write(&[&huge]).await.expect_err("too long");
    let grown_mib = (peak_rss_kib() - before) / 1024;
    println!("binary COPY: peak resident memory grew by {grown_mib} MiB");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    assert!(
        err.to_string()
            .contains("COPY column 1: the value is 2147483648 bytes long"),
        "{err}"
    );
    assert!(grown_mib < 256, "the value was copied: +{grown_mib} MiB");
    writer.write(&[&vec![1u8, 2]]).await.unwrap();
    assert_eq!(writer.finish().await.unwrap(), 1);
    drop(huge);
    let n: i64 = client
        .query_one("SELECT count(*) FROM blobs", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(n, 1);
}
