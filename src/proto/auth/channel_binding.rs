//! `tls-server-end-point` channel binding (RFC 5929 section 4.1): the hash of
//! the server's end-entity certificate that SCRAM-SHA-256-PLUS binds to.
//!
//! Owns the choice of hash from the certificate's signature algorithm and the
//! minimal DER reading needed to find it. It must not verify certificates or
//! parse anything beyond the outer `Certificate` and its
//! `signatureAlgorithm` (that is the TLS layer's job), and it must not panic
//! or allocate on any input: malformed DER is an error.
//!
//! Hash selection (RFC 5929 section 4.1): the hash of the signature algorithm,
//! except that MD5 and SHA-1 are replaced by SHA-256. Known algorithms:
//!
//! | signatureAlgorithm | hash |
//! |---|---|
//! | md5/sha1/sha256WithRSAEncryption, ecdsa-with-SHA1/SHA256, dsa-with-sha1/sha256 | SHA-256 |
//! | sha224WithRSAEncryption, ecdsa-with-SHA224 | SHA-224 |
//! | sha384WithRSAEncryption, ecdsa-with-SHA384 | SHA-384 |
//! | sha512WithRSAEncryption, ecdsa-with-SHA512 | SHA-512 |
//! | RSASSA-PSS | the `hashAlgorithm` of its parameters (SHA-1 by default, hence SHA-256) |
//! | Ed25519, Ed448, anything else | [`AuthError::UnsupportedCertificateSignature`] |

use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::AuthError;

const TAG_SEQUENCE: u8 = 0x30;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;
/// `[0]` EXPLICIT, constructed: `hashAlgorithm` of RSASSA-PSS-params.
const TAG_PSS_HASH: u8 = 0xa0;

/// DER contents of the object identifiers this module knows.
mod oid {
    /// 1.2.840.113549.1.1.4
    pub(super) const MD5_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04];
    /// 1.2.840.113549.1.1.5
    pub(super) const SHA1_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
    /// 1.2.840.113549.1.1.10
    pub(super) const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    /// 1.2.840.113549.1.1.11
    pub(super) const SHA256_WITH_RSA: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    /// 1.2.840.113549.1.1.12
    pub(super) const SHA384_WITH_RSA: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
    /// 1.2.840.113549.1.1.13
    pub(super) const SHA512_WITH_RSA: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
    /// 1.2.840.113549.1.1.14
    pub(super) const SHA224_WITH_RSA: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0e];
    /// 1.2.840.10045.4.1
    pub(super) const ECDSA_WITH_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    /// 1.2.840.10045.4.3.1
    pub(super) const ECDSA_WITH_SHA224: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x01];
    /// 1.2.840.10045.4.3.2
    pub(super) const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    /// 1.2.840.10045.4.3.3
    pub(super) const ECDSA_WITH_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    /// 1.2.840.10045.4.3.4
    pub(super) const ECDSA_WITH_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
    /// 1.2.840.10040.4.3
    pub(super) const DSA_WITH_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03];
    /// 2.16.840.1.101.3.4.3.2
    pub(super) const DSA_WITH_SHA256: &[u8] =
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x02];
    /// 1.3.14.3.2.26
    pub(super) const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
    /// 2.16.840.1.101.3.4.2.1
    pub(super) const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    /// 2.16.840.1.101.3.4.2.2
    pub(super) const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
    /// 2.16.840.1.101.3.4.2.3
    pub(super) const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
    /// 2.16.840.1.101.3.4.2.4
    pub(super) const SHA224: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04];
}

