//! RFC 3261 §17.1.1 client INVITE transaction, with the RFC 6026 §7.2
//! "Accepted" state: the B leg of a call toward a carrier.

use bytes::Bytes;
use tokio::time::Instant;

use super::timers::{earliest, expired, Backoff};
use super::{one, timed_out, Action, Actions, Reliability, TimerConfig, TransactionError};

/// RFC 3261 figure 5 plus RFC 6026 figure 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientInviteState {
    /// INVITE sent, nothing heard; Timers A (UDP) and B run.
    Calling,
    /// A 1xx arrived; no transaction timer runs (the TU's own guard applies).
    Proceeding,
    /// RFC 6026: a 2xx arrived; Timer M runs, 2xx retransmissions go to the TU.
    Accepted,
    /// A 300-699 arrived and was ACKed; Timer D absorbs its retransmissions.
    Completed,
    /// Over.
    Terminated,
}

/// Client INVITE transaction (sans-IO).
#[derive(Debug)]
pub struct ClientInvite {
    state: ClientInviteState,
    rel: Reliability,
    cfg: TimerConfig,
    request: Bytes,
    /// The ACK for the non-2xx final, built once, re-sent per retransmission.
    ack: Option<Bytes>,
    timer_a: Option<Backoff>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    failure: Option<TransactionError>,
}

impl ClientInvite {
    /// Starts the transaction: returns `[Send(request)]`. RFC 3261 §17.1.1.2:
    /// Timer A (UDP only) fires after T1 and doubles each firing with no T2
    /// cap; Timer B fires after 64*T1.
    pub fn new(
        request: Bytes,
        rel: Reliability,
        cfg: TimerConfig,
        now: Instant,
    ) -> (Self, Actions) {
        let timer_a = match rel {
            Reliability::Unreliable => Some(Backoff::new(now, cfg.timer_a(), None)),
            Reliability::Reliable => None,
        };
        let me = Self {
            state: ClientInviteState::Calling,
            rel,
            cfg,
            request: request.clone(),
            ack: None,
            timer_a,
            timer_b: Some(now + cfg.timer_b()),
            timer_d: None,
            timer_m: None,
            failure: None,
        };
        (me, one(Action::Send(request)))
    }

    /// A response to our INVITE arrived with status `code`. `make_ack` builds
    /// the ACK for a 300-699 final (RFC 3261 §17.1.1.3); it is called at most
    /// once per transaction. Codes outside 100-699 are ignored.
    ///
    /// - Calling/Proceeding: 1xx -> Proceeding, `[Deliver]` (Timers A and B
    ///   stop); 2xx -> Accepted, Timer M, `[Deliver]` (the TU ACKs a 2xx
    ///   itself); 300-699 -> Completed, `[Send(ack), Deliver]`, Timer D
    ///   (over a reliable transport D is zero: `[Send(ack), Deliver, Terminated]`).
    /// - Completed: a retransmitted 300-699 -> `[Send(ack)]`, not delivered.
    /// - Accepted: a retransmitted 2xx -> `[Deliver]` so the TU re-sends its ACK.
    pub fn on_response(
        &mut self,
        code: u16,
        now: Instant,
        make_ack: impl FnOnce() -> Bytes,
    ) -> Actions {
        use ClientInviteState as S;
        match (self.state, code) {
            (S::Calling | S::Proceeding, 100..=199) => {
                self.state = S::Proceeding;
                self.timer_a = None;
                self.timer_b = None;
                one(Action::Deliver)
            }
            (S::Calling | S::Proceeding, 200..=299) => {
                self.state = S::Accepted;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_m = Some(now + self.cfg.timer_m());
                one(Action::Deliver)
            }
            (S::Calling | S::Proceeding, 300..=699) => {
                self.timer_a = None;
                self.timer_b = None;
                let ack = make_ack();
                self.ack = Some(ack.clone());
                let mut out: Actions = smallvec::smallvec![Action::Send(ack), Action::Deliver];
                match self.rel {
                    Reliability::Unreliable => {
                        self.state = S::Completed;
                        self.timer_d = Some(now + self.cfg.timer_d(self.rel));
                    }
                    Reliability::Reliable => {
                        self.terminate();
                        out.push(Action::Terminated);
                    }
                }
                out
            }
            (S::Completed, 300..=699) => match &self.ack {
                Some(ack) => one(Action::Send(ack.clone())),
                None => Actions::new(),
            },
            (S::Accepted, 200..=299) => one(Action::Deliver),
            _ => Actions::new(),
        }
    }

