//! User types against a real server: enums (derived and as strings),
//! composites (derived), domains, `hstore`, and types looked up by name.

use std::collections::{BTreeMap, HashMap};

use pgline::Client;
use pgline::types::{PgNumeric, Type, TypeKind};

async fn connect() -> Client {
    let server = pgline_testkit::shared();
    pgline::connect(&server.url("pgline", Some("pgline-secret"), "pgline"))
        .await
        .expect("connect to the shared test server")
}

/// Runs `sql` as the superuser (extensions need it).
fn as_superuser(sql: &str) {
    pgline_testkit::shared().psql(sql).expect("superuser SQL");
}

#[derive(Debug, Clone, Copy, PartialEq, pgline::PgEnum)]
#[pgline(rename_all = "snake_case")]
enum Mood {
    Sad,
    VeryHappy,
    #[pgline(rename = "meh!")]
    Meh,
}

#[derive(Debug, Clone, PartialEq, pgline::PgComposite)]
struct Item {
    name: String,
    qty: i32,
    price: Option<PgNumeric>,
    tags: Vec<String>,
}

#[tokio::test]
async fn enums_round_trip_derived_and_as_strings() {
    let c = connect().await;
    c.batch_execute(
        "DROP TYPE IF EXISTS mood_e CASCADE; CREATE TYPE mood_e AS ENUM ('sad', 'very_happy', 'meh!')",
    )
    .await
    .unwrap();
    for mood in [Mood::Sad, Mood::VeryHappy, Mood::Meh] {
        let row = c
            .query_one("SELECT $1::mood_e, $1::mood_e::text", &[&mood])
            .await
            .unwrap();
        assert_eq!(row.get::<Mood>(0).unwrap(), mood);
        let text = row.get::<String>(1).unwrap();
        assert_eq!(row.get::<String>(0).unwrap(), text);
    }
    let row = c
        .query_one(
            "SELECT 'very_happy'::mood_e, ARRAY['sad', 'meh!']::mood_e[]",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<Mood>(0).unwrap(), Mood::VeryHappy);
    assert_eq!(row.get::<&str>(0).unwrap(), "very_happy");
    assert_eq!(row.get::<Vec<Mood>>(1).unwrap(), [Mood::Sad, Mood::Meh]);
    // Strings are sent as text and cast by the server.
    let row = c.query_one("SELECT $1::mood_e", &[&"sad"]).await.unwrap();
    assert_eq!(row.get::<Mood>(0).unwrap(), Mood::Sad);
    // A prepared statement knows the enum's OID; the derived type accepts it.
    let stmt = c.prepare("SELECT $1::mood_e = 'meh!'").await.unwrap();
    assert!(stmt.params()[0].is_user_defined());
    let row = c.query_one(&stmt, &[&Mood::Meh]).await.unwrap();
    assert!(row.get::<bool>(0).unwrap());
    // A label without a variant is a clear error.
    c.batch_execute("ALTER TYPE mood_e ADD VALUE 'angry'")
        .await
        .unwrap();
    let row = c
        .query_one("SELECT 'angry'::mood_e AS m", &[])
        .await
        .unwrap();
    let err = row.try_get::<Mood>("m").unwrap_err();
    assert!(
        err.to_string()
            .contains("no variant for the enum label \"angry\""),
        "{err}"
    );
    let info = c.lookup_type("mood_e").await.unwrap();
    assert_eq!(
        info.kind,
        TypeKind::Enum(vec![
            "sad".into(),
            "very_happy".into(),
            "meh!".into(),
            "angry".into()
        ])
    );
}