/// The hash `tls-server-end-point` uses for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateHash {
    /// SHA-224.
    Sha224,
    /// SHA-256 (also used for certificates signed with MD5 or SHA-1).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl CertificateHash {
    /// The hash for a certificate (DER) whose signature algorithm is known.
    pub fn of_certificate(cert_der: &[u8]) -> Result<Self, AuthError> {
        let algorithm = SignatureAlgorithm::read(cert_der)?;
        Self::for_signature(algorithm.oid, algorithm.parameters)
    }

    fn for_signature(oid: &[u8], parameters: &[u8]) -> Result<Self, AuthError> {
        match oid {
            oid::MD5_WITH_RSA
            | oid::SHA1_WITH_RSA
            | oid::SHA256_WITH_RSA
            | oid::ECDSA_WITH_SHA1
            | oid::ECDSA_WITH_SHA256
            | oid::DSA_WITH_SHA1
            | oid::DSA_WITH_SHA256 => Ok(Self::Sha256),
            oid::SHA224_WITH_RSA | oid::ECDSA_WITH_SHA224 => Ok(Self::Sha224),
            oid::SHA384_WITH_RSA | oid::ECDSA_WITH_SHA384 => Ok(Self::Sha384),
            oid::SHA512_WITH_RSA | oid::ECDSA_WITH_SHA512 => Ok(Self::Sha512),
            oid::RSASSA_PSS => Self::for_pss(parameters),
            _ => Err(AuthError::UnsupportedCertificateSignature),
        }
    }

    /// RSASSA-PSS-params (RFC 4055): `SEQUENCE { hashAlgorithm [0] EXPLICIT
    /// AlgorithmIdentifier DEFAULT sha1, ... }`.
    fn for_pss(parameters: &[u8]) -> Result<Self, AuthError> {
        let mut reader = Der::new(parameters);
        let params = reader.read(TAG_SEQUENCE, "RSASSA-PSS parameters are not a SEQUENCE")?;
        reader.finish("trailing bytes after the RSASSA-PSS parameters")?;
        let mut params = Der::new(params);
        if params.peek_tag() != Some(TAG_PSS_HASH) {
            // hashAlgorithm absent: SHA-1, replaced by SHA-256.
            return Ok(Self::Sha256);
        }
        let explicit = params.read(TAG_PSS_HASH, "RSASSA-PSS hashAlgorithm")?;
        let mut explicit = Der::new(explicit);
        let identifier =
            explicit.read(TAG_SEQUENCE, "RSASSA-PSS hashAlgorithm is not a SEQUENCE")?;
        explicit.finish("trailing bytes in the RSASSA-PSS hashAlgorithm")?;
        let hash =
            Der::new(identifier).read(TAG_OID, "RSASSA-PSS hash identifier is not an OID")?;
        match hash {
            oid::SHA1 | oid::SHA256 => Ok(Self::Sha256),
            oid::SHA224 => Ok(Self::Sha224),
            oid::SHA384 => Ok(Self::Sha384),
            oid::SHA512 => Ok(Self::Sha512),
            _ => Err(AuthError::UnsupportedCertificateSignature),
        }
    }

    /// The digest of `data` with this hash.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha224 => Sha224::digest(data).to_vec(),
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// The channel-binding data for `tls-server-end-point`: the hash of the
/// server's end-entity certificate (DER), with the hash chosen from its
/// signature algorithm (see the module docs).
///
/// Returns [`AuthError::UnsupportedCertificateSignature`] for algorithms with
/// no usable hash (Ed25519, Ed448, unknown ones) and
/// [`AuthError::MalformedCertificate`] for input that is not a DER
/// `Certificate`.
pub fn tls_server_end_point(cert_der: &[u8]) -> Result<Vec<u8>, AuthError> {
    Ok(CertificateHash::of_certificate(cert_der)?.digest(cert_der))
}

/// The `signatureAlgorithm` of a certificate, borrowed from it.
#[derive(Debug)]
struct SignatureAlgorithm<'a> {
    oid: &'a [u8],
    parameters: &'a [u8],
}

