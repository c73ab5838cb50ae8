//! Requests arriving on a leg of an existing call: retransmissions absorbed,
//! ACK and CANCEL, and in-dialog requests (BYE, re-INVITE, UPDATE, INFO,
//! PRACK, OPTIONS) relayed to the other leg with their responses relayed back.
//! What a BYE then does to the call is `hangup.rs`.

use bytes::Bytes;
use tokio::time::Instant;

use crate::sip::{HeaderName, Message, Method};
use crate::transaction::Actions;

use super::dialog::Leg;
use super::transactions::{Role, ServerKind};
use super::{Call, NewRequest};
use crate::call::hub::Arrival;
use crate::call::outcome::HangupBy;
use crate::call::respond::response;
use crate::call::respond::ALLOW;
use crate::call::respond::{copy_headers, reason_of, with_body, PASS_RESPONSE};

/// Headers of an in-dialog request passed to the other leg.
const PASS_REQUEST: &[&str] = &[
    "Supported",
    "Require",
    "Session-Expires",
    "Min-SE",
    "Reason",
    "Event",
    "Info-Package",
    "Content-Disposition",
    "P-Asserted-Identity",
    "Privacy",
    "Accept",
    "Recv-Info",
];

impl Call {
    pub(super) async fn on_request(&mut self, side: Leg, msg: Message, meta: Arrival) {
        let Some(method) = msg.method().cloned() else {
            return;
        };
        let branch = msg.via_top_branch().ok().flatten().unwrap_or_default();
        let now = Instant::now();
        if method == Method::Ack {
            return self.on_ack(side, &msg, &branch, now).await;
        }
        if method == Method::Cancel {
            return self.on_cancel(side, &msg, &meta, &branch).await;
        }
        // A retransmission of a request we are handling: the transaction answers it.
        if let Some(s) = self.transactions.server_for(side, &branch, &method) {
            let id = s.id;
            let acts = match &mut s.tx {
                ServerKind::Invite(t) => t.on_request_retransmit(now),
                ServerKind::NonInvite(t) => t.on_request_retransmit(now),
            };
            return self.apply_server(id, acts).await;
        }
        if msg.to_tag().ok().flatten().is_none() {
            // A second initial INVITE with the same Call-ID but a new branch: not ours to fork.
            return self
                .answer_new(side, &msg, &meta, 482, "Loop Detected", None)
                .await;
        }
        self.relay_request(side, method, msg, meta).await;
    }

    async fn on_ack(&mut self, side: Leg, msg: &Message, branch: &Bytes, now: Instant) {
        // ACK for a non-2xx final: same branch as the INVITE (§17.2.1), absorbed by the transaction.
        if let Some(s) = self.transactions.server_for(side, branch, &Method::Invite) {
            let id = s.id;
            if let ServerKind::Invite(t) = &mut s.tx {
                if t.final_code().is_some_and(|c| c >= 300) {
                    let acts = t.on_ack(now);
                    return self.apply_server(id, acts).await;
                }
            }
        }
        // ACK for a 2xx: its own transaction; stops our 2xx retransmissions (§13.3.1.4).
        let Ok(cseq) = msg.cseq() else { return };
        let Some(s) = self.transactions.invite_acked_by(side, cseq.seq) else {
            return;
        };
        if let Some(r) = s.r2xx.as_mut() {
            if r.is_terminated() {
                return; // retransmitted ACK
            }
            r.on_ack();
        }
        if let Some((other, seq)) = self.legs.release_ack(side) {
            let ct = msg
                .content_type()
                .unwrap_or_else(|| Bytes::from_static(b"application/sdp"));
            let body = match self.media.relay(side, msg) {
                Ok(Some(sdp)) => {
                    let ct = Bytes::from_static(b"application/sdp");
                    self.send_ack(other, seq, Some((&ct, &sdp))).await;
                    return;
                }
                _ => msg.body().clone(),
            };
            self.send_ack(other, seq, Some((&ct, &body))).await;
        }
    }

    async fn on_cancel(&mut self, side: Leg, msg: &Message, meta: &Arrival, branch: &Bytes) {
        let matched = self
            .transactions
            .server_for(side, branch, &Method::Invite)
            .is_some();
        if !matched {
            return self
                .answer_new(
                    side,
                    msg,
                    meta,
                    481,
                    "Call/Transaction Does Not Exist",
                    None,
                )
                .await;
        }
        // §9.2: 200 to the CANCEL itself, then 487 to the INVITE if it is still pending.
        self.answer_new(side, msg, meta, 200, "OK", None).await;
        let txs = &self.transactions;
        if side == Leg::Caller && txs.caller_invite().is_some_and(|s| s.branch == *branch) {
            self.cancel_call(HangupBy::Caller).await;
        } else if let Some(s) = txs.server_on_branch(side, branch) {
            // A re-INVITE being cancelled: 487 to it; the other leg's re-INVITE is cancelled too.
            let id = s.id;
            let bytes = response(&s.req, &s.top_via, 487, "Request Terminated", None).finish();
            let acts = match self.transactions.server_mut(id).map(|s| &mut s.tx) {
                Some(ServerKind::Invite(t)) => t.send_final(487, bytes, Instant::now()),
                _ => Actions::new(),
            };
            self.apply_server(id, acts).await;
        }
    }

