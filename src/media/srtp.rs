//! SDES-SRTP (RFC 4568 key exchange in SDP, RFC 3711 packet protection) per
//! leg: a leg that offers `RTP/SAVP` with a usable `a=crypto` gets SRTP, a
//! leg that offers `RTP/AVP` gets RTP, and the relay decrypts what a leg sends
//! and encrypts what it is sent, so the rest of the relay (latching, tones,
//! recording, DTMF) only ever sees clear RTP.
//!
//! - [`Sdes`]: the offer/answer bookkeeping of one call (pure: SDP facts in,
//!   SDP security and relay keys out). Keys come from the OS RNG, one per leg
//!   and media line, and are never logged (`Debug` prints the suite only).
//! - [`EndCrypto`]: one leg's contexts inside the relay task (the hook the
//!   relay calls per packet: [`EndCrypto::unprotect`], [`EndCrypto::protect`]).
//!
//! Packet crypto is the pure-Rust `webrtc-srtp` crate (AES-CM + HMAC-SHA1 and
//! AES-GCM from RustCrypto); the tests below check it against RFC 3711 /
//! libsrtp reference vectors. Replay lists and the SRTCP E-flag check are
//! ours ([`replay`]: the crate's let unauthenticated packets in or through).
//! Depends on `sip::sdp` and `leg::Leg` only.

use base64::Engine as _;
use bytes::Bytes;
use rand::TryRngCore as _;
use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_no_replay_protection, srtp_no_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

use super::leg::Leg;
use crate::sip::sdp::{MediaDesc, SecOut};

mod replay;
use replay::{packet_id, Replay};

/// The crypto suites we speak (RFC 4568 §6.2, RFC 7714 §14.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AeadAes128Gcm,
}

/// The suites we offer, in our order of preference (tags 1, 2, 3).
pub const OFFER: [Suite; 3] = [
    Suite::AesCm128HmacSha1_80,
    Suite::AesCm128HmacSha1_32,
    Suite::AeadAes128Gcm,
];

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
        }
    }

    pub fn from_name(s: &str) -> Option<Suite> {
        [
            Suite::AesCm128HmacSha1_80,
            Suite::AesCm128HmacSha1_32,
            Suite::AeadAes128Gcm,
        ]
        .into_iter()
        .find(|x| x.name().eq_ignore_ascii_case(s))
    }

    /// Master key length; the salt is 14 bytes for AES-CM, 12 for GCM.
    fn key_len(self) -> usize {
        16
    }

    fn salt_len(self) -> usize {
        match self {
            Suite::AeadAes128Gcm => 12,
            _ => 14,
        }
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            Suite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        }
    }
}

/// A master key and salt for one suite. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    pub suite: Suite,
    /// key || salt (28 or 30 bytes).
    bytes: Vec<u8>,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyMaterial({}, <redacted>)", self.suite.name())
    }
}

impl KeyMaterial {
    /// A fresh key from the OS RNG (RFC 4568 §6.1: keys MUST be random).
    /// `None` only if the OS RNG fails.
    pub fn generate(suite: Suite) -> Option<KeyMaterial> {
        let mut bytes = vec![0u8; suite.key_len() + suite.salt_len()];
        rand::rngs::OsRng.try_fill_bytes(&mut bytes).ok()?;
        Some(KeyMaterial { suite, bytes })
    }

    pub fn from_bytes(suite: Suite, bytes: &[u8]) -> Option<KeyMaterial> {
        (bytes.len() == suite.key_len() + suite.salt_len()).then(|| KeyMaterial {
            suite,
            bytes: bytes.to_vec(),
        })
    }

    /// RFC 4568 §6.1 `inline:<key||salt base64>`.
    pub fn inline(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.bytes)
    }

    /// The crate's context; replay protection is ours ([`replay`]).
    fn context(&self) -> Option<Context> {
        let (key, salt) = self.bytes.split_at(self.suite.key_len());
        Context::new(
            key,
            salt,
            self.suite.profile(),
            Some(srtp_no_replay_protection()),
            Some(srtcp_no_replay_protection()),
        )
        .ok()
    }
}

