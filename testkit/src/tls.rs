//! Certificates for a test server, generated at run time.
//!
//! Owns: [`TlsFiles`]: a CA, a server certificate signed by it (SAN `localhost`,
//! `127.0.0.1`, `::1`), one client certificate per user (CN = user name), and a second,
//! unrelated CA for "untrusted root" tests, all written as PEM files. Must not: touch
//! server configuration (the caller points `postgresql.conf` at these files).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use crate::Error;
use crate::server_user::ServerUser;

/// PEM files of a server's TLS setup. Every path is absolute and exists while the
/// [`crate::Server`] lives.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    ca_cert: PathBuf,
    ca_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    untrusted_ca: PathBuf,
    clients: Vec<ClientFiles>,
}

/// One user's client certificate and key.
#[derive(Debug, Clone)]
struct ClientFiles {
    user: String,
    cert: PathBuf,
    key: PathBuf,
}

impl TlsFiles {
    /// The CA certificate that signed the server and client certificates (use as
    /// `sslrootcert` for `verify-ca` / `verify-full`).
    pub fn ca_cert(&self) -> &Path {
        &self.ca_cert
    }

    /// The CA's private key (PKCS#8 PEM), to sign further certificates in a test.
    pub fn ca_key(&self) -> &Path {
        &self.ca_key
    }

    /// The server certificate (SAN: `localhost`, `127.0.0.1`, `::1`).
    pub fn server_cert(&self) -> &Path {
        &self.server_cert
    }

    /// The server's private key (owned by the server's account, mode 0600).
    pub fn server_key(&self) -> &Path {
        &self.server_key
    }

    /// A CA certificate that signed nothing this server uses: verification against it
    /// must fail.
    pub fn untrusted_ca(&self) -> &Path {
        &self.untrusted_ca
    }

    /// The client certificate of `user` (CN = `user`), if the builder created that user
    /// (the superuser always has one).
    pub fn client_cert(&self, user: &str) -> Option<&Path> {
        self.client(user).map(|c| c.cert.as_path())
    }

    /// The private key of `user`'s client certificate (mode 0600, owned by the user
    /// running the tests, as libpq requires).
    pub fn client_key(&self, user: &str) -> Option<&Path> {
        self.client(user).map(|c| c.key.as_path())
    }

    fn client(&self, user: &str) -> Option<&ClientFiles> {
        self.clients.iter().find(|c| c.user == user)
    }
}

/// A CA: its self-signed certificate (PEM) and an issuer to sign with.
struct CertAuthority {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(common_name: &str) -> Result<CertAuthority, Error> {
    let what = format!("CA certificate {common_name:?}");
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().map_err(|e| Error::tls(&what, e))?;
    let cert = params.self_signed(&key).map_err(|e| Error::tls(&what, e))?;
    Ok(CertAuthority {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        issuer: Issuer::new(params, key),
    })
}

/// A leaf certificate signed by `ca`: `(cert_pem, key_pem)`.
fn new_leaf(
    ca: &CertAuthority,
    common_name: &str,
    sans: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, String), Error> {
    let what = format!("certificate for {common_name:?}");
    let mut params = CertificateParams::new(sans).map_err(|e| Error::tls(&what, e))?;
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().map_err(|e| Error::tls(&what, e))?;
    let cert = params
        .signed_by(&key, &ca.issuer)
        .map_err(|e| Error::tls(&what, e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Writes `contents` to `path` with `mode`.
fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), Error> {
    fs::write(path, contents).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io(format!("chmod {}", path.display()), e))
}

/// Generates every file into `dir` (created). The server key is handed to `owner`;
/// client keys stay with the current user.
pub(crate) fn generate(dir: &Path, users: &[&str], owner: &ServerUser) -> Result<TlsFiles, Error> {
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    owner.own(dir)?;

    let ca = new_ca("pgline-testkit CA")?;
    let untrusted = new_ca("pgline-testkit untrusted CA")?;
    let (server_pem, server_key_pem) = new_leaf(
        &ca,
        "localhost",
        vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;

    let files = |stem: &str| {
        (
            dir.join(format!("{stem}.crt")),
            dir.join(format!("{stem}.key")),
        )
    };
    let (ca_cert, ca_key) = files("ca");
    let (server_cert, server_key) = files("server");
    let untrusted_ca = dir.join("untrusted-ca.crt");
    write_file(&ca_cert, &ca.cert_pem, 0o644)?;
    write_file(&ca_key, &ca.key_pem, 0o600)?;
    write_file(&server_cert, &server_pem, 0o644)?;
    write_file(&server_key, &server_key_pem, 0o600)?;
    write_file(&untrusted_ca, &untrusted.cert_pem, 0o644)?;
    for server_file in [&ca_cert, &server_cert, &server_key] {
        owner.own(server_file)?;
    }

    let mut clients = Vec::with_capacity(users.len());
    for (index, user) in users.iter().enumerate() {
        if clients.iter().any(|c: &ClientFiles| c.user == *user) {
            continue;
        }
        let (cert_pem, key_pem) =
            new_leaf(&ca, user, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)?;
        let (cert, key) = files(&format!("client-{index}"));
        write_file(&cert, &cert_pem, 0o644)?;
        write_file(&key, &key_pem, 0o600)?;
        clients.push(ClientFiles {
            user: (*user).to_owned(),
            cert,
            key,
        });
    }

    Ok(TlsFiles {
        ca_cert,
        ca_key,
        server_cert,
        server_key,
        untrusted_ca,
        clients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_every_file_with_safe_modes() {
        let dir = tempfile::tempdir().unwrap();
        let tls_dir = dir.path().join("tls");
        let owner = ServerUser::get().unwrap();
        let files = generate(&tls_dir, &["postgres", "alice", "alice"], owner).unwrap();

        for path in [files.ca_cert(), files.server_cert(), files.untrusted_ca()] {
            let text = fs::read_to_string(path).unwrap();
            assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{path:?}");
        }
        let key = fs::read_to_string(files.server_key()).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(
            fs::metadata(files.server_key()).unwrap().mode() & 0o777,
            0o600
        );

        let alice_key = files.client_key("alice").unwrap();
        assert_eq!(fs::metadata(alice_key).unwrap().mode() & 0o777, 0o600);
        assert!(files.client_cert("postgres").is_some());
        assert!(files.client_cert("bob").is_none());
        assert_ne!(files.client_cert("alice"), files.client_cert("postgres"));
        assert_ne!(
            fs::read(files.ca_cert()).unwrap(),
            fs::read(files.untrusted_ca()).unwrap()
        );
    }
}
