//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677), client side.
//!
//! Owns the client's messages, the parsing and checking of the server's, and
//! the key derivation. It must not do I/O or frame protocol messages: the
//! startup exchange passes in the payloads of `AuthenticationSASLContinue` and
//! `AuthenticationSASLFinal` and sends out the bytes returned here inside
//! `SASLInitialResponse` and `SASLResponse`. Randomness is used only by
//! [`ScramSha256::new`] to draw the client nonce.
//!
//! # State diagram
//!
//! ```text
//!   ScramSha256::new / try_new / with_nonce
//!        │  mechanism(), client_first_message()  ──► SASLInitialResponse
//!        ▼
//!   ScramSha256 ── handle_server_first(AuthenticationSASLContinue data) ──► Err(AuthError)
//!        │ Ok
//!        ▼
//!   ScramClientFinal
//!        │  message()  ──► SASLResponse
//!        ▼
//!   ScramClientFinal ── handle_server_final(AuthenticationSASLFinal data) ──► Err(AuthError)
//!        │ Ok(())
//!        ▼
//!   authenticated by the server's signature (the server then sends AuthenticationOk)
//! ```
//!
//! Each transition consumes its state, so a message cannot be handled twice or
//! out of order.
//!
//! # Checks on the server's messages
//!
//! - the server nonce must start with the client nonce and be longer;
//! - the salt must be non-empty valid base64;
//! - the iteration count must be at least 1 and at most a cap,
//!   [`DEFAULT_MAX_ITERATIONS`] (100 000, the default of pgjdbc's
//!   `scramMaxIterations`; PostgreSQL's own default is 4096) unless raised with
//!   [`ScramSha256::with_max_iterations`]. The cap is checked before any key
//!   derivation, so a hostile server cannot make the client spend minutes of CPU;
//! - a mandatory extension (`m=`) is refused; optional extensions after the
//!   known attributes are ignored, as RFC 5802 allows;
//! - the server signature is compared in constant time; an `e=` attribute is
//!   returned as [`AuthError::ServerError`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{AuthError, saslprep};

/// Mechanism name of SCRAM-SHA-256 without channel binding.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// Mechanism name of SCRAM-SHA-256 with channel binding.
pub const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";
/// The highest iteration count accepted unless configured otherwise.
pub const DEFAULT_MAX_ITERATIONS: u32 = 100_000;

/// Random bytes in a client nonce (base64-encoded to 24 characters).
const NONCE_BYTES: usize = 18;

type HmacSha256 = Hmac<Sha256>;

/// The channel-binding choice, which fixes the GS2 header of the exchange.
#[derive(Clone, PartialEq, Eq)]
pub enum ChannelBinding {
    /// The client does not support channel binding: GS2 header `n,,`.
    Unsupported,
    /// The client supports channel binding but thinks the server does not
    /// (TLS in use, yet no `-PLUS` mechanism offered): GS2 header `y,,`.
    ClientOnly,
    /// SCRAM-SHA-256-PLUS with `tls-server-end-point`: GS2 header
    /// `p=tls-server-end-point,,`; the data is the certificate hash from
    /// [`super::channel_binding::tls_server_end_point`].
    TlsServerEndPoint(Vec<u8>),
}

impl ChannelBinding {
    fn gs2_header(&self) -> &'static [u8] {
        match self {
            Self::Unsupported => b"n,,",
            Self::ClientOnly => b"y,,",
            Self::TlsServerEndPoint(_) => b"p=tls-server-end-point,,",
        }
    }

    fn data(&self) -> &[u8] {
        match self {
            Self::TlsServerEndPoint(hash) => hash,
            Self::Unsupported | Self::ClientOnly => &[],
        }
    }
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported => f.write_str("Unsupported"),
            Self::ClientOnly => f.write_str("ClientOnly"),
            Self::TlsServerEndPoint(hash) => {
                write!(f, "TlsServerEndPoint({} bytes)", hash.len())
            }
        }
    }
}

/// The first state of a SCRAM-SHA-256 exchange: the client-first-message is
/// ready, the server-first-message is awaited.
///
/// Getters: [`mechanism`](Self::mechanism),
/// [`client_first_message`](Self::client_first_message). Input:
/// [`handle_server_first`](Self::handle_server_first), which consumes the
/// state and yields a [`ScramClientFinal`].
pub struct ScramSha256 {
    /// The password after SASLprep.
    password: Vec<u8>,
    channel_binding: ChannelBinding,
    nonce: String,
    /// GS2 header followed by client-first-message-bare.
    client_first: Vec<u8>,
    /// Where client-first-message-bare starts in `client_first`.
    bare_start: usize,
    max_iterations: u32,
}

