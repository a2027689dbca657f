//! Fuzzing entry point for the connection-string parsers (URL and key=value).
//!
//! **No stability promise**: this module exists for the `fuzz/` target
//! `connection_string` and its corpus replay test, and may change or vanish
//! in any release. It owns the invariants the fuzzer checks; it must not be
//! used by the library, and it does no I/O (the default host is supplied,
//! not looked up).

use std::fmt::Write as _;
use std::path::PathBuf;

use super::target::Host;
use super::{Config, key_value, percent, url};

/// Runs `data` through every connection-string parser and panics if an
/// invariant breaks:
///
/// 1. parsing (`Config::from_str`) never panics, and a parsed config can be
///    printed, validated and expanded into targets;
/// 2. the key=value tokenizer round-trips: re-quoting the pairs it found
///    gives the same pairs, and the same `Config` (or an error again);
/// 3. the same pairs written as URL query parameters, percent-encoded,
///    give the same `Config` as the key=value form (or both fail);
/// 4. percent-encoding any bytes and decoding them gives the bytes back,
///    except that `%00` is refused.
pub fn connection_string(data: &[u8]) {
    percent_round_trip(data);
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = s.parse::<Config>() {
        let printed = format!("{config:?}");
        assert!(!printed.is_empty());
        let _ = config.validate();
        let _ = config.startup_params();
        let default_host = || Host::Unix(PathBuf::from("/fuzz/socket"));
        if let Ok(targets) = config.targets_with_default(&default_host) {
            assert!(!targets.is_empty(), "a valid config has a target");
        }
    }
    let Ok(pairs) = key_value::pairs(s) else {
        return;
    };
    let quoted = quote_pairs(&pairs);
    assert_eq!(
        key_value::pairs(&quoted).ok().as_ref(),
        Some(&pairs),
        "re-quoted pairs differ: {quoted:?}"
    );
    let direct = key_value::parse(s);
    let requoted = key_value::parse(&quoted);
    assert_eq!(direct.is_ok(), requoted.is_ok(), "{quoted:?}");
    assert_eq!(direct.as_ref().ok(), requoted.as_ref().ok(), "{quoted:?}");
    // `ssl=true` exists only in URLs.
    if pairs.iter().any(|(k, _)| k == "ssl") {
        return;
    }
    let as_url = url_from_pairs(&pairs);
    let via_url = url::parse(&as_url);
    assert_eq!(direct.is_ok(), via_url.is_ok(), "{s:?} vs {as_url:?}");
    assert_eq!(direct.ok(), via_url.ok(), "{s:?} vs {as_url:?}");
}

/// `key='value' ...` with `\` and `'` escaped by a backslash.
pub fn quote_pairs(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        out.push_str(key);
        out.push_str("='");
        for c in value.chars() {
            if c == '\\' || c == '\'' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push_str("' ");
    }
    out
}

/// `postgresql://?key=value&...` with every byte outside `[A-Za-z0-9_.-]`
/// percent-encoded.
pub fn url_from_pairs(pairs: &[(String, String)]) -> String {
    let mut out = String::from("postgresql://?");
    for (key, value) in pairs {
        out.push_str(&percent_encode(key.as_bytes()));
        out.push('=');
        out.push_str(&percent_encode(value.as_bytes()));
        out.push('&');
    }
    out
}

/// Every byte outside `[A-Za-z0-9_.-]` as `%XX`.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn percent_round_trip(data: &[u8]) {
    let decoded = percent::decode(&percent_encode(data));
    if data.contains(&0) {
        assert!(decoded.is_err(), "%00 must be refused");
    } else {
        assert_eq!(decoded.ok().as_deref(), Some(data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_the_connection_string_corpus() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/connection_string");
        let mut parsed = 0;
        let mut seeds = 0;
        for entry in std::fs::read_dir(dir).expect("fuzz corpus folder") {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path).expect("corpus file");
            connection_string(&data);
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let ok = std::str::from_utf8(&data)
                .ok()
                .is_some_and(|s| s.parse::<Config>().is_ok());
            // Seeds named `*_bad_*` are refused; the others parse.
            assert_eq!(ok, !name.contains("_bad_"), "{name}");
            parsed += usize::from(ok);
            seeds += 1;
        }
        assert!(
            seeds >= 10 && parsed >= 8,
            "{parsed} of {seeds} seeds parsed"
        );
    }

    #[test]
    fn quoting_and_url_forms_agree() {
        let pairs = vec![
            ("host".to_owned(), "a b".to_owned()),
            ("password".to_owned(), r"it's \ x".to_owned()),
        ];
        let quoted = quote_pairs(&pairs);
        assert_eq!(quoted, r"host='a b' password='it\'s \\ x' ");
        assert_eq!(key_value::pairs(&quoted).unwrap(), pairs);
        assert_eq!(
            url_from_pairs(&pairs),
            "postgresql://?host=a%20b&password=it%27s%20%5C%20x&"
        );
        let a = key_value::parse(&quoted).unwrap();
        let b = url::parse(&url_from_pairs(&pairs)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.get_password(), Some(&br"it's \ x"[..]));
    }

    #[test]
    fn percent_encoding_round_trips() {
        assert_eq!(percent_encode(b"a/b\xff"), "a%2Fb%FF");
        percent_round_trip(b"\x01\xfe%41");
        percent_round_trip(b"nul\0inside");
        connection_string(b"host=\xff");
        connection_string(b"");
        connection_string(b"postgres://");
    }
}
