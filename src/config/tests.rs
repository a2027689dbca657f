//! Whole-string tests: URL and key=value connection strings parsed into a
//! [`Config`] and compared field by field with one built by the setters,
//! the exact messages of bad strings, and the redacted `Debug`.

use std::net::IpAddr;
use std::time::Duration;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The same settings as [`EVERY_OPTION_KV`] and [`EVERY_OPTION_URL`].
fn every_option_expected() -> Config {
    let mut c = Config::new();
    c.host("h1")
        .host_path("/sock")
        .hostaddr(ip("10.0.0.1"))
        .hostaddr(ip("::1"))
        .port(5433)
        .port(5434)
        .dbname("d b")
        .user("u")
        .password("p w")
        .passfile("/pf")
        .require_auth(RequireAuth::except(&[
            AuthMethod::Md5,
            AuthMethod::Password,
        ]))
        .channel_binding(ChannelBindingMode::Require)
        .connect_timeout(Duration::from_secs(2))
        .options("-c search_path=app")
        .application_name("app")
        .fallback_application_name("fb")
        .keepalives(false)
        .keepalives_idle(Duration::from_secs(60))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_count(3)
        .tcp_user_timeout(Duration::from_millis(1500))
        .ssl_mode(SslMode::VerifyCa)
        .ssl_negotiation(SslNegotiation::Direct)
        .ssl_cert("/c.crt")
        .ssl_key("/c.key")
        .ssl_root_cert(SslRootCert::File("/r.crt".into()))
        .ssl_sni(false)
        .min_protocol_version(ProtocolVersionSetting::V3_0)
        .max_protocol_version(ProtocolVersionSetting::V3_2)
        .service("svc")
        .service_file("/sf")
        .target_session_attrs(TargetSessionAttrs::PreferStandby)
        .load_balance_hosts(LoadBalanceHosts::Random)
        .query_timeout(Duration::from_millis(2500))
        .statement_cache_capacity(64)
        .statement_cache_mode(StatementCacheMode::UnnamedOnly);
    c
}

const EVERY_OPTION_KV: &str = "host=h1,/sock hostaddr=10.0.0.1,::1 port=5433,5434 \
    dbname='d b' user=u password=p\\ w passfile=/pf require_auth=!md5,!password \
    channel_binding=require connect_timeout=1 client_encoding=UTF8 \
    options='-c search_path=app' application_name=app fallback_application_name=fb \
    keepalives=0 keepalives_idle=60 keepalives_interval=5 keepalives_count=3 \
    tcp_user_timeout=1500 gssencmode=disable sslmode=verify-ca sslnegotiation=direct \
    sslcompression=0 sslcert=/c.crt sslkey=/c.key sslrootcert=/r.crt sslsni=0 \
    min_protocol_version=3.0 max_protocol_version=3.2 service=svc servicefile=/sf \
    target_session_attrs=prefer-standby load_balance_hosts=random \
    pgline_query_timeout='2500 ms' pgline_statement_cache_capacity=64 \
    pgline_statement_cache_mode=unnamed";

const EVERY_OPTION_URL: &str = "postgresql://u:p%20w@h1:5433,%2Fsock:5434/d%20b\
    ?hostaddr=10.0.0.1,::1&passfile=%2Fpf&require_auth=!md5,!password\
    &channel_binding=require&connect_timeout=1&client_encoding=UTF8\
    &options=-c%20search_path%3Dapp&application_name=app&fallback_application_name=fb\
    &keepalives=0&keepalives_idle=60&keepalives_interval=5&keepalives_count=3\
    &tcp_user_timeout=1500&gssencmode=disable&sslmode=verify-ca&sslnegotiation=direct\
    &sslcompression=0&sslcert=/c.crt&sslkey=/c.key&sslrootcert=/r.crt&sslsni=0\
    &min_protocol_version=3.0&max_protocol_version=3.2&service=svc&servicefile=/sf\
    &target_session_attrs=prefer-standby&load_balance_hosts=random\
    &pgline_query_timeout=2500ms&pgline_statement_cache_capacity=64\
    &pgline_statement_cache_mode=unnamed";

