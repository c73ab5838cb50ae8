//! One TCP or TLS connection: a reader task (framing, keep-alives, idle and per-message
//! timeouts) and a writer task fed by a bounded queue, plus the registry that maps
//! connection ids and remote addresses to writers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use dashmap::DashMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};
use tokio::task::AbortHandle;
use tokio::time::{sleep_until, Instant};
use tracing::debug;

use super::framing::{Frame, Framer, FramingError};
use super::stats::{inc, CloseReason, Counters};
use super::{ConnId, Received, Shared, TransportConfig, TransportError, TransportKind};

/// Messages queued per connection; a full queue is reported as `QueueFull`, never waited on.
const SEND_QUEUE: usize = 1024;
const READ_CHUNK: usize = 8192;
/// RFC 5626 §3.5.1: the "pong" answering a "\r\n\r\n" ping.
const PONG: &[u8] = b"\r\n";

pub(crate) enum Admit {
    Yes,
    TooManyTotal,
    TooManyFromSource,
    /// Untrusted, and the untrusted share (`max - reserved`) is taken.
    ReservedForTrusted,
}

#[derive(Default)]
pub(crate) struct Registry {
    writers: DashMap<ConnId, mpsc::Sender<Bytes>>,
    by_addr: DashMap<(TransportKind, SocketAddr), ConnId>,
    per_ip: DashMap<IpAddr, usize>,
    total: AtomicUsize,
    /// Accepted connections from untrusted sources (part of `total`).
    untrusted: AtomicUsize,
    /// TLS connections whose client presented a verified certificate: its leaf.
    pub peer_certs: DashMap<ConnId, rustls_pki_types::CertificateDer<'static>>,
}

impl Registry {
    pub fn count(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    /// Reserves a slot for an accepted connection, or says which cap it would exceed.
    /// Untrusted sources share `tcp_max_connections - tcp_reserved_trusted` slots.
    pub fn admit(&self, ip: IpAddr, trusted: bool, cfg: &TransportConfig) -> Admit {
        if !trusted {
            let share = cfg
                .tcp_max_connections
                .saturating_sub(cfg.tcp_reserved_trusted);
            if self.untrusted.fetch_add(1, Ordering::SeqCst) >= share {
                self.untrusted.fetch_sub(1, Ordering::SeqCst);
                return Admit::ReservedForTrusted;
            }
        }
        let undo_untrusted = || {
            if !trusted {
                self.untrusted.fetch_sub(1, Ordering::SeqCst);
            }
        };
        if self.total.fetch_add(1, Ordering::SeqCst) >= cfg.tcp_max_connections {
            self.total.fetch_sub(1, Ordering::SeqCst);
            undo_untrusted();
            return Admit::TooManyTotal;
        }
        let mut n = self.per_ip.entry(ip).or_insert(0);
        if *n >= cfg.tcp_max_per_source {
            drop(n);
            self.per_ip.remove_if(&ip, |_, n| *n == 0);
            self.total.fetch_sub(1, Ordering::SeqCst);
            undo_untrusted();
            return Admit::TooManyFromSource;
        }
        *n += 1;
        Admit::Yes
    }

    /// Reserves a slot for an outbound connection (not capped: we chose to open it).
    pub fn count_outbound(&self) {
        self.total.fetch_add(1, Ordering::SeqCst);
    }

    /// Gives back a slot reserved by `admit` (`inbound`) or `count_outbound` for a
    /// connection that never started (a failed TLS handshake).
    pub fn release(&self, ip: IpAddr, inbound: bool, trusted: bool) {
        if inbound && !trusted {
            self.untrusted.fetch_sub(1, Ordering::SeqCst);
        }
        if inbound {
            if let Some(mut n) = self.per_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
            }
            self.per_ip.remove_if(&ip, |_, n| *n == 0);
        }
        self.total.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn by_addr(&self, kind: TransportKind, addr: SocketAddr) -> Option<ConnId> {
        self.by_addr.get(&(kind, addr)).map(|id| *id)
    }

    pub fn try_send(&self, id: ConnId, data: Bytes, c: &Counters) -> Result<(), TransportError> {
        let tx = self
            .writers
            .get(&id)
            .map(|tx| tx.clone())
            .ok_or(TransportError::ConnectionClosed)?;
        match tx.try_send(data) {
            Ok(()) => {
                inc(&c.tcp_messages_out);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                inc(&c.tcp_queue_full);
                Err(TransportError::QueueFull)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(TransportError::ConnectionClosed),
        }
    }
}

/// Releases everything a connection holds when its reader task ends or is dropped.
struct Guard {
    shared: Arc<Shared>,
    id: ConnId,
    peer: SocketAddr,
    kind: TransportKind,
    inbound: bool,
    trusted: bool,
    writer: Option<AbortHandle>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let reg = &self.shared.conns;
        reg.writers.remove(&self.id);
        reg.peer_certs.remove(&self.id);
        reg.by_addr
            .remove_if(&(self.kind, self.peer), |_, id| *id == self.id);
        reg.release(self.peer.ip(), self.inbound, self.trusted);
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
    }
}

/// How a connection came to be: accepted (from a trusted source or not) or opened by us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Accepted { trusted: bool },
    Outbound,
}

