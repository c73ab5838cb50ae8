//! Flood defence for untrusted sources (DESIGN.md "Defences"): a source that
//! matches no carrier and no trunk may send [`LIMIT`] requests per [`WINDOW`];
//! past that it is banned for [`BAN`] and its requests are dropped unanswered.
//! Kamailio's pike module (16 requests / 2 s) is the anchor. Trusted sources
//! (carriers, trunk CIDRs, Twilio ranges) are never limited here.

use std::net::IpAddr;
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

pub const LIMIT: u32 = 16;
pub const WINDOW: Duration = Duration::from_secs(2);
pub const BAN: Duration = Duration::from_secs(60);
/// Entries kept before expired ones are swept (bounds memory under a spoofed-source flood).
const SWEEP_AT: usize = 65_536;

#[derive(Clone, Copy)]
struct Entry {
    window_start: Instant,
    count: u32,
    banned_until: Option<Instant>,
}

#[derive(Default)]
pub struct FloodGuard {
    map: DashMap<IpAddr, Entry>,
}

impl FloodGuard {
    /// Bans `ip` for [`BAN`] from `now` at once (a request that names a known
    /// scanner): its later requests are dropped whatever User-Agent they carry.
    pub fn ban(&self, ip: IpAddr, now: Instant) {
        let newly = {
            let mut e = self.map.entry(ip).or_insert(Entry {
                window_start: now,
                count: 0,
                banned_until: None,
            });
            let newly = e.banned_until.is_none_or(|b| b <= now);
            e.banned_until = Some(now + BAN);
            newly
        };
        if newly {
            tracing::warn!(source = %ip, "scanner User-Agent from an untrusted source: banned for {} s", BAN.as_secs());
        }
    }

    /// Counts one request from `ip`; false when it must be dropped.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        if self.map.len() > SWEEP_AT {
            self.map.retain(|_, e| {
                e.banned_until.is_some_and(|b| b > now)
                    || now.duration_since(e.window_start) < WINDOW
            });
        }
        let mut e = self.map.entry(ip).or_insert(Entry {
            window_start: now,
            count: 0,
            banned_until: None,
        });
        if let Some(b) = e.banned_until {
            if b > now {
                return false;
            }
            *e = Entry {
                window_start: now,
                count: 0,
                banned_until: None,
            };
        }
        if now.duration_since(e.window_start) >= WINDOW {
            e.window_start = now;
            e.count = 0;
        }
        e.count += 1;
        if e.count > LIMIT {
            e.banned_until = Some(now + BAN);
            tracing::warn!(source = %ip, "request flood from an untrusted source: banned for {} s", BAN.as_secs());
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_then_ban_then_recover() {
        let p = FloodGuard::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..LIMIT {
            assert!(
                p.allow(ip, t0 + Duration::from_millis(u64::from(i))),
                "request {i}"
            );
        }
        assert!(
            !p.allow(ip, t0 + Duration::from_millis(100)),
            "17th in the window"
        );
        assert!(
            p.allow(other, t0 + Duration::from_millis(100)),
            "others unaffected"
        );
        assert!(!p.allow(ip, t0 + Duration::from_secs(30)), "still banned");
        assert!(
            p.allow(ip, t0 + BAN + Duration::from_secs(1)),
            "ban expired"
        );
    }

    #[test]
    fn a_ban_drops_the_next_requests_until_it_expires() {
        let p = FloodGuard::default();
        let ip: IpAddr = "192.0.2.3".parse().unwrap();
        let t0 = Instant::now();
        p.ban(ip, t0);
        assert!(!p.allow(ip, t0 + Duration::from_secs(1)));
        assert!(p.allow(ip, t0 + BAN + Duration::from_secs(1)));
    }

    #[test]
    fn a_steady_slow_source_is_never_banned() {
        let p = FloodGuard::default();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..200u64 {
            assert!(p.allow(ip, t0 + Duration::from_millis(i * 150)));
        }
    }
}
