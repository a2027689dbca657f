//! A scripted PostgreSQL server on loopback.
//!
//! Owns the fake server: a tokio listener on `127.0.0.1` that accepts one
//! connection and plays a [`Script`] of steps (expect a frontend message,
//! send bytes, stall, close). It records every frontend byte it reads as a
//! [`Transcript`]. It must not decide whether the client behaved: the tests
//! assert that. A script step that finds something else than expected ends
//! the run with a description, returned by [`FakeServer::finish`].
//!
//! ```no_run
//! # async fn run() {
//! use pgline_protocol_tests::{FakeServer, Script, wire};
//!
//! let server = FakeServer::start(
//!     Script::new()
//!         .handshake()
//!         .expect(b'Q')
//!         .send(wire::header(b'Z', 0))
//!         .stall(),
//! )
//! .await;
//! let client = pgline::connect(&server.url()).await.unwrap();
//! let err = client.simple_query("SELECT 1").await.unwrap_err();
//! # }
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::wire::{self, FrontendMessage};

/// The SSLRequest code.
pub const SSL_REQUEST_CODE: u32 = 80_877_103;
/// The GSSENCRequest code.
pub const GSSENC_REQUEST_CODE: u32 = 80_877_104;

/// Produces bytes from what the client has sent so far.
type Responder = Box<dyn FnOnce(&Transcript) -> Vec<u8> + Send>;

/// One step of a script.
enum Step {
    /// Read the startup phase: answer SSLRequest/GSSENCRequest with `N` and
    /// read the StartupMessage.
    ReadStartup,
    /// Read one tagged message; it must have this tag.
    Expect(u8),
    /// Read tagged messages up to and including a Sync (`S`).
    ExpectSync,
    /// Write these bytes.
    Send(Vec<u8>),
    /// Write bytes computed from the transcript.
    SendWith(Responder),
    /// Write these bytes in chunks of this size, flushing each.
    SendInChunks(Vec<u8>, usize),
    /// Wait.
    Sleep(Duration),
    /// Close the socket.
    Close,
    /// Answer nothing more; record whatever comes until the client closes
    /// the connection.
    Stall,
}

/// A list of steps the fake server plays, built with chained calls.
#[derive(Default)]
pub struct Script {
    steps: Vec<Step>,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("steps", &self.steps.len())
            .finish()
    }
}

impl Script {
    /// An empty script: the server accepts, then closes.
    pub fn new() -> Self {
        Self::default()
    }

    fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Reads the startup phase (answering SSLRequest with `N`) but sends no
    /// authentication request: the script goes on from there.
    pub fn read_startup(self) -> Self {
        self.step(Step::ReadStartup)
    }

    /// A whole successful startup: [`read_startup`](Self::read_startup),
    /// then AuthenticationOk, parameter statuses, BackendKeyData and
    /// ReadyForQuery.
    pub fn handshake(self) -> Self {
        self.read_startup()
            .send(wire::auth_ok())
            .send(wire::startup_tail())
    }

    /// Reads one frontend message, which must have tag `tag`.
    pub fn expect(self, tag: u8) -> Self {
        self.step(Step::Expect(tag))
    }

    /// Reads frontend messages up to and including a Sync.
    pub fn expect_sync(self) -> Self {
        self.step(Step::ExpectSync)
    }

    /// Sends `bytes`.
    pub fn send(self, bytes: impl Into<Vec<u8>>) -> Self {
        self.step(Step::Send(bytes.into()))
    }

    /// Sends the bytes `f` computes from what the client has sent so far
    /// (e.g. a SCRAM reply built on the client's nonce).
    pub fn send_with(self, f: impl FnOnce(&Transcript) -> Vec<u8> + Send + 'static) -> Self {
        self.step(Step::SendWith(Box::new(f)))
    }

    /// Sends `bytes` in writes of `chunk` bytes.
    pub fn send_in_chunks(self, bytes: impl Into<Vec<u8>>, chunk: usize) -> Self {
        self.step(Step::SendInChunks(bytes.into(), chunk.max(1)))
    }

    /// Waits before the next step.
    pub fn sleep(self, duration: Duration) -> Self {
        self.step(Step::Sleep(duration))
    }

    /// Closes the socket (the rest of the script is not played).
    pub fn close(self) -> Self {
        self.step(Step::Close)
    }

    /// Appends the steps `f` adds: a way to reuse a piece of script.
    pub fn then(self, f: impl FnOnce(Self) -> Self) -> Self {
        f(self)
    }

    /// Stops answering, keeping the socket open until the client closes it.
    pub fn stall(self) -> Self {
        self.step(Step::Stall)
    }
}

/// Everything the client sent, message by message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The frontend messages, in order; startup-phase messages have tag 0.
    pub messages: Vec<FrontendMessage>,
}

