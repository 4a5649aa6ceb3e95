//! The listener the server accepts through: at most `max_connections` at once (the next waits
//! for one to close), and every connection closed when it sends nothing for `idle_timeout`
//! or lives longer than `max_lifetime`. A half-sent request (headers that never end, a body
//! that never comes, a trickle) therefore holds a connection for a bounded time, and a flood
//! of them cannot take every socket.

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// How many connections the sandbox serves at once, and how long one may idle or live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; the next one waits in the accept queue.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed (also an idle keep-alive one).
    pub idle_timeout: Duration,
    /// A connection is closed after this long, whatever it does (a slow trickle included).
    pub max_lifetime: Duration,
}

impl Default for ConnectionLimits {
    /// 256 connections, 10 s idle, 5 min in all.
    fn default() -> Self {
        Self {
            max_connections: 256,
            idle_timeout: Duration::from_secs(10),
            max_lifetime: Duration::from_secs(300),
        }
    }
}

/// A TCP listener with [`ConnectionLimits`].
pub(crate) struct BoundedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    limits: ConnectionLimits,
}

impl BoundedListener {
    pub(crate) fn new(inner: TcpListener, limits: ConnectionLimits) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            limits,
        }
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = BoundedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // A permit first: past the limit, connections wait in the kernel's queue.
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let now = Instant::now();
                    return (
                        BoundedStream {
                            stream,
                            _permit: permit,
                            idle_timeout: self.limits.idle_timeout,
                            idle: Box::pin(tokio::time::sleep_until(
                                now + self.limits.idle_timeout,
                            )),
                            end: Box::pin(tokio::time::sleep_until(now + self.limits.max_lifetime)),
                        },
                        addr,
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that ends when idle or too old; it holds its permit until dropped.
pub(crate) struct BoundedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    idle_timeout: Duration,
    /// Fires `idle_timeout` after the last bytes read.
    idle: Pin<Box<Sleep>>,
    /// Fires `max_lifetime` after the accept.
    end: Pin<Box<Sleep>>,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("connection {what}"))
}

impl AsyncRead for BoundedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let next = Instant::now() + self.idle_timeout;
                    self.idle.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if self.end.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(timed_out("lived too long")));
                }
                if self.idle.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(timed_out("idle too long")));
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for BoundedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.end.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(timed_out("lived too long")));
        }
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The client's address, as the handlers' `ConnectInfo` carries it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, BoundedListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, BoundedListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}
