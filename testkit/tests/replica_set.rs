//! The replica rig against real servers: every control, with its post-condition checked
//! from the outside (rows on the nodes, `pg_is_in_recovery()`, process states).
//!
//! Two sets of a primary and two replicas run side by side: one for the controls that
//! keep the topology (replication, apply delay, pause, freeze, stop and start), one for
//! the failover controls (promote, repoint, rejoin by `pg_rewind` and by base backup,
//! rebuild).

mod support;

use std::net::TcpStream;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use pgline_testkit::{
    AuthMethod, Error, Lsn, NodeState, RejoinMethod, ReplicaSet, ReplicaSetBuilder, Role, StopMode,
};
use support::{eventually, process_alive};

/// The values of `t.v` on node `index`, in order, comma-separated.
fn rows(rig: &ReplicaSet, index: usize) -> String {
    rig.node(index)
        .psql("SELECT coalesce(string_agg(v, ',' ORDER BY v), '') FROM t")
        .unwrap()
}

fn insert(rig: &ReplicaSet, index: usize, value: &str) {
    rig.node(index)
        .psql(&format!("INSERT INTO t VALUES ('{value}')"))
        .unwrap();
}

/// `/proc/<pid>/stat`'s state letter.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// The postmaster of every node and every child it has now.
fn all_pids(rig: &ReplicaSet) -> Vec<u32> {
    let mut pids = Vec::new();
    for node in rig.nodes() {
        if let Some(pid) = node.pid() {
            pids.push(pid);
            pids.extend(children(pid));
        }
    }
    pids
}

fn children(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(") ")?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                })
                == Some(parent)
        })
        .collect()
}

fn start_rig() -> ReplicaSet {
    let rig = ReplicaSetBuilder::new()
        .replicas(2)
        .start()
        .expect("replica set starts");
    eprintln!(
        "primary + 2 replicas started in {:?} (ports {:?})",
        rig.startup_time(),
        rig.nodes().iter().map(|n| n.port()).collect::<Vec<_>>()
    );
    rig
}

/// Drops the set and checks that no process and no folder of it is left.
fn drop_and_check(rig: ReplicaSet) {
    let pids = all_pids(&rig);
    let roots: Vec<_> = rig
        .nodes()
        .iter()
        .map(|n| n.server().root().to_path_buf())
        .collect();
    let began = Instant::now();
    drop(rig);
    eprintln!("dropping the set took {:?}", began.elapsed());
    assert!(
        eventually(Duration::from_secs(10), || pids
            .iter()
            .all(|&p| !process_alive(p))),
        "processes left: {:?}",
        pids.iter()
            .filter(|&&p| process_alive(p))
            .collect::<Vec<_>>()
    );
    for root in roots {
        assert!(!root.exists(), "{} left behind", root.display());
    }
}

