//! Receiving the datagrams queued on a relay socket in one syscall, and
//! knowing from that same call that the queue is now empty.
//!
//! tokio's reactor is edge-triggered: a socket stays "readable" until a read
//! returns `EAGAIN`, so a plain `recv_from` loop costs one extra, empty
//! `recvfrom` per wake-up — a third of the relay's syscalls at 50 packets/s.
//! `recvmmsg(2)` asked for [`BATCH`] datagrams that returns fewer has drained
//! the queue; we then clear tokio's readiness ourselves (returning
//! `WouldBlock` from [`MediaSock::try_read`], which clears only the readiness
//! it observed, so a packet that arrives meanwhile still wakes the task).
//! A datagram arriving after the drain raises a new edge, so nothing is lost.
//!
//! `recvmmsg` comes from nix (already in the tree through webrtc-util), whose
//! safe wrapper keeps the crate free of `unsafe`. One [`Batch`] of buffers
//! per media thread (see `runtime`), not per call.

use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

use crate::media::ports::MediaSock;
use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};

/// Datagrams read per syscall at most (a 20 ms stream has one or two queued).
pub const BATCH: usize = 8;
/// Bytes kept of each datagram (RTP over UDP stays under the path MTU).
pub const MTU: usize = 2048;

/// Buffers for one `recvmmsg`.
pub struct Batch {
    hdrs: MultiHeaders<SockaddrStorage>,
    bufs: Box<[[u8; MTU]; BATCH]>,
    /// Length and source of each datagram of the last read.
    got: [(usize, Option<SocketAddr>); BATCH],
}

thread_local! {
    static BATCH_BUF: RefCell<Batch> = RefCell::new(Batch::new());
}

/// Runs `f` with this thread's batch buffers. Not re-entrant: `f` must not
/// call `with` again (the media task reads, then handles, in turn).
pub fn with<R>(f: impl FnOnce(&mut Batch) -> R) -> R {
    BATCH_BUF.with_borrow_mut(f)
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

impl Batch {
    pub fn new() -> Batch {
        Batch {
            hdrs: MultiHeaders::preallocate(BATCH, None),
            bufs: Box::new([[0u8; MTU]; BATCH]),
            got: [(0, None); BATCH],
        }
    }

    /// Reads what `sock` has queued, if tokio saw it readable. `Ok(0)`:
    /// nothing (readiness is then cleared; poll again to be woken). After
    /// `Ok(n)`, `n < BATCH` means the queue is empty and readiness cleared;
    /// `n == BATCH` leaves it set, so the next poll reads on.
    pub fn try_recv(&mut self, sock: &MediaSock) -> io::Result<usize> {
        let fd = sock.as_raw_fd();
        let mut n = 0;
        let r = sock.try_read(|_| {
            n = recv_into(fd, &mut self.hdrs, &mut self.bufs, &mut self.got)?;
            if n < BATCH {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(())
            }
        });
        match r {
            Ok(()) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(n),
            Err(e) => Err(e),
        }
    }

    /// Datagram `i` of the last read: its bytes (mutable, for in-place
    /// rewrites) and its source.
    pub fn packet(&mut self, i: usize) -> Option<(&mut [u8], SocketAddr)> {
        let (len, src) = *self.got.get(i)?;
        let buf = self.bufs.get_mut(i)?;
        Some((buf.get_mut(..len)?, src?))
    }
}

fn recv_into(
    fd: RawFd,
    hdrs: &mut MultiHeaders<SockaddrStorage>,
    bufs: &mut [[u8; MTU]; BATCH],
    got: &mut [(usize, Option<SocketAddr>); BATCH],
) -> io::Result<usize> {
    let iovs = bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
    let res = recvmmsg(fd, hdrs, iovs.iter(), MsgFlags::MSG_DONTWAIT, None)?;
    let mut n = 0;
    for (slot, m) in got.iter_mut().zip(res) {
        *slot = (m.bytes.min(MTU), m.address.and_then(std_addr));
        n += 1;
    }
    Ok(n)
}

fn std_addr(a: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound() -> MediaSock {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        MediaSock::register(s).unwrap()
    }

    #[tokio::test]
    async fn a_burst_is_read_in_one_call_and_an_empty_queue_reads_nothing() {
        let sock = bound();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = sock.local_addr().unwrap();
        for i in 0..3u8 {
            peer.send_to(&[i; 10], to).unwrap();
        }
        sock.readable().await.unwrap();
        let mut b = Batch::new();
        assert_eq!(b.try_recv(&sock).unwrap(), 3);
        for i in 0..3u8 {
            let (pkt, src) = b.packet(usize::from(i)).unwrap();
            assert_eq!((&*pkt, src), (&[i; 10][..], peer.local_addr().unwrap()));
        }
        // Readiness was cleared without an EAGAIN read: nothing more to read.
        assert_eq!(b.try_recv(&sock).unwrap(), 0);
        // A later datagram wakes the socket again.
        peer.send_to(b"again", to).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(2), sock.readable())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.try_recv(&sock).unwrap(), 1);
        assert_eq!(b.packet(0).unwrap().0, b"again");
    }

    #[tokio::test]
    async fn more_than_a_batch_leaves_the_socket_readable() {
        let sock = bound();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = sock.local_addr().unwrap();
        for _ in 0..BATCH + 2 {
            peer.send_to(b"x", to).unwrap();
        }
        sock.readable().await.unwrap();
        let mut b = Batch::new();
        assert_eq!(b.try_recv(&sock).unwrap(), BATCH);
        assert_eq!(b.try_recv(&sock).unwrap(), 2);
    }
}
