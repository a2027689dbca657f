//! The floor under a point select on this machine: the same prepared
//! `SELECT $1::int4` round trip made by the least code that can make it,
//! next to pgline and libpq, in rounds of rotating order on one throwaway
//! server.
//!
//! - `blocking`: a blocking `std` socket writing pre-encoded Bind, Execute
//!   and Sync and reading until ReadyForQuery (what any driver must do, and
//!   nothing else);
//! - `tokio-raw`: the same bytes through a tokio socket on a
//!   current-thread runtime (what any driver on tokio must do);
//! - `proto`: the same round trip through pgline's codec alone on that
//!   tokio socket: each request encoded by `proto::frontend` and
//!   `types::Encode`, each reply split into frames, decoded by
//!   `BackendMessage::parse` and its value by `types::Decode` (what the
//!   connection layer adds above the codec is the gap to `pgline`);
//! - `pgline`: `Client::query_one` of the prepared statement;
//! - `libpq`: `PQexecPrepared`.
//!
//! The `blocking` and `tokio-raw` shapes' messages are encoded once,
//! before the loop, by `pgline::proto::frontend`; their replies are
//! scanned by hand (tag and length only), so their measured loop runs no
//! driver code.
//!
//! The server trusts the connection (no password), as the login is not in
//! the loop. CPU is `getrusage` of the process over the measured loop.
//!
//! Every shape connects over TCP to 127.0.0.1, or with `unix` over the
//! server's unix-domain socket (where the kernel's share of a round trip is
//! smaller, so the client's own code weighs more):
//!
//! ```text
//! cargo run --release --bin floor [-- ROUNDS QUERIES [tcp|unix] [SHAPE]]
//! ```
//!
//! With a `SHAPE` (one of the names above) only that shape runs, and only
//! its own medians are printed: the form for counting one shape's
//! instructions under `valgrind --tool=callgrind`, where the other shapes'
//! would be counted too.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bytes::{BufMut, BytesMut};
use pgline::proto::frontend::{self, IsNull, ProtocolVersion};
use pgline::proto::{BackendMessage, DEFAULT_MAX_MESSAGE_LEN, FrameSplitter};
use pgline::types::{Decode, Encode, Type};
use pgline_benches::BenchError;
use pgline_benches::cli::count_arg;
use pgline_benches::libpq::{Int4Param, PqConn};
use pgline_benches::measure::{Meter, Sample};
use pgline_benches::stats::{median, median_interval, ratio};
use pgline_benches::workloads::pgline_client_at;
use pgline_benches::workloads::point_select::decode_int4;
use pgline_testkit::ServerBuilder;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const SQL: &str = "SELECT $1::int4";
/// The type of the statement's one parameter.
const INT4_OID: u32 = 23;
const SHAPES: [&str; 5] = ["blocking", "tokio-raw", "proto", "pgline", "libpq"];
/// How long the login and the prepare may take before the run fails as
/// stuck.
const STUCK: std::time::Duration = std::time::Duration::from_secs(30);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("floor: {err}");
            ExitCode::FAILURE
        }
    }
}

fn bench_err(e: impl std::fmt::Display) -> BenchError {
    BenchError::new(e.to_string())
}

/// Where every shape connects.
#[derive(Debug)]
enum Target {
    /// `host:port` over TCP.
    Tcp(String),
    /// The server's unix socket file.
    Unix(PathBuf),
}

/// The transport argument (the third): `tcp` (the default) or `unix`.
fn transport() -> Result<bool, BenchError> {
    match std::env::args().nth(3).as_deref() {
        None | Some("tcp") => Ok(false),
        Some("unix") => Ok(true),
        Some(_) => Err(BenchError::new("the transport is tcp or unix")),
    }
}

/// The shapes to run: every one, or the one the fourth argument names.
fn shapes() -> Result<Vec<usize>, BenchError> {
    match std::env::args().nth(4) {
        None => Ok((0..SHAPES.len()).collect()),
        Some(name) => match SHAPES.iter().position(|s| *s == name) {
            Some(i) => Ok(vec![i]),
            None => Err(BenchError::new(format!(
                "the shape is one of {}",
                SHAPES.join(", ")
            ))),
        },
    }
}

