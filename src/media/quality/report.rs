//! The `quality` object of a call (call log and live calls) and the
//! simplified ITU-T G.107 E-model that turns loss and jitter into an
//! R-factor and a MOS.
//!
//! E-model, simplified (documented in the README, "Media quality"):
//! `R = 93.2 − Id − Ie,eff` — the G.107 default basic signal-to-noise and
//! simultaneous impairments (`Ro − Is = 93.2`), advantage factor `A = 0`;
//! `Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl + Bpl)` (random loss, `BurstR = 1`)
//! with `Ie`/`Bpl` per codec from ITU-T G.113 Appendix I (G.711 with packet
//! loss concealment: `Ie = 0`, `Bpl = 25.1`); the delay impairment `Id` from
//! an estimated mouth-to-ear delay of one 20 ms packet plus a jitter buffer
//! of twice the measured jitter (`Id = 0.024·d + 0.11·(d − 177.3)` above
//! 177.3 ms, the usual Cole–Rosenbluth fit). MOS from R by G.107 Annex B.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::rtcp::{Far, XrVoip};
use super::Rx;
use crate::media::leg::Leg;
use crate::sip::sdp::Codec;

/// The codec of a direction, as far as the E-model needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecClass {
    Unknown,
    Pcmu,
    Pcma,
    G729,
    G722,
    Other,
}

impl CodecClass {
    /// From the payload type and what the leg's SDP mapped it to.
    pub fn of(pt: u8, g711: Option<Codec>) -> CodecClass {
        match (g711, pt) {
            (Some(Codec::Pcmu), _) => CodecClass::Pcmu,
            (Some(Codec::Pcma), _) => CodecClass::Pcma,
            (None, 18) => CodecClass::G729,
            (None, 9) => CodecClass::G722,
            _ => CodecClass::Other,
        }
    }

    fn name(self) -> Option<&'static str> {
        match self {
            CodecClass::Unknown => None,
            CodecClass::Pcmu => Some("PCMU"),
            CodecClass::Pcma => Some("PCMA"),
            CodecClass::G729 => Some("G729"),
            CodecClass::G722 => Some("G722"),
            CodecClass::Other => Some("other"),
        }
    }

    /// (Ie, Bpl) from ITU-T G.113 Appendix I. Codecs without a published
    /// figure are scored like G.711 (an optimistic bound).
    fn impairment(self) -> (f64, f64) {
        match self {
            CodecClass::G729 => (11.0, 19.0),
            _ => (0.0, 25.1),
        }
    }
}

/// Packetisation delay assumed in the delay impairment (one 20 ms packet).
const PACKET_MS: f64 = 20.0;

/// The simplified E-model R-factor for `loss` (0..=1) and `jitter_ms`.
pub fn r_factor(loss: f64, jitter_ms: f64, codec: CodecClass) -> f64 {
    let (ie, bpl) = codec.impairment();
    let ppl = (loss * 100.0).clamp(0.0, 100.0);
    let ie_eff = ie + (95.0 - ie) * ppl / (ppl + bpl);
    let d = PACKET_MS + 2.0 * jitter_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    (93.2 - id - ie_eff).clamp(0.0, 100.0)
}

/// MOS (1..=4.5) from an R-factor (ITU-T G.107 Annex B).
pub fn mos(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + 7.0e-6 * r * (r - 60.0) * (100.0 - r)).clamp(1.0, 4.5)
    }
}

/// `caller_to_callee` for what the caller sends, `callee_to_caller` for the callee.
pub fn direction_name(from: Leg) -> &'static str {
    match from {
        Leg::Caller => "caller_to_callee",
        Leg::Callee => "callee_to_caller",
    }
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// A name in the report: a `&'static str` when the gateway builds it (no
/// allocation per report, built once a second per live call), owned when
/// read back from the call log. A JSON string either way.
pub type Name = Cow<'static, str>;

