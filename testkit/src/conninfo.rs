//! Connection strings for a test server.
//!
//! Owns: `postgres://` URLs (with percent-encoding) and libpq `key=value` strings. Must
//! not: know anything about the server beyond host, port and TLS.

/// A `postgres://` URL; `sslmode=disable` is appended when `tls` is false.
pub(crate) fn url(
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    dbname: &str,
    tls: bool,
) -> String {
    let mut url = format!("postgres://{}", percent_encode(user));
    if let Some(password) = password {
        url.push(':');
        url.push_str(&percent_encode(password));
    }
    url.push_str(&format!("@{host}:{port}/{}", percent_encode(dbname)));
    if !tls {
        url.push_str("?sslmode=disable");
    }
    url
}

/// A libpq `key=value` string; every value is single-quoted, `sslmode=disable` is
/// appended when `tls` is false.
pub(crate) fn key_value(
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    dbname: &str,
    tls: bool,
) -> String {
    let mut out = format!(
        "host={} port={port} user={}",
        quote_value(host),
        quote_value(user)
    );
    if let Some(password) = password {
        out.push_str(&format!(" password={}", quote_value(password)));
    }
    out.push_str(&format!(" dbname={}", quote_value(dbname)));
    if !tls {
        out.push_str(" sslmode=disable");
    }
    out
}

/// Every byte outside RFC 3986's unreserved set as `%XX` (UTF-8 bytes).
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `'value'` with `\` and `'` backslash-escaped, as libpq's conninfo parser expects.
pub(crate) fn quote_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_covers_reserved_and_non_ascii() {
        assert_eq!(percent_encode("pgline-secret"), "pgline-secret");
        assert_eq!(percent_encode("a b@c:d/e%"), "a%20b%40c%3Ad%2Fe%25");
        assert_eq!(percent_encode("pä"), "p%C3%A4");
    }

    #[test]
    fn url_with_and_without_tls() {
        assert_eq!(
            url("127.0.0.1", 5433, "u@x", Some("p:w"), "db", false),
            "postgres://u%40x:p%3Aw@127.0.0.1:5433/db?sslmode=disable"
        );
        assert_eq!(
            url("127.0.0.1", 5433, "u", None, "db", true),
            "postgres://u@127.0.0.1:5433/db"
        );
    }

    #[test]
    fn key_value_quotes_every_value() {
        assert_eq!(
            key_value("127.0.0.1", 6000, "u", Some(r"it's\x"), "my db", false),
            r"host='127.0.0.1' port=6000 user='u' password='it\'s\\x' dbname='my db' sslmode=disable"
        );
        assert_eq!(
            key_value("127.0.0.1", 6000, "u", None, "d", true),
            "host='127.0.0.1' port=6000 user='u' dbname='d'"
        );
    }
}