fn run() -> Result<(), BenchError> {
    let rounds = count_arg(1, 9)? as usize;
    let queries = count_arg(2, 20_000)?;
    let unix = transport()?;
    let selected = shapes()?;
    let server = ServerBuilder::new()
        .setting("fsync", "off")
        .setting("synchronous_commit", "off")
        .start()
        .map_err(bench_err)?;
    let user = server.superuser().to_owned();
    // Both without TLS (the server has none): `sslmode=disable` is in each.
    let (kv, target) = if unix {
        let socket = server
            .socket_dir()
            .join(format!(".s.PGSQL.{}", server.port()));
        (
            server.unix_key_value(&user, None, "postgres"),
            Target::Unix(socket),
        )
    } else {
        (
            server.key_value(&user, None, "postgres"),
            Target::Tcp(format!("{}:{}", server.host(), server.port())),
        )
    };
    println!("over {}\n", if unix { "the unix socket" } else { "TCP" });
    let names: Vec<&str> = selected.iter().map(|&i| SHAPES[i]).collect();
    println!("| round | {} |", names.join(" | "));
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); SHAPES.len()];
    for round in 0..rounds {
        let mut order = selected.clone();
        order.rotate_left(round % selected.len());
        let mut row = vec![String::new(); SHAPES.len()];
        for shape in order {
            let sample = match shape {
                0 => blocking(&target, &user, queries)?,
                1 => on_tokio(&target, &user, queries, OnTokio::Raw)?,
                2 => on_tokio(&target, &user, queries, OnTokio::Proto)?,
                3 => pgline_loop(&kv, queries)?,
                _ => libpq_loop(&kv, queries)?,
            };
            row[shape] = format!(
                "{:.0}/s {:.2} µs",
                sample.throughput(),
                sample.cpu_us_per_op()
            );
            samples[shape].push(sample);
        }
        let row: Vec<&str> = selected.iter().map(|&i| row[i].as_str()).collect();
        println!("| {} | {} |", round + 1, row.join(" | "));
    }
    if let [only] = selected[..] {
        alone(SHAPES[only], &samples[only]);
        return Ok(());
    }
    let libpq = SHAPES.len() - 1;
    println!(
        "\n| shape | queries/s ÷ libpq | 95 % interval | CPU/query ÷ libpq | 95 % interval | CPU µs/query | user µs/query |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (i, name) in SHAPES.iter().enumerate() {
        let ratios = |f: fn(&Sample) -> f64| -> Vec<f64> {
            (0..rounds)
                .filter_map(|k| ratio(f(&samples[i][k]), f(&samples[libpq][k])))
                .collect()
        };
        let (tput, cpu) = (ratios(Sample::throughput), ratios(Sample::cpu_us_per_op));
        let us = |f| median_of(&samples[i], f);
        println!(
            "| {name} | {:.3} | {} | {:.3} | {} | {:.2} | {:.2} |",
            median(&tput).unwrap_or(f64::NAN),
            interval(&tput),
            median(&cpu).unwrap_or(f64::NAN),
            interval(&cpu),
            us(Sample::cpu_us_per_op),
            us(Sample::cpu_user_us_per_op)
        );
    }
    Ok(())
}

/// The median of one figure of a shape's rounds (NaN with none).
fn median_of(samples: &[Sample], figure: fn(&Sample) -> f64) -> f64 {
    let values: Vec<f64> = samples.iter().map(figure).collect();
    median(&values).unwrap_or(f64::NAN)
}

/// The medians of one shape run alone (no peer to divide by).
fn alone(name: &str, samples: &[Sample]) {
    let of = |f| median_of(samples, f);
    println!("\n| shape | queries/s | CPU µs/query | user µs/query |");
    println!("|---|---:|---:|---:|");
    println!(
        "| {name} | {:.0} | {:.2} | {:.2} |",
        of(Sample::throughput),
        of(Sample::cpu_us_per_op),
        of(Sample::cpu_user_us_per_op)
    );
}

/// The 95 % interval of a median ratio as `lo–hi`, or `–` under 6 rounds.
fn interval(ratios: &[f64]) -> String {
    median_interval(ratios).map_or_else(|| "–".to_owned(), |(lo, hi)| format!("{lo:.3}–{hi:.3}"))
}