impl ScramSha256 {
    /// Starts an exchange with a fresh random nonce from the operating system.
    ///
    /// # Panics
    ///
    /// Only if the operating system's random source fails; use
    /// [`try_new`](Self::try_new) to get that as an error instead.
    pub fn new(password: &[u8], channel_binding: ChannelBinding) -> Self {
        match Self::try_new(password, channel_binding) {
            Ok(state) => state,
            Err(error) => panic!("cannot draw a SCRAM nonce: {error}"),
        }
    }

    /// Starts an exchange with a fresh random nonce (18 random bytes, base64),
    /// or fails with [`AuthError::RandomSourceFailed`].
    pub fn try_new(password: &[u8], channel_binding: ChannelBinding) -> Result<Self, AuthError> {
        let mut random = [0u8; NONCE_BYTES];
        getrandom::fill(&mut random).map_err(|_| AuthError::RandomSourceFailed)?;
        let nonce = BASE64.encode(random);
        Ok(Self::with_nonce(password, channel_binding, &nonce))
    }

    /// Starts an exchange with the given client nonce, for tests and replays.
    ///
    /// The nonce must be printable ASCII without `,` (RFC 5802); a base64
    /// string is.
    pub fn with_nonce(password: &[u8], channel_binding: ChannelBinding, nonce: &str) -> Self {
        // PostgreSQL takes the user name from the startup message and ignores
        // the one in the SCRAM exchange, so it is sent empty.
        Self::with_user_and_nonce(password, channel_binding, "", nonce)
    }

    /// Starts an exchange naming `user` in the client-first-message, as the
    /// generic SASL examples do (`=` and `,` are escaped as RFC 5802 says).
    fn with_user_and_nonce(
        password: &[u8],
        channel_binding: ChannelBinding,
        user: &str,
        nonce: &str,
    ) -> Self {
        let header = channel_binding.gs2_header();
        let mut client_first = Vec::with_capacity(header.len() + user.len() + nonce.len() + 5);
        client_first.extend_from_slice(header);
        let bare_start = client_first.len();
        client_first.extend_from_slice(b"n=");
        for byte in user.bytes() {
            match byte {
                b'=' => client_first.extend_from_slice(b"=3D"),
                b',' => client_first.extend_from_slice(b"=2C"),
                other => client_first.push(other),
            }
        }
        client_first.extend_from_slice(b",r=");
        client_first.extend_from_slice(nonce.as_bytes());
        Self {
            password: saslprep(password).into_owned(),
            channel_binding,
            nonce: nonce.to_owned(),
            client_first,
            bare_start,
            max_iterations: DEFAULT_MAX_ITERATIONS,
        }
    }

    /// Sets the highest iteration count the server may ask for (default
    /// [`DEFAULT_MAX_ITERATIONS`]). A count above it is refused with
    /// [`AuthError::IterationCountTooHigh`] before any key derivation.
    #[must_use]
    pub fn with_max_iterations(mut self, max: u32) -> Self {
        self.max_iterations = max;
        self
    }

    /// The SASL mechanism name to put in `SASLInitialResponse`:
    /// `"SCRAM-SHA-256-PLUS"` with channel binding, else `"SCRAM-SHA-256"`.
    pub fn mechanism(&self) -> &'static str {
        match self.channel_binding {
            ChannelBinding::TlsServerEndPoint(_) => SCRAM_SHA_256_PLUS,
            ChannelBinding::Unsupported | ChannelBinding::ClientOnly => SCRAM_SHA_256,
        }
    }

    /// The client-first-message: GS2 header followed by `n=,r=<nonce>`.
    pub fn client_first_message(&self) -> &[u8] {
        &self.client_first
    }

    /// Handles the server-first-message (the data of
    /// `AuthenticationSASLContinue`): checks it, derives the keys and builds
    /// the client-final-message with the proof.
    pub fn handle_server_first(self, message: &[u8]) -> Result<ScramClientFinal, AuthError> {
        let server_first = ServerFirst::parse(message)?;
        // RFC 5802 section 5.1: the server appends its part to the client's
        // nonce; a nonce that does not extend ours is not from this exchange.
        let extends_ours = server_first.nonce.len() > self.nonce.len()
            && server_first.nonce.starts_with(self.nonce.as_bytes());
        if !extends_ours {
            return Err(AuthError::NonceMismatch);
        }
        if server_first.iterations == 0 {
            return Err(AuthError::InvalidIterationCount(0));
        }
        if server_first.iterations > self.max_iterations {
            return Err(AuthError::IterationCountTooHigh {
                count: server_first.iterations,
                max: self.max_iterations,
            });
        }

        let keys = Keys::derive(&self.password, &server_first.salt, server_first.iterations);

        let mut cbind_input = self.channel_binding.gs2_header().to_vec();
        cbind_input.extend_from_slice(self.channel_binding.data());
        let mut message_out =
            Vec::with_capacity(64 + server_first.nonce.len() + cbind_input.len() * 2);
        message_out.extend_from_slice(b"c=");
        message_out.extend_from_slice(BASE64.encode(&cbind_input).as_bytes());
        message_out.extend_from_slice(b",r=");
        message_out.extend_from_slice(server_first.nonce);

        let bare = self.client_first.get(self.bare_start..).unwrap_or_default();
        let auth_message = [bare, b",", message, b",", &message_out].concat();

        let proof = keys.client_proof(&auth_message);
        message_out.extend_from_slice(b",p=");
        message_out.extend_from_slice(BASE64.encode(proof).as_bytes());

        let mut server_signature = keyed_hmac(&keys.server_key);
        server_signature.update(&auth_message);
        Ok(ScramClientFinal {
            message: message_out,
            server_signature,
        })
    }
}