#[test]
fn every_option_parses_the_same_from_both_syntaxes() {
    let expected = every_option_expected();
    let from_kv: Config = EVERY_OPTION_KV.parse().unwrap();
    let from_url: Config = EVERY_OPTION_URL.parse().unwrap();
    assert_eq!(from_kv, expected);
    assert_eq!(from_url, expected);
    // And the getters read back every value.
    let c = &from_url;
    assert_eq!(
        c.get_hosts(),
        &[Host::Tcp("h1".into()), Host::Unix("/sock".into())]
    );
    assert_eq!(c.get_hostaddrs(), &[ip("10.0.0.1"), ip("::1")]);
    assert_eq!(c.get_ports(), &[5433, 5434]);
    assert_eq!(c.get_dbname(), Some("d b"));
    assert_eq!(c.get_user(), Some("u"));
    assert_eq!(c.get_password(), Some(&b"p w"[..]));
    assert_eq!(c.get_passfile(), Some(Path::new("/pf")));
    assert!(!c.get_require_auth().allows(AuthMethod::Md5));
    assert!(c.get_require_auth().allows(AuthMethod::ScramSha256));
    assert_eq!(c.get_channel_binding(), ChannelBindingMode::Require);
    assert_eq!(c.get_connect_timeout(), Some(Duration::from_secs(2)));
    assert_eq!(c.get_options(), Some("-c search_path=app"));
    assert_eq!(c.get_application_name(), Some("app"));
    assert_eq!(c.get_fallback_application_name(), Some("fb"));
    assert!(!c.get_keepalives());
    assert_eq!(c.get_keepalives_idle(), Some(Duration::from_secs(60)));
    assert_eq!(c.get_keepalives_interval(), Some(Duration::from_secs(5)));
    assert_eq!(c.get_keepalives_count(), Some(3));
    assert_eq!(c.get_tcp_user_timeout(), Some(Duration::from_millis(1500)));
    assert_eq!(c.get_ssl_mode(), SslMode::VerifyCa);
    assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Direct);
    assert_eq!(c.get_ssl_cert(), Some(Path::new("/c.crt")));
    assert_eq!(c.get_ssl_key(), Some(Path::new("/c.key")));
    assert_eq!(
        c.get_ssl_root_cert(),
        Some(&SslRootCert::File("/r.crt".into()))
    );
    assert!(!c.get_ssl_sni());
    assert_eq!(c.get_min_protocol_version(), ProtocolVersionSetting::V3_0);
    assert_eq!(c.get_max_protocol_version(), ProtocolVersionSetting::V3_2);
    assert_eq!(c.get_service(), Some("svc"));
    assert_eq!(c.get_service_file(), Some(Path::new("/sf")));
    assert_eq!(
        c.get_target_session_attrs(),
        TargetSessionAttrs::PreferStandby
    );
    assert_eq!(c.get_load_balance_hosts(), LoadBalanceHosts::Random);
    assert_eq!(c.get_query_timeout(), Some(Duration::from_millis(2500)));
    assert_eq!(c.get_statement_cache_capacity(), 64);
    assert_eq!(
        c.get_statement_cache_mode(),
        StatementCacheMode::UnnamedOnly
    );
}