/// StartupMessage (protocol 3.0) for `user` on database `postgres`.
fn startup(user: &str) -> Result<Vec<u8>, BenchError> {
    let mut out = BytesMut::new();
    frontend::startup_message(
        &mut out,
        ProtocolVersion::V3_0,
        [("user", user), ("database", "postgres")],
    )
    .map_err(bench_err)?;
    Ok(out.to_vec())
}

/// Parse of statement `s` (one int4 parameter) and Sync.
fn prepare() -> Result<Vec<u8>, BenchError> {
    let mut out = BytesMut::new();
    frontend::parse(&mut out, "s", SQL, &[INT4_OID]).map_err(bench_err)?;
    frontend::sync(&mut out);
    Ok(out.to_vec())
}

/// Bind/Execute/Sync of `s` with a binary int4 (and binary results), and
/// where in those bytes the int4 sits, to be rewritten for each request.
fn request() -> Result<(Vec<u8>, usize), BenchError> {
    let mut out = BytesMut::new();
    let mut at = 0;
    frontend::bind(
        &mut out,
        "",
        "s",
        &[1],
        1,
        |_, out| {
            at = out.len();
            out.put_i32(0);
            Ok::<_, std::convert::Infallible>(IsNull::No)
        },
        &[1],
    )
    .map_err(bench_err)?;
    frontend::execute(&mut out, "", 0).map_err(bench_err)?;
    frontend::sync(&mut out);
    Ok((out.to_vec(), at))
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
            // An authentication request other than AuthenticationOk: the
            // bench speaks no password exchange, and would wait forever.
            b'R' if buf.get(at + 5..at + 9) != Some(&[0, 0, 0, 0][..]) => {
                return Err(BenchError::new("the server asks for a password"));
            }
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

/// One shape's loop: a tenth of `n` warm-up requests, then `n` measured;
/// counts the replies that carried the value their request sent.
struct Run {
    next: u64,
    n: u64,
    meter: Option<Meter>,
    matched: u64,
}

impl Run {
    fn new(n: u64) -> Self {
        Self {
            next: 0,
            n,
            meter: None,
            matched: 0,
        }
    }

    /// The next request's value, starting the meter after the warm-up;
    /// `None` when every request has been made.
    fn next_value(&mut self) -> Option<i32> {
        let warmup = self.n / 10;
        if self.next == warmup + self.n {
            return None;
        }
        if self.next == warmup {
            self.meter = Some(Meter::start());
        }
        let value = (self.next % 1000) as i32;
        self.next += 1;
        Some(value)
    }

    /// Records whether a reply carried its request's value.
    fn record(&mut self, matched: bool) {
        self.matched += u64::from(matched);
    }

    /// The measured stretch, if every reply matched.
    fn finish(self) -> Result<Sample, BenchError> {
        let sample = self
            .meter
            .ok_or_else(|| BenchError::new("nothing measured"))?
            .stop(self.n);
        if self.matched != self.next {
            return Err(BenchError::new(format!(
                "{} of {} replies matched",
                self.matched, self.next
            )));
        }
        Ok(sample)
    }
}

/// After `got` more bytes arrived in `buf[..*filled]`: the reply's int4
/// once its ReadyForQuery is in, `None` while it is not.
fn received(buf: &[u8], filled: &mut usize, got: usize) -> Result<Option<i32>, BenchError> {
    if got == 0 {
        return Err(BenchError::new("server closed"));
    }
    *filled += got;
    match reply_end(&buf[..*filled])? {
        Some((end, _)) if end != *filled => Err(BenchError::new("more than one reply")),
        Some((_, value)) => Ok(Some(value)),
        None => Ok(None),
    }
}

/// Writes `out` and reads its one reply on a blocking socket.
fn exchange(s: &mut impl BlockingSocket, buf: &mut [u8], out: &[u8]) -> Result<i32, BenchError> {
    s.write_all(out).map_err(bench_err)?;
    let mut filled = 0;
    loop {
        let got = s.read(&mut buf[filled..]).map_err(bench_err)?;
        if let Some(value) = received(buf, &mut filled, got)? {
            return Ok(value);
        }
    }
}

/// [`exchange`] on a tokio socket.
async fn exchange_async(
    s: &mut (impl AsyncRead + AsyncWrite + Unpin),
    buf: &mut [u8],
    out: &[u8],
) -> Result<i32, BenchError> {
    s.write_all(out).await.map_err(bench_err)?;
    let mut filled = 0;
    loop {
        let got = s.read(&mut buf[filled..]).await.map_err(bench_err)?;
        if let Some(value) = received(buf, &mut filled, got)? {
            return Ok(value);
        }
    }
}

/// A blocking stream socket with a read deadline.
trait BlockingSocket: Read + Write {
    fn read_timeout(&self, limit: Option<std::time::Duration>) -> std::io::Result<()>;
}

impl BlockingSocket for std::net::TcpStream {
    fn read_timeout(&self, limit: Option<std::time::Duration>) -> std::io::Result<()> {
        self.set_read_timeout(limit)
    }
}

impl BlockingSocket for std::os::unix::net::UnixStream {
    fn read_timeout(&self, limit: Option<std::time::Duration>) -> std::io::Result<()> {
        self.set_read_timeout(limit)
    }
}

fn blocking(target: &Target, user: &str, n: u64) -> Result<Sample, BenchError> {
    match target {
        Target::Tcp(addr) => {
            let s = std::net::TcpStream::connect(addr).map_err(bench_err)?;
            s.set_nodelay(true).map_err(bench_err)?;
            blocking_loop(s, user, n)
        }
        Target::Unix(path) => {
            let s = std::os::unix::net::UnixStream::connect(path).map_err(bench_err)?;
            blocking_loop(s, user, n)
        }
    }
}

fn blocking_loop(mut s: impl BlockingSocket, user: &str, n: u64) -> Result<Sample, BenchError> {
    // The login and the prepare under a deadline, so a server that does not
    // answer fails the run; the measured loop without one (a timed wait
    // arms a kernel timer on every read).
    s.read_timeout(Some(STUCK)).map_err(bench_err)?;
    let mut buf = vec![0u8; 16 * 1024];
    exchange(&mut s, &mut buf, &startup(user)?)?;
    exchange(&mut s, &mut buf, &prepare()?)?;
    s.read_timeout(None).map_err(bench_err)?;
    let (mut req, at) = request()?;
    let mut run = Run::new(n);
    while let Some(v) = run.next_value() {
        req[at..at + 4].copy_from_slice(&v.to_be_bytes());
        run.record(exchange(&mut s, &mut buf, &req)? == v);
    }
    run.finish()
}

fn current_thread() -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(bench_err)
}

