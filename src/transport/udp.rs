//! UDP transport (RFC 3261 §18.1.1, §18.2.1): one socket per listen address, several
//! receive tasks per socket, and sends from the listening socket so that the source
//! port of requests and responses is the SIP port.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};
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
    socket.bind(&SockAddr::from(addr)).map_err(bind_err)?;
    let socket = UdpSocket::from_std(socket.into()).map_err(bind_err)?;
    let local = socket.local_addr().map_err(bind_err)?;
    Ok(UdpEndpoint { socket, local })
}

/// One receive task. The buffer holds `max_message_size + 1` bytes so that a datagram
/// filling it is known to be too large (the kernel truncates silently).
pub(crate) async fn recv_loop(shared: Arc<Shared>, ep: Arc<UdpEndpoint>) {
    let max = shared.cfg.max_message_size;
    let mut buf = vec![0u8; max.saturating_add(1)];
    let c = &shared.counters;
    loop {
        match ep.socket.recv_from(&mut buf).await {
            Ok((n, source)) => {
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
                    });
                }
            }
            Err(e) => {
                // Linux reports ICMP errors on unconnected sockets only with IP_RECVERR;
                // anything here is transient or fatal, so back off instead of spinning.
                inc(&c.udp_recv_errors);
                debug!(local = %ep.local, error = %e, "UDP receive error");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
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
