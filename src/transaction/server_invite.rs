//! RFC 3261 §17.2.1 server INVITE transaction, with the RFC 6026 §7.1
//! "Accepted" state: the A leg of a call, toward the PBX.

use bytes::Bytes;
use tokio::time::Instant;

use super::timers::{earliest, expired, Backoff};
use super::{one, timed_out, Action, Actions, Reliability, TimerConfig, TransactionError};

/// RFC 3261 figure 7 as amended by RFC 6026 figure 7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerInviteState {
    /// INVITE received, no final response yet.
    Proceeding,
    /// RFC 6026: a 2xx was sent; Timer L runs, the ACK goes to the TU.
    Accepted,
    /// A 300-699 was sent; Timers G (UDP) and H run until the ACK.
    Completed,
    /// The ACK for the 300-699 arrived; Timer I absorbs its retransmissions.
    Confirmed,
    /// Over.
    Terminated,
}

/// Server INVITE transaction (sans-IO). RFC 3261 §17.2.1 says it sends
/// 100 Trying unless the TU answers within 200 ms: here the TU does that
/// through [`Self::send_provisional`].
#[derive(Debug)]
pub struct ServerInvite {
    state: ServerInviteState,
    rel: Reliability,
    cfg: TimerConfig,
    last_provisional: Option<Bytes>,
    final_response: Option<(u16, Bytes)>,
    timer_g: Option<Backoff>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
    /// In Accepted, the first ACK went to the TU.
    ack_delivered: bool,
    failure: Option<TransactionError>,
}

impl ServerInvite {
    /// A new INVITE arrived: the transaction starts in Proceeding.
    pub fn new(rel: Reliability, cfg: TimerConfig, _now: Instant) -> Self {
        Self {
            state: ServerInviteState::Proceeding,
            rel,
            cfg,
            last_provisional: None,
            final_response: None,
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
            ack_delivered: false,
            failure: None,
        }
    }

    /// The TU sends a 1xx: `[Send(resp)]` in Proceeding, and the response is
    /// remembered for retransmitted INVITEs. Ignored (empty) in other states.
    pub fn send_provisional(&mut self, resp: Bytes) -> Actions {
        if self.state != ServerInviteState::Proceeding {
            return Actions::new();
        }
        self.last_provisional = Some(resp.clone());
        one(Action::Send(resp))
    }

    /// The TU sends its final response, only possible once, in Proceeding.
    ///
    /// - 2xx -> Accepted (RFC 6026: Timer L = 64*T1), `[Send(resp)]`. The
    ///   2xx is not retransmitted here: that is the TU core's job (§13.3.1.4,
    ///   see [`super::Retransmit2xx`]).
    /// - 300-699 -> Completed, `[Send(resp)]`, Timer G (UDP: T1, doubling,
    ///   capped at T2) and Timer H (64*T1).
    ///
    /// A second final response, or a `code` outside 200-699, is refused:
    /// empty actions, state unchanged, nothing sent.
    pub fn send_final(&mut self, code: u16, resp: Bytes, now: Instant) -> Actions {
        if self.state != ServerInviteState::Proceeding || !(200..=699).contains(&code) {
            return Actions::new();
        }
        if code < 300 {
            self.state = ServerInviteState::Accepted;
            self.timer_l = Some(now + self.cfg.timer_l());
        } else {
            self.state = ServerInviteState::Completed;
            self.timer_g = match self.rel {
                Reliability::Unreliable => {
                    Some(Backoff::new(now, self.cfg.timer_g(), Some(self.cfg.t2)))
                }
                Reliability::Reliable => None,
            };
            self.timer_h = Some(now + self.cfg.timer_h());
        }
        self.final_response = Some((code, resp.clone()));
        one(Action::Send(resp))
    }

