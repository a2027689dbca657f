//! COPY BINARY round trip of every type the type system supports: values
//! the server produced are read with the binary row reader, written back
//! with the binary row writer, and the server finds both copies identical.

use std::time::Duration;

use pgline::types::{
    Decode, Encode, PgArray, PgBits, PgDate, PgInet, PgInterval, PgMacAddr, PgMacAddr8, PgMoney,
    PgMultirange, PgNumeric, PgRange, PgTime, PgTimeTz, PgTimestamp, PgTimestampTz, PgUuid, Type,
};
use pgline::{BinaryCopyInWriter, BinaryCopyOutReader, Client};

async fn connect() -> Client {
    let client =
        pgline::connect(&pgline_testkit::shared().url("pgline", Some("pgline-secret"), "pgline"))
            .await
            .expect("connect");
    client
        .batch_execute("SET TimeZone = 'UTC'; SET lc_monetary = 'C'")
        .await
        .unwrap();
    client
}

/// Loads `literals` (and a NULL) into a one-column table of `sql_type`,
/// copies it out in binary as `T`, copies the decoded values back in, and
/// compares the two tables on the server.
async fn round_trip<T>(client: &Client, sql_type: &str, ty: Type, literals: &[&str])
where
    T: for<'a> Decode<'a> + Encode + Sync + Send,
{
    let tag = sql_type.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let (src, dst) = (format!("ct_src_{tag}"), format!("ct_dst_{tag}"));
    let values: Vec<String> = literals
        .iter()
        .map(|l| format!("(({l})::{sql_type})"))
        .chain(["(NULL)".to_owned()])
        .collect();
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {src}, {dst};
             CREATE TEMP TABLE {src} (n serial, v {sql_type});
             CREATE TEMP TABLE {dst} (n int4, v {sql_type});
             INSERT INTO {src} (v) VALUES {}",
            values.join(", ")
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql_type}: {e}"));

    let out = client
        .copy_out(&format!("COPY {src} (n, v) TO STDOUT (FORMAT binary)"))
        .await
        .unwrap();
    let mut reader = BinaryCopyOutReader::new(out, &[Type::INT4, ty]);
    let mut rows: Vec<(i32, Option<T>)> = Vec::new();
    while let Some(row) = reader.next().await {
        let row = row.unwrap_or_else(|e| panic!("{sql_type}: {e}"));
        let n: i32 = row.get(0).unwrap();
        let v: Option<T> = row
            .get(1)
            .unwrap_or_else(|e| panic!("{sql_type} row {n}: {e}"));
        rows.push((n, v));
    }
    assert_eq!(rows.len(), literals.len() + 1, "{sql_type}");

    let sink = client
        .copy_in(&format!("COPY {dst} (n, v) FROM STDIN (FORMAT binary)"))
        .await
        .unwrap();
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT4, ty]);
    for (n, v) in &rows {
        writer
            .write(&[n, v])
            .await
            .unwrap_or_else(|e| panic!("{sql_type}: {e}"));
    }
    assert_eq!(writer.finish().await.unwrap(), rows.len() as u64);

    let differing: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM {src} s FULL JOIN {dst} d USING (n) \
                 WHERE s.v::text IS DISTINCT FROM d.v::text"
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(differing, 0, "{sql_type}: the copies differ");
}