#[test]
fn pgline_keywords_round_trip_through_both_syntaxes() {
    // (text, timeout) for pgline_query_timeout: milliseconds by default,
    // units as in PostgreSQL's statement_timeout, 0 = none.
    let timeouts = [
        ("0", None),
        ("250", Some(Duration::from_millis(250))),
        ("250ms", Some(Duration::from_millis(250))),
        ("3s", Some(Duration::from_secs(3))),
        (" 3 s ", Some(Duration::from_secs(3))),
        ("2min", Some(Duration::from_secs(120))),
        ("1h", Some(Duration::from_secs(3600))),
    ];
    for (text, expected) in timeouts {
        let kv: Config = format!("host=h pgline_query_timeout='{text}'")
            .parse()
            .unwrap();
        let url: Config = format!(
            "postgres://h/?pgline_query_timeout={}",
            text.replace(' ', "%20")
        )
        .parse()
        .unwrap();
        assert_eq!(kv.get_query_timeout(), expected, "{text:?}");
        assert_eq!(kv, url, "{text:?}");
        let mut set = Config::new();
        set.set_option("pgline_query_timeout", text).unwrap();
        assert_eq!(set.get_query_timeout(), expected, "{text:?}");
    }
    for (text, capacity, mode) in [
        ("0", 0, StatementCacheMode::Named),
        ("4096", 4096, StatementCacheMode::UnnamedOnly),
    ] {
        let kv: Config = format!(
            "host=h pgline_statement_cache_capacity={text} pgline_statement_cache_mode={mode}"
        )
        .parse()
        .unwrap();
        let url: Config = format!(
            "postgres://h/?pgline_statement_cache_capacity={text}\
             &pgline_statement_cache_mode={mode}"
        )
        .parse()
        .unwrap();
        let mut built = Config::new();
        built
            .host("h")
            .statement_cache_capacity(capacity)
            .statement_cache_mode(mode);
        assert_eq!(kv, built);
        assert_eq!(url, built);
        assert_eq!(kv.get_statement_cache_capacity(), capacity);
        assert_eq!(kv.get_statement_cache_mode(), mode);
        assert_eq!(mode.to_string().parse::<StatementCacheMode>(), Ok(mode));
    }
    // Unset: the defaults; an empty value unsets.
    let c: Config = "pgline_query_timeout='' pgline_statement_cache_capacity=''"
        .parse()
        .unwrap();
    assert_eq!(c, Config::new());
    assert_eq!(c.get_query_timeout(), None);
    assert_eq!(
        c.get_statement_cache_capacity(),
        DEFAULT_STATEMENT_CACHE_CAPACITY
    );
    assert_eq!(c.get_statement_cache_mode(), StatementCacheMode::Named);
}

#[test]
fn bad_pgline_keyword_values_are_typed_errors() {
    let timeout = "a non-negative whole number of milliseconds, or one with a unit: \
                   ms, s, min or h (0 = none)";
    for (input, option, value, expected) in [
        (
            "pgline_query_timeout=-1",
            "pgline_query_timeout",
            "-1",
            timeout,
        ),
        (
            "pgline_query_timeout=1.5s",
            "pgline_query_timeout",
            "1.5s",
            timeout,
        ),
        (
            "pgline_query_timeout=5sec",
            "pgline_query_timeout",
            "5sec",
            timeout,
        ),
        (
            "pgline_query_timeout=s",
            "pgline_query_timeout",
            "s",
            timeout,
        ),
        (
            "postgres://h/?pgline_query_timeout=99999999999999999h",
            "pgline_query_timeout",
            "99999999999999999h",
            timeout,
        ),
        (
            "pgline_statement_cache_capacity=-5",
            "pgline_statement_cache_capacity",
            "-5",
            "a non-negative integer (0 disables the cache)",
        ),
        (
            "postgres://h/?pgline_statement_cache_capacity=lots",
            "pgline_statement_cache_capacity",
            "lots",
            "a non-negative integer (0 disables the cache)",
        ),
        (
            "pgline_statement_cache_mode=UnnamedOnly",
            "pgline_statement_cache_mode",
            "UnnamedOnly",
            "one of named, unnamed",
        ),
    ] {
        let err = input.parse::<Config>().expect_err(input);
        assert_eq!(
            err,
            ConfigError::InvalidValue {
                option,
                value: value.into(),
                expected
            },
            "{input}"
        );
        assert_eq!(
            err.to_string(),
            format!("invalid value \"{value}\" for option \"{option}\": expected {expected}")
        );
    }
    // The libpq-looking spellings are not keywords.
    for name in [
        "query_timeout",
        "statement_cache_capacity",
        "statement_cache_size",
    ] {
        assert_eq!(
            format!("{name}=1").parse::<Config>().unwrap_err(),
            ConfigError::UnknownOption { name: name.into() }
        );
    }
}

#[test]
fn unset_options_read_as_libpq_defaults() {
    let c = Config::new();
    assert!(c.get_hosts().is_empty() && c.get_ports().is_empty());
    assert_eq!(c.get_user(), None);
    assert_eq!(c.get_password(), None);
    assert_eq!(c.get_connect_timeout(), None);
    assert!(c.get_keepalives());
    assert!(c.get_ssl_sni());
    assert_eq!(c.get_ssl_mode(), SslMode::Prefer);
    assert!(!c.is_ssl_mode_set());
    assert_eq!(c.get_channel_binding(), ChannelBindingMode::Prefer);
    assert_eq!(c.get_require_auth(), RequireAuth::any());
    assert_eq!(c.get_max_protocol_version(), ProtocolVersionSetting::V3_0);
    assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::Any);
}