    /// The peer retransmitted the INVITE (absorbed, never delivered).
    /// Proceeding -> `[Send(last provisional)]` if one was sent;
    /// Completed -> `[Send(final)]`; Accepted/Confirmed -> `[]`.
    pub fn on_request_retransmit(&mut self, _now: Instant) -> Actions {
        let resend = match self.state {
            ServerInviteState::Proceeding => self.last_provisional.clone(),
            ServerInviteState::Completed => self.final_response.as_ref().map(|(_, r)| r.clone()),
            _ => None,
        };
        resend.map(|r| one(Action::Send(r))).unwrap_or_default()
    }

    /// An ACK arrived. Completed -> Confirmed, Timers G and H stop, Timer I
    /// (T4 on UDP) starts, `[]`; over a reliable transport Timer I is zero:
    /// `[Terminated]`. Confirmed -> `[]` (retransmitted ACK absorbed).
    /// Accepted -> `[Deliver]` for the first ACK: the ACK for a 2xx belongs
    /// to the TU (§13.3.1.4, it stops [`super::Retransmit2xx`]); later copies
    /// (sent by the peer for each 2xx retransmission that crossed it) are
    /// absorbed. Otherwise `[]`.
    pub fn on_ack(&mut self, now: Instant) -> Actions {
        match self.state {
            ServerInviteState::Completed => {
                self.timer_g = None;
                self.timer_h = None;
                match self.rel {
                    Reliability::Unreliable => {
                        self.state = ServerInviteState::Confirmed;
                        self.timer_i = Some(now + self.cfg.timer_i(self.rel));
                        Actions::new()
                    }
                    Reliability::Reliable => self.terminated(),
                }
            }
            ServerInviteState::Accepted if !self.ack_delivered => {
                self.ack_delivered = true;
                one(Action::Deliver)
            }
            _ => Actions::new(),
        }
    }

    /// Handles every timer expired at `now`; safe to call early. Timer H wins
    /// over Timer G at the same instant: H -> `[Timeout, Terminated]`;
    /// G -> `[Send(final)]`; I, L -> `[Terminated]`.
    pub fn on_timer(&mut self, now: Instant) -> Actions {
        match self.state {
            ServerInviteState::Completed if expired(self.timer_h, now) => {
                self.failure = Some(TransactionError::TimerH);
                self.terminate();
                timed_out()
            }
            ServerInviteState::Completed if self.timer_g.as_mut().is_some_and(|g| g.fire(now)) => {
                match &self.final_response {
                    Some((_, resp)) => one(Action::Send(resp.clone())),
                    None => Actions::new(),
                }
            }
            ServerInviteState::Confirmed if expired(self.timer_i, now) => self.terminated(),
            ServerInviteState::Accepted if expired(self.timer_l, now) => self.terminated(),
            _ => Actions::new(),
        }
    }

    /// The transport failed to send one of our responses (RFC 3261 §17.2.1
    /// "inform the TU"). Proceeding, Completed, Accepted ->
    /// `[Timeout, Terminated]`: the peer is unreachable and no ACK will come.
    /// Confirmed -> ignored (nothing is sent there).
    pub fn on_transport_error(&mut self) -> Actions {
        match self.state {
            ServerInviteState::Proceeding
            | ServerInviteState::Completed
            | ServerInviteState::Accepted => {
                self.failure = Some(TransactionError::Transport);
                self.terminate();
                timed_out()
            }
            ServerInviteState::Confirmed | ServerInviteState::Terminated => Actions::new(),
        }
    }

