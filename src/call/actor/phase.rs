//! Where a call is in its life, as one value instead of flags: set-up, answered,
//! ended. The set-up timers (Timer C ringing limit, post-dial delay, busy tone)
//! live beside it: they only run while the call is not over. Pure state, no
//! I/O, tested on the paused clock.

use tokio::time::Instant;

use crate::call::outcome::Outcome;

/// The call's phase. An ended call keeps only what its log line and the
/// lingering transactions need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// INVITE received, no 2xx sent to the caller yet.
    Setup,
    /// The caller got our 2xx at `at`.
    Answered { at: Instant },
    /// Over: the outcome is final; transactions may linger for retransmissions.
    Ended {
        outcome: Outcome,
        answered: Option<Instant>,
    },
}

impl Phase {
    /// When the call was answered (also after it ended).
    pub fn answered_at(&self) -> Option<Instant> {
        match *self {
            Phase::Setup => None,
            Phase::Answered { at } => Some(at),
            Phase::Ended { answered, .. } => answered,
        }
    }

    pub fn is_ended(&self) -> bool {
        matches!(self, Phase::Ended { .. })
    }

    /// The caller got our 2xx. No effect once the call has ended.
    pub fn answer(&mut self, at: Instant) {
        if !self.is_ended() {
            *self = Phase::Answered { at };
        }
    }

    /// Ends the call with `outcome`. False (and no change) if it had ended already:
    /// the first outcome is the call's.
    pub fn end(&mut self, outcome: Outcome) -> bool {
        if self.is_ended() {
            return false;
        }
        *self = Phase::Ended {
            outcome,
            answered: self.answered_at(),
        };
        true
    }
}

/// A set-up timer that has expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetupTimer {
    /// Timer C: nobody answered within `sip.invite_timeout` (RFC 3261 §16.6 step 11).
    Ring,
    /// No 180/183 within the trunk's `max_post_dial_delay`.
    PostDialDelay,
    /// The busy tone has played long enough.
    BusyTone,
}

/// The deadlines of a call in set-up; each fires once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SetupTimers {
    pub ring: Option<Instant>,
    pub pdd: Option<Instant>,
    pub busy: Option<Instant>,
}

impl SetupTimers {
    /// The earliest deadline still set.
    pub fn next(&self) -> Option<Instant> {
        [self.ring, self.pdd, self.busy].into_iter().flatten().min()
    }

    /// The first expired timer in the order ring, post-dial delay, busy tone,
    /// cleared so it does not fire again.
    pub fn take_due(&mut self, now: Instant) -> Option<SetupTimer> {
        let due = |d: Option<Instant>| d.is_some_and(|d| d <= now);
        if due(self.ring) {
            self.ring = None;
            Some(SetupTimer::Ring)
        } else if due(self.pdd) {
            self.pdd = None;
            Some(SetupTimer::PostDialDelay)
        } else if due(self.busy) {
            self.busy = None;
            Some(SetupTimer::BusyTone)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::call::outcome::HangupBy;
    use crate::store::CallStatus;

    fn outcome(p: &Phase) -> Option<Outcome> {
        match *p {
            Phase::Ended { outcome, .. } => Some(outcome),
            _ => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn setup_answer_end() {
        let mut p = Phase::Setup;
        assert_eq!(
            (p.answered_at(), outcome(&p), p.is_ended()),
            (None, None, false)
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        let at = Instant::now();
        p.answer(at);
        assert_eq!(p.answered_at(), Some(at));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(p.end(Outcome::completed(HangupBy::Caller)));
        // The first outcome stays; the answer time survives the end.
        assert!(!p.end(Outcome::by_gateway(CallStatus::Error, 500)));
        assert_eq!(outcome(&p).map(|o| o.status), Some(CallStatus::Completed));
        assert_eq!(p.answered_at(), Some(at));
        assert_eq!(at.elapsed(), Duration::from_secs(60));
        // An ended call is not answered again (a late 2xx).
        p.answer(Instant::now());
        assert_eq!(p.answered_at(), Some(at));
    }

    #[tokio::test(start_paused = true)]
    async fn unanswered_end_keeps_no_answer_time() {
        let mut p = Phase::Setup;
        assert!(p.end(Outcome::canceled(HangupBy::Caller)));
        assert_eq!(p.answered_at(), None);
        assert_eq!(outcome(&p).map(|o| o.code), Some(487));
    }

    #[tokio::test(start_paused = true)]
    async fn setup_timers_fire_once_in_order() {
        let t0 = Instant::now();
        let mut t = SetupTimers {
            ring: Some(t0 + Duration::from_secs(180)),
            pdd: Some(t0 + Duration::from_secs(7)),
            busy: None,
        };
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(7)));
        assert_eq!(t.take_due(Instant::now()), None);
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(t.take_due(Instant::now()), Some(SetupTimer::PostDialDelay));
        assert_eq!(t.take_due(Instant::now()), None);
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(180)));
        // Both past: ring first, then the busy tone.
        t.busy = Some(Instant::now() + Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(200)).await;
        let now = Instant::now();
        assert_eq!(t.take_due(now), Some(SetupTimer::Ring));
        assert_eq!(t.take_due(now), Some(SetupTimer::BusyTone));
        assert_eq!(t.take_due(now), None);
        assert_eq!(t.next(), None);
    }
}