#[test]
fn replication_apply_delay_pause_freeze_and_stops() {
    let began = Instant::now();
    let mut rig = start_rig();
    assert_eq!(rig.len(), 3);
    assert_eq!(rig.node(0).role(), Role::Primary);
    assert_eq!(rig.node(1).role(), Role::Standby { upstream: 0 });
    assert_eq!(rig.node(2).role(), Role::Standby { upstream: 0 });
    assert_eq!(rig.primary().index(), 0);
    assert_eq!(rig.replicas().count(), 2);
    assert!(!rig.node(0).is_in_recovery().unwrap());
    assert!(rig.node(1).is_in_recovery().unwrap());
    assert!(rig.node(2).is_in_recovery().unwrap());
    assert_eq!(
        rig.node(0)
            .psql(
                "SELECT string_agg(current_setting(n), ',') FROM unnest(ARRAY['wal_level', \
                 'hot_standby', 'wal_writer_delay', 'fsync', 'synchronous_commit', \
                 'wal_log_hints', 'full_page_writes']) AS n"
            )
            .unwrap(),
        "replica,on,10ms,off,on,on,on"
    );
    // Both replicas stream from the primary, by their application names.
    assert_eq!(
        rig.node(0)
            .psql(
                "SELECT string_agg(application_name || ':' || state, ',' \
                 ORDER BY application_name) FROM pg_stat_replication"
            )
            .unwrap(),
        "node1:streaming,node2:streaming"
    );

    // A row written on the primary appears on each replica.
    rig.node(0)
        .psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('a')")
        .unwrap();
    let target = rig.current_lsn(0).unwrap();
    rig.wait_all_replayed().unwrap();
    for index in [1, 2] {
        assert!(rig.replay_lsn(index).unwrap() >= target);
        assert_eq!(rows(&rig, index), "a");
    }
    assert!(
        rig.node(1)
            .psql("INSERT INTO t VALUES ('no')")
            .unwrap_err()
            .to_string()
            .contains("read-only transaction")
    );

    // recovery_min_apply_delay: the row reaches node 1 only after the delay. Each look is
    // judged by when it returned, so a slow machine cannot fail the check.
    let delay = Duration::from_millis(2000);
    rig.set_apply_delay(1, delay).unwrap();
    let written = Instant::now();
    insert(&rig, 0, "b");
    rig.wait_replayed(2).unwrap();
    assert_eq!(rows(&rig, 2), "a,b");
    let mut looks_before = 0;
    let seen_after = loop {
        let seen = rows(&rig, 1);
        let at = written.elapsed();
        if seen == "a,b" {
            break at;
        }
        assert_eq!(seen, "a");
        looks_before += 1;
        assert!(at < Duration::from_secs(20), "delayed row never arrived");
        thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "with a {delay:?} apply delay the row appeared after {seen_after:?} \
         ({looks_before} looks without it)"
    );
    assert!(seen_after >= delay, "{seen_after:?}");
    rig.set_apply_delay(1, Duration::ZERO).unwrap();
    insert(&rig, 0, "c");
    rig.wait_replayed(1).unwrap();
    assert_eq!(rows(&rig, 1), "a,b,c");

    // Pause holds replay (WAL still arrives), resume catches up.
    rig.pause_replay(2).unwrap();
    insert(&rig, 0, "d");
    let target = rig.wait_replayed(1).unwrap();
    assert_eq!(rows(&rig, 1), "a,b,c,d");
    assert!(
        eventually(Duration::from_secs(10), || {
            let received: Lsn = rig
                .node(2)
                .psql("SELECT pg_last_wal_receive_lsn()")
                .unwrap()
                .parse()
                .unwrap();
            received >= target
        }),
        "paused replica still receives WAL"
    );
    assert!(rig.replay_lsn(2).unwrap() < target);
    assert_eq!(rows(&rig, 2), "a,b,c");
    rig.set_cap(Duration::from_secs(1));
    match rig.wait_replayed(2) {
        Err(Error::Timeout { last_seen, .. }) => {
            assert!(last_seen.contains("replayed up to"), "{last_seen}")
        }
        other => panic!("waiting on a paused replica: {other:?}"),
    }
    rig.set_cap(Duration::from_secs(30));
    rig.resume_replay(2).unwrap();
    rig.wait_replayed(2).unwrap();
    assert_eq!(rows(&rig, 2), "a,b,c,d");

    // Freeze is a hang, not a refusal; thaw lets the waiting query finish.
    let postmaster = rig.node(1).pid().unwrap();
    let frozen_children = children(postmaster);
    rig.freeze(1).unwrap();
    assert_eq!(rig.node(1).state(), NodeState::Frozen);
    for pid in std::iter::once(postmaster).chain(frozen_children) {
        assert_eq!(proc_state(pid).unwrap_or('T'), 'T', "pid {pid} not stopped");
    }
    let stream = TcpStream::connect((rig.node(1).host(), rig.node(1).port()));
    assert!(stream.is_ok(), "connect to a frozen node is accepted");
    match rig
        .node(1)
        .psql_timeout("SELECT 1", Duration::from_millis(800))
    {
        Err(Error::Timeout { .. }) => {}
        other => panic!("query on a frozen node: {other:?}"),
    }
    let mut waiting = rig
        .node(1)
        .server()
        .client_command("psql")
        .args(["-X", "-A", "-t", "-c", "SELECT count(*) FROM t", "-d"])
        .arg(rig.node(1).key_value("postgres", None, "postgres"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(500));
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "a query on a frozen node must hang"
    );
    rig.thaw(1).unwrap();
    assert_eq!(rig.node(1).state(), NodeState::Running);
    let out = waiting.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4");
    drop(stream);

    // Stop and start in every mode; the replica comes back, streams and catches up.
    for (mode, value) in [
        (StopMode::Fast, "e"),
        (StopMode::Immediate, "f"),
        (StopMode::Kill, "g"),
    ] {
        let postmaster = rig.node(2).pid().unwrap();
        let kids = children(postmaster);
        assert!(!kids.is_empty());
        rig.stop(2, mode).unwrap();
        assert_eq!(rig.node(2).state(), NodeState::Stopped);
        assert_eq!(rig.node(2).pid(), None);
        assert!(!process_alive(postmaster), "{mode:?}: postmaster alive");
        for kid in kids {
            assert!(!process_alive(kid), "{mode:?}: child {kid} alive");
        }
        assert!(TcpStream::connect((rig.node(2).host(), rig.node(2).port())).is_err());
        insert(&rig, 0, value);
        rig.start(2).unwrap();
        assert_eq!(rig.node(2).state(), NodeState::Running);
        rig.wait_replayed(2).unwrap();
        assert!(rows(&rig, 2).ends_with(value), "{mode:?}");
    }
    assert_eq!(rows(&rig, 2), "a,b,c,d,e,f,g");

    // The primary too: killed, started again (crash recovery), still the primary.
    rig.stop(0, StopMode::Kill).unwrap();
    rig.start(0).unwrap();
    assert!(!rig.node(0).is_in_recovery().unwrap());
    insert(&rig, 0, "h");
    rig.wait_all_replayed().unwrap();
    assert_eq!(rows(&rig, 1), "a,b,c,d,e,f,g,h");
    assert_eq!(rows(&rig, 2), "a,b,c,d,e,f,g,h");

    // A frozen node can be killed outright, and comes back.
    let postmaster = rig.node(1).pid().unwrap();
    let kids = children(postmaster);
    rig.freeze(1).unwrap();
    rig.stop(1, StopMode::Kill).unwrap();
    assert!(!process_alive(postmaster));
    assert!(kids.iter().all(|&kid| !process_alive(kid)), "{kids:?}");
    insert(&rig, 0, "i");
    rig.start(1).unwrap();
    rig.wait_replayed(1).unwrap();
    assert_eq!(rows(&rig, 1), "a,b,c,d,e,f,g,h,i");

    // Leave a node frozen: dropping must still clean everything up.
    rig.freeze(2).unwrap();
    drop_and_check(rig);
    eprintln!("test took {:?}", began.elapsed());
}