/// The two shapes that drive a tokio socket themselves.
#[derive(Debug, Clone, Copy)]
enum OnTokio {
    /// Pre-encoded requests, replies scanned by hand.
    Raw,
    /// pgline's codec alone.
    Proto,
}

/// Runs `shape` on a tokio socket to `target`, on a current-thread runtime.
fn on_tokio(target: &Target, user: &str, n: u64, shape: OnTokio) -> Result<Sample, BenchError> {
    current_thread()?.block_on(async {
        match target {
            Target::Tcp(addr) => {
                let s = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(bench_err)?;
                s.set_nodelay(true).map_err(bench_err)?;
                on_socket(s, user, n, shape).await
            }
            Target::Unix(path) => {
                let s = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(bench_err)?;
                on_socket(s, user, n, shape).await
            }
        }
    })
}

async fn on_socket(
    mut s: impl AsyncRead + AsyncWrite + Unpin,
    user: &str,
    n: u64,
    shape: OnTokio,
) -> Result<Sample, BenchError> {
    let mut buf = vec![0u8; 16 * 1024];
    // The login and the prepare under a deadline; the measured loop
    // without one, as a timer per request would be measured too.
    let login = async {
        exchange_async(&mut s, &mut buf, &startup(user)?).await?;
        exchange_async(&mut s, &mut buf, &prepare()?).await
    };
    tokio::time::timeout(STUCK, login)
        .await
        .map_err(|_| BenchError::new("the server did not answer the login"))??;
    match shape {
        OnTokio::Raw => raw_loop(&mut s, &mut buf, n).await,
        OnTokio::Proto => proto_loop(&mut s, n).await,
    }
}

