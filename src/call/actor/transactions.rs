//! The transactions a call task owns, wrapped with what the call needs to
//! know about each: which leg, which branch, where it sends, and why it exists.

use bytes::Bytes;
use tokio::time::Instant;

use crate::sip::{HeaderName, Message, MessageBuilder, Method, ParseOptions};
use crate::transaction::{
    ClientInvite, ClientInviteState, ClientNonInvite, ClientNonInviteState, Reliability,
    Retransmit2xx, ServerInvite, ServerInviteState, ServerNonInvite, ServerNonInviteState,
    TimerConfig,
};
use crate::transport::{Target, TransportKind};

use crate::call::hub::{Arrival, Outgoing};
use crate::call::linger::{Entry, Tombstone};
use crate::call::respond::{fixed_top_via, response_target, top_via_raw};
use crate::transaction::{Action, Actions};

use super::dialog::Leg;

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

/// Retransmission timers run on unreliable transports only (RFC 3261 §17).
pub fn reliability(kind: TransportKind) -> Reliability {
    if kind.is_reliable() {
        Reliability::Reliable
    } else {
        Reliability::Unreliable
    }
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
}

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
}

pub fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
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

/// A request about to become a client transaction.
pub(crate) struct NewRequest {
    pub method: Method,
    pub branch: Bytes,
    pub cseq: u32,
    pub bytes: Bytes,
    pub role: Role,
    /// The request carries a body (so a 2xx can be ACKed at once).
    pub had_body: bool,
}

/// The call's transaction plumbing: new client transactions, their actions
/// executed (sends, deliveries, timeouts), and finished ones pruned.
impl super::Call {
    pub(super) fn prune(&mut self) {
        let before = self.servers.len() + self.clients.len();
        self.servers.retain(|s| !s.terminated());
        self.clients.retain(|c| !c.terminated());
        let gone = before - self.servers.len() - self.clients.len();
        if gone > 0 {
            self.hub.metrics.transactions_active.dec_by(gone as i64);
        }
    }
    pub(super) fn new_id(&mut self) -> u32 {
        let id = self.next_tx;
        self.next_tx = self.next_tx.wrapping_add(1);
        id
    }
    /// Executes a server transaction's actions (Send -> its response target).
    pub(super) async fn apply_server(&mut self, id: u32, acts: Actions) {
        for a in acts {
            if let Action::Send(bytes) = a {
                let Some(s) = self.servers.iter().find(|s| s.id == id) else {
                    return;
                };
                let target = s.target.clone();
                let code = s.tx_final_or_provisional_code();
                self.hub
                    .send(&target, bytes, Outgoing::Response(code))
                    .await;
            }
        }
    }
    /// Executes a client transaction's actions; `resp` is the response that produced them.
    pub(super) async fn apply_client(&mut self, id: u32, acts: Actions, resp: Option<&Message>) {
        for a in acts {
            match a {
                Action::Send(bytes) => {
                    let Some(c) = self.clients.iter().find(|c| c.id == id) else {
                        return;
                    };
                    let target = c.target.clone();
                    let method = if bytes.starts_with(b"ACK ") {
                        Method::Ack
                    } else {
                        c.method.clone()
                    };
                    if !self
                        .hub
                        .send(&target, bytes, Outgoing::Request(&method))
                        .await
                    {
                        self.transport_error(id).await;
                    }
                }
                Action::Deliver => {
                    if let Some(r) = resp {
                        self.on_client_response(id, r).await;
                    }
                }
                Action::Timeout => self.on_client_timeout(id, false).await,
                Action::Terminated => {}
            }
        }
    }
    async fn transport_error(&mut self, id: u32) {
        let Some(c) = self.clients.iter_mut().find(|c| c.id == id) else {
            return;
        };
        let acts = match &mut c.tx {
            ClientKind::Invite(t) => t.on_transport_error(),
            ClientKind::NonInvite(t) => t.on_transport_error(),
        };
        if acts.iter().any(|a| matches!(a, Action::Timeout)) {
            self.on_client_timeout(id, true).await;
        }
    }
    /// Sends a request we built on `side`, as a new client transaction.
    pub(super) async fn send_request(&mut self, side: Leg, req: NewRequest) -> u32 {
        let NewRequest {
            method,
            branch,
            cseq,
            bytes,
            role,
            had_body,
        } = req;
        let now = Instant::now();
        let Some(d) = self.dialog(side) else { return 0 };
        let target = d.peer.clone();
        let rel = reliability(target.kind);
        let timers = self.hub.timers;
        let (tx, acts) = if method == Method::Invite {
            let (t, a) = crate::transaction::ClientInvite::new(bytes, rel, timers, now);
            (ClientKind::Invite(t), a)
        } else {
            let (t, a) = crate::transaction::ClientNonInvite::new(bytes, rel, timers, now);
            (ClientKind::NonInvite(t), a)
        };
        let id = self.new_id();
        // The B leg's INVITE is known as such before it is sent: a send that fails at
        // once (TCP refused, TLS handshake failed) must already fail over from it.
        if matches!(role, Role::Initial) {
            self.b_invite = Some(id);
        }
        self.hub.metrics.transactions_active.inc();
        self.clients.push(ClientTx {
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
        });
        // Boxed: a failed send can fail over to the next carrier, which sends again.
        Box::pin(self.apply_client(id, acts, None)).await;
        id
    }
    /// Sends an ACK (a 2xx's ACK is its own transaction, §13.2.2.4) straight to the leg's peer.
    pub(super) async fn send_ack(
        &mut self,
        side: Leg,
        cseq: u32,
        body: Option<(&Bytes, &Bytes)>,
    ) -> Option<Bytes> {
        let mf = self.max_forwards;
        let d = self.dialog(side)?;
        let (_, b) = d.request(&Method::Ack, Some(cseq), mf);
        let bytes = match body {
            Some((ct, body)) if !body.is_empty() => b.body(&String::from_utf8_lossy(ct), body),
            _ => b.finish(),
        };
        let target = d.peer.clone();
        self.hub
            .send(&target, bytes.clone(), Outgoing::Request(&Method::Ack))
            .await;
        Some(bytes)
    }
}

