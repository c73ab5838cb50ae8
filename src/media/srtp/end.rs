//! One leg's packet crypto inside the relay task (RFC 3711): the hook the
//! relay calls per packet ([`EndCrypto::unprotect`], [`EndCrypto::protect`]).

use bytes::Bytes;
use webrtc_srtp::context::Context;

use super::replay::{packet_id, Replay};
use super::{KeyMaterial, LegKeys, Suite};

/// One receive context: the crate's keys and ROC state, our replay lists.
struct Rx {
    ctx: Context,
    suite: Suite,
    replay: Replay,
}

impl Rx {
    fn new(key: &KeyMaterial) -> Option<Rx> {
        Some(Rx {
            ctx: key.context()?,
            suite: key.suite,
            replay: Replay::default(),
        })
    }

    /// The clear packet, if `pkt` is fresh and authenticates.
    fn open(&mut self, pkt: &[u8], rtcp: bool) -> Option<Bytes> {
        let id = packet_id(pkt, rtcp, self.suite)?;
        let idx = self.replay.check(id)?;
        let clear = if rtcp {
            self.ctx.decrypt_rtcp(pkt).ok()?
        } else {
            self.ctx.decrypt_rtp(pkt).ok()?
        };
        self.replay.accept(id, idx);
        Some(clear)
    }
}

/// One leg's SRTP contexts in the relay: `rx` for what the leg sends (with
/// the previous key kept for packets still in flight after a rekey), `tx`
/// for what we send it. The ROC is per SSRC inside each context (RFC 3711
/// §3.3.1), the replay lists too (§3.3.2, see [`replay`]).
pub struct EndCrypto {
    keys: LegKeys,
    rx: Rx,
    rx_prev: Option<Rx>,
    tx: Context,
}

impl EndCrypto {
    pub fn new(keys: LegKeys) -> Option<EndCrypto> {
        Some(EndCrypto {
            rx: Rx::new(&keys.rx)?,
            tx: keys.tx.context()?,
            rx_prev: None,
            keys,
        })
    }

    /// New keys from a re-INVITE: unchanged keys keep their context (and its
    /// ROC and replay state); a new receive key keeps the old one as fallback.
    pub fn rekey(&mut self, keys: LegKeys) -> bool {
        if keys.rx != self.keys.rx {
            let Some(rx) = Rx::new(&keys.rx) else {
                return false;
            };
            self.rx_prev = Some(std::mem::replace(&mut self.rx, rx));
        }
        if keys.tx != self.keys.tx {
            let Some(tx) = keys.tx.context() else {
                return false;
            };
            self.tx = tx;
        }
        self.keys = keys;
        true
    }

    /// Decrypts and authenticates `pkt` in place; the clear packet's length,
    /// or `None` (drop it) when it is a replay, too old, SRTCP without the E
    /// flag, or fails authentication.
    pub fn unprotect(&mut self, pkt: &mut [u8], rtcp: bool) -> Option<usize> {
        let clear = match self.rx.open(pkt, rtcp) {
            Some(c) => c,
            None => self.rx_prev.as_mut()?.open(pkt, rtcp)?,
        };
        let n = clear.len();
        pkt.get_mut(..n)?.copy_from_slice(&clear);
        Some(n)
    }

    /// The protected form of the clear packet `pkt`.
    pub fn protect(&mut self, pkt: &[u8], rtcp: bool) -> Option<Bytes> {
        if rtcp {
            self.tx.encrypt_rtcp(pkt).ok()
        } else {
            self.tx.encrypt_rtp(pkt).ok()
        }
    }
}

/// Applies a relay key update to an endpoint's crypto slot (boxed: the
/// contexts are ~600 bytes that a plain-RTP endpoint, most of them, does
/// not carry).
pub fn apply(slot: &mut Option<Box<EndCrypto>>, keys: Option<LegKeys>) {
    match (slot.as_mut(), keys) {
        (_, None) => *slot = None,
        (Some(c), Some(k)) => {
            if !c.rekey(k) {
                *slot = None;
            }
        }
        (None, Some(k)) => *slot = EndCrypto::new(k).map(Box::new),
    }
}
