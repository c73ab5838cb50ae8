//! The request limiter behind the spec's 400429 (`[api] requests_per_minute`).
//!
//! One limiter type, used twice:
//! - per accepted key: at most `requests_per_minute` requests a minute;
//! - per source address: at most `requests_per_minute` *failed*
//!   authentications a minute. Once a source is over, every request from it
//!   is answered 429 before its key is even looked at, so a brute force
//!   learns nothing more (a 429 for wrong keys and a 200 for the right one
//!   would still let it guess at full speed). IPv6 sources count per /64, the
//!   block one host usually holds.
//!
//! Written by hand rather than with `governor`: the source check must look
//! at a source's state without spending from it (only failures spend), and
//! `governor`'s keyed limiters only offer a check that spends. A fixed
//! one-minute window per key is all this needs; its worst case is twice the
//! budget across a window boundary.
//!
//! Memory is bounded: at most [`MAX_TRACKED`] keys are tracked; when full,
//! windows that have ended are dropped, and if it is still full the oldest
//! window is dropped.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window length.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The most keys (sources or API keys) tracked at once.
pub const MAX_TRACKED: usize = 65_536;

/// A fixed-window counter per key.
#[derive(Debug)]
pub struct Limiter<K> {
    per_window: u32,
    windows: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Eq + Hash + Clone> Limiter<K> {
    pub fn new(per_window: u32) -> Limiter<K> {
        Limiter {
            per_window: per_window.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(retry_after)` when `key` has spent its budget in the current window.
    pub fn blocked(&self, key: &K, now: Instant) -> Option<Duration> {
        let w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match w.get(key) {
            Some(&(start, n)) if now < start + WINDOW && n >= self.per_window => {
                Some(start + WINDOW - now)
            }
            _ => None,
        }
    }

    /// Spends one from `key`'s budget: `Err(retry_after)` when none was left.
    pub fn spend(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if !w.contains_key(key) && w.len() >= MAX_TRACKED {
            w.retain(|_, (start, _)| now < *start + WINDOW);
            if w.len() >= MAX_TRACKED {
                if let Some(oldest) = w
                    .iter()
                    .min_by_key(|(_, (s, _))| *s)
                    .map(|(k, _)| k.clone())
                {
                    w.remove(&oldest);
                }
            }
        }
        let e = w.entry(key.clone()).or_insert((now, 0));
        if now >= e.0 + WINDOW {
            *e = (now, 0);
        }
        if e.1 >= self.per_window {
            return Err(e.0 + WINDOW - now);
        }
        e.1 += 1;
        Ok(())
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.windows.lock().map(|w| w.len()).unwrap_or(0)
    }
}

/// The key a source address counts under: the address, or its /64 for IPv6
/// (an IPv4-mapped IPv6 address counts as the IPv4 address).
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let s = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    s.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_per_key_then_refused_until_the_window_ends() {
        let l = Limiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.spend(&"a", t0), Ok(()));
        }
        assert_eq!(l.blocked(&"a", t0), Some(WINDOW));
        assert_eq!(l.blocked(&"b", t0), None);
        let later = t0 + Duration::from_secs(20);
        assert_eq!(l.spend(&"a", later), Err(Duration::from_secs(40)));
        assert_eq!(l.spend(&"b", later), Ok(()));
        let next = t0 + WINDOW;
        assert_eq!(l.blocked(&"a", next), None);
        assert_eq!(l.spend(&"a", next), Ok(()));
    }

    #[test]
    fn tracked_keys_are_bounded() {
        let l = Limiter::new(1);
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            assert_eq!(l.spend(&i, t0), Ok(()));
        }
        assert_eq!(l.tracked(), MAX_TRACKED);
        // Ended windows are dropped first.
        assert_eq!(l.spend(&u32::MAX, t0 + WINDOW), Ok(()));
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn sources_count_per_v4_address_and_v6_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let m: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(source_key(m), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(40_001)), 41);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