/// One `a=crypto` line we can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub key: KeyMaterial,
}

impl Crypto {
    /// The `a=crypto:` value.
    pub fn line(&self) -> String {
        format!(
            "{} {} inline:{}",
            self.tag,
            self.key.suite.name(),
            self.key.inline()
        )
    }
}

/// RFC 4568 §9.1 `<tag> <suite> inline:<key||salt>[|<lifetime>][|<MKI>:<len>]
/// [<session-params>]`. `None` (not usable) for unknown suites, more than one
/// key, an MKI (one key per context here), session parameters (e.g.
/// `UNENCRYPTED_SRTP`) and malformed input.
pub fn parse_crypto(value: &str) -> Option<Crypto> {
    let mut f = value.split_ascii_whitespace();
    let tag: u32 = f.next()?.parse().ok().filter(|t| *t < 1_000_000_000)?;
    let suite = Suite::from_name(f.next()?)?;
    let params = f.next()?;
    if f.next().is_some() || params.contains(';') {
        return None;
    }
    params
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("inline:"))?;
    let mut parts = params.get(7..)?.split('|');
    let b64 = parts.next()?;
    for p in parts {
        if p.contains(':') {
            return None; // MKI
        }
    }
    if b64.len() > 64 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
        .ok()?;
    Some(Crypto {
        tag,
        key: KeyMaterial::from_bytes(suite, &bytes)?,
    })
}

/// A leg's SRTP policy: carriers' `srtp` (`off`/`optional`/`required`),
/// trunks' `media_encryption` (`disabled` is `Off`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// RTP only: we offer RTP/AVP and refuse RTP/SAVP offers (488).
    Off,
    /// Whatever the leg offers; toward it we offer what the other leg offered.
    #[default]
    Optional,
    /// SRTP only: an offer or answer without usable crypto is refused (488).
    Required,
}

/// Why a leg's SDP cannot be accepted under its policy (all answered 488).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("SRTP required on this leg and no usable a=crypto")]
    Required,
    #[error("RTP/SAVP offered with no a=crypto we support")]
    NoUsableCrypto,
    #[error("RTP/SAVP offered on a leg with SRTP off")]
    NotAllowed,
    #[error("the OS random number generator failed")]
    Rng,
}

impl SrtpError {
    pub fn name(self) -> &'static str {
        match self {
            SrtpError::Required => "srtp_required",
            SrtpError::NoUsableCrypto => "srtp_no_usable_crypto",
            SrtpError::NotAllowed => "srtp_not_allowed",
            SrtpError::Rng => "srtp_rng_failed",
        }
    }
}

/// What the relay is told for one leg's side of one line: decrypt what the
/// leg sends with `rx`, encrypt what it is sent with `tx`; `None`: plain RTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegKeys {
    pub rx: KeyMaterial,
    pub tx: KeyMaterial,
}

/// One leg's state on one media line.
#[derive(Clone, Debug, Default)]
struct LineState {
    /// The profile family this leg speaks (`F`: RTP/AVPF feedback).
    feedback: bool,
    /// SRTP in use (or being offered) with this tag and keys.
    srtp: Option<(u32, LegKeys)>,
    /// Our `a=crypto` offer to this leg, awaiting its answer; empty: we offered RTP.
    offered: Vec<Crypto>,
}

/// The SDES bookkeeping of one call (both legs, every RTP line).
#[derive(Default)]
pub struct Sdes {
    policy: [SrtpPolicy; 2],
    lines: [Vec<LineState>; 2],
    /// The leg whose answer we wait for (we relayed the other leg's offer to it).
    awaiting: Option<Leg>,
}

/// Per line, what to tell the relay about the `from` leg: Some(keys or plain).
pub type RelayKeys = Vec<(usize, Leg, Option<LegKeys>)>;

