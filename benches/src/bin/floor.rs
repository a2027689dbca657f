//! The floor under a point select on this machine: the same prepared
//! `SELECT $1::int4` round trip made by the least code that can make it,
//! next to pgline and libpq, in paired rounds on one throwaway server.
//!
//! - `blocking`: a blocking `std` socket writing pre-encoded Bind, Execute
//!   and Sync and reading until ReadyForQuery (what any driver must do, and
//!   nothing else);
//! - `tokio-raw`: the same bytes through a tokio `TcpStream` on a
//!   current-thread runtime (what any driver on tokio must do);
//! - `pgline`: `Client::query_one` of the prepared statement;
//! - `libpq`: `PQexecPrepared`.
//!
//! The server trusts the connection (no password), as the login is not in
//! the loop. CPU is `getrusage` of the process over the measured loop.
//!
//! ```text
//! cargo run --release --bin floor [-- ROUNDS QUERIES]
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;

use pgline_benches::BenchError;
use pgline_benches::libpq::{Int4Param, PqConn};
use pgline_benches::measure::{Meter, Sample};
use pgline_benches::stats::median;
use pgline_benches::workloads::pgline_client_at;
use pgline_benches::workloads::point_select::decode_int4;
use pgline_testkit::ServerBuilder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SQL: &str = "SELECT $1::int4";
const SHAPES: [&str; 4] = ["blocking", "tokio-raw", "pgline", "libpq"];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("floor: {err}");
            ExitCode::FAILURE
        }
    }
}

fn arg(n: usize, default: u64) -> Result<u64, BenchError> {
    std::env::args().nth(n).map_or(Ok(default), |a| {
        a.parse()
            .map_err(|_| BenchError::new("ROUNDS and QUERIES are numbers"))
    })
}

fn bench_err(e: impl std::fmt::Display) -> BenchError {
    BenchError::new(e.to_string())
}

fn run() -> Result<(), BenchError> {
    let rounds = arg(1, 9)? as usize;
    let queries = arg(2, 20_000)?;
    let server = ServerBuilder::new()
        .setting("fsync", "off")
        .setting("synchronous_commit", "off")
        .start()
        .map_err(bench_err)?;
    let user = server.superuser().to_owned();
    let kv = server.key_value(&user, None, "postgres");
    let addr = format!("{}:{}", server.host(), server.port());
    println!("| round | {} |", SHAPES.join(" | "));
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); SHAPES.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..SHAPES.len()).collect();
        order.rotate_left(round % SHAPES.len());
        let mut row = vec![String::new(); SHAPES.len()];
        for shape in order {
            let sample = match shape {
                0 => blocking(&addr, &user, queries)?,
                1 => tokio_raw(&addr, &user, queries)?,
                2 => pgline_loop(&kv, queries)?,
                _ => libpq_loop(&kv, queries)?,
            };
            row[shape] = format!(
                "{:.0}/s {:.2} µs",
                sample.throughput(),
                sample.cpu_us_per_op()
            );
            samples[shape].push(sample);
        }
        println!("| {} | {} |", round + 1, row.join(" | "));
    }
    let libpq = SHAPES.len() - 1;
    println!("\n| shape | queries/s ÷ libpq | CPU/query ÷ libpq | CPU µs/query |");
    println!("|---|---:|---:|---:|");
    for (i, name) in SHAPES.iter().enumerate() {
        let ratio = |f: fn(&Sample) -> f64| {
            let r: Vec<f64> = (0..rounds)
                .map(|k| f(&samples[i][k]) / f(&samples[libpq][k]))
                .collect();
            median(&r).unwrap_or(f64::NAN)
        };
        let cpu: Vec<f64> = samples[i].iter().map(Sample::cpu_us_per_op).collect();
        println!(
            "| {name} | {:.3} | {:.3} | {:.2} |",
            ratio(Sample::throughput),
            ratio(Sample::cpu_us_per_op),
            median(&cpu).unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// StartupMessage (protocol 3.0) for `user` on database `postgres`.
fn startup(user: &str) -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    for s in ["user", user, "database", "postgres", ""] {
        body.extend_from_slice(s.as_bytes());
        body.push(0);
    }
    let mut m = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&body);
    m
}

