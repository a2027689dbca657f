//! The shared server: one per test binary, the same on every call, with the documented
//! user, database, TLS and scram auth.

mod support;

use std::thread;

use pgline_testkit::{SHARED_DATABASE, SHARED_PASSWORD, SHARED_USER, shared};
use support::{login, tcp};

#[test]
fn shared_is_one_server() {
    let first = shared();
    let second = shared();
    assert!(std::ptr::eq(first, second));
    let from_threads: Vec<u16> = (0..4)
        .map(|_| thread::spawn(|| shared().port()))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(from_threads, vec![first.port(); 4]);
    assert_eq!(first.pid(), second.pid());
}

#[test]
fn shared_has_the_documented_user_database_and_tls() {
    let server = shared();
    assert_eq!(
        (SHARED_USER, SHARED_PASSWORD, SHARED_DATABASE),
        ("pgline", "pgline-secret", "pgline")
    );
    assert_eq!(
        login(
            server,
            &tcp(server, SHARED_USER, SHARED_DATABASE),
            Some(SHARED_PASSWORD),
            "require"
        ),
        Ok("pgline".to_owned())
    );
    assert!(
        login(
            server,
            &tcp(server, SHARED_USER, SHARED_DATABASE),
            Some("nope"),
            "require"
        )
        .is_err()
    );
    assert_eq!(
        server
            .psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'pgline'")
            .unwrap(),
        "pgline"
    );
    let url = server.url(SHARED_USER, Some(SHARED_PASSWORD), SHARED_DATABASE);
    assert_eq!(
        url,
        format!(
            "postgres://pgline:pgline-secret@127.0.0.1:{}/pgline",
            server.port()
        )
    );
    let files = server.tls().expect("shared server has TLS");
    assert!(files.client_cert(SHARED_USER).is_some());
    assert_eq!(server.psql("SHOW ssl").unwrap(), "on");
}
