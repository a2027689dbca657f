//! `#[derive(FromRow)]` with a `json` field (needs the `serde_json`
//! feature: `cargo test --features serde_json`), together with the other
//! attributes, against a real server.
#![cfg(feature = "serde_json")]

use pgline::Client;
use pgline::types::{FromRow, Json};

async fn connect() -> Client {
    let server = pgline_testkit::shared();
    pgline::connect(&server.url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect to the shared test server")
}

#[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize, Default)]
struct Settings {
    theme: String,
    sizes: Vec<u32>,
}

#[derive(Debug, PartialEq, pgline::FromRow)]
struct Inner {
    depth: i32,
}

#[derive(Debug, PartialEq, pgline::FromRow)]
struct Middle {
    label: String,
    #[pgline(flatten, prefix = "in_")]
    inner: Inner,
}

#[derive(Debug, PartialEq, pgline::FromRow)]
#[pgline(rename_all = "camelCase")]
struct Account {
    #[pgline(rename = "id")]
    account_id: i64,
    #[pgline(flatten, prefix = "mid_")]
    middle: Middle,
    #[pgline(default)]
    missing_flag: bool,
    #[pgline(skip)]
    local_only: u64,
    #[pgline(try_from = "i32")]
    small: u16,
    #[pgline(json)]
    settings: Settings,
    #[pgline(json)]
    extra: Option<Settings>,
}

#[tokio::test]
async fn json_field_with_every_other_attribute() {
    let c = connect().await;
    let row = c
        .query_one(
            "SELECT 1::int8 AS id, 'm' AS mid_label, 3 AS mid_in_depth, 9 AS small, \
             '{\"theme\": \"dark\\u00e9\", \"sizes\": [1, 2]}'::jsonb AS settings, NULL::json AS extra",
            &[],
        )
        .await
        .unwrap();
    let a = Account::from_row(&row).unwrap();
    assert_eq!(
        a,
        Account {
            account_id: 1,
            middle: Middle {
                label: "m".into(),
                inner: Inner { depth: 3 }
            },
            missing_flag: false,
            local_only: 0,
            small: 9,
            settings: Settings {
                theme: "darké".into(),
                sizes: vec![1, 2]
            },
            extra: None,
        }
    );
    let bad = c
        .query_one("SELECT 1::int8 AS id, 'm' AS mid_label, 3 AS mid_in_depth, 9 AS small, '[]'::json AS settings, NULL::json AS extra", &[])
        .await
        .unwrap();
    let err = Account::from_row(&bad).unwrap_err();
    assert!(
        err.to_string().starts_with("column 4 (\"settings\")"),
        "{err}"
    );
}

#[tokio::test]
async fn json_parameters_round_trip() {
    let c = connect().await;
    let s = Settings {
        theme: "light".into(),
        sizes: vec![3],
    };
    let row = c
        .query_one(
            "SELECT $1::jsonb, $1::jsonb::text, $2::json",
            &[&Json(&s), &serde_json::json!({"k": [true, null]})],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<Json<Settings>>(0).unwrap().0, s);
    assert_eq!(
        row.get::<&str>(1).unwrap(),
        "{\"sizes\": [3], \"theme\": \"light\"}"
    );
    assert_eq!(
        row.get::<serde_json::Value>(2).unwrap(),
        serde_json::json!({"k": [true, null]})
    );
}
