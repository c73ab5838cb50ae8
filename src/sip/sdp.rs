//! SDP (RFC 8866, formerly RFC 4566) for a media-anchoring B2BUA.
//!
//! The gateway relays every call's RTP through its own ports, so for each leg it
//! reads where the far side wants media ([`parse`] -> [`MediaDesc`]) and writes
//! the body the other side gets ([`Sdp::rewrite`]): our address and relay ports,
//! codecs and direction attributes kept, ICE removed. When the gateway itself
//! sources media (tones, played files) it answers with [`build_answer`].
//!
//! Every line is kept verbatim and in order; only `o=`, `c=`, `m=` and `a=rtcp`
//! lines are rebuilt and ICE attributes dropped. Input is bounded
//! ([`MAX_BODY`], [`MAX_MEDIA`]), CRLF and bare LF are accepted, output is CRLF.
//! Reading is in `parse`, writing in `rewrite`, the codecs the gateway knows
//! in `codec`. No I/O; depends on nothing outside `sip`.

use std::net::IpAddr;
use std::ops::Range;

use smallvec::SmallVec;

mod codec;
mod parse;
mod rewrite;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use codec::Codec;
pub use parse::parse;
pub use rewrite::{build_answer, choose_g711, PerLine, Rewrite, SecOut};

/// Largest SDP body we parse (bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// Most `m=` lines we accept in one body.
pub const MAX_MEDIA: usize = 64;
// A line's section index is kept in a u8.
const _: () = assert!(MAX_MEDIA <= u8::MAX as usize);
/// Most `a=crypto` lines per `m=` section we read (RFC 4568 offers list a few).
pub const MAX_CRYPTO: usize = 16;

/// Why a body is not SDP we can use. Line numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP body of {size} bytes exceeds the {max} byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("SDP body is not UTF-8")]
    NotUtf8,
    #[error("line {line} is not <type>=<value>")]
    BadLine { line: usize },
    #[error("no v= line")]
    MissingVersion,
    #[error("v= is not 0")]
    BadVersion,
    #[error("no o= line")]
    MissingOrigin,
    #[error("malformed o= line {line}")]
    BadOrigin { line: usize },
    #[error("no s= line")]
    MissingSessionName,
    #[error("malformed c= line {line}")]
    BadConnection { line: usize },
    #[error("malformed m= line {line}")]
    BadMedia { line: usize },
    #[error("more than {max} m= lines")]
    TooManyMedia { max: usize },
    #[error("malformed a= line {line}")]
    BadAttribute { line: usize },
}

impl SdpError {
    /// Static label for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            SdpError::TooLarge { .. } => "sdp_too_large",
            SdpError::NotUtf8 => "sdp_not_utf8",
            SdpError::BadLine { .. } => "sdp_bad_line",
            SdpError::MissingVersion => "sdp_missing_version",
            SdpError::BadVersion => "sdp_bad_version",
            SdpError::MissingOrigin => "sdp_missing_origin",
            SdpError::BadOrigin { .. } => "sdp_bad_origin",
            SdpError::MissingSessionName => "sdp_missing_session_name",
            SdpError::BadConnection { .. } => "sdp_bad_connection",
            SdpError::BadMedia { .. } => "sdp_bad_media",
            SdpError::TooManyMedia { .. } => "sdp_too_many_media",
            SdpError::BadAttribute { .. } => "sdp_bad_attribute",
        }
    }
}

/// RFC 8866 §6.7: the media direction attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

/// RFC 8866 §5.14: the `<media>` field of an `m=` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Image,
    Other,
}

/// One `m=` section, with session-level defaults (`c=`, direction) applied.
/// A typical section keeps everything inline (no allocation): its profile
/// and formats, codecs and clock rates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaDesc {
    pub kind: MediaKind,
    /// 0 = stream disabled (RFC 3264 §6).
    pub port: u16,
    /// The profile and formats: [`Self::proto`], [`Self::fmts`].
    transport: Transport,
    /// Media-level `c=`, else session-level `c=`; None if neither.
    pub addr: Option<IpAddr>,
    /// RFC 3605 `a=rtcp:` port, if present.
    pub rtcp_port: Option<u16>,
    /// RFC 5761 `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// Media-level attribute, else session-level, else SendRecv (RFC 3264 §5.1).
    pub direction: Direction,
    /// G.711 payload types offered, in `m=` order (rtpmap, or static 0/8 without one).
    pub codecs: SmallVec<[(u8, Codec); 4]>,
    /// (payload type, clock rate) of every `a=rtpmap` of an RTP line, in `m=` order.
    pub clocks: SmallVec<[(u8, u32); 4]>,
    /// RFC 4733 `a=rtpmap:N telephone-event/8000`.
    pub telephone_event: Option<u8>,
    /// RFC 4568 `a=crypto:` values (after the colon), in order; at most
    /// [`MAX_CRYPTO`] are kept. Read by `media::srtp`.
    pub crypto: Vec<String>,
}

