//! Large and long JSON numbers against a real server: `JsonText` keeps
//! the server's text digit for digit (json and jsonb, as a result and as a
//! parameter); `serde_json::Value` rounds them to `f64`, as documented.

use pgline::Client;
use pgline::types::{JsonText, PgNumeric};

const BIG: &str = "123456789012345678901234567890";

async fn connect() -> Client {
    let server = pgline_testkit::shared();
    pgline::connect(&server.url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect to the shared test server")
}

#[tokio::test]
async fn json_text_keeps_every_digit() {
    let client = connect().await;
    let doc = format!("{{\"n\": {BIG}, \"f\": 0.1000000000000000000001}}");
    let row = client
        .query_one(
            "SELECT $1::text::jsonb, $1::text::json, ($1::text::jsonb->>'n')::numeric",
            &[&doc],
        )
        .await
        .unwrap();
    let jsonb: JsonText = row.get(0).unwrap();
    assert_eq!(
        jsonb.as_str(),
        format!("{{\"f\": 0.1000000000000000000001, \"n\": {BIG}}}")
    );
    let json: JsonText = row.get(1).unwrap();
    assert_eq!(json.as_str(), doc);
    assert_eq!(row.get::<PgNumeric>(2).unwrap().to_string(), BIG);

    // As a parameter: the server reads every digit.
    let param = JsonText::new(format!("[{BIG}]"));
    let row = client
        .query_one("SELECT $1::jsonb, ($1::jsonb->>0) = $2", &[&param, &BIG])
        .await
        .unwrap();
    assert_eq!(row.get::<JsonText>(0).unwrap(), param);
    assert!(row.get::<bool>(1).unwrap());
}

#[cfg(feature = "serde_json")]
#[tokio::test]
async fn serde_json_value_rounds_as_documented() {
    let client = connect().await;
    let row = client
        .query_one(&format!("SELECT '{{\"n\": {BIG}}}'::jsonb") as &str, &[])
        .await
        .unwrap();
    let value: serde_json::Value = row.get(0).unwrap();
    let n = &value["n"];
    assert!(n.is_f64(), "{n}");
    assert_eq!(n.to_string(), "1.2345678901234568e+29");
    assert_ne!(n.to_string(), BIG);
}