fn proto(srtp: bool, feedback: bool) -> &'static str {
    match (srtp, feedback) {
        (false, false) => "RTP/AVP",
        (false, true) => "RTP/AVPF",
        (true, false) => "RTP/SAVP",
        (true, true) => "RTP/SAVPF",
    }
}

fn is_savp(m: &MediaDesc) -> bool {
    m.proto.to_ascii_uppercase().contains("SAVP")
}

fn is_feedback(m: &MediaDesc) -> bool {
    m.proto.to_ascii_uppercase().ends_with('F')
}

impl Sdes {
    pub fn set_policy(&mut self, leg: Leg, policy: SrtpPolicy) {
        self.policy[leg as usize] = policy;
    }

    /// The next SDP is a new offer (re-INVITE, UPDATE), whoever sends it.
    pub fn expect_offer(&mut self) {
        self.awaiting = None;
    }

    fn line(&mut self, leg: Leg, idx: usize) -> &mut LineState {
        let l = &mut self.lines[leg as usize];
        if l.len() <= idx {
            l.resize(idx + 1, LineState::default());
        }
        &mut l[idx]
    }

    /// The security of line `idx` toward `leg` as last negotiated (the SDP
    /// the gateway itself answers with, e.g. for a tone).
    pub fn current(&self, leg: Leg, idx: usize) -> SecOut {
        let st = self.lines[leg as usize].get(idx);
        let feedback = st.is_some_and(|s| s.feedback);
        match st.and_then(|s| s.srtp.as_ref()) {
            Some((tag, keys)) => SecOut {
                proto: proto(true, feedback),
                crypto: vec![Crypto {
                    tag: *tag,
                    key: keys.tx.clone(),
                }
                .line()],
            },
            None => SecOut {
                proto: proto(false, feedback),
                crypto: Vec::new(),
            },
        }
    }

    /// `from` sent this SDP: an answer if we relayed an offer to `from` and
    /// no new offer came since, else an offer. Returns the security of each
    /// line toward the other leg (None: not RTP, left as is) and the keys the
    /// relay must use now.
    pub fn on_sdp(
        &mut self,
        from: Leg,
        media: &[MediaDesc],
    ) -> Result<(Vec<Option<SecOut>>, RelayKeys), SrtpError> {
        let answer = self.awaiting == Some(from);
        let mut secs = Vec::with_capacity(media.len());
        let mut keys = Vec::new();
        // Check every line before changing any state: a refused SDP changes nothing.
        for m in media {
            if m.is_rtp() && m.port != 0 {
                if answer {
                    self.check_answer(from, m)?;
                } else {
                    self.check_offer(from, m)?;
                }
            }
        }
        if !answer {
            self.awaiting = Some(from.other());
        }
        for (idx, m) in media.iter().enumerate() {
            if !m.is_rtp() || m.port == 0 {
                secs.push(None);
                continue;
            }
            let sec = if answer {
                self.answer_line(from, idx, m, &mut keys)
            } else {
                self.offer_line(from, idx, m, &mut keys)?
            };
            secs.push(Some(sec));
        }
        Ok((secs, keys))
    }

    fn usable(m: &MediaDesc) -> Option<Crypto> {
        m.crypto.iter().find_map(|c| parse_crypto(c))
    }

    fn check_offer(&self, from: Leg, m: &MediaDesc) -> Result<(), SrtpError> {
        let policy = self.policy[from as usize];
        match (is_savp(m), policy) {
            (true, SrtpPolicy::Off) => Err(SrtpError::NotAllowed),
            (true, _) if Self::usable(m).is_none() => Err(SrtpError::NoUsableCrypto),
            (false, SrtpPolicy::Required) => Err(SrtpError::Required),
            _ => Ok(()),
        }
    }

    fn answer_crypto(&self, from: Leg, m: &MediaDesc) -> Option<Crypto> {
        let offered = self.lines[from as usize]
            .iter()
            .flat_map(|l| l.offered.iter())
            .collect::<Vec<_>>();
        m.crypto.iter().filter_map(|c| parse_crypto(c)).find(|c| {
            offered
                .iter()
                .any(|o| o.tag == c.tag && o.key.suite == c.key.suite)
        })
    }

