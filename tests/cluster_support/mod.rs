//! What the cluster tests share: the rig, a cluster over it, the node a
//! port belongs to, a delaying TCP proxy, and running the rig's blocking
//! controls from async tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pgline::cluster::{Cluster, ClusterBuilder, NodeId, Role, Topology};
use pgline_testkit::{ReplicaSet, ReplicaSetBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const NAMES: [&str; 3] = ["P", "R1", "R2"];

/// A primary and two streaming replicas.
pub fn rig() -> ReplicaSet {
    ReplicaSetBuilder::new()
        .replicas(2)
        .start()
        .expect("start a primary and two replicas")
}

/// Runs one of the rig's blocking controls without stalling the runtime.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A key=value string over the rig's nodes, node `i` of the cluster at
/// `ports[i]` on loopback (a node's own port, or a proxy's).
pub fn conninfo(rig: &ReplicaSet, ports: &[u16]) -> String {
    let user = rig.primary().server().superuser().to_owned();
    let hosts = vec!["127.0.0.1"; ports.len()].join(",");
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!(
        "host={hosts} port={} user={user} dbname=postgres sslmode=disable connect_timeout=5",
        ports.join(",")
    )
}

/// The rig's own ports, in node order.
pub fn ports(rig: &ReplicaSet) -> Vec<u16> {
    rig.nodes().iter().map(|n| n.port()).collect()
}

/// A cluster builder over `ports`.
pub fn builder(rig: &ReplicaSet, ports: &[u16]) -> ClusterBuilder {
    ClusterBuilder::new(conninfo(rig, ports).parse().expect("conninfo"))
}

/// The rig node serving a server port.
pub fn node_of(rig: &ReplicaSet, port: i32) -> usize {
    rig.nodes()
        .iter()
        .position(|n| i32::from(n.port()) == port)
        .expect("a rig port")
}

pub fn id(i: usize) -> NodeId {
    NodeId::new(i)
}

/// Waits (20 s at most) until the cluster sees node `primary` as the
/// primary, every node of `standbys` up as a standby, and `also` holds of
/// its topology.
pub async fn settled_with(
    cluster: &Cluster,
    primary: usize,
    standbys: &[usize],
    also: impl Fn(&Topology) -> bool,
) {
    let started = Instant::now();
    loop {
        let topo = cluster.topology();
        let ok = topo.primary() == Some(id(primary))
            && standbys.iter().all(|&i| {
                let n = topo.node(id(i)).unwrap();
                n.up && n.role == Role::Standby
            })
            && also(&topo);
        if ok {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "topology did not settle: {topo:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A cluster over the rig's own ports, probing every `interval`, once it
/// has settled (see [`settled`]).
pub async fn settled_cluster(rig: &ReplicaSet, interval: Duration) -> Cluster {
    let cluster = builder(rig, &ports(rig))
        .monitor_interval(interval)
        .connect()
        .await
        .expect("connect the cluster");
    settled(&cluster).await;
    cluster
}

/// Waits until the rig's first node is the primary and the other two are
/// up as standbys.
pub async fn settled(cluster: &Cluster) {
    settled_with(cluster, 0, &[1, 2], |_| true).await;
}

/// A loopback TCP proxy that delays what the server sends by a settable
/// number of milliseconds (the latency of a far zone).
pub struct DelayProxy {
    pub port: u16,
    delay_ms: Arc<AtomicU64>,
}

impl DelayProxy {
    pub async fn start(upstream: u16, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let delays = Arc::clone(&delay_ms);
        let upstream: SocketAddr = ([127, 0, 0, 1], upstream).into();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let delays = Arc::clone(&delays);
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut cr, &mut sw).await;
                        let _ = sw.shutdown().await;
                    });
                    // Each chunk is delivered `delay` after it arrived, not
                    // `delay` after the previous one went out: a pipelined
                    // burst of replies crosses in one delay, as over a
                    // long link.
                    let (tx, mut rx) =
                        tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
                    let reader = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let ms = delays.load(Ordering::Relaxed);
                            let due = tokio::time::Instant::now() + Duration::from_millis(ms);
                            if tx.send((due, buf[..n].to_vec())).is_err() {
                                break;
                            }
                        }
                    });
                    while let Some((due, chunk)) = rx.recv().await {
                        tokio::time::sleep_until(due).await;
                        if cw.write_all(&chunk).await.is_err() {
                            break;
                        }
                    }
                    reader.abort();
                    up.abort();
                });
            }
        });
        Self { port, delay_ms }
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }
}

