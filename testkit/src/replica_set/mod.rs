//! A primary and its streaming replicas, with the controls a failover test needs.
//!
//! Owns: [`ReplicaSetBuilder`] and [`ReplicaSet`]: making N+1 data folders from the
//! per-process template, configuring them for streaming replication, starting them, and
//! the controls (promote, stop, start, freeze, thaw, apply delay, pause and resume replay,
//! repoint, rejoin, rebuild, wait for replay). Every control returns only when its
//! post-condition holds, checked by polling the servers, or fails with
//! [`Error::Timeout`](crate::Error::Timeout) after the set's cap (30 s by default). Must
//! not: implement the steps it shares with a single server (folders, template, config
//! text, postmaster, watchdog live in their own modules).
//!
//! ```no_run
//! use pgline_testkit::{ReplicaSetBuilder, Role, StopMode};
//!
//! let mut rig = ReplicaSetBuilder::new().replicas(2).start()?;
//! println!("primary + 2 replicas up in {:?}", rig.startup_time());
//! rig.primary().psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")?;
//! rig.wait_all_replayed()?; // every standby has replayed the primary's current LSN
//! assert_eq!(rig.node(1).psql("SELECT count(*) FROM t")?, "1");
//!
//! rig.stop(0, StopMode::Immediate)?; // the primary crashes
//! rig.promote(1)?; // returns once pg_is_in_recovery() is false on node 1
//! rig.repoint(2, 1)?; // returns once node 2 streams from node 1
//! rig.rejoin(0, 1)?; // pg_rewind (or a fresh base backup), then streams from node 1
//! assert_eq!(rig.node(0).role(), Role::Standby { upstream: 1 });
//! # Ok::<(), pgline_testkit::Error>(())
//! ```
//!
//! # How the nodes are made
//!
//! Node 0 starts as the primary, nodes 1..=N as its standbys. Every data folder is a copy
//! of the per-process `initdb` template made while no server runs on it: a copy of a
//! cleanly shut down cluster is a valid base backup, so each standby starts consistent at
//! the template's checkpoint and streams everything after it from the primary. That gives
//! the same standbys as `pg_basebackup -R -X stream` without a checkpoint and a copy
//! through the primary per replica; [`ReplicaSet::rebuild`] runs a real `pg_basebackup`.
//!
//! Every node gets the same configuration (only port and socket folder differ, and they
//! are given on the command line): the testkit's fast defaults, then `wal_level=replica`,
//! `hot_standby=on`, `hot_standby_feedback=on` (so queries on a standby are not cancelled
//! by cleanup on the primary), `wal_writer_delay=10ms`, `wal_keep_size=256MB` (WAL is kept
//! for a stopped or frozen standby without replication slots, which would not follow a
//! promotion), `max_wal_senders=10`, `max_replication_slots=10` (free for tests),
//! `wal_retrieve_retry_interval=200ms` (a standby reconnects quickly after its upstream
//! comes back or changes), `wal_receiver_status_interval=1s`,
//! `wal_sender_timeout=10s` and `wal_receiver_timeout=10s` (a frozen peer is given up
//! after 10 s instead of 60 s), and for `pg_rewind`
//! `wal_log_hints=on` and `full_page_writes=on`. `synchronous_commit` is `on` (the
//! single-server default of `off` delays replication by up to three WAL writer rounds).
//! `fsync` stays off. Settings given to the builder come last and win.
//!
//! `pg_hba.conf` lets the superuser in over loopback with `trust`, for replication and
//! SQL (standbys and `pg_rewind` connect that way), before the lines of the chosen
//! [`AuthMethod`].
//!
//! Standbys connect with `primary_conninfo = 'host=127.0.0.1 port=<upstream>
//! user=postgres application_name=node<i> connect_timeout=5'`, so the primary's
//! `pg_stat_replication.application_name` names them.
//!
//! Timing (2 cores, `/dev/shm`, release build): a primary with two replicas starts in
//! about 0.3 s (0.8 s for the first set of a process, which makes the template), until
//! every replica streams and has replayed; dropping it takes 30-45 ms. Run
//! `cargo run -p pgline-testkit --release --example replica_set_start_time`.
//!
//! Needs PostgreSQL 14 or later (`pg_get_wal_replay_pause_state`, `pg_rewind`'s own crash
//! recovery of its target).

mod lsn;
mod process;

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub use lsn::Lsn;
use process::ProcState;

use crate::cluster::{self, SUPERUSER};
use crate::conf::{self, AuthMethod};
use crate::postmaster::ShutdownMode;
use crate::server::{PortChoice, Server};
use crate::server_user::ServerUser;
use crate::sql::{self, NewDatabase, NewUser};
use crate::watchdog::Watchdog;
use crate::{Error, conninfo, folder, pg_bin_dir};

/// The default cap on every control's wait and on [`Node::psql`].
const DEFAULT_CAP: Duration = Duration::from_secs(30);
/// Pause between two checks of a post-condition.
const POLL: Duration = Duration::from_millis(20);
/// At most this many replicas (ports, processes and memory of a small test box).
const MAX_REPLICAS: usize = 8;

/// Settings a hot standby needs at least as high as on its primary.
const STANDBY_MINIMUMS: &[&str] = &[
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
];

/// Replication settings on every node, after the single-server defaults.
const REPLICATION_SETTINGS: &[(&str, &str)] = &[
    ("wal_level", "replica"),
    ("hot_standby", "on"),
    ("hot_standby_feedback", "on"),
    ("synchronous_commit", "on"),
    ("wal_writer_delay", "10ms"),
    ("wal_keep_size", "256MB"),
    ("max_wal_senders", "10"),
    ("max_replication_slots", "10"),
    ("wal_retrieve_retry_interval", "200ms"),
    ("wal_receiver_status_interval", "1s"),
    ("wal_sender_timeout", "10s"),
    ("wal_receiver_timeout", "10s"),
    ("wal_log_hints", "on"),
    ("full_page_writes", "on"),
];

