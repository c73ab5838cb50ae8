//! Prometheus families of media quality: per trunk and per carrier, by
//! media direction (`caller_to_callee`, `callee_to_caller`). Labels are
//! bounded: trunk ids and carrier names come from the configuration, the
//! direction is one of two. Observed once per call, when it ends (one-way
//! audio when it is found).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::QualityReport;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TrunkDirLabels {
    pub trunk: String,
    pub direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CarrierDirLabels {
    pub carrier: String,
    pub direction: &'static str,
}

type Hist<L> = Family<L, Histogram, fn() -> Histogram>;

fn mos_histogram() -> Histogram {
    // MOS bands: bad < 2.6 <= poor < 3.1 <= fair < 3.6 <= good < 4.0 <= very good.
    Histogram::new([1.5, 2.0, 2.6, 3.1, 3.6, 4.0, 4.2, 4.3, 4.4, 4.5])
}

fn jitter_histogram() -> Histogram {
    // 0.5 ms .. 256 ms.
    Histogram::new(exponential_buckets(0.0005, 2.0, 10))
}

/// Media quality families (registered once, shared by every call).
pub struct QualityMetrics {
    pub mos: Hist<TrunkDirLabels>,
    pub jitter: Hist<TrunkDirLabels>,
    pub received: Family<TrunkDirLabels, Counter>,
    pub lost: Family<TrunkDirLabels, Counter>,
    pub carrier_mos: Hist<CarrierDirLabels>,
    pub carrier_jitter: Hist<CarrierDirLabels>,
    pub carrier_received: Family<CarrierDirLabels, Counter>,
    pub carrier_lost: Family<CarrierDirLabels, Counter>,
    /// Calls flagged one-way whose silent leg sent no RTP at all.
    pub one_way: Family<TrunkDirLabels, Counter>,
    /// Calls flagged one-way whose silent leg sent from an address that never matched.
    pub latch_failures: Family<TrunkDirLabels, Counter>,
}

impl QualityMetrics {
    pub fn register(reg: &mut Registry) -> QualityMetrics {
        let m = QualityMetrics {
            mos: Family::new_with_constructor(mos_histogram),
            jitter: Family::new_with_constructor(jitter_histogram),
            received: Family::default(),
            lost: Family::default(),
            carrier_mos: Family::new_with_constructor(mos_histogram),
            carrier_jitter: Family::new_with_constructor(jitter_histogram),
            carrier_received: Family::default(),
            carrier_lost: Family::default(),
            one_way: Family::default(),
            latch_failures: Family::default(),
        };
        reg.register(
            "trunkgate_media_mos",
            "Estimated MOS (simplified E-model) of answered calls' media, per trunk and direction",
            m.mos.clone(),
        );
        reg.register(
            "trunkgate_media_jitter_seconds",
            "RFC 3550 interarrival jitter of answered calls' media at call end, per trunk and direction",
            m.jitter.clone(),
        );
        reg.register(
            "trunkgate_media_rtp_received",
            "RTP packets received from the legs (distinct), per trunk and direction",
            m.received.clone(),
        );
        reg.register(
            "trunkgate_media_rtp_lost",
            "RTP packets lost on the way to the gateway (from sequence numbers), per trunk and direction",
            m.lost.clone(),
        );
        reg.register(
            "trunkgate_carrier_media_mos",
            "Estimated MOS of answered calls' media, per carrier and direction",
            m.carrier_mos.clone(),
        );
        reg.register(
            "trunkgate_carrier_media_jitter_seconds",
            "RFC 3550 interarrival jitter of answered calls' media, per carrier and direction",
            m.carrier_jitter.clone(),
        );
        reg.register(
            "trunkgate_carrier_media_rtp_received",
            "RTP packets received from the legs (distinct), per carrier and direction",
            m.carrier_received.clone(),
        );
        reg.register(
            "trunkgate_carrier_media_rtp_lost",
            "RTP packets lost on the way to the gateway, per carrier and direction",
            m.carrier_lost.clone(),
        );
        reg.register(
            "trunkgate_calls_one_way_audio",
            "Calls with RTP one way only after the answer (the silent leg sent nothing), by the direction that flowed",
            m.one_way.clone(),
        );
        reg.register(
            "trunkgate_calls_latch_failures",
            "Calls with one-way audio because the silent leg's RTP came from an address that never matched its SDP",
            m.latch_failures.clone(),
        );
        m
    }

    /// A call's final figures: packet counters always, MOS and jitter for
    /// answered calls, each for the directions that carried RTP.
    pub fn observe(
        &self,
        trunk: &str,
        carrier: Option<&str>,
        answered: bool,
        report: &QualityReport,
    ) {
        for (direction, d) in report.directions() {
            if d.packets_received == 0 {
                continue;
            }
            let t = TrunkDirLabels {
                trunk: trunk.to_string(),
                direction,
            };
            let c = carrier.map(|c| CarrierDirLabels {
                carrier: c.to_string(),
                direction,
            });
            self.received.get_or_create(&t).inc_by(d.packets_received);
            self.lost.get_or_create(&t).inc_by(d.packets_lost);
            if let Some(c) = &c {
                self.carrier_received
                    .get_or_create(c)
                    .inc_by(d.packets_received);
                self.carrier_lost.get_or_create(c).inc_by(d.packets_lost);
            }
            let (Some(mos), true) = (d.mos, answered) else {
                continue;
            };
            let jitter = d.jitter_ms / 1000.0;
            self.mos.get_or_create(&t).observe(mos);
            self.jitter.get_or_create(&t).observe(jitter);
            if let Some(c) = &c {
                self.carrier_mos.get_or_create(c).observe(mos);
                self.carrier_jitter.get_or_create(c).observe(jitter);
            }
        }
    }

    /// Puts `trunk`'s one-way and latching counters on the page at 0, so
    /// dashboards and alerts see the series before the first such call.
    pub fn touch_trunk(&self, trunk: &str) {
        for direction in ["caller_to_callee", "callee_to_caller"] {
            let l = TrunkDirLabels {
                trunk: trunk.to_string(),
                direction,
            };
            let _ = self.one_way.get_or_create(&l);
            let _ = self.latch_failures.get_or_create(&l);
        }
    }

    /// One-way audio found on a call of `trunk`.
    pub fn one_way(&self, trunk: &str, ow: super::OneWay) {
        let l = TrunkDirLabels {
            trunk: trunk.to_string(),
            direction: ow.direction(),
        };
        if ow.latching {
            self.latch_failures.get_or_create(&l).inc();
        } else {
            self.one_way.get_or_create(&l).inc();
        }
    }
}
