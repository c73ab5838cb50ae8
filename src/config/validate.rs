//! The one validation step: raw config in, [`Config`] or every error out.
//! The trunk and number rules live in [`trunk_set`] (shared with the REST API).

mod cluster;
mod media;
mod tls;
mod trunk_set;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use trunk_set::{check_numbers, check_trunks, e164_rule, Rules};
pub use trunk_set::{is_dns_name, is_e164, validate_trunk_set, FieldError};

use super::raw::RawConfig;
use super::trunk::Direction;
use super::{
    ApiSettings, Assignment, Carrier, Config, ConfigError, ConfigErrors, DnsSettings, HttpSettings,
    Listen, Number, SipSettings, SourceMatch, StaticName, StoreSettings, TwilioSettings,
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

fn validate_dns(e: &mut Errors, raw: &super::raw::RawDns) -> DnsSettings {
    let mut d = DnsSettings::default();
    for (i, ns) in raw.nameservers.iter().enumerate() {
        let parsed = ns
            .parse::<SocketAddr>()
            .ok()
            .or_else(|| ns.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)));
        match parsed {
            Some(a) => d.nameservers.push(a),
            None => e.add(
                format!("dns.nameservers[{i}]"),
                format!("must be an IP or IP:port (got {ns:?})"),
            ),
        }
    }
    for (i, s) in raw.r#static.iter().enumerate() {
        let name = s.name.trim().trim_end_matches('.').to_ascii_lowercase();
        // SRV owner names have `_service._proto.` labels.
        if !is_dns_name(&name.replace('_', "x")) {
            e.add(
                format!("dns.static[{i}].name"),
                format!("must be a DNS name (got {:?})", s.name),
            );
        }
        let mut st = StaticName {
            name,
            a: Vec::new(),
            srv: Vec::new(),
        };
        for (j, a) in s.a.iter().enumerate() {
            match a.parse::<IpAddr>() {
                Ok(ip) => st.a.push(ip),
                Err(_) => e.add(
                    format!("dns.static[{i}].a[{j}]"),
                    format!("must be an IP address (got {a:?})"),
                ),
            }
        }
        for (j, r) in s.srv.iter().enumerate() {
            let f: Vec<&str> = r.split_whitespace().collect();
            let parsed = match f.as_slice() {
                [p, w, port, t] => match (p.parse(), w.parse(), port.parse()) {
                    (Ok(p), Ok(w), Ok(port)) => {
                        Some((p, w, port, t.trim_end_matches('.').to_ascii_lowercase()))
                    }
                    _ => None,
                },
                _ => None,
            };
            match parsed {
                Some(x) => st.srv.push(x),
                None => e.add(
                    format!("dns.static[{i}].srv[{j}]"),
                    format!("must be \"priority weight port target\" (got {r:?})"),
                ),
            }
        }
        d.static_names.push(st);
    }
    d
}

/// `api.key_hashes[]`: `sha256:` followed by 64 hex digits.
fn validate_api(e: &mut Errors, raw: &super::raw::RawApi) -> ApiSettings {
    let mut api = ApiSettings::default();
    for (i, h) in raw.key_hashes.iter().enumerate() {
        match parse_key_hash(h) {
            Some(d) => api.key_hashes.push(d),
            None => e.add(
                format!("api.key_hashes[{i}]"),
                "must be sha256: followed by 64 hex digits (the SHA-256 of the key, never the key)",
            ),
        }
    }
    for (i, o) in raw.cors_origins.iter().enumerate() {
        match parse_origin(o) {
            Some(o) => api.cors_origins.push(o),
            None => e.add(
                format!("api.cors_origins[{i}]"),
                "must be http://host or https://host with an optional :port (1..=65535) and no path",
            ),
        }
    }
    if let Some(n) = raw.requests_per_minute {
        if (1..=1_000_000).contains(&n) {
            api.requests_per_minute = n;
        } else {
            e.add("api.requests_per_minute", "must be 1..=1000000");
        }
    }
    api
}

/// A browser origin `http(s)://host[:port]` (host a DNS name, IPv4 or
/// bracketed IPv6), lower-cased; `None` for anything else (paths, `*`, other
/// schemes, over 253 characters).
pub fn parse_origin(s: &str) -> Option<String> {
    if s.len() > 253 + 16 {
        return None;
    }
    let s = s.to_ascii_lowercase();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        (
            addr,
            match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return None,
            },
        )
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if let Some(p) = port {
        if !p.bytes().all(|b| b.is_ascii_digit()) || !matches!(p.parse::<u16>(), Ok(1..)) {
            return None;
        }
    }
    let ok_host = !host.is_empty()
        && (rest.starts_with('[')
            || host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    ok_host.then_some(s)
}

