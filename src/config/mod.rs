//! Node configuration: the TOML file (`config/trunkgate.toml`) parsed into
//! raw serde structs (`raw.rs`, unknown keys refused), then validated in one
//! step (`validate.rs`) into [`Config`], which cannot hold an invalid value.
//! Every violation is reported, each naming the file, the key and the rule.
//!
//! | key | default | rule |
//! |---|---|---|
//! | `sip.listen[]` {transport udp/tcp/tls, address IP:port} | none (required) | at least one; valid socket address |
//! | `sip.advertised_address` | the listen address | host or host:port put in Via/Contact |
//! | `sip.t1_ms` / `t2_ms` / `t4_ms` | 500 / 4000 / 5000 | 50 ≤ T1 ≤ 10000, T1 ≤ T2 ≤ 60000, 1 ≤ T4 ≤ 60000 (RFC 3261 §17.1.1.1) |
//! | `sip.max_message_size` | 65536 | 1500..=1048576 bytes |
//! | `sip.udp_workers` | 2 | 1..=64 |
//! | `sip.tcp_idle_timeout_s` | 300 | 1..=86400 |
//! | `sip.tcp_max_connections` / `tcp_max_per_source` | 4096 / 64 | ≥ 1, per-source ≤ total |
//! | `sip.tcp_reserved_trusted` | tcp_max_connections / 8 (512) | 0..tcp_max_connections: TCP/TLS slots only trusted sources (carriers, trunk CIDRs, Twilio ranges) may take |
//! | `sip.tcp_untrusted_timeout_s` | 5 | 1..=300: an accepted connection from an untrusted source that sends no complete message for this long is closed |
//! | `sip.path_mtu` | unknown | 576..=65535: UDP requests stay 200 bytes under it; unknown: 1300 bytes (RFC 3261 §18.1.1). A bigger INVITE goes over TCP |
//! | `sip.invite_timeout_s` | 180 | 10..=3600 (Timer C-like ceiling for an unanswered call) |
//! | `sip.max_forwards` | 70 | 1..=255, used when the caller sent none |
//! | `sip.user_agent` | trunkgate | printable ASCII, non-empty |
//! | `sip.shutdown_grace_s` | 30 | 0..=3600: on SIGTERM new calls get 503 and live calls get this long to end |
//! | `http.listen` | 127.0.0.1:8080 | valid socket address |
//! | `carriers[]` {name, address IP:port, transport udp, priority 10} | none | unique non-empty names; required when an outbound trunk exists; lower priority tried first |
//! | `carriers[].inbound_sources[]` | empty | IP, CIDR or IP:port the carrier delivers inbound calls from |
//! | `twilio.signaling_ranges[]` | empty | each an IP or CIDR |
//! | `numbers[]` {no, assigned_to, description} | none | `no` E.164 and unique; `assigned_to` = `Trunks/{id}` of an inbound trunk, `CallFlows` or `ParkingLot` |
//! | `dns.nameservers[]` | empty = system resolver | IP or IP:port (port 53 by default) |
//! | `dns.static[]` {name, a[], srv["prio weight port target"]} | none | a static table instead of DNS |
//! | `store.data_dir` / `store.call_log_queue` | data / 10000 | directory for trunkgate.db; 100..=1000000 queued call-log records |
//! | `store.url` (or env `TRUNKGATE_STORE_URL`, which wins) | none = SQLite in data_dir | `postgres://` or `postgresql://` URL of the shared PostgreSQL store, at most 2048 characters; never logged |
//! | `store.call_log_retention_days` | 90 | 0..=36500; records that started longer ago are deleted at start and hourly (0 keeps all) |
//! | `store.call_log_refusals_per_s` | 10 | 0..=10000 refused INVITEs from untrusted sources written a second; the rest only counted |
//! | `trunks[]` | none | see `validate.rs` for the trunk rules (spec enums and ranges); seed data only, see below |
//! | `tls.cert_file` / `key_file` | none | PEM chain / key; both required by a `tls` listener; reloaded when changed |
//! | `tls.ca_file` | none = webpki-roots | PEM roots peers are verified against |
//! | `tls.client_auth` | none | `none` / `optional` / `required` (mutual TLS) |
//! | `tls.handshake_timeout_ms` | 5000 | 100..=60000 |
//! | `carriers[].tls_server_name` | its IP | name its certificate must carry (transport tls) |
//! | `carriers[].srtp` | optional | `off` / `optional` / `required`: SDES-SRTP on the carrier leg (`required`: a call without usable `a=crypto` gets 488) |
//! | `api.key_hashes[]` | empty | `sha256:` + 64 hex digits: SHA-256 of an accepted `X-API-Key` (the env `TRUNKGATE_API_KEY` is accepted too) |
//! | `api.cors_origins[]` | empty | `http(s)://host[:port]`, no path: browser origins allowed to call `/v1` (CORS; preflight answered before the key check) |
//! | `api.requests_per_minute` | 600 | 1..=1000000: requests a minute per key, and failed authentications a minute per source address; beyond, 429 code 400429 with `Retry-After` |
//!
//! `trunks[]` and `numbers[]` seed the store on the first start; after that
//! the store (changed through the REST API) is the source of truth.

