//! Prometheus metrics (prometheus-client). Families are registered on a
//! registry passed in, never in globals, so every test builds its own.
//!
//! Label values are bounded: SIP methods outside the known set count as
//! `other`, trunks are labelled by their configured id (operator-bounded),
//! reasons are static names. Hot-path counters (messages in/out) are resolved
//! once at start-up into arrays, so counting a message is one atomic add.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use dashmap::DashMap;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use uuid::Uuid;

use crate::sip::Method;

pub use crate::metric_labels::{
    CallLabels, CarrierLabels, ReasonLabels, ResultLabels, SourceLabels, TrunkLabels,
    TrunkReasonLabels,
};

/// Methods with their own label value; everything else is `other`.
const METHODS: [&str; 15] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "UPDATE",
    "INFO",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
    "other",
];
const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "6xx"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MessageLabels {
    direction: &'static str,
    kind: &'static str,
    method: &'static str,
    class: &'static str,
}

/// Direction of a message relative to the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    In,
    Out,
}

/// One trunk's per-call metric handles, looked up in their families once per
/// trunk ([`Metrics::trunk`]) instead of once per call and event: a call then
/// counts with atomic adds, no label string built, hashed or compared. The
/// families are never pruned, so a kept handle always feeds the exported
/// series. The histograms and call counters are created on first use, as a
/// `get_or_create` at that moment would: a trunk's series appear when it
/// first has something to show.
pub struct TrunkMetrics {
    /// The trunk's id as its label value.
    pub label: String,
    /// `trunkgate_trunk_calls_active{trunk}` (the series exists once a call started).
    pub calls_active: Gauge,
    post_dial_delay: OnceLock<Histogram>,
    time_to_answer: OnceLock<Histogram>,
    /// `trunkgate_calls_total{trunk, direction, status}` handles met so far.
    calls: Mutex<Vec<(&'static str, &'static str, Counter)>>,
    families: TrunkFamilies,
}

/// The families a [`TrunkMetrics`] creates its series in.
#[derive(Clone)]
struct TrunkFamilies {
    calls: Family<CallLabels, Counter>,
    post_dial_delay: Family<TrunkLabels, Histogram, fn() -> Histogram>,
    time_to_answer: Family<TrunkLabels, Histogram, fn() -> Histogram>,
}

impl TrunkMetrics {
    /// Observes INVITE-sent-to-first-18x/2xx, in seconds.
    pub fn observe_post_dial_delay(&self, secs: f64) {
        self.post_dial_delay
            .get_or_init(|| {
                self.families
                    .post_dial_delay
                    .get_or_create(&self.labels())
                    .clone()
            })
            .observe(secs);
    }

    /// Observes INVITE-received-to-200-relayed, in seconds.
    pub fn observe_time_to_answer(&self, secs: f64) {
        self.time_to_answer
            .get_or_init(|| {
                self.families
                    .time_to_answer
                    .get_or_create(&self.labels())
                    .clone()
            })
            .observe(secs);
    }

    /// Counts one ended call of this trunk.
    pub fn call_ended(&self, direction: &'static str, status: &'static str) {
        let mut known = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, _, c)) = known
            .iter()
            .find(|(d, s, _)| *d == direction && *s == status)
        {
            c.inc();
            return;
        }
        let c = self
            .families
            .calls
            .get_or_create(&CallLabels {
                trunk: self.label.clone(),
                direction,
                status,
            })
            .clone();
        c.inc();
        known.push((direction, status, c));
    }

    fn labels(&self) -> TrunkLabels {
        TrunkLabels {
            trunk: self.label.clone(),
        }
    }
}

