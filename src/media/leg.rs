//! The two legs of a call's media and where each wants a stream sent: the
//! vocabulary the relay, quality and SRTP share. A leaf (it depends only on
//! `rtp::PtMap`), so those three need not import one another for it.

use std::net::SocketAddr;

use super::rtp::PtMap;

/// The two legs. The caller's leg is always the one the call came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leg {
    Caller = 0,
    Callee = 1,
}

impl Leg {
    pub fn other(self) -> Leg {
        match self {
            Leg::Caller => Leg::Callee,
            Leg::Callee => Leg::Caller,
        }
    }
}

/// Where a leg said it wants a stream's media (its SDP), and its codecs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
    pub pts: PtMap,
    /// Not RTP (T.38 UDPTL, `m=image`): relayed byte for byte, never inspected.
    pub raw: bool,
    /// RFC 4733 telephone-event payload type, if the leg offered it.
    pub telephone_event: Option<u8>,
}