async fn raw_loop(
    s: &mut (impl AsyncRead + AsyncWrite + Unpin),
    buf: &mut [u8],
    n: u64,
) -> Result<Sample, BenchError> {
    let (mut req, at) = request()?;
    let mut run = Run::new(n);
    while let Some(v) = run.next_value() {
        req[at..at + 4].copy_from_slice(&v.to_be_bytes());
        run.record(exchange_async(s, buf, &req).await? == v);
    }
    run.finish()
}

async fn proto_loop(
    s: &mut (impl AsyncRead + AsyncWrite + Unpin),
    n: u64,
) -> Result<Sample, BenchError> {
    let mut codec = Codec::new();
    let mut run = Run::new(n);
    while let Some(v) = run.next_value() {
        codec.encode(v)?;
        s.write_all(&codec.out).await.map_err(bench_err)?;
        let value = loop {
            if let Some(value) = codec.decode()? {
                break value;
            }
            if s.read_buf(&mut codec.input).await.map_err(bench_err)? == 0 {
                return Err(BenchError::new("server closed"));
            }
        };
        run.record(value == v);
    }
    run.finish()
}

/// The `proto` shape's request encoder and reply decoder, over buffers
/// kept from one request to the next.
struct Codec {
    out: BytesMut,
    input: BytesMut,
    splitter: FrameSplitter,
    /// The reply's value, once its DataRow is in.
    value: Option<i32>,
}

impl Codec {
    fn new() -> Self {
        Self {
            out: BytesMut::with_capacity(256),
            input: BytesMut::with_capacity(16 * 1024),
            splitter: FrameSplitter::new(DEFAULT_MAX_MESSAGE_LEN),
            value: None,
        }
    }

    /// Bind/Execute/Sync of statement `s` with `v`, replacing the last
    /// request.
    fn encode(&mut self, v: i32) -> Result<(), BenchError> {
        self.out.clear();
        frontend::bind(
            &mut self.out,
            "",
            "s",
            &[1],
            1,
            |_, out| v.encode(Type::INT4, out),
            &[1],
        )
        .map_err(bench_err)?;
        frontend::execute(&mut self.out, "", 0).map_err(bench_err)?;
        frontend::sync(&mut self.out);
        Ok(())
    }

    /// Decodes what `input` holds: the reply's value once its
    /// ReadyForQuery is in, `None` while it is not.
    fn decode(&mut self) -> Result<Option<i32>, BenchError> {
        while let Some(frame) = self.splitter.split(&mut self.input).map_err(bench_err)? {
            match BackendMessage::parse(frame).map_err(bench_err)? {
                BackendMessage::BindComplete | BackendMessage::CommandComplete(_) => {}
                BackendMessage::DataRow(row) => {
                    let raw = row
                        .field(0)
                        .ok_or_else(|| BenchError::new("a NULL value"))?;
                    self.value = Some(i32::decode(Type::INT4, raw).map_err(bench_err)?);
                }
                BackendMessage::ReadyForQuery(_) => {
                    if !self.input.is_empty() {
                        return Err(BenchError::new("more than one reply"));
                    }
                    return self
                        .value
                        .take()
                        .map(Some)
                        .ok_or_else(|| BenchError::new("a reply without a row"));
                }
                other => return Err(BenchError::new(format!("unexpected {other:?}"))),
            }
        }
        Ok(None)
    }
}

fn pgline_loop(kv: &str, n: u64) -> Result<Sample, BenchError> {
    current_thread()?.block_on(async {
        let client = pgline_client_at(kv).await?;
        let stmt = client.prepare(SQL).await.map_err(bench_err)?;
        let mut run = Run::new(n);
        while let Some(v) = run.next_value() {
            let row = client.query_one(&stmt, &[&v]).await.map_err(bench_err)?;
            run.record(row.get::<i32>(0).map_err(bench_err)? == v);
        }
        let sample = run.finish()?;
        client.close().await.map_err(bench_err)?;
        Ok(sample)
    })
}