mod raw;
pub mod trunk;
mod validate;

pub use validate::{is_e164, parse_net, validate_trunk_set, FieldError};

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use trunk::{
    AuthSource, Authentication, Direction, EarlyMediaOverride, Failover, FailoverSource,
    FailoverTarget, FaxSupport, InboundSettings, MediaEncryption, OutboundSettings, Recording,
    RecordingSetting, Trunk, TrunkModel, TrunkStatus, WorkerQueue,
};

/// The shipped default config, embedded so `trunkgate run` works with no file.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/trunkgate.toml");

/// One broken rule: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub rule: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.key, self.rule)
    }
}

/// Every error found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(Debug, Clone)]
pub struct Config {
    pub sip: SipSettings,
    pub http: HttpSettings,
    pub carriers: Vec<Carrier>,
    pub trunks: Vec<Trunk>,
    pub twilio: TwilioSettings,
    pub numbers: Vec<Number>,
    pub dns: DnsSettings,
    pub store: StoreSettings,
    pub api: ApiSettings,
    pub media: crate::media::MediaSettings,
    pub flow: crate::flow::WorkerSettings,
    /// `[tls]`; without the section: no TLS listener, outbound TLS verified against the
    /// `webpki-roots` Mozilla roots with no client certificate.
    pub tls: crate::transport::TlsSettings,
    /// `[tls] trunk_client_names`: an outbound trunk listed here admits only INVITEs
    /// that came over TLS with a verified client certificate valid for the name.
    pub tls_client_names: Vec<(uuid::Uuid, String)>,
    /// `[hep]`: HEP v3 capture export (`None`: off).
    pub hep: Option<crate::transport::hep::HepSettings>,
    /// `[log] level`: the log filter (`tracing` directives); `RUST_LOG`, when
    /// set, wins at start; a reload applies the file's value.
    pub log_level: String,
    /// `[overload]`: when new INVITEs are shed with 503 + Retry-After.
    pub overload: OverloadSettings,
    /// `[cluster]`: node id, Redis call-limit leases.
    pub cluster: ClusterSettings,
    /// The file this config was read from (`None`: the embedded default or a
    /// string): what a reload re-reads.
    pub source: Option<std::path::PathBuf>,
}

/// REST API settings.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// SHA-256 digests of the accepted API keys.
    pub key_hashes: Vec<[u8; 32]>,
    /// Requests a minute per key; also failed authentications a minute per
    /// source address (`api::limit`).
    pub requests_per_minute: u32,
    /// Origins (`scheme://host[:port]`, lower case) answered with CORS headers.
    pub cors_origins: Vec<String>,
}

/// Default of `api.requests_per_minute`.
pub const DEFAULT_API_REQUESTS_PER_MINUTE: u32 = 600;

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            key_hashes: Vec::new(),
            requests_per_minute: DEFAULT_API_REQUESTS_PER_MINUTE,
            cors_origins: Vec::new(),
        }
    }
}

/// A phone number (E.164) and where its calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub no: String,
    pub assigned_to: Assignment,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Assignment {
    /// `Trunks/{trunk_id}`: delivered to that inbound trunk's destination.
    Trunk(uuid::Uuid),
    /// Handed to the call-flow worker.
    CallFlows,
    ParkingLot,
}