impl Origin {
    fn inbound(self) -> bool {
        matches!(self, Origin::Accepted { .. })
    }

    fn trusted(self) -> bool {
        !matches!(self, Origin::Accepted { trusted: false })
    }
}

/// Registers a connection whose slot was already counted (`admit`/`count_outbound`)
/// and starts its reader and writer. Messages read from it go to the handler.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    origin: Origin,
) -> ConnId {
    let unspecified = match peer {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let local = stream
        .local_addr()
        .unwrap_or(SocketAddr::new(unspecified, 0));
    // SIP messages are small and latency-bound; best effort.
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    spawn_io(shared, rd, wr, peer, local, origin, TransportKind::Tcp)
}

/// Starts the reader and writer of an established stream (plain TCP halves or the
/// halves of a TLS session); the slot was counted by `admit`/`count_outbound`.
pub(crate) fn spawn_io<R, W>(
    shared: &Arc<Shared>,
    rd: R,
    wr: W,
    peer: SocketAddr,
    local: SocketAddr,
    origin: Origin,
    kind: TransportKind,
) -> ConnId
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let id = ConnId(shared.next_conn.fetch_add(1, Ordering::Relaxed));
    let mut guard = Guard {
        shared: shared.clone(),
        id,
        peer,
        kind,
        inbound: origin.inbound(),
        trusted: origin.trusted(),
        writer: None,
    };
    let (tx, rx) = mpsc::channel(SEND_QUEUE);
    let activity = Arc::new(AtomicU64::new(millis_since(shared.epoch)));
    let write_failed = Arc::new(Notify::new());
    let writer = tokio::spawn(write_loop(
        shared.clone(),
        wr,
        rx,
        activity.clone(),
        write_failed.clone(),
    ));
    guard.writer = Some(writer.abort_handle());
    shared.conns.writers.insert(id, tx.clone());
    shared.conns.by_addr.insert((kind, peer), id);
    let conn = Conn {
        shared: shared.clone(),
        id,
        peer,
        local,
        kind,
        untrusted: !origin.trusted(),
        pong: tx,
        activity,
        write_failed,
    };
    tokio::spawn(async move {
        let _guard = guard;
        let reason = conn.read_loop(rd).await;
        conn.shared.counters.closed(reason);
        debug!(peer = %conn.peer, conn = conn.id.0, reason = reason.name(), "TCP connection closed");
    });
    id
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

async fn write_loop<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    mut wr: W,
    mut rx: mpsc::Receiver<Bytes>,
    activity: Arc<AtomicU64>,
    write_failed: Arc<Notify>,
) {
    while let Some(data) = rx.recv().await {
        // flush: a TLS session buffers records until flushed (a no-op on plain TCP).
        let written = match wr.write_all(&data).await {
            Ok(()) => wr.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            debug!(error = %e, "TCP write failed");
            write_failed.notify_one();
            return;
        }
        activity.store(millis_since(shared.epoch), Ordering::Relaxed);
    }
}

struct Conn {
    shared: Arc<Shared>,
    id: ConnId,
    peer: SocketAddr,
    local: SocketAddr,
    kind: TransportKind,
    /// Accepted from an untrusted source: closed after `tcp_untrusted_timeout` without a message.
    untrusted: bool,
    pong: mpsc::Sender<Bytes>,
    activity: Arc<AtomicU64>,
    write_failed: Arc<Notify>,
}

