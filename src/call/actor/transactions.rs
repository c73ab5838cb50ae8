//! The transactions a call task owns (`Transactions`), each wrapped with what
//! the call needs to know about it: which leg, which branch, where it sends,
//! and why it exists (`server.rs`, `client.rs`). The component finds them by
//! id, by branch or by the caller's and callee's INVITE, gives new ids, prunes
//! the finished ones and says when the next timer is due; `tombstone` is what
//! an ended call leaves behind. Sending is the actor's (`wire.rs`).

mod client;
mod server;

use bytes::Bytes;
use tokio::time::Instant;

use crate::sip::{Message, Method};
use crate::transaction::{
    Actions, ClientInviteState, ClientNonInviteState, Reliability, ServerInviteState,
    ServerNonInviteState, TimerConfig,
};
use crate::transport::{Target, TransportKind};

use crate::call::hub::Arrival;
use crate::call::linger::{Entry, Tombstone};

use super::dialog::Leg;
pub use client::{derived_request, ClientKind, ClientTx, Role};
pub use server::{ServerKind, ServerTx};

/// Retransmission timers run on unreliable transports only (RFC 3261 §17).
pub fn reliability(kind: TransportKind) -> Reliability {
    if kind.is_reliable() {
        Reliability::Reliable
    } else {
        Reliability::Unreliable
    }
}