/// One message: tag, length, body.
fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// Parse of statement `s` (one int4 parameter) and Sync.
fn prepare() -> Vec<u8> {
    let mut body = b"s\0".to_vec();
    body.extend_from_slice(SQL.as_bytes());
    body.push(0);
    body.extend_from_slice(&1u16.to_be_bytes());
    body.extend_from_slice(&23u32.to_be_bytes());
    [message(b'P', &body), message(b'S', &[])].concat()
}

/// Bind/Execute/Sync of `s` with a binary int4 whose value sits at the
/// returned offset.
fn request() -> (Vec<u8>, usize) {
    let mut bind = b"\0s\0".to_vec();
    bind.extend_from_slice(&1u16.to_be_bytes());
    bind.extend_from_slice(&1u16.to_be_bytes());
    bind.extend_from_slice(&1u16.to_be_bytes());
    bind.extend_from_slice(&4u32.to_be_bytes());
    let at = 5 + bind.len();
    bind.extend_from_slice(&0u32.to_be_bytes());
    bind.extend_from_slice(&1u16.to_be_bytes());
    bind.extend_from_slice(&1u16.to_be_bytes());
    let bytes = [
        message(b'B', &bind),
        message(b'E', b"\0\0\0\0\0"),
        message(b'S', &[]),
    ]
    .concat();
    (bytes, at)
}

/// Where a reply held in `buf` ends (after its ReadyForQuery), and the
/// int4 of its DataRow; `None` while incomplete.
fn reply_end(buf: &[u8]) -> Result<Option<(usize, i32)>, BenchError> {
    let mut at = 0;
    let mut value = 0;
    while buf.len() >= at + 5 {
        let tag = buf[at];
        let len = u32::from_be_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
        let end = at + 1 + len;
        if buf.len() < end {
            return Ok(None);
        }
        match tag {
            b'E' => return Err(BenchError::new("server error")),
            b'D' if len >= 14 => {
                value =
                    i32::from_be_bytes([buf[at + 11], buf[at + 12], buf[at + 13], buf[at + 14]]);
            }
            b'Z' => return Ok(Some((end, value))),
            _ => {}
        }
        at = end;
    }
    Ok(None)
}

fn blocking(addr: &str, user: &str, n: u64) -> Result<Sample, BenchError> {
    let mut s = std::net::TcpStream::connect(addr).map_err(bench_err)?;
    s.set_nodelay(true).map_err(bench_err)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut exchange = |s: &mut std::net::TcpStream, out: &[u8]| -> Result<i32, BenchError> {
        s.write_all(out).map_err(bench_err)?;
        let mut filled = 0;
        loop {
            let got = s.read(&mut buf[filled..]).map_err(bench_err)?;
            if got == 0 {
                return Err(BenchError::new("server closed"));
            }
            filled += got;
            if let Some((end, value)) = reply_end(&buf[..filled])? {
                if end != filled {
                    return Err(BenchError::new("more than one reply"));
                }
                return Ok(value);
            }
        }
    };
    exchange(&mut s, &startup(user))?;
    exchange(&mut s, &prepare())?;
    let (mut req, at) = request();
    let mut sum = 0i64;
    let mut meter = None;
    for i in 0..n + n / 10 {
        if i == n / 10 {
            meter = Some(Meter::start());
        }
        let v = (i % 1000) as i32;
        req[at..at + 4].copy_from_slice(&v.to_be_bytes());
        sum += i64::from(exchange(&mut s, &req)? == v);
    }
    let sample = meter.expect("measured").stop(n);
    check(sum, n + n / 10)?;
    Ok(sample)
}

fn tokio_raw(addr: &str, user: &str, n: u64) -> Result<Sample, BenchError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(bench_err)?;
    rt.block_on(async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(bench_err)?;
        s.set_nodelay(true).map_err(bench_err)?;
        let mut buf = vec![0u8; 16 * 1024];
        async fn exchange(
            s: &mut tokio::net::TcpStream,
            buf: &mut [u8],
            out: &[u8],
        ) -> Result<i32, BenchError> {
            s.write_all(out).await.map_err(bench_err)?;
            let mut filled = 0;
            loop {
                let got = s.read(&mut buf[filled..]).await.map_err(bench_err)?;
                if got == 0 {
                    return Err(BenchError::new("server closed"));
                }
                filled += got;
                if let Some((end, value)) = reply_end(&buf[..filled])? {
                    if end != filled {
                        return Err(BenchError::new("more than one reply"));
                    }
                    return Ok(value);
                }
            }
        }
        exchange(&mut s, &mut buf, &startup(user)).await?;
        exchange(&mut s, &mut buf, &prepare()).await?;
        let (mut req, at) = request();
        let mut sum = 0i64;
        let mut meter = None;
        for i in 0..n + n / 10 {
            if i == n / 10 {
                meter = Some(Meter::start());
            }
            let v = (i % 1000) as i32;
            req[at..at + 4].copy_from_slice(&v.to_be_bytes());
            sum += i64::from(exchange(&mut s, &mut buf, &req).await? == v);
        }
        let sample = meter.expect("measured").stop(n);
        check(sum, n + n / 10)?;
        Ok(sample)
    })
}

