//! The one validation step: raw config in, [`Config`] or every error out.
//!
//! Trunk rules (spec, DESIGN.md "The trunk model"):
//! - `trunk_id` unique; `direction` outbound needs `outbound`, inbound needs
//!   `inbound` with a `destination` or a `failover`.
//! - `simultaneous_call_limit` ≥ 1 when set (absent = unlimited).
//! - `outbound.domain`: a DNS name (labels of letters, digits, `-`), stored
//!   lowercased, unique across trunks.
//! - `outbound.authentication[]`: `other` = IP or CIDR (v4/v6); `twilio` =
//!   Account SID (`AC` + 32 hex). An outbound trunk needs at least one entry.
//! - `outbound.max_post_dial_delay`: 7..=30 seconds.
//! - `outbound.override_early_media`: `to_country`, `from_country` or an ISO
//!   3166 alpha-2 code (two uppercase letters).
//! - `inbound.failover.value` by source: `trunk_id` = another existing trunk's
//!   id; `phone_number` = E.164 (`+` and 8..=15 digits); `sip_uri` = `sip:`/`sips:`
//!   URI; `api` = `CallFlows` or `ParkingLot`.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::raw::RawConfig;
use super::trunk::{AuthSource, Direction, FailoverSource, Trunk};
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
    e.range("sip.invite_timeout_s", s.invite_timeout_s, 10, 3600);
    e.range("sip.max_forwards", s.max_forwards, 1, 255);
    e.range("sip.shutdown_grace_s", s.shutdown_grace_s, 0, 3600);
    if s.user_agent.is_empty() || !s.user_agent.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        e.add("sip.user_agent", "must be non-empty printable ASCII");
    }
    if let Some(a) = &s.advertised_address {
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == ';' || c == '>') {
            e.add("sip.advertised_address", "must be a host or host:port");
        }
    }
    let http = socket(&mut e, "http.listen", &raw.http.listen);

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
        if let Some(address) = socket(&mut e, &format!("carriers[{i}].address"), &c.address) {
            carriers.push(Carrier {
                name: c.name.clone(),
                address,
                transport: c.transport,
                priority: c.priority,
                inbound_sources,
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
    if raw.store.data_dir.trim().is_empty() {
        e.add("store.data_dir", "must not be empty");
    }
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
            invite_timeout: Duration::from_secs(s.invite_timeout_s),
            max_forwards: s.max_forwards,
            user_agent: s.user_agent.clone(),
            shutdown_grace: Duration::from_secs(s.shutdown_grace_s),
        },
        http: HttpSettings { listen: http },
        carriers,
        trunks,
        twilio: TwilioSettings {
            signaling_ranges: ranges,
        },
        numbers,
        dns,
        store: StoreSettings {
            data_dir: raw.store.data_dir.clone().into(),
            call_log_queue: raw.store.call_log_queue,
        },
        api,
    })
}

/// An IP address (as a host route) or a CIDR.
pub fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

/// One broken rule in a set of trunks and numbers: the field
/// (`trunks[2].outbound.domain`, `numbers[0].assigned_to`) and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub rule: String,
}

/// Collects [`FieldError`]s.
struct Rules(Vec<FieldError>);

impl Rules {
    fn add(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            rule: rule.into(),
        });
    }
}

/// The rules a set of trunks and numbers must satisfy together, shared by the
/// config file (seed data) and the REST API: each trunk's own rules (module
/// docs), unique ids and domains, failover targets that exist, numbers in
/// E.164, unique, and assigned to an existing inbound trunk, `CallFlows` or
/// `ParkingLot`. Domains are normalised (trimmed, lowercased) in place. When
/// two trunks share a domain, the later one is reported.
pub fn validate_trunk_set(trunks: &mut [Trunk], numbers: &[Number]) -> Result<(), Vec<FieldError>> {
    let mut r = Rules(Vec::new());
    check_trunks(&mut r, trunks);
    check_numbers(&mut r, numbers, trunks, &|i| format!("numbers[{i}]"));
    if r.0.is_empty() {
        Ok(())
    } else {
        Err(r.0)
    }
}

