//! The call hub ([`CallHub`]): what the dispatcher and every call task
//! share — the Call-ID registry (Call-ID -> call task, the only shared map of
//! calls), the config snapshot, the transports, metrics, media engine, limit
//! slots, overload and flood state, the live-call view and the ended calls'
//! tombstones — and the sends and lookups every call needs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::metrics::{Dir, Metrics};
use crate::policy::{NumberTable, TrunkTable};

use super::limits::Limits;
use crate::sip::{Message, Method, ParseOptions};
use crate::transaction::TimerConfig;
use crate::transport::{ConnId, Target, TransportKind, Transports};

/// Where and how a message reached us.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub source: SocketAddr,
    pub local: SocketAddr,
    pub kind: TransportKind,
    pub conn: Option<ConnId>,
}

impl Arrival {
    /// The flow back to the sender: same transport, same connection (RFC 3261 §18.2.2).
    pub fn flow(&self) -> Target {
        Target {
            kind: self.kind,
            addr: self.source,
            conn: self.conn,
        }
    }
}

/// What the dispatcher hands a call task.
pub enum CallEvent {
    /// Boxed whole so a channel slot is one pointer: every call's channel
    /// preallocates a block of slots, and calls linger after they end.
    Sip(Box<(Message, Arrival)>),
    /// End the call now (operator request).
    Hangup,
    /// From the call's media task.
    Media(crate::media::relay::MediaEvent),
}

pub type CallSender = mpsc::Sender<CallEvent>;

pub use super::live::{LiveCall, LiveLeg, LiveLegs};

/// A policy snapshot: swapped atomically when trunks change; readers never see half of one.
pub struct Snapshot {
    pub config: Arc<Config>,
    pub trunks: TrunkTable,
    pub numbers: NumberTable,
}

impl Snapshot {
    pub fn new(config: Arc<Config>) -> Snapshot {
        let trunks = TrunkTable::new(&config.trunks);
        let numbers = NumberTable::new(&config.numbers);
        Snapshot {
            config,
            trunks,
            numbers,
        }
    }
}

/// Hashes Call-IDs for the hub's tables: foldhash, seeded at random per
/// process and per table (the keys are attacker-chosen).
pub type CallIdHasher = foldhash::fast::RandomState;

/// The call hub: one per gateway (built by `gateway.rs`, held in an `Arc` by
/// the dispatcher, every call task, the API and the reload).
pub struct CallHub {
    pub snapshot: ArcSwap<Snapshot>,
    /// Call-ID (either leg) -> the task that owns that call. Call-IDs are
    /// chosen by whoever sends: keyed per process (foldhash's random seed),
    /// a few times cheaper a lookup than SipHash on every message.
    pub calls: DashMap<Bytes, CallSender, CallIdHasher>,
    /// Ended calls still answering retransmissions, by Call-ID.
    pub linger: Arc<super::linger::Linger>,
    /// Calls not yet ended, by the caller leg's Call-ID (for the live-call API).
    pub live: DashMap<String, LiveCall, CallIdHasher>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub flood: super::intake::flood::FloodGuard,
    /// Set on graceful shutdown: new calls are refused with 503, live calls go on.
    pub draining: std::sync::atomic::AtomicBool,
    /// Overload control: new INVITEs shed while the gateway cannot keep up.
    pub overload: Arc<super::intake::overload::Overload>,
    /// RFC 3263 resolution; replaced when a reload changes `[dns]`.
    pub resolver: ArcSwap<crate::resolve::Resolver>,
    pub timers: TimerConfig,
    pub udp_parse: ParseOptions,
    pub tcp_parse: ParseOptions,
    transports: OnceLock<Arc<Transports>>,
    call_log: OnceLock<crate::store::CallLogWriter>,
    pub(crate) recent_rejects: std::sync::Mutex<super::intake::recent_rejects::RecentRejects>,
    advertised: Option<String>,
    next_id: AtomicU64,
    /// The media relay engine (port range, recorder).
    pub media: Arc<crate::media::Media>,
    /// Call-flow workers (gRPC): `None` until first built (lazily, inside the
    /// runtime); rebuilt by a reload.
    flow: arc_swap::ArcSwapOption<Option<crate::flow::FlowPool>>,
    /// Health of each carrier (by name), from its OPTIONS pings; replaced on reload.
    pub(crate) carrier_health: ArcSwap<super::health::board::Board>,
}