/// A call's media quality (a spec addition: the call log's `quality`, and
/// the running figures in `GET /v1/LiveCalls`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CallQuality)]
pub struct QualityReport {
    /// What the caller sends, as the gateway receives it, and what the
    /// callee's endpoint reports receiving.
    pub caller_to_callee: DirectionQuality,
    pub callee_to_caller: DirectionQuality,
    /// Lowest MOS of the call: the worse direction's worst 5-second interval
    /// (or its whole-call MOS when the call was shorter). Null without RTP.
    pub mos_min: Option<f64>,
    /// Mean of the directions' whole-call MOS (directions with RTP).
    pub mos_avg: Option<f64>,
    /// `caller_to_callee` (only the caller's audio flowed) or
    /// `callee_to_caller`, once RTP flowed one way only for
    /// `media.one_way_after_s` after the answer.
    #[schema(value_type = Option<String>)]
    pub one_way_audio: Option<Name>,
    /// Why: `no_rtp` (the silent leg sent nothing) or `latching` (it sent
    /// from an address that never matched its SDP).
    #[schema(value_type = Option<String>)]
    pub one_way_cause: Option<Name>,
}

/// One direction of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CallQualityDirection)]
pub struct DirectionQuality {
    /// Distinct RTP packets received (duplicates not counted).
    pub packets_received: u64,
    /// Packets expected from the sequence numbers (wrap and reordering handled).
    pub packets_expected: u64,
    pub packets_lost: u64,
    /// `packets_lost / packets_expected`, percent.
    pub loss_pct: f64,
    pub duplicates: u64,
    /// Packets that arrived after a higher sequence number (not lost).
    pub out_of_order: u64,
    /// RFC 3550 §6.4.1 interarrival jitter, milliseconds.
    pub jitter_ms: f64,
    /// The same in timestamp units of `clock_rate` (as RTCP carries it).
    pub jitter_ts: u64,
    pub clock_rate: u32,
    /// Longest run of consecutive lost packets.
    pub max_loss_burst: u64,
    /// Longest time without a packet after the answer (holds excluded), ms.
    pub max_silence_ms: u64,
    /// `PCMU`, `PCMA`, `G729`, `G722`, `other`; null before the first packet.
    #[schema(value_type = Option<String>)]
    pub codec: Option<Name>,
    /// Simplified E-model over the whole call; null without packets.
    pub r_factor: Option<f64>,
    pub mos: Option<f64>,
    /// Worst 5-second interval after the answer (null when none completed).
    pub mos_min: Option<f64>,
    /// Packets from an address that never matched the sending leg's SDP (dropped).
    pub latch_failures: u64,
    /// What the receiving endpoint reported in RTCP, if it sent any.
    pub endpoint_report: Option<EndpointReport>,
}

/// The receiving endpoint's own view (its RTCP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CallQualityEndpointReport)]
pub struct EndpointReport {
    /// SR/RR report blocks read.
    pub reports: u32,
    /// Fraction lost in the last report, percent.
    pub fraction_lost_pct: f64,
    pub cumulative_lost: i64,
    /// Jitter of the last report, milliseconds (at the direction's clock rate).
    pub jitter_ms: Option<f64>,
    /// RFC 3611 VoIP metrics, if the endpoint sends RTCP-XR.
    pub xr: Option<XrReport>,
}

/// RFC 3611 §4.7 VoIP Metrics, as the endpoint computed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CallQualityXr)]
pub struct XrReport {
    pub loss_rate_pct: f64,
    pub discard_rate_pct: f64,
    pub round_trip_ms: u16,
    pub end_system_delay_ms: u16,
    pub r_factor: Option<u8>,
    pub mos_lq: Option<f64>,
    pub mos_cq: Option<f64>,
}

/// What one direction's figures are built from.
pub(super) struct DirectionInput<'a> {
    pub rx: &'a Rx,
    pub far: &'a Far,
    pub codec: CodecClass,
    pub latch_failures: u64,
    pub max_gap_us: u64,
    pub mos_min: Option<f32>,
}

fn xr_report(x: &XrVoip) -> XrReport {
    let mos = |v: u8| (v != 127 && v > 0).then(|| f64::from(v) / 10.0);
    XrReport {
        loss_rate_pct: round(f64::from(x.loss_rate) * 100.0 / 256.0, 2),
        discard_rate_pct: round(f64::from(x.discard_rate) * 100.0 / 256.0, 2),
        round_trip_ms: x.round_trip_ms,
        end_system_delay_ms: x.end_system_delay_ms,
        r_factor: (x.r_factor != 127).then_some(x.r_factor),
        mos_lq: mos(x.mos_lq),
        mos_cq: mos(x.mos_cq),
    }
}