#[test]
fn promote_repoint_rejoin_and_rebuild() {
    let began = Instant::now();
    let mut rig = start_rig();
    rig.node(0)
        .psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('a')")
        .unwrap();
    rig.wait_all_replayed().unwrap();

    // Node 2 stops where everyone agrees, so it can follow node 1 later.
    rig.stop(2, StopMode::Fast).unwrap();

    // Split brain: node 1 promoted while node 0 still runs and takes a write.
    rig.promote(1).unwrap();
    assert_eq!(rig.node(1).role(), Role::Primary);
    assert_eq!(rig.primary().index(), 1);
    assert!(!rig.node(1).is_in_recovery().unwrap());
    assert!(!rig.node(0).is_in_recovery().unwrap());
    insert(&rig, 1, "b-on-new");
    insert(&rig, 0, "x-lost");
    assert_eq!(rows(&rig, 1), "a,b-on-new");
    assert_eq!(rows(&rig, 0), "a,x-lost");
    let timeline = |index: usize| {
        rig.node(index)
            .psql("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)::int")
            .unwrap()
    };
    assert_eq!(timeline(1), "2");
    assert_eq!(timeline(0), "1");

    // The old primary crashes.
    rig.stop(0, StopMode::Kill).unwrap();

    // Node 2 comes back (its upstream is down), then follows node 1.
    rig.start(2).unwrap();
    rig.repoint(2, 1).unwrap();
    assert_eq!(rig.node(2).role(), Role::Standby { upstream: 1 });
    assert_eq!(
        rig.node(2)
            .psql("SELECT sender_port FROM pg_stat_wal_receiver")
            .unwrap(),
        rig.node(1).port().to_string()
    );
    insert(&rig, 1, "c");
    rig.wait_replayed(2).unwrap();
    assert_eq!(rows(&rig, 2), "a,b-on-new,c");

    // Rejoining and rebuilding need pg_rewind and pg_basebackup of the server's own
    // version; the fetched 17/18 builds ship neither, and Debian's 15 refuses newer
    // servers.
    let bin = rig.node(0).server().bin_dir();
    if !bin.join("pg_rewind").is_file() || !bin.join("pg_basebackup").is_file() {
        eprintln!(
            "SKIPPED promote_repoint_rejoin_and_rebuild (rejoin and rebuild): no pg_rewind \
             or pg_basebackup in {}",
            bin.display()
        );
        return;
    }

    // The old primary rejoins by pg_rewind: its lost write is gone, the new rows are in.
    let method = rig.rejoin(0, 1).unwrap();
    assert_eq!(method, RejoinMethod::Rewind);
    assert_eq!(rig.node(0).role(), Role::Standby { upstream: 1 });
    assert!(rig.node(0).is_in_recovery().unwrap());
    insert(&rig, 1, "d");
    rig.wait_all_replayed().unwrap();
    assert_eq!(rows(&rig, 0), "a,b-on-new,c,d");
    assert_eq!(rows(&rig, 2), "a,b-on-new,c,d");
    assert_eq!(
        rig.node(1)
            .psql(
                "SELECT string_agg(application_name, ',' ORDER BY application_name) \
                 FROM pg_stat_replication WHERE state = 'streaming'"
            )
            .unwrap(),
        "node0,node2"
    );

    // When pg_rewind cannot work (here: no control file), rejoin takes a base backup.
    rig.stop(0, StopMode::Fast).unwrap();
    std::fs::remove_file(rig.node(0).server().data_dir().join("global/pg_control")).unwrap();
    match rig.rejoin(0, 1).unwrap() {
        RejoinMethod::BaseBackup { rewind_failure } => {
            assert!(rewind_failure.contains("pg_rewind"), "{rewind_failure}")
        }
        other => panic!("rejoin without a control file: {other:?}"),
    }
    assert!(rig.node(0).is_in_recovery().unwrap());
    insert(&rig, 1, "e");
    rig.wait_replayed(0).unwrap();
    assert_eq!(rows(&rig, 0), "a,b-on-new,c,d,e");

    // A running standby rebuilt from a fresh base backup.
    rig.rebuild(2, 1).unwrap();
    insert(&rig, 1, "f");
    rig.wait_all_replayed().unwrap();
    assert_eq!(rows(&rig, 2), "a,b-on-new,c,d,e,f");
    assert_eq!(rows(&rig, 0), "a,b-on-new,c,d,e,f");

    // Misuse is a typed error, not a hang.
    for err in [
        rig.promote(1).unwrap_err(),
        rig.repoint(2, 0).unwrap_err(),
        rig.thaw(0).unwrap_err(),
        rig.start(0).unwrap_err(),
        rig.rejoin(1, 1).unwrap_err(),
        rig.stop(7, StopMode::Fast).unwrap_err(),
        rig.set_synchronous(1).unwrap_err(),
    ] {
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    }

    // A synchronous standby: a commit on its primary waits while it is frozen and
    // completes once it is thawed.
    rig.set_synchronous(2).unwrap();
    rig.freeze(2).unwrap();
    let err = rig
        .node(1)
        .psql_timeout("INSERT INTO t VALUES ('g')", Duration::from_secs(1))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(
        rows(&rig, 1),
        "a,b-on-new,c,d,e,f",
        "not visible while waiting"
    );
    rig.thaw(2).unwrap();
    rig.wait_all_replayed().unwrap();
    assert_eq!(rows(&rig, 2), "a,b-on-new,c,d,e,f,g");

    drop_and_check(rig);
    eprintln!("test took {:?}", began.elapsed());
}