impl CallHub {
    /// RFC 5922 §4: a TLS destination named by host is verified against that host name
    /// (the name before SRV, as RFC 5922 §4.2 asks), not against the address it resolved to.
    pub(crate) fn expect_tls_name(&self, dest: &crate::resolve::Destination, addr: SocketAddr) {
        let crate::resolve::Host::Name(name) = &dest.host else {
            return;
        };
        let Some(ctx) = self.transports().and_then(|t| t.tls().cloned()) else {
            return;
        };
        if let Err(e) = ctx.set_server_name(addr, name) {
            tracing::warn!(error = %e, "TLS server name not usable");
        }
    }

    pub fn new(config: Arc<Config>, metrics: Arc<Metrics>) -> CallHub {
        let timers = TimerConfig {
            t1: config.sip.t1,
            t2: config.sip.t2,
            t4: config.sip.t4,
        };
        let max = config.sip.max_message_size;
        let advertised = config.sip.advertised_address.clone();
        let resolver = crate::resolve::Resolver::new(&resolver_config(&config.dns))
            .or_else(|e| {
                tracing::error!(error = %e, "DNS resolver config unusable; falling back to a static empty table");
                crate::resolve::Resolver::new(&crate::resolve::ResolverConfig::Static(Default::default()))
            })
            .expect("an empty static table always builds");
        let media = crate::media::Media::with_fd_reserve(
            config.media.clone(),
            metrics.media.clone(),
            crate::process_metrics::descriptors_reserved(&config),
        );
        let overload = Arc::new(super::intake::overload::Overload::new(config.overload));
        CallHub {
            overload,
            carrier_health: ArcSwap::from_pointee(super::health::board::Board::default()),
            media,
            flow: arc_swap::ArcSwapOption::empty(),
            snapshot: ArcSwap::from_pointee(Snapshot::new(config)),
            calls: DashMap::with_hasher(CallIdHasher::default()),
            linger: Arc::new(super::linger::Linger::new(metrics.calls_lingering.clone())),
            live: DashMap::with_hasher(CallIdHasher::default()),
            metrics,
            limits: Limits::default(),
            flood: Default::default(),
            draining: std::sync::atomic::AtomicBool::new(false),
            resolver: ArcSwap::from_pointee(resolver),
            timers,
            udp_parse: ParseOptions {
                max_size: max,
                stream: false,
            },
            tcp_parse: ParseOptions {
                max_size: max,
                stream: true,
            },
            transports: OnceLock::new(),
            call_log: OnceLock::new(),
            recent_rejects: Default::default(),
            advertised,
            next_id: AtomicU64::new(1),
        }
    }

    /// Swaps in a new routing snapshot with these trunks and numbers (the
    /// rest of the config unchanged). Calls admitted from now on see them;
    /// calls already running keep the snapshot they started with.
    pub fn replace_routing(
        &self,
        trunks: Vec<crate::config::Trunk>,
        numbers: Vec<crate::config::Number>,
    ) {
        let mut config = Config::clone(&self.snapshot.load().config);
        config.trunks = trunks;
        config.numbers = numbers;
        self.snapshot
            .store(Arc::new(Snapshot::new(Arc::new(config))));
    }

    /// The call-flow worker pool (`None` when its config cannot build one,
    /// logged). Must be first called inside the runtime.
    pub fn flow(&self) -> Option<crate::flow::FlowPool> {
        if let Some(p) = self.flow.load_full() {
            return Option::clone(&p);
        }
        let built = Arc::new(self.build_flow());
        // Two first callers racing build two pools; the first stored wins.
        let prev = self
            .flow
            .compare_and_swap(&None::<Arc<_>>, Some(Arc::clone(&built)));
        match prev.as_ref() {
            Some(p) => Option::clone(p),
            None => Option::clone(&built),
        }
    }

    /// Rebuilds the worker pool from the current snapshot's `[flow]` (reload).
    /// Calls already talking to a worker keep their stream.
    pub fn rebuild_flow(&self) {
        self.flow.store(Some(Arc::new(self.build_flow())));
    }

