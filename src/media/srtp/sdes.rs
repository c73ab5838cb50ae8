//! The SDES offer/answer bookkeeping of one call (RFC 4568): per leg and
//! media line, the profile spoken, the keys in use and our pending offer.
//! Pure: SDP facts in, SDP security and relay keys out.

use super::{parse_crypto, Crypto, KeyMaterial, LegKeys, SrtpError, SrtpPolicy, OFFER};
use crate::media::leg::Leg;
use crate::sip::sdp::{MediaDesc, PerLine, SecOut};

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
/// (Inline for a call's usual one or two lines: no allocation per SDP.)
pub type RelayKeys = PerLine<(usize, Leg, Option<LegKeys>)>;

fn proto(srtp: bool, feedback: bool) -> &'static str {
    match (srtp, feedback) {
        (false, false) => "RTP/AVP",
        (false, true) => "RTP/AVPF",
        (true, false) => "RTP/SAVP",
        (true, true) => "RTP/SAVPF",
    }
}

fn is_savp(m: &MediaDesc) -> bool {
    m.proto_has("SAVP")
}

fn is_feedback(m: &MediaDesc) -> bool {
    m.proto().ends_with(['F', 'f'])
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
    ) -> Result<(PerLine<Option<SecOut>>, RelayKeys), SrtpError> {
        let answer = self.awaiting == Some(from);
        let mut secs = PerLine::with_capacity(media.len());
        let mut keys = RelayKeys::new();
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
