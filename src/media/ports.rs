//! The relay's UDP port range: one owner hands out RTP/RTCP port pairs
//! (even RTP port, RTCP on the next odd one, RFC 3550 §11) and takes them back
//! when a call's sockets are dropped.
//!
//! The pool is a FIFO free list behind a mutex, touched only at stream set-up
//! and tear-down (never per packet). FIFO reuse means a freed pair goes to
//! the back of the line, so late packets of an ended call rarely reach the
//! next call on the same ports.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::{Arc, Mutex};

use socket2::{Domain, Protocol, Socket, Type};

/// Why no port pair could be had.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("the media port range is exhausted")]
    Exhausted,
    #[error("binding media sockets failed: {0}")]
    Bind(#[from] std::io::Error),
}

impl PortError {
    pub fn name(&self) -> &'static str {
        match self {
            PortError::Exhausted => "media_ports_exhausted",
            PortError::Bind(_) => "media_bind_failed",
        }
    }
}

/// The free list of pairs (by RTP port) in `[min, max]`.
pub struct PortPool {
    free: Mutex<VecDeque<u16>>,
    total: usize,
}

/// A bound RTP/RTCP socket pair. Its [`PortLease`] gives the ports back
/// when dropped (keep it next to the sockets for as long as they live).
pub struct PortPair {
    pub rtp: StdUdpSocket,
    pub rtcp: StdUdpSocket,
    pub lease: PortLease,
}

impl PortPair {
    /// The RTP port (RTCP is the next one).
    pub fn port(&self) -> u16 {
        self.lease.port
    }
}

/// Ownership of one pair of ports in the range; returned to the pool on drop.
pub struct PortLease {
    port: u16,
    pool: Arc<PortPool>,
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.pool.release(self.port);
    }
}

/// Socket receive/send buffers for media: a few hundred packets of slack.
const SOCKET_BUFFER: usize = 256 * 1024;

impl PortPool {
    /// Pairs start at the first even port >= `min`; the last pair's RTCP port is <= `max`.
    pub fn new(min: u16, max: u16) -> Arc<PortPool> {
        let start = min + (min % 2);
        let mut free = VecDeque::new();
        let mut p = u32::from(start);
        while p < u32::from(max) {
            free.push_back(p as u16);
            p += 2;
        }
        let total = free.len();
        Arc::new(PortPool {
            free: Mutex::new(free),
            total,
        })
    }

    /// Pairs in the range.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Pairs free now.
    pub fn available(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }

    fn take(&self) -> Option<u16> {
        self.free.lock().ok()?.pop_front()
    }

    fn release(&self, port: u16) {
        if let Ok(mut f) = self.free.lock() {
            f.push_back(port);
        }
    }

    /// Binds the next free pair on `ip`. Ports some other process holds are
    /// skipped (and returned to the back of the list); at most a bounded
    /// number of tries, then [`PortError::Exhausted`].
    pub fn allocate(self: &Arc<Self>, ip: IpAddr) -> Result<PortPair, PortError> {
        let tries = self.total.min(64);
        let mut last_err = None;
        for _ in 0..tries.max(1) {
            let Some(port) = self.take() else {
                return Err(PortError::Exhausted);
            };
            match bind_pair(ip, port) {
                Ok((rtp, rtcp)) => {
                    return Ok(PortPair {
                        rtp,
                        rtcp,
                        lease: PortLease {
                            port,
                            pool: Arc::clone(self),
                        },
                    })
                }
                Err(e) => {
                    self.release(port);
                    last_err = Some(e);
                }
            }
        }
        match last_err {
            Some(e) if e.kind() != std::io::ErrorKind::AddrInUse => Err(PortError::Bind(e)),
            _ => Err(PortError::Exhausted),
        }
    }
}

fn bind_pair(ip: IpAddr, port: u16) -> std::io::Result<(StdUdpSocket, StdUdpSocket)> {
    let rtp = bind_one(SocketAddr::new(ip, port))?;
    let rtcp = bind_one(SocketAddr::new(ip, port + 1))?;
    Ok((rtp, rtcp))
}

fn bind_one(addr: SocketAddr) -> std::io::Result<StdUdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn pairs_are_even_and_adjacent_and_come_back() {
        let pool = PortPool::new(41001, 41010);
        assert_eq!(pool.total(), 4); // 41002, 41004, 41006, 41008 (41010's RTCP would be 41011)
        let a = pool.allocate(LO).unwrap();
        assert_eq!(a.port() % 2, 0);
        assert_eq!(a.rtp.local_addr().unwrap().port(), a.port());
        assert_eq!(a.rtcp.local_addr().unwrap().port(), a.port() + 1);
        assert_eq!(pool.available(), 3);
        drop(a);
        assert_eq!(pool.available(), 4);
    }

    #[test]
    fn exhausted_range_is_an_error_not_a_panic() {
        let pool = PortPool::new(41100, 41104);
        let held: Vec<_> = (0..2).map(|_| pool.allocate(LO).unwrap()).collect();
        let err = pool.allocate(LO).err().unwrap();
        assert_eq!(err.name(), "media_ports_exhausted");
        drop(held);
        assert!(pool.allocate(LO).is_ok());
    }

    #[test]
    fn ports_held_by_someone_else_are_skipped() {
        let squatter = StdUdpSocket::bind("127.0.0.1:41200").unwrap();
        let pool = PortPool::new(41200, 41204);
        let a = pool.allocate(LO).unwrap();
        assert_eq!(a.port(), 41202);
        drop(squatter);
    }
}