#[tokio::test]
async fn composites_round_trip() {
    let c = connect().await;
    c.batch_execute(
        "DROP TYPE IF EXISTS item_c CASCADE; \
         CREATE TYPE item_c AS (name text, qty int4, price numeric, tags text[])",
    )
    .await
    .unwrap();
    let item = Item {
        name: "bolt, \"M6\"".into(),
        qty: 12,
        price: Some("0.35".parse().unwrap()),
        tags: vec!["steel".into()],
    };
    let row = c
        .query_one("SELECT $1::item_c, $1::item_c::text", &[&item])
        .await
        .unwrap();
    assert_eq!(row.get::<Item>(0).unwrap(), item);
    assert_eq!(
        row.get::<&str>(1).unwrap(),
        "(\"bolt, \"\"M6\"\"\",12,0.35,{steel})"
    );
    let row = c
        .query_one(
            "SELECT ROW('nut', 3, NULL, '{}')::item_c, ARRAY[ROW('a', 1, 2.5, '{x,y}')::item_c]",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<Item>(0).unwrap(),
        Item {
            name: "nut".into(),
            qty: 3,
            price: None,
            tags: vec![]
        }
    );
    let items: Vec<Item> = row.get(1).unwrap();
    assert_eq!(items[0].tags, ["x", "y"]);
    let info = c.lookup_type("item_c").await.unwrap();
    let TypeKind::Composite(fields) = &info.kind else {
        panic!("{info:?}");
    };
    assert_eq!(fields[1], ("qty".to_owned(), Type::INT4));
    assert_eq!(fields[3].1, Type::TEXT_ARRAY);
    // Field count mismatch is an error, not a panic.
    let row = c.query_one("SELECT ROW(1, 2)", &[]).await.unwrap();
    assert!(row.try_get::<Item>(0).is_err());
}

#[tokio::test]
async fn domains_travel_as_their_base_type() {
    let c = connect().await;
    c.batch_execute(
        "DROP DOMAIN IF EXISTS positive_d CASCADE; \
         CREATE DOMAIN positive_d AS int4 CHECK (VALUE > 0)",
    )
    .await
    .unwrap();
    let row = c
        .query_one("SELECT $1::positive_d, $1::positive_d::text", &[&5i32])
        .await
        .unwrap();
    assert_eq!(row.columns()[0].type_(), Type::INT4);
    assert_eq!(row.get::<i32>(0).unwrap(), 5);
    assert_eq!(row.get::<&str>(1).unwrap(), "5");
    let err = c
        .query_one("SELECT $1::positive_d", &[&-1i32])
        .await
        .unwrap_err();
    assert!(err.as_db_error().is_some());
    let info = c.lookup_type("positive_d").await.unwrap();
    assert_eq!(info.kind, TypeKind::Domain(Type::INT4));
    assert_eq!(info.wire_type(), Type::INT4);
}

#[tokio::test]
async fn hstore_round_trips_and_is_looked_up_once() {
    as_superuser("\\c pgline\nCREATE EXTENSION IF NOT EXISTS hstore;");
    let c = connect().await;
    let info = c.lookup_type("hstore").await.unwrap();
    assert_eq!(info.kind, TypeKind::Base);
    assert!(info.ty.is_user_defined());
    assert_eq!(c.cached_types().len(), 1);
    let again = c.lookup_type("hstore").await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&info, &again));

    let mut map = BTreeMap::new();
    map.insert("a".to_owned(), Some("1".to_owned()));
    map.insert("key with \"quotes\"".to_owned(), None);
    map.insert("é".to_owned(), Some(String::new()));
    let row = c
        .query_one("SELECT $1::hstore, $1::hstore::text", &[&map])
        .await
        .unwrap();
    assert_eq!(row.columns()[0].type_(), info.ty);
    assert_eq!(row.get::<BTreeMap<String, Option<String>>>(0).unwrap(), map);
    assert_eq!(
        row.get::<&str>(1).unwrap(),
        "\"a\"=>\"1\", \"é\"=>\"\", \"key with \\\"quotes\\\"\"=>NULL"
    );
    let row = c
        .query_one("SELECT 'x=>y, z=>NULL'::hstore", &[])
        .await
        .unwrap();
    let h: HashMap<String, Option<String>> = row.get(0).unwrap();
    assert_eq!(h.get("x"), Some(&Some("y".to_owned())));
    assert_eq!(h.get("z"), Some(&None));

    let err = c.lookup_type("no_such_type_here").await.unwrap_err();
    assert!(err.to_string().contains("no_such_type_here"), "{err}");
    let arr = c.lookup_type("int4[]").await.unwrap();
    assert_eq!(arr.kind, TypeKind::Array(Type::INT4));
    let range = c.lookup_type("int8range").await.unwrap();
    assert_eq!(range.kind, TypeKind::Range(Type::INT8));
}
