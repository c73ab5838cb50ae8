//! RTP header work of the relay, allocation-free: payload-type -> codec
//! maps, the stream-continuity rewrite used when the caller's media source
//! changes, RFC 4733 end-of-event detection, payload extraction.

use tokio::time::Instant;

use super::Codec;

/// Payload type -> G.711 codec, from a leg's SDP (rtpmap or static types).
#[derive(Clone, Copy)]
pub struct PtMap([u8; 128]);

impl Default for PtMap {
    fn default() -> Self {
        let mut m = PtMap([0; 128]);
        m.set(0, Codec::Pcmu);
        m.set(8, Codec::Pcma);
        m
    }
}

impl PtMap {
    pub fn set(&mut self, pt: u8, codec: Codec) {
        if let Some(slot) = self.0.get_mut(usize::from(pt)) {
            *slot = match codec {
                Codec::Pcmu => 1,
                Codec::Pcma => 2,
            };
        }
    }

    pub fn get(&self, pt: u8) -> Option<Codec> {
        match self.0.get(usize::from(pt & 0x7f)) {
            Some(1) => Some(Codec::Pcmu),
            Some(2) => Some(Codec::Pcma),
            _ => None,
        }
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
