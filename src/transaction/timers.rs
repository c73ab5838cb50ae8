//! RFC 3261 §17 timer values (table 4) and the two deadline helpers every
//! transaction machine shares: a one-shot deadline check and a doubling
//! retransmission timer. No clocks are read here: `now` is always passed in.

use std::time::Duration;

use tokio::time::Instant;

use super::Reliability;

/// RFC 3261 §17.1.1.1 and table 4: the three base values every transaction
/// timer is derived from. Changing T1 scales Timers A, B, D, E, F, G, H, J, L, M;
/// T2 caps the doubling retransmit intervals; T4 sets Timers I and K.
#[derive(Clone, Copy, Debug)]
pub struct TimerConfig {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE
    /// responses, 4 s by default.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s by default.
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl TimerConfig {
    /// `64*T1`: the transaction lifetime from which B, F, H, J, L and M derive.
    pub fn sixty_four_t1(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// RFC 3261 §17.1.1.2: Timer A, the first INVITE retransmit interval (T1).
    pub fn timer_a(&self) -> Duration {
        self.t1
    }

    /// RFC 3261 §17.1.1.2: Timer B, INVITE transaction timeout (64*T1).
    pub fn timer_b(&self) -> Duration {
        self.sixty_four_t1()
    }

    /// RFC 3261 §17.1.1.2: Timer D, wait for response retransmits, "at least
    /// 32 s" over UDP, zero over a reliable transport. We use 64*T1 (32 s with
    /// the default T1) so that a custom T1 scales it like every other timer.
    pub fn timer_d(&self, rel: Reliability) -> Duration {
        match rel {
            Reliability::Unreliable => self.sixty_four_t1(),
            Reliability::Reliable => Duration::ZERO,
        }
    }

    /// RFC 3261 §17.1.2.2: Timer E, first non-INVITE retransmit interval (T1).
    pub fn timer_e(&self) -> Duration {
        self.t1
    }

    /// RFC 3261 §17.1.2.2: Timer F, non-INVITE transaction timeout (64*T1).
    pub fn timer_f(&self) -> Duration {
        self.sixty_four_t1()
    }

    /// RFC 3261 §17.2.1: Timer G, first INVITE final-response retransmit
    /// interval (T1).
    pub fn timer_g(&self) -> Duration {
        self.t1
    }

    /// RFC 3261 §17.2.1: Timer H, wait for ACK (64*T1).
    pub fn timer_h(&self) -> Duration {
        self.sixty_four_t1()
    }

    /// RFC 3261 §17.2.1: Timer I, wait for ACK retransmits: T4 over UDP,
    /// zero over a reliable transport.
    pub fn timer_i(&self, rel: Reliability) -> Duration {
        match rel {
            Reliability::Unreliable => self.t4,
            Reliability::Reliable => Duration::ZERO,
        }
    }

    /// RFC 3261 §17.2.2: Timer J, wait for non-INVITE request retransmits:
    /// 64*T1 over UDP, zero over a reliable transport.
    pub fn timer_j(&self, rel: Reliability) -> Duration {
        match rel {
            Reliability::Unreliable => self.sixty_four_t1(),
            Reliability::Reliable => Duration::ZERO,
        }
    }

    /// RFC 3261 §17.1.2.2: Timer K, wait for response retransmits: T4 over
    /// UDP, zero over a reliable transport.
    pub fn timer_k(&self, rel: Reliability) -> Duration {
        match rel {
            Reliability::Unreliable => self.t4,
            Reliability::Reliable => Duration::ZERO,
        }
    }

    /// RFC 6026 §8.4: Timer L, how long the server INVITE transaction stays
    /// in "Accepted" absorbing retransmitted INVITEs (64*T1).
    pub fn timer_l(&self) -> Duration {
        self.sixty_four_t1()
    }

    /// RFC 6026 §8.4: Timer M, how long the client INVITE transaction stays
    /// in "Accepted" passing retransmitted 2xx to the TU (64*T1).
    pub fn timer_m(&self) -> Duration {
        self.sixty_four_t1()
    }
}

/// True when the optional deadline is armed and reached at `now`.
pub(crate) fn expired(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|d| d <= now)
}

/// The earliest of the armed deadlines.
pub(crate) fn earliest<const N: usize>(deadlines: [Option<Instant>; N]) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

/// A retransmission timer whose interval doubles at each firing, optionally
/// capped (RFC 3261 §17.1.1.2 Timer A has no cap; Timers E and G and the
/// §13.3.1.4 2xx retransmissions are capped at T2).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    deadline: Instant,
    interval: Duration,
    cap: Option<Duration>,
}