fn pgline_loop(kv: &str, n: u64) -> Result<Sample, BenchError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(bench_err)?;
    rt.block_on(async {
        let client = pgline_client_at(&format!("{kv} sslmode=disable")).await?;
        let stmt = client.prepare(SQL).await.map_err(bench_err)?;
        let mut sum = 0i64;
        let mut meter = None;
        for i in 0..n + n / 10 {
            if i == n / 10 {
                meter = Some(Meter::start());
            }
            let v = (i % 1000) as i32;
            let row = client.query_one(&stmt, &[&v]).await.map_err(bench_err)?;
            sum += i64::from(row.get::<i32>(0).map_err(bench_err)? == v);
        }
        let sample = meter.expect("measured").stop(n);
        check(sum, n + n / 10)?;
        client.close().await.map_err(bench_err)?;
        Ok(sample)
    })
}

fn libpq_loop(kv: &str, n: u64) -> Result<Sample, BenchError> {
    let conn = PqConn::connect(&format!("{kv} sslmode=disable"))?;
    conn.prepare_int4("s", SQL, 1)?;
    let mut sum = 0i64;
    let mut meter = None;
    for i in 0..n + n / 10 {
        if i == n / 10 {
            meter = Some(Meter::start());
        }
        let v = (i % 1000) as i32;
        let result = conn.exec_prepared_int4(c"s", Int4Param::new(v))?;
        sum += i64::from(decode_int4(result.value(0, 0))? == v);
    }
    let sample = meter.expect("measured").stop(n);
    check(sum, n + n / 10)?;
    Ok(sample)
}

/// Every reply carried the value its request sent.
fn check(matched: i64, total: u64) -> Result<(), BenchError> {
    if matched as u64 == total {
        Ok(())
    } else {
        Err(BenchError::new(format!(
            "{matched} of {total} replies matched"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as the server sends it: BindComplete, DataRow of `value`,
    /// CommandComplete, ReadyForQuery.
    fn reply(value: i32) -> Vec<u8> {
        let mut row = 1u16.to_be_bytes().to_vec();
        row.extend_from_slice(&4u32.to_be_bytes());
        row.extend_from_slice(&value.to_be_bytes());
        [
            message(b'2', &[]),
            message(b'D', &row),
            message(b'C', b"SELECT 1\0"),
            message(b'Z', b"I"),
        ]
        .concat()
    }

    #[test]
    fn a_whole_reply_ends_after_its_ready_for_query_with_its_value() {
        let bytes = reply(-7);
        assert_eq!(reply_end(&bytes).unwrap(), Some((bytes.len(), -7)));
    }

    #[test]
    fn a_reply_cut_anywhere_is_not_yet_ended() {
        let bytes = reply(42);
        for cut in 0..bytes.len() {
            assert_eq!(reply_end(&bytes[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn an_error_response_is_an_error() {
        let bytes = [message(b'E', b"SERROR\0\0"), message(b'Z', b"I")].concat();
        assert!(reply_end(&bytes).is_err());
    }

    #[test]
    fn the_request_carries_its_value_where_it_says() {
        let (mut bytes, at) = request();
        bytes[at..at + 4].copy_from_slice(&0x0102_0304i32.to_be_bytes());
        // Bind, then its portal "" and statement "s".
        assert_eq!(&bytes[..1], b"B");
        assert_eq!(&bytes[5..8], b"\0s\0");
        assert_eq!(&bytes[at..at + 4], &[1, 2, 3, 4]);
        let bind_len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
        assert_eq!(bytes[1 + bind_len], b'E');
        assert_eq!(&bytes[bytes.len() - 5..], &[b'S', 0, 0, 0, 4]);
    }
}
