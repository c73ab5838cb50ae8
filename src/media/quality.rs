//! Media quality measured on the relay path, per call and per direction:
//! what each leg sends the gateway (sequence numbers with wrap and
//! reordering, duplicates, loss and its longest burst, RFC 3550 §6.4.1
//! interarrival jitter at the codec's clock rate, the longest silence after
//! the answer), what each endpoint reports in RTCP about what it receives
//! (RFC 3550 receiver reports, RFC 3611 VoIP metrics), and one-way audio.
//!
//! The relay calls [`Quality::rtp`] for every RTP packet it accepts: plain
//! integer arithmetic on a fixed-size state, no allocation, no floating
//! point. Figures ([`report::QualityReport`]) are built from that state only
//! when asked: once a second for the live-call list and when the call ends.
//! Per leg, [`Rx`] (`quality/rx.rs`) keeps the receive statistics; RTCP is
//! read in `rtcp`, figures built in `report`, metric families in `metrics`.
//! Depends on `media::leg` (legs, remotes) only.

pub mod metrics;
pub mod report;
pub mod rtcp;
mod rx;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::leg::{Leg, Remote};
use report::direction_name;
pub use report::QualityReport;
use rtcp::Far;
pub use rx::Rx;

/// Interval over which the worst (minimum) MOS of a direction is taken.
pub const MOS_INTERVAL: Duration = Duration::from_secs(5);

/// The running figures of a call, refreshed by its media task once a second
/// (shown by `GET /v1/LiveCalls`).
pub type LiveQuality = Arc<Mutex<Option<QualityReport>>>;

/// Quality settings of one media task.
#[derive(Clone, Copy, Debug)]
pub struct QualityOptions {
    /// Off: nothing is measured and calls have no `quality` object.
    pub enabled: bool,
    /// RTP flowing one way only this long after the answer flags the call.
    pub one_way_after: Option<Duration>,
}

impl Default for QualityOptions {
    fn default() -> Self {
        QualityOptions {
            enabled: true,
            one_way_after: Some(Duration::from_secs(5)),
        }
    }
}

/// One-way audio found on a call: audio flows from `flowing` only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OneWay {
    pub flowing: Leg,
    /// The silent leg did send, from an address that never matched its SDP
    /// (a NAT/latching failure rather than an endpoint sending nothing).
    pub latching: bool,
}

impl OneWay {
    /// `caller_to_callee` (the callee is silent) or `callee_to_caller`.
    pub fn direction(self) -> &'static str {
        direction_name(self.flowing)
    }

    /// `latching` or `no_rtp`.
    pub fn cause(self) -> &'static str {
        if self.latching {
            "latching"
        } else {
            "no_rtp"
        }
    }
}

/// The worst-interval MOS of one direction: figures at the interval's start.
#[derive(Clone, Copy, Debug, Default)]
struct Interval {
    expected: u64,
    lost: u64,
    mos_min: Option<f32>,
}

/// Quality state of one call's media task (one audio line, both directions).
pub struct Quality {
    opts: QualityOptions,
    epoch: Instant,
    /// The media line measured: the first audio (RTP) line that carries packets.
    line: Option<usize>,
    /// By sending leg: `rx[Caller]` is caller -> callee.
    rx: [Rx; 2],
    /// By sending leg: what the *other* leg's endpoint reports receiving.
    far: [Far; 2],
    /// The codec class of the last packet, by sending leg.
    codec: [report::CodecClass; 2],
    /// Packets dropped because their source never matched the leg's address, by leg.
    latch_failures: [u64; 2],
    answered_us: Option<u64>,
    hold: bool,
    /// When media last resumed after hold (µs).
    resumed_us: u64,
    one_way: Option<OneWay>,
    /// The callee has signaled media (one-way audio is only judged then).
    bridged: bool,
    /// Last packet the gateway itself played to the caller (tones, prompts):
    /// audio toward the caller all the same.
    generated_us: u64,
    interval: [Interval; 2],
    interval_from_us: u64,
    live: LiveQuality,
}

