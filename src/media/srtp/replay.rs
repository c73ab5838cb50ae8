//! Receive-side replay protection (RFC 3711 §3.3.2) kept by us rather than by
//! `webrtc-srtp`, whose detectors are updated by packets that then fail
//! authentication: the first packet checked for an SSRC fixes the window, so
//! one forged or clear packet (libre/baresip sends an unprotected RTCP APP
//! "PING" before its first SRTCP packet) got every genuine packet after it
//! rejected. Here a window exists and moves only once a packet authenticated.
//!
//! Also where SRTCP's E flag is read: `webrtc-srtp` returns an SRTCP packet
//! whose E flag is clear without checking its tag, so such packets are refused
//! before they reach it (we never negotiate `UNENCRYPTED_SRTCP`).
//!
//! Pure: packet bytes in, decisions out; a fixed number of SSRCs per context
//! (no allocation per packet).

use super::Suite;

/// RFC 3711 §3.3.2: libsrtp's default replay window, 128 packets.
const WINDOW: u64 = 128;
/// SSRCs tracked per receive context; one more evicts the oldest.
pub const MAX_SSRCS: usize = 16;

/// The replay list of one SSRC: the highest index accepted and a bitmap of the
/// 128 indices at and below it (bit d = `latest - d` seen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    latest: u64,
    seen: u128,
}

impl Window {
    fn fresh(&self, idx: u64) -> bool {
        if idx > self.latest {
            return true;
        }
        let d = self.latest - idx;
        d < WINDOW && self.seen & (1u128 << d) == 0
    }

    fn accept(&mut self, idx: u64) {
        if idx > self.latest {
            let shift = idx - self.latest;
            self.seen = if shift >= WINDOW {
                0
            } else {
                self.seen << shift
            };
            self.latest = idx;
            self.seen |= 1;
        } else if self.latest - idx < WINDOW {
            self.seen |= 1u128 << (self.latest - idx);
        }
    }
}