impl<'a> SignatureAlgorithm<'a> {
    /// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm
    /// AlgorithmIdentifier, signatureValue BIT STRING }`, and nothing after.
    fn read(cert_der: &'a [u8]) -> Result<Self, AuthError> {
        let mut outer = Der::new(cert_der);
        let certificate = outer.read(TAG_SEQUENCE, "not a SEQUENCE")?;
        outer.finish("trailing bytes after the certificate")?;
        let mut fields = Der::new(certificate);
        fields.read(TAG_SEQUENCE, "tbsCertificate is not a SEQUENCE")?;
        let identifier = fields.read(TAG_SEQUENCE, "signatureAlgorithm is not a SEQUENCE")?;
        fields.read(TAG_BIT_STRING, "signatureValue is not a BIT STRING")?;
        fields.finish("trailing fields in the certificate")?;
        let mut identifier = Der::new(identifier);
        let oid = identifier.read(TAG_OID, "signature algorithm is not an OID")?;
        Ok(Self {
            oid,
            parameters: identifier.rest,
        })
    }
}

/// A reader of DER tag-length-value items that never reads past its input.
#[derive(Debug)]
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one item with the given tag and returns its contents.
    fn read(&mut self, tag: u8, wrong_tag: &'static str) -> Result<&'a [u8], AuthError> {
        let (&found, after_tag) = self
            .rest
            .split_first()
            .ok_or(AuthError::MalformedCertificate("truncated"))?;
        if found != tag {
            return Err(AuthError::MalformedCertificate(wrong_tag));
        }
        let (length, after_length) = read_length(after_tag)?;
        if length > after_length.len() {
            return Err(AuthError::MalformedCertificate(
                "length beyond the end of the input",
            ));
        }
        let (contents, rest) = after_length.split_at(length);
        self.rest = rest;
        Ok(contents)
    }

    fn finish(&self, trailing: &'static str) -> Result<(), AuthError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(AuthError::MalformedCertificate(trailing))
        }
    }
}