/// A builder for the expected side of the tables.
fn cfg(build: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::new();
    build(&mut c);
    c
}

#[test]
fn url_table() {
    let cases: Vec<(&str, Config)> = vec![
        ("postgresql://", Config::new()),
        (
            "postgres://localhost",
            cfg(|c| {
                c.host("localhost");
            }),
        ),
        (
            "POSTGRESQL://localhost:5433",
            cfg(|c| {
                c.host("localhost").port(5433);
            }),
        ),
        (
            "postgresql://localhost/mydb",
            cfg(|c| {
                c.host("localhost").dbname("mydb");
            }),
        ),
        (
            "postgresql://user@localhost",
            cfg(|c| {
                c.user("user").host("localhost");
            }),
        ),
        (
            "postgresql://user:secret@localhost",
            cfg(|c| {
                c.user("user").password("secret").host("localhost");
            }),
        ),
        (
            "postgresql://us%65r:p%40ss%3Aw%2Fd@h/d%C3%A9b",
            cfg(|c| {
                c.user("user")
                    .password("p@ss:w/d")
                    .host("h")
                    .dbname("d\u{e9}b");
            }),
        ),
        (
            "postgresql://a@b:c@h",
            cfg(|c| {
                c.user("a@b").password("c").host("h");
            }),
        ),
        (
            "postgresql://u:@h",
            cfg(|c| {
                c.user("u").host("h");
            }),
        ),
        (
            "postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp",
            cfg(|c| {
                c.user("other")
                    .host("localhost")
                    .dbname("otherdb")
                    .connect_timeout(Duration::from_secs(10))
                    .application_name("myapp");
            }),
        ),
        (
            "postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp",
            cfg(|c| {
                c.host("host1")
                    .port(123)
                    .host("host2")
                    .port(456)
                    .dbname("somedb")
                    .target_session_attrs(TargetSessionAttrs::Any)
                    .application_name("myapp");
            }),
        ),
        (
            "postgresql://[::1]",
            cfg(|c| {
                c.host("::1");
            }),
        ),
        (
            "postgresql://[::1]:5433/db",
            cfg(|c| {
                c.host("::1").port(5433).dbname("db");
            }),
        ),
        (
            "postgresql://[2001:db8::1234]/database",
            cfg(|c| {
                c.host("2001:db8::1234").dbname("database");
            }),
        ),
        (
            "postgresql://[fe80::1%25eth0]:7/db",
            cfg(|c| {
                c.host("fe80::1%eth0").port(7).dbname("db");
            }),
        ),
        (
            "postgres://h1:1,[::1]:2,h3:3/db",
            cfg(|c| {
                c.host("h1")
                    .host("::1")
                    .host("h3")
                    .port(1)
                    .port(2)
                    .port(3)
                    .dbname("db");
            }),
        ),
        (
            "postgres://h1:1,h2/db",
            cfg(|c| {
                c.host("h1").host("h2").port(1).port(5432).dbname("db");
            }),
        ),
        (
            "postgres://h1,h2:2/db",
            cfg(|c| {
                c.host("h1").host("h2").port(5432).port(2).dbname("db");
            }),
        ),
        (
            "postgres://h1,h2/db",
            cfg(|c| {
                c.host("h1").host("h2").dbname("db");
            }),
        ),
        (
            "postgres://,/db",
            cfg(|c| {
                c.host("").host("").dbname("db");
            }),
        ),
        (
            "postgresql://:5433/db",
            cfg(|c| {
                c.port(5433).dbname("db");
            }),
        ),
        (
            "postgresql:///mydb?host=localhost&port=5433",
            cfg(|c| {
                c.dbname("mydb").host("localhost").port(5433);
            }),
        ),
        (
            "postgresql://%2Fvar%2Flib%2Fpostgresql/dbname",
            cfg(|c| {
                c.host_path("/var/lib/postgresql").dbname("dbname");
            }),
        ),
        (
            "postgresql:///dbname?host=/var/lib/postgresql",
            cfg(|c| {
                c.dbname("dbname").host_path("/var/lib/postgresql");
            }),
        ),
        (
            "postgresql://?host=%2Ftmp",
            cfg(|c| {
                c.host_path("/tmp");
            }),
        ),
        (
            "postgres://ignored/db?host=a,b&port=1,2",
            cfg(|c| {
                c.host("a").host("b").port(1).port(2).dbname("db");
            }),
        ),
        (
            "postgres://h/db?ssl=true",
            cfg(|c| {
                c.host("h").dbname("db").ssl_mode(SslMode::Require);
            }),
        ),
        (
            "postgres://h/db?sslmode=disable&sslmode=require",
            cfg(|c| {
                c.host("h").dbname("db").ssl_mode(SslMode::Require);
            }),
        ),
        (
            "postgres://h/db?sslrootcert=system",
            cfg(|c| {
                c.host("h").dbname("db").ssl_root_cert(SslRootCert::System);
            }),
        ),
        (
            "postgres://h/db?options=-c%20search_path%3Dapp%20-c%20work_mem%3D64MB",
            cfg(|c| {
                c.host("h")
                    .dbname("db")
                    .options("-c search_path=app -c work_mem=64MB");
            }),
        ),
        (
            "postgres://h/db?user=u2&password=q%26&dbname=db2",
            cfg(|c| {
                c.host("h").user("u2").password("q&").dbname("db2");
            }),
        ),
        (
            "postgres://h/db?&&application_name=a+b",
            cfg(|c| {
                c.host("h").dbname("db").application_name("a+b");
            }),
        ),
        (
            "postgres://h/?sslmode=",
            cfg(|c| {
                c.host("h");
            }),
        ),
        (
            "  postgres://h  ",
            cfg(|c| {
                c.host("h");
            }),
        ),
    ];
    for (input, expected) in cases {
        let parsed: Config = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed, expected, "{input}");
    }
}

