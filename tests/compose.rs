//! `compose.yaml` (a primary and two streaming replicas) checked without a container
//! engine: its structure, the replica settings shared with the test kit's replica rig,
//! and the README's URLs (ports, user, password, database) against it.

use std::collections::BTreeMap;

use pgline::Config;
use yaml_rust2::{Yaml, YamlLoader};

const COMPOSE: &str = include_str!("../compose.yaml");
const README: &str = include_str!("../README.md");

fn compose() -> Yaml {
    let mut docs = YamlLoader::load_from_str(COMPOSE).expect("compose.yaml is YAML");
    assert_eq!(docs.len(), 1, "one document");
    docs.remove(0)
}

fn service<'a>(doc: &'a Yaml, name: &str) -> &'a Yaml {
    let s = &doc["services"][name];
    assert!(!s.is_badvalue(), "service {name} missing");
    s
}

fn strings(list: &Yaml) -> Vec<String> {
    list.as_vec()
        .unwrap_or_else(|| panic!("a list, got {list:?}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// The host port published for the container's 5432 (`"HOST:5432"`).
fn host_port(svc: &Yaml) -> u16 {
    let ports = strings(&svc["ports"]);
    assert_eq!(ports.len(), 1, "{ports:?}");
    let (host, container) = ports[0].split_once(':').expect("HOST:CONTAINER");
    assert_eq!(container, "5432");
    host.parse().expect("a port number")
}

/// The `-c name=value` settings a `postgres` command line carries.
fn settings(args: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "-c" {
            let setting = it.next().expect("a setting after -c");
            let (name, value) = setting.split_once('=').expect("name=value");
            out.insert(name.to_owned(), value.to_owned());
        }
    }
    out
}

/// The shell words of the replica entrypoint script's last line (`exec gosu postgres
/// postgres ...`).
fn replica_postgres_args(script: &str) -> Vec<String> {
    let line = script
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("exec "))
        .expect("an exec line");
    line.split_whitespace().map(str::to_owned).collect()
}

/// Settings the test kit's replica rig uses on primary and replicas.
const RIG_SETTINGS: [(&str, &str); 3] = [
    ("hot_standby", "on"),
    ("wal_writer_delay", "10ms"),
    ("fsync", "off"),
];

#[test]
fn primary_has_the_rig_settings_and_a_health_check() {
    let doc = compose();
    let primary = service(&doc, "primary");
    let image = primary["image"].as_str().unwrap();
    assert!(image.starts_with("postgres:"), "{image}");
    let command = strings(&primary["command"]);
    assert_eq!(command[0], "postgres");
    let set = settings(&command);
    assert_eq!(set["wal_level"], "replica");
    for (name, value) in RIG_SETTINGS {
        assert_eq!(set.get(name).map(String::as_str), Some(value), "{name}");
    }
    assert!(
        !set.contains_key("synchronous_commit"),
        "the rig keeps it on"
    );
    let hba = doc["configs"]["primary_hba"]["content"].as_str().unwrap();
    assert!(
        hba.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == ["host", "replication", "all", "all", "scram-sha-256"]),
        "replicas must be allowed to stream: {hba}"
    );
    let health = strings(&primary["healthcheck"]["test"]);
    assert!(health.join(" ").contains("pg_isready"), "{health:?}");
}

#[test]
fn replicas_follow_the_primary_service() {
    let doc = compose();
    let primary_image = service(&doc, "primary")["image"].as_str().unwrap();
    let mut ports = vec![host_port(service(&doc, "primary"))];
    for name in ["replica1", "replica2"] {
        let replica = service(&doc, name);
        assert_eq!(replica["image"].as_str(), Some(primary_image), "{name}");
        assert_eq!(
            replica["depends_on"]["primary"]["condition"].as_str(),
            Some("service_healthy"),
            "{name} must wait for a healthy primary"
        );
        let entrypoint = strings(&replica["entrypoint"]);
        let script = entrypoint.last().unwrap();
        let basebackup = script
            .split("pg_basebackup")
            .nth(1)
            .expect("the replica is made by pg_basebackup");
        for flag in [
            "--host=primary",
            "--port=5432",
            "--username=pgline",
            "-R",
            "-X stream",
        ] {
            assert!(
                basebackup.contains(flag),
                "{name}: pg_basebackup lacks {flag}"
            );
        }
        let args = replica_postgres_args(script);
        let set = settings(&args);
        for (setting, value) in RIG_SETTINGS {
            assert_eq!(
                set.get(setting).map(String::as_str),
                Some(value),
                "{name} {setting}"
            );
        }
        assert!(
            !set.contains_key("synchronous_commit"),
            "{name}: the rig keeps it on"
        );
        // Compose reads `$VAR` itself; the script's shell variables must be escaped.
        assert!(
            !script.replace("$$", "").contains('$'),
            "{name}: unescaped $"
        );
        assert_eq!(
            replica["environment"]["PGPASSWORD"].as_str(),
            service(&doc, "primary")["environment"]["POSTGRES_PASSWORD"].as_str()
        );
        let health = strings(&replica["healthcheck"]["test"]).join(" ");
        assert!(health.contains("pg_is_in_recovery()"), "{name}: {health}");
        ports.push(host_port(replica));
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3, "each service on its own host port");
}

/// The URLs in the README's "A local cluster" table.
fn readme_urls() -> BTreeMap<String, String> {
    let section = README
        .split("<!-- compose-urls")
        .nth(1)
        .expect("the README's compose URL table");
    section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let url = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((cells[1].to_owned(), url.to_owned()))
        })
        .collect()
}

#[test]
fn readme_urls_match_ports_and_credentials() {
    let doc = compose();
    let env = &service(&doc, "primary")["environment"];
    let user = env["POSTGRES_USER"].as_str().unwrap();
    let password = env["POSTGRES_PASSWORD"].as_str().unwrap();
    let dbname = env["POSTGRES_DB"].as_str().unwrap();
    let urls = readme_urls();
    assert_eq!(
        urls.keys().collect::<Vec<_>>(),
        ["cluster", "primary", "replica1", "replica2"]
    );
    let mut all_ports = Vec::new();
    for name in ["primary", "replica1", "replica2"] {
        let config: Config = urls[name].parse().unwrap();
        assert_eq!(
            config.get_ports(),
            [host_port(service(&doc, name))],
            "{name}"
        );
        assert_eq!(config.get_user(), Some(user), "{name}");
        assert_eq!(config.get_password(), Some(password.as_bytes()), "{name}");
        assert_eq!(config.get_dbname(), Some(dbname), "{name}");
        all_ports.push(host_port(service(&doc, name)));
    }
    let cluster: Config = urls["cluster"].parse().unwrap();
    assert_eq!(cluster.get_ports(), all_ports.as_slice());
    assert_eq!(cluster.get_hosts().len(), 3);
    assert_eq!(cluster.get_user(), Some(user));
    assert_eq!(cluster.get_password(), Some(password.as_bytes()));
    assert_eq!(cluster.get_dbname(), Some(dbname));
}
