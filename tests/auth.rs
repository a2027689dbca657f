//! Authentication against real servers: trust, password, md5, SCRAM-SHA-256,
//! SCRAM-SHA-256-PLUS, channel_binding and require_auth policies.

use pgline::error::{ErrorKind, SqlState};
use pgline_testkit::{AuthMethod, Server, ServerBuilder};

fn server(method: AuthMethod, tls: bool) -> Server {
    ServerBuilder::new()
        .auth(method)
        .tls(tls)
        .user("app", "app-secret")
        .user("unicode", "pässwörd ünïcode")
        .start()
        .expect("start a test server")
}

fn conninfo(server: &Server, user: &str, password: &str, extra: &str) -> String {
    format!(
        "host={} port={} user={user} password='{password}' dbname=postgres {extra}",
        server.host(),
        server.port()
    )
}

async fn select_user(conninfo: &str) -> Result<String, pgline::Error> {
    let client = pgline::connect(conninfo).await?;
    let row = client.query_one("SELECT current_user::text", &[]).await?;
    row.get::<String>(0)
}

#[tokio::test]
async fn every_password_method_logs_in() {
    for method in [
        AuthMethod::Trust,
        AuthMethod::Password,
        AuthMethod::Md5,
        AuthMethod::ScramSha256,
    ] {
        let server = server(method, false);
        let user = select_user(&conninfo(&server, "app", "app-secret", "sslmode=disable"))
            .await
            .unwrap_or_else(|e| panic!("{method:?}: {e}"));
        assert_eq!(user, "app", "{method:?}");
    }
}

#[tokio::test]
async fn wrong_password_is_28p01_for_each_method() {
    for method in [
        AuthMethod::Password,
        AuthMethod::Md5,
        AuthMethod::ScramSha256,
    ] {
        let server = server(method, false);
        let err = select_user(&conninfo(&server, "app", "wrong", "sslmode=disable"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Db, "{method:?}: {err}");
        assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{method:?}");
        assert_eq!(
            err.to_string(),
            "password authentication failed for user \"app\" (28P01)"
        );
    }
}

#[tokio::test]
async fn non_ascii_password_works_with_scram_and_md5() {
    for method in [AuthMethod::ScramSha256, AuthMethod::Md5] {
        let server = server(method, false);
        let user = select_user(&conninfo(
            &server,
            "unicode",
            "pässwörd ünïcode",
            "sslmode=disable",
        ))
        .await
        .unwrap_or_else(|e| panic!("{method:?}: {e}"));
        assert_eq!(user, "unicode");
    }
}

#[tokio::test]
async fn scram_plus_is_used_over_tls() {
    let server = server(AuthMethod::ScramSha256, true);
    // channel_binding=require succeeds only through SCRAM-SHA-256-PLUS.
    let user = select_user(&conninfo(
        &server,
        "app",
        "app-secret",
        "sslmode=require channel_binding=require",
    ))
    .await
    .unwrap();
    assert_eq!(user, "app");
    // And prefer works too.
    let user = select_user(&conninfo(&server, "app", "app-secret", "sslmode=require"))
        .await
        .unwrap();
    assert_eq!(user, "app");
}

#[tokio::test]
async fn channel_binding_require_without_tls_fails_clearly() {
    let server = server(AuthMethod::ScramSha256, false);
    let err = select_user(&conninfo(
        &server,
        "app",
        "app-secret",
        "sslmode=disable channel_binding=require",
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(
        err.to_string()
            .ends_with("channel binding required, but TLS is not in use"),
        "{err}"
    );
}

#[tokio::test]
async fn channel_binding_require_refuses_md5_over_tls() {
    let server = server(AuthMethod::Md5, true);
    let err = select_user(&conninfo(
        &server,
        "app",
        "app-secret",
        "sslmode=require channel_binding=require",
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(
        err.to_string().contains("channel binding required"),
        "{err}"
    );
}

#[tokio::test]
async fn require_auth_scram_refuses_an_md5_server() {
    let server = server(AuthMethod::Md5, false);
    let err = select_user(&conninfo(
        &server,
        "app",
        "app-secret",
        "sslmode=disable require_auth=scram-sha-256",
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(
        err.to_string()
            .contains("server requested \"md5\" authentication, which require_auth does not allow"),
        "{err}"
    );
    // The same server is fine when md5 is allowed.
    let user = select_user(&conninfo(
        &server,
        "app",
        "app-secret",
        "sslmode=disable require_auth=md5,scram-sha-256",
    ))
    .await
    .unwrap();
    assert_eq!(user, "app");
}

#[tokio::test]
async fn require_auth_refuses_trust_unless_none_is_allowed() {
    let server = server(AuthMethod::Trust, false);
    let err = select_user(&conninfo(
        &server,
        "app",
        "x",
        "sslmode=disable require_auth=scram-sha-256",
    ))
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let user = select_user(&conninfo(
        &server,
        "app",
        "x",
        "sslmode=disable require_auth=none",
    ))
    .await
    .unwrap();
    assert_eq!(user, "app");
}

#[tokio::test]
async fn missing_password_is_reported() {
    let server = server(AuthMethod::ScramSha256, false);
    let conninfo = format!(
        "host={} port={} user=app dbname=postgres sslmode=disable passfile=/nonexistent",
        server.host(),
        server.port()
    );
    let err = select_user(&conninfo).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(
        err.to_string().contains("no password was supplied"),
        "{err}"
    );
}