#[test]
fn key_value_table() {
    let cases: Vec<(&str, Config)> = vec![
        ("", Config::new()),
        (
            "host=localhost port=5432 dbname=mydb connect_timeout=10",
            cfg(|c| {
                c.host("localhost")
                    .port(5432)
                    .dbname("mydb")
                    .connect_timeout(Duration::from_secs(10));
            }),
        ),
        (
            "host = db  user=app\tdbname =orders",
            cfg(|c| {
                c.host("db").user("app").dbname("orders");
            }),
        ),
        (
            "password='it\\'s a \\\\ secret' user=me",
            cfg(|c| {
                c.password("it's a \\ secret").user("me");
            }),
        ),
        (
            "password=unquoted\\ space",
            cfg(|c| {
                c.password("unquoted space");
            }),
        ),
        (
            "user='' dbname=x",
            cfg(|c| {
                c.dbname("x");
            }),
        ),
        (
            "host=a,b port=1,2",
            cfg(|c| {
                c.host("a").host("b").port(1).port(2);
            }),
        ),
        (
            "host=a,b,c port=7",
            cfg(|c| {
                c.host("a").host("b").host("c").port(7);
            }),
        ),
        (
            "host=a,,c port=1,,3",
            cfg(|c| {
                c.host("a").host("").host("c").port(1).port(5432).port(3);
            }),
        ),
        (
            "host=/var/run/postgresql,::1,10.1.2.3",
            cfg(|c| {
                c.host_path("/var/run/postgresql")
                    .host("::1")
                    .host("10.1.2.3");
            }),
        ),
        (
            "hostaddr=127.0.0.1 host=localhost",
            cfg(|c| {
                c.hostaddr(ip("127.0.0.1")).host("localhost");
            }),
        ),
        (
            "host=a host=b",
            cfg(|c| {
                c.host("b");
            }),
        ),
        (
            "sslmode=require sslrootcert=system",
            cfg(|c| {
                c.ssl_mode(SslMode::Require)
                    .ssl_root_cert(SslRootCert::System);
            }),
        ),
        (
            "require_auth=scram-sha-256,none",
            cfg(|c| {
                c.require_auth(RequireAuth::only(&[
                    AuthMethod::ScramSha256,
                    AuthMethod::None,
                ]));
            }),
        ),
        (
            "connect_timeout=0",
            cfg(|c| {
                c.connect_timeout(Duration::ZERO);
            }),
        ),
        (
            "keepalives=1 sslsni=1",
            cfg(|c| {
                c.keepalives(true).ssl_sni(true);
            }),
        ),
        (
            "max_protocol_version=latest",
            cfg(|c| {
                c.max_protocol_version(ProtocolVersionSetting::Latest);
            }),
        ),
        (
            "load_balance_hosts=disable target_session_attrs=read-only",
            cfg(|c| {
                c.load_balance_hosts(LoadBalanceHosts::Disable)
                    .target_session_attrs(TargetSessionAttrs::ReadOnly);
            }),
        ),
    ];
    for (input, expected) in cases {
        let parsed: Config = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(parsed, expected, "{input}");
    }
}