/// What a [`RoundTripProxy`] counted on one connection.
#[derive(Debug, Default)]
struct ConnCounts {
    /// The connection carried the monitor's probe query.
    probe: std::sync::atomic::AtomicBool,
    /// Round trips: client sends that follow a reply (or open the
    /// connection). A pipelined burst in several writes is one.
    rounds: AtomicU64,
    /// Frontend messages (the startup message included).
    messages: AtomicU64,
    /// The server sent something since the client last did.
    replied: std::sync::atomic::AtomicBool,
}

/// Round trips and frontend messages counted by a [`RoundTripProxy`],
/// over the connections that are not the monitor's probe connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trips {
    pub rounds: u64,
    pub messages: u64,
}

/// A loopback TCP proxy that counts, per connection, the round trips the
/// client makes and the protocol messages it sends, telling the monitor's
/// probe connection (the one that sends `PROBE_SQL`) apart.
pub struct RoundTripProxy {
    pub port: u16,
    conns: Arc<std::sync::Mutex<Vec<Arc<ConnCounts>>>>,
}

impl RoundTripProxy {
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<std::sync::Mutex<Vec<Arc<ConnCounts>>>> = Arc::default();
        let all = Arc::clone(&conns);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counts = Arc::new(ConnCounts::default());
                all.lock().unwrap().push(Arc::clone(&counts));
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let down_counts = Arc::clone(&counts);
                    let down = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            down_counts.replied.store(true, Ordering::SeqCst);
                            if cw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = cw.shutdown().await;
                    });
                    let probe = pgline::cluster::PROBE_SQL.as_bytes();
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut frames = FrameCounter::default();
                    let mut first = true;
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buf[..n];
                        if counts.replied.swap(false, Ordering::SeqCst) || first {
                            counts.rounds.fetch_add(1, Ordering::SeqCst);
                        }
                        first = false;
                        let messages = frames.feed(chunk);
                        counts.messages.fetch_add(messages, Ordering::SeqCst);
                        if chunk.windows(probe.len()).any(|w| w == probe) {
                            counts.probe.store(true, Ordering::SeqCst);
                        }
                        if sw.write_all(chunk).await.is_err() {
                            break;
                        }
                    }
                    let _ = sw.shutdown().await;
                    let _ = down.await;
                });
            }
        });
        Self { port, conns }
    }

    /// The counts so far over every connection but the probe's.
    pub fn trips(&self) -> Trips {
        let conns = self.conns.lock().unwrap();
        let mut trips = Trips {
            rounds: 0,
            messages: 0,
        };
        for c in conns.iter().filter(|c| !c.probe.load(Ordering::SeqCst)) {
            trips.rounds += c.rounds.load(Ordering::SeqCst);
            trips.messages += c.messages.load(Ordering::SeqCst);
        }
        trips
    }
}

/// Counts the frontend messages in a byte stream fed in chunks: the
/// startup message (a length, no tag), then tag + length messages.
#[derive(Default)]
struct FrameCounter {
    started: bool,
    /// The header bytes of the message being read.
    header: Vec<u8>,
    /// Body bytes of the current message still to skip.
    skip: usize,
}

impl FrameCounter {
    fn feed(&mut self, mut chunk: &[u8]) -> u64 {
        let mut messages = 0;
        while !chunk.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(chunk.len());
                self.skip -= n;
                chunk = &chunk[n..];
                continue;
            }
            let header_len = if self.started { 5 } else { 4 };
            let need = header_len - self.header.len();
            let n = need.min(chunk.len());
            self.header.extend_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
            if self.header.len() < header_len {
                break;
            }
            let len_bytes: [u8; 4] = self.header[header_len - 4..].try_into().unwrap();
            let len = u32::from_be_bytes(len_bytes) as usize;
            // The length counts itself but not the tag.
            self.skip = len.saturating_sub(4);
            self.header.clear();
            self.started = true;
            messages += 1;
        }
        messages
    }
}
