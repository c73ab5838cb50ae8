//! Media anchoring: every call's RTP passes through the gateway.
//!
//! - [`g711`]: PCMU/PCMA sample codecs (ITU-T G.711), hand-written.
//! - [`tones`]: per-country ringback and busy tones (ITU-T E.180 Suppl. 2 data in
//!   `tones.toml`), generated as 20 ms G.711 frames.
//! - [`record`]: pre-connect recordings, stereo WAV written off the packet path.
//!
//! SDP parsing and rewriting lives in `sip::sdp` (no I/O there); the relay, port
//! allocation and the per-call media task are in this module. Depends on `sip`
//! and `metrics`, never on `call`.

pub mod g711;
pub mod record;
pub mod tones;

/// The audio codecs the gateway can decode, generate and record. Everything
/// else is relayed untouched but not recorded or generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551 table 4).
    pub fn static_pt(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec for an `a=rtpmap` encoding name (case-insensitive), 8 kHz only.
    pub fn from_rtpmap(name: &str, clock: u32) -> Option<Codec> {
        if clock != 8000 {
            return None;
        }
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else {
            None
        }
    }

    /// The codec of a static payload type without an rtpmap (RFC 3551).
    pub fn from_static_pt(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The rtpmap encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}