impl fmt::Debug for ScramSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramSha256")
            .field("mechanism", &self.mechanism())
            .field("channel_binding", &self.channel_binding)
            .field("nonce", &self.nonce)
            .field("max_iterations", &self.max_iterations)
            .finish_non_exhaustive()
    }
}

/// The second state of a SCRAM-SHA-256 exchange: the client-final-message is
/// ready, the server-final-message is awaited.
///
/// Getter: [`message`](Self::message). Input:
/// [`handle_server_final`](Self::handle_server_final), which consumes the
/// state and ends the exchange.
pub struct ScramClientFinal {
    message: Vec<u8>,
    /// HMAC(ServerKey, AuthMessage), not yet finalised, so that the check
    /// runs through the MAC's constant-time comparison.
    server_signature: HmacSha256,
}

impl ScramClientFinal {
    /// The client-final-message: `c=<cbind>,r=<nonce>,p=<proof>`.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// Handles the server-final-message (the data of
    /// `AuthenticationSASLFinal`): accepts only a `v=` signature equal to the
    /// one the password gives. An `e=` attribute becomes
    /// [`AuthError::ServerError`].
    pub fn handle_server_final(self, message: &[u8]) -> Result<(), AuthError> {
        let mut attributes = message.split(|&b| b == b',');
        let first = attributes.next().unwrap_or_default();
        for extension in attributes {
            if !is_attribute(extension) {
                return Err(AuthError::InvalidServerFinal(
                    "malformed extension attribute",
                ));
            }
        }
        if let Some(error) = first.strip_prefix(b"e=") {
            return Err(AuthError::ServerError(
                String::from_utf8_lossy(error).into_owned(),
            ));
        }
        let Some(verifier) = first.strip_prefix(b"v=") else {
            return Err(AuthError::InvalidServerFinal("expected v= or e= attribute"));
        };
        let signature = BASE64
            .decode(verifier)
            .map_err(|_| AuthError::InvalidServerFinal("verifier is not valid base64"))?;
        self.server_signature
            .verify_slice(&signature)
            .map_err(|_| AuthError::ServerSignatureMismatch)
    }
}

impl fmt::Debug for ScramClientFinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClientFinal")
            .field("message_len", &self.message.len())
            .finish_non_exhaustive()
    }
}

/// The attributes of a server-first-message, borrowed from it.
#[derive(Debug)]
struct ServerFirst<'a> {
    nonce: &'a [u8],
    salt: Vec<u8>,
    iterations: u32,
}

impl<'a> ServerFirst<'a> {
    /// `[m=ext,]r=nonce,s=salt,i=count[,ext...]`, strictly in that order.
    fn parse(message: &'a [u8]) -> Result<Self, AuthError> {
        let mut attributes = message.split(|&b| b == b',');
        let mut first = attributes.next().unwrap_or_default();
        if first.starts_with(b"m=") {
            return Err(AuthError::UnsupportedMandatoryExtension);
        }
        let nonce = first
            .strip_prefix(b"r=")
            .ok_or(AuthError::InvalidServerFirst("expected nonce attribute r="))?;
        if nonce.is_empty() || !nonce.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
            return Err(AuthError::InvalidServerFirst(
                "nonce is empty or not printable",
            ));
        }
        first = attributes.next().unwrap_or_default();
        let salt = first
            .strip_prefix(b"s=")
            .ok_or(AuthError::InvalidServerFirst("expected salt attribute s="))?;
        let salt = BASE64.decode(salt).map_err(|_| AuthError::InvalidSalt)?;
        if salt.is_empty() {
            return Err(AuthError::InvalidSalt);
        }
        first = attributes.next().unwrap_or_default();
        let count = first
            .strip_prefix(b"i=")
            .ok_or(AuthError::InvalidServerFirst(
                "expected iteration count attribute i=",
            ))?;
        let iterations = parse_decimal_u32(count).ok_or(AuthError::InvalidServerFirst(
            "iteration count is not a decimal number in range",
        ))?;
        for extension in attributes {
            if !is_attribute(extension) {
                return Err(AuthError::InvalidServerFirst(
                    "malformed extension attribute",
                ));
            }
        }
        Ok(Self {
            nonce,
            salt,
            iterations,
        })
    }
}