impl Quality {
    pub fn new(opts: QualityOptions) -> Quality {
        Quality::new_at(opts, Instant::now())
    }

    /// [`Quality::new`] as of `epoch` (a clock read the caller has at hand).
    pub fn new_at(opts: QualityOptions, epoch: Instant) -> Quality {
        Quality {
            opts,
            epoch,
            line: None,
            rx: [Rx::default(), Rx::default()],
            far: [Far::default(), Far::default()],
            codec: [report::CodecClass::Unknown; 2],
            latch_failures: [0; 2],
            answered_us: None,
            hold: false,
            resumed_us: 0,
            one_way: None,
            bridged: false,
            generated_us: 0,
            interval: [Interval::default(); 2],
            interval_from_us: 0,
            live: LiveQuality::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.opts.enabled
    }

    /// The cell the running figures are published in.
    pub fn live(&self) -> LiveQuality {
        Arc::clone(&self.live)
    }

    fn us(&self, now: Instant) -> u64 {
        // +1: 0 means "never" in the state above.
        now.saturating_duration_since(self.epoch).as_micros() as u64 + 1
    }

    /// An RTP packet (version checked, at least 12 bytes) that `leg` sent on
    /// media line `idx`. Returns one-way audio the first time it is found.
    pub fn rtp(
        &mut self,
        idx: usize,
        leg: Leg,
        pkt: &[u8],
        remote: Option<&Remote>,
        now: Instant,
    ) -> Option<OneWay> {
        if !self.opts.enabled || pkt.len() < 12 {
            return None;
        }
        // RFC 5761 §4: RTCP multiplexed on the RTP port (payload types 64-95).
        if (192..=223).contains(&pkt[1]) {
            self.rtcp(idx, leg, pkt);
            return None;
        }
        if *self.line.get_or_insert(idx) != idx {
            return None;
        }
        let now_us = self.us(now);
        let pt = pkt[1] & 0x7f;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
        let (clock, event) = match remote {
            Some(r) => (r.pts.clock(pt), r.telephone_event == Some(pt)),
            None => (super::rtp::PtMap::default().clock(pt), false),
        };
        let l = leg as usize;
        if !event && self.rx[l].pt != pt {
            self.codec[l] = report::CodecClass::of(pt, remote.and_then(|r| r.pts.get(pt)));
        }
        let rx = &mut self.rx[l];
        if !event {
            rx.pt = pt;
        }
        rx.packet(seq, ts, ssrc, now_us, clock, !event);
        rx.last_us = now_us;
        rx.gap(now_us, self.answered_us.is_some() && !self.hold);
        let ow = self.check_one_way(leg, now_us);
        if ow.is_some() {
            // Shown at once, not at the next second's refresh.
            self.publish(now);
        }
        ow
    }

    /// Audio flows from `leg` (a packet now): is the other leg silent for
    /// `one_way_after` since the answer (or since media resumed)?
    fn check_one_way(&mut self, leg: Leg, now_us: u64) -> Option<OneWay> {
        let (Some(answered), Some(after), None, false, true) = (
            self.answered_us,
            self.opts.one_way_after,
            self.one_way,
            self.hold,
            self.bridged,
        ) else {
            return None;
        };
        let silent = leg.other() as usize;
        let played = if leg == Leg::Caller {
            self.generated_us
        } else {
            0
        };
        let since = self.rx[silent]
            .last_us
            .max(played)
            .max(answered)
            .max(self.resumed_us);
        if now_us.saturating_sub(since) < after.as_micros() as u64 {
            return None;
        }
        let ow = OneWay {
            flowing: leg,
            latching: self.latch_failures[silent] > 0,
        };
        self.one_way = Some(ow);
        Some(ow)
    }

    /// Publishes the figures as of `now` for the live-call list.
    fn publish(&self, now: Instant) {
        let r = self.report(now);
        if let Ok(mut cell) = self.live.lock() {
            *cell = r;
        }
    }

    /// An RTCP packet `leg` sent: its reports describe what `leg` receives,
    /// i.e. the other direction.
    pub fn rtcp(&mut self, idx: usize, leg: Leg, pkt: &[u8]) {
        if !self.opts.enabled || self.line.is_some_and(|l| l != idx) {
            return;
        }
        let dir = leg.other() as usize;
        let want = self.rx[dir].seen.then_some(self.rx[dir].ssrc);
        rtcp::parse(pkt, want, &mut self.far[dir]);
    }

    /// The callee sent an SDP: the call is bridged to a far end (a call-flow
    /// call talking to the gateway alone is never judged one-way).
    pub fn bridged(&mut self) {
        self.bridged = true;
    }

    /// The gateway played a packet to the caller (tone, prompt).
    pub fn generated(&mut self, now: Instant) {
        self.generated_us = self.us(now);
    }

    /// A packet `leg` sent from an address that is not the leg's.
    pub fn latch_failed(&mut self, leg: Leg) {
        self.latch_failures[leg as usize] += 1;
    }

    pub fn answered(&mut self, now: Instant) {
        let now_us = self.us(now);
        self.answered_us = Some(now_us);
        self.resumed_us = now_us;
        self.interval_from_us = now_us;
        for (rx, iv) in self.rx.iter_mut().zip(self.interval.iter_mut()) {
            rx.gap_from_us = now_us;
            iv.expected = rx.expected();
            iv.lost = rx.lost();
        }
    }

    /// Both legs on hold (`inactive`): silence is expected, nothing is flagged.
    pub fn hold(&mut self, on: bool, now: Instant) {
        if on == self.hold {
            return;
        }
        let now_us = self.us(now);
        for rx in &mut self.rx {
            if on {
                // The silence up to the hold counts; the hold itself does not.
                rx.gap(now_us, true);
                rx.gap_from_us = 0;
            } else if self.answered_us.is_some() {
                rx.gap_from_us = now_us;
            }
        }
        self.hold = on;
        if !on {
            self.resumed_us = now_us;
        }
    }

    /// Once a second: closes a MOS interval when one is complete and
    /// publishes the running figures.
    pub fn tick(&mut self, now: Instant) {
        if !self.opts.enabled {
            return;
        }
        let now_us = self.us(now);
        if self.answered_us.is_some()
            && !self.hold
            && now_us - self.interval_from_us >= MOS_INTERVAL.as_micros() as u64
        {
            for d in 0..2 {
                let (rx, iv) = (&self.rx[d], &mut self.interval[d]);
                let expected = rx.expected() - iv.expected;
                let lost = rx.lost().saturating_sub(iv.lost);
                // At least a second's worth of 20 ms packets for a meaningful figure.
                if expected >= 50 {
                    let loss = lost as f64 / expected as f64;
                    let r = report::r_factor(loss, rx.jitter_us() as f64 / 1000.0, self.codec[d]);
                    let mos = report::mos(r) as f32;
                    iv.mos_min = Some(iv.mos_min.map_or(mos, |m| m.min(mos)));
                }
                iv.expected = rx.expected();
                iv.lost = rx.lost();
            }
            self.interval_from_us = now_us;
        }
        self.publish(now);
    }

    /// The figures so far; `None` when quality tracking is off.
    pub fn report(&self, now: Instant) -> Option<QualityReport> {
        if !self.opts.enabled {
            return None;
        }
        let now_us = self.us(now);
        let dirs = [Leg::Caller, Leg::Callee].map(|leg| {
            let d = leg as usize;
            report::DirectionInput {
                rx: &self.rx[d],
                far: &self.far[d],
                codec: self.codec[d],
                latch_failures: self.latch_failures[d],
                max_gap_us: if self.answered_us.is_some() {
                    self.rx[d].max_gap_at(now_us)
                } else {
                    0
                },
                mos_min: self.interval[d].mos_min,
            }
        });
        Some(QualityReport::build(dirs, self.one_way))
    }
}

#[cfg(test)]
mod tests;
