//! A dedicated server: starts (as an unprivileged account when we are root), accepts TCP,
//! runs SQL, restarts on its port, and leaves nothing behind when dropped.

mod support;

use std::net::TcpStream;
use std::time::Duration;

use pgline_testkit::{AuthMethod, ServerBuilder};
use support::{eventually, owner_uid, process_alive};

#[test]
fn starts_serves_and_cleans_up() {
    let server = ServerBuilder::new().start().expect("server starts");
    eprintln!("startup took {:?}", server.startup_time());
    assert_eq!(server.host(), "127.0.0.1");
    assert_eq!(server.superuser(), "postgres");
    assert!(server.port() > 0);

    let stream = TcpStream::connect((server.host(), server.port())).expect("TCP connect");
    drop(stream);
    assert!(
        server
            .socket_dir()
            .join(format!(".s.PGSQL.{}", server.port()))
            .exists()
    );

    assert_eq!(server.psql("SELECT 1 + 1").unwrap(), "2");
    assert_eq!(
        server
            .psql("SELECT current_user, current_setting('port')")
            .unwrap(),
        format!("postgres|{}", server.port())
    );
    assert_eq!(
        server
            .psql("SHOW server_encoding; SHOW fsync; SHOW listen_addresses")
            .unwrap(),
        "UTF8\noff\n127.0.0.1"
    );
    assert_eq!(
        server.psql("SHOW data_directory").unwrap(),
        server.data_dir().to_string_lossy()
    );

    let pid = server.pid().expect("running");
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    if owner_uid(std::path::Path::new("/proc/self")) == 0 {
        assert_ne!(owner_uid(&proc_dir), 0, "postmaster must not run as root");
        assert_ne!(owner_uid(server.data_dir()), 0);
    }

    let root = server.root().to_path_buf();
    assert!(root.exists());
    drop(server);
    assert!(!root.exists(), "folder removed on drop");
    assert!(!process_alive(pid), "postmaster gone after drop");
}

#[test]
fn sql_errors_are_reported() {
    let server = ServerBuilder::new().start().unwrap();
    let err = server.psql("SELECT * FROM no_such_table").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("no_such_table"), "{text}");
    assert!(text.contains("psql as the superuser"), "{text}");
}

#[test]
fn restart_keeps_port_and_data() {
    let mut server = ServerBuilder::new().start().unwrap();
    let port = server.port();
    server
        .psql("CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")
        .unwrap();
    let first_pid = server.pid().unwrap();

    server.stop().unwrap();
    assert!(!server.is_running());
    assert!(!process_alive(first_pid));
    assert!(server.psql("SELECT 1").is_err());
    server.stop().unwrap();

    server.restart().unwrap();
    assert_eq!(server.port(), port);
    assert_ne!(server.pid(), Some(first_pid));
    assert_eq!(server.psql("SELECT v FROM kept").unwrap(), "7");
    assert!(
        server
            .log_tail(50)
            .contains("database system is ready to accept connections")
    );
}

#[test]
fn settings_and_hba_lines_apply() {
    let server = ServerBuilder::new()
        .setting("work_mem", "7MB")
        .setting("pgline.note", "it's here")
        .hba_line("host all blocked 127.0.0.1/32 reject")
        .user("blocked", "pw")
        .user("open", "pw")
        .start()
        .unwrap();
    assert_eq!(server.psql("SHOW work_mem").unwrap(), "7MB");
    assert_eq!(server.psql("SHOW pgline.note").unwrap(), "it's here");
    let refused = support::login(
        &server,
        &support::tcp(&server, "blocked", "postgres"),
        None,
        "disable",
    )
    .unwrap_err();
    assert!(refused.contains("rejects connection"), "{refused}");
    assert_eq!(
        support::login(
            &server,
            &support::tcp(&server, "open", "postgres"),
            None,
            "disable"
        ),
        Ok("open".to_owned())
    );
}

#[test]
fn fresh_initdb_gets_its_own_system_identifier() {
    let a = ServerBuilder::new().fresh_initdb(true).start().unwrap();
    let b = ServerBuilder::new().start().unwrap();
    let c = ServerBuilder::new().start().unwrap();
    let id = |s: &pgline_testkit::Server| {
        s.psql("SELECT system_identifier FROM pg_control_system()")
            .unwrap()
    };
    assert_ne!(id(&a), id(&b));
    assert_eq!(id(&b), id(&c), "template copies share the identifier");
    eprintln!(
        "startup: fresh initdb {:?}, template copy {:?} / {:?}",
        a.startup_time(),
        b.startup_time(),
        c.startup_time()
    );
}

#[test]
fn bad_setting_fails_with_log_tail() {
    let err = ServerBuilder::new()
        .setting("shared_buffers", "not-a-size")
        .start()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("starting postgres"), "{text}");
    assert!(text.contains("shared_buffers"), "{text}");
    assert!(text.contains("server log"), "{text}");
}

#[test]
fn trust_lets_the_superuser_in_over_tcp() {
    let server = ServerBuilder::new()
        .auth(AuthMethod::Trust)
        .start()
        .unwrap();
    let pg = support::tcp(&server, "postgres", "postgres");
    assert_eq!(
        support::login(&server, &pg, None, "disable"),
        Ok("postgres".to_owned())
    );
    assert!(eventually(Duration::from_secs(1), || server.is_running()));
}

#[test]
fn superuser_can_take_a_base_backup_over_the_socket() {
    let server = ServerBuilder::new().start().unwrap();
    // pg_basebackup refuses servers newer than itself; fetched builds (17, 18) ship
    // none, and the machine's may be older.
    if !server.bin_dir().join("pg_basebackup").is_file() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED superuser_can_take_a_base_backup_over_the_socket: no pg_basebackup in {} \
             (PostgreSQL {})",
            server.bin_dir().display(),
            server.major_version().unwrap()
        );
        return;
    }
    let target = tempfile::tempdir().unwrap();
    let backup = target.path().join("backup");
    let out = server
        .client_command("pg_basebackup")
        .arg("-h")
        .arg(server.socket_dir())
        .args([
            "-p",
            &server.port().to_string(),
            "-U",
            "postgres",
            "-c",
            "fast",
            "--no-sync",
            "-D",
        ])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(backup.join("PG_VERSION").is_file());
    assert!(backup.join("backup_label").is_file());
}
