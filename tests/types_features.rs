//! The optional crate integrations against a real server (run with
//! `cargo test --all-features`): each value sent comes back equal and the
//! server prints the expected text.

#[allow(unused)]
async fn connect() -> pgline::Client {
    let server = pgline_testkit::shared();
    let client = pgline::connect(&server.url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect to the shared test server");
    client.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
    client
}

#[allow(unused)]
async fn round_trip<T>(client: &pgline::Client, sql_type: &str, value: T, text: &str)
where
    T: pgline::types::Encode
        + Sync
        + for<'a> pgline::types::Decode<'a>
        + PartialEq
        + std::fmt::Debug,
{
    let sql = format!("SELECT $1::{sql_type}, $1::{sql_type}::text");
    let row = client.query_one(sql.as_str(), &[&value]).await.unwrap();
    assert_eq!(row.get::<T>(0).unwrap(), value);
    assert_eq!(row.get::<&str>(1).unwrap(), text);
}

#[cfg(feature = "chrono")]
#[tokio::test]
async fn chrono_types() {
    use chrono::{NaiveDate, NaiveTime};
    let c = connect().await;
    let d = NaiveDate::from_ymd_opt(-43, 3, 15).unwrap();
    round_trip(&c, "date", d, "0044-03-15 BC").await;
    let t = NaiveTime::from_hms_micro_opt(13, 14, 15, 16).unwrap();
    round_trip(&c, "time", t, "13:14:15.000016").await;
    let dt = NaiveDate::from_ymd_opt(2024, 5, 6).unwrap().and_time(t);
    round_trip(&c, "timestamp", dt, "2024-05-06 13:14:15.000016").await;
    round_trip(
        &c,
        "timestamptz",
        dt.and_utc(),
        "2024-05-06 13:14:15.000016+00",
    )
    .await;
    let row = c.query_one("SELECT 'infinity'::date", &[]).await.unwrap();
    assert!(row.get::<NaiveDate>(0).is_err());
}

#[cfg(feature = "time")]
#[tokio::test]
async fn time_types() {
    use time::{Date, Month, PrimitiveDateTime, Time};
    let c = connect().await;
    let d = Date::from_calendar_date(1999, Month::December, 31).unwrap();
    round_trip(&c, "date", d, "1999-12-31").await;
    let t = Time::from_hms_micro(0, 0, 1, 500_000).unwrap();
    round_trip(&c, "time", t, "00:00:01.5").await;
    let dt = PrimitiveDateTime::new(d, t);
    round_trip(&c, "timestamp", dt, "1999-12-31 00:00:01.5").await;
    round_trip(
        &c,
        "timestamptz",
        dt.assume_utc(),
        "1999-12-31 00:00:01.5+00",
    )
    .await;
}

#[cfg(feature = "uuid")]
#[tokio::test]
async fn uuid_type() {
    let c = connect().await;
    let u = uuid::Uuid::from_bytes([0xab; 16]);
    round_trip(&c, "uuid", u, "abababab-abab-abab-abab-abababababab").await;
}

#[cfg(feature = "rust_decimal")]
#[tokio::test]
async fn rust_decimal_type() {
    use std::str::FromStr;
    let c = connect().await;
    let d = rust_decimal::Decimal::from_str("-79228162514264337593543950335").unwrap();
    round_trip(&c, "numeric", d, "-79228162514264337593543950335").await;
    let d = rust_decimal::Decimal::from_str("0.0000000000000000000000000001").unwrap();
    round_trip(&c, "numeric", d, "0.0000000000000000000000000001").await;
    let row = c.query_one("SELECT 'NaN'::numeric", &[]).await.unwrap();
    assert!(row.get::<rust_decimal::Decimal>(0).is_err());
}
