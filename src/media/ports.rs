//! The relay's UDP port range: one owner hands out RTP/RTCP port pairs
//! (even RTP port, RTCP on the next odd one, RFC 3550 §11) and takes them back
//! when a call's relay ends.
//!
//! Binding a pair costs ~10 syscalls (socket, buffer sizes, non-blocking,
//! bind, twice), so the pool keeps pairs bound:
//! - a call's pair comes back *still bound* and goes to the back of the
//!   line of idle bound pairs, which is served before pairs holding no
//!   sockets once its head has rested a second ([`QUARANTINE`]: late packets
//!   of an ended call rarely reach the next call on the same ports; whatever
//!   did arrive is drained when the pair is handed out). So while the calls'
//!   pairs fit under the descriptor cap below, set-up and tear-down bind and
//!   close nothing, even when the range is larger than the cap;
//! - a refill thread keeps a small `ready` queue of pairs it bound ahead of
//!   demand from the unbound ones ([`PortPool::start_prebind`]), so a call
//!   set-up normally binds nothing: it pops a pair, drains it and hands it
//!   to its media task. A rested idle pair goes ahead of the `ready` queue,
//!   so while the calls' pairs fit under the cap the queue stays full and
//!   the refill thread is not woken at all;
//! - each media thread has a pool of its own over its share of the range
//!   ([`PortRange`]): a pair its calls give back stays registered with that
//!   thread's reactor ([`Socks::Registered`]), so from a pair's second call
//!   on, set-up and tear-down cost no `epoll_ctl`, and draining it costs no
//!   syscall unless the reactor saw something arrive.
//!
//! Bound pairs hold file descriptors, so their number follows
//! `RLIMIT_NOFILE`: the pool's sockets, live and idle together, take at most
//! what the config's SIP/TCP and HTTP connection caps and a reserve for
//! listeners and the store leave (never less than half the limit; a pair is
//! two), which keeps the whole default range bound under the unit's
//! `LimitNOFILE=65536`; under a lower limit a pair coming back while that
//! many are bound is closed, and at that many a set-up binds no pair anew:
//! it reuses an idle bound pair before it has rested, or is refused
//! ([`PortError::Exhausted`], 503), so idle pairs give way to live calls and
//! the reserve stays free for SIP, HTTP and the store (the ready queue is
//! 1/256th, 8..=256 pairs). Ports another process (or another gateway on the host) holds are
//! skipped by the refill thread, not by the call set-up. The pool's mutex is taken at set-up and tear-down only, never per
//! packet.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

mod bind;
mod range;
mod sock;
mod socks;
use bind::{bind_pair, out_of_descriptors};
pub use range::PortRange;
pub use sock::MediaSock;
pub use socks::Socks;

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

/// A pair's sockets while the pool holds them.
struct Bound {
    ip: IpAddr,
    socks: Socks,
}

/// One pair of the range (by RTP port), bound or not.
struct Slot {
    port: u16,
    bound: Option<Bound>,
}

/// The free pairs, each part in FIFO order: `idle`, pairs given back still
/// bound, with when they came back (handed out first once rested); `ready`,
/// pairs the refill thread bound on the pre-bind address; `cold`, pairs
/// holding no sockets (bound by the refill thread or at set-up).
#[derive(Default)]
struct Line {
    ready: VecDeque<Slot>,
    idle: VecDeque<(Instant, Slot)>,
    cold: VecDeque<Slot>,
    /// Free pairs holding sockets (in `ready` or `idle`; `cold` holds none).
    bound: usize,
}

impl Line {
    /// The oldest idle bound pair, if it has rested [`QUARANTINE`].
    fn rested(&mut self, now: Instant) -> Option<Slot> {
        let (at, _) = self.idle.front()?;
        if now.saturating_duration_since(*at) < QUARANTINE {
            return None;
        }
        self.idle.pop_front().map(|(_, slot)| slot)
    }

    /// The next pair to hand out after `ready`: an idle bound pair once it
    /// has rested [`QUARANTINE`] (no syscall to reuse it), else a cold one,
    /// else an idle one that has not rested yet.
    fn next(&mut self, now: Instant) -> Option<Slot> {
        if let Some(slot) = self.rested(now) {
            return Some(slot);
        }
        match self.cold.pop_front() {
            Some(slot) => Some(slot),
            None => self.idle.pop_front().map(|(_, slot)| slot),
        }
    }