fn check_trunks(e: &mut Rules, trunks: &mut [Trunk]) {
    let ids: Vec<_> = trunks.iter().map(|t| t.trunk_id).collect();
    let mut seen = HashSet::new();
    let mut domains = HashSet::new();
    for (i, t) in trunks.iter_mut().enumerate() {
        let k = format!("trunks[{i}]");
        if !seen.insert(t.trunk_id) {
            e.add(
                format!("{k}.trunk_id"),
                format!("duplicate trunk_id {}", t.trunk_id),
            );
        }
        if t.simultaneous_call_limit == Some(0) {
            e.add(
                format!("{k}.simultaneous_call_limit"),
                "must be at least 1 (omit it for unlimited)",
            );
        }
        match t.direction {
            Direction::Outbound if t.outbound.is_none() => e.add(
                format!("{k}.outbound"),
                "required when direction is outbound",
            ),
            Direction::Inbound => {
                match &t.inbound {
                    None => e.add(format!("{k}.inbound"), "required when direction is inbound"),
                    Some(i) if i.destination.is_none() && i.failover.is_none() => {
                        e.add(format!("{k}.inbound"), "needs a destination or a failover")
                    }
                    Some(i) => {
                        if let Some(d) = &i.destination {
                            if !is_destination(d) {
                                e.add(format!("{k}.inbound.destination"), format!("must be a DNS name or IP, with an optional :port (got {d:?})"));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(o) = t.outbound.as_mut() {
            if let Some(d) = o.domain.as_mut() {
                *d = d.trim().to_ascii_lowercase();
                if !is_dns_name(d) {
                    e.add(
                        format!("{k}.outbound.domain"),
                        format!("must be a DNS name (got {d:?})"),
                    );
                } else if !domains.insert(d.clone()) {
                    e.add(
                        format!("{k}.outbound.domain"),
                        format!("domain {d:?} is used by another trunk"),
                    );
                }
            }
            if t.direction == Direction::Outbound && o.authentication.is_empty() {
                e.add(
                    format!("{k}.outbound.authentication"),
                    "at least one entry is required",
                );
            }
            for (j, a) in o.authentication.iter().enumerate() {
                let key = format!("{k}.outbound.authentication[{j}].value");
                match a.source {
                    AuthSource::Other if parse_net(&a.value).is_none() => e.add(
                        key,
                        format!("must be an IP address or CIDR (got {:?})", a.value),
                    ),
                    AuthSource::Twilio if !is_account_sid(&a.value) => e.add(
                        key,
                        "must be a Twilio Account SID (AC followed by 32 hex digits)",
                    ),
                    _ => {}
                }
            }
            if let Some(p) = o.max_post_dial_delay {
                if !(7..=30).contains(&p) {
                    e.add(
                        format!("{k}.outbound.max_post_dial_delay"),
                        format!("must be between 7 and 30 seconds (got {p})"),
                    );
                }
            }
            if let Some(v) = &o.override_early_media {
                let ok = v == "to_country"
                    || v == "from_country"
                    || (v.len() == 2 && v.bytes().all(|b| b.is_ascii_uppercase()));
                if !ok {
                    e.add(
                        format!("{k}.outbound.override_early_media"),
                        format!("must be null, to_country, from_country or an ISO 3166 alpha-2 code (got {v:?})"),
                    );
                }
            }
        }
        if let Some(f) = t.inbound.as_ref().and_then(|i| i.failover.as_ref()) {
            let key = format!("{k}.inbound.failover.value");
            let v = f.value.as_str();
            match f.source {
                FailoverSource::TrunkId => match v.parse::<uuid::Uuid>() {
                    Ok(id) if id == t.trunk_id => e.add(key, "must not be the trunk itself"),
                    Ok(id) if !ids.contains(&id) => e.add(key, format!("no trunk with id {id}")),
                    Ok(_) => {}
                    Err(_) => e.add(key, format!("must be a trunk_id (uuid) (got {v:?})")),
                },
                FailoverSource::PhoneNumber if !is_e164(v) => e.add(
                    key,
                    format!("must be an E.164 number (+ and 8 to 15 digits) (got {v:?})"),
                ),
                FailoverSource::SipUri
                    if !(v.starts_with("sip:") || v.starts_with("sips:")) || v.len() < 6 =>
                {
                    e.add(key, format!("must be a sip: or sips: URI (got {v:?})"))
                }
                FailoverSource::Api if v != "CallFlows" && v != "ParkingLot" => {
                    e.add(key, format!("must be CallFlows or ParkingLot (got {v:?})"))
                }
                _ => {}
            }
        }
    }
}

/// `host`, `host:port`, `IPv4[:port]`, `[IPv6]:port` or a bare IPv6 address.
pub fn is_destination(s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() || s.parse::<SocketAddr>().is_ok() {
        return true;
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
        && (is_dns_name(host) || host.parse::<IpAddr>().is_ok())
}

pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

pub fn is_account_sid(s: &str) -> bool {
    s.len() == 34 && s.starts_with("AC") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
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

fn e164_rule(no: &str) -> String {
    format!("must be an E.164 number (+ and 8 to 15 digits) (got {no:?})")
}

fn check_numbers(
    e: &mut Rules,
    numbers: &[Number],
    trunks: &[Trunk],
    key: &dyn Fn(usize) -> String,
) {
    let mut seen = HashSet::new();
    for (i, n) in numbers.iter().enumerate() {
        let k = key(i);
        if !is_e164(&n.no) {
            e.add(format!("{k}.no"), e164_rule(&n.no));
        } else if !seen.insert(n.no.as_str()) {
            e.add(format!("{k}.no"), format!("duplicate number {}", n.no));
        }
        if let Assignment::Trunk(id) = n.assigned_to {
            match trunks.iter().find(|t| t.trunk_id == id) {
                None => e.add(format!("{k}.assigned_to"), format!("no trunk with id {id}")),
                Some(t) if t.direction != Direction::Inbound => e.add(
                    format!("{k}.assigned_to"),
                    format!("trunk {id} is not an inbound trunk"),
                ),
                Some(_) => {}
            }
        }
    }
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
    api
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
