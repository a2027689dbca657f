//! Golden traces: the exact frontend bytes of a few client calls, recorded
//! by the proxy on the way to a real server and compared with the traces in
//! `protocol-tests/traces/`, so that an unintended change of what goes on the
//! wire is caught.
//!
//! A trace has one frontend message per line: the tag (`.` for the untagged
//! StartupMessage), a space, and the body with printable ASCII as is and
//! other bytes as `\xNN`. The SCRAM client nonce, and the proof and combined
//! nonce derived from it, are random per connection and are replaced by
//! `<nonce>` and `<proof>`, and the per-connection random tag in statement
//! names (`pgline_<16 hex>_c0`) by `<tag>`; nothing else is masked.
//!
//! After an intended change, rewrite the traces with
//! `PGLINE_BLESS=1 cargo test -p pgline-protocol-tests --test golden`
//! and review the diff.

use std::path::PathBuf;

use pgline::Client;
use pgline_protocol_tests::wire::{FrontendMessage, split_frontend};
use pgline_protocol_tests::{Direction, FaultProxy};

fn render(message: &FrontendMessage) -> String {
    let mut line = String::new();
    line.push(if message.tag == 0 {
        '.'
    } else {
        char::from(message.tag)
    });
    line.push(' ');
    for &b in &message.body {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            line.push(char::from(b));
        } else {
            line.push_str(&format!("\\x{b:02x}"));
        }
    }
    mask_statement_tags(&mask(&line))
}

/// Replaces the random tag of statement names: `pgline_0123456789abcdef_c0`
/// becomes `pgline_<tag>_c0`.
fn mask_statement_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("pgline_") {
        let (before, from) = rest.split_at(at + "pgline_".len());
        out.push_str(before);
        let tag = from
            .get(..16)
            .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()));
        match (tag, from.as_bytes().get(16)) {
            (Some(_), Some(b'_')) => {
                out.push_str("<tag>");
                rest = &from[16..];
            }
            _ => rest = from,
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn statement_tags_are_masked() {
    assert_eq!(
        mask_statement_tags("B \\x00pgline_00ff00ff00ff00ff_c1\\x00 pgline_events pgline_"),
        "B \\x00pgline_<tag>_c1\\x00 pgline_events pgline_"
    );
}

/// Replaces the random parts of SCRAM messages.
fn mask(line: &str) -> String {
    if !line.starts_with("p ") || !line.contains("r=") {
        return line.to_owned();
    }
    line.split(',')
        .map(|attribute| {
            if let Some(at) = attribute.find("r=") {
                format!("{}r=<nonce>", &attribute[..at])
            } else if attribute.starts_with("p=") {
                "p=<proof>".to_owned()
            } else {
                attribute.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn trace(bytes: &[u8], startup: bool) -> String {
    let messages = if startup {
        split_frontend(bytes)
    } else {
        // After startup every message is tagged: prefix a fake startup so
        // the splitter knows.
        let mut fake = vec![0, 0, 0, 8, 0, 3, 0, 0];
        fake.extend_from_slice(bytes);
        split_frontend(&fake).into_iter().skip(1).collect()
    };
    let rebuilt: usize = messages.iter().map(|m| m.to_bytes().len()).sum();
    assert_eq!(
        rebuilt,
        bytes.len(),
        "the recording splits into whole messages"
    );
    messages.iter().map(|m| render(m) + "\n").collect()
}

fn check(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("traces")
        .join(format!("{name}.trace"));
    if std::env::var_os("PGLINE_BLESS").is_some() {
        std::fs::write(&path, actual).expect("write the trace");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with PGLINE_BLESS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        actual, expected,
        "frontend bytes of {name} changed; if intended, re-bless (see the module docs)"
    );
}

async fn proxy_and_client() -> (FaultProxy, Client) {
    let server = pgline_testkit::shared();
    let upstream = format!("{}:{}", server.host(), server.port())
        .parse()
        .unwrap();
    let proxy = FaultProxy::start(upstream).await;
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}?sslmode=disable&application_name=golden",
        pgline_testkit::SHARED_USER,
        pgline_testkit::SHARED_PASSWORD,
        proxy.addr().port(),
        pgline_testkit::SHARED_DATABASE,
    );
    let client = pgline::connect(&url)
        .await
        .expect("connect through the proxy");
    (proxy, client)
}

#[tokio::test]
async fn connect_with_scram() {
    let (proxy, client) = proxy_and_client().await;
    let recorded = proxy.recorded(Direction::ClientToServer);
    let trace = trace(&recorded, true);
    assert!(trace.contains("p SCRAM-SHA-256\\x00"), "{trace}");
    check("connect_scram", &trace);
    drop(client);
}

#[tokio::test]
async fn prepare_and_execute() {
    let (proxy, client) = proxy_and_client().await;
    proxy.clear_recorded();
    let statement = client
        .prepare("SELECT $1::int4 + 1, $2::text")
        .await
        .unwrap();
    let row = client.query_one(&statement, &[&41i32, &"x"]).await.unwrap();
    assert_eq!(row.get::<i32>(0).unwrap(), 42);
    let trace = trace(&proxy.recorded(Direction::ClientToServer), false);
    check("prepare_execute", &trace);
}

#[tokio::test]
async fn pipelined_batch() {
    let (proxy, client) = proxy_and_client().await;
    proxy.clear_recorded();
    let (one, two) = (
        &[&1i32 as &(dyn pgline::types::Encode + Sync)][..],
        &[&"two" as _][..],
    );
    let mut batch = client.batch();
    batch.push("SELECT $1::int4", one);
    batch.push("SELECT $1::text", two);
    batch.push("SELECT 3", &[]);
    let outcomes = batch.run_independent().await.unwrap();
    assert_eq!(outcomes.len(), 3);
    let trace = trace(&proxy.recorded(Direction::ClientToServer), false);
    check("pipelined_batch", &trace);
}

#[tokio::test]
async fn copy_in() {
    let (proxy, client) = proxy_and_client().await;
    client
        .batch_execute("CREATE TEMP TABLE golden_copy (id int4, name text)")
        .await
        .unwrap();
    proxy.clear_recorded();
    let mut sink = client.copy_in("COPY golden_copy FROM STDIN").await.unwrap();
    sink.send(b"1\tone\n").await.unwrap();
    sink.send(b"2\ttwo\n").await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    let trace = trace(&proxy.recorded(Direction::ClientToServer), false);
    check("copy_in", &trace);
}
