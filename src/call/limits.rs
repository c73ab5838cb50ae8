//! Per-trunk simultaneous call counters. A [`Slot`] is taken when a call is
//! admitted and released by `Drop` — exactly once however the call ends
//! (CANCEL, failure, BYE from either side, timeout, or a task that panicked).
//!
//! With `[cluster] redis_url` a limited trunk's slot is also a Redis lease
//! ([`crate::cluster`]), so the limit holds across nodes; this process's
//! counters still count (the live-call gauges, and `on_redis_down = "local"`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use uuid::Uuid;

use crate::cluster::{Acquired, Leases};
use crate::config::OnRedisDown;
use crate::metrics::ResultLabels;

#[derive(Default)]
pub struct Limits {
    counters: DashMap<Uuid, Arc<AtomicU32>>,
    /// Cluster-wide leases; set once at start when `[cluster]` names a Redis.
    cluster: OnceLock<Arc<Leases>>,
}

/// One admitted call on a trunk.
#[derive(Debug)]
pub struct Slot {
    counter: Arc<AtomicU32>,
    pub trunk_id: Uuid,
    /// The cluster-wide lease (released by its own `Drop`).
    _lease: Option<crate::cluster::Lease>,
}

/// Why a call on a limited trunk was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The trunk's `simultaneous_call_limit` is reached (cluster-wide with Redis).
    LimitReached,
    /// Redis is down and `on_redis_down = "reject"`.
    ClusterDown,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limits {
    /// Takes a slot on `trunk_id` unless `limit` calls are already up. `None` limit = unlimited.
    pub fn try_acquire(&self, trunk_id: Uuid, limit: Option<u32>) -> Option<Slot> {
        let counter = Arc::clone(self.counters.entry(trunk_id).or_default().value());
        let ok = counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| match limit {
                Some(l) if n >= l => None,
                _ => Some(n + 1),
            })
            .is_ok();
        ok.then(|| Slot {
            counter,
            trunk_id,
            _lease: None,
        })
    }

    /// Hands the cluster-wide leases over (once, at start).
    pub fn set_cluster(&self, leases: Arc<Leases>) {
        let _ = self.cluster.set(leases);
    }

    pub fn cluster(&self) -> Option<&Arc<Leases>> {
        self.cluster.get()
    }

    /// True when a slot under `limit` needs a Redis round trip ([`Limits::acquire`]);
    /// otherwise [`Limits::try_acquire`] decides at once.
    pub fn is_clustered(&self, limit: Option<u32>) -> bool {
        limit.is_some() && self.cluster.get().is_some()
    }

    /// A slot under `limit`, counted cluster-wide when Redis is configured.
    pub async fn acquire(&self, trunk_id: Uuid, limit: Option<u32>) -> Result<Slot, Refusal> {
        let (Some(l), Some(c)) = (limit, self.cluster.get()) else {
            return self
                .try_acquire(trunk_id, limit)
                .ok_or(Refusal::LimitReached);
        };
        match c.acquire(trunk_id, l).await {
            Acquired::Granted(lease) => {
                let counter = Arc::clone(self.counters.entry(trunk_id).or_default().value());
                counter.fetch_add(1, Ordering::AcqRel);
                Ok(Slot {
                    counter,
                    trunk_id,
                    _lease: Some(lease),
                })
            }
            Acquired::Full => Err(Refusal::LimitReached),
            Acquired::Down => {
                let local = c.on_down == OnRedisDown::Local;
                let result = if local { "local" } else { "rejected" };
                c.metrics
                    .down_admissions
                    .get_or_create(&ResultLabels { result })
                    .inc();
                if !local {
                    return Err(Refusal::ClusterDown);
                }
                let mut slot = self
                    .try_acquire(trunk_id, limit)
                    .ok_or(Refusal::LimitReached)?;
                slot._lease = Some(c.hold_local(trunk_id));
                Ok(slot)
            }
        }
    }

    /// Calls holding a slot on the trunk now.
    pub fn active(&self, trunk_id: &Uuid) -> u32 {
        self.counters
            .get(trunk_id)
            .map(|c| c.load(Ordering::Acquire))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_enforced_and_released_once_per_slot() {
        let l = Limits::default();
        let t = Uuid::from_u128(7);
        let a = l.try_acquire(t, Some(2)).unwrap();
        let b = l.try_acquire(t, Some(2)).unwrap();
        assert!(l.try_acquire(t, Some(2)).is_none());
        assert_eq!(l.active(&t), 2);
        drop(a);
        assert_eq!(l.active(&t), 1);
        let c = l.try_acquire(t, Some(2)).unwrap();
        drop(b);
        drop(c);
        assert_eq!(l.active(&t), 0);
        // Unlimited still counts.
        let slots: Vec<_> = (0..100).map(|_| l.try_acquire(t, None).unwrap()).collect();
        assert_eq!(l.active(&t), 100);
        drop(slots);
        assert_eq!(l.active(&t), 0);
    }

    #[test]
    fn released_when_a_task_panics() {
        let l = Arc::new(Limits::default());
        let t = Uuid::from_u128(9);
        let slot = l.try_acquire(t, Some(1)).unwrap();
        let h = std::thread::spawn(move || {
            let _held = slot;
            panic!("task error");
        });
        assert!(h.join().is_err());
        assert_eq!(l.active(&t), 0);
    }

    #[test]
    fn concurrent_acquire_never_exceeds_the_limit() {
        let l = Arc::new(Limits::default());
        let t = Uuid::from_u128(1);
        let won = Arc::new(AtomicU32::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (l, won) = (Arc::clone(&l), Arc::clone(&won));
                std::thread::spawn(move || {
                    let mut held = Vec::new();
                    for _ in 0..1000 {
                        if let Some(s) = l.try_acquire(t, Some(5)) {
                            won.fetch_add(1, Ordering::Relaxed);
                            assert!(l.active(&t) <= 5);
                            held.push(s);
                            if held.len() > 1 {
                                held.remove(0);
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(l.active(&t), 0);
        assert!(won.load(Ordering::Relaxed) >= 5);
    }
}
