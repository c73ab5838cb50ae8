//! Transport counters: plain atomics, read as a snapshot by the metrics layer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of the transport counters (monotonic totals since bind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportStats {
    pub udp_datagrams_in: u64,
    pub udp_datagrams_out: u64,
    pub udp_dropped_oversize: u64,
    pub udp_keepalives_in: u64,
    pub udp_recv_errors: u64,
    pub udp_send_errors: u64,
    pub tcp_accepted: u64,
    pub tcp_rejected_max_connections: u64,
    pub tcp_rejected_max_per_source: u64,
    /// Untrusted sources refused: the untrusted share of the pool was full.
    pub tcp_rejected_reserved: u64,
    pub tcp_connected_out: u64,
    pub tcp_connect_failed: u64,
    pub tcp_messages_in: u64,
    pub tcp_messages_out: u64,
    pub tcp_keepalive_pings: u64,
    pub tcp_queue_full: u64,
    pub tcp_closed_eof: u64,
    pub tcp_closed_idle: u64,
    pub tcp_closed_message_timeout: u64,
    pub tcp_closed_framing: u64,
    pub tcp_closed_too_large: u64,
    pub tcp_closed_io: u64,
    pub tcp_closed_shutdown: u64,
    pub tcp_closed_untrusted_idle: u64,
    pub tls_handshakes_in: u64,
    pub tls_handshakes_out: u64,
    pub tls_handshake_failed: u64,
}

/// Why a TCP connection was closed by the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    Eof,
    Idle,
    MessageTimeout,
    Framing,
    TooLarge,
    Io,
    Shutdown,
    /// An untrusted source sent no complete message within `tcp_untrusted_timeout`.
    UntrustedIdle,
}

impl CloseReason {
    pub const ALL: [CloseReason; 8] = [
        CloseReason::Eof,
        CloseReason::Idle,
        CloseReason::MessageTimeout,
        CloseReason::Framing,
        CloseReason::TooLarge,
        CloseReason::Io,
        CloseReason::Shutdown,
        CloseReason::UntrustedIdle,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            CloseReason::Eof => "eof",
            CloseReason::Idle => "idle",
            CloseReason::MessageTimeout => "message_timeout",
            CloseReason::Framing => "framing",
            CloseReason::TooLarge => "too_large",
            CloseReason::Io => "io",
            CloseReason::Shutdown => "shutdown",
            CloseReason::UntrustedIdle => "untrusted_idle",
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub udp_datagrams_in: AtomicU64,
    pub udp_datagrams_out: AtomicU64,
    pub udp_dropped_oversize: AtomicU64,
    pub udp_keepalives_in: AtomicU64,
    pub udp_recv_errors: AtomicU64,
    pub udp_send_errors: AtomicU64,
    pub tcp_accepted: AtomicU64,
    pub tcp_rejected_max_connections: AtomicU64,
    pub tcp_rejected_max_per_source: AtomicU64,
    pub tcp_rejected_reserved: AtomicU64,
    pub tcp_connected_out: AtomicU64,
    pub tcp_connect_failed: AtomicU64,
    pub tcp_messages_in: AtomicU64,
    pub tcp_messages_out: AtomicU64,
    pub tcp_keepalive_pings: AtomicU64,
    pub tcp_queue_full: AtomicU64,
    pub closed: [AtomicU64; 8],
    pub tls_handshakes_in: AtomicU64,
    pub tls_handshakes_out: AtomicU64,
    pub tls_handshake_failed: AtomicU64,
}

pub(crate) fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

impl Counters {
    pub fn closed(&self, reason: CloseReason) {
        inc(&self.closed[reason as usize]);
    }

    pub fn snapshot(&self) -> TransportStats {
        let g = |c: &AtomicU64| c.load(Relaxed);
        let closed = |r: CloseReason| g(&self.closed[r as usize]);
        TransportStats {
            udp_datagrams_in: g(&self.udp_datagrams_in),
            udp_datagrams_out: g(&self.udp_datagrams_out),
            udp_dropped_oversize: g(&self.udp_dropped_oversize),
            udp_keepalives_in: g(&self.udp_keepalives_in),
            udp_recv_errors: g(&self.udp_recv_errors),
            udp_send_errors: g(&self.udp_send_errors),
            tcp_accepted: g(&self.tcp_accepted),
            tcp_rejected_max_connections: g(&self.tcp_rejected_max_connections),
            tcp_rejected_max_per_source: g(&self.tcp_rejected_max_per_source),
            tcp_rejected_reserved: g(&self.tcp_rejected_reserved),
            tcp_connected_out: g(&self.tcp_connected_out),
            tcp_connect_failed: g(&self.tcp_connect_failed),
            tcp_messages_in: g(&self.tcp_messages_in),
            tcp_messages_out: g(&self.tcp_messages_out),
            tcp_keepalive_pings: g(&self.tcp_keepalive_pings),
            tcp_queue_full: g(&self.tcp_queue_full),
            tcp_closed_eof: closed(CloseReason::Eof),
            tcp_closed_idle: closed(CloseReason::Idle),
            tcp_closed_message_timeout: closed(CloseReason::MessageTimeout),
            tcp_closed_framing: closed(CloseReason::Framing),
            tcp_closed_too_large: closed(CloseReason::TooLarge),
            tcp_closed_io: closed(CloseReason::Io),
            tcp_closed_shutdown: closed(CloseReason::Shutdown),
            tcp_closed_untrusted_idle: closed(CloseReason::UntrustedIdle),
            tls_handshakes_in: g(&self.tls_handshakes_in),
            tls_handshakes_out: g(&self.tls_handshakes_out),
            tls_handshake_failed: g(&self.tls_handshake_failed),
        }
    }
}
