//! A startup argument the protocol cannot carry, from the password file
//! (which `Config::validate` cannot see): a configuration error, not a
//! protocol one, and nothing is sent for it.

use std::time::Duration;

use pgline::Config;
use pgline::error::ErrorKind;
use pgline_protocol_tests::wire;
use pgline_protocol_tests::{FakeServer, Script};

#[tokio::test]
async fn a_nul_in_the_password_file_is_a_config_error() {
    let dir = std::env::temp_dir().join(format!("pgline-passfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let passfile = dir.join("pgpass");
    std::fs::write(&passfile, b"*:*:*:app:sec\0ret\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // The server asks for a cleartext password, which goes out as a C string.
    let server = FakeServer::start(
        Script::new()
            .read_startup()
            .send(wire::auth(3, &[]))
            .stall(),
    )
    .await;
    let mut config: Config = server.url().parse().unwrap();
    config.passfile(&passfile);
    let err = tokio::time::timeout(Duration::from_secs(10), config.connect())
        .await
        .expect("ends in time")
        .expect_err("the password cannot be sent");
    eprintln!("{:?}: {err}", err.kind());
    assert_eq!(err.kind(), ErrorKind::Config, "{err:?}");
    assert!(err.to_string().contains("NUL byte"), "{err}");
    let transcript = server.finish().await.unwrap();
    assert!(
        !transcript.tags().contains('p'),
        "no password message was sent: {}",
        transcript.tags()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
