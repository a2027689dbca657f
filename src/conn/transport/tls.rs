//! TLS by rustls (ring provider): the client configuration each `sslmode`
//! calls for, and the handshake.
//!
//! Owns certificate verification policy (libpq's rules: `require` checks
//! nothing unless a root certificate is configured, `verify-ca` checks the
//! chain but not the name, `verify-full` checks both), client certificates,
//! ALPN and SNI. It knows nothing of the protocol beyond the ALPN name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::{SslMode, SslRootCert};
use crate::error::{Error, ErrorKind};

/// The ALPN protocol name PostgreSQL 17+ expects for direct TLS.
pub(crate) const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// How the server certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verification {
    /// Encrypt only (`require` without a root certificate).
    None,
    /// Check the chain against the roots, not the host name (`verify-ca`).
    Chain,
    /// Check the chain and the host name (`verify-full`).
    Full,
}

/// What the TLS layer needs from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct TlsOptions {
    pub(crate) mode: SslMode,
    pub(crate) root_cert: Option<SslRootCert>,
    pub(crate) client_cert: Option<PathBuf>,
    pub(crate) client_key: Option<PathBuf>,
    pub(crate) sni: bool,
}

fn tls_error(
    context: impl Into<String>,
    source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::with_source(ErrorKind::Tls, Some(context.into()), source)
}

fn home_file(name: &str) -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql").join(name))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls client configuration for `options`, once per connect
/// attempt series (it reads certificate files).
pub(crate) fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, Error> {
    let explicit_root = options.root_cert.clone();
    let default_root = home_file("root.crt")
        .filter(|p| p.exists())
        .map(SslRootCert::File);
    let root = explicit_root.clone().or(default_root);
    if matches!(explicit_root, Some(SslRootCert::System)) && options.mode != SslMode::VerifyFull {
        return Err(Error::msg(
            ErrorKind::Config,
            format!(
                "weak sslmode \"{}\" may not be used with sslrootcert=system (use verify-full)",
                mode_name(options.mode)
            ),
        ));
    }
    let verification = match options.mode {
        SslMode::VerifyFull => Verification::Full,
        SslMode::VerifyCa => Verification::Chain,
        // libpq: with a root certificate present, require behaves as verify-ca.
        _ if root.is_some() => Verification::Chain,
        _ => Verification::None,
    };
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("configuring TLS", e))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verification {
        Verification::None => Arc::new(AcceptAnyCertificate(provider)),
        Verification::Chain | Verification::Full => {
            let roots = load_roots(root.as_ref(), options.mode)?;
            let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| tls_error("building the certificate verifier", e))?;
            if verification == Verification::Full {
                inner
            } else {
                Arc::new(IgnoreHostName(inner))
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let cert_path = options
        .client_cert
        .clone()
        .or_else(|| home_file("postgresql.crt").filter(|p| p.exists()));
    let mut config = match cert_path {
        Some(cert_path) => {
            let key_path = options
                .client_key
                .clone()
                .or_else(|| home_file("postgresql.key"))
                .ok_or_else(|| Error::msg(ErrorKind::Config, "sslcert is set but sslkey is not"))?;
            let chain = read_certs(&cert_path, "sslcert")?;
            let key = PrivateKeyDer::from_pem_file(&key_path)
                .map_err(|e| tls_error(format!("reading sslkey \"{}\"", key_path.display()), e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls_error("using the client certificate", e))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
    config.enable_sni = options.sni;
    Ok(Arc::new(config))
}

fn mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Allow => "allow",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
        #[allow(unreachable_patterns)]
        _ => "unknown",
    }
}

fn read_certs(path: &Path, option: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| tls_error(format!("reading {option} \"{}\"", path.display()), e))?;
    if certs.is_empty() {
        return Err(Error::msg(
            ErrorKind::Tls,
            format!("{option} \"{}\" holds no certificate", path.display()),
        ));
    }
    Ok(certs)
}

fn load_roots(root: Option<&SslRootCert>, mode: SslMode) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    match root {
        Some(SslRootCert::File(path)) => {
            for cert in read_certs(path, "sslrootcert")? {
                store.add(cert).map_err(|e| {
                    tls_error(format!("using sslrootcert \"{}\"", path.display()), e)
                })?;
            }
        }
        Some(SslRootCert::System) => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // Unusable platform certificates are skipped, as browsers do.
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err(Error::msg(
                    ErrorKind::Tls,
                    "no system root certificates were found",
                ));
            }
        }
        None => {
            return Err(Error::msg(
                ErrorKind::Config,
                format!(
                    "sslmode={} needs a root certificate: set sslrootcert (a file, or \"system\"), \
                     or put one in ~/.postgresql/root.crt",
                    mode_name(mode)
                ),
            ));
        }
    }
    Ok(store)
}

/// The name rustls checks (and sends as SNI) for `host`.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| tls_error(format!("\"{host}\" is not a valid TLS server name"), e))
}

/// Runs the TLS handshake over `stream`.
pub(crate) async fn handshake(
    config: Arc<ClientConfig>,
    host: &str,
    stream: TcpStream,
) -> Result<TlsStream<TcpStream>, Error> {
    let name = server_name(host)?;
    TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| tls_error(format!("TLS handshake with {host} failed"), e))
}

/// The server's end-entity certificate, for channel binding.
pub(crate) fn peer_certificate(stream: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| cert.as_ref().to_vec())
}

/// `sslmode=require`: encryption without authentication of the server.
/// Handshake signatures are still checked, so the session key is bound to
/// the certificate presented (which channel binding relies on).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the host name
/// is not checked.
#[derive(Debug)]
struct IgnoreHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