    fn build_flow(&self) -> Option<crate::flow::FlowPool> {
        let settings = self.snapshot.load().config.flow.clone();
        match crate::flow::FlowPool::new(settings, Some(self.metrics.flow.clone())) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::error!(error = %e, "call-flow workers unusable");
                None
            }
        }
    }

    /// Carriers (inbound sources and signaling addresses), trunk CIDRs and Twilio
    /// ranges: not subject to the flood limit, and served from the reserved part of the
    /// TCP pool (read from the current snapshot, so reloads and API changes apply).
    pub fn is_trusted_source(&self, source: SocketAddr) -> bool {
        let snap = self.snapshot.load();
        let ip = source.ip();
        snap.trunks.knows_source(ip)
            || crate::policy::carrier_for_source(&snap.config.carriers, source).is_some()
            // A carrier sends BYEs and re-INVITEs for every call from its signaling address.
            || snap.config.carriers.iter().any(|c| c.address.ip() == ip)
            || snap
                .config
                .twilio
                .signaling_ranges
                .iter()
                .any(|n| n.contains(&ip))
    }

    pub fn set_transports(&self, t: Arc<Transports>) {
        let _ = self.transports.set(t);
    }

    pub fn set_call_log(&self, w: crate::store::CallLogWriter) {
        let _ = self.call_log.set(w);
    }

    pub fn call_log(&self) -> Option<&crate::store::CallLogWriter> {
        self.call_log.get()
    }

    pub fn transports(&self) -> Option<&Arc<Transports>> {
        self.transports.get()
    }

    pub fn next_call_number(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// host:port we put in Via sent-by and Contact for messages leaving on `kind` toward `peer`.
    pub fn sent_by(&self, kind: TransportKind, peer: &SocketAddr) -> String {
        if let Some(a) = &self.advertised {
            return a.clone();
        }
        let local = self
            .transports()
            .and_then(|t| t.local_addr(kind, peer.is_ipv6()));
        match local {
            Some(a) if !a.ip().is_unspecified() => crate::sip::addr_text::socket_addr(&a),
            Some(a) => crate::sip::addr_text::socket_addr(&SocketAddr::new(peer.ip(), a.port())),
            None => "invalid".to_string(),
        }
    }

    /// Sends a message, counting it. Errors are logged and returned.
    pub async fn send(&self, target: &Target, data: Bytes, what: Outgoing<'_>) -> bool {
        let Some(t) = self.transports() else {
            return false;
        };
        if let (TransportKind::Udp, Outgoing::Request(m)) = (target.kind, &what) {
            let limit = self.snapshot.load().config.sip.udp_request_limit();
            if data.len() > limit {
                // RFC 3261 §18.1.1: never a request datagram over the limit.
                tracing::debug!(peer = %target.addr, size = data.len(), limit, method = m.as_str(), "request too big for UDP: not sent");
                self.metrics.udp_oversize_refused.inc();
                return false;
            }
        }
        self.count_out(what);
        if target.kind == TransportKind::Udp {
            match t.try_send_udp(target.addr, &data) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!(peer = %target.addr, error = %e, "udp send failed");
                    return false;
                }
            }
        }
        match t.send(target, data).await {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(peer = %target.addr, error = %e, "send failed");
                false
            }
        }
    }

    /// Sends a response without waiting (from the synchronous dispatcher).
    pub fn send_detached(self: &Arc<Self>, target: Target, data: Bytes, code: u16) {
        self.send_now(target, data, Outgoing::Response(code));
    }

    /// Sends without waiting: UDP fast path, else a spawned send.
    pub fn send_now(self: &Arc<Self>, target: Target, data: Bytes, what: Outgoing<'static>) {
        let Some(t) = self.transports() else { return };
        if target.kind == TransportKind::Udp {
            if let Ok(true) = t.try_send_udp(target.addr, &data) {
                self.count_out(what);
                return;
            }
        }
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            hub.send(&target, data, what).await;
        });
    }

    fn count_out(&self, what: Outgoing<'_>) {
        match what {
            Outgoing::Request(m) => self.metrics.request(Dir::Out, m),
            Outgoing::Response(c) => self.metrics.response(Dir::Out, c),
        }
    }

    /// Removes a registry entry, but only if it still points at `owner` (a newer call may reuse the id).
    pub fn unregister(&self, call_id: &Bytes, owner: &CallSender) {
        self.calls.remove_if(call_id, |_, v| v.same_channel(owner));
    }
}