impl DirectionQuality {
    fn build(i: &DirectionInput<'_>) -> DirectionQuality {
        let (expected, lost) = (i.rx.expected(), i.rx.lost());
        let loss = if expected > 0 {
            lost as f64 / expected as f64
        } else {
            0.0
        };
        let jitter_ms = i.rx.jitter_us() as f64 / 1000.0;
        let r = (i.rx.received() > 0).then(|| r_factor(loss, jitter_ms, i.codec));
        let clock = i.rx.clock();
        let endpoint_report = (i.far.reports > 0 || i.far.xr.is_some()).then(|| EndpointReport {
            reports: i.far.reports,
            fraction_lost_pct: round(f64::from(i.far.fraction_lost) * 100.0 / 256.0, 2),
            cumulative_lost: i64::from(i.far.cumulative_lost),
            jitter_ms: (clock > 0)
                .then(|| round(f64::from(i.far.jitter_ts) * 1000.0 / f64::from(clock), 3)),
            xr: i.far.xr.as_ref().map(xr_report),
        });
        DirectionQuality {
            packets_received: i.rx.received(),
            packets_expected: expected,
            packets_lost: lost,
            loss_pct: round(loss * 100.0, 3),
            duplicates: i.rx.duplicates(),
            out_of_order: i.rx.out_of_order(),
            jitter_ms: round(jitter_ms, 3),
            jitter_ts: i.rx.jitter_ts(),
            clock_rate: clock,
            max_loss_burst: i.rx.burst(),
            max_silence_ms: i.max_gap_us / 1000,
            codec: i.codec.name().map(Cow::Borrowed),
            r_factor: r.map(|r| round(r, 2)),
            mos: r.map(|r| round(mos(r), 2)),
            mos_min: i.mos_min.map(|m| round(f64::from(m), 2)),
            latch_failures: i.latch_failures,
            endpoint_report,
        }
    }
}

