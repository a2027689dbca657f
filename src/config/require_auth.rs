//! `require_auth`: which authentication methods the client accepts.
//!
//! Owns [`RequireAuth`] (libpq syntax: a comma list of methods, or a comma
//! list of methods each negated with `!`) and [`AuthMethod`]. It only answers
//! "is this method allowed"; the startup state machine enforces the answer.

use std::fmt;
use std::str::FromStr;

use super::ConfigError;

/// An authentication method the server may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// Cleartext password (`password`).
    Password,
    /// MD5 password hash (`md5`).
    Md5,
    /// GSSAPI (`gss`).
    Gss,
    /// SSPI (`sspi`).
    Sspi,
    /// SCRAM-SHA-256, with or without channel binding (`scram-sha-256`).
    ScramSha256,
    /// No authentication at all: the server sends AuthenticationOk at once (`none`).
    None,
}

impl AuthMethod {
    const ALL: [Self; 6] = [
        Self::Password,
        Self::Md5,
        Self::Gss,
        Self::Sspi,
        Self::ScramSha256,
        Self::None,
    ];

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Md5 => "md5",
            Self::Gss => "gss",
            Self::Sspi => "sspi",
            Self::ScramSha256 => "scram-sha-256",
            Self::None => "none",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == word)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `require_auth` setting: the set of allowed methods.
///
/// Unset (the [`Default`]) allows every method. `md5,scram-sha-256` allows
/// only those; `!password,!md5` allows everything except those. Mixing plain
/// and negated methods, naming a method twice, or an unknown method is an
/// error, as in libpq.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequireAuth {
    /// When true, `methods` are the forbidden ones; when false, the allowed ones.
    negated: bool,
    methods: u8,
}

impl RequireAuth {
    /// Every method is allowed.
    pub fn any() -> Self {
        Self {
            negated: true,
            methods: 0,
        }
    }

    /// Only `methods` are allowed.
    pub fn only(methods: &[AuthMethod]) -> Self {
        Self {
            negated: false,
            methods: methods.iter().fold(0, |acc, m| acc | m.bit()),
        }
    }

    /// Every method except `methods` is allowed.
    pub fn except(methods: &[AuthMethod]) -> Self {
        Self {
            negated: true,
            methods: methods.iter().fold(0, |acc, m| acc | m.bit()),
        }
    }

    /// Whether the server may authenticate with `method`.
    pub fn allows(&self, method: AuthMethod) -> bool {
        let listed = self.methods & method.bit() != 0;
        listed != self.negated
    }

    /// Whether this is a negated list (`!a,!b`) rather than a list of allowed methods.
    pub fn is_negated(&self) -> bool {
        self.negated
    }
}

impl Default for RequireAuth {
    fn default() -> Self {
        Self::any()
    }
}

impl fmt::Display for RequireAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for method in AuthMethod::ALL {
            if self.methods & method.bit() == 0 {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if self.negated {
                f.write_str("!")?;
            }
            f.write_str(method.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for RequireAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequireAuth(\"{self}\")")
    }
}

impl FromStr for RequireAuth {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, ConfigError> {
        let mut negated = None;
        let mut methods = 0u8;
        for word in value.split(',') {
            let (is_negated, name) = match word.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, word),
            };
            let method = AuthMethod::parse(name).ok_or_else(|| ConfigError::InvalidValue {
                option: "require_auth",
                value: word.to_owned(),
                expected: "a comma list of password, md5, gss, sspi, scram-sha-256, none \
                           (each optionally negated with !)",
            })?;
            match negated {
                None => negated = Some(is_negated),
                Some(previous) if previous != is_negated => {
                    return Err(ConfigError::InvalidRequireAuth {
                        value: value.to_owned(),
                        reason: "negated (!) and plain methods cannot be mixed",
                    });
                }
                Some(_) => {}
            }
            if methods & method.bit() != 0 {
                return Err(ConfigError::InvalidRequireAuth {
                    value: value.to_owned(),
                    reason: "a method is listed more than once",
                });
            }
            methods |= method.bit();
        }
        Ok(Self {
            negated: negated.unwrap_or(true),
            methods,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthMethod::*;

    #[test]
    fn allowed_sets() {
        let cases: &[(&str, &[AuthMethod], &[AuthMethod])] = &[
            (
                "scram-sha-256",
                &[ScramSha256],
                &[Password, Md5, Gss, Sspi, None],
            ),
            ("md5,password", &[Md5, Password], &[ScramSha256, None, Gss]),
            (
                "!password,!md5",
                &[ScramSha256, None, Gss, Sspi],
                &[Password, Md5],
            ),
            ("!none", &[Password, Md5, ScramSha256], &[None]),
            ("none", &[None], &[ScramSha256]),
        ];
        for (text, allowed, refused) in cases {
            let ra: RequireAuth = text.parse().unwrap();
            for m in *allowed {
                assert!(ra.allows(*m), "{text} should allow {m}");
            }
            for m in *refused {
                assert!(!ra.allows(*m), "{text} should refuse {m}");
            }
            assert_eq!(ra.to_string().parse::<RequireAuth>(), Ok(ra));
        }
        for m in AuthMethod::ALL {
            assert!(RequireAuth::default().allows(m));
        }
        assert_eq!(
            RequireAuth::only(&[Md5, ScramSha256]).to_string(),
            "md5,scram-sha-256"
        );
        assert_eq!(RequireAuth::except(&[Password]).to_string(), "!password");
    }

    #[test]
    fn bad_lists() {
        let cases = [
            (
                "!md5,password",
                "invalid value \"!md5,password\" for option \"require_auth\": negated (!) and plain methods cannot be mixed",
            ),
            (
                "md5,!password",
                "invalid value \"md5,!password\" for option \"require_auth\": negated (!) and plain methods cannot be mixed",
            ),
            (
                "md5,md5",
                "invalid value \"md5,md5\" for option \"require_auth\": a method is listed more than once",
            ),
            (
                "md5,kerberos",
                "invalid value \"kerberos\" for option \"require_auth\": expected a comma list of password, md5, gss, sspi, scram-sha-256, none (each optionally negated with !)",
            ),
            (
                "md5,",
                "invalid value \"\" for option \"require_auth\": expected a comma list of password, md5, gss, sspi, scram-sha-256, none (each optionally negated with !)",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(
                text.parse::<RequireAuth>().unwrap_err().to_string(),
                message
            );
        }
    }
}