/// What a node is, as the replica set configured it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts writes (started as node 0, or promoted).
    Primary,
    /// Streams from and replays the WAL of node `upstream`.
    Standby {
        /// The index of the node in its `primary_conninfo`.
        upstream: usize,
    },
}

/// Whether a node's processes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// The postmaster runs and answers.
    Running,
    /// The postmaster and every child are stopped by SIGSTOP: connections are accepted
    /// by the kernel and then hang; nothing is refused.
    Frozen,
    /// No process of the node runs.
    Stopped,
}

/// How [`ReplicaSet::stop`] ends a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// `pg_ctl stop -m fast`: sessions aborted, standbys sent all WAL, clean checkpoint.
    /// A primary waits for its standbys to confirm the last WAL: with one of them
    /// frozen that takes until `wal_sender_timeout` (10 s here); prefer
    /// [`Immediate`](Self::Immediate) then.
    Fast,
    /// `pg_ctl stop -m immediate`: every process quits at once; the next start runs crash
    /// recovery. Clients see their connections closed.
    Immediate,
    /// SIGKILL to the postmaster, then to each of its children, as if the host had lost
    /// power, except that the kernel still closes the sockets.
    Kill,
}

/// How [`ReplicaSet::rejoin`] turned a node into a standby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejoinMethod {
    /// `pg_rewind` from the new primary.
    Rewind,
    /// A fresh `pg_basebackup`, because `pg_rewind` failed.
    BaseBackup {
        /// What `pg_rewind` reported.
        rewind_failure: String,
    },
}

/// Describes a replica set; [`ReplicaSetBuilder::start`] makes it.
///
/// Defaults: two replicas, `trust` for every user, no extra users, a 30 s cap on every
/// control.
#[derive(Debug, Clone)]
pub struct ReplicaSetBuilder {
    replicas: usize,
    auth: AuthMethod,
    hba_lines: Vec<String>,
    users: Vec<NewUser>,
    databases: Vec<NewDatabase>,
    settings: Vec<(String, String)>,
    cap: Duration,
}

impl Default for ReplicaSetBuilder {
    fn default() -> Self {
        Self {
            replicas: 2,
            auth: AuthMethod::Trust,
            hba_lines: Vec::new(),
            users: Vec::new(),
            databases: Vec::new(),
            settings: Vec::new(),
            cap: DEFAULT_CAP,
        }
    }
}

impl ReplicaSetBuilder {
    /// A builder with the defaults above.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of streaming replicas (0 to 8), nodes 1..=`n`.
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }

    /// The method on the `local` and `host` lines for every user but the superuser
    /// (`Cert` is not offered: the nodes have no TLS).
    pub fn auth(mut self, method: AuthMethod) -> Self {
        self.auth = method;
        self
    }

    /// An extra `pg_hba.conf` line on every node, before the default lines.
    pub fn hba_line(mut self, line: &str) -> Self {
        self.hba_lines.push(line.to_owned());
        self
    }

    /// A `LOGIN` role, created on the primary (standbys get it by replication).
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push(NewUser {
            name: name.to_owned(),
            password: password.to_owned(),
        });
        self
    }

    /// A database `name` owned by `owner`, created on the primary after the users.
    pub fn database(mut self, name: &str, owner: &str) -> Self {
        self.databases.push(NewDatabase {
            name: name.to_owned(),
            owner: owner.to_owned(),
        });
        self
    }

    /// A `postgresql.conf` setting on every node; it overrides the defaults above.
    ///
    /// Naming one of the settings a hot standby needs at least as high as its primary
    /// (`max_connections`, `max_worker_processes`, `max_wal_senders`,
    /// `max_prepared_transactions`, `max_locks_per_transaction`) makes the start run the
    /// primary once before the replicas are copied from it, so that their control files
    /// carry its values (a template copy carries `initdb`'s, and a lower value would stop
    /// the standbys at start).
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    /// How long a control (and [`Node::psql`]) may wait for its post-condition.
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    fn validate(&self) -> Result<(), Error> {
        if self.replicas > MAX_REPLICAS {
            return Err(Error::InvalidInput(format!(
                "{} replicas asked for; at most {MAX_REPLICAS}",
                self.replicas
            )));
        }
        if self.auth == AuthMethod::Cert {
            return Err(Error::InvalidInput(
                "certificate authentication needs TLS, which replica sets do not set up".into(),
            ));
        }
        let no_nul = |what: &str, value: &str| {
            if value.contains('\0') || value.is_empty() {
                Err(Error::InvalidInput(format!(
                    "{what} {value:?} is empty or has a NUL"
                )))
            } else {
                Ok(())
            }
        };
        for user in &self.users {
            no_nul("user name", &user.name)?;
            if user.password.contains('\0') {
                return Err(Error::InvalidInput(format!("password of {}", user.name)));
            }
        }
        for db in &self.databases {
            no_nul("database name", &db.name)?;
            no_nul("database owner", &db.owner)?;
        }
        for line in &self.hba_lines {
            if line.contains(['\n', '\r', '\0']) {
                return Err(Error::InvalidInput(format!("hba line {line:?}")));
            }
        }
        for (name, value) in &self.settings {
            if !conf::is_setting_name(name) || value.contains(['\n', '\r', '\0']) {
                return Err(Error::InvalidInput(format!("setting {name:?} = {value:?}")));
            }
        }
        Ok(())
    }

    /// Makes the data folders, starts the primary, then the replicas, creates users and
    /// databases, and returns once every replica streams from the primary and has
    /// replayed its current WAL position.
    ///
    /// On failure everything made so far is stopped and removed.
    pub fn start(self) -> Result<ReplicaSet, Error> {
        let began = Instant::now();
        self.validate()?;
        let bin_dir = pg_bin_dir()?;
        let user = ServerUser::get()?;

        let mut hba_lines = vec![
            format!("host replication {SUPERUSER} 127.0.0.1/32 trust"),
            format!("host all {SUPERUSER} 127.0.0.1/32 trust"),
        ];
        hba_lines.extend(self.hba_lines.iter().cloned());
        let hba = conf::hba_text(SUPERUSER, &hba_lines, self.auth);
        let mut settings: Vec<(String, String)> = REPLICATION_SETTINGS
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        settings.extend(self.settings.iter().cloned());
        let settings = conf::settings_text(self.auth, None, &settings);

        // A standby refuses to start when one of these is lower than the value its control
        // file says the primary runs with; a template copy's control file holds initdb's
        // values. So when the caller sets one, the primary runs once first (recording its
        // values) and the replicas are copies of its data folder.
        let primary_first = self.settings.iter().any(|(name, _)| {
            STANDBY_MINIMUMS
                .iter()
                .any(|minimum| name.eq_ignore_ascii_case(minimum))
        });
        let mut made: Vec<Result<Server, Error>> = Vec::new();
        let mut source = None;
        if primary_first {
            let mut primary = make_node(&bin_dir, user, &hba, &settings, None)?;
            primary.start_postmaster(PortChoice::New)?;
            primary.shut_down(ShutdownMode::Fast)?;
            source = Some(primary.data_dir().to_path_buf());
            made.push(Ok(primary));
        }
        let source = source.as_deref();
        made.extend(thread::scope(|scope| {
            let handles: Vec<_> = (made.len()..=self.replicas)
                .map(|_| scope.spawn(|| make_node(&bin_dir, user, &hba, &settings, source)))
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(Error::InvalidInput("making a node panicked".to_owned()))
                    })
                })
                .collect::<Vec<_>>()
        }));
        let mut nodes = Vec::with_capacity(made.len());
        for (index, server) in made.into_iter().enumerate() {
            let role = match index {
                0 => Role::Primary,
                _ => Role::Standby { upstream: 0 },
            };
            nodes.push(Node {
                index,
                server: server?,
                role,
                state: NodeState::Stopped,
                frozen: Vec::new(),
                cap: self.cap,
            });
        }
        let mut set = ReplicaSet {
            nodes,
            primary: 0,
            cap: self.cap,
            user,
            startup_time: Duration::ZERO,
        };

        set.nodes[0].server.start_postmaster(PortChoice::New)?;
        set.nodes[0].state = NodeState::Running;
        let primary_port = set.nodes[0].port();
        let (_, replicas) = set.nodes.split_at_mut(1);
        let started: Vec<Result<(), Error>> = thread::scope(|scope| {
            let handles: Vec<_> = replicas
                .iter_mut()
                .map(|node| {
                    scope.spawn(move || {
                        write_standby_config(node, user, primary_port)?;
                        node.server.start_postmaster(PortChoice::New)?;
                        node.state = NodeState::Running;
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|_| {
                        Err(Error::InvalidInput(
                            "starting a replica panicked".to_owned(),
                        ))
                    })
                })
                .collect()
        });
        started.into_iter().collect::<Result<(), Error>>()?;

        if !self.users.is_empty() || !self.databases.is_empty() {
            let script = sql::setup_script(self.auth, SUPERUSER, &self.users, &self.databases);
            set.nodes[0].psql(&script)?;
        }
        for index in 1..set.nodes.len() {
            set.wait_streaming(index, 0)?;
        }
        set.wait_all_replayed()?;
        set.startup_time = began.elapsed();
        Ok(set)
    }
}

