//! Built-in scalar types against a real server: every value sent as a
//! parameter comes back equal, and the server's text output of it is the
//! expected text; server-produced edge values decode to what the server
//! prints.

use std::fmt::Debug;
use std::net::IpAddr;
use std::time::Duration;

use pgline::Client;
use pgline::types::{
    Decode, Encode, PgBits, PgDate, PgInet, PgInterval, PgMacAddr, PgMacAddr8, PgMoney, PgNumeric,
    PgTime, PgTimeTz, PgTimestamp, PgTimestampTz, PgUuid, Type,
};

async fn connect() -> Client {
    let server = pgline_testkit::shared();
    let client = pgline::connect(&server.url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect to the shared test server");
    client
        .batch_execute("SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET lc_monetary = 'C'")
        .await
        .unwrap();
    client
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("operation did not finish within 60 s")
}

/// Sends `value` as `$1::sql_type`, reads it back and reads the server's
/// text of it.
async fn round_trip<T>(client: &Client, sql_type: &str, value: T, text: &str)
where
    T: Encode + Sync + for<'a> Decode<'a> + PartialEq + Debug,
{
    let sql = format!("SELECT $1::{sql_type}, $1::{sql_type}::text");
    let row = bounded(client.query_one(sql.as_str(), &[&value]))
        .await
        .unwrap_or_else(|e| panic!("{sql_type} {value:?}: {e}"));
    let back: T = row.get(0).unwrap();
    assert_eq!(back, value, "{sql_type}");
    assert_eq!(row.get::<&str>(1).unwrap(), text, "{sql_type} {value:?}");
}

/// Reads `expr` and its server text; checks `decoded.to_string()` against
/// the text.
async fn server_value<T>(client: &Client, expr: &str) -> (T, String)
where
    T: for<'a> Decode<'a> + std::fmt::Display,
{
    let sql = format!("SELECT {expr}, ({expr})::text");
    let row = bounded(client.query_one(sql.as_str(), &[])).await.unwrap();
    let v: T = row.get(0).unwrap();
    let text: String = row.get(1).unwrap();
    assert_eq!(v.to_string(), text, "{expr}");
    (v, text)
}

#[tokio::test]
async fn integers_bool_oid_char_void() {
    let c = connect().await;
    round_trip(&c, "bool", true, "true").await;
    round_trip(&c, "int2", i16::MIN, "-32768").await;
    round_trip(&c, "int4", i32::MAX, "2147483647").await;
    round_trip(&c, "int8", i64::MIN, "-9223372036854775808").await;
    round_trip(&c, "oid", u32::MAX, "4294967295").await;
    round_trip(&c, "\"char\"", b'z' as i8, "z").await;
    let row = c.query_one("SELECT pg_sleep(0)", &[]).await.unwrap();
    assert_eq!(row.get::<()>(0).unwrap(), ());
    assert_eq!(row.columns()[0].type_(), Type::VOID);
}

#[tokio::test]
async fn floats_and_specials() {
    let c = connect().await;
    round_trip(&c, "float8", 1.5e300, "1.5e+300").await;
    round_trip(&c, "float4", -0.25f32, "-0.25").await;
    round_trip(&c, "float8", f64::INFINITY, "Infinity").await;
    round_trip(&c, "float8", f64::NEG_INFINITY, "-Infinity").await;
    let row = c
        .query_one(
            "SELECT $1::float8::text, 'NaN'::float8, '-0'::float8, '-Infinity'::float4",
            &[&f64::NAN],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "NaN");
    assert!(row.get::<f64>(1).unwrap().is_nan());
    let z = row.get::<f64>(2).unwrap();
    assert!(z == 0.0 && z.is_sign_negative());
    assert_eq!(row.get::<f32>(3).unwrap(), f32::NEG_INFINITY);
}

/// Every row of the float8 fixture: the bits sent as a binary float8 are
/// printed by the server as the expected text, and read back bit for bit.
#[tokio::test]
async fn float8_fixture_bits_to_text() {
    let c = connect().await;
    let fixture = include_str!("../src/types/fixtures/float8_bits_to_text.tsv");
    let cases: Vec<(f64, &str)> = fixture
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("section"))
        .map(|l| {
            let mut cols = l.split('\t');
            let _section = cols.next();
            let bits = u64::from_str_radix(cols.next().unwrap(), 16).unwrap();
            (f64::from_bits(bits), cols.next().unwrap())
        })
        .collect();
    assert_eq!(cases.len(), 227);
    let values: Vec<f64> = cases.iter().map(|c| c.0).collect();
    let rows = c
        .query(
            "SELECT v, v::text FROM unnest($1::float8[]) WITH ORDINALITY AS u(v, n) ORDER BY n",
            &[&values],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), cases.len());
    for (row, (value, text)) in rows.iter().zip(&cases) {
        assert_eq!(row.get::<f64>(0).unwrap().to_bits(), value.to_bits());
        assert_eq!(row.get::<&str>(1).unwrap(), *text);
    }
}

