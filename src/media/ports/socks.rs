//! A bound pair's two sockets, in a media thread's reactor or in none,
//! and reading away what reached a reused pair between its calls.

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::task::{Context, Waker};

use super::MediaSock;

/// Stale datagrams read (and thrown away) from a reused socket at most.
const DRAIN_MAX: usize = 64;

/// The two sockets of a bound pair, registered with a reactor or not.
pub enum Socks {
    /// Bound, in no reactor yet (pre-bound, or bound at set-up).
    Plain {
        rtp: StdUdpSocket,
        rtcp: StdUdpSocket,
    },
    /// Still registered with the reactor of the pool's media thread (the
    /// pool's `thread`) by an earlier call: a call on that thread uses
    /// them as they are, with no `epoll_ctl` to add or remove them.
    Registered { rtp: MediaSock, rtcp: MediaSock },
}

impl Socks {
    /// The sockets as the media task on media thread `here` uses them,
    /// registered with its reactor (must run inside that runtime): kept as
    /// they are when already there (`home` is the pool's thread), moved
    /// otherwise.
    pub fn into_tokio(
        self,
        here: Option<usize>,
        home: usize,
    ) -> std::io::Result<(MediaSock, MediaSock)> {
        match self {
            Socks::Registered { rtp, rtcp } if here == Some(home) => Ok((rtp, rtcp)),
            Socks::Registered { rtp, rtcp } => Ok((
                MediaSock::register(rtp.into_std())?,
                MediaSock::register(rtcp.into_std())?,
            )),
            Socks::Plain { rtp, rtcp } => {
                Ok((MediaSock::register(rtp)?, MediaSock::register(rtcp)?))
            }
        }
    }

    /// The RTP and RTCP sockets' local addresses.
    pub fn local_addrs(&self) -> std::io::Result<(SocketAddr, SocketAddr)> {
        match self {
            Socks::Plain { rtp, rtcp } => Ok((rtp.local_addr()?, rtcp.local_addr()?)),
            Socks::Registered { rtp, rtcp } => Ok((rtp.local_addr()?, rtcp.local_addr()?)),
        }
    }

    /// Reads away what arrived since the pair's last call. A registered
    /// socket whose reactor saw nothing arrive costs no syscall.
    pub(super) fn drain(&self) {
        match self {
            Socks::Plain { rtp, rtcp } => {
                drain_with(|b| rtp.recv(b));
                drain_with(|b| rtcp.recv(b));
            }
            Socks::Registered { rtp, rtcp } => {
                drain_with(|b| rtp.try_recv(b));
                drain_with(|b| rtcp.try_recv(b));
            }
        }
    }
}

/// Lets go of the waker the last media task left in `sock`'s registration.
///
/// A task that polled the socket's readiness leaves its waker in tokio's
/// per-socket slot, and a waker holds its task's allocation (~2.3 KB for a
/// media task) until something replaces it. A pair parked registered in the
/// pool would keep its last call's task alive that way, up to one per idle
/// pair: ~17 MB over the default range. Polling readiness with a no-op waker
/// replaces it; no syscall. A socket that is readiness-ready holds no
/// reader waker (the reactor took it to wake the task), so there is nothing
/// to replace then; what is queued is read away when the pair is next used
/// ([`Socks::drain`]).
pub(super) fn release_waker(sock: &MediaSock) {
    let _ = sock.poll_recv_ready(&mut Context::from_waker(Waker::noop()));
}

/// Reads away what arrived on a reused socket since its last call.
pub(super) fn drain_with(mut recv: impl FnMut(&mut [u8]) -> std::io::Result<usize>) {
    let mut b = [0u8; 1];
    for _ in 0..DRAIN_MAX {
        match recv(&mut b) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // A datagram, or a queued ICMP error: keep reading.
            _ => {}
        }
    }
}
