//! The key=value connection string: `host=db port=5433 password='it''s'`.
//!
//! Owns the tokenizer, libpq's rules: pairs separated by whitespace,
//! whitespace allowed around `=`, values unquoted (ending at whitespace) or
//! single-quoted, a backslash escaping the next character in both forms,
//! `''` for an empty value. It must not interpret values; every pair goes
//! to the keyword table. No I/O.

use super::{Config, ConfigError};

/// Parses a key=value connection string into a fresh [`Config`].
pub(crate) fn parse(s: &str) -> Result<Config, ConfigError> {
    let mut config = Config::new();
    for (key, value) in pairs(s)? {
        config.set_by_name(&key, &value)?;
    }
    Ok(config)
}

/// Splits a key=value string into its (key, unescaped value) pairs.
pub(crate) fn pairs(s: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next_if_eq(&'=').is_none() {
            return Err(ConfigError::MissingEquals { key });
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(ConfigError::UnterminatedQuote { key }),
                    Some('\'') => break,
                    Some('\\') => {
                        if let Some(c) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, String)> {
        pairs(s).unwrap()
    }

    fn kv(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tokenizer_cases() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("   ", &[]),
            ("host=db", &[("host", "db")]),
            (
                "host = db  port= 5433\tuser =app",
                &[("host", "db"), ("port", "5433"), ("user", "app")],
            ),
            (
                "password='it\\'s a secret'",
                &[("password", "it's a secret")],
            ),
            ("password='back\\\\slash'", &[("password", "back\\slash")]),
            ("password=''", &[("password", "")]),
            ("a='x'b=y", &[("a", "x"), ("b", "y")]),
            (
                "options=-c\\ search_path=x",
                &[("options", "-c search_path=x")],
            ),
            ("dbname=db=1", &[("dbname", "db=1")]),
            (
                "application_name='caf\u{e9} \u{1f418}'",
                &[("application_name", "caf\u{e9} \u{1f418}")],
            ),
            // As in libpq, whitespace after `=` is skipped, so the next word is the value.
            ("host= port=1", &[("host", "port=1")]),
        ];
        for (input, expected) in cases {
            assert_eq!(p(input), kv(expected), "{input}");
        }
    }

    #[test]
    fn syntax_errors() {
        let cases = [
            (
                "host",
                "missing \"=\" after \"host\" in connection info string",
            ),
            (
                "host db",
                "missing \"=\" after \"host\" in connection info string",
            ),
            (
                "password='abc",
                "unterminated quoted string for option \"password\" in connection info string",
            ),
            (
                "password='abc\\'",
                "unterminated quoted string for option \"password\" in connection info string",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(pairs(input).unwrap_err().to_string(), message, "{input}");
        }
    }
}
