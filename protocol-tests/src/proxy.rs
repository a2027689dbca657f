//! A fault-injecting TCP proxy between the driver and a real server.
//!
//! Owns the network faults the tests inject: per direction, traffic passes,
//! is delayed, is blackholed (read and dropped, so neither side sees an
//! error), or is written one byte per write; [`FaultProxy::cut`] closes every
//! open connection at once. It can record the bytes of each direction (the
//! golden traces use the client's). It must not parse or alter the bytes it
//! forwards.
//!
//! A blackhole here is made by a user-space proxy: the proxy's kernel still
//! acknowledges TCP segments and answers keepalive probes, so only the
//! driver's own timeouts can detect it, not TCP keepalives.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Which way traffic flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the driver to the server (frontend messages).
    ClientToServer,
    /// From the server to the driver (backend messages).
    ServerToClient,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Self::ClientToServer => 0,
            Self::ServerToClient => 1,
        }
    }
}

/// What happens to traffic in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Forwarded as read.
    #[default]
    Pass,
    /// Forwarded after this delay (per read chunk, in order).
    Delay(Duration),
    /// Read and dropped; the other side waits forever.
    Blackhole,
    /// Forwarded one byte per write call, with `TCP_NODELAY`, so the
    /// receiver gets many tiny reads.
    OneByteWrites,
}

struct Shared {
    faults: Mutex<[Fault; 2]>,
    recorded: Mutex<[Vec<u8>; 2]>,
    forwarded: [AtomicU64; 2],
    writes: [AtomicU64; 2],
    cut: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running proxy; dropping it stops accepting (open connections are cut).
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("faults", &*lock(&self.shared.faults))
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards each connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let (cut, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            faults: Mutex::new([Fault::Pass; 2]),
            recorded: Mutex::new([Vec::new(), Vec::new()]),
            forwarded: [AtomicU64::new(0), AtomicU64::new(0)],
            writes: [AtomicU64::new(0), AtomicU64::new(0)],
            cut,
        });
        let accept_shared = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = accept_shared.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, shared).await;
                    }
                });
            }
        });
        Self {
            addr,
            shared,
            accept,
        }
    }

    /// The address to connect the driver to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the fault for one direction, for every connection, at once.
    pub fn set(&self, direction: Direction, fault: Fault) {
        lock(&self.shared.faults)[direction.index()] = fault;
    }

    /// Closes every connection open now; later connections are accepted.
    pub fn cut(&self) {
        self.shared.cut.send_modify(|generation| *generation += 1);
    }

    /// The bytes forwarded in `direction` since the last
    /// [`clear_recorded`](Self::clear_recorded).
    pub fn recorded(&self, direction: Direction) -> Vec<u8> {
        lock(&self.shared.recorded)[direction.index()].clone()
    }

    /// Forgets the recorded bytes of both directions.
    pub fn clear_recorded(&self) {
        let mut recorded = lock(&self.shared.recorded);
        recorded[0].clear();
        recorded[1].clear();
    }

    /// How many bytes went through in `direction` (forwarded, not dropped).
    pub fn forwarded(&self, direction: Direction) -> u64 {
        self.shared.forwarded[direction.index()].load(Ordering::Relaxed)
    }

    /// How many write calls carried those bytes.
    pub fn writes(&self, direction: Direction) -> u64 {
        self.shared.writes[direction.index()].load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn relay(client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(
        client_read,
        server_write,
        Direction::ClientToServer,
        shared.clone(),
    );
    let down = pump(server_read, client_write, Direction::ServerToClient, shared);
    tokio::join!(up, down);
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    shared: Arc<Shared>,
) {
    let mut cut = shared.cut.subscribe();
    let i = direction.index();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            _ = cut.changed() => return,
        };
        let chunk = &buf[..n];
        let fault = lock(&shared.faults)[i];
        let written = tokio::select! {
            result = forward(&mut to, chunk, fault, &shared, i) => result,
            _ = cut.changed() => return,
        };
        if written.is_err() {
            return;
        }
    }
    // The source closed: pass the end of stream on, unless cut meanwhile.
    let _ = to.shutdown().await;
}

async fn forward(
    to: &mut OwnedWriteHalf,
    chunk: &[u8],
    fault: Fault,
    shared: &Shared,
    i: usize,
) -> std::io::Result<()> {
    let record = |bytes: &[u8]| {
        lock(&shared.recorded)[i].extend_from_slice(bytes);
        shared.forwarded[i].fetch_add(bytes.len() as u64, Ordering::Relaxed);
    };
    match fault {
        Fault::Blackhole => Ok(()),
        Fault::Pass | Fault::Delay(_) => {
            if let Fault::Delay(d) = fault {
                tokio::time::sleep(d).await;
            }
            to.write_all(chunk).await?;
            shared.writes[i].fetch_add(1, Ordering::Relaxed);
            record(chunk);
            Ok(())
        }
        Fault::OneByteWrites => {
            for byte in chunk.chunks(1) {
                to.write_all(byte).await?;
                shared.writes[i].fetch_add(1, Ordering::Relaxed);
            }
            record(chunk);
            Ok(())
        }
    }
}
