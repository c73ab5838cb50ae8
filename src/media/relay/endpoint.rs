//! One leg's end of a media line: its socket pair, where it sends (signalled
//! and latched addresses), the rewriting after a tone, and its SRTP state.

use std::net::SocketAddr;

use super::Remote;
use crate::media::ports::{MediaSock, PortLease};
use crate::media::rtp::Continuity;
use crate::media::srtp::EndCrypto;

pub(super) struct Endpoint {
    pub(super) rtp: MediaSock,
    pub(super) rtcp: MediaSock,
    pub(super) lease: PortLease,
    pub(super) remote: Option<Remote>,
    pub(super) latched: [Option<SocketAddr>; 2],
    /// Rewriting of what is sent out of this endpoint (after a tone).
    pub(super) out: Option<Continuity>,
    /// SRTP toward this leg (decrypt what it sends, encrypt what it gets).
    /// Boxed: the contexts are ~600 bytes that a plain-RTP end (most calls)
    /// would otherwise carry, making a media line's two ends a 2 KB
    /// allocation (past the allocator's per-thread cache) instead of ~850 bytes.
    pub(super) srtp: Option<Box<EndCrypto>>,
}

impl Endpoint {
    /// A new end on these sockets: no remote yet, nothing latched, plain RTP.
    pub(super) fn new(rtp: MediaSock, rtcp: MediaSock, lease: PortLease) -> Endpoint {
        Endpoint {
            rtp,
            rtcp,
            lease,
            remote: None,
            latched: [None, None],
            out: None,
            srtp: None,
        }
    }

    /// Moves this end to new sockets (the old ones go back to the pool as
    /// in [`Endpoint::close`]): the remote and the SRTP state stay,
    /// latching and the rewriting after a tone start again.
    pub(super) fn new_sockets(&mut self, rtp: MediaSock, rtcp: MediaSock, lease: PortLease) {
        let old_rtp = std::mem::replace(&mut self.rtp, rtp);
        let old_rtcp = std::mem::replace(&mut self.rtcp, rtcp);
        let old_lease = std::mem::replace(&mut self.lease, lease);
        old_lease.recycle_tokio(crate::media::runtime::current(), old_rtp, old_rtcp);
        self.latched = [None, None];
        self.out = None;
    }

    /// Closes the end in `slot`, if any: its sockets go back to the port
    /// pool still bound, and still registered with this media thread's
    /// reactor when the pool is this thread's (see `ports`). Only the
    /// sockets and the lease are moved out, not the whole (~1 KB) end.
    pub(super) fn close(slot: &mut Option<Endpoint>) {
        if let Some(Endpoint {
            rtp, rtcp, lease, ..
        }) = slot.take()
        {
            lease.recycle_tokio(crate::media::runtime::current(), rtp, rtcp);
        }
    }

    /// Sends a clear packet to this leg, encrypting it first on an SRTP leg.
    pub(super) fn send(&mut self, pkt: &[u8], rtcp: bool, dst: SocketAddr) -> bool {
        let sock = if rtcp { &self.rtcp } else { &self.rtp };
        match self.srtp.as_mut() {
            Some(c) => match c.protect(pkt, rtcp) {
                Some(enc) => sock.try_send_to(&enc, dst).is_ok(),
                None => false,
            },
            None => sock.try_send_to(pkt, dst).is_ok(),
        }
    }
}

#[derive(Default)]
pub(super) struct Stream {
    pub(super) ends: [Option<Endpoint>; 2],
}
