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

/// How far the callee's INVITE in flight has got; every new attempt (the next
/// carrier, a failover target) starts again at `Sent`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Progress {
    /// No response yet: a CANCEL must wait (RFC 3261 §9.1).
    #[default]
    Sent,
    /// 100 Trying: a CANCEL may be sent now.
    Trying,
    /// A 101..=199 came (post-dial delay over); `early_media` once one of them
    /// carried a body — after that the call no longer moves to another target.
    Provisional { early_media: bool },
}

impl Progress {
    /// RFC 3261 §9.1: a CANCEL only after a provisional response (100 included).
    pub fn may_cancel(&self) -> bool {
        !matches!(self, Progress::Sent)
    }

    pub fn early_media(&self) -> bool {
        matches!(self, Progress::Provisional { early_media: true })
    }

    /// A 100 Trying came (a later one changes nothing).
    pub fn trying(&mut self) {
        if *self == Progress::Sent {
            *self = Progress::Trying;
        }
    }

    /// A 101..=199 came, with a body or not. True for the attempt's first one
    /// (it ends the post-dial delay that the metric observes).
    pub fn provisional(&mut self, has_body: bool) -> bool {
        match self {
            Progress::Provisional { early_media } => {
                *early_media |= has_body;
                false
            }
            _ => {
                *self = Progress::Provisional {
                    early_media: has_body,
                };
                true
            }
        }
    }
}

/// Whether the set-up was given up on our side (the caller's CANCEL, the
/// ringing limit, the post-dial delay, an API hang-up) and whether the CANCEL
/// toward the callee still waits for its first provisional response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Abandon {
    #[default]
    No,
    /// Given up before the callee's attempt answered anything: the CANCEL goes
    /// with its first provisional.
    CancelWaiting,
    /// Given up; the CANCEL (if one was needed) is sent.
    Abandoned,
}

impl Abandon {
    pub fn is_abandoned(&self) -> bool {
        *self != Abandon::No
    }

    /// Gives the set-up up while the attempt is at `progress`. True: send the
    /// CANCEL now; false: it waits for the first provisional.
    pub fn abandon(&mut self, progress: Progress) -> bool {
        if progress.may_cancel() {
            if *self == Abandon::No {
                *self = Abandon::Abandoned;
            }
            true
        } else {
            *self = Abandon::CancelWaiting;
            false
        }
    }

    /// A provisional response came: true once, when a CANCEL was waiting for it.
    pub fn take_waiting(&mut self) -> bool {
        if *self == Abandon::CancelWaiting {
            *self = Abandon::Abandoned;
            true
        } else {
            false
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

    #[tokio::test(start_paused = true)]
    async fn progress_of_one_attempt() {
        let mut p = Progress::default();
        assert!(!p.may_cancel() && !p.early_media());
        p.trying();
        assert_eq!(p, Progress::Trying);
        assert!(p.may_cancel() && !p.early_media());
        tokio::time::advance(Duration::from_secs(2)).await;
        // 180 without SDP: the first provisional, no early media yet.
        assert!(p.provisional(false));
        assert!(!p.early_media());
        // A 100 after it changes nothing; a 183 with SDP is early media, not a first.
        p.trying();
        assert!(!p.provisional(true));
        assert!(p.early_media());
        // A later 180 without SDP does not undo the early media.
        assert!(!p.provisional(false));
        assert!(p.early_media() && p.may_cancel());
        // The next attempt starts over.
        p = Progress::default();
        assert!(p.provisional(true) && p.early_media());
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_waits_for_the_first_provisional() {
        let mut a = Abandon::default();
        assert!(!a.is_abandoned());
        assert!(
            !a.take_waiting(),
            "nothing waits before the set-up is given up"
        );
        // The caller cancels before the carrier said anything: the CANCEL waits.
        assert!(!a.abandon(Progress::Sent));
        assert_eq!(a, Abandon::CancelWaiting);
        assert!(a.is_abandoned());
        tokio::time::advance(Duration::from_millis(300)).await;
        // The carrier's 100: the CANCEL goes, once.
        assert!(a.take_waiting());
        assert!(!a.take_waiting());
        assert_eq!(a, Abandon::Abandoned);
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_goes_at_once_after_a_provisional() {
        let mut p = Progress::default();
        p.provisional(false);
        let mut a = Abandon::default();
        // Ringing limit (Timer C) after a 180: CANCEL now.
        assert!(a.abandon(p));
        assert_eq!(a, Abandon::Abandoned);
        assert!(!a.take_waiting());
        // Given up again (an API hang-up racing it): the CANCEL is sent again
        // (the transaction layer answers it), the state stays.
        assert!(a.abandon(p));
        assert_eq!(a, Abandon::Abandoned);
    }
}
