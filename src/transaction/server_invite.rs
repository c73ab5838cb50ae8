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
mod tests;
