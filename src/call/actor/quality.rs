//! The call task's side of media quality (`media::quality`): one-way audio
//! reported by the media task (a metric and one log line per call), and the
//! final figures joined to the call-log record and the per-trunk and
//! per-carrier metrics when the call ends.

use crate::media::quality::OneWay;
use crate::policy::carrier_for_source;

use super::Call;
use crate::call::live::LiveQualityView;
use crate::call::route::HopKind;

impl Call {
    /// The media task found RTP flowing one way only since the answer.
    pub(super) fn on_one_way(&mut self, ow: OneWay) {
        self.hub
            .metrics
            .quality
            .one_way(&self.trunk_metrics.label, ow);
        tracing::warn!(
            call = self.number,
            call_id = %String::from_utf8_lossy(self.call_id()),
            trunk = %self.trunk_metrics.label,
            direction = ow.direction(),
            cause = ow.cause(),
            "one-way audio: RTP flows {} only",
            ow.direction()
        );
    }

    /// The carrier of the call: the one the B leg went to (outbound), or the
    /// one whose source the call came from (inbound).
    pub(super) fn carrier_name(&self) -> Option<String> {
        let carriers = &self.snapshot.config.carriers;
        let hop = self.chain.current().filter(|h| h.kind == HopKind::Carrier);
        let idx = match hop {
            Some(h) => carriers.iter().position(|c| c.address == h.target.addr),
            None => carrier_for_source(carriers, self.legs.caller().peer.addr),
        }?;
        carriers.get(idx).map(|c| c.name.clone())
    }

    pub(super) fn live_quality(&self) -> LiveQualityView {
        LiveQualityView(self.media.live_quality())
    }
}
