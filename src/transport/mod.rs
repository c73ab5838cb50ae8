//! SIP transports (RFC 3261 §18): UDP datagrams, TCP and TLS streams over IPv4 and IPv6.
//!
//! The transport moves bytes. It frames TCP streams by Content-Length (`framing`), hands
//! every complete message to a [`Handler`] as `Bytes`, and sends to explicit
//! [`Target`]s. It does not parse SIP beyond framing and depends on no other crate
//! module; the `sip` parser and the dispatcher sit above it.
//!
//! Defences: oversize datagrams are dropped; a TCP peer is closed on a framing error,
//! an oversize message, a message not finished within `tcp_message_timeout`, or
//! `tcp_idle_timeout` of silence; accepts beyond the total and per-source caps are
//! closed at once. A bad peer only ever loses its own connection. The caller says which
//! sources it trusts ([`SourceTrust`]): untrusted sources may hold at most
//! `tcp_max_connections - tcp_reserved_trusted` connections, and an untrusted connection
//! that sends no complete message for `tcp_untrusted_timeout` is closed, so strangers
//! filling the pool cannot lock out a carrier or a PBX.
//!
//! ```text
//!  udp.rs   socket per listen addr, `udp_workers` recv tasks ─┐
//!  tcp.rs   listener per listen addr, caps, outbound connect ─┼─► Handler::on_message
//!  conn.rs  per-connection reader (framing, timeouts) + writer ┘
//! ```

mod config;
mod conn;
mod error;
pub mod framing;
pub mod hep;
mod listener;
mod stats;
mod tcp;
mod tcp_metrics;
pub mod tls;
mod tls_metrics;
mod udp;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_tcp;
#[cfg(test)]
mod tests_udp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

pub use config::TransportConfig;
pub use error::TransportError;
pub use framing::{next_frame, Frame, Framer, FramingError};
use listener::{bind_one, spawn_listener, Listener};
pub use stats::{CloseReason, TransportStats};
pub use tcp_metrics::TcpMetrics;
pub use tls::{ClientAuth, TlsContext, TlsError, TlsSettings};
pub use tls_metrics::TlsMetrics;

/// RFC 3261 §18: the transports a gateway speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
    /// TCP with TLS on top (RFC 3261 §26.2).
    Tls,
}

impl TransportKind {
    /// The Via transport token (RFC 3261 §20.42): "UDP" / "TCP" / "TLS".
    pub fn as_str(&self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }

    /// RFC 3261 §17.1.1.2: on reliable transports Timer A is not used.
    pub fn is_reliable(&self) -> bool {
        matches!(self, TransportKind::Tcp | TransportKind::Tls)
    }
}

/// Identifies one TCP connection for the lifetime of a [`Transports`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

/// One complete message as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub data: Bytes,
    pub source: SocketAddr,
    /// The bound address (for UDP on a wildcard address: the wildcard address).
    pub local: SocketAddr,
    pub kind: TransportKind,
    /// The TCP connection it arrived on; `None` for UDP.
    pub conn: Option<ConnId>,
    /// How long it waited in the socket's receive queue before it was read
    /// (UDP: from the kernel's receive timestamp; zero where unknown, as on
    /// stream transports). The overload control's early signal.
    pub queued: std::time::Duration,
}

/// Where to send a message.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: TransportKind,
    pub addr: SocketAddr,
    /// RFC 3261 §18.2.2: a response goes back on the connection its request came on.
    pub conn: Option<ConnId>,
}

/// Which remote addresses are trusted (decided above the transport: carriers, trunk
/// CIDRs, Twilio ranges). Asked once per accepted connection.
#[derive(Clone)]
pub struct SourceTrust(Arc<dyn Fn(SocketAddr) -> bool + Send + Sync>);

impl SourceTrust {
    pub fn new(f: impl Fn(SocketAddr) -> bool + Send + Sync + 'static) -> SourceTrust {
        SourceTrust(Arc::new(f))
    }

    pub fn is_trusted(&self, peer: SocketAddr) -> bool {
        (self.0)(peer)
    }
}

impl std::fmt::Debug for SourceTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceTrust")
    }
}

/// Receives every complete message. Called inline from the receive loops: it must not
/// block (hand the message to a channel or a task).
pub trait Handler: Send + Sync + 'static {
    fn on_message(&self, msg: Received);
}

/// State shared by the transport handle and all its tasks.
pub(crate) struct Shared {
    pub cfg: TransportConfig,
    pub handler: Arc<dyn Handler>,
    pub counters: stats::Counters,
    pub conns: conn::Registry,
    pub next_conn: AtomicU64,
    /// Reference point for the millisecond activity stamps of connections.
    pub epoch: Instant,
    pub shut: AtomicBool,
    pub shutdown_tx: watch::Sender<bool>,
}

