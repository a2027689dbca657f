//! Property tests against a real server: random integers, floats, numerics,
//! text, bytea, timestamps, intervals and arrays are sent as parameters,
//! read back equal, and the server's text of each equals ours (or the
//! expected one).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use pgline::Client;
use pgline::types::{PgInterval, PgNumeric, PgTimestamp, PgTimestampTz};

struct Harness {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Harness {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = pgline_testkit::shared();
        let client = rt
            .block_on(pgline::connect(&server.url(
                "pgline",
                Some("pgline-secret"),
                "pgline",
            )))
            .unwrap();
        rt.block_on(client.batch_execute("SET TIME ZONE 'UTC'; SET extra_float_digits = 1"))
            .unwrap();
        Self { rt, client }
    }

    /// `SELECT $1::ty, $1::ty::text`: the value back and the server's text.
    fn echo<T>(&self, ty: &str, value: &T) -> (T, String)
    where
        T: pgline::types::Encode + Sync + for<'a> pgline::types::Decode<'a>,
    {
        let sql = format!("SELECT $1::{ty}, $1::{ty}::text");
        let row = self
            .rt
            .block_on(self.client.query_one(sql.as_str(), &[value]))
            .unwrap();
        (row.get(0).unwrap(), row.get(1).unwrap())
    }
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn integers() {
    let h = Harness::new();
    runner()
        .run(&(any::<i16>(), any::<i32>(), any::<i64>()), |(a, b, c)| {
            prop_assert_eq!(h.echo("int2", &a), (a, a.to_string()));
            prop_assert_eq!(h.echo("int4", &b), (b, b.to_string()));
            prop_assert_eq!(h.echo("int8", &c), (c, c.to_string()));
            Ok(())
        })
        .unwrap();
}

#[test]
fn floats() {
    let h = Harness::new();
    runner()
        .run(&any::<f64>(), |v| {
            let (back, text) = h.echo("float8", &v);
            prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()));
            let parsed: f64 = match text.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                t => t.parse().unwrap(),
            };
            prop_assert!(parsed.to_bits() == v.to_bits() || (v.is_nan() && parsed.is_nan()));
            Ok(())
        })
        .unwrap();
    runner()
        .run(&any::<f32>(), |v| {
            let (back, _) = h.echo("float4", &v);
            prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()));
            Ok(())
        })
        .unwrap();
}

#[test]
fn numerics() {
    let h = Harness::new();
    let strategy = (
        any::<bool>(),
        "[0-9]{1,40}",
        proptest::option::of("[0-9]{0,40}"),
        proptest::option::of(-60i32..60),
    );
    runner()
        .run(&strategy, |(neg, int, frac, exp)| {
            let mut s = String::new();
            if neg {
                s.push('-');
            }
            s.push_str(&int);
            if let Some(f) = &frac {
                s.push('.');
                s.push_str(f);
            }
            if let Some(e) = exp {
                s.push_str(&format!("e{e}"));
            }
            let n: PgNumeric = s.parse().unwrap();
            let (back, text) = h.echo("numeric", &n);
            prop_assert_eq!(&back, &n);
            prop_assert_eq!(n.to_string(), text);
            Ok(())
        })
        .unwrap();
}

#[test]
fn text_and_bytea() {
    let h = Harness::new();
    runner()
        .run(&"[^\u{0}]{0,64}", |s: String| {
            prop_assert_eq!(h.echo("text", &s), (s.clone(), s.clone()));
            Ok(())
        })
        .unwrap();
    runner()
        .run(&proptest::collection::vec(any::<u8>(), 0..64), |b| {
            let (back, text) = h.echo("bytea", &b);
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            prop_assert_eq!(back, b);
            prop_assert_eq!(text, format!("\\x{hex}"));
            Ok(())
        })
        .unwrap();
}

/// The server's timestamp range, in microseconds since 2000-01-01.
const TS_MIN: i64 = -211_813_488_000_000_000;
const TS_MAX: i64 = 9_223_371_331_200_000_000 - 1;

#[test]
fn timestamps() {
    let h = Harness::new();
    runner()
        .run(&(TS_MIN..TS_MAX), |us| {
            let ts = PgTimestamp::from_micros(us);
            let (back, text) = h.echo("timestamp", &ts);
            prop_assert_eq!(back, ts);
            prop_assert_eq!(ts.to_string(), text);
            let tz = PgTimestampTz::from_micros(us);
            let (back, text) = h.echo("timestamptz", &tz);
            prop_assert_eq!(back, tz);
            prop_assert_eq!(tz.to_string(), text);
            Ok(())
        })
        .unwrap();
}

#[test]
fn intervals() {
    let h = Harness::new();
    let strategy = (
        -1_000_000i32..1_000_000,
        -1_000_000i32..1_000_000,
        -1_000_000_000_000_000i64..1_000_000_000_000_000,
    );
    runner()
        .run(&strategy, |(months, days, microseconds)| {
            let i = PgInterval {
                months,
                days,
                microseconds,
            };
            let (back, text) = h.echo("interval", &i);
            prop_assert_eq!(back, i);
            prop_assert_eq!(i.to_string(), text);
            Ok(())
        })
        .unwrap();
}

#[test]
fn arrays() {
    let h = Harness::new();
    let strategy = proptest::collection::vec(proptest::option::of(any::<i32>()), 0..20);
    runner()
        .run(&strategy, |v| {
            let (back, text) = h.echo("int4[]", &v);
            let expected: Vec<String> = v
                .iter()
                .map(|e| e.map_or("NULL".to_owned(), |x| x.to_string()))
                .collect();
            prop_assert_eq!(back, v);
            prop_assert_eq!(text, format!("{{{}}}", expected.join(",")));
            Ok(())
        })
        .unwrap();
    let strings = proptest::collection::vec("[a-z]{1,8}", 0..10);
    runner()
        .run(&strings, |v: Vec<String>| {
            let (back, _) = h.echo("text[]", &v);
            prop_assert_eq!(back, v);
            Ok(())
        })
        .unwrap();
}
