//! RFC 3261 §17.2.2 server non-INVITE transaction (BYE, CANCEL, OPTIONS ...
//! received by the gateway).

use bytes::Bytes;
use tokio::time::Instant;

use super::timers::expired;
use super::{one, timed_out, Action, Actions, Reliability, TimerConfig, TransactionError};

/// RFC 3261 figure 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// Request received, the TU has not answered.
    Trying,
    /// The TU sent a 1xx.
    Proceeding,
    /// The TU sent a final; Timer J absorbs request retransmissions.
    Completed,
    /// Over.
    Terminated,
}

/// Server non-INVITE transaction (sans-IO).
#[derive(Debug)]
pub struct ServerNonInvite {
    state: ServerNonInviteState,
    rel: Reliability,
    cfg: TimerConfig,
    last_response: Option<(u16, Bytes)>,
    timer_j: Option<Instant>,
    failure: Option<TransactionError>,
}

impl ServerNonInvite {
    /// A new request arrived: the transaction starts in Trying.
    pub fn new(rel: Reliability, cfg: TimerConfig, _now: Instant) -> Self {
        Self {
            state: ServerNonInviteState::Trying,
            rel,
            cfg,
            last_response: None,
            timer_j: None,
            failure: None,
        }
    }

    /// The TU responds. Trying/Proceeding: 1xx -> Proceeding, `[Send(resp)]`;
    /// 200-699 -> Completed, `[Send(resp)]`, Timer J (64*T1 on UDP; zero on a
    /// reliable transport: `[Send(resp), Terminated]`). Refused (empty) once
    /// a final was sent, and for codes outside 100-699.
    pub fn send_response(&mut self, code: u16, resp: Bytes, now: Instant) -> Actions {
        use ServerNonInviteState as S;
        if !matches!(self.state, S::Trying | S::Proceeding) || !(100..=699).contains(&code) {
            return Actions::new();
        }
        self.last_response = Some((code, resp.clone()));
        let mut out = one(Action::Send(resp));
        if code < 200 {
            self.state = S::Proceeding;
        } else {
            match self.rel {
                Reliability::Unreliable => {
                    self.state = S::Completed;
                    self.timer_j = Some(now + self.cfg.timer_j(self.rel));
                }
                Reliability::Reliable => {
                    self.state = S::Terminated;
                    out.push(Action::Terminated);
                }
            }
        }
        out
    }

    /// The peer retransmitted the request (absorbed, never delivered).
    /// Trying -> `[]`; Proceeding/Completed -> `[Send(last response)]`.
    pub fn on_request_retransmit(&mut self, _now: Instant) -> Actions {
        match (self.state, &self.last_response) {
            (ServerNonInviteState::Proceeding | ServerNonInviteState::Completed, Some((_, r))) => {
                one(Action::Send(r.clone()))
            }
            _ => Actions::new(),
        }
    }

    /// J -> `[Terminated]`; safe to call early.
    pub fn on_timer(&mut self, now: Instant) -> Actions {
        if self.state == ServerNonInviteState::Completed && expired(self.timer_j, now) {
            self.terminate();
            return one(Action::Terminated);
        }
        Actions::new()
    }

    /// The transport failed to send a response (RFC 3261 §17.2.2 "inform the
    /// TU"): Proceeding/Completed -> `[Timeout, Terminated]`; Trying ->
    /// ignored (nothing was sent).
    pub fn on_transport_error(&mut self) -> Actions {
        match self.state {
            ServerNonInviteState::Proceeding | ServerNonInviteState::Completed => {
                self.failure = Some(TransactionError::Transport);
                self.terminate();
                timed_out()
            }
            ServerNonInviteState::Trying | ServerNonInviteState::Terminated => Actions::new(),
        }
    }

