//! The config file as written: serde structs with defaults, unknown keys refused.

use serde::Deserialize;

use super::trunk::Trunk;
use super::Transport;
pub use sip::{RawHttp, RawSip};

mod sip;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub sip: RawSip,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub carriers: Vec<RawCarrier>,
    #[serde(default)]
    pub trunks: Vec<Trunk>,
    #[serde(default)]
    pub twilio: RawTwilio,
    #[serde(default)]
    pub numbers: Vec<RawNumber>,
    #[serde(default)]
    pub dns: RawDns,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub api: RawApi,
    #[serde(default)]
    pub media: RawMedia,
    #[serde(default)]
    pub flow: RawFlow,
    /// `[tls]`: certificates for SIP over TLS (see `validate/tls.rs`).
    pub tls: Option<RawTls>,
    /// `[hep]`: HEP v3 capture export; absent = off.
    pub hep: Option<RawHep>,
    /// `[log]`: the log filter (re-applied on reload).
    #[serde(default)]
    pub log: RawLog,
    /// `[overload]`: shedding new INVITEs when the gateway cannot keep up.
    #[serde(default)]
    pub overload: RawOverload,
    /// `[cluster]`: node identity and cluster-wide call limits (see `validate/cluster.rs`).
    #[serde(default)]
    pub cluster: RawCluster,
}

/// `[overload]` (see `call::overload`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverload {
    #[serde(default = "d_max_lag_ms")]
    pub max_lag_ms: u64,
    #[serde(default)]
    pub max_queue_ms: u64,
    #[serde(default)]
    pub max_setup_calls: u32,
    #[serde(default)]
    pub max_pending_invites: u32,
    #[serde(default = "d_retry_after_s")]
    pub retry_after_s: u32,
}

fn d_max_lag_ms() -> u64 {
    0
}

fn d_retry_after_s() -> u32 {
    2
}

impl Default for RawOverload {
    fn default() -> Self {
        Self {
            max_lag_ms: d_max_lag_ms(),
            max_queue_ms: 0,
            max_setup_calls: 0,
            max_pending_invites: 0,
            retry_after_s: d_retry_after_s(),
        }
    }
}

/// `[log]`: what the gateway logs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// A `tracing` filter: `info`, `debug`, `warn,trunkgate::call=debug` ...
    pub level: Option<String>,
}

/// `[cluster]`: this node's id and the Redis holding call-limit leases.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub node_id: Option<String>,
    /// May carry a password: never printed (see the `Debug` below).
    pub redis_url: Option<String>,
    pub lease_ttl_s: Option<u64>,
    pub on_redis_down: Option<String>,
}

impl std::fmt::Debug for RawCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawCluster")
            .field("node_id", &self.node_id)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<redacted>"))
            .field("lease_ttl_s", &self.lease_ttl_s)
            .field("on_redis_down", &self.on_redis_down)
            .finish()
    }
}

/// `[hep]`: copies of every SIP message to a Homer/heplify collector.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHep {
    pub address: String,
    #[serde(default = "d_hep_node")]
    pub node_id: u32,
    pub password: Option<String>,
}

fn d_hep_node() -> u32 {
    2001
}

/// `[tls]`: certificate, key, CA for peer verification, mutual TLS.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub ca_file: Option<String>,
    pub client_auth: Option<String>,
    pub handshake_timeout_ms: Option<u64>,
    /// Outbound trunks tied to a PBX client-certificate name.
    #[serde(default)]
    pub trunk_client_names: Vec<RawTrunkClientName>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrunkClientName {
    pub trunk_id: String,
    pub name: String,
}

/// `[flow]`: call-flow workers (gRPC) for CallFlows/ParkingLot numbers and `api` failover.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    /// `http://host:port` of each worker, tried in order.
    #[serde(default)]
    pub workers: Vec<String>,
    pub connect_timeout_ms: Option<u64>,
    pub offer_timeout_ms: Option<u64>,
    /// 0: no health probe.
    pub health_interval_s: Option<u64>,
}

