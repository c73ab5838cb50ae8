//! Why an SDP could not be anchored, and what the call answers for it.

use crate::media::srtp::SrtpError;
use crate::sip::sdp;

/// Why an SDP could not be anchored.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("SDP: {0}")]
    Sdp(#[from] sdp::SdpError),
    #[error(transparent)]
    Ports(#[from] crate::media::ports::PortError),
    #[error("too many media lines")]
    TooManyStreams,
    #[error("T.38 offered on a trunk with fax off")]
    FaxRefused,
    #[error(transparent)]
    Srtp(#[from] SrtpError),
}

impl MediaError {
    /// Static name for call-log reasons and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            MediaError::Sdp(_) => "sdp_invalid",
            MediaError::Ports(e) => e.name(),
            MediaError::TooManyStreams => "sdp_too_many_streams",
            MediaError::FaxRefused => "fax_refused",
            MediaError::Srtp(e) => e.name(),
        }
    }

    /// The SIP answer for a request whose SDP this was (RFC 3261 §21).
    pub fn sip_code(&self) -> (u16, &'static str) {
        match self {
            MediaError::Sdp(_)
            | MediaError::TooManyStreams
            | MediaError::FaxRefused
            | MediaError::Srtp(_) => (488, "Not Acceptable Here"),
            MediaError::Ports(_) => (503, "Service Unavailable"),
        }
    }
}