    /// When the owner must next call [`Self::on_timer`]: Timer J in
    /// Completed, else `None`.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            ServerNonInviteState::Completed => self.timer_j,
            _ => None,
        }
    }

    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerNonInviteState::Terminated
    }

    /// The last response sent (re-sent on a retransmitted request), if any.
    pub fn last_response(&self) -> Option<&Bytes> {
        self.last_response.as_ref().map(|(_, r)| r)
    }

    /// The status code of the final response sent, if any.
    pub fn final_code(&self) -> Option<u16> {
        self.last_response
            .as_ref()
            .map(|(c, _)| *c)
            .filter(|c| *c >= 200)
    }

    /// Why [`Action::Timeout`] was emitted, if it was.
    pub fn failure(&self) -> Option<TransactionError> {
        self.failure
    }

    fn terminate(&mut self) {
        self.state = ServerNonInviteState::Terminated;
        self.timer_j = None;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{b, ms};
    use super::*;
    use ServerNonInviteState as S;

    fn udp(t0: Instant) -> ServerNonInvite {
        ServerNonInvite::new(Reliability::Unreliable, TimerConfig::default(), t0)
    }

    #[test]
    fn retransmits_absorbed_by_resending_last_response_then_timer_j() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert!(m.on_request_retransmit(t0).is_empty());
        assert_eq!(m.next_deadline(), None);
        assert_eq!(
            m.send_response(100, b("100"), t0).as_slice(),
            [Action::Send(b("100"))]
        );
        assert_eq!(m.state(), S::Proceeding);
        assert_eq!(m.final_code(), None);
        assert_eq!(
            m.on_request_retransmit(t0 + ms(500)).as_slice(),
            [Action::Send(b("100"))]
        );
        assert_eq!(
            m.send_response(200, b("200"), t0 + ms(1000)).as_slice(),
            [Action::Send(b("200"))]
        );
        assert_eq!(m.state(), S::Completed);
        assert_eq!(m.final_code(), Some(200));
        for i in 0..3 {
            assert_eq!(
                m.on_request_retransmit(t0 + ms(1500 + i)).as_slice(),
                [Action::Send(b("200"))]
            );
        }
        assert!(m.send_response(500, b("500"), t0 + ms(2000)).is_empty());
        assert_eq!(m.next_deadline(), Some(t0 + ms(33_000)));
        assert!(m.on_timer(t0 + ms(32_999)).is_empty());
        assert_eq!(m.on_timer(t0 + ms(33_000)).as_slice(), [Action::Terminated]);
        assert!(m.is_terminated());
        assert!(m.on_request_retransmit(t0 + ms(33_001)).is_empty());
        assert!(m.on_timer(t0 + ms(40_000)).is_empty());
    }

    #[test]
    fn reliable_final_terminates_at_once() {
        let t0 = Instant::now();
        let mut m = ServerNonInvite::new(Reliability::Reliable, TimerConfig::default(), t0);
        assert_eq!(
            m.send_response(481, b("481"), t0).as_slice(),
            [Action::Send(b("481")), Action::Terminated]
        );
        assert_eq!(m.next_deadline(), None);
        assert_eq!(m.final_code(), Some(481));
    }

    #[test]
    fn custom_t1_scales_timer_j() {
        let cfg = TimerConfig {
            t1: ms(50),
            t2: ms(400),
            t4: ms(100),
        };
        let t0 = Instant::now();
        let mut m = ServerNonInvite::new(Reliability::Unreliable, cfg, t0);
        m.send_response(200, b("200"), t0);
        assert_eq!(m.next_deadline(), Some(t0 + ms(3200)));
    }

    #[test]
    fn bad_code_refused_and_transport_error() {
        let t0 = Instant::now();
        let mut m = udp(t0);
        assert!(m.send_response(99, b("x"), t0).is_empty());
        assert!(m.on_transport_error().is_empty());
        assert_eq!(m.state(), S::Trying);
        m.send_response(200, b("200"), t0);
        assert_eq!(
            m.on_transport_error().as_slice(),
            [Action::Timeout, Action::Terminated]
        );
        assert_eq!(m.failure(), Some(TransactionError::Transport));
        assert_eq!(m.next_deadline(), None);
    }
}