impl Conn {
    fn deadline(&self, msg_started: Option<Instant>, last_msg: Instant) -> Instant {
        let cfg = &self.shared.cfg;
        let last = Duration::from_millis(self.activity.load(Ordering::Relaxed));
        let mut idle = self.shared.epoch + last + cfg.tcp_idle_timeout;
        if self.untrusted {
            idle = idle.min(last_msg + cfg.tcp_untrusted_timeout);
        }
        msg_started.map_or(idle, |t| idle.min(t + cfg.tcp_message_timeout))
    }

    async fn read_loop<R: AsyncRead + Unpin>(&self, mut rd: R) -> CloseReason {
        let max = self.shared.cfg.max_message_size;
        let mut shutdown = self.shared.shutdown_tx.subscribe();
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let mut framer = Framer::new();
        let mut ping = PingDetector::default();
        // When the first byte of a not yet complete message arrived.
        let mut msg_started: Option<Instant> = None;
        // When the connection opened or last delivered a complete message.
        let mut last_msg = Instant::now();
        loop {
            if *shutdown.borrow_and_update() {
                return CloseReason::Shutdown;
            }
            buf.reserve(READ_CHUNK);
            tokio::select! {
                read = rd.read_buf(&mut buf) => match read {
                    Ok(0) => return CloseReason::Eof,
                    Ok(_) => self.activity.store(millis_since(self.shared.epoch), Ordering::Relaxed),
                    Err(e) => {
                        debug!(peer = %self.peer, error = %e, "TCP read failed");
                        return CloseReason::Io;
                    }
                },
                () = sleep_until(self.deadline(msg_started, last_msg)) => {
                    let now = Instant::now();
                    let msg_timeout = self.shared.cfg.tcp_message_timeout;
                    if msg_started.is_some_and(|t| now >= t + msg_timeout) {
                        debug!(peer = %self.peer, "TCP message not completed in time");
                        return CloseReason::MessageTimeout;
                    }
                    if self.untrusted && now >= last_msg + self.shared.cfg.tcp_untrusted_timeout {
                        debug!(peer = %self.peer, "closing an untrusted TCP connection: no message in time");
                        return CloseReason::UntrustedIdle;
                    }
                    if now >= self.deadline(None, last_msg) {
                        return CloseReason::Idle;
                    }
                    continue; // a write moved the idle deadline
                }
                () = self.write_failed.notified() => return CloseReason::Io,
                _ = shutdown.changed() => return CloseReason::Shutdown,
            }
            let mut completed = false;
            loop {
                match framer.next(&buf, max) {
                    Ok(Frame::Message(n)) => {
                        ping = PingDetector::default();
                        completed = true;
                        last_msg = Instant::now();
                        self.deliver(buf.split_to(n).freeze());
                    }
                    Ok(Frame::KeepAlive(n)) => {
                        if ping.feed(&buf[..n]) {
                            inc(&self.shared.counters.tcp_keepalive_pings);
                            let _ = self.pong.try_send(Bytes::from_static(PONG));
                        }
                        buf.advance(n);
                    }
                    Ok(Frame::Incomplete) => break,
                    Err(e) => {
                        debug!(peer = %self.peer, error = e.name(), "closing TCP connection: framing error");
                        return match e {
                            FramingError::TooLarge => CloseReason::TooLarge,
                            _ => CloseReason::Framing,
                        };
                    }
                }
            }
            if buf.is_empty() {
                msg_started = None;
            } else if completed || msg_started.is_none() {
                msg_started = Some(Instant::now());
            }
        }
    }

    fn deliver(&self, data: Bytes) {
        inc(&self.shared.counters.tcp_messages_in);
        self.shared.handler.on_message(Received {
            data,
            source: self.peer,
            local: self.local,
            kind: self.kind,
            conn: Some(self.id),
            queued: std::time::Duration::ZERO,
        });
    }
}

/// Recognises "\r\n\r\n" pings (RFC 5626 §3.5.1) across reads; a lone "\r\n" (a pong
/// from the peer) is not answered.
#[derive(Default)]
struct PingDetector {
    matched: usize,
}

impl PingDetector {
    /// Feeds skipped keep-alive bytes; true when a complete ping was seen.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        const PING: &[u8; 4] = b"\r\n\r\n";
        let mut seen = false;
        for &b in bytes {
            if b == PING[self.matched] {
                self.matched += 1;
            } else {
                self.matched = usize::from(b == b'\r');
            }
            if self.matched == PING.len() {
                seen = true;
                self.matched = 0;
            }
        }
        seen
    }
}