fn libpq_loop(kv: &str, n: u64) -> Result<Sample, BenchError> {
    let conn = PqConn::connect(kv)?;
    conn.prepare_int4("s", SQL, 1)?;
    let mut run = Run::new(n);
    while let Some(v) = run.next_value() {
        let result = conn.exec_prepared_int4(c"s", Int4Param::new(v))?;
        run.record(decode_int4(result.value(0, 0))? == v);
    }
    run.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One backend message: tag, length, body.
    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

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
    fn a_password_request_is_an_error() {
        // AuthenticationMD5Password (5) with its salt.
        let bytes = message(b'R', &[0, 0, 0, 5, 1, 2, 3, 4]);
        assert!(reply_end(&bytes).is_err());
        let ok = [message(b'R', &[0, 0, 0, 0]), message(b'Z', b"I")].concat();
        assert_eq!(reply_end(&ok).unwrap(), Some((ok.len(), 0)));
    }

    #[test]
    fn an_error_response_is_an_error() {
        let bytes = [message(b'E', b"SERROR\0\0"), message(b'Z', b"I")].concat();
        assert!(reply_end(&bytes).is_err());
    }

    #[test]
    fn the_request_carries_its_value_where_it_says() {
        let (mut bytes, at) = request().unwrap();
        bytes[at..at + 4].copy_from_slice(&0x0102_0304i32.to_be_bytes());
        // Bind, then its portal "" and statement "s".
        assert_eq!(&bytes[..1], b"B");
        assert_eq!(&bytes[5..8], b"\0s\0");
        assert_eq!(&bytes[at..at + 4], &[1, 2, 3, 4]);
        let bind_len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
        assert_eq!(bytes[1 + bind_len], b'E');
        assert_eq!(&bytes[bytes.len() - 5..], &[b'S', 0, 0, 0, 4]);
    }

    #[test]
    fn a_run_warms_up_then_measures_and_checks_every_reply() {
        let mut run = Run::new(20);
        let mut values = Vec::new();
        while let Some(v) = run.next_value() {
            assert_eq!(run.meter.is_some(), values.len() >= 2);
            values.push(v);
            run.record(true);
        }
        assert_eq!(values.len(), 22);
        assert_eq!(run.finish().unwrap().ops, 20);
        let mut wrong = Run::new(20);
        while wrong.next_value().is_some() {
            wrong.record(false);
        }
        assert!(wrong.finish().is_err());
    }

    #[test]
    fn the_codec_sends_the_raw_request_and_reads_its_value() {
        let mut codec = Codec::new();
        codec.encode(77).unwrap();
        let (mut raw, at) = request().unwrap();
        raw[at..at + 4].copy_from_slice(&77i32.to_be_bytes());
        assert_eq!(&codec.out[..], &raw[..]);
        let bytes = reply(77);
        for cut in 0..bytes.len() {
            codec.input.extend_from_slice(&bytes[..cut]);
            assert_eq!(codec.decode().unwrap(), None, "cut at {cut}");
            codec.input.clear();
            codec.value = None;
        }
        codec.input.extend_from_slice(&bytes);
        assert_eq!(codec.decode().unwrap(), Some(77));
        assert!(codec.input.is_empty());
    }

    #[test]
    fn the_codec_refuses_an_error_two_replies_or_no_row() {
        let mut codec = Codec::new();
        let error = [message(b'E', b"SERROR\0\0"), message(b'Z', b"I")].concat();
        codec.input.extend_from_slice(&error);
        assert!(codec.decode().is_err());
        let mut codec = Codec::new();
        codec
            .input
            .extend_from_slice(&[reply(1), reply(2)].concat());
        assert!(codec.decode().is_err());
        let mut codec = Codec::new();
        let no_row = [message(b'2', &[]), message(b'Z', b"I")].concat();
        codec.input.extend_from_slice(&no_row);
        assert!(codec.decode().is_err());
    }

    #[test]
    fn a_reply_is_taken_once_whole_and_alone() {
        let bytes = reply(9);
        let mut filled = 0;
        assert_eq!(received(&bytes, &mut filled, 3).unwrap(), None);
        assert_eq!(
            received(&bytes, &mut filled, bytes.len() - 3).unwrap(),
            Some(9)
        );
        let two = [reply(1), reply(2)].concat();
        let mut filled = 0;
        assert!(received(&two, &mut filled, two.len()).is_err());
        assert!(received(&two, &mut 0, 0).is_err());
    }
}
