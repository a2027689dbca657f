//! `Authentication`: the server's authentication requests (`R` messages).
//!
//! Owns decoding of every Authentication request code and of the SASL
//! mechanism list. It must not run any authentication exchange: that is the
//! startup/auth state machine's job, which consumes these values.

use bytes::Bytes;

use super::super::ProtoError;
use super::reader::{Reader, text_at};

const MESSAGE: &str = "Authentication";

/// An authentication request from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authentication {
    /// Code 0: authentication succeeded.
    Ok,
    /// Code 2: Kerberos V5 (not supported by any current server).
    KerberosV5,
    /// Code 3: send the password in clear text.
    CleartextPassword,
    /// Code 5: send the MD5-hashed password, salted with `salt`.
    Md5Password {
        /// The 4-byte salt.
        salt: [u8; 4],
    },
    /// Code 7: start GSSAPI authentication.
    Gss,
    /// Code 8: GSSAPI or SSPI continuation data.
    GssContinue(Bytes),
    /// Code 9: start SSPI authentication.
    Sspi,
    /// Code 10: start SASL authentication with one of these mechanisms.
    Sasl(SaslMechanisms),
    /// Code 11: a SASL challenge.
    SaslContinue(Bytes),
    /// Code 12: the SASL outcome ("additional data").
    SaslFinal(Bytes),
}

impl Authentication {
    /// Decodes an `R` message body.
    pub fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, MESSAGE);
        let code = r.u32()?;
        let start = r.pos();
        let auth = match code {
            0 => Self::Ok,
            2 => Self::KerberosV5,
            3 => Self::CleartextPassword,
            5 => {
                let mut salt = [0; 4];
                salt.copy_from_slice(r.bytes(4)?);
                Self::Md5Password { salt }
            }
            7 => Self::Gss,
            9 => Self::Sspi,
            8 | 10 | 11 | 12 => {
                r.rest();
                let data = body.slice(start..);
                return Ok(match code {
                    8 => Self::GssContinue(data),
                    10 => Self::Sasl(SaslMechanisms::parse(data)?),
                    11 => Self::SaslContinue(data),
                    _ => Self::SaslFinal(data),
                });
            }
            code => return Err(ProtoError::UnknownAuthentication { code }),
        };
        r.finish()?;
        Ok(auth)
    }
}

/// The SASL mechanisms offered by an AuthenticationSASL request, in the
/// server's order of preference. Each name was checked on parse to be
/// NUL-terminated UTF-8, and the list to end with an empty name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslMechanisms {
    /// The list, including the final NUL.
    body: Bytes,
}

impl SaslMechanisms {
    fn parse(body: Bytes) -> Result<Self, ProtoError> {
        let mut r = Reader::new(&body, MESSAGE);
        loop {
            if r.cstr()?.is_empty() {
                break;
            }
        }
        r.finish()?;
        Ok(Self { body })
    }

    /// The mechanism names, such as `"SCRAM-SHA-256"`.
    pub fn iter(&self) -> SaslMechanismIter<'_> {
        SaslMechanismIter {
            body: &self.body,
            pos: 0,
        }
    }

    /// Whether the server offers `mechanism`.
    pub fn contains(&self, mechanism: &str) -> bool {
        self.iter().any(|m| m == mechanism)
    }
}

/// Iterator over [`SaslMechanisms`].
#[derive(Debug, Clone)]
pub struct SaslMechanismIter<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for SaslMechanismIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.body.get(self.pos..)?;
        let nul = memchr::memchr(0, rest)?;
        if nul == 0 {
            return None;
        }
        let name = text_at(self.body, self.pos..self.pos + nul);
        self.pos += nul + 1;
        Some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(body: &'static [u8]) -> Result<Authentication, ProtoError> {
        Authentication::parse(Bytes::from_static(body))
    }

    #[test]
    fn every_code_decodes() {
        assert_eq!(auth(b"\0\0\0\0"), Ok(Authentication::Ok));
        assert_eq!(auth(b"\0\0\0\x02"), Ok(Authentication::KerberosV5));
        assert_eq!(auth(b"\0\0\0\x03"), Ok(Authentication::CleartextPassword));
        assert_eq!(
            auth(b"\0\0\0\x05\x01\x02\x03\x04"),
            Ok(Authentication::Md5Password { salt: [1, 2, 3, 4] })
        );
        assert_eq!(auth(b"\0\0\0\x07"), Ok(Authentication::Gss));
        assert_eq!(
            auth(b"\0\0\0\x08tok"),
            Ok(Authentication::GssContinue(Bytes::from_static(b"tok")))
        );
        assert_eq!(auth(b"\0\0\0\x09"), Ok(Authentication::Sspi));
        assert_eq!(
            auth(b"\0\0\0\x0br=abc,s=c2FsdA==,i=4096"),
            Ok(Authentication::SaslContinue(Bytes::from_static(
                b"r=abc,s=c2FsdA==,i=4096"
            )))
        );
        assert_eq!(
            auth(b"\0\0\0\x0cv=sig"),
            Ok(Authentication::SaslFinal(Bytes::from_static(b"v=sig")))
        );
        assert_eq!(
            auth(b"\0\0\0\x0c"),
            Ok(Authentication::SaslFinal(Bytes::new()))
        );
    }

    #[test]
    fn sasl_mechanisms() {
        let Ok(Authentication::Sasl(m)) = auth(b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0")
        else {
            panic!("expected SASL");
        };
        assert_eq!(
            m.iter().collect::<Vec<_>>(),
            ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]
        );
        assert!(m.contains("SCRAM-SHA-256"));
        assert!(!m.contains("SCRAM"));

        let Ok(Authentication::Sasl(empty)) = auth(b"\0\0\0\x0a\0") else {
            panic!("expected SASL");
        };
        assert_eq!(empty.iter().count(), 0);
    }

    #[test]
    fn malformed_requests() {
        assert_eq!(
            auth(b"\0\0\0\x0aSCRAM-SHA-256"),
            Err(ProtoError::MissingNul { message: MESSAGE })
        );
        assert_eq!(
            auth(b"\0\0\0\x0aSCRAM-SHA-256\0"),
            Err(ProtoError::MissingNul { message: MESSAGE })
        );
        assert_eq!(
            auth(b"\0\0\0\x0aSCRAM\0\0x"),
            Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: 1
            })
        );
        assert_eq!(
            auth(b"\0\0\0\x0a\xff\0\0"),
            Err(ProtoError::InvalidUtf8 { message: MESSAGE })
        );
        assert_eq!(
            auth(b"\0\0\0\x05\x01\x02\x03"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
        assert_eq!(
            auth(b"\0\0\0\x00\x00"),
            Err(ProtoError::TrailingBytes {
                message: MESSAGE,
                extra: 1
            })
        );
        assert_eq!(
            auth(b"\0\0\0\x06"),
            Err(ProtoError::UnknownAuthentication { code: 6 })
        );
        assert_eq!(
            auth(b"\0\0"),
            Err(ProtoError::Truncated { message: MESSAGE })
        );
    }
}
