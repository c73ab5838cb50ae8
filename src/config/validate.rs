//! The one validation step: raw config in, [`Config`] or every error out.
//! The trunk and number rules live in [`trunk_set`] (shared with the REST API).

mod api;
mod cluster;
mod dns;
mod listen;
mod media;
mod tls;
mod trunk_set;

use api::validate_api;
use dns::validate_dns;
use listen::listen_conflicts;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use trunk_set::{check_numbers, check_trunks, e164_rule, Rules};
pub use trunk_set::{is_dns_name, is_e164, validate_trunk_set, FieldError};

use super::raw::RawConfig;
use super::trunk::Direction;
use super::{
    Assignment, Carrier, Config, ConfigError, ConfigErrors, HttpSettings, Listen, Number,
    SipSettings, SourceMatch, StoreSettings, TwilioSettings,
};

struct Errors<'a> {
    file: &'a str,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    fn add(&mut self, key: impl Into<String>, rule: impl Into<String>) {
        self.list.push(ConfigError {
            file: self.file.to_string(),
            key: key.into(),
            rule: rule.into(),
        });
    }

    fn range<T: PartialOrd + std::fmt::Display>(&mut self, key: &str, v: T, lo: T, hi: T) {
        if v < lo || v > hi {
            self.add(key, format!("must be between {lo} and {hi} (got {v})"));
        }
    }
}

fn socket(e: &mut Errors, key: &str, s: &str) -> Option<SocketAddr> {
    match s.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            e.add(
                key,
                format!("must be an IP:port socket address (got {s:?})"),
            );
            None
        }
    }
}