    /// Answers a request with a new server transaction of its own (no relay).
    pub(super) async fn answer_new(
        &mut self,
        side: Leg,
        msg: &Message,
        meta: &Arrival,
        code: u16,
        reason: &str,
        extra: Option<(&str, &str)>,
    ) {
        let id = self.add_server(side, msg, meta);
        let tag = self.legs.dialog(side).map(|d| d.local_tag.clone());
        let Some(s) = self.transactions.server_mut(id) else {
            return;
        };
        let mut b = response(&s.req, &s.top_via, code, reason, tag.as_deref());
        if let Some((n, v)) = extra {
            b = b.header(n, v);
        }
        let bytes = b.finish();
        let now = Instant::now();
        let acts = match &mut s.tx {
            ServerKind::Invite(t) => t.send_final(code, bytes, now),
            ServerKind::NonInvite(t) => t.send_response(code, bytes, now),
        };
        self.apply_server(id, acts).await;
    }

    async fn relay_request(&mut self, side: Leg, method: Method, msg: Message, meta: Arrival) {
        let relayable = matches!(
            method,
            Method::Bye
                | Method::Invite
                | Method::Update
                | Method::Info
                | Method::Prack
                | Method::Options
        );
        if !relayable {
            return self
                .answer_new(
                    side,
                    &msg,
                    &meta,
                    405,
                    "Method Not Allowed",
                    Some(("Allow", ALLOW)),
                )
                .await;
        }
        let mf = match msg.max_forwards() {
            Ok(Some(0)) => {
                return self
                    .answer_new(side, &msg, &meta, 483, "Too Many Hops", None)
                    .await
            }
            Ok(Some(n)) => n - 1,
            _ => self.max_forwards,
        };
        if self.flow_state.is_some() && self.flow_in_dialog(side, &msg, &meta).await {
            return;
        }
        let other = side.other();
        if self.phase.is_ended() || !self.legs.established(other) {
            if method == Method::Bye && side == Leg::Caller && !self.a_answered() {
                // BYE on an early dialog (§15): the caller gives up, like a CANCEL.
                self.answer_new(side, &msg, &meta, 200, "OK", None).await;
                return self.cancel_call(HangupBy::Caller).await;
            }
            return self
                .answer_new(
                    side,
                    &msg,
                    &meta,
                    481,
                    "Call/Transaction Does Not Exist",
                    None,
                )
                .await;
        }
        // outbound.fax_support = disabled: a T.38 offer is declined (488), the call goes on.
        let sdp = if matches!(method, Method::Invite | Method::Update) {
            self.media_relay_offer(side, &msg)
        } else {
            self.media.relay(side, &msg)
        };
        let sdp = match sdp {
            Ok(sdp) => sdp,
            Err(e) => {
                tracing::info!(call = self.number, error = %e, "in-dialog SDP refused");
                let (code, reason) = e.sip_code();
                return self.answer_new(side, &msg, &meta, code, reason, None).await;
            }
        };
        let server = self.add_server(side, &msg, &meta);
        if method == Method::Invite {
            let tag = self.legs.dialog(side).map(|d| d.local_tag.clone());
            if let Some(s) = self.transactions.server_mut(server) {
                let trying = response(&s.req, &s.top_via, 100, "Trying", tag.as_deref()).finish();
                let acts = match &mut s.tx {
                    ServerKind::Invite(t) => t.send_provisional(trying),
                    ServerKind::NonInvite(_) => Actions::new(),
                };
                self.apply_server(server, acts).await;
            }
        }
        // Target refresh (§12.2.2): a re-INVITE/UPDATE's Contact is the leg's new remote target.
        if matches!(method, Method::Invite | Method::Update) {
            if let (Some(Ok(c)), Some(d)) = (msg.contact(), self.legs.dialog_mut(side)) {
                d.remote_target = c.uri;
            }
        }
        let rack = self.rewritten_rack(&msg, other);
        let Some(d) = self.legs.dialog_mut(other) else {
            return;
        };
        let (branch, mut b) = d.request(&method, None, mf);
        let cseq = d.local_cseq;
        if matches!(method, Method::Invite | Method::Update) {
            b = b.header("Contact", &d.contact).header("Allow", ALLOW);
        }
        if let Some(r) = rack {
            b = b.header("RAck", r);
        }
        b = copy_headers(
            &msg,
            PASS_REQUEST,
            self.snapshot.config.sip.max_copied_header,
            b,
        );
        let bytes = match &sdp {
            Some(sdp) => b.body("application/sdp", sdp),
            None => with_body(b, &msg),
        };
        let had_body = !msg.body().is_empty();
        if method == Method::Bye {
            self.end_after_bye(side);
        }
        self.send_request(
            other,
            NewRequest {
                method,
                branch,
                cseq,
                bytes,
                role: Role::Relay { from: side, server },
                had_body,
            },
        )
        .await;
    }