/// Users and databases made on the primary reach the replica; the multi-host strings are
/// ones libpq accepts, and `target_session_attrs` picks the node it should.
#[test]
fn users_databases_and_multi_host_strings() {
    let rig = ReplicaSetBuilder::new()
        .replicas(1)
        .auth(AuthMethod::ScramSha256)
        .user("alice", "s3cret'")
        .database("app", "alice")
        .setting("max_connections", "50")
        .start()
        .unwrap();
    assert_eq!(rig.node(1).psql("SHOW max_connections").unwrap(), "50");
    let owner = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'";
    assert_eq!(rig.node(1).psql(owner).unwrap(), "alice");

    let connect = |conninfo: &str, password: Option<&str>| {
        let mut cmd = rig.node(0).server().client_command("psql");
        cmd.args(["-X", "-A", "-t", "-w", "-c"])
            .arg("SELECT current_setting('port') || ' ' || current_user || ' ' || pg_is_in_recovery()")
            .arg("-d")
            .arg(conninfo);
        if let Some(password) = password {
            cmd.env("PGPASSWORD", password);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{conninfo}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let (p0, p1) = (rig.node(0).port(), rig.node(1).port());
    // SCRAM for alice on the replica, trust for the superuser over TCP.
    assert_eq!(
        connect(&rig.node(1).url("alice", Some("s3cret'"), "app"), None),
        format!("{p1} alice true")
    );
    assert_eq!(
        connect(
            &rig.node(1).key_value("alice", None, "app"),
            Some("s3cret'")
        ),
        format!("{p1} alice true")
    );
    let wrong = rig
        .node(1)
        .server()
        .client_command("psql")
        .args(["-X", "-w", "-c", "SELECT 1", "-d"])
        .arg(rig.node(1).url("alice", Some("wrong"), "app"))
        .output()
        .unwrap();
    assert!(!wrong.status.success(), "a wrong password must be refused");
    assert_eq!(
        connect(&rig.node(1).url("postgres", None, "postgres"), None),
        format!("{p1} postgres true")
    );

    let url = rig.multi_host_url(&[1, 0], "alice", Some("s3cret'"), "app");
    assert_eq!(
        url,
        format!("postgres://alice:s3cret%27@127.0.0.1:{p1},127.0.0.1:{p0}/app?sslmode=disable")
    );
    assert_eq!(connect(&url, None), format!("{p1} alice true"));
    assert_eq!(
        connect(&format!("{url}&target_session_attrs=read-write"), None),
        format!("{p0} alice false")
    );
    let key_value = rig.multi_host_key_value(&[0, 1], "alice", Some("s3cret'"), "app");
    assert_eq!(connect(&key_value, None), format!("{p0} alice false"));
    assert_eq!(
        connect(&format!("{key_value} target_session_attrs=standby"), None),
        format!("{p1} alice true")
    );
    drop_and_check(rig);
}
