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
mod tests;