    /// Handles every timer expired at `now`; safe to call early (returns
    /// nothing). Timer B wins over Timer A at the same instant:
    /// B -> `[Timeout, Terminated]`; A -> `[Send(request)]`, next firing after
    /// twice the interval; D, M -> `[Terminated]`.
    pub fn on_timer(&mut self, now: Instant) -> Actions {
        use ClientInviteState as S;
        match self.state {
            S::Calling if expired(self.timer_b, now) => {
                self.failure = Some(TransactionError::TimerB);
                self.terminate();
                timed_out()
            }
            S::Calling if self.timer_a.as_mut().is_some_and(|a| a.fire(now)) => {
                one(Action::Send(self.request.clone()))
            }
            S::Completed if expired(self.timer_d, now) => self.terminated(),
            S::Accepted if expired(self.timer_m, now) => self.terminated(),
            _ => Actions::new(),
        }
    }

    /// The transport failed to send our INVITE or ACK (RFC 3261 §17.1.1.2).
    /// Calling/Proceeding -> `[Timeout, Terminated]` (the TU treats it as 408
    /// / a failed attempt); Completed -> `[Terminated]` only, the TU already
    /// has its final response; Accepted -> ignored, the transaction sends
    /// nothing there (the TU's ACK for a 2xx is its own).
    pub fn on_transport_error(&mut self) -> Actions {
        use ClientInviteState as S;
        match self.state {
            S::Calling | S::Proceeding => {
                self.failure = Some(TransactionError::Transport);
                self.terminate();
                timed_out()
            }
            S::Completed => self.terminated(),
            S::Accepted | S::Terminated => Actions::new(),
        }
    }