impl std::fmt::Display for Assignment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Assignment::Trunk(id) => write!(f, "Trunks/{id}"),
            Assignment::CallFlows => f.write_str("CallFlows"),
            Assignment::ParkingLot => f.write_str("ParkingLot"),
        }
    }
}

impl std::str::FromStr for Assignment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "CallFlows" => Ok(Assignment::CallFlows),
            "ParkingLot" => Ok(Assignment::ParkingLot),
            _ => match s.strip_prefix("Trunks/").map(str::parse::<uuid::Uuid>) {
                Some(Ok(id)) => Ok(Assignment::Trunk(id)),
                _ => Err(format!(
                    "must be Trunks/{{trunk_id}}, CallFlows or ParkingLot (got {s:?})"
                )),
            },
        }
    }
}

/// A source a carrier sends from: an IP/CIDR (any port) or an exact IP:port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceMatch {
    Net(ipnet::IpNet),
    Addr(SocketAddr),
}

impl SourceMatch {
    pub fn parse(s: &str) -> Option<SourceMatch> {
        let s = s.trim();
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Some(SourceMatch::Addr(a));
        }
        parse_net(s).map(SourceMatch::Net)
    }

    pub fn matches(&self, src: SocketAddr) -> bool {
        let ip = match src.ip() {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(std::net::IpAddr::V4)
                .unwrap_or(src.ip()),
            v4 => v4,
        };
        match self {
            SourceMatch::Net(n) => n.contains(&ip),
            SourceMatch::Addr(a) => a.ip() == ip && a.port() == src.port(),
        }
    }
}

/// How names are resolved (RFC 3263): the system resolver, given nameservers, or a static table.
#[derive(Debug, Clone, Default)]
pub struct DnsSettings {
    pub nameservers: Vec<SocketAddr>,
    pub static_names: Vec<StaticName>,
}

#[derive(Debug, Clone)]
pub struct StaticName {
    pub name: String,
    pub a: Vec<std::net::IpAddr>,
    /// (priority, weight, port, target)
    pub srv: Vec<(u16, u16, u16, String)>,
}

/// `[cluster]`, validated.
#[derive(Clone)]
pub struct ClusterSettings {
    /// Unique per node: shown in call logs and metrics, prefixes this node's leases.
    pub node_id: String,
    /// `[cluster] redis_url` or `TRUNKGATE_REDIS_URL` (the variable wins); `None`:
    /// limits are counted in this process. Never logged.
    pub redis_url: Option<String>,
    /// A lease not refreshed for this long stops counting (a dead node's calls).
    pub lease_ttl: Duration,
    pub on_redis_down: OnRedisDown,
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field("node_id", &self.node_id)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<redacted>"))
            .field("lease_ttl", &self.lease_ttl)
            .field("on_redis_down", &self.on_redis_down)
            .finish()
    }
}

/// What a call on a limited trunk gets while Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRedisDown {
    /// Count this node's calls against the trunk's limit meanwhile.
    Local,
    /// Refuse with 503.
    Reject,
}

