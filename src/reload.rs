//! Live reload: a re-read config applied to calls admitted from now on
//! (SIGHUP in `main.rs`, `POST /v1/Admin/Reload` in the API).
//!
//! Applied: carriers (and their health checks), Twilio ranges, SIP and
//! trunk policy settings the call layer reads per call, `[dns]` (a new
//! resolver), `[flow]` (a new worker pool), `[media]` but its port range,
//! binds and recorder, TLS files, `[log] level`, and the SIP listeners
//! (`[sip] listen`: unchanged ones keep their sockets, removed ones close,
//! new ones are bound; one that cannot be bound is logged and counts the
//! reload as `error`, the rest applies). Calls already up keep the snapshot
//! they started with. Trunks and numbers stay as the store has them (the
//! file is only their seed). Not applied until a restart, and logged as
//! such: the HTTP listener, `[store]`, the SIP timers, `[cluster]` (the
//! running node keeps its node id and Redis); and, read once at start, the
//! media port range/binds/recorder.

use std::sync::Arc;

use crate::call::hub::Snapshot;
use crate::call::CallHub;
use crate::config::{Config, ConfigError, ConfigErrors};
use crate::transport::TransportConfig;

/// The transport settings of a config's SIP listeners: read at start
/// (`gateway.rs`) and again here when `[sip] listen` changes.
pub fn transport_config(config: &Config) -> TransportConfig {
    let sip = &config.sip;
    TransportConfig {
        listen: sip
            .listen
            .iter()
            .map(|l| (crate::call::route::kind_of(l.transport), l.address))
            .collect(),
        max_message_size: sip.max_message_size,
        udp_workers: sip.udp_workers,
        tcp_idle_timeout: sip.tcp_idle_timeout,
        tcp_max_connections: sip.tcp_max_connections,
        tcp_max_per_source: sip.tcp_max_per_source,
        tcp_reserved_trusted: sip.tcp_reserved_trusted,
        tcp_untrusted_timeout: sip.tcp_untrusted_timeout,
        ..TransportConfig::default()
    }
}

/// Applies `new` (already validated).
pub fn apply(hub: &Arc<CallHub>, mut new: Config) {
    let cur = hub.snapshot.load();
    let old = &cur.config;
    let mut restart = Vec::new();
    if new.http.listen != old.http.listen {
        restart.push("http listener");
    }
    if new.store.data_dir != old.store.data_dir || new.store.url != old.store.url {
        restart.push("store");
    }
    if new.sip.t1 != old.sip.t1 || new.sip.t2 != old.sip.t2 || new.sip.t4 != old.sip.t4 {
        restart.push("sip timers");
    }
    let (c, o) = (&new.cluster, &old.cluster);
    if c.node_id != o.node_id
        || c.redis_url != o.redis_url
        || c.lease_ttl != o.lease_ttl
        || c.on_redis_down != o.on_redis_down
    {
        restart.push("cluster");
    }
    new.cluster = o.clone();
    if !restart.is_empty() {
        tracing::warn!(sections = ?restart, "config reload: these changes take effect at the next restart");
    }
    match crate::resolve::Resolver::new(&crate::call::hub::resolver_config(&new.dns)) {
        Ok(r) => hub.resolver.store(Arc::new(r)),
        Err(e) => {
            tracing::error!(error = %e, "config reload: [dns] unusable, the old resolver stays")
        }
    }
    hub.media.update_settings(new.media.clone());
    hub.overload.update(new.overload);
    if new.log_level != old.log_level && crate::logging::set_level(&new.log_level) {
        tracing::info!(level = %new.log_level, "config reload: log filter changed");
    }
    let mut listener_errors = 0;
    if new.sip.listen != old.sip.listen {
        if let Some(t) = hub.transports() {
            let want = transport_config(&new).listen;
            for e in t.set_listeners(&want) {
                listener_errors += 1;
                tracing::error!(error = %e, "config reload: a new SIP listener could not be opened");
            }
        }
    }
    let mut config = new;
    config.trunks = old.trunks.clone();
    config.numbers = old.numbers.clone();
    hub.snapshot
        .store(Arc::new(Snapshot::new(Arc::new(config))));
    crate::call::spawn_carrier_health(hub);
    hub.rebuild_flow();
    if let Some(t) = hub.transports() {
        if let Err(e) = t.reload_tls() {
            tracing::error!(error = %e, "config reload: TLS files unusable, the old certificate stays");
        }
    }
    if listener_errors > 0 {
        // Applied but for the listeners named in the log: not a clean reload.
        count(hub, "error");
    } else {
        count(hub, "ok");
    }
    tracing::info!("config reloaded: new calls use it, live calls keep theirs");
}

/// Re-reads the file the running config came from and applies it. A file
/// that fails validation changes nothing: its errors are logged, counted
/// and returned.
pub fn from_file(hub: &Arc<CallHub>) -> Result<(), ConfigErrors> {
    let Some(path) = hub.snapshot.load().config.source.clone() else {
        count(hub, "error");
        return Err(ConfigErrors(vec![ConfigError {
            file: "<embedded default>".into(),
            key: "(file)".into(),
            rule: "the gateway runs on the embedded default config: there is no file to re-read"
                .into(),
        }]));
    };
    match crate::config::load_file(&path) {
        Ok(config) => {
            apply(hub, config);
            Ok(())
        }
        Err(e) => {
            tracing::error!(errors = %e, "config reload refused: nothing changed");
            count(hub, "error");
            Err(e)
        }
    }
}

/// `trunkgate_config_reloads_total{result}`.
pub fn count(hub: &CallHub, result: &'static str) {
    hub.metrics
        .config_reloads
        .get_or_create(&crate::metrics::ResultLabels { result })
        .inc();
}
