//! A relay socket in a media thread's reactor, registered for reading only.
//!
//! tokio's `UdpSocket` registers a socket for read and write readiness
//! both. A relay socket sends one datagram per relayed packet, and the
//! kernel raises a write edge each time such a datagram is freed
//! (`sock_wfree` -> `sock_def_write_space`): one more ready event per packet
//! for `epoll_wait` to collect and poll (`ep_send_events`, `sock_poll`) and
//! for tokio to dispatch to nobody — ~9 % of the relay's CPU in a `perf`
//! profile at 100,000 packets/s. A relay never waits to send (a full send
//! buffer drops the packet, as it must for RTP), so its sockets are
//! registered for `EPOLLIN` only, through [`AsyncFd`], and sends go straight
//! to the non-blocking socket.

use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A non-blocking UDP socket registered for read readiness with the
/// current runtime's reactor.
pub struct MediaSock(AsyncFd<StdUdpSocket>);

impl MediaSock {
    /// Registers `sock` (non-blocking, as the pool binds it) with the
    /// reactor of the runtime this runs in.
    pub fn register(sock: StdUdpSocket) -> io::Result<MediaSock> {
        // `with_interest` is deprecated because an `AsRawFd` type may close
        // or replace its descriptor while registered; `AsyncFd` owns this
        // `std` socket, whose descriptor lives exactly as long as it does,
        // so the safe constructor's soundness condition holds.
        #[allow(deprecated)]
        AsyncFd::with_interest(sock, Interest::READABLE).map(MediaSock)
    }

    /// Leaves the reactor (one `epoll_ctl`), keeping the socket bound.
    pub fn into_std(self) -> StdUdpSocket {
        self.0.into_inner()
    }

    /// `Ready` when the reactor has seen a datagram (or an error) since
    /// the last read that drained the queue; registers the waker otherwise.
    pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_read_ready(cx).map_ok(|_| ())
    }

    /// Waits for [`Self::poll_recv_ready`].
    pub async fn readable(&self) -> io::Result<()> {
        self.0.readable().await.map(|_| ())
    }

    /// Runs the read `f` if the socket is readable; a `WouldBlock` from
    /// `f` clears the readiness it observed (so a datagram that arrived
    /// meanwhile still wakes the task).
    pub fn try_read<R>(&self, f: impl FnOnce(&StdUdpSocket) -> io::Result<R>) -> io::Result<R> {
        self.0.try_io(Interest::READABLE, f)
    }

    /// One datagram, if the socket is readable.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.try_read(|s| s.recv(buf))
    }

    /// Sends without waiting: `WouldBlock` when the send buffer is full.
    pub fn try_send_to(&self, pkt: &[u8], dst: SocketAddr) -> io::Result<usize> {
        self.0.get_ref().send_to(pkt, dst)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }
}

impl AsRawFd for MediaSock {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Registered for reading only, a socket still sends at once (no
    /// write readiness to wait for) and is woken by what arrives.
    #[tokio::test]
    async fn sends_without_write_readiness_and_wakes_on_a_datagram() {
        let s = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        let sock = MediaSock::register(s).unwrap();
        let peer = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        for i in 0..100u8 {
            assert_eq!(
                sock.try_send_to(&[i; 20], peer.local_addr().unwrap())
                    .unwrap(),
                20
            );
        }
        let mut buf = [0u8; 64];
        for i in 0..100u8 {
            assert_eq!(peer.recv(&mut buf).unwrap(), 20);
            assert_eq!(buf[0], i);
        }
        let mut buf = [0u8; 64];
        assert_eq!(
            sock.try_recv(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        peer.send_to(b"back", sock.local_addr().unwrap()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(2), sock.readable())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sock.try_recv(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"back");
    }
}