    /// When the owner must next call [`Self::on_timer`]; `None` in
    /// Proceeding (the TU owes a response) and once terminated.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            ServerInviteState::Completed => {
                earliest([self.timer_g.map(|g| g.deadline()), self.timer_h])
            }
            ServerInviteState::Confirmed => self.timer_i,
            ServerInviteState::Accepted => self.timer_l,
            ServerInviteState::Proceeding | ServerInviteState::Terminated => None,
        }
    }

    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerInviteState::Terminated
    }

    /// The status code of the final response sent, if any.
    pub fn final_code(&self) -> Option<u16> {
        self.final_response.as_ref().map(|(c, _)| *c)
    }

    /// Why [`Action::Timeout`] was emitted, if it was.
    pub fn failure(&self) -> Option<TransactionError> {
        self.failure
    }

    fn terminate(&mut self) {
        self.state = ServerInviteState::Terminated;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
    }

    fn terminated(&mut self) -> Actions {
        self.terminate();
        one(Action::Terminated)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{b, fast, ms, owner_loop, run_until, send_times, Event};
    use super::*;
    use ServerInviteState as S;

    fn udp(t0: Instant) -> ServerInvite {
        ServerInvite::new(Reliability::Unreliable, TimerConfig::default(), t0)
    }

    #[test]
    fn retransmitted_invite_resends_last_provisional() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert!(m.on_request_retransmit(t0).is_empty());
        assert_eq!(
            m.send_provisional(b("100")).as_slice(),
            [Action::Send(b("100"))]
        );
        assert_eq!(
            m.on_request_retransmit(t0 + ms(500)).as_slice(),
            [Action::Send(b("100"))]
        );
        m.send_provisional(b("180"));
        assert_eq!(
            m.on_request_retransmit(t0 + ms(1500)).as_slice(),
            [Action::Send(b("180"))]
        );
        assert_eq!(m.next_deadline(), None);
        assert_eq!(m.state(), S::Proceeding);
    }

    #[test]
    fn timer_g_capped_at_t2_then_h_times_out() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert_eq!(
            m.send_final(486, b("486"), t0).as_slice(),
            [Action::Send(b("486"))]
        );
        assert_eq!(m.state(), S::Completed);
        assert_eq!(m.final_code(), Some(486));
        assert!(m.on_timer(t0 + ms(499)).is_empty());
        let log = run_until(&mut m, t0, ms(60_000));
        // Intervals 0.5, 1, 2, 4, 4, 4, ...
        assert_eq!(
            send_times(&log),
            [500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
        );
        assert!(log[..10]
            .iter()
            .all(|(_, a)| a.as_slice() == [Action::Send(b("486"))]));
        assert_eq!(log.len(), 11);
        assert_eq!(log[10].0, ms(32_000));
        assert_eq!(log[10].1.as_slice(), [Action::Timeout, Action::Terminated]);
        assert_eq!(m.failure(), Some(TransactionError::TimerH));
    }

    #[test]
    fn retransmitted_invite_in_completed_resends_final() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        m.send_provisional(b("180"));
        m.send_final(404, b("404"), t0);
        assert_eq!(
            m.on_request_retransmit(t0 + ms(10)).as_slice(),
            [Action::Send(b("404"))]
        );
        // The provisional is not sent any more.
        assert!(m.send_provisional(b("183")).is_empty());
    }

    #[test]
    fn ack_confirms_then_timer_i() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        m.send_final(603, b("603"), t0);
        m.on_timer(t0 + ms(500));
        assert!(m.on_ack(t0 + ms(1000)).is_empty());
        assert_eq!(m.state(), S::Confirmed);
        assert_eq!(m.next_deadline(), Some(t0 + ms(6000)));
        // G no longer fires, retransmitted INVITE and ACK are absorbed.
        assert!(m.on_timer(t0 + ms(1500)).is_empty());
        assert!(m.on_ack(t0 + ms(1600)).is_empty());
        assert!(m.on_request_retransmit(t0 + ms(1600)).is_empty());
        assert!(m.on_transport_error().is_empty());
        assert!(m.on_timer(t0 + ms(5999)).is_empty());
        assert_eq!(m.on_timer(t0 + ms(6000)).as_slice(), [Action::Terminated]);
        assert!(m.is_terminated());
    }

    #[test]
    fn reliable_no_g_and_ack_terminates_at_once() {
        let t0 = Instant::now();
        let mut m = ServerInvite::new(Reliability::Reliable, TimerConfig::default(), t0);
        m.send_final(480, b("480"), t0);
        assert_eq!(m.next_deadline(), Some(t0 + ms(32_000)));
        assert_eq!(m.on_ack(t0 + ms(100)).as_slice(), [Action::Terminated]);

        let mut m = ServerInvite::new(Reliability::Reliable, TimerConfig::default(), t0);
        m.send_final(480, b("480"), t0);
        let log = run_until(&mut m, t0, ms(60_000));
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].1.as_slice(), [Action::Timeout, Action::Terminated]);
    }

    #[test]
    fn two_xx_accepted_ack_delivered_once_then_timer_l() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        m.send_provisional(b("180"));
        assert_eq!(
            m.send_final(200, b("200"), t0 + ms(1000)).as_slice(),
            [Action::Send(b("200"))]
        );
        assert_eq!(m.state(), S::Accepted);
        assert_eq!(m.next_deadline(), Some(t0 + ms(33_000)));
        // INVITE retransmissions absorbed, not answered (the TU retransmits 2xx).
        assert!(m.on_request_retransmit(t0 + ms(1200)).is_empty());
        // No G in Accepted.
        assert!(m.on_timer(t0 + ms(1500)).is_empty());
        assert_eq!(m.on_ack(t0 + ms(1300)).as_slice(), [Action::Deliver]);
        assert!(m.on_ack(t0 + ms(1400)).is_empty());
        assert_eq!(m.state(), S::Accepted);
        assert_eq!(m.on_timer(t0 + ms(33_000)).as_slice(), [Action::Terminated]);
    }

    #[test]
    fn second_final_and_bad_codes_refused() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert!(m.send_final(180, b("180"), t0).is_empty());
        assert!(m.send_final(700, b("700"), t0).is_empty());
        assert_eq!(m.state(), S::Proceeding);
        m.send_final(200, b("200"), t0);
        assert!(m.send_final(500, b("500"), t0).is_empty());
        assert!(m.send_final(200, b("200bis"), t0).is_empty());
        assert_eq!(m.final_code(), Some(200));
        assert_eq!(m.state(), S::Accepted);
    }

    #[test]
    fn transport_error_informs_tu() {
        let t0 = Instant::now();
        for final_code in [None, Some(200), Some(500)] {
            let mut m = udp(t0);
            if let Some(c) = final_code {
                m.send_final(c, b("resp"), t0);
            }
            assert_eq!(
                m.on_transport_error().as_slice(),
                [Action::Timeout, Action::Terminated]
            );
            assert_eq!(m.failure(), Some(TransactionError::Transport));
            assert_eq!(m.next_deadline(), None);
        }
    }

    #[test]
    fn custom_timers_scale() {
        let cfg = TimerConfig {
            t1: ms(100),
            t2: ms(300),
            t4: ms(1000),
        };
        let t0 = Instant::now();
        let mut m = ServerInvite::new(Reliability::Unreliable, cfg, t0);
        m.send_final(500, b("500"), t0);
        let log = run_until(&mut m, t0, ms(60_000));
        let sends = send_times(&log);
        assert_eq!(sends[..6], [100, 300, 600, 900, 1200, 1500]);
        assert_eq!(sends.last(), Some(&6300));
        assert_eq!(log.last().unwrap().0, ms(6400));

        let mut m = ServerInvite::new(Reliability::Unreliable, cfg, t0);
        m.send_final(500, b("500"), t0);
        m.on_ack(t0 + ms(150));
        assert_eq!(m.next_deadline(), Some(t0 + ms(1150)));
    }

    #[tokio::test(start_paused = true)]
    async fn owner_loop_g_until_ack_then_timer_i() {
        let t0 = Instant::now();
        let mut m = ServerInvite::new(Reliability::Unreliable, fast(), t0);
        m.send_provisional(b("100"));
        let script: [Event<ServerInvite>; 4] = [
            (ms(5), |m, now| m.send_final(486, b("486"), now)),
            (ms(50), |m, now| m.on_request_retransmit(now)),
            (ms(100), |m, now| m.on_ack(now)),
            (ms(110), |m, now| m.on_ack(now)),
        ];
        let log = owner_loop(&mut m, t0, &script).await;
        let send = || Action::Send(b("486"));
        assert_eq!(
            log,
            [
                (5, send()),
                (15, send()),
                (35, send()),
                (50, send()),
                (75, send()),
                (200, Action::Terminated),
            ]
        );
        assert_eq!(m.failure(), None);
    }
}
