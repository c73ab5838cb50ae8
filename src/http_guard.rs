//! Bounds on the HTTP listener, so that nobody without an API key can use up
//! the process's file descriptors (and with them new calls' media sockets,
//! SIP TCP and /metrics): at most `max_connections` open connections, at
//! most `max_per_source` per remote IP, and a connection on which no byte
//! moved for `idle_timeout` is closed — which also ends a client that
//! opened a connection and never sent (or never finished) its request
//! headers. A connection over a cap is accepted and closed at once (never
//! queued in the backlog), and counted.
//!
//! axum serves any [`Listener`]; this one wraps the TCP listener.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// The `[http]` bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    pub max_connections: usize,
    pub max_per_source: usize,
    pub idle_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 256,
            max_per_source: 32,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// The metrics the guard keeps.
#[derive(Clone, Default)]
pub struct HttpGuardMetrics {
    pub open: Gauge,
    pub refused: Counter,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A TCP listener that enforces [`HttpLimits`].
pub struct GuardedListener {
    inner: TcpListener,
    limits: HttpLimits,
    counts: Arc<Mutex<Counts>>,
    metrics: HttpGuardMetrics,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, limits: HttpLimits, metrics: HttpGuardMetrics) -> Self {
        GuardedListener {
            inner,
            limits,
            counts: Arc::default(),
            metrics,
        }
    }

    /// Takes a slot for `ip`, or None when a cap is reached.
    fn admit(&self, ip: IpAddr) -> Option<Slot> {
        let mut c = self.counts.lock().ok()?;
        let mine = c.per_ip.get(&ip).copied().unwrap_or(0);
        if c.total >= self.limits.max_connections || mine >= self.limits.max_per_source {
            return None;
        }
        c.total += 1;
        c.per_ip.insert(ip, mine + 1);
        self.metrics.open.inc();
        Some(Slot {
            ip,
            counts: Arc::clone(&self.counts),
            open: self.metrics.open.clone(),
        })
    }
}

/// A connection's place under the caps; given back when the connection is dropped.
struct Slot {
    ip: IpAddr,
    counts: Arc<Mutex<Counts>>,
    open: Gauge,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.counts.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(n) = c.per_ip.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    c.per_ip.remove(&self.ip);
                }
            }
        }
        self.open.dec();
    }
}

impl Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GuardedStream, SocketAddr) {
        loop {
            let (stream, peer) = match self.inner.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE/ENFILE and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(slot) = self.admit(peer.ip()) else {
                self.metrics.refused.inc();
                drop(stream);
                continue;
            };
            let idle = self.limits.idle_timeout;
            return (
                GuardedStream {
                    stream,
                    _slot: slot,
                    idle,
                    deadline: Box::pin(tokio::time::sleep(idle)),
                },
                peer,
            );
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted connection: closed (read/write error) once idle for too long.
pub struct GuardedStream {
    stream: TcpStream,
    _slot: Slot,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl GuardedStream {
    fn touch(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.idle);
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "http connection idle")
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, data) {
            Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.touch();
                }
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