/// RFC 3711 §3.3.1: the 48-bit index of sequence number `seq` given the
/// highest index seen. `None` for a packet from before the stream's first
/// roll-over period (it can only be a replay or a forgery).
fn rtp_index(latest: u64, seq: u16) -> Option<u64> {
    let roc = latest >> 16;
    let s_l = latest & 0xffff;
    let seq64 = u64::from(seq);
    let v = if s_l < 0x8000 {
        if seq64 > s_l + 0x8000 {
            roc.checked_sub(1)?
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq64 {
        roc + 1
    } else {
        roc
    };
    Some((v << 16) | seq64)
}

/// What identifies a protected packet for the replay list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketId {
    ssrc: u32,
    /// SRTP: the 16-bit sequence number; SRTCP: the 31-bit index.
    seq: u32,
    rtcp: bool,
}

/// Reads the SSRC and sequence/index of a protected packet. `None` (drop it)
/// when it is too short or is SRTCP without the E flag.
pub fn packet_id(pkt: &[u8], rtcp: bool, suite: Suite) -> Option<PacketId> {
    if rtcp {
        // RFC 3711 §3.4: header (8) | payload | E + index (4) | tag (10);
        // RFC 7714 §9.1 (AEAD): the tag is inside the ciphertext, E + index last.
        let tag = match suite {
            Suite::AeadAes128Gcm => 0,
            _ => 10,
        };
        let at = pkt.len().checked_sub(tag + 4).filter(|&at| at >= 8)?;
        let e_index = u32::from_be_bytes(pkt.get(at..at + 4)?.try_into().ok()?);
        if e_index >> 31 == 0 {
            return None;
        }
        Some(PacketId {
            ssrc: u32::from_be_bytes(pkt.get(4..8)?.try_into().ok()?),
            seq: e_index & 0x7fff_ffff,
            rtcp,
        })
    } else {
        if pkt.len() < 12 {
            return None;
        }
        Some(PacketId {
            ssrc: u32::from_be_bytes(pkt.get(8..12)?.try_into().ok()?),
            seq: u32::from(u16::from_be_bytes(pkt.get(2..4)?.try_into().ok()?)),
            rtcp,
        })
    }
}

/// The replay lists of one receive context (SRTP and SRTCP apart).
#[derive(Debug)]
pub struct Replay {
    rtp: Vec<(u32, Window)>,
    rtcp: Vec<(u32, Window)>,
}

impl Default for Replay {
    fn default() -> Self {
        Replay {
            rtp: Vec::with_capacity(MAX_SSRCS),
            rtcp: Vec::with_capacity(MAX_SSRCS),
        }
    }
}

impl Replay {
    fn list(&mut self, rtcp: bool) -> &mut Vec<(u32, Window)> {
        if rtcp {
            &mut self.rtcp
        } else {
            &mut self.rtp
        }
    }

    /// The packet's full index if it is neither a replay nor too old (check
    /// before decrypting; [`Replay::accept`] after it authenticated).
    pub fn check(&mut self, id: PacketId) -> Option<u64> {
        let list = self.list(id.rtcp);
        let Some((_, w)) = list.iter().find(|(s, _)| *s == id.ssrc) else {
            return Some(u64::from(id.seq));
        };
        let idx = if id.rtcp {
            u64::from(id.seq)
        } else {
            rtp_index(w.latest, id.seq as u16)?
        };
        w.fresh(idx).then_some(idx)
    }

    /// Records an authenticated packet (`idx` from [`Replay::check`]).
    pub fn accept(&mut self, id: PacketId, idx: u64) {
        let list = self.list(id.rtcp);
        if let Some((_, w)) = list.iter_mut().find(|(s, _)| *s == id.ssrc) {
            w.accept(idx);
            return;
        }
        if list.len() >= MAX_SSRCS {
            list.remove(0);
        }
        list.push((
            id.ssrc,
            Window {
                latest: idx,
                seen: 1,
            },
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp_id(ssrc: u32, seq: u16) -> PacketId {
        PacketId {
            ssrc,
            seq: u32::from(seq),
            rtcp: false,
        }
    }

    #[test]
    fn window_accepts_new_and_late_once_and_refuses_too_old() {
        let mut r = Replay::default();
        for seq in [100u16, 102, 101] {
            let idx = r.check(rtp_id(1, seq)).expect("fresh");
            r.accept(rtp_id(1, seq), idx);
        }
        assert_eq!(r.check(rtp_id(1, 101)), None, "replay");
        let idx = r.check(rtp_id(1, 400)).expect("ahead");
        r.accept(rtp_id(1, 400), idx);
        assert_eq!(r.check(rtp_id(1, 272)), None, "128 behind");
        assert_eq!(r.check(rtp_id(1, 273)), Some(273), "127 behind");
        // Other SSRCs have their own list.
        assert_eq!(r.check(rtp_id(2, 101)), Some(101));
    }

    #[test]
    fn sequence_wrap_moves_to_the_next_roll_over_period() {
        let mut r = Replay::default();
        let mut seq = 65530u16;
        let mut last = 0;
        for _ in 0..12 {
            let idx = r.check(rtp_id(7, seq)).expect("fresh");
            r.accept(rtp_id(7, seq), idx);
            last = idx;
            seq = seq.wrapping_add(1);
        }
        assert_eq!(last, 65536 + 5);
        // A late packet from before the wrap is still in the window once.
        assert_eq!(r.check(rtp_id(7, 65534)), None);
        assert_eq!(rtp_index(65536 + 5, 65533), Some(65533));
        // Before the stream's first period: nothing it can be but a forgery.
        assert_eq!(rtp_index(5, 65000), None);
    }

    #[test]
    fn a_check_without_accept_changes_nothing() {
        let mut r = Replay::default();
        // A forged packet far ahead is checked but never authenticates ...
        assert!(r.check(rtp_id(3, 40000)).is_some());
        // ... so the genuine stream starting at 1 is accepted.
        for seq in 1..5u16 {
            let idx = r.check(rtp_id(3, seq)).expect("genuine packet");
            r.accept(rtp_id(3, seq), idx);
        }
    }

    #[test]
    fn srtcp_without_e_flag_or_too_short_has_no_id() {
        let mut p = vec![0x80, 0xc8, 0, 1, 0, 0, 0, 9];
        p.extend_from_slice(&[0xab; 8]);
        p.extend_from_slice(&0x8000_0002u32.to_be_bytes());
        p.extend_from_slice(&[0; 10]);
        assert_eq!(
            packet_id(&p, true, Suite::AesCm128HmacSha1_80),
            Some(PacketId {
                ssrc: 9,
                seq: 2,
                rtcp: true
            })
        );
        let at = p.len() - 14;
        p[at] &= 0x7f;
        assert_eq!(packet_id(&p, true, Suite::AesCm128HmacSha1_80), None);
        // libre's clear RTCP APP "PINGPONG" (16 bytes) is too short for SRTCP.
        let ping = b"\x80\xcc\x00\x03\x3e\x61\x8a\x4fPINGPONG";
        assert_eq!(packet_id(ping, true, Suite::AesCm128HmacSha1_80), None);
        assert_eq!(packet_id(&[0x80; 11], false, Suite::AeadAes128Gcm), None);
    }

    #[test]
    fn srtcp_ssrcs_are_bounded() {
        let mut r = Replay::default();
        for ssrc in 0..(MAX_SSRCS as u32 + 4) {
            let id = PacketId {
                ssrc,
                seq: 1,
                rtcp: true,
            };
            let idx = r.check(id).expect("fresh");
            r.accept(id, idx);
        }
        assert_eq!(r.rtcp.len(), MAX_SSRCS);
        assert_eq!(r.rtcp.capacity(), MAX_SSRCS);
    }
}