#[tokio::test]
async fn numeric_round_trips_and_edges() {
    let c = connect().await;
    for text in [
        "0",
        "0.000",
        "-555.50",
        "12345678901234567890.123456789",
        "0.00001",
        "NaN",
        "Infinity",
        "-Infinity",
        "10000",
        "9999.9999",
    ] {
        round_trip(&c, "numeric", text.parse::<PgNumeric>().unwrap(), text).await;
    }
    for expr in [
        "0::numeric",
        "'-0'::numeric",
        "'NaN'::numeric",
        "'Infinity'::numeric",
        "'-Infinity'::numeric",
        "'1e-16383'::numeric",
        "'-15e-16383'::numeric",
        "repeat('9', 131072)::numeric",
        "('1' || repeat('0', 131071) || '.' || repeat('7', 16383))::numeric",
        "2::numeric / 3",
        "'1.2300'::numeric(10,4)",
    ] {
        let (_v, _t): (PgNumeric, _) = server_value(&c, expr).await;
    }
    // The regression cases of the fixture that the server accepts.
    let fixture = include_str!("../src/types/fixtures/type_io_cases.jsonl");
    for line in fixture
        .lines()
        .filter(|l| l.contains("\"type\": \"numeric\"") && l.contains("\"expect\": \"ok\""))
    {
        let input = json_field(line, "input");
        let output = json_field(line, "output");
        let parsed: PgNumeric = input.parse().unwrap();
        assert_eq!(parsed.to_string(), output);
        round_trip(&c, "numeric", parsed, output).await;
    }
}

fn json_field<'a>(line: &'a str, key: &str) -> &'a str {
    let tag = format!("\"{key}\": \"");
    let start = line.find(&tag).unwrap() + tag.len();
    let end = start + line[start..].find('"').unwrap();
    &line[start..end]
}

#[tokio::test]
async fn text_like_and_bytea() {
    let c = connect().await;
    round_trip(&c, "text", "héllo wörld".to_owned(), "héllo wörld").await;
    round_trip(&c, "varchar", "v".to_owned(), "v").await;
    // bpchar's cast to text drops the padding.
    round_trip(&c, "bpchar(3)", "ab ".to_owned(), "ab").await;
    round_trip(&c, "name", "pg_class".to_owned(), "pg_class").await;
    round_trip(&c, "xml", "<a>1</a>".to_owned(), "<a>1</a>").await;
    round_trip(&c, "bytea", vec![0u8, 1, 255], "\\x0001ff").await;
    let row = c
        .query_one("SELECT 'x'::text, 'y'::bpchar, 'unknown literal'", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "x");
    assert_eq!(row.get::<String>(1).unwrap(), "y");
    assert_eq!(row.get::<&str>(2).unwrap(), "unknown literal");
}

