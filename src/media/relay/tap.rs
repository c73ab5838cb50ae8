//! The recording tap: a copy of every payload the caller sends and hears,
//! handed to the recorder's preallocated queue (off the packet path).

use std::sync::{Arc, OnceLock};

use tokio::time::Instant;

use super::Leg;
use crate::media::record::{Channel, RecordingHandle};
use crate::media::rtp::rtp_payload;
use crate::sip::sdp::Codec;

#[derive(Default)]
pub(super) struct Tap {
    /// The recording and the instant of its first packet.
    rec: Option<(RecordingHandle, Arc<OnceLock<Instant>>)>,
    paused: bool,
}

impl Tap {
    pub(super) fn start(&mut self, handle: RecordingHandle, first: Arc<OnceLock<Instant>>) {
        self.rec = Some((handle, first));
    }

    /// Closes the recording (the writer finalises the file).
    pub(super) fn stop(&mut self) {
        self.rec = None;
    }

    pub(super) fn pause(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Whether packets are being recorded now.
    #[inline]
    pub(super) fn is_on(&self) -> bool {
        self.rec.is_some() && !self.paused
    }

    /// Records a relayed RTP packet from `leg` (payload in `codec`).
    #[inline]
    pub(super) fn rtp(&self, leg: Leg, codec: Codec, pkt: &[u8], now: Instant) {
        let Some((rec, first)) = self.rec.as_ref().filter(|_| !self.paused) else {
            return;
        };
        let chan = match leg {
            Leg::Caller => Channel::Caller,
            Leg::Callee => Channel::Callee,
        };
        let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
        if let Some(payload) = rtp_payload(pkt) {
            let _ = first.get_or_init(|| now);
            rec.frame(chan, now, ts, ssrc, codec, payload);
        }
    }

    /// Records a frame the gateway generated toward the caller (heard on
    /// the callee's channel).
    pub(super) fn generated(&self, now: Instant, ts: u32, ssrc: u32, codec: Codec, frame: &[u8]) {
        if let Some((rec, first)) = self.rec.as_ref().filter(|_| !self.paused) {
            let _ = first.get_or_init(|| now);
            rec.frame(Channel::Callee, now, ts, ssrc, codec, frame);
        }
    }
}
