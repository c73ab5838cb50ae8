//! Wiring: builds metrics, the store (call logs, trunks and numbers, seeded
//! once from the config), the call hub, the transports and the HTTP
//! listener (metrics + REST API) from a validated config, and tears them
//! down again.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::api::auth::Keys;
use crate::api::ApiState;
use crate::call::{CallHub, Dispatcher};
use crate::config::Config;
use crate::config::Transport;
use crate::metrics::Metrics;
use crate::store::{CallLogStore, CallLogWriter, TrunkStore};
use crate::transport::{TlsContext, TlsError, TransportError, TransportKind, Transports};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("SIP transport: {0}")]
    Transport(#[from] TransportError),
    #[error("HTTP listener {addr}: {source}")]
    Http {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// The Redis client could not be built (the URL is not repeated: it may hold a password).
    #[error("cluster: redis client: {0}")]
    Cluster(String),
}

/// A running gateway.
pub struct Gateway {
    hub: Arc<CallHub>,
    transports: Arc<Transports>,
    http_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    http_task: tokio::task::JoinHandle<()>,
    call_log: CallLogWriter,
    /// The PostgreSQL follow task (LISTEN/NOTIFY, periodic reload).
    follow: Option<tokio::task::JoinHandle<()>>,
}

fn log_seeded(seeded: bool, config: &Config) {
    if seeded {
        tracing::info!(
            trunks = config.trunks.len(),
            numbers = config.numbers.len(),
            "store seeded from the config"
        );
    }
}

/// The PostgreSQL follow task swaps the hub's routing snapshot.
impl crate::store::pg::Routing for CallHub {
    fn replace_routing(
        &self,
        trunks: Vec<crate::config::Trunk>,
        numbers: Vec<crate::config::Number>,
    ) {
        CallHub::replace_routing(self, trunks, numbers);
    }
}

/// The TLS context of the transports (always present: outbound TLS needs only roots),
/// with each TLS carrier's expected certificate name registered.
fn tls_context(config: &Config) -> Result<Arc<TlsContext>, TlsError> {
    let ctx = TlsContext::load(config.tls.clone())?;
    for c in &config.carriers {
        if let (Transport::Tls, Some(name)) = (c.transport, &c.tls_server_name) {
            ctx.set_server_name(c.address, name)?;
        }
    }
    Ok(ctx)
}

/// `trunkgate_trunk_call_limit` from the routing snapshot: trunks added,
/// changed or deleted through the API show at the next scrape (and each
/// trunk's one-way audio counters, from 0).
fn publish_trunk_limits(hub: &CallHub) {
    let family = &hub.metrics.trunk_call_limit;
    family.clear();
    for t in &hub.snapshot.load().config.trunks {
        hub.metrics.quality.touch_trunk(&t.trunk_id.to_string());
        if let Some(limit) = t.simultaneous_call_limit {
            family
                .get_or_create(&crate::metrics::TrunkLabels {
                    trunk: t.trunk_id.to_string(),
                })
                .set(i64::from(limit));
        }
    }
}

impl Gateway {
    pub async fn start(config: Config) -> Result<Gateway, StartError> {
        // Every series carries this node's `[cluster] node_id` (a cluster's
        // nodes are told apart in one Prometheus without relabelling).
        let mut registry = Registry::with_labels(std::iter::once((
            std::borrow::Cow::Borrowed("node_id"),
            std::borrow::Cow::Owned(config.cluster.node_id.clone()),
        )));
        let metrics = Arc::new(Metrics::register(&mut registry));
        let tcp_conns = Gauge::<i64>::default();
        registry.register(
            "trunkgate_tcp_connections",
            "Open SIP TCP connections",
            tcp_conns.clone(),
        );
        let tls_metrics = crate::transport::TlsMetrics::register(&mut registry);
        let overload_lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let overload_admit = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let invite_queue_max = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let calls_in_setup = Gauge::<i64>::default();
        let invites_pending = Gauge::<i64>::default();
        registry.register(
            "trunkgate_invites_pending",
            "INVITEs sent toward callees with no response yet (overload.max_pending_invites caps it)",
            invites_pending.clone(),
        );
        registry.register(
            "trunkgate_event_loop_lag_seconds",
            "Smoothed lateness of a 10 ms timer: how long ready work waits for a thread (overload signal)",
            overload_lag.clone(),
        );
        registry.register(
            "trunkgate_invite_queue_max_seconds",
            "Longest a new INVITE waited in the UDP receive queue since the last scrape (overload.max_queue_ms sheds above it)",
            invite_queue_max.clone(),
        );
        registry.register(
            "trunkgate_overload_admit_ratio",
            "Fraction of new INVITEs admitted by overload control (1 = all)",
            overload_admit.clone(),
        );
        registry.register(
            "trunkgate_calls_in_setup",
            "Admitted calls not yet answered or ended (overload.max_setup_calls caps it)",
            calls_in_setup.clone(),
        );
        let tcp_metrics = crate::transport::TcpMetrics::register(&mut registry);
        crate::process_metrics::register(&mut registry);
        crate::process_metrics::check_descriptors(&config);
        let http_listen = config.http.listen;
        let http_limits = config.http.limits;
        let guard_metrics = crate::http_guard::HttpGuardMetrics::default();
        registry.register(
            "trunkgate_http_connections",
            "Open HTTP connections (API and /metrics)",
            guard_metrics.open.clone(),
        );
        registry.register(
            "trunkgate_http_connections_refused",
            "HTTP connections closed at accept: over http.max_connections or http.max_per_source",
            guard_metrics.refused.clone(),
        );
        let leases = if config.cluster.redis_url.is_some() {
            let m = crate::cluster::ClusterMetrics::register(&mut registry);
            crate::cluster::Leases::start(&config.cluster, m)
                .map_err(|e| StartError::Cluster(format!("{:?}", e.kind())))?
        } else {
            None
        };
        let mut tcfg = crate::reload::transport_config(&config);
        tcfg.tls = Some(tls_context(&config)?);
        tcfg.capture = config
            .hep
            .clone()
            .and_then(crate::transport::hep::Capture::start);
        let hep = tcfg.capture.clone();
        let hep_packets = prometheus_client::metrics::family::Family::<
            crate::metrics::ResultLabels,
            prometheus_client::metrics::counter::Counter,
        >::default();
        if hep.is_some() {
            registry.register(
                "trunkgate_hep_packets",
                "HEP capture copies: sent to the collector, or dropped (queue full, send failed)",
                hep_packets.clone(),
            );
        }
        let call_log_queued = Gauge::<i64>::default();
        registry.register(
            "trunkgate_call_log_queued",
            "Call-log records accepted and not yet stored (waiting for the writer, or for the store to come back)",
            call_log_queued.clone(),
        );
        let pg = match &config.store.url {
            Some(url) => {
                let gauge = Gauge::<i64>::default();
                registry.register(
                    "trunkgate_store_up",
                    "1 while the PostgreSQL store of [store] url answers, 0 while it does not",
                    gauge.clone(),
                );
                let health = crate::store::pg::Health::new(gauge);
                Some(crate::store::pg::PgStore::new(
                    url,
                    &config.cluster.node_id,
                    health,
                )?)
            }
            None => None,
        };
        let settings = crate::store::calllog::writer::WriterSettings {
            capacity: config.store.call_log_queue,
            refusals_per_s: config.store.call_log_refusals_per_s,
            retention: (config.store.call_log_retention_days > 0).then(|| {
                std::time::Duration::from_secs(
                    u64::from(config.store.call_log_retention_days) * 86_400,
                )
            }),
        };
        // Trunks and numbers: seeded from the config once, then the store
        // is the source of truth (README: "config seed vs store").
        let (call_log, set) = match &pg {
            Some(pg) => {
                tracing::info!(server = %crate::store::pg::describe(pg.config()), "store: postgres");
                let seeded = pg.init(&config.trunks, &config.numbers).await?;
                log_seeded(seeded, &config);
                let set = pg.load().await?;
                let sink = crate::store::pg::PgLogSink::new(pg)?;
                (CallLogWriter::start_with(sink, settings), set)
            }
            None => {
                let store = CallLogStore::open(&config.store.data_dir)?
                    .with_node_id(&config.cluster.node_id);
                let call_log = CallLogWriter::start_with(store, settings);
                let mut trunk_store = TrunkStore::open(&config.store.data_dir)?;
                log_seeded(
                    trunk_store.seed_once(&config.trunks, &config.numbers)?,
                    &config,
                );
                (call_log, trunk_store.load()?)
            }
        };
        let keys = Keys::from_env(&config.api.key_hashes);
        if keys.is_empty() {
            tracing::warn!("no API key configured ([api] key_hashes or TRUNKGATE_API_KEY): every /v1 request is refused");
        }
        let hub = Arc::new(CallHub::new(Arc::new(config), metrics));
        if let Some(l) = leases {
            hub.limits.set_cluster(l);
        }
        let (trunks, numbers) = set.routing();
        hub.replace_routing(trunks, numbers);
        hub.set_call_log(call_log.clone());
        let follow = pg.as_ref().map(|pg| {
            tokio::spawn(crate::store::pg::follow(
                pg.clone(),
                Arc::downgrade(&hub),
                set,
            ))
        });
        // Workers are probed from the start, so `trunkgate_flow_worker_up`
        // shows their state before the first call-flow call.
        if !hub.snapshot.load().config.flow.workers.is_empty() {
            let _ = hub.flow();
        }
        crate::call::spawn_carrier_health(&hub);
        tokio::spawn(crate::call::linger::sweeper(Arc::downgrade(&hub.linger)));
        tokio::spawn(crate::call::overload::monitor(Arc::downgrade(
            &hub.overload,
        )));
        let weak = Arc::downgrade(&hub);
        tcfg.trust = Some(crate::transport::SourceTrust::new(move |peer| {
            weak.upgrade().is_some_and(|c| c.is_trusted_source(peer))
        }));
        let dispatcher = Arc::new(Dispatcher::new(Arc::clone(&hub)));
        let transports = Transports::bind(tcfg, dispatcher).await?;
        hub.set_transports(Arc::clone(&transports));
        let hook_core = Arc::clone(&hub);
        let hook: crate::http::ScrapeHook = Arc::new(move || {
            publish_trunk_limits(&hook_core);
            if let Some(c) = &hep {
                for (result, n) in [("sent", &c.sent), ("dropped", &c.dropped)] {
                    let v = n.load(std::sync::atomic::Ordering::Relaxed);
                    let c = hep_packets.get_or_create(&crate::metrics::ResultLabels { result });
                    c.inc_by(v.saturating_sub(c.get()));
                }
            }
            hook_core.media.publish_gauges();
            if let Some(w) = hook_core.call_log() {
                call_log_queued.set(i64::try_from(w.queued()).unwrap_or(i64::MAX));
            }
            let o = &hook_core.overload;
            overload_lag.set(o.lag().as_secs_f64());
            overload_admit.set(o.admit_ratio());
            invite_queue_max.set(o.take_queue_max().as_secs_f64());
            calls_in_setup.set(i64::from(o.setup_calls()));
            invites_pending.set(i64::from(o.pending_invites()));
            if let Some(t) = hook_core.transports() {
                tcp_conns.set(t.tcp_connection_count() as i64);
                let stats = t.stats();
                tls_metrics.update(&stats);
                tcp_metrics.update(&stats);
            }
        });
        let api = crate::api::router(ApiState::open(Arc::clone(&hub), keys, pg)?);
        let (shutdown, rx) = watch::channel(false);
        let (http_addr, http_task) = crate::http::serve(
            http_listen,
            http_limits,
            guard_metrics,
            Arc::new(registry),
            Some(hook),
            Some(api),
            rx,
        )
        .await
        .map_err(|source| StartError::Http {
            addr: http_listen,
            source,
        })?;
        for (kind, addr) in transports.local_addrs() {
            tracing::info!(transport = kind.as_str(), %addr, "SIP listening");
        }
        tracing::info!(%http_addr, "HTTP listening (/metrics, /health, /v1)");
        Ok(Gateway {
            hub,
            transports,
            http_addr,
            shutdown,
            http_task,
            call_log,
            follow,
        })
    }

    /// The reload hook for TLS: re-reads certificate, key and CA now. New handshakes
    /// use them; open TLS connections keep their session. On error the old ones stay.
    /// (The files are also polled once a second and reloaded when they change.)
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        self.transports.reload_tls()
    }

    /// Live reload (SIGHUP): applies a re-read, already validated config
    /// (see [`crate::reload::apply`]).
    pub fn reload(&self, new: Config) {
        crate::reload::apply(&self.hub, new);
    }

    /// Counts a reload whose file failed validation (the caller logged its errors).
    pub fn reload_failed(&self) {
        crate::reload::count(&self.hub, "error");
    }

    /// Every bound SIP address with its transport.
    pub fn sip_addrs(&self) -> Vec<(TransportKind, SocketAddr)> {
        self.transports.local_addrs()
    }

    /// The bound SIP address for a transport (IPv4 first).
    pub fn sip_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        self.transports
            .local_addr(kind, false)
            .or_else(|| self.transports.local_addr(kind, true))
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Calls whose task is still running (registry entries, both legs counted once per Call-ID).
    pub fn registered_call_ids(&self) -> usize {
        self.hub.calls.len()
    }

    /// Calls holding a limit slot on a trunk right now.
    pub fn trunk_active_calls(&self, trunk_id: &uuid::Uuid) -> u32 {
        self.hub.limits.active(trunk_id)
    }

    /// Calls in progress (the live-call API's view).
    pub fn live_calls(&self) -> Vec<crate::call::hub::LiveCall> {
        let mut v: Vec<_> = self.hub.live.iter().map(|e| e.value().clone()).collect();
        v.sort_by(|a, b| a.start_time.cmp(&b.start_time));
        v
    }

    /// Hangs up a live call by its caller-leg Call-ID. False when there is no such call.
    pub fn hangup(&self, call_id: &str) -> bool {
        self.hub.hangup(call_id)
    }

    /// Graceful drain: new INVITEs get 503 from now on; waits until no call is
    /// up or `grace` has passed. Returns the number of calls still up.
    pub async fn drain(&self, grace: std::time::Duration) -> i64 {
        self.hub
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let up = self.hub.metrics.calls_active.get();
            if up <= 0 || tokio::time::Instant::now() >= deadline {
                return up.max(0);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    pub fn shutdown_grace(&self) -> std::time::Duration {
        self.hub.snapshot.load().config.sip.shutdown_grace
    }

    /// Stops listening, lets call tasks that are ending finish their log
    /// records, then flushes every queued call-log record to the store.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        self.transports.shutdown();
        let _ = self.http_task.await;
        if let Some(f) = &self.follow {
            f.abort();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // An ended call's record waits for its media task's final quality
        // figures: let the media tasks that are finishing (or still in a
        // media thread's inbox, `media::runtime`) hand them over (bounded:
        // calls still up at shutdown are not waited for).
        for _ in 0..40 {
            if self.hub.media.metrics.sessions_active.get() <= 0
                && crate::media::runtime::queued() == 0
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let w = self.call_log.clone();
        let _ = tokio::task::spawn_blocking(move || w.shutdown()).await;
    }
}