/// A folder with a watchdog, a socket folder and a configured data folder copied from
/// the template, or from `source` (a stopped, configured data folder); nothing runs yet.
fn make_node(
    bin_dir: &Path,
    user: &'static ServerUser,
    hba: &str,
    settings: &str,
    source: Option<&Path>,
) -> Result<Server, Error> {
    let root = folder::new_root_folder("replica-set")?;
    let watchdog = match Watchdog::spawn(&root) {
        Ok(dog) => dog,
        Err(err) => {
            let _ = fs::remove_dir_all(&root);
            return Err(err);
        }
    };
    // From here on, dropping `server` cleans up whatever exists.
    let server = Server::new(root, bin_dir.to_path_buf(), user, watchdog);
    user.own(server.root())?;
    let socket_dir = server.socket_dir();
    fs::create_dir(socket_dir)
        .map_err(|e| Error::io(format!("creating {}", socket_dir.display()), e))?;
    fs::set_permissions(socket_dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(format!("chmod {}", socket_dir.display()), e))?;
    user.own(socket_dir)?;
    let Some(source) = source else {
        cluster::copy_template(bin_dir, server.data_dir(), user)?;
        conf::write_config(server.data_dir(), hba, settings)?;
        return Ok(server);
    };
    let output = user
        .command("cp", server.root())
        .arg("-a")
        .arg(source)
        .arg(server.data_dir())
        .output()
        .map_err(|e| Error::io("running cp -a for a replica's data folder", e))?;
    cluster::check(
        output,
        &format!("copying {} for a replica", source.display()),
    )?;
    Ok(server)
}

/// `standby.signal` and a `primary_conninfo` naming `upstream_port`, appended to
/// `postgresql.auto.conf` (the last line wins), as `pg_basebackup -R` writes them.
fn write_standby_config(node: &Node, user: &ServerUser, upstream_port: u16) -> Result<(), Error> {
    let data_dir = node.server.data_dir();
    let signal = data_dir.join("standby.signal");
    fs::write(&signal, "").map_err(|e| Error::io(format!("writing {}", signal.display()), e))?;
    user.own(&signal)?;
    let auto = data_dir.join("postgresql.auto.conf");
    let line = format!(
        "primary_conninfo = {}\n",
        conf::quote_conf_value(&node.primary_conninfo(upstream_port))
    );
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&auto)
        .map_err(|e| Error::io(format!("opening {}", auto.display()), e))?;
    file.write_all(line.as_bytes())
        .map_err(|e| Error::io(format!("appending to {}", auto.display()), e))?;
    user.own(&auto)
}