impl QualityReport {
    pub(super) fn build(
        dirs: [DirectionInput<'_>; 2],
        one_way: Option<super::OneWay>,
    ) -> QualityReport {
        let [a, b] = dirs.map(|d| DirectionQuality::build(&d));
        // The directions with RTP, in order (no allocation).
        let mos = [a.mos, b.mos];
        let with_mos = mos.iter().flatten().count();
        let mos_min = [&a, &b]
            .iter()
            .filter_map(|d| d.mos_min.or(d.mos))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v))));
        let mos_avg =
            (with_mos > 0).then(|| round(mos.iter().flatten().sum::<f64>() / with_mos as f64, 2));
        QualityReport {
            caller_to_callee: a,
            callee_to_caller: b,
            mos_min,
            mos_avg,
            one_way_audio: one_way.map(|o| Cow::Borrowed(o.direction())),
            one_way_cause: one_way.map(|o| Cow::Borrowed(o.cause())),
        }
    }

    /// A direction by name (`caller_to_callee` / `callee_to_caller`).
    pub fn directions(&self) -> [(&'static str, &DirectionQuality); 2] {
        [
            ("caller_to_callee", &self.caller_to_callee),
            ("callee_to_caller", &self.callee_to_caller),
        ]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A report with every optional field set.
    pub(crate) fn sample() -> QualityReport {
        let dir = |mos: f64| DirectionQuality {
            packets_received: 1000,
            packets_expected: 1010,
            packets_lost: 10,
            loss_pct: 0.99,
            duplicates: 1,
            out_of_order: 2,
            jitter_ms: 3.5,
            jitter_ts: 28,
            clock_rate: 8000,
            max_loss_burst: 3,
            max_silence_ms: 120,
            codec: Some("PCMU".into()),
            r_factor: Some(88.0),
            mos: Some(mos),
            mos_min: Some(mos - 0.2),
            latch_failures: 0,
            endpoint_report: Some(EndpointReport {
                reports: 4,
                fraction_lost_pct: 1.17,
                cumulative_lost: 12,
                jitter_ms: Some(4.0),
                xr: Some(XrReport {
                    loss_rate_pct: 1.17,
                    discard_rate_pct: 0.39,
                    round_trip_ms: 40,
                    end_system_delay_ms: 60,
                    r_factor: Some(87),
                    mos_lq: Some(4.1),
                    mos_cq: Some(4.0),
                }),
            }),
        };
        QualityReport {
            caller_to_callee: dir(4.3),
            callee_to_caller: dir(4.1),
            mos_min: Some(3.9),
            mos_avg: Some(4.2),
            one_way_audio: Some("caller_to_callee".into()),
            one_way_cause: Some("no_rtp".into()),
        }
    }

    /// A report over `rxs` (caller's, callee's), G.711, nothing else seen.
    fn report_of(rxs: &[Rx; 2]) -> QualityReport {
        let far = Far::default();
        let dirs = [0, 1].map(|d| DirectionInput {
            rx: &rxs[d],
            far: &far,
            codec: CodecClass::Pcmu,
            latch_failures: 0,
            max_gap_us: 0,
            mos_min: None,
        });
        QualityReport::build(dirs, None)
    }

    /// `n` in-order packets, 20 ms apart; every `lose`th one missing.
    fn rx_with(n: u16, lose: u16) -> Rx {
        let mut rx = Rx::default();
        for s in (0..n).filter(|s| s % lose != lose - 1) {
            let ts = u32::from(s) * 160;
            rx.packet(s, ts, 1, 20_000 * u64::from(s) + 1, 8000, true);
        }
        rx
    }

    #[test]
    fn mos_avg_is_the_mean_of_the_directions_with_rtp() {
        let none = report_of(&[Rx::default(), Rx::default()]);
        assert_eq!((none.mos_avg, none.mos_min), (None, None));
        // One direction with packets: its MOS is the average and the minimum.
        let one = report_of(&[Rx::default(), rx_with(100, 10)]);
        let m = one
            .callee_to_caller
            .mos
            .expect("the callee's direction has RTP");
        assert_eq!(one.caller_to_callee.mos, None);
        assert_eq!((one.mos_avg, one.mos_min), (Some(m), Some(m)));
        // Both: the mean, rounded to 2 places; the minimum is the worse one.
        let both = report_of(&[rx_with(100, 1000), rx_with(100, 10)]);
        let (a, b) = (
            both.caller_to_callee.mos.expect("caller RTP"),
            both.callee_to_caller.mos.expect("callee RTP"),
        );
        assert!(a > b, "{a} {b}");
        assert_eq!(both.mos_avg, Some(round((a + b) / 2.0, 2)));
        assert_eq!(both.mos_min, Some(b));
    }

    #[test]
    fn e_model_figures_by_hand() {
        // No loss, no jitter: d = 20 ms, Id = 0.48, R = 92.72.
        let r = r_factor(0.0, 0.0, CodecClass::Pcmu);
        assert!((r - 92.72).abs() < 1e-9, "{r}");
        // MOS(92.72) = 1 + 3.2452 + 7e-6 * 92.72 * 32.72 * 7.28 = 4.3998…
        assert!((mos(r) - 4.3998).abs() < 1e-3, "{}", mos(r));
        // 5 % loss: Ie,eff = 95 * 5 / 30.1 = 15.78; R = 76.94; MOS ≈ 3.90.
        let r5 = r_factor(0.05, 0.0, CodecClass::Pcma);
        assert!((r5 - 76.938).abs() < 1e-2, "{r5}");
        assert!((mos(r5) - 3.90).abs() < 0.01, "{}", mos(r5));
        // 40 ms jitter: d = 100 ms, Id = 2.4.
        assert!((r_factor(0.0, 40.0, CodecClass::Pcmu) - 90.8).abs() < 1e-9);
        // 200 ms jitter: d = 420 ms, Id = 10.08 + 0.11 * 242.7.
        let r = r_factor(0.0, 200.0, CodecClass::Pcmu);
        assert!((r - (93.2 - 10.08 - 26.697)).abs() < 1e-9, "{r}");
        // G.729: Ie = 11 even without loss.
        assert!((r_factor(0.0, 0.0, CodecClass::G729) - 81.72).abs() < 1e-9);
        // Everything lost: MOS bottoms out.
        assert_eq!(mos(r_factor(1.0, 1000.0, CodecClass::Pcmu)), 1.0);
        assert_eq!(mos(120.0), 4.5);
    }
}
