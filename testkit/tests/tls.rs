//! TLS against a real server: the generated CA verifies the server by name, the
//! untrusted CA does not, and client certificates authenticate under `cert`.

mod support;

use pgline_testkit::{AuthMethod, ServerBuilder};
use support::login;

fn verify_full(port: u16, user: &str, root_cert: &std::path::Path) -> String {
    format!(
        "host=localhost port={port} user={user} dbname=postgres sslmode=verify-full sslrootcert='{}'",
        root_cert.display()
    )
}

#[test]
fn verify_full_with_the_ca_connects_and_untrusted_ca_fails() {
    let server = ServerBuilder::new()
        .auth(AuthMethod::ScramSha256)
        .tls(true)
        .user("tls_user", "tls-pw")
        .start()
        .unwrap();
    let files = server.tls().expect("tls files");
    assert_eq!(server.psql("SHOW ssl").unwrap(), "on");

    let trusted = verify_full(server.port(), "tls_user", files.ca_cert());
    assert_eq!(
        login(&server, &trusted, Some("tls-pw"), "verify-full"),
        Ok("tls_user".to_owned())
    );

    // Through the IP address SAN as well.
    let by_ip = trusted.replace("host=localhost", "host=127.0.0.1");
    assert_eq!(
        login(&server, &by_ip, Some("tls-pw"), "verify-full"),
        Ok("tls_user".to_owned())
    );

    let untrusted = verify_full(server.port(), "tls_user", files.untrusted_ca());
    let err = login(&server, &untrusted, Some("tls-pw"), "verify-full").unwrap_err();
    assert!(err.contains("certificate verify failed"), "{err}");

    let url = server.url("tls_user", Some("tls-pw"), "postgres");
    assert!(!url.contains("sslmode"), "{url}");
}

#[test]
fn ssl_is_really_used() {
    let server = ServerBuilder::new()
        .tls(true)
        .user("who", "")
        .start()
        .unwrap();
    let files = server.tls().unwrap();
    let conninfo = verify_full(server.port(), "who", files.ca_cert());
    let mut cmd = server.client_command("psql");
    let out = cmd
        .args(["-X", "-A", "-t", "-c"])
        .arg("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .arg(conninfo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "t");
}

#[test]
fn client_certificates_authenticate_under_cert() {
    let server = ServerBuilder::new()
        .auth(AuthMethod::Cert)
        .user("cert_user", "")
        .user("other_user", "")
        .start()
        .unwrap();
    let files = server.tls().expect("cert auth turns TLS on");
    let with_cert = |user: &str, cert_of: &str| {
        format!(
            "{} sslcert='{}' sslkey='{}'",
            verify_full(server.port(), user, files.ca_cert()),
            files.client_cert(cert_of).unwrap().display(),
            files.client_key(cert_of).unwrap().display()
        )
    };

    assert_eq!(
        login(
            &server,
            &with_cert("cert_user", "cert_user"),
            None,
            "verify-full"
        ),
        Ok("cert_user".to_owned())
    );
    assert_eq!(
        login(
            &server,
            &with_cert("postgres", "postgres"),
            None,
            "verify-full"
        ),
        Ok("postgres".to_owned())
    );

    let wrong_cn = login(
        &server,
        &with_cert("cert_user", "other_user"),
        None,
        "verify-full",
    )
    .unwrap_err();
    assert!(
        wrong_cn.contains("certificate authentication failed"),
        "{wrong_cn}"
    );

    let no_cert = verify_full(server.port(), "cert_user", files.ca_cert());
    let err = login(&server, &no_cert, None, "verify-full").unwrap_err();
    assert!(err.contains("requires a valid client certificate"), "{err}");

    let plain = support::tcp(&server, "cert_user", "postgres");
    let err = login(&server, &plain, None, "disable").unwrap_err();
    assert!(err.contains("no pg_hba.conf entry"), "{err}");
}
