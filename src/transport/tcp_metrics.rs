//! Prometheus counters of the SIP TCP/TLS connection pool, fed from the transport's own
//! atomics at scrape time (the gateway's scrape hook calls [`TcpMetrics::update`]):
//! connections refused at accept, by cap, and connections closed, by reason.

use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::{CloseReason, TransportStats};

type Labels = Vec<(&'static str, &'static str)>;

#[derive(Default)]
pub struct TcpMetrics {
    refused: Family<Labels, Counter>,
    closed: Family<Labels, Counter>,
    /// The totals last copied, so each scrape adds only what is new.
    last: Mutex<TransportStats>,
}

impl TcpMetrics {
    pub fn register(registry: &mut Registry) -> TcpMetrics {
        let m = TcpMetrics::default();
        registry.register(
            "trunkgate_sip_tcp_refused",
            "SIP TCP/TLS connections closed at accept, by cap: max_connections, max_per_source, reserved_for_trusted (untrusted share full)",
            m.refused.clone(),
        );
        registry.register(
            "trunkgate_sip_tcp_closed",
            "SIP TCP/TLS connections closed, by reason (untrusted_idle: an untrusted source sent no message within sip.tcp_untrusted_timeout_s)",
            m.closed.clone(),
        );
        m
    }

    pub fn update(&self, s: &TransportStats) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let add = |fam: &Family<Labels, Counter>, label: &'static str, new: u64, old: u64| {
            fam.get_or_create(&vec![("reason", label)])
                .inc_by(new.saturating_sub(old));
        };
        add(
            &self.refused,
            "max_connections",
            s.tcp_rejected_max_connections,
            last.tcp_rejected_max_connections,
        );
        add(
            &self.refused,
            "max_per_source",
            s.tcp_rejected_max_per_source,
            last.tcp_rejected_max_per_source,
        );
        add(
            &self.refused,
            "reserved_for_trusted",
            s.tcp_rejected_reserved,
            last.tcp_rejected_reserved,
        );
        for r in CloseReason::ALL {
            add(&self.closed, r.name(), closed(s, r), closed(&last, r));
        }
        *last = s.clone();
    }
}

fn closed(s: &TransportStats, r: CloseReason) -> u64 {
    match r {
        CloseReason::Eof => s.tcp_closed_eof,
        CloseReason::Idle => s.tcp_closed_idle,
        CloseReason::MessageTimeout => s.tcp_closed_message_timeout,
        CloseReason::Framing => s.tcp_closed_framing,
        CloseReason::TooLarge => s.tcp_closed_too_large,
        CloseReason::Io => s.tcp_closed_io,
        CloseReason::Shutdown => s.tcp_closed_shutdown,
        CloseReason::UntrustedIdle => s.tcp_closed_untrusted_idle,
    }
}
