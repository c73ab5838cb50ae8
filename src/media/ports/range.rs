//! The whole relay port range as one [`PortPool`] per media thread: the
//! range is cut into as many contiguous shares as there are media threads,
//! and a call takes its pairs from the share of the thread its media task
//! runs on. A pair that comes back keeps its sockets registered with that
//! thread's reactor, so from the second call on a pair costs no `epoll_ctl`
//! at set-up or tear-down (with one pool for all threads, half the pairs
//! would come back registered with the wrong reactor). A share that runs
//! out lends from the others, so the range is exhausted only when all are.

use std::net::IpAddr;
use std::sync::Arc;

use super::{PortError, PortPair, PortPool};

pub struct PortRange {
    shares: Vec<Arc<PortPool>>,
}

impl PortRange {
    /// The pairs of `[min, max]` cut into `threads` shares (at least one
    /// pair each while the range has enough), for a process allowed
    /// `nofile` descriptors of which the pool's sockets, live and idle
    /// together, may hold `budget`: each share is held to its part of it.
    pub fn new(min: u16, max: u16, threads: usize, nofile: usize, budget: usize) -> PortRange {
        let start = u32::from(min) + u32::from(min % 2);
        // Pairs p with p's RTCP port (start + 2p + 1) <= max.
        let pairs = (u32::from(max) + 1).saturating_sub(start) / 2;
        let n = u32::try_from(threads.max(1)).unwrap_or(1).min(pairs.max(1));
        let shares = (0..n)
            .map(|i| {
                let (lo, hi) = (pairs * i / n, pairs * (i + 1) / n);
                let (from, to) = (start + 2 * lo, start + 2 * hi);
                // `to - 1` is the share's last RTCP port; an empty range
                // (min > max) gives one empty share.
                let clamp = |p: u32| u16::try_from(p).unwrap_or(u16::MAX);
                PortPool::budgeted(
                    clamp(from),
                    clamp(to.saturating_sub(1).max(from)),
                    nofile / n as usize,
                    budget / n as usize,
                    i as usize,
                )
            })
            .collect();
        PortRange { shares }
    }

    /// Pairs in the range.
    pub fn total(&self) -> usize {
        self.shares.iter().map(|s| s.total()).sum()
    }

    /// Pairs free now.
    pub fn available(&self) -> usize {
        self.shares.iter().map(|s| s.available()).sum()
    }

    /// Starts each share's refill thread (see [`PortPool::start_prebind`]).
    pub fn start_prebind(&self, ip: IpAddr) {
        for s in &self.shares {
            s.start_prebind(ip);
        }
    }

    /// A pair on `ip` for a call whose media runs on media thread `thread`:
    /// from that thread's share, or the next share that has one.
    pub fn allocate(&self, ip: IpAddr, thread: usize) -> Result<PortPair, PortError> {
        let n = self.shares.len();
        let mut last = PortError::Exhausted;
        for k in 0..n {
            let Some(share) = self.shares.get((thread + k) % n) else {
                break;
            };
            match share.allocate(ip) {
                Ok(p) => return Ok(p),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn shares_split_the_range_and_lend_to_each_other() {
        // 15700..=15711: six pairs, three per share.
        let r = PortRange::new(15700, 15711, 2, 1024, 512);
        assert_eq!((r.total(), r.available()), (6, 6));
        let mut held: Vec<PortPair> = (0..3).map(|_| r.allocate(LO, 1).unwrap()).collect();
        let mut ports: Vec<u16> = held.iter().map(|p| p.port()).collect();
        ports.sort_unstable();
        assert_eq!(ports, [15706, 15708, 15710]);
        assert!(held.iter().all(|p| p.lease.thread() == 1));
        // Thread 1's share is out: thread 0's lends.
        let lent = r.allocate(LO, 1).unwrap();
        assert!(lent.port() < 15706 && lent.lease.thread() == 0);
        held.push(lent);
        held.extend((0..2).map(|_| r.allocate(LO, 0).unwrap()));
        assert_eq!(r.available(), 0);
        let err = r.allocate(LO, 0).err().unwrap();
        assert_eq!(err.name(), "media_ports_exhausted");
        drop(held);
        assert_eq!(r.available(), 6);
    }

    #[test]
    fn a_range_smaller_than_the_threads_has_fewer_shares() {
        let r = PortRange::new(15720, 15723, 4, 1024, 512);
        assert_eq!(r.total(), 2);
        let a = r.allocate(LO, 3).unwrap();
        let b = r.allocate(LO, 3).unwrap();
        assert_ne!(a.port(), b.port());
        assert!(r.allocate(LO, 0).is_err());
        let empty = PortRange::new(15730, 15730, 2, 1024, 512);
        assert_eq!(empty.total(), 0);
        assert!(empty.allocate(LO, 0).is_err());
    }
}
