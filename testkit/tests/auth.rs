//! Password methods against a real server: created users log in over TCP with the right
//! password through the real `psql`, and are refused with a wrong one.

mod support;

use pgline_testkit::{AuthMethod, Server, ServerBuilder};
use support::{login, tcp};

fn assert_password_login(server: &Server, user: &str, password: &str) {
    let conninfo = tcp(server, user, "postgres");
    assert_eq!(
        login(server, &conninfo, Some(password), "disable"),
        Ok(user.to_owned()),
        "right password for {user}"
    );
    let refused = login(server, &conninfo, Some("wrong-password"), "disable").unwrap_err();
    assert!(
        refused.contains(&format!(
            "password authentication failed for user \"{user}\""
        )),
        "{refused}"
    );
    let no_password = login(server, &conninfo, None, "disable").unwrap_err();
    assert!(no_password.contains("password"), "{no_password}");
}

fn stored_password_kind(server: &Server, user: &str) -> String {
    server
        .psql(&format!(
            "SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = '{user}'"
        ))
        .unwrap()
}

#[test]
fn scram_users_log_in_with_the_right_password_only() {
    let server = ServerBuilder::new()
        .auth(AuthMethod::ScramSha256)
        .user("scram_user", "s3cret 'quoted' \\ back")
        .start()
        .unwrap();
    assert_eq!(
        stored_password_kind(&server, "scram_user"),
        "SCRAM-SHA-256$"
    );
    assert_password_login(&server, "scram_user", "s3cret 'quoted' \\ back");
    assert!(
        server
            .log_tail(100)
            .contains("password authentication failed for user \"scram_user\""),
        "server logged the failure"
    );
}

#[test]
fn md5_users_are_stored_as_md5_and_log_in() {
    let server = ServerBuilder::new()
        .auth(AuthMethod::Md5)
        .user("md5_user", "md5-secret")
        .start()
        .unwrap();
    assert!(stored_password_kind(&server, "md5_user").starts_with("md5"));
    assert_eq!(server.psql("SHOW password_encryption").unwrap(), "md5");
    assert_password_login(&server, "md5_user", "md5-secret");
}

#[test]
fn cleartext_password_users_log_in() {
    let server = ServerBuilder::new()
        .auth(AuthMethod::Password)
        .user("plain_user", "plain-secret")
        .start()
        .unwrap();
    assert_eq!(
        stored_password_kind(&server, "plain_user"),
        "SCRAM-SHA-256$"
    );
    assert_password_login(&server, "plain_user", "plain-secret");
}

#[test]
fn non_ascii_password_logs_in_with_scram() {
    let server = ServerBuilder::new()
        .auth(AuthMethod::ScramSha256)
        .user("ünïcode", "pässwörd")
        .database("dätabase", "ünïcode")
        .start()
        .unwrap();
    assert_eq!(
        login(
            &server,
            &tcp(&server, "ünïcode", "dätabase"),
            Some("pässwörd"),
            "disable"
        ),
        Ok("ünïcode".to_owned())
    );
    let refused = login(
        &server,
        &tcp(&server, "ünïcode", "dätabase"),
        Some("passwort"),
        "disable",
    )
    .unwrap_err();
    assert!(
        refused.contains("password authentication failed"),
        "{refused}"
    );
}

#[test]
fn superuser_password_and_database_owner() {
    let server = ServerBuilder::new()
        .auth(AuthMethod::ScramSha256)
        .user("postgres", "root-pw")
        .user("owner", "owner-pw")
        .database("owned", "owner")
        .start()
        .unwrap();
    assert_eq!(
        login(
            &server,
            &tcp(&server, "postgres", "postgres"),
            Some("root-pw"),
            "disable"
        ),
        Ok("postgres".to_owned())
    );
    assert_eq!(
        server
            .psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'owned'")
            .unwrap(),
        "owner"
    );
}

#[test]
fn url_and_key_value_log_in() {
    let server = ServerBuilder::new()
        .auth(AuthMethod::ScramSha256)
        .user("url user", "p@ss:w/rd")
        .start()
        .unwrap();
    let url = server.url("url user", Some("p@ss:w/rd"), "postgres");
    assert!(url.ends_with("?sslmode=disable"), "{url}");
    assert_eq!(
        login(&server, &url, None, "require"),
        Ok("url user".to_owned())
    );
    let kv = server.key_value("url user", Some("p@ss:w/rd"), "postgres");
    assert_eq!(
        login(&server, &kv, None, "require"),
        Ok("url user".to_owned())
    );
}