    /// When the owner must next call [`Self::on_timer`]. `None` in
    /// Proceeding (RFC 3261 has no timer there: the TU must guard it, e.g.
    /// with a ring timeout and CANCEL) and once terminated.
    pub fn next_deadline(&self) -> Option<Instant> {
        use ClientInviteState as S;
        match self.state {
            S::Calling => earliest([self.timer_a.map(|a| a.deadline()), self.timer_b]),
            S::Completed => self.timer_d,
            S::Accepted => self.timer_m,
            S::Proceeding | S::Terminated => None,
        }
    }

    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientInviteState::Terminated
    }

    /// The INVITE as first sent (the TU builds CANCEL from it, §9.1).
    pub fn request(&self) -> &Bytes {
        &self.request
    }

    /// The ACK this transaction sent for a non-2xx final response (§17.1.1.3),
    /// re-sent on each retransmission of that response.
    pub fn ack(&self) -> Option<&Bytes> {
        self.ack.as_ref()
    }

    /// Why [`Action::Timeout`] was emitted, if it was.
    pub fn failure(&self) -> Option<TransactionError> {
        self.failure
    }

    fn terminate(&mut self) {
        self.state = ClientInviteState::Terminated;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
    }

    fn terminated(&mut self) -> Actions {
        self.terminate();
        one(Action::Terminated)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::super::test_util::{b, fast, ms, owner_loop, run_until, send_times, Event};
    use super::*;
    use ClientInviteState as S;

    fn udp(t0: Instant) -> ClientInvite {
        let (m, acts) = ClientInvite::new(
            b("INVITE"),
            Reliability::Unreliable,
            TimerConfig::default(),
            t0,
        );
        assert_eq!(acts.as_slice(), [Action::Send(b("INVITE"))]);
        m
    }

    #[test]
    fn timer_a_doubles_without_cap_then_b_times_out() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert!(m.on_timer(t0 + ms(499)).is_empty());
        let log = run_until(&mut m, t0, ms(60_000));
        assert_eq!(send_times(&log), [500, 1500, 3500, 7500, 15_500, 31_500]);
        let (at, last) = log.last().unwrap();
        assert_eq!(*at, ms(32_000));
        assert_eq!(last.as_slice(), [Action::Timeout, Action::Terminated]);
        assert_eq!(log.len(), 7);
        assert!(log[..6]
            .iter()
            .all(|(_, a)| a.as_slice() == [Action::Send(b("INVITE"))]));
        assert_eq!(m.state(), S::Terminated);
        assert_eq!(m.failure(), Some(TransactionError::TimerB));
        assert_eq!(m.next_deadline(), None);
    }

    #[test]
    fn reliable_never_retransmits_but_b_fires() {
        let t0 = Instant::now();
        let (mut m, _) = ClientInvite::new(
            b("INVITE"),
            Reliability::Reliable,
            TimerConfig::default(),
            t0,
        );
        assert_eq!(m.next_deadline(), Some(t0 + ms(32_000)));
        let log = run_until(&mut m, t0, ms(60_000));
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].0, ms(32_000));
        assert_eq!(log[0].1.as_slice(), [Action::Timeout, Action::Terminated]);
    }

    #[test]
    fn a_and_b_at_same_instant_b_wins() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        // Owner oversleeps past every A firing and B.
        let acts = m.on_timer(t0 + ms(40_000));
        assert_eq!(acts.as_slice(), [Action::Timeout, Action::Terminated]);
        assert!(m.on_timer(t0 + ms(50_000)).is_empty());
    }

    #[test]
    fn provisional_stops_a_and_b() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        m.on_timer(t0 + ms(500));
        let acts = m.on_response(180, t0 + ms(700), || unreachable!());
        assert_eq!(acts.as_slice(), [Action::Deliver]);
        assert_eq!(m.state(), S::Proceeding);
        assert_eq!(m.next_deadline(), None);
        assert!(m.on_timer(t0 + ms(100_000)).is_empty());
        assert_eq!(
            m.on_response(183, t0 + ms(800), || unreachable!())
                .as_slice(),
            [Action::Deliver]
        );
    }

    #[test]
    fn non_2xx_final_builds_one_ack_and_resends_it() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        m.on_response(100, t0 + ms(100), || unreachable!());
        let calls = Cell::new(0);
        let mk = || {
            calls.set(calls.get() + 1);
            b("ACK")
        };
        let acts = m.on_response(486, t0 + ms(1000), mk);
        assert_eq!(acts.as_slice(), [Action::Send(b("ACK")), Action::Deliver]);
        assert_eq!(m.state(), S::Completed);
        for i in 0..3 {
            let acts = m.on_response(486, t0 + ms(1100 + i), || {
                calls.set(calls.get() + 1);
                b("ACK2")
            });
            assert_eq!(acts.as_slice(), [Action::Send(b("ACK"))]);
        }
        assert_eq!(calls.get(), 1);
        // A 2xx or 1xx after the final is ignored.
        assert!(m.on_response(200, t0 + ms(1200), || b("x")).is_empty());
        assert!(m.on_response(180, t0 + ms(1200), || b("x")).is_empty());
        // Timer D: 32 s after the final.
        assert_eq!(m.next_deadline(), Some(t0 + ms(33_000)));
        assert!(m.on_timer(t0 + ms(32_999)).is_empty());
        assert_eq!(m.on_timer(t0 + ms(33_000)).as_slice(), [Action::Terminated]);
        assert!(m.is_terminated());
        assert_eq!(m.failure(), None);
        assert!(m.on_response(486, t0 + ms(34_000), || b("x")).is_empty());
    }

    #[test]
    fn reliable_non_2xx_terminates_at_once() {
        let t0 = Instant::now();
        let (mut m, _) = ClientInvite::new(
            b("INVITE"),
            Reliability::Reliable,
            TimerConfig::default(),
            t0,
        );
        let acts = m.on_response(503, t0 + ms(10), || b("ACK"));
        assert_eq!(
            acts.as_slice(),
            [Action::Send(b("ACK")), Action::Deliver, Action::Terminated]
        );
        assert!(m.is_terminated());
        assert_eq!(m.next_deadline(), None);
    }

    #[test]
    fn two_xx_goes_accepted_delivers_retransmits_then_timer_m() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        let acts = m.on_response(200, t0 + ms(2000), || unreachable!());
        assert_eq!(acts.as_slice(), [Action::Deliver]);
        assert_eq!(m.state(), S::Accepted);
        assert_eq!(m.next_deadline(), Some(t0 + ms(34_000)));
        assert_eq!(
            m.on_response(200, t0 + ms(2500), || unreachable!())
                .as_slice(),
            [Action::Deliver]
        );
        assert!(m
            .on_response(486, t0 + ms(2600), || unreachable!())
            .is_empty());
        assert!(m
            .on_response(180, t0 + ms(2600), || unreachable!())
            .is_empty());
        // No retransmission of the INVITE in Accepted, even past old Timer A.
        assert!(m.on_timer(t0 + ms(3500)).is_empty());
        assert!(m.on_transport_error().is_empty());
        assert_eq!(m.on_timer(t0 + ms(34_000)).as_slice(), [Action::Terminated]);
        assert!(m
            .on_response(200, t0 + ms(35_000), || unreachable!())
            .is_empty());
    }

    #[test]
    fn transport_error_depends_on_state() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert_eq!(
            m.on_transport_error().as_slice(),
            [Action::Timeout, Action::Terminated]
        );
        assert_eq!(m.failure(), Some(TransactionError::Transport));
        assert!(m.on_transport_error().is_empty());

        let mut m = udp(t0);
        m.on_response(404, t0, || b("ACK"));
        assert_eq!(m.on_transport_error().as_slice(), [Action::Terminated]);
        assert_eq!(m.failure(), None);
    }

    #[test]
    fn out_of_range_codes_ignored() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert!(m.on_response(99, t0, || unreachable!()).is_empty());
        assert!(m.on_response(700, t0, || unreachable!()).is_empty());
        assert_eq!(m.state(), S::Calling);
        assert_eq!(m.request(), &b("INVITE"));
    }

    #[test]
    fn custom_timers_scale() {
        let cfg = TimerConfig {
            t1: ms(100),
            t2: ms(200),
            t4: ms(300),
        };
        let t0 = Instant::now();
        let (mut m, _) = ClientInvite::new(b("INVITE"), Reliability::Unreliable, cfg, t0);
        let log = run_until(&mut m, t0, ms(60_000));
        assert_eq!(send_times(&log), [100, 300, 700, 1500, 3100, 6300]);
        assert_eq!(log.last().unwrap().0, ms(6400));

        let (mut m, _) = ClientInvite::new(b("INVITE"), Reliability::Unreliable, cfg, t0);
        m.on_response(500, t0 + ms(50), || b("ACK"));
        assert_eq!(m.next_deadline(), Some(t0 + ms(6450)));
    }

    /// Drives the machine the way the owner task does, on the tokio timer.
    #[tokio::test(start_paused = true)]
    async fn owner_loop_retransmits_until_timer_b() {
        let t0 = Instant::now();
        let (mut m, _) = ClientInvite::new(b("INVITE"), Reliability::Unreliable, fast(), t0);
        let log = owner_loop(&mut m, t0, &[]).await;
        let send = || Action::Send(b("INVITE"));
        assert_eq!(
            log,
            [
                (10, send()),
                (30, send()),
                (70, send()),
                (150, send()),
                (310, send()),
                (630, send()),
                (640, Action::Timeout),
                (640, Action::Terminated),
            ]
        );
        assert!(Instant::now() - t0 >= ms(640));
    }

    #[tokio::test(start_paused = true)]
    async fn owner_loop_final_then_timer_d() {
        let t0 = Instant::now();
        let (mut m, _) = ClientInvite::new(b("INVITE"), Reliability::Unreliable, fast(), t0);
        let script: [Event<ClientInvite>; 3] = [
            (ms(20), |m, now| m.on_response(180, now, || b("never"))),
            (ms(50), |m, now| m.on_response(486, now, || b("ACK"))),
            (ms(60), |m, now| m.on_response(486, now, || b("never"))),
        ];
        let log = owner_loop(&mut m, t0, &script).await;
        assert_eq!(
            log,
            [
                (10, Action::Send(b("INVITE"))),
                (20, Action::Deliver),
                (50, Action::Send(b("ACK"))),
                (50, Action::Deliver),
                (60, Action::Send(b("ACK"))),
                (690, Action::Terminated),
            ]
        );
    }
}
