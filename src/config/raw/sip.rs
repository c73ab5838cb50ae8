//! `[sip]` (timers, limits, listen entries) and `[http]` as written, with
//! their defaults.

use serde::Deserialize;

use crate::config::Transport;

fn d_t1() -> u64 {
    500
}
fn d_t2() -> u64 {
    4000
}
fn d_t4() -> u64 {
    5000
}
fn d_max() -> usize {
    65536
}
fn d_workers() -> usize {
    2
}
fn d_idle() -> u64 {
    300
}
fn d_conns() -> usize {
    4096
}
fn d_per_source() -> usize {
    64
}
fn d_untrusted() -> u64 {
    5
}
fn d_invite() -> u64 {
    180
}
fn d_mf() -> u32 {
    70
}
fn d_max_display() -> usize {
    64
}
fn d_max_copied() -> usize {
    256
}
fn d_ua() -> String {
    "trunkgate".to_string()
}
fn d_grace() -> u64 {
    30
}
fn d_http() -> String {
    "127.0.0.1:8080".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSip {
    #[serde(default)]
    pub listen: Vec<RawListen>,
    #[serde(default)]
    pub advertised_address: Option<String>,
    #[serde(default = "d_t1")]
    pub t1_ms: u64,
    #[serde(default = "d_t2")]
    pub t2_ms: u64,
    #[serde(default = "d_t4")]
    pub t4_ms: u64,
    #[serde(default = "d_max")]
    pub max_message_size: usize,
    #[serde(default = "d_workers")]
    pub udp_workers: usize,
    #[serde(default = "d_idle")]
    pub tcp_idle_timeout_s: u64,
    #[serde(default = "d_conns")]
    pub tcp_max_connections: usize,
    #[serde(default = "d_per_source")]
    pub tcp_max_per_source: usize,
    /// TCP/TLS slots only trusted sources may take (default: an eighth of the pool).
    #[serde(default)]
    pub tcp_reserved_trusted: Option<usize>,
    /// An untrusted connection without a complete message for this long is closed.
    #[serde(default = "d_untrusted")]
    pub tcp_untrusted_timeout_s: u64,
    #[serde(default = "d_invite")]
    pub invite_timeout_s: u64,
    #[serde(default = "d_mf")]
    pub max_forwards: u32,
    #[serde(default = "d_ua")]
    pub user_agent: String,
    #[serde(default = "d_grace")]
    pub shutdown_grace_s: u64,
    /// Path MTU toward carriers/destinations, when known (RFC 3261 §18.1.1).
    #[serde(default)]
    pub path_mtu: Option<usize>,
    /// Longest caller display name copied onto the carrier leg (characters).
    #[serde(default = "d_max_display")]
    pub max_display_name: usize,
    /// Longest value of a header passed on to the other leg (bytes).
    #[serde(default = "d_max_copied")]
    pub max_copied_header: usize,
}

impl Default for RawSip {
    fn default() -> Self {
        RawSip {
            listen: Vec::new(),
            advertised_address: None,
            t1_ms: d_t1(),
            t2_ms: d_t2(),
            t4_ms: d_t4(),
            max_message_size: d_max(),
            udp_workers: d_workers(),
            tcp_idle_timeout_s: d_idle(),
            tcp_max_connections: d_conns(),
            tcp_max_per_source: d_per_source(),
            tcp_reserved_trusted: None,
            tcp_untrusted_timeout_s: d_untrusted(),
            invite_timeout_s: d_invite(),
            max_forwards: d_mf(),
            user_agent: d_ua(),
            shutdown_grace_s: d_grace(),
            path_mtu: None,
            max_display_name: d_max_display(),
            max_copied_header: d_max_copied(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListen {
    pub transport: Transport,
    pub address: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    #[serde(default = "d_http")]
    pub listen: String,
    #[serde(default = "d_http_max")]
    pub max_connections: usize,
    #[serde(default = "d_http_per_source")]
    pub max_per_source: usize,
    #[serde(default = "d_http_idle")]
    pub idle_timeout_s: u64,
}

fn d_http_max() -> usize {
    256
}

fn d_http_per_source() -> usize {
    32
}

fn d_http_idle() -> u64 {
    30
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            listen: d_http(),
            max_connections: d_http_max(),
            max_per_source: d_http_per_source(),
            idle_timeout_s: d_http_idle(),
        }
    }
}
