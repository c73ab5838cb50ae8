//! One request we sent on a leg, as the call keeps it: its client
//! transaction (RFC 3261 §17.1), why we sent it, and the ACK of its 2xx.

use bytes::Bytes;
use tokio::time::Instant;

use crate::sip::{HeaderName, Message, MessageBuilder, Method, ParseOptions};
use crate::transaction::{Actions, ClientInvite, ClientNonInvite, TimerConfig};
use crate::transport::Target;

use super::{reliability, NewRequest};
use crate::call::actor::dialog::Leg;

pub enum ClientKind {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

/// Why we sent a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    /// The call's INVITE toward the carrier (one per attempt).
    Initial,
    /// CANCEL of the B leg's INVITE.
    Cancel,
    /// A request relayed from the other leg; responses go back to that server transaction.
    Relay { from: Leg, server: u32 },
    /// A request we originate (BYE on ACK timeout, BYE of an unwanted 2xx).
    Local,
}

pub struct ClientTx {
    pub id: u32,
    pub side: Leg,
    pub branch: Bytes,
    pub method: Method,
    pub cseq: u32,
    pub target: Target,
    pub tx: ClientKind,
    pub role: Role,
    /// The request had a body (so a 2xx's ACK carries none and can go at once).
    pub had_body: bool,
    /// To tag of the 2xx we accepted, and the ACK we sent for it (re-sent on retransmissions).
    pub acked: Option<(Option<Bytes>, Bytes)>,
}

impl ClientTx {
    /// A client transaction for `req`, sent to `target`; the actions are its first send.
    pub fn new(
        id: u32,
        side: Leg,
        target: Target,
        req: NewRequest,
        timers: TimerConfig,
        now: Instant,
    ) -> (ClientTx, Actions) {
        let NewRequest {
            method,
            branch,
            cseq,
            bytes,
            role,
            had_body,
        } = req;
        let rel = reliability(target.kind);
        let (tx, acts) = if method == Method::Invite {
            let (t, a) = ClientInvite::new(bytes, rel, timers, now);
            (ClientKind::Invite(t), a)
        } else {
            let (t, a) = ClientNonInvite::new(bytes, rel, timers, now);
            (ClientKind::NonInvite(t), a)
        };
        let c = ClientTx {
            id,
            side,
            branch,
            method,
            cseq,
            target,
            tx,
            role,
            had_body,
            acked: None,
        };
        (c, acts)
    }

    pub fn terminated(&self) -> bool {
        match &self.tx {
            ClientKind::Invite(t) => t.is_terminated(),
            ClientKind::NonInvite(t) => t.is_terminated(),
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.tx {
            ClientKind::Invite(t) => t.next_deadline(),
            ClientKind::NonInvite(t) => t.next_deadline(),
        }
    }

    pub fn request(&self) -> Option<&Bytes> {
        match &self.tx {
            ClientKind::Invite(t) => Some(t.request()),
            ClientKind::NonInvite(_) => None,
        }
    }

    pub fn on_timer(&mut self, now: Instant) -> Actions {
        match &mut self.tx {
            ClientKind::Invite(t) => t.on_timer(now),
            ClientKind::NonInvite(t) => t.on_timer(now),
        }
    }

    pub fn on_transport_error(&mut self) -> Actions {
        match &mut self.tx {
            ClientKind::Invite(t) => t.on_transport_error(),
            ClientKind::NonInvite(t) => t.on_transport_error(),
        }
    }

    /// A response `code` to our request; an INVITE's non-2xx final is ACKed
    /// by the transaction with an ACK built from our INVITE (§17.1.1.3).
    pub fn on_response(&mut self, resp: &Message, code: u16, now: Instant) -> Actions {
        match &mut self.tx {
            ClientKind::Invite(t) => {
                let req = t.request().clone();
                let to = resp.header(&HeaderName::To);
                t.on_response(code, now, || {
                    derived_request(&req, &Method::Ack, to.as_ref()).unwrap_or_default()
                })
            }
            ClientKind::NonInvite(t) => t.on_response(code, now),
        }
    }

    /// The method a send of this transaction is counted under (its own, or
    /// ACK for the ACK an INVITE transaction sends).
    pub fn method_of(&self, bytes: &[u8]) -> Method {
        if bytes.starts_with(b"ACK ") {
            Method::Ack
        } else {
            self.method.clone()
        }
    }
}

/// Copies the start line's URI, top Via, Route, From, Call-ID and CSeq number of
/// one of our own requests into a new request of `method` (RFC 3261 §9.1 CANCEL,
/// §17.1.1.3 ACK for a non-2xx). `to` overrides the To header (the response's, with tag).
pub fn derived_request(original: &Bytes, method: &Method, to: Option<&Bytes>) -> Option<Bytes> {
    let req = Message::parse(original.clone(), &ParseOptions::default()).ok()?;
    let uri = req.request_uri()?.clone();
    let via = req.header_values(&HeaderName::Via).into_iter().next()?;
    let cseq = req.cseq().ok()?;
    let mut b = MessageBuilder::request(method, &uri)
        .header("Via", via)
        .header("Max-Forwards", "70");
    for r in req.routes() {
        b = b.header("Route", r);
    }
    b = b.header("From", req.header(&HeaderName::From)?);
    b = b.header("To", to.cloned().or(req.header(&HeaderName::To))?);
    b = b.header("Call-ID", req.call_id()?);
    b = b.header("CSeq", format!("{} {}", cseq.seq, method));
    Some(b.finish())
}