impl Backoff {
    /// First firing at `now + first`.
    pub(crate) fn new(now: Instant, first: Duration, cap: Option<Duration>) -> Self {
        Self {
            deadline: now + first,
            interval: first,
            cap,
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// From the next firing on, retransmit every `interval` without doubling
    /// (RFC 3261 §17.1.2.2: Timer E in "Proceeding" is reset to T2).
    pub(crate) fn fix_interval(&mut self, interval: Duration) {
        self.interval = interval;
        self.cap = Some(interval);
    }

    /// If the timer has expired at `now`, schedules the next firing and
    /// returns true (the caller retransmits once). The next firing is counted
    /// from the missed deadline so a late wake-up does not shift the schedule;
    /// if even that is already past, it is counted from `now` (one send, not
    /// a burst).
    pub(crate) fn fire(&mut self, now: Instant) -> bool {
        if self.deadline > now {
            return false;
        }
        let doubled = self.interval.saturating_mul(2);
        self.interval = match self.cap {
            Some(cap) => doubled.min(cap),
            None => doubled,
        };
        let next = self.deadline + self.interval;
        self.deadline = if next > now {
            next
        } else {
            now + self.interval
        };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn defaults_match_rfc_table_4() {
        let c = TimerConfig::default();
        assert_eq!(c.t1, MS(500));
        assert_eq!(c.t2, MS(4000));
        assert_eq!(c.t4, MS(5000));
        assert_eq!(c.timer_b(), MS(32_000));
        assert_eq!(c.timer_d(Reliability::Unreliable), MS(32_000));
        assert_eq!(c.timer_d(Reliability::Reliable), Duration::ZERO);
        assert_eq!(c.timer_i(Reliability::Unreliable), MS(5000));
        assert_eq!(c.timer_k(Reliability::Reliable), Duration::ZERO);
        assert_eq!(c.timer_j(Reliability::Unreliable), MS(32_000));
        assert_eq!(c.timer_l(), MS(32_000));
        assert_eq!(c.timer_m(), MS(32_000));
    }

    #[test]
    fn custom_t1_scales_64_t1_timers() {
        let c = TimerConfig {
            t1: MS(100),
            t2: MS(400),
            t4: MS(700),
        };
        assert_eq!(c.timer_b(), MS(6400));
        assert_eq!(c.timer_f(), MS(6400));
        assert_eq!(c.timer_h(), MS(6400));
        assert_eq!(c.timer_d(Reliability::Unreliable), MS(6400));
        assert_eq!(c.timer_i(Reliability::Unreliable), MS(700));
    }

    #[test]
    fn backoff_doubles_up_to_cap_and_keeps_schedule_when_late() {
        let t0 = Instant::now();
        let mut b = Backoff::new(t0, MS(500), Some(MS(4000)));
        assert!(!b.fire(t0 + MS(499)));
        let mut fired = Vec::new();
        for _ in 0..6 {
            let d = b.deadline();
            assert!(b.fire(d));
            fired.push(d - t0);
        }
        assert_eq!(
            fired,
            [MS(500), MS(1500), MS(3500), MS(7500), MS(11500), MS(15500)]
        );
        // Woken 100 ms late: the schedule does not slip.
        assert!(b.fire(t0 + MS(19_600)));
        assert_eq!(b.deadline() - t0, MS(23_500));
        // Woken far too late: one firing, next one counted from now.
        assert!(b.fire(t0 + MS(60_000)));
        assert_eq!(b.deadline() - t0, MS(64_000));
    }

    #[test]
    fn earliest_and_expired() {
        let t0 = Instant::now();
        assert_eq!(earliest::<2>([None, None]), None);
        assert_eq!(
            earliest([Some(t0 + MS(5)), None, Some(t0 + MS(2))]),
            Some(t0 + MS(2))
        );
        assert!(expired(Some(t0), t0));
        assert!(!expired(Some(t0 + MS(1)), t0));
        assert!(!expired(None, t0));
    }
}