/// One server of a [`ReplicaSet`].
///
/// Getters: [`index`](Self::index), [`role`](Self::role), [`state`](Self::state),
/// [`host`](Self::host), [`port`](Self::port), [`url`](Self::url),
/// [`key_value`](Self::key_value), [`pid`](Self::pid), [`server`](Self::server). SQL:
/// [`psql`](Self::psql), [`psql_timeout`](Self::psql_timeout),
/// [`is_in_recovery`](Self::is_in_recovery). Controls are on the [`ReplicaSet`], since
/// most involve two nodes.
#[derive(Debug)]
pub struct Node {
    index: usize,
    server: Server,
    role: Role,
    state: NodeState,
    /// The processes stopped by the last freeze (postmaster first), while frozen.
    frozen: Vec<u32>,
    cap: Duration,
}

impl Node {
    /// The node's position in the set: 0 is the first primary.
    pub fn index(&self) -> usize {
        self.index
    }

    /// What the replica set made of this node.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether it runs, is frozen or is stopped.
    pub fn state(&self) -> NodeState {
        self.state
    }

    /// `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        self.server.host()
    }

    /// The TCP port; it stays the same across stops, starts and rejoins.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// A `postgres://user[:password]@127.0.0.1:port/dbname?sslmode=disable` URL.
    pub fn url(&self, user: &str, password: Option<&str>, dbname: &str) -> String {
        self.server.url(user, password, dbname)
    }

    /// A libpq `key=value` string for this node (`sslmode=disable`).
    pub fn key_value(&self, user: &str, password: Option<&str>, dbname: &str) -> String {
        self.server.key_value(user, password, dbname)
    }

    /// The postmaster's process id while it runs or is frozen.
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// The underlying server: folders, log, client commands.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// `node<index>`: the `application_name` of its replication connection.
    pub fn application_name(&self) -> String {
        format!("node{}", self.index)
    }

    fn primary_conninfo(&self, upstream_port: u16) -> String {
        format!(
            "host={} port={upstream_port} user={SUPERUSER} application_name={} connect_timeout=5",
            self.host(),
            self.application_name()
        )
    }

    /// Runs `sql` as the superuser over the unix socket, like [`Server::psql`], but gives
    /// up (killing `psql`) with [`Error::Timeout`] after the set's cap.
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        self.psql_timeout(sql, self.cap)
    }

    /// [`psql`](Self::psql) with its own time limit: a query on a frozen node fails
    /// with [`Error::Timeout`] after `limit`.
    pub fn psql_timeout(&self, sql: &str, limit: Duration) -> Result<String, Error> {
        psql_capped(&self.server, sql, limit)
    }

    /// `pg_is_in_recovery()`.
    pub fn is_in_recovery(&self) -> Result<bool, Error> {
        parse_bool(&self.psql("SELECT pg_is_in_recovery()")?)
    }

    fn log_tail(&self) -> String {
        self.server.log_tail(30)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A frozen postmaster would ignore the shutdown signal until the stop timeout.
        if !self.frozen.is_empty() {
            let _ = process::signal_all(&self.frozen, "CONT");
        }
    }
}

/// A primary and its streaming replicas: see the module documentation.
///
/// Nodes are addressed by index: 0 is the first primary, 1..=N its replicas. Methods:
/// getters ([`node`](Self::node), [`nodes`](Self::nodes), [`primary`](Self::primary),
/// [`replicas`](Self::replicas), [`multi_host_url`](Self::multi_host_url), ...),
/// controls ([`promote`](Self::promote), [`stop`](Self::stop), [`start`](Self::start),
/// [`freeze`](Self::freeze), [`thaw`](Self::thaw),
/// [`set_apply_delay`](Self::set_apply_delay),
/// [`set_synchronous`](Self::set_synchronous), [`pause_replay`](Self::pause_replay),
/// [`resume_replay`](Self::resume_replay), [`repoint`](Self::repoint),
/// [`rejoin`](Self::rejoin), [`rebuild`](Self::rebuild)) and waits
/// ([`wait_replayed`](Self::wait_replayed), [`wait_all_replayed`](Self::wait_all_replayed)).
///
/// Dropping it stops every node (immediate mode, thawing frozen ones first) and removes
/// their folders; if the process dies first, each node's watchdog does it.
///
/// It is `Send + Sync`. Every call blocks (it runs `psql` and sleeps between checks): from
/// async code, call it through `spawn_blocking`, sharing the set as an
/// `Arc<Mutex<ReplicaSet>>`, and copy ports and URLs out beforehand (they never change).
#[derive(Debug)]
pub struct ReplicaSet {
    nodes: Vec<Node>,
    primary: usize,
    cap: Duration,
    user: &'static ServerUser,
    startup_time: Duration,
}

/// What one check of a post-condition found.
enum Check {
    Done,
    NotYet(String),
}

impl ReplicaSet {
    /// The node at `index`.
    ///
    /// # Panics
    ///
    /// When `index` is not below [`len`](Self::len).
    pub fn node(&self, index: usize) -> &Node {
        &self.nodes[index]
    }

    /// Every node, in index order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The number of nodes (replicas + 1).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a set has at least its primary.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node that most recently became primary (node 0, or the last promoted one).
    /// After a promotion with the old primary still running, both have
    /// [`Role::Primary`]; this is the new one.
    pub fn primary(&self) -> &Node {
        &self.nodes[self.primary]
    }

    /// Changes the cap on every later control's wait and on [`Node::psql`].
    pub fn set_cap(&mut self, cap: Duration) {
        self.cap = cap;
        for node in &mut self.nodes {
            node.cap = cap;
        }
    }

    /// The nodes whose role is [`Role::Standby`].
    pub fn replicas(&self) -> impl Iterator<Item = &Node> {
        self.nodes
            .iter()
            .filter(|node| matches!(node.role, Role::Standby { .. }))
    }

