//! The URL connection string:
//! `postgres[ql]://[user[:password]@][host][:port][,host[:port]...][/dbname][?key=value&...]`.
//!
//! Owns the URL's structure: user information, the host list with IPv6
//! literals in brackets and per-host ports, the database path and the query
//! parameters (libpq keywords, plus `ssl=true` meaning `sslmode=require`).
//! Every part is percent-decoded. It must not interpret option values; they
//! go to the keyword table. No I/O.

use super::keyword::{self, Keyword, parse_port};
use super::percent::{decode, decode_str};
use super::target::{DEFAULT_PORT, Host};
use super::{Config, ConfigError};

/// The scheme of `s` when it starts like a URL (`letters://`), else `None`.
pub(crate) fn scheme(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (starts_with_letter && rest_ok).then_some(scheme)
}

/// Parses a connection URL into a fresh [`Config`].
pub(crate) fn parse(s: &str) -> Result<Config, ConfigError> {
    let scheme = scheme(s).ok_or_else(|| ConfigError::InvalidUrl {
        reason: "expected postgres:// or postgresql://".to_owned(),
    })?;
    if !scheme.eq_ignore_ascii_case("postgres") && !scheme.eq_ignore_ascii_case("postgresql") {
        return Err(ConfigError::InvalidUrl {
            reason: format!(
                "unsupported scheme \"{scheme}\": expected postgres:// or postgresql://"
            ),
        });
    }
    let rest = s.get(scheme.len() + 3..).unwrap_or("");
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (before_query, None),
    };
    let (userinfo, host_list) = match authority.rfind('@') {
        Some(at) => (authority.get(..at), authority.get(at + 1..).unwrap_or("")),
        None => (None, authority),
    };

    let mut config = Config::new();
    if let Some(userinfo) = userinfo {
        apply_userinfo(&mut config, userinfo)?;
    }
    apply_host_list(&mut config, host_list)?;
    if let Some(path) = path {
        let dbname = decode_str("dbname", path)?;
        if !dbname.is_empty() {
            config.dbname = Some(dbname);
        }
    }
    if let Some(query) = query {
        apply_query(&mut config, query)?;
    }
    Ok(config)
}

fn apply_userinfo(config: &mut Config, userinfo: &str) -> Result<(), ConfigError> {
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    let user = decode_str("user", user)?;
    if !user.is_empty() {
        config.user = Some(user);
    }
    if let Some(password) = password {
        let password = decode(password)?;
        if !password.is_empty() {
            config.password = Some(password);
        }
    }
    Ok(())
}

/// `host[:port],[ipv6]:port,...`: an empty list leaves host and port unset;
/// a list with any host (or more than one entry) sets the hosts, with empty
/// entries meaning the default host; any port sets the ports, with 5432 for
/// hosts written without one.
fn apply_host_list(config: &mut Config, list: &str) -> Result<(), ConfigError> {
    if list.is_empty() {
        return Ok(());
    }
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for entry in list.split(',') {
        let (host, port) = split_host_port(entry)?;
        hosts.push(decode_str("host", host)?);
        ports.push(match port {
            Some(port) if !port.is_empty() => Some(parse_port(&decode_str("port", port)?)?),
            _ => None,
        });
    }
    if hosts.len() > 1 || hosts.iter().any(|h| !h.is_empty()) {
        config.hosts = hosts.iter().map(|h| Host::parse(h)).collect();
    }
    if ports.iter().any(Option::is_some) {
        config.ports = ports
            .into_iter()
            .map(|p| p.unwrap_or(DEFAULT_PORT))
            .collect();
    }
    Ok(())
}

fn split_host_port(entry: &str) -> Result<(&str, Option<&str>), ConfigError> {
    let Some(inner) = entry.strip_prefix('[') else {
        return Ok(match entry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        });
    };
    let (addr, after) = inner
        .split_once(']')
        .ok_or_else(|| ConfigError::InvalidUrl {
            reason: format!("missing \"]\" after IPv6 host address \"[{inner}\""),
        })?;
    if addr.is_empty() {
        return Err(ConfigError::InvalidUrl {
            reason: "empty IPv6 host address \"[]\"".to_owned(),
        });
    }
    if after.is_empty() {
        return Ok((addr, None));
    }
    match after.strip_prefix(':') {
        Some(port) => Ok((addr, Some(port))),
        None => Err(ConfigError::InvalidUrl {
            reason: format!("unexpected \"{after}\" after IPv6 host address \"[{addr}]\""),
        }),
    }
}

