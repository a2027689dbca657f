//! The byte stream under a connection: TCP, a unix-domain socket, or TLS over TCP.
//!
//! Owns opening sockets (TCP_NODELAY, keepalives) and the one enum the driver
//! reads and writes. It knows nothing of the protocol.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::client::TlsStream;

/// TCP keepalive settings applied to new TCP sockets.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Keepalive {
    pub(crate) enabled: bool,
    pub(crate) idle: Option<Duration>,
    pub(crate) interval: Option<Duration>,
    pub(crate) retries: Option<u32>,
    pub(crate) user_timeout: Option<Duration>,
}

/// A connected byte stream.
#[derive(Debug)]
pub(crate) enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Socket {
    /// Connects over TCP with TCP_NODELAY and the given keepalive settings.
    pub(crate) async fn tcp(addr: SocketAddr, keepalive: &Keepalive) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let sock = socket2::SockRef::from(&stream);
        if keepalive.enabled {
            let mut params = socket2::TcpKeepalive::new();
            if let Some(idle) = keepalive.idle {
                params = params.with_time(idle);
            }
            if let Some(interval) = keepalive.interval {
                params = params.with_interval(interval);
            }
            if let Some(retries) = keepalive.retries {
                params = params.with_retries(retries);
            }
            sock.set_tcp_keepalive(&params)?;
        }
        if let Some(timeout) = keepalive.user_timeout {
            sock.set_tcp_user_timeout(Some(timeout))?;
        }
        Ok(stream)
    }

    /// Connects to the server's unix socket `<dir>/.s.PGSQL.<port>`.
    pub(crate) async fn unix(dir: &Path, port: u16) -> io::Result<UnixStream> {
        UnixStream::connect(dir.join(format!(".s.PGSQL.{port}"))).await
    }

    /// Whether the stream is encrypted.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    /// Whether [`Socket::set_receive_low_water`] can work on this stream: a
    /// plain TCP socket on Linux, whose readiness honours the mark and
    /// whose every received byte is a byte of the protocol (with TLS, what
    /// sits in the session's buffers would have to be counted too).
    pub(crate) fn has_receive_low_water(&self) -> bool {
        cfg!(target_os = "linux") && matches!(self, Self::Tcp(_))
    }

    /// Sets the socket's receive low-water mark (`SO_RCVLOWAT`): the kernel
    /// reports the socket readable, and wakes its waiter, only once `bytes`
    /// are waiting (or the peer closed, or an error is pending). A read still
    /// returns whatever is there. Lowering the mark reports readiness at once
    /// when the bytes already waiting reach the new mark (Linux 4.19 and
    /// later).
    pub(crate) fn set_receive_low_water(&self, bytes: u32) -> io::Result<()> {
        match self {
            Self::Tcp(s) => low_water::set(s, bytes),
            Self::Unix(_) | Self::Tls(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }
}

/// The one system call the socket crates do not wrap.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod low_water {
    use std::io;
    use std::os::fd::AsRawFd;

    use tokio::net::TcpStream;

    pub(super) fn set(stream: &TcpStream, bytes: u32) -> io::Result<()> {
        let value = libc::c_int::try_from(bytes)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `stream` owns an open socket for the whole call, and the
        // option value is a `c_int` on this stack frame whose exact size is
        // passed with it; the kernel only reads those bytes.
        let rc = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                std::ptr::from_ref(&value).cast::<libc::c_void>(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod low_water {
    use std::io;

    use tokio::net::TcpStream;

    pub(super) fn set(_: &TcpStream, _: u32) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

// The socket's poll methods only dispatch on the transport: inlinable
// whatever the codegen units, so the read path's cost does not move with
// the split.
impl AsyncRead for Socket {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(s) => s.is_write_vectored(),
            Self::Unix(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    /// Whether the socket becomes readable within a while. Only the "no"
    /// answer waits; it is what the kernel must give under the mark.
    async fn readable_soon(stream: &TcpStream) -> bool {
        tokio::time::timeout(Duration::from_millis(100), stream.readable())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn readiness_waits_for_the_mark_and_lowering_it_reports_what_waits() {
        let (client, mut server) = pair().await;
        let client = Socket::Tcp(client);
        assert!(client.has_receive_low_water());
        client.set_receive_low_water(64).unwrap();
        let Socket::Tcp(ref stream) = client else {
            unreachable!()
        };
        server.write_all(&[0; 10]).await.unwrap();
        assert!(
            !readable_soon(stream).await,
            "readable under the mark (10 bytes)"
        );
        // Lowering the mark reports the ten bytes already waiting.
        client.set_receive_low_water(1).unwrap();
        assert!(readable_soon(stream).await);
        let mut buf = [0; 64];
        assert_eq!(stream.try_read(&mut buf).unwrap(), 10);
        // Read until nothing is left, as the driver does: that clears the
        // runtime's readiness.
        let dry = stream.try_read(&mut buf).unwrap_err();
        assert_eq!(dry.kind(), io::ErrorKind::WouldBlock);
        // Raised again: readable only once the mark's bytes wait.
        client.set_receive_low_water(64).unwrap();
        server.write_all(&[0; 63]).await.unwrap();
        assert!(!readable_soon(stream).await, "readable under the mark");
        server.write_all(&[0; 1]).await.unwrap();
        assert!(readable_soon(stream).await);
        assert_eq!(stream.try_read(&mut buf).unwrap(), 64);
        // A closed peer is reported whatever the mark.
        server.write_all(&[0; 3]).await.unwrap();
        drop(server);
        assert!(readable_soon(stream).await);
    }

    #[tokio::test]
    async fn sockets_without_a_mark_refuse_it() {
        let (a, _b) = tokio::net::UnixStream::pair().unwrap();
        let socket = Socket::Unix(a);
        assert!(!socket.has_receive_low_water());
        let err = socket.set_receive_low_water(64).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    }
}
