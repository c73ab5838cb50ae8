//! Per-trunk simultaneous call counters. A [`Slot`] is taken when a call is
//! admitted and released by `Drop` — exactly once however the call ends
//! (CANCEL, failure, BYE from either side, timeout, or a task that panicked).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use uuid::Uuid;

#[derive(Default)]
pub struct Limits {
    counters: DashMap<Uuid, Arc<AtomicU32>>,
}

/// One admitted call on a trunk.
#[derive(Debug)]
pub struct Slot {
    counter: Arc<AtomicU32>,
    pub trunk_id: Uuid,
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
        ok.then(|| Slot { counter, trunk_id })
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
