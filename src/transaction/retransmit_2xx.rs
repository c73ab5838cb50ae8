//! RFC 3261 §13.3.1.4: the UAS core (not the transaction) retransmits its 2xx
//! to an INVITE until the ACK arrives, and gives up after 64*T1.

use bytes::Bytes;
use tokio::time::Instant;

use super::timers::{earliest, expired, Backoff};
use super::{one, timed_out, Action, Actions, Reliability, TimerConfig, TransactionError};

/// 2xx retransmission timer for one INVITE answered with 2xx (sans-IO).
#[derive(Debug)]
pub struct Retransmit2xx {
    resp: Bytes,
    resend: Option<Backoff>,
    give_up: Option<Instant>,
    terminated: bool,
    failure: Option<TransactionError>,
}

impl Retransmit2xx {
    /// The caller has just sent `resp` itself. Over UDP the next send is at
    /// `now + T1`, the interval doubling up to T2; over a reliable transport
    /// nothing is re-sent. Either way the give-up fires at `now + 64*T1`.
    pub fn new(resp: Bytes, rel: Reliability, cfg: TimerConfig, now: Instant) -> Self {
        let resend = match rel {
            Reliability::Unreliable => Some(Backoff::new(now, cfg.t1, Some(cfg.t2))),
            Reliability::Reliable => None,
        };
        Self {
            resp,
            resend,
            give_up: Some(now + cfg.sixty_four_t1()),
            terminated: false,
            failure: None,
        }
    }

    /// Handles every timer expired at `now`; safe to call early. The give-up
    /// wins at the same instant: `[Timeout, Terminated]` (the TU confirms the
    /// dialog and sends BYE, §13.3.1.4); otherwise `[Send(resp)]`.
    pub fn on_timer(&mut self, now: Instant) -> Actions {
        if self.terminated {
            return Actions::new();
        }
        if expired(self.give_up, now) {
            self.failure = Some(TransactionError::NoAckFor2xx);
            self.terminate();
            return timed_out();
        }
        if self.resend.as_mut().is_some_and(|r| r.fire(now)) {
            return one(Action::Send(self.resp.clone()));
        }
        Actions::new()
    }

    /// The ACK arrived: `[Terminated]` (empty if already over).
    pub fn on_ack(&mut self) -> Actions {
        if self.terminated {
            return Actions::new();
        }
        self.terminate();
        one(Action::Terminated)
    }

    /// A retransmission could not be sent: `[Timeout, Terminated]`, as for
    /// the give-up (the TU tears the call down).
    pub fn on_transport_error(&mut self) -> Actions {
        if self.terminated {
            return Actions::new();
        }
        self.failure = Some(TransactionError::Transport);
        self.terminate();
        timed_out()
    }

    /// When the owner must next call [`Self::on_timer`]; `None` once over.
    pub fn next_deadline(&self) -> Option<Instant> {
        earliest([self.resend.map(|r| r.deadline()), self.give_up])
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Why [`Action::Timeout`] was emitted, if it was.
    pub fn failure(&self) -> Option<TransactionError> {
        self.failure
    }

    fn terminate(&mut self) {
        self.terminated = true;
        self.resend = None;
        self.give_up = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{b, ms, run_until, send_times};
    use super::*;

    #[test]
    fn schedule_doubles_to_t2_and_gives_up_at_64_t1() {
        let t0 = Instant::now();
        let mut m = Retransmit2xx::new(
            b("200"),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        assert!(m.on_timer(t0 + ms(499)).is_empty());
        let log = run_until(&mut m, t0, ms(60_000));
        assert_eq!(
            send_times(&log),
            [500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
        );
        assert!(log[..10]
            .iter()
            .all(|(_, a)| a.as_slice() == [Action::Send(b("200"))]));
        assert_eq!(log.len(), 11);
        assert_eq!(log[10].0, ms(32_000));
        assert_eq!(log[10].1.as_slice(), [Action::Timeout, Action::Terminated]);
        assert!(m.is_terminated());
        assert_eq!(m.failure(), Some(TransactionError::NoAckFor2xx));
        assert!(m.on_ack().is_empty());
    }

    #[test]
    fn ack_stops_it() {
        let t0 = Instant::now();
        let mut m = Retransmit2xx::new(
            b("200"),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        assert_eq!(
            m.on_timer(t0 + ms(500)).as_slice(),
            [Action::Send(b("200"))]
        );
        assert_eq!(m.on_ack().as_slice(), [Action::Terminated]);
        assert_eq!(m.next_deadline(), None);
        assert!(m.on_timer(t0 + ms(40_000)).is_empty());
        assert!(m.on_ack().is_empty());
        assert_eq!(m.failure(), None);
    }

    #[test]
    fn reliable_only_gives_up() {
        let t0 = Instant::now();
        let mut m = Retransmit2xx::new(b("200"), Reliability::Reliable, TimerConfig::default(), t0);
        assert_eq!(m.next_deadline(), Some(t0 + ms(32_000)));
        let log = run_until(&mut m, t0, ms(60_000));
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].1.as_slice(), [Action::Timeout, Action::Terminated]);
    }

    #[test]
    fn custom_timers_scale() {
        let cfg = TimerConfig {
            t1: ms(10),
            t2: ms(40),
            t4: ms(50),
        };
        let t0 = Instant::now();
        let mut m = Retransmit2xx::new(b("200"), Reliability::Unreliable, cfg, t0);
        let log = run_until(&mut m, t0, ms(60_000));
        let sends = send_times(&log);
        assert_eq!(sends[..5], [10, 30, 70, 110, 150]);
        assert_eq!(sends.last(), Some(&630));
        assert_eq!(log.last().unwrap().0, ms(640));
    }

    #[test]
    fn transport_error_times_out() {
        let t0 = Instant::now();
        let mut m = Retransmit2xx::new(
            b("200"),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        assert_eq!(
            m.on_transport_error().as_slice(),
            [Action::Timeout, Action::Terminated]
        );
        assert_eq!(m.failure(), Some(TransactionError::Transport));
        assert!(m.on_transport_error().is_empty());
    }
}