    fn free(&self) -> usize {
        self.ready.len() + self.idle.len() + self.cold.len()
    }
}

/// How long a pair given back bound rests before a new call reuses it
/// while unbound pairs are free: late packets of its ended call (the far
/// end stops sending only once it has our BYE) go nowhere rather than to
/// the next call on the same ports.
const QUARANTINE: Duration = Duration::from_secs(1);

/// The free pairs in `[min, max]`.
pub struct PortPool {
    line: Mutex<Line>,
    /// Wakes the refill thread when `ready` runs low.
    low: Condvar,
    total: usize,
    /// Pairs holding sockets at most, live and idle together: a pair that
    /// comes back while this many are bound is closed.
    bound_max: usize,
    /// What the refill thread keeps in `ready`.
    ready_target: usize,
    /// The media thread whose calls take this pool's pairs: sockets they
    /// give back stay registered with its reactor ([`Socks::Registered`]).
    thread: usize,
}

/// A bound RTP/RTCP socket pair. Its [`PortLease`] gives the ports back
/// when dropped (keep it next to the sockets for as long as they live), or
/// the sockets with them through [`PortLease::recycle`].
pub struct PortPair {
    pub socks: Socks,
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
    ip: IpAddr,
    /// The media thread whose reactor the pool's registered sockets are in.
    thread: usize,
    /// `None` once recycled.
    pool: Option<Arc<PortPool>>,
}

impl PortLease {
    /// The media thread this pair's pool belongs to.
    pub fn thread(&self) -> usize {
        self.thread
    }

    /// Gives the pair back with its sockets still bound, for the next call
    /// to reuse (closed instead when the pool keeps enough bound pairs).
    pub fn recycle(mut self, socks: Socks) {
        if let Some(pool) = self.pool.take() {
            let bound = Bound { ip: self.ip, socks };
            pool.release(Slot {
                port: self.port,
                bound: Some(bound),
            });
        }
    }

    /// [`Self::recycle`] from the media task on thread `here`: sockets in
    /// the pool's own thread's reactor go back registered, others leave
    /// their reactor first (a pool's registered sockets are all its thread's).
    pub fn recycle_tokio(self, here: Option<usize>, rtp: MediaSock, rtcp: MediaSock) {
        if here == Some(self.thread) {
            socks::release_waker(&rtp);
            socks::release_waker(&rtcp);
            return self.recycle(Socks::Registered { rtp, rtcp });
        }
        self.recycle(Socks::Plain {
            rtp: rtp.into_std(),
            rtcp: rtcp.into_std(),
        });
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.release(Slot {
                port: self.port,
                bound: None,
            });
        }
    }
}

impl PortPool {
    /// Pairs start at the first even port >= `min`; the last pair's RTCP port is <= `max`.
    pub fn new(min: u16, max: u16) -> Arc<PortPool> {
        let nofile = nofile();
        PortPool::budgeted(min, max, nofile, nofile / 2, 0)
    }

    /// [`PortPool::new`] for a process allowed `nofile` descriptors, serving
    /// media thread `thread`: the pool's sockets take half of them at most.
    #[cfg(test)]
    pub(super) fn sized(min: u16, max: u16, nofile: usize, thread: usize) -> Arc<PortPool> {
        PortPool::budgeted(min, max, nofile, nofile / 2, thread)
    }

