//! The call's transactions on the wire: new server and client transactions
//! (counted in `trunkgate_transactions_active`), their actions executed on
//! the hub (sends, deliveries, timeouts), responses and timer ticks fed to
//! them, and the finished ones pruned. What the transactions are and how
//! they are found is `transactions.rs`.

use bytes::Bytes;
use tokio::time::Instant;

use crate::sip::{Message, Method};
use crate::transaction::{Action, Actions};

use super::dialog::Leg;
use super::{Call, NewRequest};
use crate::call::hub::{Arrival, Outgoing};

impl Call {
    pub(super) fn prune(&mut self) {
        let gone = self.transactions.prune();
        if gone > 0 {
            self.hub.metrics.transactions_active.dec_by(gone as i64);
        }
    }

    /// A server transaction for a request that arrived on `side`; its id.
    pub(super) fn add_server(&mut self, side: Leg, msg: &Message, meta: &Arrival) -> u32 {
        self.hub.metrics.transactions_active.inc();
        let (timers, now) = (self.hub.timers, Instant::now());
        self.transactions
            .add_server(side, msg.clone(), meta, timers, now)
    }

    /// Executes a server transaction's actions (Send -> its response target).
    pub(super) async fn apply_server(&mut self, id: u32, acts: Actions) {
        for a in acts {
            if let Action::Send(bytes) = a {
                let Some(s) = self.transactions.server(id) else {
                    return;
                };
                let target = s.target.clone();
                let code = s.final_or_provisional_code();
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
                    let Some(c) = self.transactions.client(id) else {
                        return;
                    };
                    let target = c.target.clone();
                    let method = c.method_of(&bytes);
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
        let Some(c) = self.transactions.client_mut(id) else {
            return;
        };
        let acts = c.on_transport_error();
        if acts.iter().any(|a| matches!(a, Action::Timeout)) {
            self.on_client_timeout(id, true).await;
        }
    }

    /// Sends a request we built on `side`, as a new client transaction.
    pub(super) async fn send_request(&mut self, side: Leg, req: NewRequest) -> u32 {
        let Some(d) = self.legs.dialog(side) else {
            return 0;
        };
        let target = d.peer.clone();
        let (timers, now) = (self.hub.timers, Instant::now());
        let (id, acts) = self.transactions.add_client(side, target, req, timers, now);
        self.hub.metrics.transactions_active.inc();
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
        let d = self.legs.dialog_mut(side)?;
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

    /// A response from a leg: found by branch and CSeq method, fed to its client transaction.
    pub(super) async fn on_response(&mut self, resp: Message) {
        let Some(branch) = resp.via_top_branch().ok().flatten() else {
            return;
        };
        let Ok(cseq) = resp.cseq() else { return };
        let Some(code) = resp.code() else { return };
        let Some(c) = self.transactions.client_for(&branch, &cseq.method) else {
            return;
        };
        let id = c.id;
        let acts = c.on_response(&resp, code, Instant::now());
        self.apply_client(id, acts, Some(&resp)).await;
    }

    /// Every transaction's timers at `now`, servers first.
    pub(super) async fn on_transaction_timers(&mut self, now: Instant) {
        for id in self.transactions.server_ids() {
            let Some(s) = self.transactions.server_mut(id) else {
                continue;
            };
            let (acts, ack_timeout) = s.on_timer(now);
            self.apply_server(id, acts).await;
            if ack_timeout {
                self.ack_timeout(id).await;
            }
        }
        for id in self.transactions.client_ids() {
            let Some(c) = self.transactions.client_mut(id) else {
                continue;
            };
            let acts = c.on_timer(now);
            self.apply_client(id, acts, None).await;
        }
    }
}