/// A DER length: short form, or long form of one to four bytes, minimal.
fn read_length(input: &[u8]) -> Result<(usize, &[u8]), AuthError> {
    let (&first, rest) = input
        .split_first()
        .ok_or(AuthError::MalformedCertificate("truncated"))?;
    if first < 0x80 {
        return Ok((usize::from(first), rest));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 {
        return Err(AuthError::MalformedCertificate(
            "indefinite length is not DER",
        ));
    }
    if count > 4 {
        return Err(AuthError::MalformedCertificate("length field too long"));
    }
    if rest.len() < count {
        return Err(AuthError::MalformedCertificate("truncated"));
    }
    let (bytes, rest) = rest.split_at(count);
    if bytes.first() == Some(&0) {
        return Err(AuthError::MalformedCertificate(
            "length is not minimally encoded",
        ));
    }
    let length = bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    if length < 0x80 {
        return Err(AuthError::MalformedCertificate(
            "length is not minimally encoded",
        ));
    }
    Ok((length, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, SignatureAlgorithm as RcgenAlgorithm};

    const TEST_RSA_KEY: &str = include_str!("fixtures/test_rsa2048_key.pem");

    fn rcgen_certificate(key: &KeyPair) -> Vec<u8> {
        let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.self_signed(key).unwrap().der().to_vec()
    }

    fn generated(algorithm: &'static RcgenAlgorithm) -> Vec<u8> {
        rcgen_certificate(&KeyPair::generate_for(algorithm).unwrap())
    }

    fn rsa(algorithm: &'static RcgenAlgorithm) -> Vec<u8> {
        rcgen_certificate(&KeyPair::from_pem_and_sign_algo(TEST_RSA_KEY, algorithm).unwrap())
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn ecdsa_certificates_from_rcgen() {
        let p256 = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert_eq!(
            CertificateHash::of_certificate(&p256),
            Ok(CertificateHash::Sha256)
        );
        assert_eq!(
            tls_server_end_point(&p256).unwrap(),
            Sha256::digest(&p256).to_vec()
        );

        let p384 = generated(&rcgen::PKCS_ECDSA_P384_SHA384);
        assert_eq!(
            CertificateHash::of_certificate(&p384),
            Ok(CertificateHash::Sha384)
        );
        assert_eq!(
            tls_server_end_point(&p384).unwrap(),
            Sha384::digest(&p384).to_vec()
        );
    }

    #[test]
    fn rsa_certificates_from_rcgen() {
        let sha256 = rsa(&rcgen::PKCS_RSA_SHA256);
        assert_eq!(
            tls_server_end_point(&sha256).unwrap(),
            Sha256::digest(&sha256).to_vec()
        );
        let sha384 = rsa(&rcgen::PKCS_RSA_SHA384);
        assert_eq!(
            tls_server_end_point(&sha384).unwrap(),
            Sha384::digest(&sha384).to_vec()
        );
        let sha512 = rsa(&rcgen::PKCS_RSA_SHA512);
        let hash = tls_server_end_point(&sha512).unwrap();
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, Sha512::digest(&sha512).to_vec());
    }

    #[test]
    fn ed25519_has_no_hash() {
        let ed25519 = generated(&rcgen::PKCS_ED25519);
        assert_eq!(
            tls_server_end_point(&ed25519),
            Err(AuthError::UnsupportedCertificateSignature)
        );
    }

    /// Certificates made with OpenSSL (see fixtures/README.md); the expected
    /// values were computed with `openssl dgst`.
    #[test]
    fn openssl_certificates() {
        let cases: [(&[u8], CertificateHash, &str); 4] = [
            (
                include_bytes!("fixtures/ecdsa_p521_sha512.der"),
                CertificateHash::Sha512,
                "4027f7c9ba3b085c91013b81a07c96b53b30ef1929d58504a884add628cb31868afdd6f3daf18e6407bae8ce14bd9189af183553b0562ed08b5bb366f8016761",
            ),
            (
                include_bytes!("fixtures/rsa_pss_sha256.der"),
                CertificateHash::Sha256,
                "f641f6a0bb53eae3d659cd1aec425a74ea3c6b56d417e1cf70c5a7dbd6e742a4",
            ),
            (
                include_bytes!("fixtures/rsa_pss_sha384.der"),
                CertificateHash::Sha384,
                "654660ab4273dbf5cd52a69d17ef7a3ec6c8fe3a1ff3ea691d303b047af67bb4ac75b26421921fe07ac1f4ebbeed1b95",
            ),
            (
                include_bytes!("fixtures/rsa_sha1.der"),
                CertificateHash::Sha256,
                "adf06696c1afbcdff1127b198a63589ed09c5aec42304aac79980f485df2596d",
            ),
        ];
        for (der, hash, expected) in cases {
            assert_eq!(CertificateHash::of_certificate(der), Ok(hash), "{expected}");
            assert_eq!(hex(&tls_server_end_point(der).unwrap()), expected);
        }
    }

    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = contents.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend_from_slice(&[0x81, len as u8]);
        } else {
            out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(contents);
        out
    }

    /// A certificate skeleton with the given signature algorithm contents.
    fn certificate_with(algorithm: &[u8]) -> Vec<u8> {
        let tbs = tlv(TAG_SEQUENCE, &tlv(0x02, &[0x01]));
        let algorithm = tlv(TAG_SEQUENCE, algorithm);
        let signature = tlv(TAG_BIT_STRING, &[0x00, 0xde, 0xad]);
        tlv(TAG_SEQUENCE, &[tbs, algorithm, signature].concat())
    }

    fn algorithm(oid: &[u8], parameters: &[u8]) -> Vec<u8> {
        [tlv(TAG_OID, oid), parameters.to_vec()].concat()
    }

    fn pss_with_hash(hash_oid: &[u8]) -> Vec<u8> {
        let identifier = tlv(
            TAG_SEQUENCE,
            &[tlv(TAG_OID, hash_oid), vec![0x05, 0x00]].concat(),
        );
        tlv(TAG_SEQUENCE, &tlv(TAG_PSS_HASH, &identifier))
    }

    /// Signature algorithm OID, its parameters, the expected hash.
    type SelectionCase = (&'static [u8], Vec<u8>, Result<CertificateHash, AuthError>);
    type EndPointResult = Result<Vec<u8>, AuthError>;

    #[test]
    fn hash_selection_by_algorithm() {
        let null = [0x05, 0x00];
        let cases: [SelectionCase; 16] = [
            (
                oid::MD5_WITH_RSA,
                null.to_vec(),
                Ok(CertificateHash::Sha256),
            ),
            (
                oid::SHA1_WITH_RSA,
                null.to_vec(),
                Ok(CertificateHash::Sha256),
            ),
            (
                oid::SHA224_WITH_RSA,
                null.to_vec(),
                Ok(CertificateHash::Sha224),
            ),
            (
                oid::SHA256_WITH_RSA,
                null.to_vec(),
                Ok(CertificateHash::Sha256),
            ),
            (
                oid::SHA384_WITH_RSA,
                null.to_vec(),
                Ok(CertificateHash::Sha384),
            ),
            (
                oid::SHA512_WITH_RSA,
                null.to_vec(),
                Ok(CertificateHash::Sha512),
            ),
            (oid::ECDSA_WITH_SHA1, vec![], Ok(CertificateHash::Sha256)),
            (oid::ECDSA_WITH_SHA224, vec![], Ok(CertificateHash::Sha224)),
            (oid::ECDSA_WITH_SHA512, vec![], Ok(CertificateHash::Sha512)),
            (oid::DSA_WITH_SHA1, vec![], Ok(CertificateHash::Sha256)),
            (
                oid::RSASSA_PSS,
                tlv(TAG_SEQUENCE, &[]),
                Ok(CertificateHash::Sha256),
            ),
            (
                oid::RSASSA_PSS,
                pss_with_hash(oid::SHA1),
                Ok(CertificateHash::Sha256),
            ),
            (
                oid::RSASSA_PSS,
                pss_with_hash(oid::SHA512),
                Ok(CertificateHash::Sha512),
            ),
            (
                oid::RSASSA_PSS,
                pss_with_hash(&[0x2a, 0x03]),
                Err(AuthError::UnsupportedCertificateSignature),
            ),
            // Ed448 (1.3.101.113) and an arbitrary unknown OID.
            (
                &[0x2b, 0x65, 0x71],
                vec![],
                Err(AuthError::UnsupportedCertificateSignature),
            ),
            (
                &[0x2a, 0x03, 0x04],
                null.to_vec(),
                Err(AuthError::UnsupportedCertificateSignature),
            ),
        ];
        for (oid, parameters, expected) in cases {
            let der = certificate_with(&algorithm(oid, &parameters));
            assert_eq!(
                CertificateHash::of_certificate(&der),
                expected,
                "{oid:02x?}"
            );
        }
        let md5_signed = certificate_with(&algorithm(oid::MD5_WITH_RSA, &null));
        assert_eq!(
            tls_server_end_point(&md5_signed).unwrap(),
            Sha256::digest(&md5_signed).to_vec()
        );
        let sha224 = certificate_with(&algorithm(oid::ECDSA_WITH_SHA224, &[]));
        assert_eq!(tls_server_end_point(&sha224).unwrap().len(), 28);
    }

    #[test]
    fn malformed_pss_parameters() {
        let cases: [(Vec<u8>, &str); 3] = [
            (vec![], "truncated"),
            (vec![0x05, 0x00], "RSASSA-PSS parameters are not a SEQUENCE"),
            (
                tlv(TAG_SEQUENCE, &tlv(TAG_PSS_HASH, &[0x06, 0x01, 0x2a])),
                "RSASSA-PSS hashAlgorithm is not a SEQUENCE",
            ),
        ];
        for (parameters, what) in cases {
            let der = certificate_with(&algorithm(oid::RSASSA_PSS, &parameters));
            assert_eq!(
                tls_server_end_point(&der),
                Err(AuthError::MalformedCertificate(what))
            );
        }
    }

    #[test]
    fn malformed_der_is_an_error() {
        let good = certificate_with(&algorithm(oid::SHA256_WITH_RSA, &[0x05, 0x00]));
        let malformed = |what| Err(AuthError::MalformedCertificate(what));
        let cases: Vec<(Vec<u8>, EndPointResult)> = vec![
            (vec![], malformed("truncated")),
            (b"garbage".to_vec(), malformed("not a SEQUENCE")),
            (vec![0x30], malformed("truncated")),
            (
                vec![0x30, 0x80, 0x00, 0x00],
                malformed("indefinite length is not DER"),
            ),
            (
                vec![0x30, 0x85, 1, 0, 0, 0, 0],
                malformed("length field too long"),
            ),
            (
                vec![0x30, 0x81, 0x05, 0, 0, 0, 0, 0],
                malformed("length is not minimally encoded"),
            ),
            (
                vec![0x30, 0x82, 0x00, 0x90],
                malformed("length is not minimally encoded"),
            ),
            (
                vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
                malformed("length beyond the end of the input"),
            ),
            (vec![0x30, 0x00], malformed("truncated")),
            (
                [good.clone(), vec![0x00]].concat(),
                malformed("trailing bytes after the certificate"),
            ),
            (
                tlv(TAG_SEQUENCE, &tlv(0x02, &[1])),
                malformed("tbsCertificate is not a SEQUENCE"),
            ),
            (
                tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &[])),
                malformed("truncated"),
            ),
            (
                tlv(
                    TAG_SEQUENCE,
                    &[tlv(TAG_SEQUENCE, &[]), tlv(TAG_OID, &[0x2a])].concat(),
                ),
                malformed("signatureAlgorithm is not a SEQUENCE"),
            ),
            (
                tlv(
                    TAG_SEQUENCE,
                    &[
                        tlv(TAG_SEQUENCE, &[]),
                        tlv(TAG_SEQUENCE, &tlv(TAG_OID, oid::SHA256_WITH_RSA)),
                    ]
                    .concat(),
                ),
                malformed("truncated"),
            ),
            (
                tlv(
                    TAG_SEQUENCE,
                    &[
                        tlv(TAG_SEQUENCE, &[]),
                        tlv(TAG_SEQUENCE, &tlv(TAG_OID, oid::SHA256_WITH_RSA)),
                        tlv(0x04, &[0]),
                    ]
                    .concat(),
                ),
                malformed("signatureValue is not a BIT STRING"),
            ),
            (
                tlv(
                    TAG_SEQUENCE,
                    &[
                        tlv(TAG_SEQUENCE, &[]),
                        tlv(TAG_SEQUENCE, &tlv(0x05, &[])),
                        tlv(TAG_BIT_STRING, &[0]),
                    ]
                    .concat(),
                ),
                malformed("signature algorithm is not an OID"),
            ),
            (
                tlv(
                    TAG_SEQUENCE,
                    &[
                        tlv(TAG_SEQUENCE, &[]),
                        tlv(TAG_SEQUENCE, &tlv(TAG_OID, oid::SHA256_WITH_RSA)),
                        tlv(TAG_BIT_STRING, &[0]),
                        tlv(TAG_BIT_STRING, &[0]),
                    ]
                    .concat(),
                ),
                malformed("trailing fields in the certificate"),
            ),
        ];
        for (der, expected) in cases {
            assert_eq!(tls_server_end_point(&der), expected, "{der:02x?}");
        }
    }

    #[test]
    fn every_truncation_of_a_real_certificate_is_rejected() {
        let der = generated(&rcgen::PKCS_ECDSA_P256_SHA256);
        for end in 0..der.len() {
            assert!(
                matches!(
                    tls_server_end_point(&der[..end]),
                    Err(AuthError::MalformedCertificate(_))
                ),
                "prefix of {end} bytes"
            );
        }
        // Flipping any single byte never panics; it either still parses
        // (contents changed) or is an error.
        for index in 0..der.len() {
            let mut flipped = der.clone();
            flipped[index] ^= 0xff;
            let _ = tls_server_end_point(&flipped);
        }
        assert!(tls_server_end_point(&der).is_ok());
    }
}
