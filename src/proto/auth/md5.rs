//! MD5 password authentication: the hash a `PasswordMessage` carries after
//! `AuthenticationMD5Password`, and the stored form in `pg_authid`.
//!
//! Owns only the hashing; it must not decide whether MD5 is acceptable (that
//! is the startup exchange's `require_auth` policy).

use md5::{Digest, Md5};

/// Lowercase hex of a 16-byte digest.
fn hex32(digest: &[u8; 16]) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (pair, byte) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0x0f)];
    }
    out
}

/// `"md5"` followed by 32 lowercase hex digits.
fn prefixed(digest: &[u8; 16]) -> [u8; 35] {
    let mut out = [0u8; 35];
    out[..3].copy_from_slice(b"md5");
    out[3..].copy_from_slice(&hex32(digest));
    out
}

fn inner_digest(user: &[u8], password: &[u8]) -> [u8; 16] {
    let mut hasher = Md5::new();
    hasher.update(password);
    hasher.update(user);
    hasher.finalize().into()
}

/// The stored MD5 password, as in `pg_authid.rolpassword`:
/// `"md5" + hex(md5(password ++ user))`.
pub fn md5_stored_password(user: &[u8], password: &[u8]) -> [u8; 35] {
    prefixed(&inner_digest(user, password))
}

/// `"md5" + hex(md5(hex(md5(password ++ user)) ++ salt))`, 35 bytes: what a
/// `PasswordMessage` carries in answer to `AuthenticationMD5Password` with
/// this `salt`.
pub fn md5_password_message(user: &[u8], password: &[u8], salt: [u8; 4]) -> [u8; 35] {
    let inner = hex32(&inner_digest(user, password));
    let mut hasher = Md5::new();
    hasher.update(inner);
    hasher.update(salt);
    prefixed(&hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::auth::test_vectors::fixture_records;

    #[test]
    fn stored_passwords_match_the_vectors() {
        let records = fixture_records("md5_stored");
        assert_eq!(records.len(), 2);
        for record in records {
            let user = record.get("user").as_bytes();
            let stored = md5_stored_password(user, record.get("password").as_bytes());
            assert_eq!(
                &stored[..],
                record.get("rolpassword").as_bytes(),
                "{}",
                record.id
            );
        }
    }

    #[test]
    fn password_message_is_the_salted_hash_of_the_stored_hash() {
        // md5(password ++ user) for "secret"/"foo" is 4ab2c5d0...edec7 (the
        // stored-hash vector); the message hashes its hex with the salt.
        let message = md5_password_message(b"foo", b"secret", [0x01, 0x02, 0x03, 0x04]);
        let mut hasher = Md5::new();
        hasher.update(b"4ab2c5d00339c4b2a4e921d2dc4edec7");
        hasher.update([0x01, 0x02, 0x03, 0x04]);
        let expected = prefixed(&hasher.finalize().into());
        assert_eq!(message, expected);
        assert_eq!(&message[..3], b"md5");
        assert!(
            message[3..]
                .iter()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn password_message_golden_value() {
        // Computed with Python's hashlib, independently of this code.
        let message = md5_password_message(b"foo", b"secret", [1, 2, 3, 4]);
        assert_eq!(&message[..], b"md59cd65cda7bfce93ed5190dc74c6f233f");
    }

    #[test]
    fn salt_changes_the_message() {
        let a = md5_password_message(b"u", b"p", [0, 0, 0, 0]);
        let b = md5_password_message(b"u", b"p", [0, 0, 0, 1]);
        assert_ne!(a, b);
    }

    #[test]
    fn hex_is_lowercase_and_complete() {
        let digest: [u8; 16] = core::array::from_fn(|i| (i as u8) * 17);
        assert_eq!(&hex32(&digest), b"00112233445566778899aabbccddeeff");
    }
}
