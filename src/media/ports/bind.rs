//! Binding a pair's two UDP sockets: non-blocking from the start, with
//! media-sized buffers, IPv6 sockets v6-only (so a pair on each family can
//! share a port number).

use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

use super::Socks;

/// Socket receive/send buffers for media: a few hundred packets of slack.
const SOCKET_BUFFER: usize = 256 * 1024;

/// EMFILE / ENFILE: the process or the system is out of file descriptors.
pub(super) fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// The RTP socket on `port`, RTCP on the next one (RFC 3550 §11).
pub(super) fn bind_pair(ip: IpAddr, port: u16) -> std::io::Result<Socks> {
    let rtp = bind_one(SocketAddr::new(ip, port))?;
    let rtcp = bind_one(SocketAddr::new(ip, port + 1))?;
    Ok(Socks::Plain { rtp, rtcp })
}

fn bind_one(addr: SocketAddr) -> std::io::Result<StdUdpSocket> {
    // Non-blocking from the start (SOCK_NONBLOCK): two fcntl calls fewer per socket.
    let s = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM.nonblocking(),
        Some(Protocol::UDP),
    )?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.bind(&addr.into())?;
    Ok(s.into())
}