#[test]
fn bad_strings_and_their_messages() {
    let cases = [
        ("foo=bar", "invalid connection option \"foo\""),
        (
            "host=h sslmod=require",
            "invalid connection option \"sslmod\"",
        ),
        (
            "replication=database",
            "connection option \"replication\" is not supported by pgline",
        ),
        (
            "krbsrvname=postgres",
            "connection option \"krbsrvname\" is not supported by pgline",
        ),
        (
            "sslmode=maybe",
            "invalid value \"maybe\" for option \"sslmode\": expected one of disable, allow, prefer, require, verify-ca, verify-full",
        ),
        (
            "postgres://h/db?sslmode=maybe",
            "invalid value \"maybe\" for option \"sslmode\": expected one of disable, allow, prefer, require, verify-ca, verify-full",
        ),
        (
            "port=abc",
            "invalid value \"abc\" for option \"port\": expected a port number between 1 and 65535",
        ),
        (
            "port=70000",
            "invalid value \"70000\" for option \"port\": expected a port number between 1 and 65535",
        ),
        (
            "postgres://h:99999/db",
            "invalid value \"99999\" for option \"port\": expected a port number between 1 and 65535",
        ),
        (
            "host=a,b,c port=1,2",
            "could not match 2 port numbers to 3 hosts",
        ),
        (
            "postgres://a:1,b:2,c/db?port=1,2",
            "could not match 2 port numbers to 3 hosts",
        ),
        (
            "host=a,b hostaddr=10.0.0.1",
            "could not match 2 host names to 1 hostaddr values",
        ),
        (
            "hostaddr=db.example",
            "invalid value \"db.example\" for option \"hostaddr\": expected a comma-separated list of IPv4 or IPv6 addresses",
        ),
        (
            "hostaddr=10.0.0.1,",
            "invalid value \"\" for option \"hostaddr\": expected a comma-separated list of IPv4 or IPv6 addresses",
        ),
        (
            "postgres://u:p@h/d%zzb",
            "invalid percent-encoded token \"%zz\" in connection URL",
        ),
        (
            "postgres://h/db?application_name=%4",
            "invalid percent-encoded token \"%4\" in connection URL",
        ),
        (
            "postgres://h/db%00",
            "forbidden value %00 in percent-encoded connection URL",
        ),
        (
            "password='abc",
            "unterminated quoted string for option \"password\" in connection info string",
        ),
        (
            "host=h dbname",
            "missing \"=\" after \"dbname\" in connection info string",
        ),
        (
            "mysql://user@localhost/db",
            "invalid connection URL: unsupported scheme \"mysql\": expected postgres:// or postgresql://",
        ),
        (
            "require_auth=!md5,password",
            "invalid value \"!md5,password\" for option \"require_auth\": negated (!) and plain methods cannot be mixed",
        ),
        (
            "postgres://h/db?require_auth=!md5,password",
            "invalid value \"!md5,password\" for option \"require_auth\": negated (!) and plain methods cannot be mixed",
        ),
        (
            "keepalives=yes",
            "invalid value \"yes\" for option \"keepalives\": expected 0 or 1",
        ),
        (
            "sslsni=true",
            "invalid value \"true\" for option \"sslsni\": expected 0 or 1",
        ),
        (
            "connect_timeout=-1",
            "invalid value \"-1\" for option \"connect_timeout\": expected a whole number of seconds",
        ),
        (
            "connect_timeout=5s",
            "invalid value \"5s\" for option \"connect_timeout\": expected a whole number of seconds",
        ),
        (
            "keepalives_count=5000000000",
            "invalid value \"5000000000\" for option \"keepalives_count\": expected a non-negative integer",
        ),
        (
            "tcp_user_timeout=1.5",
            "invalid value \"1.5\" for option \"tcp_user_timeout\": expected a whole number of milliseconds",
        ),
        (
            "target_session_attrs=master",
            "invalid value \"master\" for option \"target_session_attrs\": expected one of any, read-write, read-only, primary, standby, prefer-standby",
        ),
        (
            "load_balance_hosts=roundrobin",
            "invalid value \"roundrobin\" for option \"load_balance_hosts\": expected one of disable, random",
        ),
        (
            "channel_binding=yes",
            "invalid value \"yes\" for option \"channel_binding\": expected one of disable, prefer, require",
        ),
        (
            "sslnegotiation=tls",
            "invalid value \"tls\" for option \"sslnegotiation\": expected one of postgres, direct",
        ),
        (
            "min_protocol_version=3.1",
            "invalid value \"3.1\" for option \"min_protocol_version\": expected one of 3.0, 3.2, latest",
        ),
        (
            "client_encoding=LATIN1",
            "invalid value \"LATIN1\" for option \"client_encoding\": expected UTF8 (pgline always uses UTF-8)",
        ),
    ];
    for (input, message) in cases {
        let err = input.parse::<Config>().expect_err(input);
        assert_eq!(err.to_string(), message, "{input}");
    }
}