impl Transcript {
    /// The tags of the messages, as characters (`0` shows as `.`).
    pub fn tags(&self) -> String {
        self.messages
            .iter()
            .map(|m| if m.tag == 0 { '.' } else { char::from(m.tag) })
            .collect()
    }

    /// The client nonce of the SCRAM exchange, from the
    /// SASLInitialResponse (`p` with `mechanism\0 len n,,n=,r=<nonce>`).
    pub fn scram_client_nonce(&self) -> Option<String> {
        self.messages
            .iter()
            .filter(|m| m.tag == b'p')
            .find_map(|m| {
                let text = String::from_utf8_lossy(&m.body).into_owned();
                let (_, nonce) = text.split_once(",r=")?;
                Some(nonce.to_owned())
            })
    }
}

/// A running fake server.
#[derive(Debug)]
pub struct FakeServer {
    addr: SocketAddr,
    task: JoinHandle<Result<Transcript, String>>,
}

impl FakeServer {
    /// Binds `127.0.0.1:0` and plays `script` on the first connection.
    pub async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
            play(stream, script).await
        });
        Self { addr, task }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A connection URL for this server: user `app`, database `db`, no TLS,
    /// a 5-second connect timeout.
    pub fn url(&self) -> String {
        format!(
            "postgres://app@127.0.0.1:{}/db?sslmode=disable&connect_timeout=5",
            self.addr.port()
        )
    }

    /// Like [`url`](Self::url), with extra query parameters (`a=b&c=d`).
    pub fn url_with(&self, params: &str) -> String {
        format!("{}&{params}", self.url())
    }

    /// Waits (at most 10 s) for the script to end and returns what the
    /// client sent, or why the script failed.
    pub async fn finish(self) -> Result<Transcript, String> {
        match tokio::time::timeout(Duration::from_secs(10), self.task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(format!("fake server task failed: {join}")),
            Err(_) => Err("fake server script did not end within 10 s".to_owned()),
        }
    }
}

async fn play(mut stream: TcpStream, script: Script) -> Result<Transcript, String> {
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut transcript = Transcript::default();
    for (index, step) in script.steps.into_iter().enumerate() {
        match step {
            Step::ReadStartup => loop {
                let message = wire::read_untagged(&mut stream)
                    .await
                    .map_err(|e| format!("step {index}: reading startup: {e}"))?
                    .ok_or_else(|| format!("step {index}: client closed before startup"))?;
                let code = message.request_code();
                transcript.messages.push(message);
                match code {
                    Some(SSL_REQUEST_CODE | GSSENC_REQUEST_CODE) => {
                        stream.write_all(b"N").await.map_err(|e| e.to_string())?;
                    }
                    Some(c) if c >> 16 == 3 => break,
                    other => {
                        return Err(fail(index, &transcript, &format!("startup code {other:?}")));
                    }
                }
            },
            Step::Expect(tag) => {
                let message = read_one(&mut stream, index).await?;
                let got = message.tag;
                transcript.messages.push(message);
                if got != tag {
                    let what = format!("expected {:?}, got {:?}", char::from(tag), char::from(got));
                    return Err(fail(index, &transcript, &what));
                }
            }
            Step::ExpectSync => loop {
                let message = read_one(&mut stream, index).await?;
                let sync = message.tag == b'S';
                transcript.messages.push(message);
                if sync {
                    break;
                }
            },
            Step::Send(bytes) => write(&mut stream, &bytes).await?,
            Step::SendWith(f) => {
                let bytes = f(&transcript);
                write(&mut stream, &bytes).await?;
            }
            Step::SendInChunks(bytes, chunk) => {
                for piece in bytes.chunks(chunk) {
                    write(&mut stream, piece).await?;
                }
            }
            Step::Sleep(duration) => tokio::time::sleep(duration).await,
            Step::Close => return Ok(transcript),
            Step::Stall => {
                // Keep recording what the client sends (a Terminate, a
                // second request) until it closes the connection.
                while let Ok(Some(message)) = wire::read_tagged(&mut stream).await {
                    transcript.messages.push(message);
                }
                let mut sink = [0u8; 4096];
                while let Ok(n) = stream.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
                return Ok(transcript);
            }
        }
    }
    Ok(transcript)
}

fn fail(index: usize, transcript: &Transcript, what: &str) -> String {
    format!("step {index}: {what}; client sent {:?}", transcript.tags())
}

async fn read_one(stream: &mut TcpStream, index: usize) -> Result<FrontendMessage, String> {
    wire::read_tagged(stream)
        .await
        .map_err(|e| format!("step {index}: reading a message: {e}"))?
        .ok_or_else(|| format!("step {index}: client closed the connection"))
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), String> {
    stream
        .write_all(bytes)
        .await
        .map_err(|e| format!("writing to the client: {e}"))?;
    stream.flush().await.map_err(|e| e.to_string())
}
