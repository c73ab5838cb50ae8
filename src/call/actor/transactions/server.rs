//! One request received on a leg, as the call keeps it: its server
//! transaction (RFC 3261 §17.2), the branch and target it was matched and is
//! answered by, and the 2xx retransmission of an INVITE (§13.3.1.4).

use bytes::Bytes;
use tokio::time::Instant;

use crate::sip::{Message, Method};
use crate::transaction::{
    Action, Actions, Reliability, Retransmit2xx, ServerInvite, ServerNonInvite, TimerConfig,
};
use crate::transport::Target;

use super::{min_opt, reliability};
use crate::call::actor::dialog::Leg;
use crate::call::hub::Arrival;
use crate::call::respond::{fixed_top_via, response_target, top_via_raw};

pub enum ServerKind {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

/// A request received on one leg and not yet (or just) answered.
pub struct ServerTx {
    pub id: u32,
    pub side: Leg,
    pub branch: Bytes,
    pub method: Method,
    pub cseq: u32,
    pub req: Message,
    /// The request's top Via with received/rport filled in, for our responses.
    pub top_via: Bytes,
    /// Where responses go (§18.2.2).
    pub target: Target,
    pub tx: ServerKind,
    /// 2xx retransmission until the ACK arrives (§13.3.1.4), INVITE only.
    pub r2xx: Option<Retransmit2xx>,
}

impl ServerTx {
    /// A server transaction for a request that just arrived on `side`: parses
    /// the top Via once for the branch, the fixed Via of our responses and
    /// their target (§17.2.3, §18.2.2).
    pub fn new(
        id: u32,
        side: Leg,
        req: Message,
        meta: &Arrival,
        timers: TimerConfig,
        now: Instant,
    ) -> ServerTx {
        let via = req.via_top().ok();
        let method = req.method().cloned().unwrap_or(Method::Options);
        let rel = reliability(meta.kind);
        let tx = if method == Method::Invite {
            ServerKind::Invite(ServerInvite::new(rel, timers, now))
        } else {
            ServerKind::NonInvite(ServerNonInvite::new(rel, timers, now))
        };
        ServerTx {
            id,
            side,
            branch: via.as_ref().and_then(|v| v.branch()).unwrap_or_default(),
            method,
            cseq: req.cseq().map(|c| c.seq).unwrap_or(0),
            top_via: fixed_top_via(&top_via_raw(&req), via.as_ref(), meta.source),
            target: response_target(via.as_ref(), meta),
            tx,
            req,
            r2xx: None,
        }
    }

    pub fn terminated(&self) -> bool {
        let tx_done = match &self.tx {
            ServerKind::Invite(t) => t.is_terminated(),
            ServerKind::NonInvite(t) => t.is_terminated(),
        };
        tx_done && self.r2xx.as_ref().is_none_or(|r| r.is_terminated())
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let a = match &self.tx {
            ServerKind::Invite(t) => t.next_deadline(),
            ServerKind::NonInvite(t) => t.next_deadline(),
        };
        min_opt(a, self.r2xx.as_ref().and_then(|r| r.next_deadline()))
    }

    /// True once a final response went out.
    pub fn answered(&self) -> bool {
        match &self.tx {
            ServerKind::Invite(t) => t.final_code().is_some(),
            ServerKind::NonInvite(t) => t.final_code().is_some(),
        }
    }

    /// The status a send of this transaction is counted under.
    pub fn final_or_provisional_code(&self) -> u16 {
        match &self.tx {
            ServerKind::Invite(t) => t.final_code().unwrap_or(180),
            ServerKind::NonInvite(_) => 200,
        }
    }

    /// The transaction's timers at `now`: its actions, and whether the 2xx
    /// went unacknowledged for 64*T1 (§13.3.1.4: the call is hung up).
    pub fn on_timer(&mut self, now: Instant) -> (Actions, bool) {
        let mut acts = match &mut self.tx {
            ServerKind::Invite(t) => t.on_timer(now),
            ServerKind::NonInvite(t) => t.on_timer(now),
        };
        let mut ack_timeout = false;
        if let Some(r) = self.r2xx.as_mut() {
            for a in r.on_timer(now) {
                match a {
                    Action::Timeout => ack_timeout = true,
                    other => acts.push(other),
                }
            }
        }
        (acts, ack_timeout)
    }

    /// Our response `code` to the request: a provisional or final on an
    /// INVITE (a 2xx is then retransmitted until its ACK, §13.3.1.4), the
    /// response of a non-INVITE.
    pub fn respond(
        &mut self,
        code: u16,
        bytes: Bytes,
        rel: Reliability,
        timers: TimerConfig,
        now: Instant,
    ) -> Actions {
        match &mut self.tx {
            ServerKind::Invite(t) if code < 200 => t.send_provisional(bytes),
            ServerKind::Invite(t) => {
                let acts = t.send_final(code, bytes.clone(), now);
                if (200..300).contains(&code) && !acts.is_empty() {
                    self.r2xx = Some(Retransmit2xx::new(bytes, rel, timers, now));
                }
                acts
            }
            ServerKind::NonInvite(t) => t.send_response(code, bytes, now),
        }
    }
}