/// `sha256:<64 hex>` -> the 32-byte digest.
pub fn parse_key_hash(s: &str) -> Option<[u8; 32]> {
    let hex = s.trim().strip_prefix("sha256:")?.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Listen entries that would fight over one socket: the same transport and
/// address twice, TCP and TLS on one address (both are TCP ports), and the
/// HTTP listener on a SIP address. Port 0 (kernel-chosen) never conflicts.
fn listen_conflicts(e: &mut Errors, listen: &[Listen], http: Option<SocketAddr>) {
    use crate::config::Transport::{Tcp, Tls};
    let same = |a: SocketAddr, b: SocketAddr| {
        a.port() != 0
            && a.port() == b.port()
            && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
    };
    for (j, l) in listen.iter().enumerate() {
        for (i, k) in listen[..j].iter().enumerate() {
            let both_tcp = matches!((k.transport, l.transport), (Tcp, Tls) | (Tls, Tcp));
            if same(k.address, l.address) && (k.transport == l.transport || both_tcp) {
                let rule = if k.transport == l.transport {
                    format!("duplicate of sip.listen[{i}] ({})", k.address)
                } else {
                    format!(
                        "TCP and TLS cannot share one port: sip.listen[{i}] is {}",
                        k.address
                    )
                };
                e.add(format!("sip.listen[{j}].address"), rule);
            }
        }
        if let Some(h) = http {
            if same(h, l.address) {
                e.add(
                    "http.listen",
                    format!("must differ from sip.listen[{j}].address ({})", l.address),
                );
            }
        }
    }
}

#[cfg(test)]
mod api_tests {
    use super::*;

    #[test]
    fn key_hashes_are_sha256_hex_and_errors_name_the_key() {
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let d = parse_key_hash(&format!("sha256:{hex}")).unwrap();
        assert_eq!((d[0], d[31]), (0xba, 0xad));
        assert_eq!(
            parse_key_hash(&format!("sha256:{}", hex.to_uppercase())),
            Some(d)
        );
        for bad in [
            "",
            hex,
            "sha256:",
            "md5:abc",
            &format!("sha256:{}", &hex[1..]),
            &format!("sha256:{}zz", &hex[2..]),
        ] {
            assert_eq!(parse_key_hash(bad), None, "{bad}");
        }
        let text = format!(
            "[sip]\nlisten = [{{ transport = \"udp\", address = \"127.0.0.1:5060\" }}]\n[api]\nkey_hashes = [\"sha256:{hex}\", \"secret\"]\n"
        );
        let errs = crate::config::parse_str(&text, "t.toml").unwrap_err();
        assert_eq!(errs.0.len(), 1, "{errs}");
        assert_eq!(errs.0[0].key, "api.key_hashes[1]");
        assert!(!errs.0[0].rule.contains("secret"));
    }

    #[test]
    fn cors_origins_are_scheme_host_port_only() {
        for good in [
            "https://app.example.com",
            "http://127.0.0.1:8080",
            "https://[2001:db8::1]:8443",
            "HTTPS://App.Example.com",
        ] {
            assert_eq!(
                parse_origin(good),
                Some(good.to_ascii_lowercase()),
                "{good}"
            );
        }
        for bad in [
            "*",
            "app.example.com",
            "ftp://x.example",
            "https://x.example/",
            "https://x.example:0",
            "https://x.example:99999",
            "https://",
            "https://a..b",
            "https://[::1",
            "https://[zz]:1",
        ] {
            assert_eq!(parse_origin(bad), None, "{bad}");
        }
        let base = "[sip]\nlisten = [{ transport = \"udp\", address = \"127.0.0.1:5060\" }]\n";
        let errs = crate::config::parse_str(
            &format!("{base}[api]\ncors_origins = [\"https://ok.example\", \"*\"]\n"),
            "t.toml",
        )
        .unwrap_err();
        assert_eq!(errs.0.len(), 1, "{errs}");
        assert_eq!(errs.0[0].key, "api.cors_origins[1]");
    }

    #[test]
    fn requests_per_minute_defaults_and_range() {
        let base = "[sip]\nlisten = [{ transport = \"udp\", address = \"127.0.0.1:5060\" }]\n";
        let c = crate::config::parse_str(base, "t.toml").unwrap();
        assert_eq!(c.api.requests_per_minute, 600);
        let c =
            crate::config::parse_str(&format!("{base}[api]\nrequests_per_minute = 5\n"), "t.toml")
                .unwrap();
        assert_eq!(c.api.requests_per_minute, 5);
        for bad in ["0", "1000001"] {
            let errs = crate::config::parse_str(
                &format!("{base}[api]\nrequests_per_minute = {bad}\n"),
                "t.toml",
            )
            .unwrap_err();
            assert_eq!(errs.0.len(), 1, "{errs}");
            assert_eq!(errs.0[0].key, "api.requests_per_minute");
            assert_eq!(
                errs.0[0].to_string(),
                "t.toml: api.requests_per_minute: must be 1..=1000000"
            );
        }
    }
}

#[cfg(test)]
mod listen_tests {
    fn errors(listen: &str, http: &str) -> String {
        let text = format!("[sip]\nlisten = [{listen}]\n[http]\nlisten = \"{http}\"\n");
        match crate::config::parse_str(&text, "t.toml") {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn duplicate_listen_entries_and_http_on_a_sip_address_are_refused() {
        let udp = r#"{ transport = "udp", address = "127.0.0.1:5060" }"#;
        let tcp = r#"{ transport = "tcp", address = "127.0.0.1:5060" }"#;
        let tls_any = r#"{ transport = "tls", address = "0.0.0.0:5060" }"#;
        assert_eq!(
            errors(&format!("{udp}, {tcp}"), "127.0.0.1:8080"),
            "",
            "UDP and TCP may share a port"
        );
        let e = errors(&format!("{udp}, {tcp}, {udp}"), "127.0.0.1:8080");
        assert!(
            e.contains(
                "t.toml: sip.listen[2].address: duplicate of sip.listen[0] (127.0.0.1:5060)"
            ),
            "{e}"
        );
        let e = errors(&format!("{tcp}, {tls_any}"), "127.0.0.1:8080");
        assert!(
            e.contains("sip.listen[1].address: TCP and TLS cannot share one port"),
            "{e}"
        );
        let e = errors(udp, "127.0.0.1:5060");
        assert!(
            e.contains(
                "t.toml: http.listen: must differ from sip.listen[0].address (127.0.0.1:5060)"
            ),
            "{e}"
        );
        let zero = r#"{ transport = "udp", address = "127.0.0.1:0" }, { transport = "tcp", address = "127.0.0.1:0" }"#;
        assert_eq!(
            errors(zero, "127.0.0.1:0"),
            "",
            "port 0 is chosen by the kernel: never a conflict"
        );
    }
}
