//! RFC 3261 §17.1.2 client non-INVITE transaction (BYE, CANCEL, OPTIONS,
//! re-sent INFO ... sent by the gateway).

use bytes::Bytes;
use tokio::time::Instant;

use super::timers::{earliest, expired, Backoff};
use super::{one, timed_out, Action, Actions, Reliability, TimerConfig, TransactionError};

/// RFC 3261 figure 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// Request sent, nothing heard; Timers E (UDP) and F run.
    Trying,
    /// A 1xx arrived; E keeps running at T2, F still runs.
    Proceeding,
    /// A final arrived; Timer K absorbs its retransmissions.
    Completed,
    /// Over.
    Terminated,
}

/// Client non-INVITE transaction (sans-IO).
#[derive(Debug)]
pub struct ClientNonInvite {
    state: ClientNonInviteState,
    rel: Reliability,
    cfg: TimerConfig,
    request: Bytes,
    timer_e: Option<Backoff>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
    failure: Option<TransactionError>,
}

impl ClientNonInvite {
    /// Starts the transaction: `[Send(request)]`. RFC 3261 §17.1.2.2:
    /// Timer E (UDP only) fires after T1, doubling up to T2; Timer F after 64*T1.
    pub fn new(
        request: Bytes,
        rel: Reliability,
        cfg: TimerConfig,
        now: Instant,
    ) -> (Self, Actions) {
        let timer_e = match rel {
            Reliability::Unreliable => Some(Backoff::new(now, cfg.timer_e(), Some(cfg.t2))),
            Reliability::Reliable => None,
        };
        let me = Self {
            state: ClientNonInviteState::Trying,
            rel,
            cfg,
            request: request.clone(),
            timer_e,
            timer_f: Some(now + cfg.timer_f()),
            timer_k: None,
            failure: None,
        };
        (me, one(Action::Send(request)))
    }

    /// A response arrived. Trying/Proceeding: 1xx -> Proceeding, `[Deliver]`
    /// (from then on Timer E is reset to T2 at each firing); 200-699 ->
    /// Completed, `[Deliver]`, Timer K (T4 on UDP; zero on a reliable
    /// transport: `[Deliver, Terminated]`). Completed: `[]` (absorbed).
    /// Codes outside 100-699 are ignored.
    pub fn on_response(&mut self, code: u16, now: Instant) -> Actions {
        use ClientNonInviteState as S;
        match (self.state, code) {
            (S::Trying | S::Proceeding, 100..=199) => {
                self.state = S::Proceeding;
                if let Some(e) = &mut self.timer_e {
                    e.fix_interval(self.cfg.t2);
                }
                one(Action::Deliver)
            }
            (S::Trying | S::Proceeding, 200..=699) => {
                self.timer_e = None;
                self.timer_f = None;
                match self.rel {
                    Reliability::Unreliable => {
                        self.state = S::Completed;
                        self.timer_k = Some(now + self.cfg.timer_k(self.rel));
                        one(Action::Deliver)
                    }
                    Reliability::Reliable => {
                        self.terminate();
                        smallvec::smallvec![Action::Deliver, Action::Terminated]
                    }
                }
            }
            _ => Actions::new(),
        }
    }

    /// Handles every timer expired at `now`; safe to call early. F wins over
    /// E at the same instant: F -> `[Timeout, Terminated]`; E ->
    /// `[Send(request)]`; K -> `[Terminated]`.
    pub fn on_timer(&mut self, now: Instant) -> Actions {
        use ClientNonInviteState as S;
        match self.state {
            S::Trying | S::Proceeding if expired(self.timer_f, now) => {
                self.failure = Some(TransactionError::TimerF);
                self.terminate();
                timed_out()
            }
            S::Trying | S::Proceeding if self.timer_e.as_mut().is_some_and(|e| e.fire(now)) => {
                one(Action::Send(self.request.clone()))
            }
            S::Completed if expired(self.timer_k, now) => {
                self.terminate();
                one(Action::Terminated)
            }
            _ => Actions::new(),
        }
    }

    /// The transport failed to send the request (RFC 3261 §17.1.2.2):
    /// Trying/Proceeding -> `[Timeout, Terminated]`; Completed -> ignored
    /// (nothing is sent there).
    pub fn on_transport_error(&mut self) -> Actions {
        use ClientNonInviteState as S;
        match self.state {
            S::Trying | S::Proceeding => {
                self.failure = Some(TransactionError::Transport);
                self.terminate();
                timed_out()
            }
            S::Completed | S::Terminated => Actions::new(),
        }
    }

