//! The audio codecs the gateway itself understands, as SDP names them
//! (`a=rtpmap`, static payload types of RFC 3551). A leaf: `sip::sdp` reads
//! them from bodies, `media` decodes, generates and records them.

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
