//! UDP transport (RFC 3261 §18.1.1, §18.2.1): one socket per listen address, several
//! receive tasks per socket, and sends from the listening socket so that the source
//! port of requests and responses is the SIP port.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage,
};
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tracing::{debug, warn};

use super::stats::inc;
use super::{canonical, Received, Shared, TransportConfig, TransportError, TransportKind};

pub(crate) struct UdpEndpoint {
    pub socket: UdpSocket,
    pub local: SocketAddr,
}

/// Creates a non-blocking UDP socket bound exclusively — neither SO_REUSEADDR
/// nor SO_REUSEPORT, so no other process can take a share of a live SIP port
/// (UDP has no TIME_WAIT to get past; the receive tasks share this one
/// socket) — with large buffers (best effort: the kernel caps them at net.core.rmem_max/wmem_max), and
/// IPV6_V6ONLY so that `[::]` and `0.0.0.0` can be bound side by side.
pub(crate) fn bind(addr: SocketAddr, cfg: &TransportConfig) -> Result<UdpEndpoint, TransportError> {
    let bind_err = |source: io::Error| TransportError::Bind {
        kind: TransportKind::Udp,
        addr,
        source,
    };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(bind_err)?;
    }
    if let Err(e) = socket.set_recv_buffer_size(cfg.udp_recv_buffer) {
        warn!(%addr, error = %e, "cannot set UDP receive buffer");
    }
    if let Err(e) = socket.set_send_buffer_size(cfg.udp_send_buffer) {
        warn!(%addr, error = %e, "cannot set UDP send buffer");
    }
    socket.set_nonblocking(true).map_err(bind_err)?;
    // Kernel receive timestamps: how long each datagram queued (see recv_loop).
    setsockopt(socket.as_raw_fd(), sockopt::ReceiveTimestampns, &true)
        .map_err(|e| bind_err(io::Error::from(e)))?;
    socket.bind(&SockAddr::from(addr)).map_err(bind_err)?;
    let socket = UdpSocket::from_std(socket.into()).map_err(bind_err)?;
    let local = socket.local_addr().map_err(bind_err)?;
    Ok(UdpEndpoint { socket, local })
}

/// One receive task. The buffer holds `max_message_size + 1` bytes so that a datagram
/// filling it is known to be too large (the kernel truncates silently).
///
/// Each datagram comes with the kernel's receive timestamp (`SO_TIMESTAMPNS`,
/// set in [`bind`]), so the dispatcher knows how long it waited in the
/// socket's queue (`Received::queued`): the overload control's signal, which
/// sees a backlog before the kernel starts dropping and peers retransmit.
pub(crate) async fn recv_loop(shared: Arc<Shared>, ep: Arc<UdpEndpoint>) {
    let max = shared.cfg.max_message_size;
    let mut buf = vec![0u8; max.saturating_add(1)];
    let mut cmsg = Vec::with_capacity(CMSG_CAPACITY);
    let fd = ep.socket.as_raw_fd();
    let c = &shared.counters;
    loop {
        if let Err(e) = ep.socket.readable().await {
            inc(&c.udp_recv_errors);
            debug!(local = %ep.local, error = %e, "UDP readiness error");
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        // Read until the queue is empty (tokio clears the readiness it saw on
        // WouldBlock, so a datagram arriving meanwhile wakes us again).
        loop {
            let got = ep
                .socket
                .try_io(Interest::READABLE, || recv_one(fd, &mut buf, &mut cmsg));
            let (n, source, stamp) = match got {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    // Linux reports ICMP errors on unconnected sockets only with IP_RECVERR;
                    // anything here is transient or fatal, so back off instead of spinning.
                    inc(&c.udp_recv_errors);
                    debug!(local = %ep.local, error = %e, "UDP receive error");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    break;
                }
            };
            let Some(source) = source else {
                continue;
            };
            let data = &buf[..n];
            if n > max {
                inc(&c.udp_dropped_oversize);
                debug!(%source, "dropping oversize UDP datagram");
            } else if data.iter().all(u8::is_ascii_whitespace) {
                // RFC 5626 §3.5.1 / common practice: CRLF keep-alives over UDP.
                inc(&c.udp_keepalives_in);
            } else {
                inc(&c.udp_datagrams_in);
                shared.handler.on_message(Received {
                    data: Bytes::copy_from_slice(data),
                    source: canonical(source),
                    local: ep.local,
                    kind: TransportKind::Udp,
                    conn: None,
                    queued: stamp.map_or(Duration::ZERO, queued_since),
                });
            }
        }
    }
}