#[derive(Clone)]
pub struct StoreSettings {
    pub data_dir: std::path::PathBuf,
    /// `[store] url` or `TRUNKGATE_STORE_URL` (the variable wins): the shared
    /// PostgreSQL store; `None`: SQLite in `data_dir`. Never logged.
    pub url: Option<String>,
    pub call_log_queue: usize,
    /// Days call-log records are kept (0: forever).
    pub call_log_retention_days: u32,
    /// Refused INVITEs from untrusted sources logged a second (the rest are counted).
    pub call_log_refusals_per_s: u32,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSettings")
            .field("data_dir", &self.data_dir)
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("call_log_queue", &self.call_log_queue)
            .field("call_log_retention_days", &self.call_log_retention_days)
            .field("call_log_refusals_per_s", &self.call_log_refusals_per_s)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct SipSettings {
    pub listen: Vec<Listen>,
    pub advertised_address: Option<String>,
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
    pub max_message_size: usize,
    pub udp_workers: usize,
    pub tcp_idle_timeout: Duration,
    pub tcp_max_connections: usize,
    pub tcp_max_per_source: usize,
    pub tcp_reserved_trusted: usize,
    pub tcp_untrusted_timeout: Duration,
    pub invite_timeout: Duration,
    pub max_forwards: u32,
    pub user_agent: String,
    /// Path MTU, when known: UDP requests stay 200 bytes under it (RFC 3261 §18.1.1).
    pub path_mtu: Option<usize>,
    /// Caller display names longer than this (characters) are cut to it on the carrier leg.
    pub max_display_name: usize,
    /// Headers passed on to the other leg whose value is longer than this (bytes) are left out.
    pub max_copied_header: usize,
    /// On SIGTERM: new calls get 503 while live calls get this long to end.
    pub shutdown_grace: Duration,
}

impl SipSettings {
    /// RFC 3261 §18.1.1: the largest request sent over UDP: 200 bytes under the
    /// path MTU when it is known, else 1300 bytes. Bigger ones go over TCP.
    pub fn udp_request_limit(&self) -> usize {
        self.path_mtu.map_or(1300, |m| m.saturating_sub(200))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub transport: Transport,
    pub address: SocketAddr,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    pub limits: crate::http_guard::HttpLimits,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Carrier {
    pub name: String,
    pub address: SocketAddr,
    pub transport: Transport,
    /// Lower is tried first.
    pub priority: u32,
    /// Where this carrier's inbound calls come from.
    pub inbound_sources: Vec<SourceMatch>,
    /// TLS: the name its certificate must be valid for; `None`: its IP address.
    pub tls_server_name: Option<String>,
    /// OPTIONS health checks (`None`: off).
    pub health: Option<HealthSettings>,
    /// SDES-SRTP toward the carrier (RFC 4568).
    pub srtp: crate::media::srtp::SrtpPolicy,
}

/// A carrier's OPTIONS health checks (`[[carriers]] health_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSettings {
    /// Time between pings; also the longest a ping waits for its answer.
    pub interval: std::time::Duration,
    /// Consecutive unanswered pings that mark the carrier down.
    pub down_after: u32,
    /// Consecutive answered pings that mark a down carrier up again.
    pub up_after: u32,
}

#[derive(Debug, Clone, Default)]
pub struct TwilioSettings {
    /// Source ranges Twilio signals from; a Twilio SID is only believed from these.
    pub signaling_ranges: Vec<ipnet::IpNet>,
}

/// Reads and validates a config file.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: origin.clone(),
            key: "(file)".into(),
            rule: format!("cannot read: {e}"),
        }])
    })?;
    let mut config = parse_str(&text, &origin)?;
    config.source = Some(path.to_path_buf());
    Ok(config)
}

/// Parses and validates config text; `origin` names it in error messages.
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
        let key = match e.span() {
            Some(span) => {
                let line = text
                    .get(..span.start)
                    .map(|t| t.matches('\n').count() + 1)
                    .unwrap_or(0);
                format!("(line {line})")
            }
            None => "(syntax)".to_string(),
        };
        ConfigErrors(vec![ConfigError {
            file: origin.to_string(),
            key,
            rule: e.message().to_string(),
        }])
    })?;
    validate::validate(raw, origin)
}

/// `[overload]`: when new INVITEs are shed (`call::intake::overload`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverloadSettings {
    /// Smoothed event-loop lag above which new INVITEs are shed; 0 = off.
    pub max_lag: Duration,
    /// Time a new INVITE waited in the UDP socket's receive queue (kernel
    /// receive timestamp to read) above which it is shed; 0 = off.
    pub max_queue: Duration,
    /// Calls in set-up at which new INVITEs are refused; 0 = no cap.
    pub max_setup_calls: u32,
    /// INVITEs sent toward callees with no response yet at which new INVITEs
    /// are refused; 0 = no cap.
    pub max_pending_invites: u32,
    /// `Retry-After` of the 503 (seconds).
    pub retry_after_s: u32,
}

impl Default for OverloadSettings {
    fn default() -> Self {
        Self {
            max_lag: Duration::ZERO,
            max_queue: Duration::ZERO,
            max_setup_calls: 0,
            max_pending_invites: 0,
            retry_after_s: 2,
        }
    }
}

#[cfg(test)]
mod tests;