    /// How long [`ReplicaSetBuilder::start`] took, until every replica had replayed the
    /// primary's WAL.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// A multi-host URL `postgres://user[:password]@127.0.0.1:p1,127.0.0.1:p2/db?sslmode=disable`
    /// listing the nodes in `order`.
    pub fn multi_host_url(
        &self,
        order: &[usize],
        user: &str,
        password: Option<&str>,
        dbname: &str,
    ) -> String {
        let hosts: Vec<String> = order
            .iter()
            .filter_map(|&i| self.nodes.get(i))
            .map(|node| format!("{}:{}", node.host(), node.port()))
            .collect();
        let mut url = format!("postgres://{}", conninfo::percent_encode(user));
        if let Some(password) = password {
            url.push(':');
            url.push_str(&conninfo::percent_encode(password));
        }
        url.push_str(&format!(
            "@{}/{}?sslmode=disable",
            hosts.join(","),
            conninfo::percent_encode(dbname)
        ));
        url
    }

    /// A multi-host libpq `key=value` string (`host='127.0.0.1,…' port='p1,…'`) listing
    /// the nodes in `order`.
    pub fn multi_host_key_value(
        &self,
        order: &[usize],
        user: &str,
        password: Option<&str>,
        dbname: &str,
    ) -> String {
        let nodes: Vec<&Node> = order.iter().filter_map(|&i| self.nodes.get(i)).collect();
        let hosts: Vec<&str> = nodes.iter().map(|node| node.host()).collect();
        let ports: Vec<String> = nodes.iter().map(|node| node.port().to_string()).collect();
        let mut out = format!(
            "host={} port={} user={}",
            conninfo::quote_value(&hosts.join(",")),
            conninfo::quote_value(&ports.join(",")),
            conninfo::quote_value(user)
        );
        if let Some(password) = password {
            out.push_str(&format!(" password={}", conninfo::quote_value(password)));
        }
        out.push_str(&format!(
            " dbname={} sslmode=disable",
            conninfo::quote_value(dbname)
        ));
        out
    }

    fn get(&self, index: usize) -> Result<&Node, Error> {
        self.nodes.get(index).ok_or_else(|| {
            Error::InvalidInput(format!(
                "node {index} does not exist (the set has {})",
                self.nodes.len()
            ))
        })
    }

    fn running(&self, index: usize, for_what: &str) -> Result<&Node, Error> {
        let node = self.get(index)?;
        match node.state {
            NodeState::Running => Ok(node),
            other => Err(Error::InvalidInput(format!(
                "{for_what}: node {index} is {other:?}, not running"
            ))),
        }
    }

    fn running_standby(&self, index: usize, for_what: &str) -> Result<(&Node, usize), Error> {
        let node = self.running(index, for_what)?;
        match node.role {
            Role::Standby { upstream } => Ok((node, upstream)),
            Role::Primary => Err(Error::InvalidInput(format!(
                "{for_what}: node {index} is a primary, not a standby"
            ))),
        }
    }

    fn running_primary(&self, index: usize, for_what: &str) -> Result<&Node, Error> {
        let node = self.running(index, for_what)?;
        match node.role {
            Role::Primary => Ok(node),
            Role::Standby { .. } => Err(Error::InvalidInput(format!(
                "{for_what}: node {index} is a standby, not a primary"
            ))),
        }
    }