/// A decimal number of 1 to 10 ASCII digits that fits in a `u32`.
fn parse_decimal_u32(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    u32::try_from(value).ok()
}

/// `attr-val` of RFC 5802: one ASCII letter, `=`, then the value.
fn is_attribute(attribute: &[u8]) -> bool {
    matches!(attribute, [letter, b'=', ..] if letter.is_ascii_alphabetic())
}

/// HMAC-SHA-256 keyed with `key`.
///
/// Builds the 64-byte block key of RFC 2104 (a longer key is hashed first,
/// a shorter one zero-padded) so that keying cannot fail.
fn keyed_hmac(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; 64];
    match block.get_mut(..key.len()) {
        Some(prefix) => prefix.copy_from_slice(key),
        None => block[..32].copy_from_slice(&Sha256::digest(key)),
    }
    HmacSha256::new(&block.into())
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = keyed_hmac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The keys of RFC 5802 section 3 for one password, salt and count.
struct Keys {
    client_key: [u8; 32],
    server_key: [u8; 32],
}

impl Keys {
    fn derive(password: &[u8], salt: &[u8], iterations: u32) -> Self {
        let salted = salted_password(password, salt, iterations);
        Self {
            client_key: hmac(&salted, b"Client Key"),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    fn stored_key(&self) -> [u8; 32] {
        Sha256::digest(self.client_key).into()
    }

    /// ClientKey XOR HMAC(StoredKey, AuthMessage).
    fn client_proof(&self, auth_message: &[u8]) -> [u8; 32] {
        let signature = hmac(&self.stored_key(), auth_message);
        let mut proof = self.client_key;
        for (p, s) in proof.iter_mut().zip(signature) {
            *p ^= s;
        }
        proof
    }
}

/// Hi(password, salt, i): PBKDF2-HMAC-SHA-256 with one output block.
fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let prf = keyed_hmac(password);
    let mut mac = prf.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut block: [u8; 32] = mac.finalize().into_bytes().into();
    let mut result = block;
    for _ in 1..iterations {
        let mut mac = prf.clone();
        mac.update(&block);
        block = mac.finalize().into_bytes().into();
        for (r, b) in result.iter_mut().zip(block) {
            *r ^= b;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::auth::test_vectors::{Record, fixture_records};

    fn exchange(id: &str) -> Record {
        fixture_records("scram")
            .into_iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no exchange {id}"))
    }

    /// The psql-recorded exchange's client state, before the server-first.
    fn recorded_client() -> (ScramSha256, Record) {
        let vector = exchange("rust-postgres-psql-recorded");
        let client = ScramSha256::with_nonce(
            vector.get("password").as_bytes(),
            ChannelBinding::Unsupported,
            vector.get("client_nonce"),
        );
        (client, vector)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn server_first_with(attributes: &str) -> Result<ScramClientFinal, AuthError> {
        let (client, _) = recorded_client();
        client.handle_server_first(attributes.as_bytes())
    }

    #[test]
    fn rfc7677_exchange_with_the_rfc_user_name() {
        let vector = exchange("rfc7677-section3");
        assert_eq!(vector.get("user"), "user");
        let client = ScramSha256::with_user_and_nonce(
            vector.get("password").as_bytes(),
            ChannelBinding::Unsupported,
            vector.get("user"),
            vector.get("client_nonce"),
        );
        assert_eq!(client.mechanism(), "SCRAM-SHA-256");
        assert_eq!(
            client.client_first_message(),
            vector.get("client_first").as_bytes()
        );
        let last = client
            .handle_server_first(vector.get("server_first").as_bytes())
            .unwrap();
        assert_eq!(last.message(), vector.get("client_final").as_bytes());
        assert_eq!(
            last.handle_server_final(vector.get("server_final").as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn rfc7677_derived_keys() {
        let vector = exchange("rfc7677-section3");
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = salted_password(b"pencil", &salt, 4096);
        assert_eq!(hex(&salted), vector.get("salted_password_hex"));
        let keys = Keys::derive(b"pencil", &salt, 4096);
        assert_eq!(hex(&keys.client_key), vector.get("client_key_hex"));
        assert_eq!(
            BASE64.encode(keys.stored_key()),
            vector.get("stored_key_b64")
        );
        assert_eq!(BASE64.encode(keys.server_key), vector.get("server_key_b64"));
    }

    #[test]
    fn postgresql_sends_an_empty_user_name() {
        let client = ScramSha256::with_nonce(
            b"pencil",
            ChannelBinding::Unsupported,
            "rOprNGfwEbeRWgbNEkqO",
        );
        assert_eq!(
            client.client_first_message(),
            b"n,,n=,r=rOprNGfwEbeRWgbNEkqO"
        );
        // With the RFC's messages but an empty user name, the auth message
        // differs, so the proof must differ from the RFC's.
        let vector = exchange("rfc7677-section3");
        let last = client
            .handle_server_first(vector.get("server_first").as_bytes())
            .unwrap();
        assert_ne!(last.message(), vector.get("client_final").as_bytes());
        assert!(
            last.message()
                .starts_with(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=")
        );
    }

    #[test]
    fn user_names_are_escaped() {
        let client =
            ScramSha256::with_user_and_nonce(b"p", ChannelBinding::Unsupported, "a=b,c", "xyz");
        assert_eq!(client.client_first_message(), b"n,,n=a=3Db=2Cc,r=xyz");
    }

    #[test]
    fn recorded_psql_and_zeek_capture_exchanges() {
        for id in ["rust-postgres-psql-recorded", "zeek-pcap-psql-login"] {
            let vector = exchange(id);
            assert_eq!(vector.get("user"), "", "{id}");
            let client = ScramSha256::with_nonce(
                vector.get("password").as_bytes(),
                ChannelBinding::Unsupported,
                vector.get("client_nonce"),
            );
            assert_eq!(
                client.client_first_message(),
                vector.get("client_first").as_bytes(),
                "{id}"
            );
            let last = client
                .handle_server_first(vector.get("server_first").as_bytes())
                .unwrap();
            assert_eq!(
                last.message(),
                vector.get("client_final").as_bytes(),
                "{id}"
            );
            assert_eq!(
                last.handle_server_final(vector.get("server_final").as_bytes()),
                Ok(()),
                "{id}"
            );
        }
    }

    #[test]
    fn zeek_wrong_password_capture_proof_is_not_ours() {
        let vector = fixture_records("scram_wrong_password").pop().unwrap();
        let client = ScramSha256::with_nonce(
            vector.get("password").as_bytes(),
            ChannelBinding::Unsupported,
            vector.get("client_nonce"),
        );
        assert_eq!(
            client.client_first_message(),
            vector.get("client_first").as_bytes()
        );
        let last = client
            .handle_server_first(vector.get("server_first").as_bytes())
            .unwrap();
        let captured = vector.get("client_final").as_bytes();
        let proof_at = captured.len() - 44;
        // Same channel binding and nonce, different proof.
        assert_eq!(&last.message()[..proof_at], &captured[..proof_at]);
        assert_ne!(last.message(), captured);
    }

    #[test]
    fn stored_verifier_vector() {
        let vector = fixture_records("scram_verifier").pop().unwrap();
        let salt = BASE64.decode(vector.get("salt_b64")).unwrap();
        assert_eq!(salt, (1..=16).collect::<Vec<u8>>());
        let iterations: u32 = vector.get("iterations").parse().unwrap();
        let keys = Keys::derive(vector.get("password").as_bytes(), &salt, iterations);
        let expected = format!(
            "SCRAM-SHA-256${iterations}:{}${}:{}",
            vector.get("salt_b64"),
            BASE64.encode(keys.stored_key()),
            BASE64.encode(keys.server_key)
        );
        assert_eq!(expected, vector.get("rolpassword"));
    }

    #[test]
    fn wrong_server_signature_is_rejected() {
        let (client, vector) = recorded_client();
        let last = client
            .handle_server_first(vector.get("server_first").as_bytes())
            .unwrap();
        // The zeek exchange's signature is valid base64 of the right length.
        let other = exchange("zeek-pcap-psql-login");
        assert_eq!(
            last.handle_server_final(other.get("server_final").as_bytes()),
            Err(AuthError::ServerSignatureMismatch)
        );

        let (client, vector) = recorded_client();
        let last = client
            .handle_server_first(vector.get("server_first").as_bytes())
            .unwrap();
        assert_eq!(
            last.handle_server_final(b"v="),
            Err(AuthError::ServerSignatureMismatch)
        );

        let (client, vector) = recorded_client();
        let last = client
            .handle_server_first(vector.get("server_first").as_bytes())
            .unwrap();
        let mut truncated = vector.get("server_final").to_owned();
        truncated.truncate(truncated.len() - 4);
        truncated.push_str("AAA=");
        assert_eq!(
            last.handle_server_final(truncated.as_bytes()),
            Err(AuthError::ServerSignatureMismatch)
        );
    }

    #[test]
    fn server_error_attribute() {
        let (client, vector) = recorded_client();
        let last = client
            .handle_server_first(vector.get("server_first").as_bytes())
            .unwrap();
        assert_eq!(
            last.handle_server_final(b"e=invalid-proof"),
            Err(AuthError::ServerError("invalid-proof".to_owned()))
        );
    }

    #[test]
    fn nonce_must_extend_the_client_nonce() {
        for server_first in [
            "r=XXXX,s=fs3IXBy7U7+IvVjZ,i=4096",
            "r=9IZ2O01zb9IgiIZ1WJ/zgpJ,s=fs3IXBy7U7+IvVjZ,i=4096",
            "r=9IZ2O01zb9IgiIZ1WJ/zgpJB,s=fs3IXBy7U7+IvVjZ,i=4096",
            "r=X9IZ2O01zb9IgiIZ1WJ/zgpJBjx,s=fs3IXBy7U7+IvVjZ,i=4096",
        ] {
            assert_eq!(
                server_first_with(server_first).err(),
                Some(AuthError::NonceMismatch),
                "{server_first}"
            );
        }
    }

    #[test]
    fn iteration_count_limits() {
        let nonce = "r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,s=fs3IXBy7U7+IvVjZ";
        assert_eq!(
            server_first_with(&format!("{nonce},i=0")).err(),
            Some(AuthError::InvalidIterationCount(0))
        );
        assert_eq!(
            server_first_with(&format!("{nonce},i=1000000000")).err(),
            Some(AuthError::IterationCountTooHigh {
                count: 1_000_000_000,
                max: DEFAULT_MAX_ITERATIONS
            })
        );
        let policy = fixture_records("policy").pop().unwrap();
        let count = policy.get("iterations");
        assert_eq!(
            server_first_with(&format!("{nonce},i={count}")).err(),
            Some(AuthError::IterationCountTooHigh {
                count: 789_123_456,
                max: DEFAULT_MAX_ITERATIONS
            })
        );
        // The cap itself is allowed (checked with a cheap count: cap 1).
        let (client, _) = recorded_client();
        assert!(
            client
                .with_max_iterations(1)
                .handle_server_first(format!("{nonce},i=1").as_bytes())
                .is_ok()
        );
        // A configured cap below the server's count refuses valid credentials.
        let (client, vector) = recorded_client();
        assert_eq!(
            client
                .with_max_iterations(4095)
                .handle_server_first(vector.get("server_first").as_bytes())
                .err(),
            Some(AuthError::IterationCountTooHigh {
                count: 4096,
                max: 4095
            })
        );
    }

    #[test]
    fn malformed_server_first_messages() {
        let n = "r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx";
        let first = |what| Some(AuthError::InvalidServerFirst(what));
        let cases: Vec<(String, Option<AuthError>)> = vec![
            (String::new(), first("expected nonce attribute r=")),
            ("garbage".into(), first("expected nonce attribute r=")),
            ("r=".into(), first("nonce is empty or not printable")),
            (
                "r=9IZ2O01zb9IgiIZ1WJ/zgpJB\u{7f}x,s=AAAA,i=1".into(),
                first("nonce is empty or not printable"),
            ),
            (
                format!("s=fs3IXBy7U7+IvVjZ,{n},i=4096"),
                first("expected nonce attribute r="),
            ),
            (n.into(), first("expected salt attribute s=")),
            (format!("{n},i=4096"), first("expected salt attribute s=")),
            (
                format!("{n},s=fs3IXBy7U7+IvVjZ"),
                first("expected iteration count attribute i="),
            ),
            (
                format!("{n},s=fs3IXBy7U7+IvVjZ,"),
                first("expected iteration count attribute i="),
            ),
            (format!("{n},s=,i=4096"), Some(AuthError::InvalidSalt)),
            (
                format!("{n},s=!!notbase64!!,i=4096"),
                Some(AuthError::InvalidSalt),
            ),
            (
                format!("{n},s=fs3IXBy7U7+IvVj,i=4096"),
                Some(AuthError::InvalidSalt),
            ),
            (
                format!("{n},s=AAAA,i="),
                first("iteration count is not a decimal number in range"),
            ),
            (
                format!("{n},s=AAAA,i=abc"),
                first("iteration count is not a decimal number in range"),
            ),
            (
                format!("{n},s=AAAA,i=-1"),
                first("iteration count is not a decimal number in range"),
            ),
            (
                format!("{n},s=AAAA,i=+4096"),
                first("iteration count is not a decimal number in range"),
            ),
            (
                format!("{n},s=AAAA,i=4294967296"),
                first("iteration count is not a decimal number in range"),
            ),
            (
                format!("{n},s=AAAA,i=99999999999999999999"),
                first("iteration count is not a decimal number in range"),
            ),
            (
                format!("{n},s=AAAA,i=1,"),
                first("malformed extension attribute"),
            ),
            (
                format!("{n},s=AAAA,i=1,junk"),
                first("malformed extension attribute"),
            ),
            (
                format!("m=ext,{n},s=AAAA,i=1"),
                Some(AuthError::UnsupportedMandatoryExtension),
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(server_first_with(&message).err(), expected, "{message:?}");
        }
    }

    #[test]
    fn optional_extensions_are_ignored() {
        let (client, vector) = recorded_client();
        let with_extension = format!("{},x=future", vector.get("server_first"));
        // The extension is part of the auth message, so the proof changes, but
        // the message is accepted.
        let last = client
            .handle_server_first(with_extension.as_bytes())
            .unwrap();
        assert!(
            last.message()
                .starts_with(b"c=biws,r=9IZ2O01zb9IgiIZ1WJ/zgpJBjx/oIRLs02gGSHcw1KEty3eY,p=")
        );
        assert_ne!(last.message(), vector.get("client_final").as_bytes());
    }

    #[test]
    fn malformed_server_final_messages() {
        let verifier = exchange("rust-postgres-psql-recorded").get("server_final");
        let cases: Vec<(String, AuthError)> = vec![
            (
                String::new(),
                AuthError::InvalidServerFinal("expected v= or e= attribute"),
            ),
            (
                "garbage".into(),
                AuthError::InvalidServerFinal("expected v= or e= attribute"),
            ),
            (
                "V=abc".into(),
                AuthError::InvalidServerFinal("expected v= or e= attribute"),
            ),
            (
                "v=!!!!".into(),
                AuthError::InvalidServerFinal("verifier is not valid base64"),
            ),
            (
                "v=U+ppxD5".into(),
                AuthError::InvalidServerFinal("verifier is not valid base64"),
            ),
            (
                format!("{verifier},"),
                AuthError::InvalidServerFinal("malformed extension attribute"),
            ),
            (
                format!("{verifier},junk"),
                AuthError::InvalidServerFinal("malformed extension attribute"),
            ),
        ];
        for (message, expected) in cases {
            let (client, vector) = recorded_client();
            let last = client
                .handle_server_first(vector.get("server_first").as_bytes())
                .unwrap();
            assert_eq!(
                last.handle_server_final(message.as_bytes()),
                Err(expected),
                "{message:?}"
            );
        }
        let (client, vector) = recorded_client();
        let last = client
            .handle_server_first(vector.get("server_first").as_bytes())
            .unwrap();
        assert_eq!(
            last.handle_server_final(format!("{verifier},x=ext").as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn truncated_server_messages_never_pass() {
        let vector = exchange("rust-postgres-psql-recorded");
        let server_first = vector.get("server_first").as_bytes();
        for end in 0..server_first.len() {
            let (client, _) = recorded_client();
            // A shorter iteration count can still parse; it must not yield the
            // recorded proof. Most prefixes are errors.
            let result = client.handle_server_first(&server_first[..end]);
            assert_ne!(
                result.map(|f| f.message().to_vec()).ok().as_deref(),
                Some(vector.get("client_final").as_bytes())
            );
        }
        let server_final = vector.get("server_final").as_bytes();
        let (client, _) = recorded_client();
        let last = client.handle_server_first(server_first).unwrap();
        let message = last.message().to_vec();
        for end in 0..server_final.len() {
            let last = ScramClientFinal {
                message: message.clone(),
                server_signature: last.server_signature.clone(),
            };
            assert!(
                last.handle_server_final(&server_final[..end]).is_err(),
                "prefix {end}"
            );
        }
    }

    #[test]
    fn arbitrary_bytes_are_errors_not_panics() {
        let inputs: [&[u8]; 8] = [
            b"\xff\xfe\xfd",
            b",,,,",
            b"r=\xff",
            b"=,=,=",
            b"r=9IZ2O01zb9IgiIZ1WJ/zgpJBx,s=\xff\xff,i=1",
            b"r=9IZ2O01zb9IgiIZ1WJ/zgpJBx,s=AAAA,i=\xff",
            b"\0",
            b"r=9IZ2O01zb9IgiIZ1WJ/zgpJBx,s=AAAA,i=1,\xff=",
        ];
        for input in inputs {
            let (client, _) = recorded_client();
            assert!(client.handle_server_first(input).is_err(), "{input:?}");
        }
        for input in inputs {
            let (client, vector) = recorded_client();
            let last = client
                .handle_server_first(vector.get("server_first").as_bytes())
                .unwrap();
            assert!(last.handle_server_final(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn client_only_channel_binding() {
        let client = ScramSha256::with_nonce(
            b"foobar",
            ChannelBinding::ClientOnly,
            "9IZ2O01zb9IgiIZ1WJ/zgpJB",
        );
        assert_eq!(client.mechanism(), "SCRAM-SHA-256");
        assert_eq!(
            client.client_first_message(),
            b"y,,n=,r=9IZ2O01zb9IgiIZ1WJ/zgpJB"
        );
        let vector = exchange("rust-postgres-psql-recorded");
        let last = client
            .handle_server_first(vector.get("server_first").as_bytes())
            .unwrap();
        assert!(last.message().starts_with(b"c=eSws,r="));
    }

    /// Checks a client-final-message the way a server would: recompute the
    /// client signature from the stored key and recover the client key.
    fn server_accepts(
        password: &[u8],
        client_first_bare: &[u8],
        server_first: &[u8],
        client_final: &[u8],
    ) -> bool {
        let salt = BASE64.decode("fs3IXBy7U7+IvVjZ").unwrap();
        let keys = Keys::derive(password, &salt, 4096);
        let proof_at = client_final.len() - 47;
        let without_proof = &client_final[..proof_at];
        let proof = BASE64.decode(&client_final[proof_at + 3..]).unwrap();
        let auth_message = [client_first_bare, b",", server_first, b",", without_proof].concat();
        let signature = hmac(&keys.stored_key(), &auth_message);
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        Sha256::digest(&client_key).as_slice() == keys.stored_key()
    }

    #[test]
    fn tls_server_end_point_channel_binding() {
        let hash = vec![0xAB; 32];
        let client = ScramSha256::with_nonce(
            b"foobar",
            ChannelBinding::TlsServerEndPoint(hash.clone()),
            "9IZ2O01zb9IgiIZ1WJ/zgpJB",
        );
        assert_eq!(client.mechanism(), "SCRAM-SHA-256-PLUS");
        assert_eq!(
            client.client_first_message(),
            b"p=tls-server-end-point,,n=,r=9IZ2O01zb9IgiIZ1WJ/zgpJB"
        );
        let vector = exchange("rust-postgres-psql-recorded");
        let server_first = vector.get("server_first").as_bytes();
        let last = client.handle_server_first(server_first).unwrap();
        let message = last.message();
        let cbind_end = message.iter().position(|&b| b == b',').unwrap();
        let cbind = BASE64.decode(&message[2..cbind_end]).unwrap();
        assert_eq!(cbind, [&b"p=tls-server-end-point,,"[..], &hash].concat());
        assert!(server_accepts(
            b"foobar",
            b"n=,r=9IZ2O01zb9IgiIZ1WJ/zgpJB",
            server_first,
            message
        ));
        assert!(!server_accepts(
            b"foobaz",
            b"n=,r=9IZ2O01zb9IgiIZ1WJ/zgpJB",
            server_first,
            message
        ));
    }

    #[test]
    fn password_goes_through_saslprep() {
        let vector = exchange("rust-postgres-psql-recorded");
        let nonce = vector.get("client_nonce");
        let server_first = vector.get("server_first").as_bytes();
        let plain = ScramSha256::with_nonce(b"IX", ChannelBinding::Unsupported, nonce)
            .handle_server_first(server_first)
            .unwrap();
        let soft_hyphen =
            ScramSha256::with_nonce("I\u{AD}X".as_bytes(), ChannelBinding::Unsupported, nonce)
                .handle_server_first(server_first)
                .unwrap();
        let roman =
            ScramSha256::with_nonce("\u{2168}".as_bytes(), ChannelBinding::Unsupported, nonce)
                .handle_server_first(server_first)
                .unwrap();
        assert_eq!(plain.message(), soft_hyphen.message());
        assert_eq!(plain.message(), roman.message());
    }

    #[test]
    fn random_nonces() {
        let a = ScramSha256::new(b"pw", ChannelBinding::Unsupported);
        let b = ScramSha256::try_new(b"pw", ChannelBinding::Unsupported).unwrap();
        assert_eq!(a.nonce.len(), 24);
        assert_ne!(a.nonce, b.nonce);
        assert!(
            a.nonce
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        );
        let first = a.client_first_message();
        assert_eq!(&first[..8], b"n,,n=,r=");
        assert_eq!(&first[8..], a.nonce.as_bytes());
    }

    #[test]
    fn keyed_hmac_matches_the_library_for_every_key_length() {
        for len in [0usize, 1, 31, 32, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut ours = keyed_hmac(&key);
            ours.update(b"data");
            let mut theirs = <HmacSha256 as Mac>::new_from_slice(&key).unwrap();
            theirs.update(b"data");
            assert_eq!(
                ours.finalize().into_bytes(),
                theirs.finalize().into_bytes(),
                "key length {len}"
            );
        }
    }

    #[test]
    fn debug_does_not_show_the_password() {
        let client = ScramSha256::with_nonce(b"hunter2", ChannelBinding::Unsupported, "abc");
        let shown = format!("{client:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("SCRAM-SHA-256"), "{shown}");
        let last = client.handle_server_first(b"r=abcd,s=AAAA,i=1").unwrap();
        assert!(!format!("{last:?}").contains("hunter2"));
    }

    #[test]
    fn parse_decimal() {
        assert_eq!(parse_decimal_u32(b"4096"), Some(4096));
        assert_eq!(parse_decimal_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_decimal_u32(b"4294967296"), None);
        assert_eq!(parse_decimal_u32(b"00001"), Some(1));
        assert_eq!(parse_decimal_u32(b""), None);
        assert_eq!(parse_decimal_u32(b"1 "), None);
    }
}