fn apply_query(config: &mut Config, query: &str) -> Result<(), ConfigError> {
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(ConfigError::InvalidUrl {
                reason: format!("missing \"=\" in query parameter \"{pair}\""),
            });
        };
        let key = decode_str("query parameter name", key)?;
        if value.contains('=') {
            return Err(ConfigError::InvalidUrl {
                reason: format!("extra \"=\" in the value of query parameter \"{key}\""),
            });
        }
        if key == "ssl" && value == "true" {
            config.set_keyword(Keyword::SslMode, "require")?;
            continue;
        }
        let keyword = keyword::lookup(&key)?;
        if keyword == Keyword::Password {
            let password = decode(value)?;
            config.password = (!password.is_empty()).then_some(password);
            continue;
        }
        config.set_keyword(keyword, &decode_str(keyword.name(), value)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_detection() {
        assert_eq!(scheme("postgres://x"), Some("postgres"));
        assert_eq!(scheme("PostgreSQL://x"), Some("PostgreSQL"));
        assert_eq!(scheme("mysql://x"), Some("mysql"));
        assert_eq!(scheme("host=a sslrootcert=file://x"), None);
        assert_eq!(scheme("host=db"), None);
        assert_eq!(scheme("1abc://x"), None);
    }

    #[test]
    fn url_errors() {
        let cases = [
            (
                "mysql://localhost/db",
                "invalid connection URL: unsupported scheme \"mysql\": expected postgres:// or postgresql://",
            ),
            (
                "postgres://[::1/db",
                "invalid connection URL: missing \"]\" after IPv6 host address \"[::1\"",
            ),
            (
                "postgres://[]:5432/db",
                "invalid connection URL: empty IPv6 host address \"[]\"",
            ),
            (
                "postgres://[::1]x/db",
                "invalid connection URL: unexpected \"x\" after IPv6 host address \"[::1]\"",
            ),
            (
                "postgres://h/db?sslmode",
                "invalid connection URL: missing \"=\" in query parameter \"sslmode\"",
            ),
            (
                "postgres://h/db?password=a=b",
                "invalid connection URL: extra \"=\" in the value of query parameter \"password\"",
            ),
            ("postgres://h/db?foo=1", "invalid connection option \"foo\""),
            (
                "postgres://h/db?ssl=false",
                "invalid connection option \"ssl\"",
            ),
            (
                "postgres://h/db?replication=1",
                "connection option \"replication\" is not supported by pgline",
            ),
            (
                "postgres://h:0/db",
                "invalid value \"0\" for option \"port\": expected a port number between 1 and 65535",
            ),
            (
                "postgres://h:54x2/db",
                "invalid value \"54x2\" for option \"port\": expected a port number between 1 and 65535",
            ),
            (
                "postgres://u:p%zzq@h/db",
                "invalid percent-encoded token \"%zz\" in connection URL",
            ),
            (
                "postgres://h/d%00b",
                "forbidden value %00 in percent-encoded connection URL",
            ),
            (
                "postgres://h/%ff",
                "the value of option \"dbname\" is not valid UTF-8",
            ),
            (
                "postgres://h/db?sslmode=maybe",
                "invalid value \"maybe\" for option \"sslmode\": expected one of disable, allow, prefer, require, verify-ca, verify-full",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(parse(input).unwrap_err().to_string(), message, "{input}");
        }
    }

    #[test]
    fn password_may_be_any_bytes() {
        let config = parse("postgres://u:%ff%3A%40@h").unwrap();
        assert_eq!(config.get_password(), Some(&[0xff, b':', b'@'][..]));
        let config = parse("postgres://h?password=a%26b").unwrap();
        assert_eq!(config.get_password(), Some(&b"a&b"[..]));
    }
}