    /// RFC 3262 §7.2: RAck names the INVITE's CSeq, which differs per leg.
    fn rewritten_rack(&self, msg: &Message, other: Leg) -> Option<String> {
        let rack = msg.header(&HeaderName::RAck)?;
        let text = std::str::from_utf8(&rack).ok()?;
        let mut parts = text.split_whitespace();
        let rseq = parts.next()?;
        let invite_cseq = match other {
            Leg::Callee => self.transactions.callee_invite()?.cseq,
            Leg::Caller => self.transactions.caller_invite()?.cseq,
        };
        Some(format!("{rseq} {invite_cseq} INVITE"))
    }

    /// A response to a relayed request: back to the leg the request came from.
    pub(super) async fn on_relayed_response(
        &mut self,
        id: u32,
        from: Leg,
        server: u32,
        resp: &Message,
    ) {
        let Some(code) = resp.code() else { return };
        let Some(c) = self.transactions.client(id) else {
            return;
        };
        let (method, cseq, had_body, other) = (c.method.clone(), c.cseq, c.had_body, c.side);
        if code == 100 && method == Method::Invite {
            return;
        }
        if method == Method::Invite && (200..300).contains(&code) {
            let tag = resp.to_tag().ok().flatten();
            if let Some((_, ack)) = c.acked.clone() {
                let target = c.target.clone();
                if !ack.is_empty() {
                    self.hub
                        .send(
                            &target,
                            ack,
                            crate::call::hub::Outgoing::Request(&Method::Ack),
                        )
                        .await;
                }
                return;
            }
            if let (Some(Ok(ct)), Some(d)) = (resp.contact(), self.legs.dialog_mut(other)) {
                d.remote_target = ct.uri;
            }
            let ack = if had_body {
                self.send_ack(other, cseq, None).await.unwrap_or_default()
            } else {
                self.legs.hold_ack(other, cseq);
                Bytes::new()
            };
            if let Some(c) = self.transactions.client_mut(id) {
                c.acked = Some((tag, ack));
            }
        }
        let reason = reason_of(resp);
        self.respond_relayed(from, server, code, &reason, Some(resp))
            .await;
    }

    /// Sends a response on the server transaction `server` of leg `from`.
    pub(super) async fn respond_relayed(
        &mut self,
        from: Leg,
        server: u32,
        code: u16,
        reason: &str,
        resp: Option<&Message>,
    ) {
        let tag = self.legs.dialog(from).map(|d| d.local_tag.clone());
        let contact = self.legs.dialog(from).map(|d| d.contact.clone());
        let rel = self.reliability();
        let timers = self.hub.timers;
        let Some(s) = self.transactions.server(server) else {
            return;
        };
        let mut b = response(&s.req, &s.top_via, code, reason, tag.as_deref());
        if matches!(s.method, Method::Invite | Method::Update) && code < 300 {
            if let Some(c) = &contact {
                b = b.header("Contact", c).header("Allow", ALLOW);
            }
        }
        let bytes = match resp {
            Some(r) => {
                let b = copy_headers(
                    r,
                    PASS_RESPONSE,
                    self.snapshot.config.sip.max_copied_header,
                    b,
                );
                match self.media.relay(from.other(), r) {
                    Ok(Some(sdp)) => b.body("application/sdp", &sdp),
                    Ok(None) => with_body(b, r),
                    Err(e) => {
                        tracing::info!(call = self.number, error = %e, "relayed answer SDP not anchored");
                        with_body(b, r)
                    }
                }
            }
            None => b.finish(),
        };
        let Some(s) = self.transactions.server_mut(server) else {
            return;
        };
        let acts = s.respond(code, bytes, rel, timers, Instant::now());
        self.apply_server(server, acts).await;
    }
}
