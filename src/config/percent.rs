//! Percent-decoding for connection URLs.
//!
//! Owns `%XX` decoding as libpq does it: every `%` must start a two-digit
//! hex escape, `%00` is refused, `+` is left alone. It must not know URL
//! structure. No I/O.

use super::ConfigError;

/// Decodes every `%XX` escape in `s`.
pub(crate) fn decode(s: &str) -> Result<Vec<u8>, ConfigError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let hi = bytes.get(i + 1).copied().and_then(hex_value);
        let lo = bytes.get(i + 2).copied().and_then(hex_value);
        match (hi, lo) {
            (Some(hi), Some(lo)) => {
                let decoded = hi << 4 | lo;
                if decoded == 0 {
                    return Err(ConfigError::PercentEncodedNul);
                }
                out.push(decoded);
                i += 3;
            }
            _ => {
                let escape: String = s.get(i..).unwrap_or("").chars().take(3).collect();
                return Err(ConfigError::InvalidPercentEncoding { escape });
            }
        }
    }
    Ok(out)
}

/// Decodes `s` and requires the result to be UTF-8 text.
pub(crate) fn decode_str(option: &'static str, s: &str) -> Result<String, ConfigError> {
    String::from_utf8(decode(s)?).map_err(|_| ConfigError::NotUtf8 { option })
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        let cases: &[(&str, &[u8])] = &[
            ("plain", b"plain"),
            ("%2Fvar%2frun", b"/var/run"),
            ("a+b%20c", b"a+b c"),
            ("%E2%82%AC", "\u{20ac}".as_bytes()),
            ("%ff", &[0xff]),
            ("", b""),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input).unwrap(), *expected, "{input}");
        }
    }

    #[test]
    fn bad_escapes() {
        let cases = [
            (
                "abc%zz",
                "invalid percent-encoded token \"%zz\" in connection URL",
            ),
            (
                "abc%4",
                "invalid percent-encoded token \"%4\" in connection URL",
            ),
            ("%", "invalid percent-encoded token \"%\" in connection URL"),
            (
                "%4g1",
                "invalid percent-encoded token \"%4g\" in connection URL",
            ),
            (
                "%\u{e9}9",
                "invalid percent-encoded token \"%\u{e9}9\" in connection URL",
            ),
            (
                "a%00b",
                "forbidden value %00 in percent-encoded connection URL",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(decode(input).unwrap_err().to_string(), message, "{input}");
        }
        assert_eq!(
            decode_str("user", "%ff"),
            Err(ConfigError::NotUtf8 { option: "user" })
        );
    }
}