#[tokio::test]
async fn uuid_and_json() {
    let c = connect().await;
    let u: PgUuid = "A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11".parse().unwrap();
    round_trip(&c, "uuid", u, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11").await;
    round_trip(&c, "json", "{\"a\": [1, 2]}".to_owned(), "{\"a\": [1, 2]}").await;
    round_trip(&c, "jsonb", "{\"a\": [1, 2]}".to_owned(), "{\"a\": [1, 2]}").await;
    // jsonb normalises: the decoded text is the server's text.
    let row = c
        .query_one("SELECT '{\"b\":1,  \"a\":\"\\u00e9\\ud83d\\ude00\"}'::jsonb, '{\"b\":1,  \"a\":\"\\u00e9\\ud83d\\ude00\"}'::jsonb::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), row.get::<&str>(1).unwrap());
    assert_eq!(row.get::<&str>(0).unwrap(), "{\"a\": \"é😀\", \"b\": 1}");
}

#[tokio::test]
async fn dates_and_times() {
    let c = connect().await;
    let d = PgDate::from_ymd(2024, 2, 29).unwrap();
    round_trip(&c, "date", d, "2024-02-29").await;
    round_trip(
        &c,
        "date",
        PgDate::from_ymd(-43, 3, 15).unwrap(),
        "0044-03-15 BC",
    )
    .await;
    round_trip(&c, "date", PgDate::INFINITY, "infinity").await;
    round_trip(&c, "date", PgDate::NEG_INFINITY, "-infinity").await;
    let t = PgTime::from_hms_micro(23, 59, 59, 123_400).unwrap();
    round_trip(&c, "time", t, "23:59:59.1234").await;
    let tz = PgTimeTz {
        time: t,
        utc_offset_seconds: -(3 * 3600 + 30 * 60),
    };
    round_trip(&c, "timetz", tz, "23:59:59.1234-03:30").await;
    let ts = PgTimestamp::new(d, t).unwrap();
    round_trip(&c, "timestamp", ts, "2024-02-29 23:59:59.1234").await;
    round_trip(
        &c,
        "timestamptz",
        PgTimestampTz::from_micros(ts.micros()),
        "2024-02-29 23:59:59.1234+00",
    )
    .await;
    round_trip(&c, "timestamp", PgTimestamp::INFINITY, "infinity").await;
    round_trip(&c, "timestamptz", PgTimestampTz::NEG_INFINITY, "-infinity").await;
    for expr in [
        "'4713-01-01 BC'::date",
        "'5874897-12-31'::date",
        "'infinity'::date",
        "'0001-12-31 BC'::date",
    ] {
        let _: (PgDate, _) = server_value(&c, expr).await;
    }
    for expr in [
        "'4713-01-01 00:00:00 BC'::timestamp",
        "'294276-12-31 23:59:59.999999'::timestamp",
        "'-infinity'::timestamp",
        "'0001-01-01 00:00:00.5 BC'::timestamp",
    ] {
        let _: (PgTimestamp, _) = server_value(&c, expr).await;
    }
    for expr in [
        "'4713-01-01 00:00:00+00 BC'::timestamptz",
        "'294276-12-31 23:59:59.999999+00'::timestamptz",
        "'2000-06-01 12:00:00+05:30'::timestamptz",
    ] {
        let _: (PgTimestampTz, _) = server_value(&c, expr).await;
    }
    let _: (PgTimeTz, _) = server_value(&c, "'12:00:01.5+05:45:30'::timetz").await;
    let _: (PgTime, _) = server_value(&c, "'24:00:00'::time").await;
}

#[tokio::test]
async fn intervals_with_mixed_signs() {
    let c = connect().await;
    let i = PgInterval {
        months: 14,
        days: -3,
        microseconds: 3_723_000_001,
    };
    round_trip(&c, "interval", i, "1 year 2 mons -3 days +01:02:03.000001").await;
    for expr in [
        "'0'::interval",
        "'-1 year -2 months'::interval",
        "'1 year -2 days 3 hours'::interval",
        "'-1 day +02:00:00'::interval",
        "'1 day -00:00:01.5'::interval",
        "'-178956970 years -8 months -2147483648 days'::interval",
        "'178956970 years 7 months 2147483647 days 2562047788:00:54.775806'::interval",
        "'-2562047788:00:54.775807'::interval",
        "'100 hours'::interval",
        "'1 mon'::interval",
    ] {
        let _: (PgInterval, _) = server_value(&c, expr).await;
    }
    // PostgreSQL 17 made the all-maximum and all-minimum values infinite; before, they
    // were finite intervals (printed as such by the server, as infinity by pgline).
    if pgline_testkit::shared().major_version().unwrap() >= 17 {
        let (max, _) = server_value::<PgInterval>(&c, "'infinity'::interval").await;
        assert_eq!(max, PgInterval::INFINITY);
        let (min, _) = server_value::<PgInterval>(&c, "'-infinity'::interval").await;
        assert_eq!(min, PgInterval::NEG_INFINITY);
        round_trip(&c, "interval", PgInterval::INFINITY, "infinity").await;
    }
}

#[tokio::test]
async fn network_bits_money() {
    let c = connect().await;
    let host: IpAddr = "192.168.0.1".parse().unwrap();
    // inet's cast to text always shows the prefix (its output function does not).
    round_trip(&c, "inet", host, "192.168.0.1/32").await;
    let net = PgInet {
        addr: "2001:db8::".parse().unwrap(),
        prefix: 32,
    };
    round_trip(&c, "cidr", net, "2001:db8::/32").await;
    round_trip(
        &c,
        "inet",
        PgInet {
            addr: "10.0.0.1".parse().unwrap(),
            prefix: 8,
        },
        "10.0.0.1/8",
    )
    .await;
    round_trip(
        &c,
        "macaddr",
        PgMacAddr([8, 0, 0x2b, 1, 2, 3]),
        "08:00:2b:01:02:03",
    )
    .await;
    round_trip(
        &c,
        "macaddr8",
        PgMacAddr8([8, 0, 0x2b, 1, 2, 3, 4, 5]),
        "08:00:2b:01:02:03:04:05",
    )
    .await;
    let bits = PgBits::from_bits([true, false, true, true, false, false, false, false, true]);
    round_trip(&c, "varbit", bits.clone(), "101100001").await;
    round_trip(&c, "bit(9)", bits, "101100001").await;
    round_trip(&c, "money", PgMoney(-12345), "-$123.45").await;
    let _: (PgInet, _) = server_value(&c, "'::ffff:1.2.3.4/120'::inet").await;
    let _: (PgBits, _) = server_value(&c, "B'1'::bit(1)").await;
}

#[tokio::test]
async fn type_errors_name_column_rust_and_pg_types() {
    let c = connect().await;
    let row = c
        .query_one(
            "SELECT NULL::int4 AS n, 5000000000::int8 AS big, 'x'::text AS t",
            &[],
        )
        .await
        .unwrap();
    let err = row.try_get::<i32>("n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 0 (\"n\"): NULL cannot be decoded into i32 (column type int4); use Option<i32>"
    );
    let err = row.try_get::<i32>("big").unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 1 (\"big\"): the int8 value is out of range for i32"
    );
    assert_eq!(err.pg_type(), Some(Type::INT8));
    let err = row.try_get::<i32>("t").unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 2 (\"t\"): a text value cannot be decoded into i32"
    );
    let err = row.try_get::<i32>("nope").unwrap_err();
    assert_eq!(
        err.to_string(),
        "no column \"nope\" in the row (building i32)"
    );
    // The same through Row::get's pgline::Error.
    let err = row.get::<i32>("big").unwrap_err();
    assert!(err.to_string().contains("int8") && err.to_string().contains("i32"));
    assert_eq!(row.get::<i64>("big").unwrap(), 5_000_000_000);
}

#[tokio::test]
async fn column_metadata() {
    let c = connect().await;
    c.batch_execute("CREATE TEMP TABLE meta_t (a int4, b text)")
        .await
        .unwrap();
    let row = c
        .query_one(
            "SELECT b, a, 1 AS lit FROM meta_t RIGHT JOIN (SELECT 1) s ON true",
            &[],
        )
        .await
        .unwrap();
    let cols = row.columns();
    assert_eq!(cols[0].name(), "b");
    assert_eq!(cols[0].type_(), Type::TEXT);
    assert_eq!(cols[0].column_id(), 2);
    assert_eq!(cols[1].column_id(), 1);
    assert_ne!(cols[0].table_oid(), 0);
    assert_eq!(cols[2].table_oid(), 0);
}

/// `std::time::SystemTime` is a `timestamptz` with no feature: the server
/// reads what was sent, answers with the same instant, and `now()` decodes
/// to the system clock's reading (within a wide margin: the server runs on
/// this machine).
#[tokio::test]
async fn system_time_is_timestamptz_without_a_feature() {
    use std::time::{SystemTime, UNIX_EPOCH};

    let client = connect().await;
    client.batch_execute("SET TimeZone = 'UTC'").await.unwrap();
    let cases = [
        (UNIX_EPOCH, "1970-01-01 00:00:00+00"),
        (
            UNIX_EPOCH + Duration::from_micros(946_684_800_000_001),
            "2000-01-01 00:00:00.000001+00",
        ),
        (
            UNIX_EPOCH - Duration::from_secs(86_400 * 365),
            "1969-01-01 00:00:00+00",
        ),
    ];
    for (t, text) in cases {
        let row = client
            .query_one(
                "SELECT $1::timestamptz::text, $2::text::timestamptz",
                &[&t, &text],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<&str>(0).unwrap(), text);
        assert_eq!(row.get::<SystemTime>(1).unwrap(), t);
    }
    let before = SystemTime::now();
    let server_now: SystemTime = client
        .query_one("SELECT clock_timestamp()", &[])
        .await
        .unwrap()
        .get(0)
        .unwrap();
    let after = SystemTime::now();
    assert!(
        server_now + Duration::from_secs(60) > before
            && server_now < after + Duration::from_secs(60)
    );
    let err = client
        .query_one("SELECT 'infinity'::timestamptz", &[])
        .await
        .unwrap()
        .get::<SystemTime>(0)
        .unwrap_err();
    assert!(err.to_string().contains("SystemTime"), "{err}");
}