#[test]
fn debug_never_shows_the_password() {
    let secret = "Sup3r-S3cret";
    let configs = [
        format!("postgres://alice:{secret}@db/app")
            .parse::<Config>()
            .unwrap(),
        format!("host=db password='{secret}'")
            .parse::<Config>()
            .unwrap(),
        format!("postgres://db/app?password={secret}")
            .parse::<Config>()
            .unwrap(),
        cfg(|c| {
            c.password(secret);
        }),
    ];
    for config in &configs {
        let compact = format!("{config:?}");
        assert!(!compact.contains(secret), "{compact}");
        assert!(compact.contains("password: Some(<redacted>)"), "{compact}");
        let pretty = format!("{config:#?}");
        assert!(!pretty.contains(secret), "{pretty}");
        assert!(pretty.contains("<redacted>"), "{pretty}");
    }
    assert!(format!("{:?}", Config::new()).contains("password: None"));
}

#[test]
fn errors_never_show_the_password() {
    let secret = "Sup3r-S3cret";
    for input in [
        format!("postgres://alice:{secret}@db:bad/app"),
        format!("postgres://alice:{secret}%zz@db/app"),
        format!("postgres://db/app?password={secret}=x"),
        format!("password='{secret}"),
    ] {
        let err = input.parse::<Config>().unwrap_err();
        assert!(!err.to_string().contains(secret), "{err}");
        assert!(!format!("{err:?}").contains(secret), "{err:?}");
    }
}

#[test]
fn startup_params_in_order() {
    let mut config: Config = "user=u dbname=d fallback_application_name=fb options='-c x=1'"
        .parse()
        .unwrap();
    config.param("search_path", "app");
    assert_eq!(
        config.startup_params(),
        [
            ("user", "u"),
            ("database", "d"),
            ("application_name", "fb"),
            ("options", "-c x=1"),
            ("search_path", "app"),
        ]
    );
    config.application_name("real");
    assert_eq!(config.startup_params()[2], ("application_name", "real"));
}

#[test]
fn setters_append_and_set_option_replaces() {
    let mut config = Config::new();
    config.host("a").port(1).host("b").port(2);
    assert_eq!(
        config.get_hosts(),
        &[Host::Tcp("a".into()), Host::Tcp("b".into())]
    );
    config
        .set_option("host", "c")
        .unwrap()
        .set_option("port", "3")
        .unwrap();
    assert_eq!(config.get_hosts(), &[Host::Tcp("c".into())]);
    assert_eq!(config.get_ports(), &[3]);
    assert_eq!(
        config.set_option("nope", "1").unwrap_err(),
        ConfigError::UnknownOption {
            name: "nope".into()
        }
    );
}