    /// Polls `check` on node `index` until it reports [`Check::Done`] or the cap passes.
    /// A failing check (e.g. the server not answering yet) counts as "not yet".
    fn wait_for(
        &self,
        index: usize,
        action: &str,
        mut check: impl FnMut(&Node) -> Result<Check, Error>,
    ) -> Result<(), Error> {
        let node = self.get(index)?;
        let started = Instant::now();
        loop {
            let last_seen = match check(node) {
                Ok(Check::Done) => return Ok(()),
                Ok(Check::NotYet(seen)) => seen,
                Err(err) => err.to_string(),
            };
            if started.elapsed() >= self.cap {
                return Err(Error::Timeout {
                    action: format!("node {index}: {action}"),
                    waited: started.elapsed(),
                    last_seen,
                    log_tail: node.log_tail(),
                });
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until node `index` streams from node `upstream` (its WAL receiver is
    /// `streaming` and connected to `upstream`'s port).
    fn wait_streaming(&self, index: usize, upstream: usize) -> Result<(), Error> {
        let port = self.get(upstream)?.port().to_string();
        let query = "SELECT status || '|' || coalesce(sender_port::text, '') \
                     FROM pg_stat_wal_receiver";
        self.wait_for(index, &format!("streaming from node {upstream}"), |node| {
            let seen = node.psql(query)?;
            Ok(if seen == format!("streaming|{port}") {
                Check::Done
            } else {
                Check::NotYet(format!("wal receiver: {seen:?}"))
            })
        })
    }

    /// Promotes standby `index` with `pg_promote()`; returns once `pg_is_in_recovery()`
    /// is false there. The old primary is left as it is (stop it first to avoid two
    /// primaries). Other standbys keep streaming from their upstream until
    /// [`repoint`](Self::repoint)ed.
    pub fn promote(&mut self, index: usize) -> Result<(), Error> {
        let (node, _) = self.running_standby(index, "promote")?;
        let answer = node.psql("SELECT pg_promote(true, 60)")?;
        if answer != "t" {
            return Err(Error::server(
                format!("promoting node {index}"),
                format!("pg_promote returned {answer:?}"),
                node.log_tail(),
            ));
        }
        self.wait_for(index, "leaving recovery after promotion", |node| {
            Ok(if node.is_in_recovery()? {
                Check::NotYet("pg_is_in_recovery() = true".to_owned())
            } else {
                Check::Done
            })
        })?;
        self.nodes[index].role = Role::Primary;
        self.primary = index;
        Ok(())
    }

    /// Stops node `index` in `mode` (a frozen node is thawed first, except for
    /// [`StopMode::Kill`]); returns once none of its processes is left. Stopping a
    /// stopped node does nothing.
    pub fn stop(&mut self, index: usize, mode: StopMode) -> Result<(), Error> {
        self.get(index)?;
        let node = &mut self.nodes[index];
        let Some(pid) = node.server.pid() else {
            node.state = NodeState::Stopped;
            return Ok(());
        };
        match mode {
            StopMode::Fast | StopMode::Immediate => {
                if !node.frozen.is_empty() {
                    process::signal_all(&node.frozen, "CONT")?;
                    node.frozen.clear();
                }
                let shutdown = match mode {
                    StopMode::Fast => ShutdownMode::Fast,
                    _ => ShutdownMode::Immediate,
                };
                node.server.shut_down(shutdown)?;
            }
            StopMode::Kill => {
                // Stopped first, the postmaster cannot fork a child we would miss.
                process::signal_all(&[pid], "STOP")?;
                let mut victims = process::children_of(pid)?;
                victims.extend(node.frozen.drain(..).filter(|&p| p != pid));
                node.server.shut_down(ShutdownMode::Kill)?;
                process::signal_all(&victims, "KILL")?;
                let started = Instant::now();
                while victims
                    .iter()
                    .any(|&p| process::state(p) != ProcState::Gone)
                {
                    if started.elapsed() >= node.cap {
                        return Err(Error::Timeout {
                            action: format!("node {index}: children exiting after SIGKILL"),
                            waited: started.elapsed(),
                            last_seen: format!("still alive among {victims:?}"),
                            log_tail: node.log_tail(),
                        });
                    }
                    thread::sleep(Duration::from_millis(5));
                }
            }
        }
        node.state = NodeState::Stopped;
        Ok(())
    }

    /// Starts stopped node `index` again on its port; returns once it answers SQL and,
    /// for a standby whose upstream runs, streams from it.
    pub fn start(&mut self, index: usize) -> Result<(), Error> {
        let node = self.get(index)?;
        if node.state != NodeState::Stopped {
            return Err(Error::InvalidInput(format!(
                "start: node {index} is {:?}",
                node.state
            )));
        }
        self.nodes[index]
            .server
            .start_postmaster(PortChoice::Same)?;
        self.nodes[index].state = NodeState::Running;
        self.wait_answers(index)?;
        if let Role::Standby { upstream } = self.nodes[index].role {
            if self.nodes[upstream].state == NodeState::Running {
                self.wait_streaming(index, upstream)?;
            }
        }
        Ok(())
    }

    fn wait_answers(&self, index: usize) -> Result<(), Error> {
        self.wait_for(index, "answering SELECT 1", |node| {
            let seen = node.psql("SELECT 1")?;
            Ok(match seen.as_str() {
                "1" => Check::Done,
                _ => Check::NotYet(seen),
            })
        })
    }

    /// Freezes node `index`: SIGSTOP to the postmaster, then to each of its children.
    /// Returns once every one of them is stopped. Clients then hang (the kernel still
    /// accepts connections); nothing is refused or closed.
    pub fn freeze(&mut self, index: usize) -> Result<(), Error> {
        let pid = self
            .running(index, "freeze")?
            .pid()
            .ok_or_else(|| Error::InvalidInput(format!("freeze: node {index} has no pid")))?;
        process::signal_all(&[pid], "STOP")?;
        let mut frozen = vec![pid];
        let children = process::children_of(pid)?;
        process::signal_all(&children, "STOP")?;
        frozen.extend(children);
        let node = &mut self.nodes[index];
        node.frozen = frozen;
        node.state = NodeState::Frozen;
        self.wait_for(index, "every process stopped", |node| {
            let running: Vec<u32> = node
                .frozen
                .iter()
                .copied()
                .filter(|&p| process::state(p) == ProcState::Alive)
                .collect();
            Ok(if running.is_empty() {
                Check::Done
            } else {
                Check::NotYet(format!("not yet stopped: {running:?}"))
            })
        })
    }

    /// Thaws frozen node `index` (SIGCONT to every process the freeze stopped); returns
    /// once none is stopped and the node answers SQL again.
    pub fn thaw(&mut self, index: usize) -> Result<(), Error> {
        let node = self.get(index)?;
        if node.state != NodeState::Frozen {
            return Err(Error::InvalidInput(format!(
                "thaw: node {index} is {:?}, not frozen",
                node.state
            )));
        }
        process::signal_all(&node.frozen, "CONT")?;
        self.wait_for(index, "every process continued", |node| {
            let stopped: Vec<u32> = node
                .frozen
                .iter()
                .copied()
                .filter(|&p| process::state(p) == ProcState::Stopped)
                .collect();
            Ok(if stopped.is_empty() {
                Check::Done
            } else {
                Check::NotYet(format!("still stopped: {stopped:?}"))
            })
        })?;
        let node = &mut self.nodes[index];
        node.frozen.clear();
        node.state = NodeState::Running;
        self.wait_answers(index)
    }

    /// Makes standby `index`'s upstream commit only once `index` has flushed the commit's
    /// WAL: `synchronous_standby_names` names it on the upstream (`ALTER SYSTEM` +
    /// reload); returns once the upstream's `pg_stat_replication` reports it `sync`. The
    /// standby itself names none, so once promoted its own commits do not wait.
    pub fn set_synchronous(&mut self, index: usize) -> Result<(), Error> {
        let (node, upstream) = self.running_standby(index, "set_synchronous")?;
        let name = node.application_name();
        self.running_primary(upstream, "set_synchronous")?
            .psql(&format!(
                "ALTER SYSTEM SET synchronous_standby_names = '{name}';\nSELECT pg_reload_conf();"
            ))?;
        self.wait_for(upstream, "the standby reported synchronous", |primary| {
            let state = primary.psql(&format!(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = '{name}'"
            ))?;
            Ok(if state == "sync" {
                Check::Done
            } else {
                Check::NotYet(format!("{name} sync_state {state:?}"))
            })
        })
    }

    /// Sets `recovery_min_apply_delay` on standby `index` (`ALTER SYSTEM` + reload,
    /// millisecond precision); returns once new sessions there report the new value.
    /// `Duration::ZERO` turns the delay off.
    pub fn set_apply_delay(&mut self, index: usize, delay: Duration) -> Result<(), Error> {
        let (node, _) = self.running_standby(index, "set_apply_delay")?;
        let ms = delay.as_millis();
        if ms > i32::MAX as u128 {
            return Err(Error::InvalidInput(format!(
                "apply delay {delay:?} too long"
            )));
        }
        node.psql(&format!(
            "ALTER SYSTEM SET recovery_min_apply_delay = '{ms}ms';\nSELECT pg_reload_conf();"
        ))?;
        let want = ms.to_string();
        self.wait_for(index, "recovery_min_apply_delay reloaded", |node| {
            let seen = node
                .psql("SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'")?;
            Ok(if seen == want {
                Check::Done
            } else {
                Check::NotYet(format!("recovery_min_apply_delay = {seen}ms"))
            })
        })
    }

    /// `pg_wal_replay_pause()` on standby `index`; returns once
    /// `pg_get_wal_replay_pause_state()` is `paused` (WAL still arrives, but is not
    /// applied).
    pub fn pause_replay(&mut self, index: usize) -> Result<(), Error> {
        self.replay_control(index, "pg_wal_replay_pause", "paused")
    }

    /// `pg_wal_replay_resume()` on standby `index`; returns once
    /// `pg_get_wal_replay_pause_state()` is `not paused`.
    pub fn resume_replay(&mut self, index: usize) -> Result<(), Error> {
        self.replay_control(index, "pg_wal_replay_resume", "not paused")
    }

    fn replay_control(&self, index: usize, function: &str, want: &str) -> Result<(), Error> {
        let (node, _) = self.running_standby(index, function)?;
        node.psql(&format!("SELECT {function}()"))?;
        self.wait_for(index, &format!("replay state {want:?}"), |node| {
            let seen = node.psql("SELECT pg_get_wal_replay_pause_state()")?;
            Ok(if seen == want {
                Check::Done
            } else {
                Check::NotYet(format!("replay state {seen:?}"))
            })
        })
    }

    /// Points standby `index` at primary `new_upstream` (`primary_conninfo` through
    /// `ALTER SYSTEM` + reload, which restarts its WAL receiver); returns once it streams
    /// from there. A standby that replayed past the new primary's fork point cannot
    /// follow it and times out: wait for replay before promoting.
    pub fn repoint(&mut self, index: usize, new_upstream: usize) -> Result<(), Error> {
        self.running_primary(new_upstream, "repoint")?;
        let (node, _) = self.running_standby(index, "repoint")?;
        let conninfo = node.primary_conninfo(self.nodes[new_upstream].port());
        node.psql(&format!(
            "ALTER SYSTEM SET primary_conninfo = {};\nSELECT pg_reload_conf();",
            sql::quote_literal(&conninfo)
        ))?;
        self.nodes[index].role = Role::Standby {
            upstream: new_upstream,
        };
        self.wait_streaming(index, new_upstream)
    }

    /// Turns node `index` (typically an old primary, after a promotion elsewhere) into a
    /// standby of primary `new_upstream`: stops it (fast) if it runs, runs `pg_rewind`
    /// from `new_upstream` (which does the target's crash recovery itself when it was
    /// not shut down cleanly), falling back to a fresh base backup when that fails,
    /// writes the standby configuration, starts it and returns once it streams from
    /// `new_upstream`.
    pub fn rejoin(&mut self, index: usize, new_upstream: usize) -> Result<RejoinMethod, Error> {
        self.prepare_rejoin(index, new_upstream)?;
        let method = match self.rewind(index, new_upstream) {
            Ok(()) => RejoinMethod::Rewind,
            Err(err) => {
                self.base_backup(index, new_upstream)?;
                RejoinMethod::BaseBackup {
                    rewind_failure: err.to_string(),
                }
            }
        };
        self.start_as_standby(index, new_upstream)?;
        Ok(method)
    }

    /// Replaces node `index`'s data with a fresh `pg_basebackup -X stream -c fast` of
    /// primary `upstream` and starts it as its standby; returns once it streams.
    pub fn rebuild(&mut self, index: usize, upstream: usize) -> Result<(), Error> {
        self.prepare_rejoin(index, upstream)?;
        self.base_backup(index, upstream)?;
        self.start_as_standby(index, upstream)
    }

    fn prepare_rejoin(&mut self, index: usize, upstream: usize) -> Result<(), Error> {
        if index == upstream {
            return Err(Error::InvalidInput(format!(
                "node {index} cannot follow itself"
            )));
        }
        self.running_primary(upstream, "rejoin")?;
        self.get(index)?;
        self.stop(index, StopMode::Fast)?;
        // A fresh promotion's control file may still name the old timeline until a
        // checkpoint, and pg_rewind reads the timeline from there.
        self.nodes[upstream].psql("CHECKPOINT")?;
        Ok(())
    }

    fn rewind(&self, index: usize, upstream: usize) -> Result<(), Error> {
        let node = &self.nodes[index];
        let source = self.nodes[upstream].key_value(SUPERUSER, None, "postgres");
        let output = self
            .user
            .command(node.server.bin_dir().join("pg_rewind"), node.server.root())
            .arg("--target-pgdata")
            .arg(node.server.data_dir())
            .arg(format!("--source-server={source}"))
            .arg("--no-sync")
            .output()
            .map_err(|e| Error::io("running pg_rewind", e))?;
        cluster::check(
            output,
            &format!("pg_rewind of node {index} from node {upstream}"),
        )
    }

    fn base_backup(&self, index: usize, upstream: usize) -> Result<(), Error> {
        let node = &self.nodes[index];
        let data_dir = node.server.data_dir();
        if data_dir.exists() {
            fs::remove_dir_all(data_dir)
                .map_err(|e| Error::io(format!("removing {}", data_dir.display()), e))?;
        }
        let port = self.nodes[upstream].port().to_string();
        let output = self
            .user
            .command(
                node.server.bin_dir().join("pg_basebackup"),
                node.server.root(),
            )
            .arg("-D")
            .arg(data_dir)
            .args(["-X", "stream", "-c", "fast", "--no-sync", "-h"])
            .arg(node.host())
            .args(["-p", &port, "-U", SUPERUSER])
            .output()
            .map_err(|e| Error::io("running pg_basebackup", e))?;
        cluster::check(
            output,
            &format!("pg_basebackup of node {upstream} into node {index}"),
        )
    }

    fn start_as_standby(&mut self, index: usize, upstream: usize) -> Result<(), Error> {
        let port = self.nodes[upstream].port();
        write_standby_config(&self.nodes[index], self.user, port)?;
        self.nodes[index].role = Role::Standby { upstream };
        self.start(index)?;
        self.wait_streaming(index, upstream)
    }

    /// `pg_current_wal_lsn()` of primary `index`.
    pub fn current_lsn(&self, index: usize) -> Result<Lsn, Error> {
        let node = self.running_primary(index, "current_lsn")?;
        node.psql("SELECT pg_current_wal_lsn()")?.parse()
    }

    /// `pg_last_wal_replay_lsn()` of standby `index`.
    pub fn replay_lsn(&self, index: usize) -> Result<Lsn, Error> {
        let (node, _) = self.running_standby(index, "replay_lsn")?;
        node.psql("SELECT pg_last_wal_replay_lsn()")?.parse()
    }

    /// Waits until standby `index` has replayed its upstream's current WAL position (read
    /// once, at the call); returns that position. Everything committed on the upstream
    /// before the call is then visible on the standby.
    pub fn wait_replayed(&self, index: usize) -> Result<Lsn, Error> {
        let (_, upstream) = self.running_standby(index, "wait_replayed")?;
        let target = self.current_lsn(upstream)?;
        self.wait_replayed_to(index, target)?;
        Ok(target)
    }

    /// Waits until standby `index` has replayed `target`.
    pub fn wait_replayed_to(&self, index: usize, target: Lsn) -> Result<(), Error> {
        self.running_standby(index, "wait_replayed_to")?;
        self.wait_for(index, &format!("replaying up to {target}"), |node| {
            let seen: Lsn = node.psql("SELECT pg_last_wal_replay_lsn()")?.parse()?;
            Ok(if seen >= target {
                Check::Done
            } else {
                Check::NotYet(format!("replayed up to {seen}"))
            })
        })
    }

    /// [`wait_replayed`](Self::wait_replayed) for every running standby whose upstream
    /// runs.
    pub fn wait_all_replayed(&self) -> Result<(), Error> {
        for node in &self.nodes {
            if let (NodeState::Running, Role::Standby { upstream }) = (node.state, node.role) {
                if self.nodes[upstream].state == NodeState::Running {
                    self.wait_replayed(node.index)?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for ReplicaSet {
    fn drop(&mut self) {
        // Each node's drop is an immediate stop plus `rm -rf`; doing them side by side
        // halves the teardown of a three-node set.
        let nodes = std::mem::take(&mut self.nodes);
        thread::scope(|scope| {
            for node in nodes {
                scope.spawn(move || drop(node));
            }
        });
    }
}

/// `t` / `f` as psql prints booleans.
fn parse_bool(text: &str) -> Result<bool, Error> {
    match text {
        "t" => Ok(true),
        "f" => Ok(false),
        other => Err(Error::InvalidInput(format!(
            "expected t or f from the server, got {other:?}"
        ))),
    }
}

/// [`Server::psql`] with a time limit: `psql` is killed and [`Error::Timeout`] returned
/// when it has not finished after `limit`.
fn psql_capped(server: &Server, sql: &str, limit: Duration) -> Result<String, Error> {
    let mut cmd = server.client_command("psql");
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(server.socket_dir())
        .args([
            "-p",
            &server.port().to_string(),
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Error::io("starting psql", e))?;
    let stdin = child.stdin.take();
    let sql = sql.to_owned();
    let writer = thread::spawn(move || match stdin {
        Some(mut stdin) => stdin.write_all(sql.as_bytes()),
        None => Ok(()),
    });
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| Error::io("waiting for psql", e))?
        {
            break status;
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Timeout {
                action: format!("psql on port {}", server.port()),
                waited: started.elapsed(),
                last_seen: "no answer".to_owned(),
                log_tail: String::new(),
            });
        }
        thread::sleep(Duration::from_millis(2));
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    let written = writer.join();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    cluster::check(output, &format!("psql on port {}", server.port()))?;
    match written {
        Ok(Err(e)) => return Err(Error::io("writing SQL to psql", e)),
        Err(_) => return Err(Error::InvalidInput("psql writer thread panicked".into())),
        Ok(Ok(())) => {}
    }
    if text.ends_with('\n') {
        text.pop();
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rejects_unusable_input() {
        let bad = [
            ReplicaSetBuilder::new().replicas(MAX_REPLICAS + 1),
            ReplicaSetBuilder::new().auth(AuthMethod::Cert),
            ReplicaSetBuilder::new().user("", "x"),
            ReplicaSetBuilder::new().user("a\0", "x"),
            ReplicaSetBuilder::new().database("d", ""),
            ReplicaSetBuilder::new().hba_line("a\nb"),
            ReplicaSetBuilder::new().setting("x = 1", "1"),
            ReplicaSetBuilder::new().setting("work_mem", "1\nfsync = on"),
        ];
        for builder in bad {
            let err = builder.clone().validate().unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{builder:?}: {err}");
        }
        ReplicaSetBuilder::new()
            .replicas(0)
            .user("alice", "it's")
            .database("app", "alice")
            .setting("max_connections", "200")
            .validate()
            .unwrap();
    }

    #[test]
    fn a_set_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ReplicaSet>();
        send_sync::<Node>();
        send_sync::<ReplicaSetBuilder>();
    }

    #[test]
    fn booleans_parse_strictly() {
        assert!(parse_bool("t").unwrap());
        assert!(!parse_bool("f").unwrap());
        assert!(parse_bool("true").is_err());
        assert!(parse_bool("").is_err());
    }
}