/// `[media]`: the RTP relay. Every key has a default; see `media::MediaSettings`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMedia {
    pub enabled: Option<bool>,
    pub bind_ipv4: Option<String>,
    pub bind_ipv6: Option<String>,
    pub advertise_ipv4: Option<String>,
    pub advertise_ipv6: Option<String>,
    pub port_min: Option<u32>,
    pub port_max: Option<u32>,
    /// Seconds; 0 turns the dead-media check off.
    pub rtp_timeout_s: Option<u64>,
    /// `signaled_ip` (default) or `any`.
    pub latch: Option<String>,
    pub busy_tone_s: Option<u64>,
    pub default_country: Option<String>,
    pub recordings_dir: Option<String>,
    pub recording_queue: Option<usize>,
    /// Per-call loss, jitter and MOS tracking (default true).
    pub quality: Option<bool>,
    /// Seconds of RTP one way only after the answer that flag one-way audio; 0: off.
    pub one_way_after_s: Option<u64>,
}

/// The REST API: who may call it. Keys are given as hashes only
/// (`sha256:<64 hex digits>`), never in clear.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    #[serde(default)]
    pub key_hashes: Vec<String>,
    /// Requests a minute per accepted key, and failed authentications a
    /// minute per source address (400429 beyond).
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Browser origins allowed to call the API (CORS).
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

/// A phone number and what it is assigned to (`Trunks/{trunk_id}`, `CallFlows`, `ParkingLot`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNumber {
    pub no: String,
    pub assigned_to: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    /// Empty: the system resolver (/etc/resolv.conf).
    #[serde(default)]
    pub nameservers: Vec<String>,
    /// Static records, no DNS at all: `{ name = "pbx.example.com", srv = [...], a = [...] }`.
    #[serde(default)]
    pub r#static: Vec<RawStaticName>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStaticName {
    pub name: String,
    #[serde(default)]
    pub a: Vec<String>,
    /// "priority weight port target"
    #[serde(default)]
    pub srv: Vec<String>,
}

fn d_data_dir() -> String {
    "data".to_string()
}
fn d_queue() -> usize {
    10_000
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    #[serde(default = "d_data_dir")]
    pub data_dir: String,
    /// `postgres://…` of a shared PostgreSQL store; may carry a password:
    /// never printed (see the `Debug` below). Absent: SQLite in `data_dir`.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "d_queue")]
    pub call_log_queue: usize,
    /// Call-log records older than this many days are deleted (0 keeps all).
    #[serde(default = "d_retention")]
    pub call_log_retention_days: u32,
    /// Refused INVITEs from untrusted sources written to the call log a second.
    #[serde(default = "d_refusals")]
    pub call_log_refusals_per_s: u32,
}

fn d_retention() -> u32 {
    90
}
fn d_refusals() -> u32 {
    10
}

impl std::fmt::Debug for RawStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawStore")
            .field("data_dir", &self.data_dir)
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("call_log_queue", &self.call_log_queue)
            .field("call_log_retention_days", &self.call_log_retention_days)
            .field("call_log_refusals_per_s", &self.call_log_refusals_per_s)
            .finish()
    }
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            data_dir: d_data_dir(),
            url: None,
            call_log_queue: d_queue(),
            call_log_retention_days: d_retention(),
            call_log_refusals_per_s: d_refusals(),
        }
    }
}

fn d_prio() -> u32 {
    10
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCarrier {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub transport: Transport,
    #[serde(default = "d_prio")]
    pub priority: u32,
    /// Sources this carrier delivers inbound calls from: IP, CIDR or IP:port.
    #[serde(default)]
    pub inbound_sources: Vec<String>,
    /// transport = "tls": the name the carrier's certificate must be valid for (and the
    /// SNI sent); default: its IP address.
    pub tls_server_name: Option<String>,
    /// Seconds between OPTIONS health pings; 0 = no health checks.
    #[serde(default = "d_health_interval")]
    pub health_interval_s: u64,
    /// Consecutive unanswered pings that mark the carrier down.
    #[serde(default = "d_health_down")]
    pub health_down_after: u32,
    /// Consecutive answered pings that mark a down carrier up again.
    #[serde(default = "d_health_up")]
    pub health_up_after: u32,
    /// SDES-SRTP toward this carrier: `off`, `optional` (default) or `required`.
    #[serde(default)]
    pub srtp: crate::media::srtp::SrtpPolicy,
}

fn d_health_interval() -> u64 {
    10
}

fn d_health_down() -> u32 {
    3
}

fn d_health_up() -> u32 {
    2
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTwilio {
    #[serde(default)]
    pub signaling_ranges: Vec<String>,
}