impl ServerTx {
    fn tx_final_or_provisional_code(&self) -> u16 {
        match &self.tx {
            ServerKind::Invite(t) => t.final_code().unwrap_or(180),
            ServerKind::NonInvite(_) => 200,
        }
    }
}

/// The tombstone of an ended call (call::linger): per remaining transaction
/// its branch and what a retransmission gets. `None` while any transaction
/// can still send on its own (a retransmission timer, a 2xx awaiting its
/// ACK) or when nothing is left to absorb.
pub fn tombstone(servers: &[ServerTx], clients: &[ClientTx]) -> Option<Tombstone> {
    let mut entries = Vec::with_capacity(servers.len() + clients.len());
    let mut expires: Option<Instant> = None;
    for s in servers {
        if s.r2xx.as_ref().is_some_and(|r| !r.is_terminated()) {
            return None;
        }
        let resend = match &s.tx {
            ServerKind::Invite(t) => match t.state() {
                ServerInviteState::Accepted | ServerInviteState::Confirmed => None,
                ServerInviteState::Terminated => continue,
                // Proceeding: not answered; Completed: a non-2xx still retransmitted.
                _ => return None,
            },
            ServerKind::NonInvite(t) => match t.state() {
                ServerNonInviteState::Completed => t
                    .last_response()
                    .zip(t.final_code())
                    .map(|(r, code)| (&r[..], code, s.target.clone())),
                ServerNonInviteState::Terminated => continue,
                _ => return None,
            },
        };
        expires = expires.max(s.next_deadline());
        entries.push(Entry::server(&s.branch, s.method.clone(), resend));
    }
    for c in clients {
        let ack = match &c.tx {
            ClientKind::Invite(t) => match t.state() {
                ClientInviteState::Accepted => c.acked.as_ref().map(|(_, ack)| &ack[..]),
                ClientInviteState::Completed => t.ack().map(|a| &a[..]),
                ClientInviteState::Terminated => continue,
                _ => return None,
            },
            ClientKind::NonInvite(t) => match t.state() {
                ClientNonInviteState::Completed => None,
                ClientNonInviteState::Terminated => continue,
                _ => return None,
            },
        };
        expires = expires.max(c.next_deadline());
        entries.push(Entry::client(
            &c.branch,
            c.method.clone(),
            ack.map(|a| (a, c.target.clone())),
        ));
    }
    Some(Tombstone::new(entries, expires?))
}