    /// When the owner must next call [`Self::on_timer`]; `None` once terminated.
    pub fn next_deadline(&self) -> Option<Instant> {
        use ClientNonInviteState as S;
        match self.state {
            S::Trying | S::Proceeding => {
                earliest([self.timer_e.map(|e| e.deadline()), self.timer_f])
            }
            S::Completed => self.timer_k,
            S::Terminated => None,
        }
    }

    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }

    /// The request as first sent.
    pub fn request(&self) -> &Bytes {
        &self.request
    }

    /// Why [`Action::Timeout`] was emitted, if it was.
    pub fn failure(&self) -> Option<TransactionError> {
        self.failure
    }

    fn terminate(&mut self) {
        self.state = ClientNonInviteState::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{b, fast, ms, owner_loop, run_until, send_times, Event};
    use super::*;
    use ClientNonInviteState as S;

    fn udp(t0: Instant) -> ClientNonInvite {
        let (m, acts) = ClientNonInvite::new(
            b("BYE"),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        assert_eq!(acts.as_slice(), [Action::Send(b("BYE"))]);
        m
    }

    #[test]
    fn timer_e_capped_at_t2_then_f() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert!(m.on_timer(t0 + ms(499)).is_empty());
        let log = run_until(&mut m, t0, ms(60_000));
        assert_eq!(
            send_times(&log),
            [500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
        );
        assert!(log[..10]
            .iter()
            .all(|(_, a)| a.as_slice() == [Action::Send(b("BYE"))]));
        assert_eq!(log.len(), 11);
        assert_eq!(log[10].0, ms(32_000));
        assert_eq!(log[10].1.as_slice(), [Action::Timeout, Action::Terminated]);
        assert_eq!(m.failure(), Some(TransactionError::TimerF));
    }

    #[test]
    fn proceeding_retransmits_every_t2_and_f_still_fires() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert_eq!(
            m.on_response(100, t0 + ms(200)).as_slice(),
            [Action::Deliver]
        );
        assert_eq!(m.state(), S::Proceeding);
        let log = run_until(&mut m, t0, ms(60_000));
        // The pending E at 0.5 s stands, then every T2 = 4 s.
        assert_eq!(
            send_times(&log),
            [500, 4500, 8500, 12_500, 16_500, 20_500, 24_500, 28_500]
        );
        assert_eq!(log.last().unwrap().0, ms(32_000));
        assert_eq!(
            log.last().unwrap().1.as_slice(),
            [Action::Timeout, Action::Terminated]
        );
    }

    #[test]
    fn final_completes_absorbs_retransmits_then_timer_k() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        m.on_timer(t0 + ms(500));
        assert_eq!(
            m.on_response(180, t0 + ms(600)).as_slice(),
            [Action::Deliver]
        );
        assert_eq!(
            m.on_response(181, t0 + ms(700)).as_slice(),
            [Action::Deliver]
        );
        assert_eq!(
            m.on_response(200, t0 + ms(1000)).as_slice(),
            [Action::Deliver]
        );
        assert_eq!(m.state(), S::Completed);
        assert!(m.on_response(200, t0 + ms(1100)).is_empty());
        assert!(m.on_response(100, t0 + ms(1100)).is_empty());
        assert_eq!(m.next_deadline(), Some(t0 + ms(6000)));
        assert!(m.on_timer(t0 + ms(5999)).is_empty());
        assert!(m.on_transport_error().is_empty());
        assert_eq!(m.on_timer(t0 + ms(6000)).as_slice(), [Action::Terminated]);
        assert!(m.is_terminated());
        assert_eq!(m.failure(), None);
    }

    #[test]
    fn reliable_no_retransmits_final_terminates_at_once() {
        let t0 = Instant::now();
        let (mut m, _) =
            ClientNonInvite::new(b("BYE"), Reliability::Reliable, TimerConfig::default(), t0);
        assert_eq!(m.next_deadline(), Some(t0 + ms(32_000)));
        assert_eq!(
            m.on_response(481, t0 + ms(5)).as_slice(),
            [Action::Deliver, Action::Terminated]
        );
        assert_eq!(m.next_deadline(), None);

        let (mut m, _) =
            ClientNonInvite::new(b("BYE"), Reliability::Reliable, TimerConfig::default(), t0);
        let log = run_until(&mut m, t0, ms(60_000));
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].1.as_slice(), [Action::Timeout, Action::Terminated]);
    }

    #[test]
    fn transport_error_times_out() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert_eq!(
            m.on_transport_error().as_slice(),
            [Action::Timeout, Action::Terminated]
        );
        assert_eq!(m.failure(), Some(TransactionError::Transport));
        assert!(m.on_response(200, t0).is_empty());
        assert_eq!(m.request(), &b("BYE"));
    }

    #[test]
    fn custom_timers_scale() {
        let cfg = TimerConfig {
            t1: ms(200),
            t2: ms(1000),
            t4: ms(2500),
        };
        let t0 = Instant::now();
        let (mut m, _) = ClientNonInvite::new(b("BYE"), Reliability::Unreliable, cfg, t0);
        let log = run_until(&mut m, t0, ms(60_000));
        assert_eq!(send_times(&log)[..5], [200, 600, 1400, 2400, 3400]);
        assert_eq!(log.last().unwrap().0, ms(12_800));
        let (mut m, _) = ClientNonInvite::new(b("BYE"), Reliability::Unreliable, cfg, t0);
        m.on_response(200, t0 + ms(100));
        assert_eq!(m.next_deadline(), Some(t0 + ms(2600)));
    }

    #[tokio::test(start_paused = true)]
    async fn owner_loop_response_after_retransmits() {
        let t0 = Instant::now();
        let (mut m, _) = ClientNonInvite::new(b("BYE"), Reliability::Unreliable, fast(), t0);
        let script: [Event<ClientNonInvite>; 2] = [
            (ms(40), |m, now| m.on_response(200, now)),
            (ms(45), |m, now| m.on_response(200, now)),
        ];
        let log = owner_loop(&mut m, t0, &script).await;
        assert_eq!(
            log,
            [
                (10, Action::Send(b("BYE"))),
                (30, Action::Send(b("BYE"))),
                (40, Action::Deliver),
                (140, Action::Terminated),
            ]
        );
    }
}