    /// [`PortPool::new`] for a process allowed `nofile` descriptors, of
    /// which the pool's sockets, live and idle together, may hold `budget`
    /// (see [`PortRange::new`]), serving media thread `thread`.
    pub(super) fn budgeted(
        min: u16,
        max: u16,
        nofile: usize,
        budget: usize,
        thread: usize,
    ) -> Arc<PortPool> {
        let start = min + (min % 2);
        let mut cold = VecDeque::new();
        let mut p = u32::from(start);
        while p < u32::from(max) {
            cold.push_back(Slot {
                port: p as u16,
                bound: None,
            });
            p += 2;
        }
        let total = cold.len();
        let ready_target = (nofile / 256).clamp(8, 256).min(total);
        Arc::new(PortPool {
            line: Mutex::new(Line {
                cold,
                ..Line::default()
            }),
            low: Condvar::new(),
            total,
            // Sockets of the pool (two per pair, live and idle) kept to the
            // budget: the whole default range stays bound under the unit's
            // LimitNOFILE=65536 (what `process_metrics::descriptors_needed`
            // counts on), and under a lower limit idle pairs give way to
            // live calls, while the rest stays free for SIP/TCP, HTTP and
            // the store. A pair closed here is bound again later (five
            // syscalls per socket), so the cap is kept as high as that
            // allows. Set-ups still short of descriptors take them back
            // from idle pairs first (`close_idle`).
            bound_max: (budget / 2).max(ready_target).min(total),
            ready_target,
            thread,
        })
    }

    /// Pairs in the range.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Pairs free now.
    pub fn available(&self) -> usize {
        self.lock().map(|l| l.free()).unwrap_or(0)
    }

    /// Free pairs holding bound sockets now.
    pub fn bound_idle(&self) -> usize {
        self.lock().map(|l| l.bound).unwrap_or(0)
    }