/// Room for one `SCM_TIMESTAMPNS` control message (CMSG_SPACE of a timespec
/// is 32 bytes on 64-bit Linux; twice that leaves margin).
const CMSG_CAPACITY: usize = 64;

/// A kernel receive time further back than this is a clock step, not a queue.
const MAX_PLAUSIBLE_QUEUE: Duration = Duration::from_secs(60);

/// One `recvmsg`: length, source and kernel receive time of the next datagram.
fn recv_one(
    fd: RawFd,
    buf: &mut [u8],
    cmsg: &mut Vec<u8>,
) -> io::Result<(usize, Option<SocketAddr>, Option<SystemTime>)> {
    cmsg.clear();
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(cmsg), MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    let stamp = msg.cmsgs().find_map(|c| match c {
        ControlMessageOwned::ScmTimestampns(ts) => {
            let secs = u64::try_from(ts.tv_sec()).ok()?;
            let nanos = u32::try_from(ts.tv_nsec()).ok()?;
            UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
        }
        _ => None,
    });
    let source = msg.address.and_then(|a| {
        if let Some(v4) = a.as_sockaddr_in() {
            return Some(SocketAddr::V4((*v4).into()));
        }
        a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
    });
    Ok((msg.bytes, source, stamp))
}

/// How long a datagram stamped `stamp` by the kernel has waited until now.
fn queued_since(stamp: SystemTime) -> Duration {
    match SystemTime::now().duration_since(stamp) {
        Ok(d) if d <= MAX_PLAUSIBLE_QUEUE => d,
        _ => Duration::ZERO,
    }
}

/// The socket to send from: same address family, preferably the same scope
/// (loopback / not) as the target, or a wildcard socket.
fn pick(eps: &[Arc<UdpEndpoint>], addr: SocketAddr) -> Result<&UdpEndpoint, TransportError> {
    let mut family = eps.iter().filter(|e| e.local.is_ipv6() == addr.is_ipv6());
    let scoped = family.clone().find(|e| {
        let ip = e.local.ip();
        ip.is_unspecified() || ip.is_loopback() == addr.ip().is_loopback()
    });
    scoped
        .or_else(|| family.next())
        .map(|e| e.as_ref())
        .ok_or(TransportError::NoListener {
            kind: TransportKind::Udp,
            ipv6: addr.is_ipv6(),
        })
}

pub(crate) fn try_send(
    shared: &Shared,
    eps: &[Arc<UdpEndpoint>],
    addr: SocketAddr,
    data: &[u8],
) -> Result<bool, TransportError> {
    let ep = pick(eps, addr)?;
    // A direct non-blocking sendto: tokio's `try_send_to` reports WouldBlock until the
    // reactor has seen the socket writable once, which would defeat the fast path.
    match SockRef::from(&ep.socket).send_to(data, &SockAddr::from(addr)) {
        Ok(_) => {
            inc(&shared.counters.udp_datagrams_out);
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => {
            inc(&shared.counters.udp_send_errors);
            Err(e.into())
        }
    }
}

pub(crate) async fn send(
    shared: &Shared,
    eps: &[Arc<UdpEndpoint>],
    addr: SocketAddr,
    data: &[u8],
) -> Result<(), TransportError> {
    if try_send(shared, eps, addr, data)? {
        return Ok(());
    }
    let ep = pick(eps, addr)?;
    match ep.socket.send_to(data, addr).await {
        Ok(_) => {
            inc(&shared.counters.udp_datagrams_out);
            Ok(())
        }
        Err(e) => {
            inc(&shared.counters.udp_send_errors);
            Err(e.into())
        }
    }
}
