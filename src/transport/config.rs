//! The transport's settings (from `[sip]`, `[tls]` and `[hep]`), with the
//! defaults the tests use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{hep, SourceTrust, TlsContext, TransportKind};

#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Addresses to listen on; port 0 picks an ephemeral port (tests).
    pub listen: Vec<(TransportKind, SocketAddr)>,
    /// Bigger UDP datagrams are dropped; a TCP peer that exceeds it is closed.
    pub max_message_size: usize,
    /// SO_RCVBUF for UDP sockets (best effort).
    pub udp_recv_buffer: usize,
    /// SO_SNDBUF for UDP sockets (best effort).
    pub udp_send_buffer: usize,
    /// Receive tasks per UDP socket.
    pub udp_workers: usize,
    /// No bytes in either direction for this long closes a TCP connection.
    pub tcp_idle_timeout: Duration,
    /// A message started but not finished within this closes the connection.
    pub tcp_message_timeout: Duration,
    /// Total TCP connections, accepted and outbound.
    pub tcp_max_connections: usize,
    /// Accepted TCP connections per remote IP.
    pub tcp_max_per_source: usize,
    /// Of `tcp_max_connections`, slots only trusted sources (and outbound connections)
    /// may take: untrusted sources share the rest.
    pub tcp_reserved_trusted: usize,
    /// An accepted connection from an untrusted source that sends no complete message
    /// for this long (since it opened or since its last message) is closed.
    pub tcp_untrusted_timeout: Duration,
    /// Who is trusted; `None` trusts every source (no reserve, no short timeout).
    pub trust: Option<SourceTrust>,
    /// Outbound connect timeout.
    pub tcp_connect_timeout: Duration,
    /// Certificates and peer verification for TLS listeners and outbound TLS.
    pub tls: Option<Arc<TlsContext>>,
    /// HEP export of every message received and sent (`[hep]`).
    pub capture: Option<Arc<hep::Capture>>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            max_message_size: 65536,
            udp_recv_buffer: 8 << 20,
            udp_send_buffer: 8 << 20,
            udp_workers: 2,
            tcp_idle_timeout: Duration::from_secs(300),
            tcp_message_timeout: Duration::from_secs(10),
            tcp_max_connections: 4096,
            tcp_max_per_source: 64,
            tcp_reserved_trusted: 512,
            tcp_untrusted_timeout: Duration::from_secs(5),
            trust: None,
            tcp_connect_timeout: Duration::from_secs(3),
            tls: None,
            capture: None,
        }
    }
}