    fn lock(&self) -> Option<MutexGuard<'_, Line>> {
        self.line.lock().ok()
    }

    fn take(&self) -> Option<Slot> {
        let mut l = self.lock()?;
        let now = Instant::now();
        // A rested idle pair needs no syscall and no refill thread: taken
        // first, so in the steady state (calls' pairs fitting under the cap)
        // `ready` stays full and the refill thread sleeps.
        let slot = match l.rested(now) {
            Some(s) => s,
            None => match l.ready.pop_front() {
                Some(s) => {
                    if l.ready.len() < self.ready_target / 2 {
                        self.low.notify_one();
                    }
                    s
                }
                // At the descriptor budget no pair is bound anew: an idle
                // bound one is reused before it has rested, else the call
                // is refused (`Exhausted`: 503) and the descriptors left
                // stay with SIP/TCP, TLS, HTTP and the store.
                None if self.at_budget(&l) => l.idle.pop_front().map(|(_, s)| s)?,
                None => l.next(now)?,
            },
        };
        if slot.bound.is_some() {
            l.bound -= 1;
        }
        Some(slot)
    }

    /// Pairs holding sockets: the live ones (all bound) and the free bound ones.
    fn holding(&self, l: &Line) -> usize {
        self.total - l.free() + l.bound
    }

    /// Whether [`Self::holding`] has reached `bound_max`: no pair may be
    /// bound anew.
    fn at_budget(&self, l: &Line) -> bool {
        self.holding(l) >= self.bound_max
    }

    fn release(&self, mut slot: Slot) {
        if let Some(mut l) = self.lock() {
            if slot.bound.is_some() {
                // This one still counts among the live pairs.
                if self.holding(&l) <= self.bound_max {
                    l.bound += 1;
                    l.idle.push_back((Instant::now(), slot));
                    return;
                }
                slot.bound = None;
            }
            l.cold.push_back(slot);
        }
    }

    /// Hands out the next free pair on `ip`: a bound one is drained and
    /// reused, an unbound one is bound now. Ports some other process holds
    /// are skipped (and returned to the back of the line); at most a bounded
    /// number of tries, then [`PortError::Exhausted`].
    pub fn allocate(self: &Arc<Self>, ip: IpAddr) -> Result<PortPair, PortError> {
        let tries = self.total.min(64);
        let mut last_err = None;
        for _ in 0..tries.max(1) {
            let Some(slot) = self.take() else {
                return Err(PortError::Exhausted);
            };
            let port = slot.port;
            let pair = match slot.bound {
                Some(b) if b.ip == ip => {
                    b.socks.drain();
                    Ok(b.socks)
                }
                // Bound on the other family (or closed below): bind afresh.
                _ => match bind_pair(ip, port) {
                    // Out of descriptors: idle bound pairs give theirs back
                    // first, a live call's set-up never loses to them.
                    Err(e) if out_of_descriptors(&e) && self.close_idle(IDLE_YIELD) > 0 => {
                        bind_pair(ip, port)
                    }
                    r => r,
                },
            };
            match pair {
                Ok(socks) => {
                    return Ok(PortPair {
                        socks,
                        lease: PortLease {
                            port,
                            ip,
                            thread: self.thread,
                            pool: Some(Arc::clone(self)),
                        },
                    })
                }
                Err(e) => {
                    self.release(Slot { port, bound: None });
                    last_err = Some(e);
                }
            }
        }
        match last_err {
            Some(e) if e.kind() != std::io::ErrorKind::AddrInUse => Err(PortError::Bind(e)),
            _ => Err(PortError::Exhausted),
        }
    }

    /// Starts the refill thread: it keeps the front of the line bound on
    /// `ip` (the IPv4 relay address; IPv6 legs bind at set-up), binding one
    /// pair per lock so set-ups never wait long. It ends when the pool is
    /// dropped.
    pub fn start_prebind(self: &Arc<Self>, ip: IpAddr) {
        if self.ready_target == 0 {
            return;
        }
        // Start the line at a random pair: gateways sharing a host's range
        // (a cluster on one machine, tests) then pre-bind different windows.
        if let Some(mut l) = self.lock() {
            let n = l.cold.len();
            if n > 1 {
                l.cold.rotate_left(rand::random_range(0..n));
            }
        }
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("trunkgate-ports".into())
            .spawn(move || refill(weak, ip));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "media port pre-bind thread could not start; pairs are bound at call set-up");
        }
    }

    /// Closes the sockets of up to `n` idle bound pairs (the pairs stay in
    /// the line, unbound); returns how many were closed.
    fn close_idle(&self, n: usize) -> usize {
        let Some(mut l) = self.lock() else { return 0 };
        let mut closed = 0;
        // The most recently given back first: they would be reused last.
        while closed < n {
            let Some((_, mut slot)) = l.idle.pop_back() else {
                break;
            };
            if slot.bound.take().is_some() {
                closed += 1;
            }
            l.cold.push_back(slot);
        }
        let Line { ready, bound, .. } = &mut *l;
        for slot in ready.iter_mut().rev() {
            if closed == n {
                break;
            }
            if slot.bound.take().is_some() {
                closed += 1;
            }
        }
        *bound -= closed;
        closed
    }

    /// Moves one pair from `cold` to `ready`, bound on `ip`. `false`: ready
    /// is full, or nothing could be bound; `true`: go on (a pair was moved,
    /// or one held elsewhere was skipped).
    fn refill_one(&self, ip: IpAddr) -> bool {
        let Some(mut l) = self.lock() else {
            return false;
        };
        if l.ready.len() >= self.ready_target || self.at_budget(&l) {
            return false;
        }
        // Only pairs that need binding: rested idle ones are taken straight
        // from `idle` at set-up, unrested ones must rest.
        let Some(mut slot) = l.cold.pop_front() else {
            return false;
        };
        match bind_pair(ip, slot.port) {
            Ok(socks) => {
                l.bound += 1;
                slot.bound = Some(Bound { ip, socks });
            }
            Err(e) => {
                // Held by another process (or out of descriptors): leave it
                // to set-up time, which skips it the same way.
                l.cold.push_back(slot);
                return e.kind() == std::io::ErrorKind::AddrInUse;
            }
        }
        l.ready.push_back(slot);
        true
    }
}

fn refill(pool: Weak<PortPool>, ip: IpAddr) {
    loop {
        let Some(p) = pool.upgrade() else { return };
        // At most one walk of the line per round, so a range full of ports
        // held elsewhere cannot spin.
        let mut n = 0;
        while n < p.total && p.refill_one(ip) {
            n += 1;
        }
        let Some(l) = p.lock() else { return };
        // A timeout, so the thread notices the pool is gone.
        let _ = p.low.wait_timeout(l, Duration::from_millis(500));
    }
}

/// Idle bound pairs closed at once when a set-up runs out of descriptors.
const IDLE_YIELD: usize = 64;

/// The process's descriptor limit (soft `RLIMIT_NOFILE`).
pub fn nofile() -> usize {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map(|(soft, _)| usize::try_from(soft).unwrap_or(usize::MAX))
        .unwrap_or(1024)
}

#[cfg(test)]
mod tests;
