//! Packet counts kept locally by the media task and added to the shared
//! counters once a second (no shared atomics touched per packet).

use crate::media::MediaMetrics;

#[derive(Default)]
pub(super) struct Counts {
    pub(super) relayed: u64,
    pub(super) dropped_source: u64,
    pub(super) dropped_no_target: u64,
    pub(super) dropped_send: u64,
    /// SRTP/SRTCP authentication or replay check failed.
    pub(super) dropped_srtp: u64,
    pub(super) generated: u64,
}

impl Counts {
    /// Adds the counts to `m` and starts again from zero.
    pub(super) fn flush(&mut self, m: &MediaMetrics) {
        let c = std::mem::take(self);
        if c.relayed > 0 {
            m.packets_relayed.inc_by(c.relayed);
        }
        if c.generated > 0 {
            m.packets_generated.inc_by(c.generated);
        }
        for (n, reason) in [
            (c.dropped_source, 0),
            (c.dropped_no_target, 1),
            (c.dropped_send, 2),
            (c.dropped_srtp, 3),
        ] {
            if n > 0 {
                m.packets_dropped[reason].inc_by(n);
            }
        }
    }
}
