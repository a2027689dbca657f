//! Arrays, ranges and multiranges against a real server.

use std::ops::Bound;

use pgline::Client;
use pgline::types::{
    ArrayDimension, PgArray, PgDate, PgMultirange, PgNumeric, PgRange, PgTimestamp, PgTimestampTz,
    Type,
};

async fn connect() -> Client {
    let server = pgline_testkit::shared();
    let client = pgline::connect(&server.url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect to the shared test server");
    client.batch_execute("SET TIME ZONE 'UTC'").await.unwrap();
    client
}

#[tokio::test]
async fn one_dimensional_arrays_round_trip() {
    let c = connect().await;
    let v = vec![Some(1i32), None, Some(-7)];
    let row = c
        .query_one("SELECT $1::int4[], $1::int4[]::text", &[&v])
        .await
        .unwrap();
    assert_eq!(row.get::<Vec<Option<i32>>>(0).unwrap(), v);
    assert_eq!(row.get::<&str>(1).unwrap(), "{1,NULL,-7}");

    let words = vec!["a b".to_owned(), "ü".to_owned()];
    let row = c
        .query_one("SELECT $1::text[]::text, $1::text[]", &[&words])
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "{\"a b\",ü}");
    assert_eq!(row.get::<Vec<String>>(1).unwrap(), words);

    let slice: &[i64] = &[1, 2, 3];
    let row = c.query_one("SELECT $1::int8[]", &[&slice]).await.unwrap();
    assert_eq!(row.get::<Vec<i64>>(0).unwrap(), slice);

    let empty: Vec<i32> = Vec::new();
    let row = c
        .query_one(
            "SELECT $1::int4[], $1::int4[]::text, cardinality($1::int4[])",
            &[&empty],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<Vec<i32>>(0).unwrap(), empty);
    assert_eq!(row.get::<&str>(1).unwrap(), "{}");
    assert_eq!(row.get::<i32>(2).unwrap(), 0);

    let nums: Vec<PgNumeric> = ["1.50", "NaN"].iter().map(|s| s.parse().unwrap()).collect();
    let row = c
        .query_one("SELECT $1::numeric[], $1::numeric[]::text", &[&nums])
        .await
        .unwrap();
    assert_eq!(row.get::<Vec<PgNumeric>>(0).unwrap(), nums);
    assert_eq!(row.get::<&str>(1).unwrap(), "{1.50,NaN}");
}

