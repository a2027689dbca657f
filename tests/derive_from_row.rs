//! `#[derive(FromRow)]` against a real server: renamed, flattened (two
//! levels, with prefixes), defaulted, skipped, try_from and (with the
//! `serde_json` feature) json fields.

use pgline::types::{FromRow, RowMapper, TypeError};
use pgline::{Client, Row};

async fn connect() -> Client {
    let server = pgline_testkit::shared();
    pgline::connect(&server.url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect to the shared test server")
}

#[derive(Debug, PartialEq, pgline::FromRow)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Debug, PartialEq, pgline::FromRow)]
#[pgline(rename_all = "camelCase")]
struct Place {
    place_name: String,
    #[pgline(flatten, prefix = "p_")]
    point: Point,
}

#[derive(Debug, PartialEq, pgline::FromRow)]
struct User<'r> {
    #[pgline(rename = "user_id")]
    id: i64,
    name: &'r str,
    #[pgline(flatten, prefix = "home_")]
    home: Place,
    #[pgline(default)]
    nickname: Option<String>,
    #[pgline(default)]
    score: i32,
    #[pgline(skip)]
    cache: Vec<u8>,
    #[pgline(try_from = "i64")]
    age: u8,
    #[pgline(try_from = "String")]
    tag: TagName,
}

#[derive(Debug, PartialEq)]
struct TagName(String);

impl TryFrom<String> for TagName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.starts_with('#') {
            Ok(Self(s))
        } else {
            Err(format!("{s:?} does not start with #"))
        }
    }
}

const QUERY: &str = "SELECT 7::int8 AS user_id, 'ann' AS name, 'Paris' AS \"home_placeName\", \
    2 AS home_p_x, 3 AS home_p_y, 41::int8 AS age, '#rust' AS tag, NULL::text AS nickname";

#[tokio::test]
async fn maps_every_attribute_from_a_real_query() {
    let c = connect().await;
    let row = c.query_one(QUERY, &[]).await.unwrap();
    let user = User::from_row(&row).unwrap();
    assert_eq!(
        user,
        User {
            id: 7,
            name: "ann",
            home: Place {
                place_name: "Paris".into(),
                point: Point { x: 2, y: 3 }
            },
            nickname: None,
            score: 0,
            cache: vec![],
            age: 41,
            tag: TagName("#rust".into()),
        }
    );
    // `name` borrows from the row.
    let raw = row.raw(1).unwrap();
    assert_eq!(user.name.as_ptr(), raw.as_ptr());
    let via_row: User = row.map_to().unwrap();
    assert_eq!(via_row, user);
}

#[tokio::test]
async fn many_rows_resolve_columns_once() {
    let c = connect().await;
    let rows = c
        .query(
            "SELECT g AS x, g * 10 AS y FROM generate_series(1, 5) g",
            &[],
        )
        .await
        .unwrap();
    let points: Vec<Point> = Row::map_all(&rows).unwrap();
    assert_eq!(points[4], Point { x: 5, y: 50 });
    let again: Vec<Point> = pgline::types::from_rows(&rows).unwrap();
    assert_eq!(again, points);
    let mut mapper = RowMapper::<Point>::new();
    let first = mapper.map(&rows[0]).unwrap();
    assert_eq!(first, Point { x: 1, y: 10 });
}

#[tokio::test]
async fn missing_column_and_bad_values_are_clear_errors() {
    let c = connect().await;
    let rows = c.query("SELECT 1 AS x, 2 AS z", &[]).await.unwrap();
    let err = Point::from_row(&rows[0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no column \"y\" in the row (building derive_from_row::Point)"
    );
    let err = Row::map_all::<Point>(&rows).unwrap_err();
    assert!(err.to_string().contains("no column \"y\""), "{err}");

    let row = c
        .query_one(&QUERY.replace("41::int8", "300::int8"), &[])
        .await
        .unwrap();
    let err = User::from_row(&row).unwrap_err();
    assert!(matches!(err, TypeError::InColumn(_)), "{err}");
    assert_eq!(err.column(), Some("age"));
    assert!(err.to_string().contains("u8"), "{err}");

    let row = c
        .query_one(&QUERY.replace("'#rust'", "'rust'"), &[])
        .await
        .unwrap();
    let err = User::from_row(&row).unwrap_err();
    assert!(err.to_string().contains("does not start with #"), "{err}");

    let row = c
        .query_one("SELECT 1 AS x, NULL::int4 AS y", &[])
        .await
        .unwrap();
    let err = Point::from_row(&row).unwrap_err();
    assert_eq!(
        err.to_string(),
        "column 1 (\"y\"): NULL cannot be decoded into i32 (column type int4); use Option<i32>"
    );
}