/// All bound transports of the gateway.
pub struct Transports {
    shared: Arc<Shared>,
    /// The UDP sockets, swapped as a whole when listeners change (reload);
    /// read lock-free on every send.
    udp: ArcSwap<Vec<Arc<udp::UdpEndpoint>>>,
    /// Every bound address, in `listen` order per kind (UDP first); read per
    /// call for Via/Contact.
    addrs: ArcSwap<Vec<(TransportKind, SocketAddr)>>,
    /// The listeners, in `listen` order: what [`Transports::set_listeners`] diffs.
    listeners: Mutex<Vec<Listener>>,
    /// Tasks that are not a listener's (the TLS file watcher).
    tasks: Mutex<Vec<AbortHandle>>,
}

/// RFC 4291 §2.5.5.2: treat an IPv4-mapped IPv6 address as the IPv4 address.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Transports {
    /// Binds every listen address and spawns the receive/accept loops.
    pub async fn bind(
        cfg: TransportConfig,
        handler: Arc<dyn Handler>,
    ) -> Result<Arc<Transports>, TransportError> {
        if cfg.max_message_size == 0 {
            return Err(TransportError::Config("max_message_size must be > 0"));
        }
        let (shutdown_tx, _) = watch::channel(false);
        let handler: Arc<dyn Handler> = match &cfg.capture {
            Some(capture) => Arc::new(hep::CapturingHandler {
                inner: handler,
                capture: Arc::clone(capture),
            }),
            None => handler,
        };
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            handler,
            counters: stats::Counters::default(),
            conns: conn::Registry::default(),
            next_conn: AtomicU64::new(1),
            epoch: Instant::now(),
            shut: AtomicBool::new(false),
            shutdown_tx,
        });
        // Bind everything before any loop runs: a failure leaves nothing behind.
        let mut bound = Vec::new();
        for &(kind, addr) in &cfg.listen {
            bound.push((kind, addr, bind_one(kind, addr, &cfg)?));
        }
        let listeners: Vec<Listener> = bound
            .into_iter()
            .map(|(kind, addr, b)| spawn_listener(&shared, kind, addr, b))
            .collect();
        let mut tasks = Vec::new();
        if let Some(ctx) = &cfg.tls {
            let task = tokio::spawn(tls::watch_files(Arc::downgrade(ctx)));
            tasks.push(task.abort_handle());
        }
        let t = Arc::new(Transports {
            shared,
            udp: ArcSwap::from_pointee(Vec::new()),
            addrs: ArcSwap::from_pointee(Vec::new()),
            listeners: Mutex::new(Vec::new()),
            tasks: Mutex::new(tasks),
        });
        t.publish(listeners);
        Ok(t)
    }

    /// Makes `listeners` the current set: the UDP send sockets and the
    /// advertised addresses follow it.
    fn publish(&self, listeners: Vec<Listener>) {
        let udp = listeners.iter().filter_map(|l| l.udp.clone()).collect();
        let mut addrs = Vec::with_capacity(listeners.len());
        for kind in [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls] {
            addrs.extend(
                listeners
                    .iter()
                    .filter(|l| l.kind == kind)
                    .map(|l| (kind, l.local)),
            );
        }
        self.udp.store(Arc::new(udp));
        self.addrs.store(Arc::new(addrs));
        *lock(&self.listeners) = listeners;
    }

    /// Reload: listens on exactly `want`. Listeners whose (transport, configured
    /// address) is unchanged keep their socket; removed ones stop receiving and
    /// accepting (connections they accepted carry on until closed); new ones
    /// are bound. Returns the errors of the ones that could not be bound (the
    /// rest is applied).
    pub fn set_listeners(&self, want: &[(TransportKind, SocketAddr)]) -> Vec<TransportError> {
        let mut errors = Vec::new();
        if self.shared.shut.load(Ordering::SeqCst) {
            return errors;
        }
        let mut old = std::mem::take(&mut *lock(&self.listeners));
        let mut next = Vec::with_capacity(want.len());
        let mut binds = Vec::new();
        for &(kind, addr) in want {
            if next
                .iter()
                .any(|l: &Listener| l.kind == kind && l.configured == addr)
            {
                continue;
            }
            if let Some(i) = old
                .iter()
                .position(|l| l.kind == kind && l.configured == addr)
            {
                next.push(old.swap_remove(i));
            } else {
                binds.push((kind, addr));
            }
        }
        // Close the removed ones first, so a listener moved to another
        // transport on the same port can bind.
        for l in old {
            for t in &l.tasks {
                t.abort();
            }
            tracing::info!(transport = l.kind.as_str(), addr = %l.local, "SIP listener closed (reload)");
        }
        for (kind, addr) in binds {
            match bind_one(kind, addr, &self.shared.cfg) {
                Ok(b) => {
                    let l = spawn_listener(&self.shared, kind, addr, b);
                    tracing::info!(transport = kind.as_str(), addr = %l.local, "SIP listening (reload)");
                    next.push(l);
                }
                Err(e) => errors.push(e),
            }
        }
        // Keep `listen` order.
        next.sort_by_key(|l| {
            want.iter()
                .position(|&(k, a)| k == l.kind && a == l.configured)
                .unwrap_or(usize::MAX)
        });
        self.publish(next);
        errors
    }

    /// The bound address of the first listener of `kind` in the given family.
    pub fn local_addr(&self, kind: TransportKind, ipv6: bool) -> Option<SocketAddr> {
        self.addrs
            .load()
            .iter()
            .find(|&&(k, a)| k == kind && a.is_ipv6() == ipv6)
            .map(|&(_, a)| a)
    }

    /// Every bound address, in `listen` order per kind (UDP first).
    pub fn local_addrs(&self) -> Vec<(TransportKind, SocketAddr)> {
        self.addrs.load().to_vec()
    }

    /// Sends one message. For TCP, `Ok` means queued on a live connection (RFC 3261
    /// §18.2.2 order: the given connection, else one to `target.addr`, else a new one).
    pub async fn send(&self, target: &Target, data: Bytes) -> Result<(), TransportError> {
        if data.len() > self.shared.cfg.max_message_size {
            return Err(TransportError::TooLarge);
        }
        let copy = self.shared.cfg.capture.is_some().then(|| data.clone());
        let r = match target.kind {
            TransportKind::Udp => {
                let addr = canonical(target.addr);
                let eps = self.udp.load_full();
                udp::send(&self.shared, &eps, addr, &data).await
            }
            TransportKind::Tcp => tcp::send(&self.shared, target, data).await,
            TransportKind::Tls => tls::send(&self.shared, target, data).await,
        };
        if let (Ok(()), Some(copy)) = (&r, copy) {
            self.capture_sent(target.kind, target.addr, &copy);
        }
        r
    }

    /// HEP copy of a message sent to `to` (from our bound address of that kind).
    fn capture_sent(&self, kind: TransportKind, to: SocketAddr, data: &[u8]) {
        if let Some(c) = &self.shared.cfg.capture {
            let from = self
                .local_addr(kind, to.is_ipv6())
                .unwrap_or_else(|| SocketAddr::new(to.ip(), 0));
            c.capture(kind, from, to, data);
        }
    }

    /// Re-reads the TLS certificate, key and CA files now (the reload hook, e.g. on
    /// SIGHUP). New handshakes use them; open connections keep their session. Without
    /// `[tls]` this does nothing.
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        match &self.shared.cfg.tls {
            Some(ctx) => ctx.reload(),
            None => Ok(()),
        }
    }

    /// Whether the client certificate verified on TLS connection `conn` is valid for
    /// `name` (a DNS name or IP, matched against its subjectAltNames like a server
    /// name). False without a connection, a certificate or a match.
    pub fn tls_client_valid_for(&self, conn: Option<ConnId>, name: &str) -> bool {
        let Some(cert) = conn.and_then(|c| self.shared.conns.peer_certs.get(&c)) else {
            return false;
        };
        let Ok(sn) = rustls_pki_types::ServerName::try_from(name) else {
            return false;
        };
        webpki::EndEntityCert::try_from(&*cert)
            .and_then(|ee| ee.verify_is_valid_for_subject_name(&sn))
            .is_ok()
    }

    /// The TLS context, to register the server name expected at a peer address.
    pub fn tls(&self) -> Option<&Arc<TlsContext>> {
        self.shared.cfg.tls.as_ref()
    }

    /// Non-blocking UDP send: `Ok(false)` means the socket buffer is full (use `send`).
    pub fn try_send_udp(&self, addr: SocketAddr, data: &[u8]) -> Result<bool, TransportError> {
        if data.len() > self.shared.cfg.max_message_size {
            return Err(TransportError::TooLarge);
        }
        let r = udp::try_send(&self.shared, &self.udp.load(), canonical(addr), data);
        if let Ok(true) = r {
            self.capture_sent(TransportKind::Udp, addr, data);
        }
        r
    }

    /// Stops accepting and receiving and closes every TCP connection. UDP sockets stay
    /// open for sending until the `Transports` is dropped; new TCP connects are refused.
    pub fn shutdown(&self) {
        self.shared.shut.store(true, Ordering::SeqCst);
        self.shared.shutdown_tx.send_replace(true);
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        for l in lock(&self.listeners).iter_mut() {
            tasks.append(&mut l.tasks);
        }
        for task in tasks {
            task.abort();
        }
    }

    /// Open TCP connections, accepted and outbound.
    pub fn tcp_connection_count(&self) -> usize {
        self.shared.conns.count()
    }

    pub fn stats(&self) -> TransportStats {
        self.shared.counters.snapshot()
    }
}

impl Drop for Transports {
    fn drop(&mut self) {
        self.shutdown();
    }
}