#[tokio::test]
async fn server_arrays_with_nulls_bounds_and_dimensions() {
    let c = connect().await;
    let row = c
        .query_one(
            "SELECT ARRAY[1,NULL,3], '{}'::int4[], '{{{1,2},{3,4}},{{5,6},{7,8}}}'::int4[], \
             '[-5:-3]={10,20,30}'::int4[], '[0:1][2:3]={{a,b},{c,NULL}}'::text[]",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<Vec<Option<i32>>>(0).unwrap(),
        [Some(1), None, Some(3)]
    );
    assert!(row.get::<Vec<i32>>(0).is_err());
    assert_eq!(row.get::<Vec<i32>>(1).unwrap(), Vec::<i32>::new());
    let cube: PgArray<i32> = row.get(2).unwrap();
    assert_eq!(
        cube.dimensions(),
        [ArrayDimension {
            len: 2,
            lower_bound: 1
        }; 3]
    );
    assert_eq!(cube.elements(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(row.get::<Vec<i32>>(2).is_err());
    let shifted: PgArray<i32> = row.get(3).unwrap();
    assert_eq!(
        shifted.dimensions(),
        [ArrayDimension {
            len: 3,
            lower_bound: -5
        }]
    );
    assert_eq!(row.get::<Vec<i32>>(3).unwrap(), [10, 20, 30]);
    let grid: PgArray<Option<String>> = row.get(4).unwrap();
    assert_eq!(
        grid.dimensions(),
        [
            ArrayDimension {
                len: 2,
                lower_bound: 0
            },
            ArrayDimension {
                len: 2,
                lower_bound: 2
            }
        ]
    );
    assert_eq!(grid.elements()[3], None);
}

#[tokio::test]
async fn multi_dimensional_arrays_round_trip() {
    let c = connect().await;
    let dims = vec![
        ArrayDimension {
            len: 1,
            lower_bound: -5,
        },
        ArrayDimension {
            len: 2,
            lower_bound: 1,
        },
        ArrayDimension {
            len: 1,
            lower_bound: 1,
        },
        ArrayDimension {
            len: 1,
            lower_bound: 1,
        },
        ArrayDimension {
            len: 1,
            lower_bound: 1,
        },
        ArrayDimension {
            len: 2,
            lower_bound: 3,
        },
    ];
    let a = PgArray::new(dims, vec![Some(1i16), None, Some(3), Some(4)]).unwrap();
    let row = c
        .query_one("SELECT $1::int2[], $1::int2[]::text", &[&a])
        .await
        .unwrap();
    assert_eq!(row.get::<PgArray<Option<i16>>>(0).unwrap(), a);
    assert_eq!(
        row.get::<&str>(1).unwrap(),
        "[-5:-5][1:2][1:1][1:1][1:1][3:4]={{{{{{1,NULL}}}},{{{{3,4}}}}}}"
    );
}

#[tokio::test]
async fn ranges_with_every_bound_kind() {
    let c = connect().await;
    let cases: Vec<(PgRange<i32>, &str)> = vec![
        (PgRange::Empty, "empty"),
        (
            PgRange::new(Bound::Included(1), Bound::Excluded(5)),
            "[1,5)",
        ),
        (
            PgRange::new(Bound::Excluded(1), Bound::Included(5)),
            "[2,6)",
        ),
        (PgRange::new(Bound::Unbounded, Bound::Excluded(5)), "(,5)"),
        (PgRange::new(Bound::Included(1), Bound::Unbounded), "[1,)"),
        (PgRange::new(Bound::Unbounded, Bound::Unbounded), "(,)"),
    ];
    for (range, text) in cases {
        let row = c
            .query_one("SELECT $1::int4range::text, $1::int4range", &[&range])
            .await
            .unwrap();
        assert_eq!(row.get::<&str>(0).unwrap(), text);
        let back: PgRange<i32> = row.get(1).unwrap();
        assert_eq!(back.to_string(), text);
    }
    let big = PgRange::new(Bound::Included(i64::MIN), Bound::Excluded(0));
    let row = c
        .query_one("SELECT $1::int8range, $1::int8range::text", &[&big])
        .await
        .unwrap();
    assert_eq!(row.get::<PgRange<i64>>(0).unwrap(), big);
    assert_eq!(row.get::<&str>(1).unwrap(), "[-9223372036854775808,0)");

    let num = PgRange::new(
        Bound::Excluded("1.5".parse::<PgNumeric>().unwrap()),
        Bound::Included("2.25".parse().unwrap()),
    );
    let row = c
        .query_one("SELECT $1::numrange, $1::numrange::text", &[&num])
        .await
        .unwrap();
    assert_eq!(row.get::<PgRange<PgNumeric>>(0).unwrap(), num);
    assert_eq!(row.get::<&str>(1).unwrap(), "(1.5,2.25]");

    let d = PgRange::new(
        Bound::Included(PgDate::from_ymd(2024, 1, 1).unwrap()),
        Bound::Included(PgDate::from_ymd(2024, 1, 31).unwrap()),
    );
    let row = c
        .query_one("SELECT $1::daterange::text", &[&d])
        .await
        .unwrap();
    assert_eq!(row.get::<&str>(0).unwrap(), "[2024-01-01,2024-02-01)");

    let ts = PgRange::new(
        Bound::Included(PgTimestamp::EPOCH),
        Bound::Excluded(PgTimestamp::INFINITY),
    );
    let row = c
        .query_one("SELECT $1::tsrange, $1::tsrange::text", &[&ts])
        .await
        .unwrap();
    assert_eq!(row.get::<PgRange<PgTimestamp>>(0).unwrap(), ts);
    assert_eq!(
        row.get::<&str>(1).unwrap(),
        "[\"2000-01-01 00:00:00\",infinity)"
    );

    let tz = PgRange::new(
        Bound::Unbounded,
        Bound::Included(PgTimestampTz::from_micros(1)),
    );
    let row = c
        .query_one("SELECT $1::tstzrange, $1::tstzrange::text", &[&tz])
        .await
        .unwrap();
    assert_eq!(row.get::<PgRange<PgTimestampTz>>(0).unwrap(), tz);
    assert_eq!(
        row.get::<&str>(1).unwrap(),
        "(,\"2000-01-01 00:00:00.000001+00\"]"
    );

    // Server-produced ranges of every bound kind.
    let row = c
        .query_one("SELECT numrange(1, 2, '()'), numrange(1, 2, '[]'), numrange(NULL, 2), 'empty'::numrange", &[])
        .await
        .unwrap();
    for (i, text) in ["(1,2)", "[1,2]", "(,2)", "empty"].iter().enumerate() {
        assert_eq!(row.get::<PgRange<PgNumeric>>(i).unwrap().to_string(), *text);
    }
}

#[tokio::test]
async fn multiranges() {
    let c = connect().await;
    let m = PgMultirange(vec![
        PgRange::new(Bound::Included(1i32), Bound::Excluded(3)),
        PgRange::new(Bound::Included(10), Bound::Unbounded),
    ]);
    let row = c
        .query_one("SELECT $1::int4multirange, $1::int4multirange::text", &[&m])
        .await
        .unwrap();
    assert_eq!(row.get::<PgMultirange<i32>>(0).unwrap(), m);
    assert_eq!(row.get::<&str>(1).unwrap(), "{[1,3),[10,)}");
    let row = c
        .query_one("SELECT '{}'::int8multirange, '{[2024-01-01,2024-01-05), [2024-02-01,2024-02-02]}'::datemultirange, nummultirange(numrange(1,2), numrange(5,6))", &[])
        .await
        .unwrap();
    assert_eq!(
        row.get::<PgMultirange<i64>>(0).unwrap(),
        PgMultirange(vec![])
    );
    assert_eq!(row.get::<PgMultirange<PgDate>>(1).unwrap().0.len(), 2);
    assert_eq!(
        row.get::<PgMultirange<PgNumeric>>(2).unwrap().0[1].to_string(),
        "[5,6)"
    );
    assert_eq!(row.columns()[2].type_(), Type::NUM_MULTIRANGE);
}