/// The `<proto> <fmt> ...` fields of an `m=` line, one space apart, inline
/// up to a typical line's 32 bytes (longer ones spill to the heap).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Transport {
    /// Kept as a `String`'s bytes would be, without the allocation: every
    /// field is a whole `&str` taken from a body ([`Transport::new`]).
    text: SmallVec<[u8; 32]>,
    /// Where the profile ends in `text`.
    proto_len: usize,
}

impl Transport {
    fn new<'a>(proto: &str, fmts: impl Iterator<Item = &'a str>) -> Transport {
        let mut text = SmallVec::from_slice(proto.as_bytes());
        for f in fmts {
            text.push(b' ');
            text.extend_from_slice(f.as_bytes());
        }
        Transport {
            text,
            proto_len: proto.len(),
        }
    }

    fn proto(&self) -> &[u8] {
        self.text.get(..self.proto_len).unwrap_or_default()
    }

    /// The formats, each a whole field (no space inside).
    fn fmts(&self) -> impl Iterator<Item = &[u8]> {
        self.text
            .get(self.proto_len..)
            .unwrap_or_default()
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty())
    }
}

/// Text built from whole `&str` fields (always UTF-8); "" if it ever were not.
fn as_text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

impl MediaDesc {
    /// The transport profile: "RTP/AVP", "udptl", ...
    pub fn proto(&self) -> &str {
        as_text(self.transport.proto())
    }

    /// The formats as in the `m=` line (payload types for RTP).
    pub fn fmts(&self) -> impl Iterator<Item = &str> {
        self.transport.fmts().map(as_text)
    }

    /// T.38 fax (ITU-T T.38 Annex D): `m=image <port> udptl t38`.
    pub fn is_t38(&self) -> bool {
        self.kind == MediaKind::Image
            && self.transport.proto().eq_ignore_ascii_case(b"udptl")
            && self
                .transport
                .fmts()
                .any(|f| f.eq_ignore_ascii_case(b"t38"))
    }

    /// RFC 2543 hold: the connection address is 0.0.0.0 (or `::`). A section
    /// with no address at all is not hold.
    pub fn is_hold_address(&self) -> bool {
        self.addr.is_some_and(|a| a.is_unspecified())
    }

    /// An RTP profile (`RTP/AVP`, `RTP/SAVP`, `RTP/AVPF`, `RTP/SAVPF`, ...).
    pub fn is_rtp(&self) -> bool {
        self.proto_has("RTP/")
    }

    /// `part` anywhere in the profile, in any ASCII case (no upper-case
    /// copy: the relay's SDP steps ask several times per line).
    pub fn proto_has(&self, part: &str) -> bool {
        let part = part.as_bytes();
        !part.is_empty()
            && self
                .transport
                .proto()
                .windows(part.len())
                .any(|w| w.eq_ignore_ascii_case(part))
    }
}

/// What a kept line is, for [`Sdp::rewrite`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Origin,
    /// `c=`; `hold` when the address is unspecified (kept as is).
    Connection {
        hold: bool,
    },
    Media,
    Rtcp,
    /// RFC 8839 ICE attributes, dropped on rewrite.
    Ice,
    /// RFC 4568 `a=crypto`: replaced on rewrite when the plan sets the section's security.
    Crypto,
    Other,
}

#[derive(Clone, Debug)]
struct Line {
    span: Range<usize>,
    role: Role,
    /// Index of the media section (< [`MAX_MEDIA`]), None at session level.
    section: Option<u8>,
}

impl Line {
    fn section(&self) -> Option<usize> {
        self.section.map(usize::from)
    }
}

/// The lines of a body kept inline (no allocation) up to a typical offer's 16.
type Lines = SmallVec<[Line; 16]>;

/// A parsed SDP body that keeps its original lines for rewriting. A body of
/// up to 16 lines and one `m=` section (a call's usual offer and answer)
/// keeps them inline.
#[derive(Clone, Debug)]
pub struct Sdp {
    body: String,
    lines: Lines,
    media: SmallVec<[MediaDesc; 1]>,
    version: Option<u64>,
}

impl Sdp {
    /// The body as it was parsed.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The `m=` sections in body order.
    pub fn media(&self) -> &[MediaDesc] {
        self.media.as_slice()
    }

    /// Any active (port != 0) T.38 `m=image udptl t38` section.
    pub fn has_t38(&self) -> bool {
        self.media.iter().any(|m| m.port != 0 && m.is_t38())
    }

    /// The session-level `o=` sess-version (RFC 3264 §8: each new offer
    /// increments it), None when it is not a u64.
    pub fn version(&self) -> Option<u64> {
        self.version
    }
}