/// Every metric family the gateway exports.
pub struct Metrics {
    requests: [[Counter; METHODS.len()]; 2],
    responses: [[Counter; CLASSES.len()]; 2],
    /// Messages dropped before the transaction layer, by reason (parse errors, scanners, full queues).
    pub dropped: Family<ReasonLabels, Counter>,
    /// Requests refused by the gateway (stateless errors and policy), by reason.
    pub rejections: Family<ReasonLabels, Counter>,
    pub transactions_active: Gauge,
    /// Ended calls whose transactions still absorb retransmissions (call::linger).
    pub calls_lingering: Gauge,
    pub calls_active: Gauge,
    pub calls_active_by_trunk: Family<TrunkLabels, Gauge>,
    /// Each trunk's `simultaneous_call_limit` (trunks without one are absent),
    /// refreshed from the routing snapshot at every scrape.
    pub trunk_call_limit: Family<TrunkLabels, Gauge>,
    /// 1 while the carrier answers its OPTIONS health pings (always 1 without health checks).
    pub carrier_up: Family<CarrierLabels, Gauge>,
    /// Config reloads (SIGHUP), `ok` or `error` (the file failed validation; nothing changed).
    pub config_reloads: Family<ResultLabels, Counter>,
    pub calls: Family<CallLabels, Counter>,
    pub carrier_failovers: Counter,
    /// Inbound failovers, by failover source (trunk_id, phone_number, sip_uri, api).
    pub failovers: Family<SourceLabels, Counter>,
    /// Calls refused by a trunk's policy (limit_reached, trunk_inactive, pdd_timeout …).
    pub trunk_rejections: Family<TrunkReasonLabels, Counter>,
    /// Call-log records dropped because the writer queue was full.
    pub call_log_dropped: Counter,
    /// Refused INVITEs from untrusted sources, by `logged` (sampled into the call log) or not.
    pub call_log_refusals: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// REST requests answered 429 (400429), by `reason`: `key` (an accepted
    /// key over its budget) or `failed_auth` (a source over its failed-
    /// authentication budget).
    pub api_rate_limited: Family<ReasonLabels, Counter>,
    /// Requests sent over TCP instead of UDP for their size (RFC 3261 §18.1.1).
    pub udp_to_tcp: Counter,
    /// Requests too big for UDP that could not go over TCP: not sent.
    pub udp_oversize_refused: Counter,
    /// INVITE sent to first 18x/2xx from the carrier.
    pub post_dial_delay: Family<TrunkLabels, Histogram, fn() -> Histogram>,
    /// Answered calls: INVITE received to 200 OK relayed.
    pub time_to_answer: Family<TrunkLabels, Histogram, fn() -> Histogram>,
    pub call_duration: Histogram,
    /// Per-trunk handles ([`Metrics::trunk`]), by trunk id.
    trunks: DashMap<Uuid, Arc<TrunkMetrics>>,
    /// Media relay, tones and recordings.
    pub media: crate::media::MediaMetrics,
    /// Media quality per trunk and carrier (MOS, jitter, loss, one-way audio).
    pub quality: crate::media::quality::metrics::QualityMetrics,
    /// Call-flow worker offers and health.
    pub flow: crate::flow::FlowMetrics,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Metrics {
        let msgs: Family<MessageLabels, Counter> = Family::default();
        registry.register(
            "trunkgate_sip_messages",
            "SIP messages received and sent",
            msgs.clone(),
        );
        let dirs = ["in", "out"];
        let requests = dirs.map(|d| {
            METHODS.map(|m| {
                msgs.get_or_create(&MessageLabels {
                    direction: d,
                    kind: "request",
                    method: m,
                    class: "",
                })
                .clone()
            })
        });
        let responses = dirs.map(|d| {
            CLASSES.map(|c| {
                msgs.get_or_create(&MessageLabels {
                    direction: d,
                    kind: "response",
                    method: "",
                    class: c,
                })
                .clone()
            })
        });
        let dropped = Family::default();
        registry.register(
            "trunkgate_sip_dropped",
            "SIP messages dropped unanswered, by reason",
            dropped.clone(),
        );
        let rejections = Family::default();
        registry.register(
            "trunkgate_rejections",
            "Requests refused by the gateway, by reason",
            rejections.clone(),
        );
        let transactions_active = Gauge::default();
        registry.register(
            "trunkgate_transactions_active",
            "SIP transactions in progress",
            transactions_active.clone(),
        );
        let calls_lingering = Gauge::default();
        registry.register(
            "trunkgate_calls_lingering",
            "Ended calls kept only to answer retransmissions (up to 64*T1)",
            calls_lingering.clone(),
        );
        let calls_active = Gauge::default();
        registry.register(
            "trunkgate_calls_active",
            "Calls in progress",
            calls_active.clone(),
        );
        let calls_active_by_trunk = Family::default();
        registry.register(
            "trunkgate_trunk_calls_active",
            "Calls in progress per trunk",
            calls_active_by_trunk.clone(),
        );
        let calls = Family::default();
        let config_reloads = Family::<ResultLabels, Counter>::default();
        for result in ["ok", "error"] {
            let _ = config_reloads.get_or_create(&ResultLabels { result });
        }
        registry.register(
            "trunkgate_config_reloads",
            "Config reloads by result: ok, or error (invalid file, nothing changed)",
            config_reloads.clone(),
        );
        let carrier_up = Family::<CarrierLabels, Gauge>::default();
        registry.register(
            "trunkgate_carrier_up",
            "1 while the carrier answers its OPTIONS health pings, 0 once it is down",
            carrier_up.clone(),
        );
        let trunk_call_limit = Family::<TrunkLabels, Gauge>::default();
        registry.register(
            "trunkgate_trunk_call_limit",
            "A trunk's simultaneous_call_limit (absent when unlimited)",
            trunk_call_limit.clone(),
        );
        registry.register(
            "trunkgate_calls",
            "Calls ended, by trunk, direction and result",
            calls.clone(),
        );
        let carrier_failovers = Counter::default();
        registry.register(
            "trunkgate_carrier_failovers",
            "Outbound attempts moved to the next carrier",
            carrier_failovers.clone(),
        );
        // Known sources start at 0, so dashboards and alerts see the series before the first failover.
        let failovers: Family<SourceLabels, Counter> = Family::default();
        for source in ["trunk_id", "phone_number", "sip_uri", "api"] {
            let _ = failovers.get_or_create(&SourceLabels { source });
        }
        registry.register(
            "trunkgate_failovers",
            "Inbound failovers, by failover source",
            failovers.clone(),
        );
        let trunk_rejections = Family::default();
        registry.register(
            "trunkgate_trunk_rejections",
            "Calls refused by trunk policy, by trunk, direction and reason",
            trunk_rejections.clone(),
        );
        let call_log_dropped = Counter::default();
        registry.register(
            "trunkgate_call_log_dropped",
            "Call-log records dropped because the writer queue was full",
            call_log_dropped.clone(),
        );
        let udp_to_tcp = Counter::default();
        registry.register(
            "trunkgate_sip_udp_to_tcp",
            "INVITEs sent over TCP instead of UDP because they were over sip.path_mtu - 200 or 1300 bytes (RFC 3261 §18.1.1)",
            udp_to_tcp.clone(),
        );
        let udp_oversize_refused = Counter::default();
        registry.register(
            "trunkgate_sip_udp_oversize_refused",
            "Requests over the UDP size limit that could not go over TCP: not sent (the hop fails as unreachable)",
            udp_oversize_refused.clone(),
        );
        let call_log_refusals = Family::<Vec<(&'static str, &'static str)>, Counter>::default();
        registry.register(
            "trunkgate_call_log_refusals",
            "INVITEs refused from untrusted sources: logged=yes written to the call log (sampled, store.call_log_refusals_per_s), logged=no only counted",
            call_log_refusals.clone(),
        );
        let api_rate_limited = Family::<ReasonLabels, Counter>::default();
        for reason in ["key", "failed_auth"] {
            let _ = api_rate_limited.get_or_create(&ReasonLabels { reason });
        }
        registry.register(
            "trunkgate_api_rate_limited",
            "REST requests answered 429 (400429), by reason: key (an accepted key over api.requests_per_minute) or failed_auth (a source over its failed-authentication budget)",
            api_rate_limited.clone(),
        );
        let post_dial_delay: Family<TrunkLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 2.0, 14)));
        registry.register(
            "trunkgate_post_dial_delay_seconds",
            "INVITE sent to first ringing/early media from the carrier",
            post_dial_delay.clone(),
        );
        let time_to_answer: Family<TrunkLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 2.0, 16)));
        registry.register(
            "trunkgate_time_to_answer_seconds",
            "INVITE received to 200 OK relayed",
            time_to_answer.clone(),
        );
        let call_duration = Histogram::new(exponential_buckets(1.0, 2.0, 14));
        registry.register(
            "trunkgate_call_duration_seconds",
            "Answered call duration",
            call_duration.clone(),
        );
        Metrics {
            requests,
            responses,
            dropped,
            rejections,
            transactions_active,
            calls_lingering,
            calls_active,
            calls_active_by_trunk,
            trunk_call_limit,
            carrier_up,
            config_reloads,
            calls,
            carrier_failovers,
            failovers,
            trunk_rejections,
            call_log_dropped,
            call_log_refusals,
            api_rate_limited,
            udp_to_tcp,
            udp_oversize_refused,
            post_dial_delay,
            time_to_answer,
            call_duration,
            trunks: DashMap::new(),
            media: crate::media::MediaMetrics::register(registry),
            quality: crate::media::quality::metrics::QualityMetrics::register(registry),
            flow: crate::flow::FlowMetrics::register(registry),
        }
    }

    /// The per-call metric handles of trunk `id` (looked up once per trunk).
    pub fn trunk(&self, id: Uuid) -> Arc<TrunkMetrics> {
        if let Some(t) = self.trunks.get(&id) {
            return Arc::clone(t.value());
        }
        let label = id.to_string();
        let calls_active = self
            .calls_active_by_trunk
            .get_or_create(&TrunkLabels {
                trunk: label.clone(),
            })
            .clone();
        let made = Arc::new(TrunkMetrics {
            label,
            calls_active,
            post_dial_delay: OnceLock::new(),
            time_to_answer: OnceLock::new(),
            calls: Mutex::new(Vec::new()),
            families: TrunkFamilies {
                calls: self.calls.clone(),
                post_dial_delay: self.post_dial_delay.clone(),
                time_to_answer: self.time_to_answer.clone(),
            },
        });
        Arc::clone(self.trunks.entry(id).or_insert(made).value())
    }

    /// Counts one request in or out.
    pub fn request(&self, dir: Dir, method: &Method) {
        let idx = METHODS
            .iter()
            .position(|m| *m == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        self.requests[dir as usize][idx].inc();
    }

    /// Counts one response in or out.
    pub fn response(&self, dir: Dir, code: u16) {
        let idx = usize::from(code / 100).clamp(1, 6) - 1;
        self.responses[dir as usize][idx].inc();
    }

    pub fn drop_reason(&self, reason: &'static str) {
        self.dropped.get_or_create(&ReasonLabels { reason }).inc();
    }

    pub fn reject(&self, reason: &'static str) {
        self.rejections
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(reg: &Registry) -> String {
        let mut s = String::new();
        prometheus_client::encoding::text::encode(&mut s, reg).unwrap();
        s
    }

    #[test]
    fn counts_methods_and_classes() {
        let mut reg = Registry::default();
        let m = Metrics::register(&mut reg);
        m.request(Dir::In, &Method::Invite);
        m.request(Dir::In, &Method::Invite);
        m.request(Dir::Out, &Method::Other(bytes::Bytes::from_static(b"FOO")));
        m.response(Dir::Out, 486);
        m.reject("auth_failed");
        let text = render(&reg);
        assert!(text.contains(
            "trunkgate_sip_messages_total{direction=\"in\",kind=\"request\",method=\"INVITE\",class=\"\"} 2"
        ));
        assert!(text.contains(
            "trunkgate_sip_messages_total{direction=\"out\",kind=\"request\",method=\"other\",class=\"\"} 1"
        ));
        assert!(text.contains(
            "trunkgate_sip_messages_total{direction=\"out\",kind=\"response\",method=\"\",class=\"4xx\"} 1"
        ));
        assert!(text.contains("trunkgate_rejections_total{reason=\"auth_failed\"} 1"));
    }

    #[test]
    fn trunk_handles_feed_the_labelled_series_and_create_them_on_first_use() {
        let mut reg = Registry::default();
        let m = Metrics::register(&mut reg);
        let id = Uuid::from_u128(7);
        let t = m.trunk(id);
        assert!(Arc::ptr_eq(&t, &m.trunk(id)), "looked up once per trunk");
        let label = format!("trunk=\"{id}\"");
        t.calls_active.inc();
        let text = render(&reg);
        assert!(text.contains(&format!("trunkgate_trunk_calls_active{{{label}}} 1")));
        // Nothing observed yet: no series of this trunk in the histograms or the call counter.
        assert!(!text.contains(&format!(
            "trunkgate_post_dial_delay_seconds_count{{{label}}}"
        )));
        assert!(!text.contains(&format!(
            "trunkgate_time_to_answer_seconds_count{{{label}}}"
        )));
        assert!(!text.contains("trunkgate_calls_total{"));

        t.calls_active.dec();
        t.observe_post_dial_delay(0.5);
        t.observe_time_to_answer(1.5);
        t.call_ended("inbound", "completed");
        m.trunk(id).call_ended("inbound", "completed");
        t.call_ended("outbound", "busy");
        let text = render(&reg);
        assert!(text.contains(&format!("trunkgate_trunk_calls_active{{{label}}} 0")));
        assert!(text.contains(&format!(
            "trunkgate_post_dial_delay_seconds_count{{{label}}} 1"
        )));
        assert!(text.contains(&format!(
            "trunkgate_time_to_answer_seconds_count{{{label}}} 1"
        )));
        assert!(text.contains(&format!(
            "trunkgate_calls_total{{{label},direction=\"inbound\",status=\"completed\"}} 2"
        )));
        assert!(text.contains(&format!(
            "trunkgate_calls_total{{{label},direction=\"outbound\",status=\"busy\"}} 1"
        )));
    }
}
