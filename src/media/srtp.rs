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
use rand::TryRngCore as _;
use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_no_replay_protection, srtp_no_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

mod end;
mod replay;
mod sdes;

pub use end::{apply, EndCrypto};
pub use sdes::{RelayKeys, Sdes};

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

#[cfg(test)]
mod tests;