pub fn validate(raw: RawConfig, file: &str) -> Result<Config, ConfigErrors> {
    let mut e = Errors {
        file,
        list: Vec::new(),
    };
    let s = &raw.sip;
    if s.listen.is_empty() {
        e.add("sip.listen", "at least one listen address is required");
    }
    let listen: Vec<Listen> = s
        .listen
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            socket(&mut e, &format!("sip.listen[{i}].address"), &l.address).map(|address| Listen {
                transport: l.transport,
                address,
            })
        })
        .collect();
    e.range("sip.t1_ms", s.t1_ms, 50, 10_000);
    if s.t2_ms < s.t1_ms || s.t2_ms > 60_000 {
        e.add(
            "sip.t2_ms",
            format!(
                "must be at least t1_ms ({}) and at most 60000 (got {})",
                s.t1_ms, s.t2_ms
            ),
        );
    }
    e.range("sip.t4_ms", s.t4_ms, 1, 60_000);
    e.range("sip.max_message_size", s.max_message_size, 1500, 1_048_576);
    e.range("sip.udp_workers", s.udp_workers, 1, 64);
    e.range("sip.tcp_idle_timeout_s", s.tcp_idle_timeout_s, 1, 86_400);
    e.range(
        "sip.tcp_max_connections",
        s.tcp_max_connections,
        1,
        1_000_000,
    );
    e.range(
        "sip.tcp_max_per_source",
        s.tcp_max_per_source,
        1,
        s.tcp_max_connections.max(1),
    );
    let reserved = s.tcp_reserved_trusted.unwrap_or(s.tcp_max_connections / 8);
    e.range(
        "sip.tcp_reserved_trusted",
        reserved,
        0,
        s.tcp_max_connections.saturating_sub(1),
    );
    e.range(
        "sip.tcp_untrusted_timeout_s",
        s.tcp_untrusted_timeout_s,
        1,
        300,
    );
    e.range("sip.invite_timeout_s", s.invite_timeout_s, 10, 3600);
    e.range("sip.max_forwards", s.max_forwards, 1, 255);
    e.range("sip.shutdown_grace_s", s.shutdown_grace_s, 0, 3600);
    e.range("sip.max_display_name", s.max_display_name, 0, 256);
    if let Some(mtu) = s.path_mtu {
        e.range("sip.path_mtu", mtu, 576, 65_535);
    }
    e.range("sip.max_copied_header", s.max_copied_header, 32, 4096);
    if s.user_agent.is_empty() || !s.user_agent.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        e.add("sip.user_agent", "must be non-empty printable ASCII");
    }
    if let Some(a) = &s.advertised_address {
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == ';' || c == '>') {
            e.add("sip.advertised_address", "must be a host or host:port");
        }
    }
    let http = socket(&mut e, "http.listen", &raw.http.listen);
    listen_conflicts(&mut e, &listen, http);
    let h = &raw.http;
    e.range("http.max_connections", h.max_connections, 1, 100_000);
    e.range(
        "http.max_per_source",
        h.max_per_source,
        1,
        h.max_connections.max(1),
    );
    e.range("http.idle_timeout_s", h.idle_timeout_s, 1, 3600);
    let http_limits = crate::http_guard::HttpLimits {
        max_connections: h.max_connections,
        max_per_source: h.max_per_source,
        idle_timeout: std::time::Duration::from_secs(h.idle_timeout_s),
    };

    let mut carriers = Vec::new();
    let mut names = HashSet::new();
    for (i, c) in raw.carriers.iter().enumerate() {
        if c.name.trim().is_empty() {
            e.add(format!("carriers[{i}].name"), "must not be empty");
        } else if !names.insert(c.name.clone()) {
            e.add(
                format!("carriers[{i}].name"),
                format!("duplicate carrier name {:?}", c.name),
            );
        }
        let mut inbound_sources = Vec::new();
        for (j, src) in c.inbound_sources.iter().enumerate() {
            match SourceMatch::parse(src) {
                Some(m) => inbound_sources.push(m),
                None => e.add(
                    format!("carriers[{i}].inbound_sources[{j}]"),
                    format!("must be an IP, CIDR or IP:port (got {src:?})"),
                ),
            }
        }
        e.range(
            &format!("carriers[{i}].health_interval_s"),
            c.health_interval_s,
            0,
            3600,
        );
        e.range(
            &format!("carriers[{i}].health_down_after"),
            c.health_down_after,
            1,
            100,
        );
        e.range(
            &format!("carriers[{i}].health_up_after"),
            c.health_up_after,
            1,
            100,
        );
        let health = (c.health_interval_s > 0).then(|| super::HealthSettings {
            interval: std::time::Duration::from_secs(c.health_interval_s),
            down_after: c.health_down_after,
            up_after: c.health_up_after,
        });
        if let Some(address) = socket(&mut e, &format!("carriers[{i}].address"), &c.address) {
            carriers.push(Carrier {
                name: c.name.clone(),
                address,
                transport: c.transport,
                priority: c.priority,
                inbound_sources,
                tls_server_name: c.tls_server_name.clone(),
                health,
                srtp: c.srtp,
            });
        }
    }
    let mut ranges = Vec::new();
    for (i, r) in raw.twilio.signaling_ranges.iter().enumerate() {
        match parse_net(r) {
            Some(n) => ranges.push(n),
            None => e.add(
                format!("twilio.signaling_ranges[{i}]"),
                format!("must be an IP or CIDR (got {r:?})"),
            ),
        }
    }
    let mut trunks = raw.trunks;
    let (numbers, idx) = parse_numbers(&mut e, &raw.numbers);
    let mut rules = Rules(Vec::new());
    check_trunks(&mut rules, &mut trunks);
    check_numbers(&mut rules, &numbers, &trunks, &|i| {
        format!("numbers[{}]", idx.get(i).copied().unwrap_or(i))
    });
    for f in rules.0 {
        e.add(f.field, f.rule);
    }
    if trunks.iter().any(|t| t.direction == Direction::Outbound) && raw.carriers.is_empty() {
        e.add(
            "carriers",
            "at least one carrier is required when an outbound trunk exists",
        );
    }
    let api = validate_api(&mut e, &raw.api);
    let dns = validate_dns(&mut e, &raw.dns);
    e.range(
        "store.call_log_queue",
        raw.store.call_log_queue,
        100,
        1_000_000,
    );
    e.range(
        "store.call_log_retention_days",
        raw.store.call_log_retention_days,
        0,
        36_500,
    );
    e.range(
        "store.call_log_refusals_per_s",
        raw.store.call_log_refusals_per_s,
        0,
        10_000,
    );
    if raw.store.data_dir.trim().is_empty() {
        e.add("store.data_dir", "must not be empty");
    }
    let media = media::validate_media(&mut e, &raw.media, &raw.store.data_dir);
    let flow = media::validate_flow(&mut e, &raw.flow);
    let hep = raw.hep.as_ref().and_then(|h| {
        if let Some(p) = &h.password {
            if p.is_empty() || p.len() > 64 || !p.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                e.add(
                    "hep.password",
                    "must be 1 to 64 printable ASCII characters without spaces",
                );
            }
        }
        let address = socket(&mut e, "hep.address", &h.address)?;
        Some(crate::transport::hep::HepSettings {
            address,
            node_id: h.node_id,
            password: h.password.clone(),
        })
    });
    let log_level = raw.log.level.clone().unwrap_or_else(|| "info".into());
    if log_level.len() > 512 {
        e.add("log.level", "must be at most 512 characters");
    } else if let Err(err) = tracing_subscriber::EnvFilter::builder().parse(&log_level) {
        e.add(
            "log.level",
            format!("must be a tracing filter such as \"info\" or \"warn,trunkgate::call=debug\" ({err})"),
        );
    }
    let o = &raw.overload;
    e.range("overload.max_lag_ms", o.max_lag_ms, 0, 10_000);
    e.range("overload.max_queue_ms", o.max_queue_ms, 0, 10_000);
    e.range("overload.max_setup_calls", o.max_setup_calls, 0, 10_000_000);
    e.range(
        "overload.max_pending_invites",
        o.max_pending_invites,
        0,
        10_000_000,
    );
    e.range("overload.retry_after_s", o.retry_after_s, 1, 3600);
    let overload = super::OverloadSettings {
        max_lag: Duration::from_millis(o.max_lag_ms),
        max_queue: Duration::from_millis(o.max_queue_ms),
        max_setup_calls: o.max_setup_calls,
        max_pending_invites: o.max_pending_invites,
        retry_after_s: o.retry_after_s,
    };
    let store_url = cluster::validate_store_url(
        &mut e,
        raw.store.url.as_deref(),
        std::env::var("TRUNKGATE_STORE_URL").ok(),
    );
    let cluster = cluster::validate_cluster(
        &mut e,
        &raw.cluster,
        std::env::var("TRUNKGATE_REDIS_URL").ok(),
    );
    let tls = tls::validate_tls(&mut e, raw.tls.as_ref(), &listen, &raw.carriers);
    let tls_client_names = tls::validate_trunk_names(&mut e, raw.tls.as_ref(), &tls);
    if !e.list.is_empty() {
        return Err(ConfigErrors(e.list));
    }
    let Some(http) = http else {
        return Err(ConfigErrors(e.list));
    };
    Ok(Config {
        sip: SipSettings {
            listen,
            advertised_address: s.advertised_address.clone(),
            t1: Duration::from_millis(s.t1_ms),
            t2: Duration::from_millis(s.t2_ms),
            t4: Duration::from_millis(s.t4_ms),
            max_message_size: s.max_message_size,
            udp_workers: s.udp_workers,
            tcp_idle_timeout: Duration::from_secs(s.tcp_idle_timeout_s),
            tcp_max_connections: s.tcp_max_connections,
            tcp_max_per_source: s.tcp_max_per_source,
            tcp_reserved_trusted: reserved,
            tcp_untrusted_timeout: Duration::from_secs(s.tcp_untrusted_timeout_s),
            invite_timeout: Duration::from_secs(s.invite_timeout_s),
            max_forwards: s.max_forwards,
            user_agent: s.user_agent.clone(),
            path_mtu: s.path_mtu,
            max_display_name: s.max_display_name,
            max_copied_header: s.max_copied_header,
            shutdown_grace: Duration::from_secs(s.shutdown_grace_s),
        },
        http: HttpSettings {
            listen: http,
            limits: http_limits,
        },
        carriers,
        trunks,
        twilio: TwilioSettings {
            signaling_ranges: ranges,
        },
        numbers,
        dns,
        store: StoreSettings {
            data_dir: raw.store.data_dir.clone().into(),
            url: store_url,
            call_log_queue: raw.store.call_log_queue,
            call_log_retention_days: raw.store.call_log_retention_days,
            call_log_refusals_per_s: raw.store.call_log_refusals_per_s,
        },
        api,
        media,
        flow,
        tls,
        tls_client_names,
        hep,
        log_level,
        overload,
        cluster,
        source: None,
    })
}

/// An IP address (as a host route) or a CIDR.
pub fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

/// Parses the config's numbers; returns them with the index each had in the file.
fn parse_numbers(e: &mut Errors, raw: &[super::raw::RawNumber]) -> (Vec<Number>, Vec<usize>) {
    let mut out = Vec::new();
    let mut idx = Vec::new();
    for (i, n) in raw.iter().enumerate() {
        match n.assigned_to.parse::<Assignment>() {
            Ok(a) => {
                out.push(Number {
                    no: n.no.clone(),
                    assigned_to: a,
                    description: n.description.clone(),
                });
                idx.push(i);
            }
            Err(rule) => {
                if !is_e164(&n.no) {
                    e.add(format!("numbers[{i}].no"), e164_rule(&n.no));
                }
                e.add(format!("numbers[{i}].assigned_to"), rule)
            }
        }
    }
    (out, idx)
}
