//! Prometheus counters of the TLS transport, fed from the transport's own atomics at
//! scrape time (the gateway's scrape hook calls [`TlsMetrics::update`]).

use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::TransportStats;

type Labels = Vec<(&'static str, &'static str)>;

#[derive(Default)]
pub struct TlsMetrics {
    handshakes: Family<Labels, Counter>,
    failures: Counter,
    /// The totals last copied, so each scrape adds only what is new.
    last: Mutex<(u64, u64, u64)>,
}

impl TlsMetrics {
    pub fn register(registry: &mut Registry) -> TlsMetrics {
        let m = TlsMetrics::default();
        registry.register(
            "trunkgate_tls_handshakes",
            "Completed SIP TLS handshakes, by direction (in: accepted, out: to carriers/destinations)",
            m.handshakes.clone(),
        );
        registry.register(
            "trunkgate_tls_handshake_failures",
            "SIP TLS handshakes that failed or timed out (bad certificate, no client certificate, ...)",
            m.failures.clone(),
        );
        m
    }

    pub fn update(&self, s: &TransportStats) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let now = (
            s.tls_handshakes_in,
            s.tls_handshakes_out,
            s.tls_handshake_failed,
        );
        let add = |c: &Counter, new: u64, old: u64| {
            c.inc_by(new.saturating_sub(old));
        };
        add(
            &self.handshakes.get_or_create(&vec![("direction", "in")]),
            now.0,
            last.0,
        );
        add(
            &self.handshakes.get_or_create(&vec![("direction", "out")]),
            now.1,
            last.1,
        );
        add(&self.failures, now.2, last.2);
        *last = now;
    }
}