/// What is being sent, for the message counters.
#[derive(Clone, Copy)]
pub enum Outgoing<'a> {
    Request(&'a Method),
    Response(u16),
}

/// Random hex identifiers for tags, branches and Call-IDs.
pub fn random_hex(n_bytes: usize) -> String {
    let mut s = String::with_capacity(n_bytes.min(16) * 2);
    push_random_hex(&mut s, n_bytes);
    s
}

/// Appends `n_bytes` (at most 16) random bytes in lower-case hex to `s`.
pub fn push_random_hex(s: &mut String, n_bytes: usize) {
    use rand::RngCore;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let n = n_bytes.min(buf.len());
    rand::rng().fill_bytes(&mut buf[..n]);
    for b in &buf[..n] {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// A new RFC 3261 branch (magic cookie + 64 random bits).
pub fn new_branch() -> String {
    let mut s = String::with_capacity(7 + 16);
    s.push_str("z9hG4bK");
    push_random_hex(&mut s, 8);
    s
}

impl CallHub {
    /// Resolves a destination (`host`, `host:port`) per RFC 3263 to targets in the order to try.
    /// Empty when it cannot be resolved (the caller treats that as unreachable).
    pub async fn resolve(
        &self,
        dest: &str,
        tp: Option<TransportKind>,
    ) -> Vec<(SocketAddr, TransportKind)> {
        use crate::resolve::{parse_destination, Proto};
        let mut d = match parse_destination(dest) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(destination = dest, error = %e, "bad destination");
                return Vec::new();
            }
        };
        if let Some(tp) = tp {
            d.proto = Some(match tp {
                TransportKind::Udp => Proto::Udp,
                TransportKind::Tcp => Proto::Tcp,
                TransportKind::Tls => Proto::Tls,
            });
        }
        let resolver = self.resolver.load_full();
        match resolver.resolve(&d).await {
            Ok(targets) => targets
                .into_iter()
                .map(|t| {
                    let kind = match t.proto {
                        Proto::Udp => TransportKind::Udp,
                        Proto::Tcp => TransportKind::Tcp,
                        Proto::Tls => TransportKind::Tls,
                    };
                    if kind == TransportKind::Tls {
                        self.expect_tls_name(&d, t.addr);
                    }
                    (t.addr, kind)
                })
                .collect(),
            Err(e) => {
                tracing::info!(destination = dest, error = %e, reason = e.name(), "destination did not resolve");
                Vec::new()
            }
        }
    }
}

/// The resolver the config asks for: a static table, given nameservers, or the system's.
pub fn resolver_config(dns: &crate::config::DnsSettings) -> crate::resolve::ResolverConfig {
    use crate::resolve::{ResolverConfig, SrvRecord, StaticTable};
    if !dns.static_names.is_empty() {
        let mut t = StaticTable::default();
        for n in &dns.static_names {
            if !n.a.is_empty() {
                t.a.entry(n.name.clone())
                    .or_default()
                    .extend(n.a.iter().copied());
            }
            for (priority, weight, port, target) in &n.srv {
                t.srv.entry(n.name.clone()).or_default().push(SrvRecord {
                    priority: *priority,
                    weight: *weight,
                    port: *port,
                    target: target.clone(),
                });
            }
        }
        return ResolverConfig::Static(t);
    }
    if !dns.nameservers.is_empty() {
        return ResolverConfig::Nameservers(dns.nameservers.clone());
    }
    ResolverConfig::System
}

impl CallHub {
    /// Asks the call whose caller-leg Call-ID is `call_id` to hang up. False when there is none.
    pub fn hangup(&self, call_id: &str) -> bool {
        if !self.live.contains_key(call_id) {
            return false;
        }
        let key = Bytes::copy_from_slice(call_id.as_bytes());
        match self.calls.get(&key).map(|e| e.value().clone()) {
            Some(tx) => tx.try_send(CallEvent::Hangup).is_ok(),
            None => false,
        }
    }
}
