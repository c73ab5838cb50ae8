//! RTP header work of the relay, allocation-free: payload-type -> codec
//! maps, the stream-continuity rewrite used when the caller's media source
//! changes, RFC 4733 end-of-event detection, payload extraction.

use tokio::time::Instant;

use crate::sip::sdp::Codec;

/// Payload type -> G.711 codec and RTP clock rate, from a leg's SDP (rtpmap
/// or the static types of RFC 3551 table 4). One byte per payload type: the
/// codec in the low two bits, an index into [`CLOCKS`] in the high four.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PtMap([u8; 128]);

/// The clock rates a payload type can be mapped to (index 0: unknown).
const CLOCKS: [u32; 12] = [
    0, 8000, 16000, 11025, 22050, 44100, 48000, 90000, 32000, 24000, 12000, 1000,
];

impl Default for PtMap {
    fn default() -> Self {
        let mut m = PtMap([0; 128]);
        // RFC 3551 table 4 (audio) and 5 (video) static payload types.
        for pt in [0, 3, 4, 5, 7, 8, 9, 12, 13, 15, 18] {
            m.set_clock(pt, 8000);
        }
        m.set_clock(6, 16000);
        m.set_clock(10, 44100);
        m.set_clock(11, 44100);
        m.set_clock(16, 11025);
        m.set_clock(17, 22050);
        for pt in [14, 25, 26, 28, 31, 32, 33, 34] {
            m.set_clock(pt, 90000);
        }
        m.set(0, Codec::Pcmu);
        m.set(8, Codec::Pcma);
        m
    }
}

impl PtMap {
    pub fn set(&mut self, pt: u8, codec: Codec) {
        if let Some(slot) = self.0.get_mut(usize::from(pt)) {
            *slot = (*slot & 0xf0)
                | match codec {
                    Codec::Pcmu => 1,
                    Codec::Pcma => 2,
                };
        }
    }

    pub fn get(&self, pt: u8) -> Option<Codec> {
        match self.0.get(usize::from(pt & 0x7f)).map(|b| b & 0x03) {
            Some(1) => Some(Codec::Pcmu),
            Some(2) => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// Maps `pt` to an RTP clock rate (`a=rtpmap`); rates outside [`CLOCKS`] are ignored.
    pub fn set_clock(&mut self, pt: u8, rate: u32) {
        let Some(i) = CLOCKS.iter().position(|c| *c == rate) else {
            return;
        };
        if let Some(slot) = self.0.get_mut(usize::from(pt)) {
            *slot = (*slot & 0x0f) | ((i as u8) << 4);
        }
    }

    /// The RTP clock rate of `pt`, 0 when unknown.
    pub fn clock(&self, pt: u8) -> u32 {
        let i = self.0.get(usize::from(pt & 0x7f)).map_or(0, |b| b >> 4);
        CLOCKS.get(usize::from(i)).copied().unwrap_or(0)
    }
}

/// RFC 4733 §3.2 event codes 0-15 as DTMF digits.
const DTMF_DIGITS: &[u8; 16] = b"0123456789*#ABCD";

/// Rewrites packets sent out toward one leg so a change of source (tone ->
/// callee media) looks like one continuous stream (RFC 3550 §5.1): our SSRC,
/// sequence numbers following on, timestamps advanced by the wall-clock gap,
/// and the marker bit on the first packet after the switch.
pub(crate) struct Continuity {
    pub(crate) ssrc: u32,
    pub(crate) last_seq: u16,
    pub(crate) last_ts: u32,
    pub(crate) last_at: Instant,
    /// (incoming SSRC, seq offset, ts offset) of the source being rewritten.
    pub(crate) mapping: Option<(u32, u16, u32)>,
}

impl Continuity {
    pub(crate) fn apply(&mut self, pkt: &mut [u8], now: Instant) {
        let Ok(mut p) = rtp_types::RtpPacketMut::parse(pkt) else {
            return;
        };
        let (ssrc, seq, ts) = (p.ssrc(), p.sequence_number(), p.timestamp());
        let mapping = match self.mapping {
            Some(m) if m.0 == ssrc => m,
            _ => {
                let gap = now.saturating_duration_since(self.last_at);
                let samples = ((gap.as_micros() / 125) as u32).max(160);
                let m = (
                    ssrc,
                    self.last_seq.wrapping_add(1).wrapping_sub(seq),
                    self.last_ts.wrapping_add(samples).wrapping_sub(ts),
                );
                self.mapping = Some(m);
                p.set_marker_bit(true);
                m
            }
        };
        self.last_seq = seq.wrapping_add(mapping.1);
        self.last_ts = ts.wrapping_add(mapping.2);
        self.last_at = now;
        p.set_ssrc(self.ssrc);
        p.set_sequence_number(self.last_seq);
        p.set_timestamp(self.last_ts);
    }
}

/// An RFC 4733 §2.3 telephone-event packet with the E (end) bit: the digit,
/// its duration in ms (8 kHz clock) and the event's RTP timestamp.
pub(crate) fn dtmf_end(pkt: &[u8]) -> Option<(char, u32, u32)> {
    let payload = rtp_payload(pkt)?;
    let (&event, &flags) = (payload.first()?, payload.get(1)?);
    if flags & 0x80 == 0 {
        return None;
    }
    let digit = char::from(*DTMF_DIGITS.get(usize::from(event))?);
    let duration = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
    let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
    Some((digit, u32::from(duration) / 8, ts))
}

/// The payload of an RTP packet (after CSRCs and header extension, before padding).
pub(crate) fn rtp_payload(pkt: &[u8]) -> Option<&[u8]> {
    let p = rtp_types::RtpPacket::parse(pkt).ok()?;
    let off = p.payload_offset();
    let len = p.payload_len();
    pkt.get(off..off + len)
}