pub fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Appends growing by exactly one when full: a call's transactions come one
/// or two at a time and each is several hundred bytes, so `Vec`'s doubling
/// (to four at the first growth) would mostly hold nothing.
fn push<T>(v: &mut Vec<T>, t: T) {
    v.reserve_exact(1);
    v.push(t);
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

/// Every transaction of one call, on both legs, by id (unique in the call).
pub struct Transactions {
    servers: Vec<ServerTx>,
    clients: Vec<ClientTx>,
    next_id: u32,
    /// The caller's INVITE, the call's first server transaction.
    caller_invite: u32,
    /// The callee's INVITE of the current attempt (a failover moves it on).
    callee_invite: Option<u32>,
}

impl Transactions {
    /// The call's transactions, starting with the caller's INVITE.
    pub fn new(invite: Message, meta: &Arrival, timers: TimerConfig, now: Instant) -> Self {
        // Room for what a live call holds, one each (the caller's INVITE,
        // ours to the callee; a server transaction is ~750 bytes, a client
        // one ~430): the BYE's grows each by exactly one at the end of the
        // call (`push`). A first push into an empty Vec would make room for
        // four, and room for two kept ~1.2 KB unused per live call.
        let mut txs = Transactions {
            servers: Vec::with_capacity(1),
            clients: Vec::with_capacity(1),
            next_id: 0,
            caller_invite: 0,
            callee_invite: None,
        };
        txs.caller_invite = txs.add_server(Leg::Caller, invite, meta, timers, now);
        txs
    }

    fn new_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// A server transaction for a request that arrived on `side`; its id.
    pub fn add_server(
        &mut self,
        side: Leg,
        req: Message,
        meta: &Arrival,
        timers: TimerConfig,
        now: Instant,
    ) -> u32 {
        let id = self.new_id();
        push(
            &mut self.servers,
            ServerTx::new(id, side, req, meta, timers, now),
        );
        id
    }

    /// A client transaction for a request we send on `side` to `target`: its
    /// id and its first actions. The callee's INVITE is known as such before
    /// it is sent: a send that fails at once (TCP refused, TLS handshake
    /// failed) must already fail over from it.
    pub fn add_client(
        &mut self,
        side: Leg,
        target: Target,
        req: NewRequest,
        timers: TimerConfig,
        now: Instant,
    ) -> (u32, Actions) {
        let id = self.new_id();
        if matches!(req.role, Role::Initial) {
            self.callee_invite = Some(id);
        }
        let (c, acts) = ClientTx::new(id, side, target, req, timers, now);
        push(&mut self.clients, c);
        (id, acts)
    }

    pub fn server(&self, id: u32) -> Option<&ServerTx> {
        self.servers.iter().find(|s| s.id == id)
    }

    pub fn server_mut(&mut self, id: u32) -> Option<&mut ServerTx> {
        self.servers.iter_mut().find(|s| s.id == id)
    }

    pub fn client(&self, id: u32) -> Option<&ClientTx> {
        self.clients.iter().find(|c| c.id == id)
    }

    pub fn client_mut(&mut self, id: u32) -> Option<&mut ClientTx> {
        self.clients.iter_mut().find(|c| c.id == id)
    }

    pub fn caller_invite_id(&self) -> u32 {
        self.caller_invite
    }

    /// The caller's INVITE transaction (gone once it terminated).
    pub fn caller_invite(&self) -> Option<&ServerTx> {
        self.server(self.caller_invite)
    }

    pub fn caller_invite_mut(&mut self) -> Option<&mut ServerTx> {
        self.server_mut(self.caller_invite)
    }

    /// The caller's INVITE request, while its transaction lives.
    pub fn caller_invite_request(&self) -> Option<&Message> {
        self.caller_invite().map(|s| &s.req)
    }

    /// The caller's INVITE got a final response (or its transaction is gone).
    pub fn caller_answered(&self) -> bool {
        self.caller_invite().is_none_or(|s| s.answered())
    }

    /// Whether `id` is the callee's INVITE of the current attempt (not a given-up one).
    pub fn is_callee_invite(&self, id: u32) -> bool {
        self.callee_invite == Some(id)
    }

    pub fn callee_invite(&self) -> Option<&ClientTx> {
        self.client(self.callee_invite?)
    }

    /// The server transaction of a request on `side` (a retransmission, or
    /// the INVITE an ACK or CANCEL names): same branch and method (§17.2.3).
    pub fn server_for(
        &mut self,
        side: Leg,
        branch: &[u8],
        method: &Method,
    ) -> Option<&mut ServerTx> {
        self.servers
            .iter_mut()
            .find(|s| s.side == side && s.branch == branch && s.method == *method)
    }

    /// Any server transaction of `side` on `branch`, whatever its method.
    pub fn server_on_branch(&self, side: Leg, branch: &[u8]) -> Option<&ServerTx> {
        self.servers
            .iter()
            .find(|s| s.side == side && s.branch == branch)
    }

    /// The INVITE on `side` whose 2xx an ACK of sequence `cseq` acknowledges (§13.2.2.4).
    pub fn invite_acked_by(&mut self, side: Leg, cseq: u32) -> Option<&mut ServerTx> {
        self.servers.iter_mut().find(|s| {
            s.side == side && s.method == Method::Invite && s.cseq == cseq && s.r2xx.is_some()
        })
    }

    /// The client transaction a response belongs to: its top Via's branch
    /// and its CSeq method (§17.1.3).
    pub fn client_for(&mut self, branch: &[u8], method: &Method) -> Option<&mut ClientTx> {
        self.clients
            .iter_mut()
            .find(|c| c.branch == branch && c.method == *method)
    }

    pub fn server_ids(&self) -> Vec<u32> {
        self.servers.iter().map(|s| s.id).collect()
    }

    pub fn client_ids(&self) -> Vec<u32> {
        self.clients.iter().map(|c| c.id).collect()
    }

    pub fn len(&self) -> usize {
        self.servers.len() + self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.clients.is_empty()
    }

    /// Drops the terminated transactions; how many went.
    pub fn prune(&mut self) -> usize {
        let before = self.len();
        self.servers.retain(|s| !s.terminated());
        self.clients.retain(|c| !c.terminated());
        before - self.len()
    }

    /// The earliest timer of any transaction.
    pub fn next_deadline(&self) -> Option<Instant> {
        let servers = self.servers.iter().map(ServerTx::next_deadline);
        let clients = self.clients.iter().map(ClientTx::next_deadline);
        servers.chain(clients).fold(None, min_opt)
    }

    /// The tombstone of an ended call (call::linger): per remaining transaction
    /// its branch and what a retransmission gets. `None` while any transaction
    /// can still send on its own (a retransmission timer, a 2xx awaiting its
    /// ACK) or when nothing is left to absorb.
    pub fn tombstone(&self) -> Option<Tombstone> {
        let mut entries = Vec::with_capacity(self.len());
        let mut expires: Option<Instant> = None;
        for s in &self.servers {
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
        for c in &self.clients {
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
}

#[cfg(test)]
mod tests;
