//! SASLprep (RFC 4013) of a password, with PostgreSQL's fallback rule.
//!
//! Owns only the normalisation of the password bytes that go into SCRAM's key
//! derivation; it must not reject a password. PostgreSQL normalises the
//! password the same way when it stores a SCRAM verifier, and where SASLprep
//! cannot be applied it uses the raw bytes on both sides, so the client must
//! do exactly the same to derive the same keys.

use std::borrow::Cow;

/// The password as SCRAM hashes it.
///
/// Applies SASLprep (RFC 4013: non-ASCII spaces become U+0020, "commonly
/// mapped to nothing" characters are dropped, NFKC, then the prohibited-output
/// and bidirectional checks). As PostgreSQL does, and unlike the RFC, it never
/// fails: if the password is not valid UTF-8, or SASLprep rejects it
/// (prohibited or unassigned characters, bidi rule), the raw bytes are
/// returned unchanged.
///
/// A pure ASCII password is returned as is without running the profile: for
/// ASCII, SASLprep either changes nothing or fails (control characters), and
/// both outcomes mean "use the raw bytes".
pub fn saslprep(password: &[u8]) -> Cow<'_, [u8]> {
    if password.is_ascii() {
        return Cow::Borrowed(password);
    }
    let Ok(text) = std::str::from_utf8(password) else {
        return Cow::Borrowed(password);
    };
    match stringprep::saslprep(text) {
        Ok(Cow::Borrowed(prepared)) => Cow::Borrowed(prepared.as_bytes()),
        Ok(Cow::Owned(prepared)) => Cow::Owned(prepared.into_bytes()),
        Err(_) => Cow::Borrowed(password),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::auth::test_vectors::{fixture_records, unescape};

    #[test]
    fn ascii_is_unchanged_and_borrowed() {
        assert!(matches!(saslprep(b"pencil"), Cow::Borrowed(b"pencil")));
        assert_eq!(
            &*saslprep(b" rover june spelling "),
            b" rover june spelling "
        );
        assert_eq!(&*saslprep(b""), b"");
    }

    #[test]
    fn rfc4013_mappings() {
        // U+00AD SOFT HYPHEN is mapped to nothing.
        assert_eq!(&*saslprep("I\u{00AD}X".as_bytes()), b"IX");
        // U+00A0 NO-BREAK SPACE becomes U+0020.
        assert_eq!(&*saslprep("user\u{00A0}name".as_bytes()), b"user name");
        // NFKC: U+00AA becomes 'a', U+2168 ROMAN NUMERAL NINE becomes "IX".
        assert_eq!(&*saslprep("\u{00AA}".as_bytes()), b"a");
        assert_eq!(&*saslprep("\u{2168}".as_bytes()), b"IX");
    }

    #[test]
    fn prohibited_and_bidi_failures_fall_back_to_raw() {
        // U+0007 is prohibited: raw bytes (here the ASCII fast path).
        assert_eq!(&*saslprep(b"foo\x07bar"), b"foo\x07bar");
        // A non-ASCII password with a prohibited control character.
        let raw = "\u{00E9}\u{0007}".as_bytes();
        assert_eq!(&*saslprep(raw), raw);
        // RandALCat U+0627 followed by a digit at the end fails the bidi rule.
        let raw = "foo\u{0627}1bar".as_bytes();
        assert_eq!(&*saslprep(raw), raw);
    }

    #[test]
    fn invalid_utf8_is_used_raw() {
        let raw = b"caf\xe9 \xff\xfe";
        assert!(matches!(saslprep(raw), Cow::Borrowed(b) if b == raw));
    }

    /// PostgreSQL's 002_saslprep.pl: a login succeeds exactly when both sides
    /// derive the same bytes from the role's and the login's passwords.
    #[test]
    fn postgresql_saslprep_cases() {
        let records = fixture_records("saslprep_pg");
        assert_eq!(records.len(), 12);
        for record in records {
            let role = unescape(record.get("role"));
            let login = unescape(record.get("login"));
            let same = saslprep(&role) == saslprep(&login);
            match record.get("expect") {
                "ok" => assert!(same, "{}", record.id),
                "fail" => assert!(!same, "{}", record.id),
                other => panic!("bad expect {other}"),
            }
        }
    }

    /// pgjdbc's space cases: Unicode spaces map to U+0020 on both sides, so a
    /// spaced password matches itself; a role created without the spaces must
    /// not match (spaces are never stripped).
    #[test]
    fn pgjdbc_space_cases() {
        let records = fixture_records("saslprep_spaces");
        assert_eq!(records.len(), 5);
        for record in records {
            let spaced = unescape(record.get("password"));
            let stripped = unescape(record.get("stripped"));
            let prepared = unescape(record.get("prepared"));
            assert_eq!(&*saslprep(&spaced), &prepared[..], "{}", record.id);
            assert_ne!(saslprep(&spaced), saslprep(&stripped), "{}", record.id);
        }
    }
}
