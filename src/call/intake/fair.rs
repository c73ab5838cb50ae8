//! Per-source fairness for overload shedding: who is sending the new INVITEs.
//!
//! Overload control sheds new INVITEs when the gateway falls behind. Shedding
//! at random takes the same share from every source, so a PBX that floods the
//! gateway with retries would cost a carrier sending a few calls a second the
//! same share of its calls. Instead, a source sending clearly less than its
//! fair share (under half the mean of the active sources over the last one to
//! two seconds) is let through the soft signals (queue wait, event-loop lag):
//! the load it adds is bounded by that rule (under half the total), and the
//! heavy sources, which caused the backlog, are shed. The hard caps
//! (`max_setup_calls`, `max_pending_invites`) and a severe backlog still
//! apply to everyone.
//!
//! Counting is per source IP address in fixed one-second windows (the current
//! and the previous), a handful of atomic operations and one map entry update
//! per new INVITE; the map is swept past [`SWEEP_AT`] entries, so a flood of
//! spoofed sources costs bounded memory.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

/// One counting window.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Entries kept before those idle for two windows are swept.
const SWEEP_AT: usize = 65_536;

#[derive(Clone, Copy, Debug)]
struct Counts {
    /// Window index these counts belong to.
    window: u64,
    /// New INVITEs in that window, and in the one before it.
    cur: u32,
    prev: u32,
}

/// Per-window totals, two slots (window index modulo 2).
#[derive(Debug, Default)]
struct Totals {
    window: AtomicU64,
    invites: AtomicU32,
    sources: AtomicU32,
}

#[derive(Debug)]
pub struct FairShare {
    origin: Instant,
    map: DashMap<IpAddr, Counts>,
    totals: [Totals; 2],
}

impl Default for FairShare {
    fn default() -> Self {
        FairShare::new(Instant::now())
    }
}

impl FairShare {
    pub fn new(origin: Instant) -> FairShare {
        FairShare {
            origin,
            map: DashMap::new(),
            totals: Default::default(),
        }
    }

    fn window_of(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin);
        u64::try_from(since.as_millis() / WINDOW.as_millis()).unwrap_or(u64::MAX)
    }

    /// The totals slot of window `w`, reset when it is first used for `w`.
    fn totals(&self, w: u64) -> &Totals {
        let t = &self.totals[(w % 2) as usize];
        let seen = t.window.load(Ordering::Relaxed);
        if seen != w
            && t.window
                .compare_exchange(seen, w, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            t.invites.store(0, Ordering::Relaxed);
            t.sources.store(0, Ordering::Relaxed);
        }
        t
    }

    /// Counts a new INVITE from `ip` at `now`, and says whether its source is
    /// clearly light: several sources active and this one under half their
    /// mean over the current and the previous window.
    pub fn arrive(&self, ip: IpAddr, now: Instant) -> bool {
        let w = self.window_of(now);
        if self.map.len() > SWEEP_AT {
            self.map.retain(|_, c| c.window + 1 >= w);
        }
        let (mine, new_in_window) = {
            let mut c = self.map.entry(ip).or_insert(Counts {
                window: w,
                cur: 0,
                prev: 0,
            });
            let fresh = c.cur == 0 || c.window != w;
            if c.window != w {
                c.prev = if c.window + 1 == w { c.cur } else { 0 };
                c.cur = 0;
                c.window = w;
            }
            c.cur = c.cur.saturating_add(1);
            (u64::from(c.cur) + u64::from(c.prev), fresh)
        };
        let cur = self.totals(w);
        cur.invites.fetch_add(1, Ordering::Relaxed);
        if new_in_window {
            cur.sources.fetch_add(1, Ordering::Relaxed);
        }
        let (mut invites, mut sources) = (
            u64::from(cur.invites.load(Ordering::Relaxed)),
            cur.sources.load(Ordering::Relaxed),
        );
        if let Some(p) = w.checked_sub(1) {
            let prev = &self.totals[(p % 2) as usize];
            if prev.window.load(Ordering::Relaxed) == p {
                invites += u64::from(prev.invites.load(Ordering::Relaxed));
                // A source active in both windows counts twice: the mean
                // comes out lower, so fewer sources pass as light.
                sources = sources.saturating_add(prev.sources.load(Ordering::Relaxed));
            }
        }
        // mine < (invites / sources) / 2, in integers.
        sources >= 2 && mine * 2 * u64::from(sources) < invites
    }

    /// Sources counted now (tests, metrics).
    pub fn tracked(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn a_lone_source_is_never_light() {
        let t0 = Instant::now();
        let f = FairShare::new(t0);
        for i in 0..100 {
            assert!(!f.arrive(ip(1), t0 + Duration::from_millis(i)));
        }
    }

    #[test]
    fn a_light_source_beside_a_heavy_one_is_light_and_the_heavy_one_is_not() {
        let t0 = Instant::now();
        let f = FairShare::new(t0);
        for _ in 0..100 {
            assert!(!f.arrive(ip(1), t0));
        }
        // 1 of 101 from two sources: mean 50.5, half of it 25.25.
        assert!(f.arrive(ip(2), t0));
        for _ in 0..20 {
            f.arrive(ip(2), t0);
        }
        assert!(!f.arrive(ip(1), t0), "the heavy source stays heavy");
        // The light one grows past half the mean: no longer protected.
        for _ in 0..30 {
            f.arrive(ip(2), t0);
        }
        assert!(!f.arrive(ip(2), t0));
    }

    #[test]
    fn equal_sources_are_all_shed_alike() {
        let t0 = Instant::now();
        let f = FairShare::new(t0);
        for _ in 0..50 {
            for n in 1..=10 {
                f.arrive(ip(n), t0);
            }
        }
        for n in 1..=10 {
            assert!(!f.arrive(ip(n), t0), "source {n}");
        }
    }

    #[test]
    fn history_fades_after_two_windows() {
        let t0 = Instant::now();
        let f = FairShare::new(t0);
        for _ in 0..100 {
            f.arrive(ip(1), t0);
        }
        assert!(f.arrive(ip(2), t0 + WINDOW), "previous window still counts");
        // Three windows later only the newcomers' own traffic counts.
        let later = t0 + WINDOW * 3;
        assert!(!f.arrive(ip(1), later), "alone in its window");
        assert!(!f.arrive(ip(2), later), "two equal sources");
    }

    #[test]
    fn many_spoofed_sources_are_swept() {
        let t0 = Instant::now();
        let f = FairShare::new(t0);
        for i in 0..(SWEEP_AT as u32 + 10) {
            f.arrive(IpAddr::from(i.to_be_bytes()), t0);
        }
        let later = t0 + WINDOW * 3;
        f.arrive(ip(1), later);
        assert!(f.tracked() <= 2, "{}", f.tracked());
    }
}
