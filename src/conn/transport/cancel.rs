//! Query cancellation: a CancelRequest sent on a fresh socket.
//!
//! Owns [`CancelToken`], which remembers where the connection went (the same
//! resolved address, and TLS when the connection used it) and the backend's
//! cancel key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::conn::transport::socket::{Keepalive, Socket};
use crate::conn::transport::tls;
use crate::error::{Error, ErrorKind};
use crate::proto::backend::SslResponse;
use crate::proto::frontend;
use crate::proto::startup::BackendKey;

/// Where the connection's socket went.
#[derive(Debug, Clone)]
pub(crate) enum Peer {
    Tcp { addr: SocketAddr, host: String },
    Unix { dir: PathBuf, port: u16 },
}

/// How the connection's socket was encrypted.
#[derive(Clone)]
pub(crate) struct TlsMode {
    pub(crate) config: Arc<rustls::ClientConfig>,
    pub(crate) direct: bool,
}

/// Cancels the query running on a connection, from any task.
///
/// Obtained from [`Client::cancel_token`](crate::Client::cancel_token).
/// Cancellation is best effort, as the protocol makes it: the server may
/// have finished the query already, and the caller of the cancelled query
/// sees an error with SQLSTATE `57014` (query_canceled) if it had not.
#[derive(Clone)]
pub struct CancelToken {
    pub(crate) peer: Peer,
    pub(crate) tls: Option<TlsMode>,
    pub(crate) key: Option<BackendKey>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) keepalive: Keepalive,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("peer", &self.peer)
            .field("tls", &self.tls.is_some())
            .field("process_id", &self.process_id())
            .field("secret_key_len", &self.secret_key_len())
            .finish()
    }
}

impl CancelToken {
    /// The process id of the backend this token cancels (0 if the server
    /// sent no cancel key).
    pub fn process_id(&self) -> u32 {
        self.key.as_ref().map_or(0, |k| k.process_id)
    }

    /// The length in bytes of the secret cancel key the server sent: 4 in protocol 3.0,
    /// up to 256 in 3.2 (PostgreSQL 18 sends 32); 0 if it sent no key. The key itself is
    /// not exposed.
    pub fn secret_key_len(&self) -> usize {
        self.key.as_ref().map_or(0, |k| k.secret_key.len())
    }

    /// Asks the server to cancel the query in progress on the connection.
    pub async fn cancel_query(&self) -> Result<(), Error> {
        let Some(key) = &self.key else {
            return Err(Error::msg(
                ErrorKind::Protocol,
                "the server sent no cancel key (BackendKeyData) for this connection",
            ));
        };
        let send = self.send(key);
        match self.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, send).await.map_err(|_| {
                Error::msg(
                    ErrorKind::Timeout,
                    format!("sending the cancel request timed out after {limit:?}"),
                )
            })?,
            None => send.await,
        }
    }

    async fn send(&self, key: &BackendKey) -> Result<(), Error> {
        let io = |e| Error::with_source(ErrorKind::Io, Some("sending a cancel request".into()), e);
        let mut socket = match &self.peer {
            Peer::Unix { dir, port } => Socket::Unix(Socket::unix(dir, *port).await.map_err(io)?),
            Peer::Tcp { addr, host } => {
                let mut tcp = Socket::tcp(*addr, &self.keepalive).await.map_err(io)?;
                match &self.tls {
                    None => Socket::Tcp(tcp),
                    Some(mode) => {
                        if !mode.direct {
                            let mut request = BytesMut::new();
                            frontend::ssl_request(&mut request);
                            tcp.write_all(&request).await.map_err(io)?;
                            let answer = tcp.read_u8().await.map_err(io)?;
                            if SslResponse::parse(answer) != Ok(SslResponse::Accepted) {
                                return Err(Error::msg(
                                    ErrorKind::Tls,
                                    "the server refused TLS for the cancel request",
                                ));
                            }
                        }
                        let stream = tls::handshake(mode.config.clone(), host, tcp).await?;
                        Socket::Tls(Box::new(stream))
                    }
                }
            }
        };
        let mut request = BytesMut::new();
        frontend::cancel_request(&mut request, key.process_id, &key.secret_key)
            .map_err(|e| Error::with_source(ErrorKind::Protocol, None, e))?;
        socket.write_all(&request).await.map_err(io)?;
        socket.flush().await.map_err(io)?;
        // The server closes the socket when it has read the request.
        let mut sink = [0u8; 64];
        while socket.read(&mut sink).await.map_err(io)? > 0 {}
        Ok(())
    }
}
