//! libpq conformance of the host choice on a real primary with two
//! streaming replicas: for three host orders, the six
//! `target_session_attrs` values and three states of the set (all up, the
//! primary down, both replicas down), the server pgline lands on (or its
//! failure) equals what `psql` (libpq) chooses with the same connection
//! string. The table is printed (`--nocapture`).

mod support;

use std::time::Duration;

use pgline_testkit::{ReplicaSet, ReplicaSetBuilder, StopMode};

const ATTRS: [&str; 6] = [
    "any",
    "read-write",
    "read-only",
    "primary",
    "standby",
    "prefer-standby",
];

const NAMES: [&str; 3] = ["P", "R1", "R2"];

/// The orders of nodes 0 (P), 1 (R1), 2 (R2) the matrix tries.
const ORDERS: [[usize; 3]; 3] = [[0, 1, 2], [1, 0, 2], [1, 2, 0]];

fn conninfo(rig: &ReplicaSet, order: &[usize], attrs: &str) -> String {
    let user = rig.primary().server().superuser().to_owned();
    format!(
        "{} connect_timeout=10 target_session_attrs={attrs}",
        rig.multi_host_key_value(order, &user, None, "postgres")
    )
}

/// The node a port belongs to, by name; `-` for a failure.
fn node_name(rig: &ReplicaSet, port: Option<u16>) -> String {
    match port {
        None => "-".to_owned(),
        Some(port) => rig
            .nodes()
            .iter()
            .position(|n| n.port() == port)
            .map_or_else(|| format!("port {port}"), |i| NAMES[i].to_owned()),
    }
}

/// Where pgline lands for `conninfo`, or `None` when it fails.
async fn pgline_choice(conninfo: &str) -> Option<u16> {
    let connect = tokio::time::timeout(Duration::from_secs(60), pgline::connect(conninfo))
        .await
        .expect("connect ended within 60 s");
    let client = connect.ok()?;
    let row = client
        .query_one("SELECT inet_server_port()", &[])
        .await
        .unwrap();
    let port = u16::try_from(row.get::<i32>(0).unwrap()).unwrap();
    assert_eq!(client.endpoint().port, port);
    Some(port)
}

/// Runs every (order, attrs) case in the rig's current state; returns the
/// rows of the table and the cases where pgline and libpq differ.
async fn run_state(rig: &ReplicaSet, state: &str) -> (Vec<String>, Vec<String>) {
    let mut rows = Vec::new();
    let mut differences = Vec::new();
    for order in ORDERS {
        let order_name: Vec<&str> = order.iter().map(|&i| NAMES[i]).collect();
        let order_name = order_name.join(",");
        for attrs in ATTRS {
            let text = conninfo(rig, &order, attrs);
            let ours = pgline_choice(&text).await;
            let theirs = support::libpq_port(rig.primary().server(), &text);
            let (ours, theirs) = (node_name(rig, ours), node_name(rig, theirs));
            let verdict = if ours == theirs { "same" } else { "DIFFERENT" };
            let row =
                format!("{state:<18} {order_name:<9} {attrs:<15} {ours:<7} {theirs:<7} {verdict}");
            if ours != theirs {
                differences.push(row.clone());
            }
            rows.push(row);
        }
    }
    (rows, differences)
}

#[tokio::test]
async fn host_choice_matches_libpq_on_a_primary_with_two_replicas() {
    let mut rig = ReplicaSetBuilder::new()
        .replicas(2)
        .start()
        .expect("start a primary and two replicas");
    let psql = rig.primary().server().bin_dir().join("psql");
    println!("libpq side: {}", psql.display());

    let mut table = vec![format!(
        "{:<18} {:<9} {:<15} {:<7} {:<7} {}",
        "state", "order", "attrs", "pgline", "libpq", ""
    )];
    let mut differences = Vec::new();
    let mut record = |(rows, diffs): (Vec<String>, Vec<String>)| {
        table.extend(rows);
        differences.extend(diffs);
    };

    record(run_state(&rig, "all up").await);

    rig.stop(0, StopMode::Fast).expect("stop the primary");
    record(run_state(&rig, "primary down").await);
    rig.start(0).expect("start the primary again");

    rig.stop(1, StopMode::Fast).expect("stop R1");
    rig.stop(2, StopMode::Fast).expect("stop R2");
    record(run_state(&rig, "replicas down").await);

    println!("{}", table.join("\n"));
    assert_eq!(table.len(), 1 + 3 * 3 * 6);
    assert!(
        differences.is_empty(),
        "pgline and libpq chose differently:\n{}",
        differences.join("\n")
    );
    // The matrix is not trivially uniform: spot checks of libpq's rules.
    let row = |state: &str, order: &str, attrs: &str| {
        table
            .iter()
            .find(|r| {
                let cols: Vec<&str> = r.split_whitespace().collect();
                cols.len() >= 5
                    && r.starts_with(state)
                    && cols.contains(&order)
                    && cols.contains(&attrs)
            })
            .cloned()
            .unwrap()
    };
    let landed = |state, order, attrs| {
        let r = row(state, order, attrs);
        let cols: Vec<&str> = r.split_whitespace().collect();
        cols[cols.len() - 3].to_owned()
    };
    assert_eq!(landed("all up", "R1,P,R2", "read-write"), "P");
    assert_eq!(landed("all up", "P,R1,R2", "standby"), "R1");
    assert_eq!(landed("all up", "P,R1,R2", "prefer-standby"), "R1");
    assert_eq!(landed("primary down", "P,R1,R2", "read-write"), "-");
    assert_eq!(landed("primary down", "P,R1,R2", "any"), "R1");
    assert_eq!(landed("replicas down", "R1,R2,P", "prefer-standby"), "P");
    assert_eq!(landed("replicas down", "R1,R2,P", "standby"), "-");
}