    fn check_answer(&self, from: Leg, m: &MediaDesc) -> Result<(), SrtpError> {
        if is_savp(m) && self.answer_crypto(from, m).is_none() {
            return Err(SrtpError::NoUsableCrypto);
        }
        if !is_savp(m) && self.policy[from as usize] == SrtpPolicy::Required {
            return Err(SrtpError::Required);
        }
        Ok(())
    }

    /// An offer from `from` on line `idx`: take its key, and make our offer to the other leg.
    fn offer_line(
        &mut self,
        from: Leg,
        idx: usize,
        m: &MediaDesc,
        keys: &mut RelayKeys,
    ) -> Result<SecOut, SrtpError> {
        let feedback = is_feedback(m);
        let theirs = if is_savp(m) { Self::usable(m) } else { None };
        let st = self.line(from, idx);
        st.feedback = feedback;
        st.offered.clear();
        match theirs {
            Some(c) => {
                // Keep our key while the suite is the same (the leg's ROC state
                // stays valid); a new suite gets a new key.
                let tx = match &st.srtp {
                    Some((_, k)) if k.tx.suite == c.key.suite => k.tx.clone(),
                    _ => KeyMaterial::generate(c.key.suite).ok_or(SrtpError::Rng)?,
                };
                let lk = LegKeys { rx: c.key, tx };
                st.srtp = Some((c.tag, lk.clone()));
                keys.push((idx, from, Some(lk)));
            }
            None => {
                st.srtp = None;
                keys.push((idx, from, None));
            }
        }
        let from_srtp = self.line(from, idx).srtp.is_some();
        let to = from.other();
        let offer_srtp = match self.policy[to as usize] {
            SrtpPolicy::Off => false,
            SrtpPolicy::Required => true,
            SrtpPolicy::Optional => from_srtp,
        };
        let mut offered = Vec::new();
        if offer_srtp {
            for (i, suite) in OFFER.into_iter().enumerate() {
                offered.push(Crypto {
                    tag: i as u32 + 1,
                    key: KeyMaterial::generate(suite).ok_or(SrtpError::Rng)?,
                });
            }
        }
        let out = SecOut {
            proto: proto(offer_srtp, feedback),
            crypto: offered.iter().map(Crypto::line).collect(),
        };
        let st = self.line(to, idx);
        st.feedback = feedback;
        st.offered = offered;
        Ok(out)
    }

    /// `from` answered our offer on line `idx`: its keys, and our answer to the other leg.
    fn answer_line(
        &mut self,
        from: Leg,
        idx: usize,
        m: &MediaDesc,
        keys: &mut RelayKeys,
    ) -> SecOut {
        let theirs = if is_savp(m) {
            self.answer_crypto(from, m)
        } else {
            None
        };
        let st = self.line(from, idx);
        match theirs.and_then(|c| {
            let ours = st.offered.iter().find(|o| o.tag == c.tag)?.key.clone();
            Some((c.tag, c.key, ours))
        }) {
            Some((tag, rx, tx)) => {
                let lk = LegKeys { rx, tx };
                st.srtp = Some((tag, lk.clone()));
                keys.push((idx, from, Some(lk)));
            }
            None => {
                st.srtp = None;
                keys.push((idx, from, None));
            }
        }
        self.current(from.other(), idx)
    }
}

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

/// Applies a relay key update to an endpoint's crypto slot.
pub fn apply(slot: &mut Option<EndCrypto>, keys: Option<LegKeys>) {
    match (slot.as_mut(), keys) {
        (_, None) => *slot = None,
        (Some(c), Some(k)) => {
            if !c.rekey(k) {
                *slot = None;
            }
        }
        (None, Some(k)) => *slot = EndCrypto::new(k),
    }
}

#[cfg(test)]
mod tests;