#[tokio::test]
async fn every_supported_type_round_trips_through_copy_binary() {
    let client = connect().await;
    let c = &client;
    tokio::time::timeout(Duration::from_secs(120), async {
        round_trip::<bool>(c, "bool", Type::BOOL, &["true", "false"]).await;
        round_trip::<i16>(c, "int2", Type::INT2, &["-32768", "32767"]).await;
        round_trip::<i32>(c, "int4", Type::INT4, &["-2147483648", "0"]).await;
        round_trip::<i64>(c, "int8", Type::INT8, &["9223372036854775807"]).await;
        round_trip::<u32>(c, "oid", Type::OID, &["0", "4294967295"]).await;
        round_trip::<f32>(c, "float4", Type::FLOAT4, &["1.5", "'NaN'", "'-Infinity'"]).await;
        round_trip::<f64>(c, "float8", Type::FLOAT8, &["'-0'", "1e300", "'Infinity'"]).await;
        round_trip::<PgNumeric>(
            c,
            "numeric",
            Type::NUMERIC,
            &[
                "0",
                "-1.50",
                "'NaN'",
                "'-Infinity'",
                "123456789012345678901234567890.000000001",
            ],
        )
        .await;
        round_trip::<String>(c, "text", Type::TEXT, &["'héllo'", "''"]).await;
        round_trip::<String>(c, "varchar", Type::VARCHAR, &["'abc'"]).await;
        round_trip::<Vec<u8>>(c, "bytea", Type::BYTEA, &["'\\x00ff10'"]).await;
        round_trip::<PgUuid>(
            c,
            "uuid",
            Type::UUID,
            &["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"],
        )
        .await;
        round_trip::<String>(c, "json", Type::JSON, &["'{\"a\": [1, 2]}'"]).await;
        round_trip::<String>(
            c,
            "jsonb",
            Type::JSONB,
            &["'{\"a\": \"\\u00e9\", \"b\": null}'"],
        )
        .await;
        round_trip::<PgDate>(
            c,
            "date",
            Type::DATE,
            &["'2024-02-29'", "'infinity'", "'0044-03-15 BC'"],
        )
        .await;
        round_trip::<PgTime>(c, "time", Type::TIME, &["'23:59:59.999999'"]).await;
        round_trip::<PgTimeTz>(c, "timetz", Type::TIMETZ, &["'12:00+05:30'"]).await;
        round_trip::<PgTimestamp>(
            c,
            "timestamp",
            Type::TIMESTAMP,
            &["'2000-01-01 00:00:00'", "'-infinity'"],
        )
        .await;
        round_trip::<PgTimestampTz>(
            c,
            "timestamptz",
            Type::TIMESTAMPTZ,
            &["'2024-01-01 12:34:56.789+02'"],
        )
        .await;
        round_trip::<PgInterval>(
            c,
            "interval",
            Type::INTERVAL,
            &["'1 year 2 mons -3 days 04:05:06.7'"],
        )
        .await;
        round_trip::<PgInet>(c, "inet", Type::INET, &["'192.168.0.1/24'", "'::1'"]).await;
        round_trip::<PgInet>(c, "cidr", Type::CIDR, &["'10.0.0.0/8'"]).await;
        round_trip::<PgMacAddr>(c, "macaddr", Type::MACADDR, &["'08:00:2b:01:02:03'"]).await;
        round_trip::<PgMacAddr8>(
            c,
            "macaddr8",
            Type::MACADDR8,
            &["'08:00:2b:01:02:03:04:05'"],
        )
        .await;
        round_trip::<PgBits>(c, "varbit", Type::VARBIT, &["B'10101'", "B''"]).await;
        round_trip::<PgMoney>(c, "money", Type::MONEY, &["12.34", "-0.01"]).await;
        round_trip::<PgArray<Option<i32>>>(
            c,
            "int4[]",
            Type::INT4_ARRAY,
            &["'{1,NULL,3}'", "'{}'"],
        )
        .await;
        round_trip::<PgArray<Option<String>>>(
            c,
            "text[]",
            Type::TEXT_ARRAY,
            &["'{{a,b},{c,NULL}}'"],
        )
        .await;
        round_trip::<PgRange<i32>>(
            c,
            "int4range",
            Type::INT4_RANGE,
            &["'[1,10)'", "'empty'", "'(,5]'"],
        )
        .await;
        round_trip::<PgRange<PgTimestampTz>>(
            c,
            "tstzrange",
            Type::TSTZ_RANGE,
            &["'[2024-01-01,)'"],
        )
        .await;
        round_trip::<PgMultirange<i32>>(
            c,
            "int4multirange",
            Type::INT4_MULTIRANGE,
            &["'{[1,3), [5,7)}'"],
        )
        .await;
    })
    .await
    .expect("finished within 120 s");
}
