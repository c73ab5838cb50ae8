//! The call's initial INVITE: the attempt toward each carrier in turn, the
//! carrier's responses relayed to the caller, CANCEL, and the ringing timeout.

use bytes::Bytes;
use tokio::time::Instant;

use crate::config::Direction;
use crate::metrics::{TrunkLabels, TrunkReasonLabels};
use crate::policy::AttemptOutcome;
use crate::transport::{Target, TransportKind};

use crate::sip::{default_reason, HeaderName, Message, Method};

use super::callee_invite::CalleeInvite;
use super::dialog::{Dialog, Leg};
use super::phase::Progress;
use super::transactions::{derived_request, ClientKind, Role, ServerKind};
use super::{Call, NewRequest};
use crate::call::hub::{random_hex, Outgoing};
use crate::call::outcome::{EndReason, Outcome};
use crate::call::respond::{reason_of, with_body};
use crate::store::CallStatus;

impl Call {
    /// Sends the INVITE to the current hop. False when no hop is left.
    pub(super) async fn start_hop(&mut self) -> bool {
        let Some(hop) = self.chain.current().cloned() else {
            return false;
        };
        let Some(inv) = self
            .servers
            .iter()
            .find(|s| s.id == self.caller_invite_tx)
            .map(|s| s.req.clone())
        else {
            return false;
        };
        let had_body = !inv.body().is_empty();
        let sdp = self.media_b_offer(&inv, hop.target.addr);
        let tag = Bytes::from(random_hex(8));
        let call_id = Bytes::from(format!("{}@trunkgate", random_hex(12)));
        let invite = CalleeInvite {
            hop: &hop,
            caller_invite: &inv,
            sdp: sdp.as_ref(),
            tag: &tag,
            call_id: &call_id,
            caller_id: self
                .flow_state
                .as_ref()
                .and_then(|f| f.caller_id.as_deref()),
            sip: &self.snapshot.config.sip,
            max_forwards: self.max_forwards,
        };
        let sent_by = |peer: &Target| self.hub.sent_by(peer.kind, &peer.addr);
        let mut built = invite.build(hop.target.clone(), sent_by(&hop.target));
        // RFC 3261 §18.1.1: a request over 1300 bytes (path MTU unknown), or within
        // 200 bytes of the path MTU, goes over TCP, and the top Via says so. Without a
        // TCP listener to put in Via/Contact it is not sent over UDP either: the UDP
        // send refuses it and the hop fails like an unreachable one.
        let limit = self.snapshot.config.sip.udp_request_limit();
        if hop.target.kind == TransportKind::Udp && built.3.len() > limit {
            let has_tcp = self.hub.transports().is_some_and(|t| {
                t.local_addr(TransportKind::Tcp, hop.target.addr.is_ipv6())
                    .is_some()
            });
            if has_tcp {
                let tcp = Target {
                    kind: TransportKind::Tcp,
                    ..hop.target.clone()
                };
                tracing::debug!(
                    call = self.number,
                    size = built.3.len(),
                    limit,
                    "INVITE too big for UDP: sent over TCP"
                );
                self.hub.metrics.udp_to_tcp.inc();
                let from = sent_by(&tcp);
                built = invite.build(tcp, from);
            }
        }
        let (d, branch, cseq, bytes) = built;
        self.hub.calls.insert(call_id.clone(), self.me.clone());
        self.registered.push(call_id);
        self.b = Some(d);
        self.progress = Progress::Sent;
        self.pending = Some(self.hub.overload.enter_pending());
        self.attempt_started = Some(Instant::now());
        // Post-dial delay (outbound trunks): 180/183 must come within it.
        if self.direction == Direction::Outbound {
            if let Some(p) = self
                .trunk
                .outbound
                .as_ref()
                .and_then(|o| o.max_post_dial_delay)
            {
                self.setup_timers.pdd =
                    Some(Instant::now() + std::time::Duration::from_secs(u64::from(p)));
            }
        }
        // send_request sets b_invite (a failover inside it sets the next one).
        self.send_request(
            Leg::Callee,
            NewRequest {
                method: Method::Invite,
                branch,
                cseq,
                bytes,
                role: Role::Initial,
                had_body,
            },
        )
        .await;
        self.publish_live();
        true
    }

    /// A response to our INVITE toward the carrier.
    pub(super) async fn on_initial_response(&mut self, id: u32, resp: &Message) {
        let Some(code) = resp.code() else { return };
        if Some(id) != self.b_invite {
            // A late answer from an attempt we gave up on: a 2xx is accepted and hung up.
            if (200..300).contains(&code) {
                self.ack_and_bye(id, resp).await;
            }
            return;
        }
        // The callee answered something: no longer pending (overload control).
        self.pending = None;
        match code {
            100 => {
                self.progress.trying();
                if self.abandon.take_waiting() {
                    self.send_cancel().await;
                }
            }
            101..=199 => {
                self.setup_timers.pdd = None;
                self.on_b_provisional(resp, code).await
            }
            200..=299 => self.on_b_success(id, resp).await,
            _ => self.on_b_failure(resp, code).await,
        }
    }

    async fn on_b_provisional(&mut self, resp: &Message, code: u16) {
        if self.progress.provisional(!resp.body().is_empty()) {
            if let Some(t) = self.attempt_started {
                self.hub
                    .metrics
                    .post_dial_delay
                    .get_or_create(&TrunkLabels {
                        trunk: self.trunk_label.clone(),
                    })
                    .observe(t.elapsed().as_secs_f64());
            }
        }
        if let Some(b) = self.b.as_mut() {
            if b.remote_tag.is_none() && resp.to_hdr().ok().and_then(|t| t.tag()).is_some() {
                b.confirm_from_response(resp);
            }
        }
        if self.abandon.take_waiting() {
            self.send_cancel().await;
            return;
        }
        if self.abandon.is_abandoned() || self.a_answered() {
            return;
        }
        let bytes = match self.override_sdp() {
            // Early-media override: the caller hears our ringback, never the carrier's media.
            Some(sdp) => {
                if super::media::has_sdp(resp) {
                    let _ = self.media_relay_body(Leg::Callee, resp);
                }
                let b = self.a_response_as(resp, 183, "Session Progress", true);
                b.body("application/sdp", &sdp)
            }
            None => {
                let b = self.a_response(resp, code, true);
                match self.media_relay_body(Leg::Callee, resp) {
                    Ok(Some(sdp)) => b.body("application/sdp", &sdp),
                    Ok(None) => with_body(b, resp),
                    Err(e) => {
                        tracing::info!(call = self.number, error = %e, "carrier early SDP not anchored");
                        b.finish()
                    }
                }
            }
        };
        let caller_invite_tx = self.caller_invite_tx;
        let acts = match self
            .servers
            .iter_mut()
            .find(|s| s.id == caller_invite_tx)
            .map(|s| &mut s.tx)
        {
            Some(ServerKind::Invite(t)) => t.send_provisional(bytes),
            _ => Default::default(),
        };
        self.apply_server(caller_invite_tx, acts).await;
    }

    async fn on_b_success(&mut self, id: u32, resp: &Message) {
        let tag = resp.to_hdr().ok().and_then(|t| t.tag());
        let Some(c) = self.clients.iter().find(|c| c.id == id) else {
            return;
        };
        if let Some((acked_tag, ack)) = &c.acked {
            let target = c.target.clone();
            if *acked_tag == tag {
                // 2xx retransmission: our ACK was lost, send it again (§13.2.2.4).
                let ack = ack.clone();
                self.hub
                    .send(&target, ack, Outgoing::Request(&Method::Ack))
                    .await;
            } else {
                self.ack_and_bye(id, resp).await; // another fork answered too
            }
            return;
        }
        if let Some(b) = self.b.as_mut() {
            b.confirm_from_response(resp);
        }
        let cseq = c.cseq;
        let had_body = c.had_body;
        if self.transferring() && self.a_answered() {
            return self.transfer_answered(id, resp).await;
        }
        if self.abandon.is_abandoned() || self.a_answered() {
            self.ack_and_bye(id, resp).await;
            return;
        }
        let answer_sdp = self.media_relay_body(Leg::Callee, resp);
        if let Err(crate::media::session::MediaError::Srtp(e)) = &answer_sdp {
            // The carrier answered without the SRTP its policy requires (or
            // with crypto we never offered): hang it up, 488 to the caller.
            tracing::info!(call = self.number, error = %e, "carrier answer refused");
            self.reason = Some(EndReason::Layer(e.name()));
            self.ack_and_bye(id, resp).await;
            self.b = None;
            self.fail_a(488, "Not Acceptable Here", CallStatus::Failed)
                .await;
            return;
        }
        let ack = if had_body {
            self.send_ack(Leg::Callee, cseq, None)
                .await
                .unwrap_or_default()
        } else {
            self.pending_ack = Some((Leg::Callee, cseq));
            Bytes::new()
        };
        if let Some(c) = self.clients.iter_mut().find(|c| c.id == id) {
            c.acked = Some((tag, ack));
        }
        self.phase.answer(Instant::now());
        self.publish_live();
        self.hub
            .metrics
            .time_to_answer
            .get_or_create(&TrunkLabels {
                trunk: self.trunk_label.clone(),
            })
            .observe(self.started.elapsed().as_secs_f64());
        let b = self.a_response(resp, 200, true);
        let bytes = match answer_sdp {
            Ok(Some(sdp)) => b.body("application/sdp", &sdp),
            Ok(None) => with_body(b, resp),
            Err(e) => {
                tracing::info!(call = self.number, error = %e, "carrier answer SDP not anchored");
                with_body(b, resp)
            }
        };
        self.media_answered();
        self.send_a_final(200, bytes).await;
        if self.transferring() {
            self.transfer_done(200).await;
        }
    }

    async fn on_b_failure(&mut self, resp: &Message, code: u16) {
        if self.abandon.is_abandoned() {
            return;
        }
        if self.next_hop_or_failover(AttemptOutcome::Final(code)).await {
            return;
        }
        if self.transferring() {
            // The worker decides what happens after a failed transfer.
            return self.transfer_done(code).await;
        }
        let reason = reason_of(resp);
        let b = self.a_response(resp, code, false);
        self.send_a_final(code, b.finish()).await;
        tracing::debug!(call = self.number, code, reason = %reason, "carrier refused the call");
        self.end(Outcome::refused_by_callee(code));
    }

    /// No 180/183 within the trunk's max_post_dial_delay: CANCEL the carrier leg, 503 to the PBX.
    pub(super) async fn pdd_timeout(&mut self) {
        if self.a_answered() {
            return;
        }
        tracing::info!(call = self.number, "post-dial delay exceeded");
        if self.abandon.abandon(self.progress) {
            self.send_cancel().await;
        }
        self.reason = Some(EndReason::PddTimeout);
        self.trunk_rejection(EndReason::PddTimeout.name());
        self.fail_a(503, "Service Unavailable", CallStatus::Failed)
            .await;
    }

    pub(super) fn trunk_rejection(&self, reason: &'static str) {
        self.hub
            .metrics
            .trunk_rejections
            .get_or_create(&TrunkReasonLabels {
                trunk: self.trunk_label.clone(),
                direction: self.direction.as_str(),
                reason,
            })
            .inc();
    }

    /// Timer B / transport error on a client transaction.
    pub(super) async fn on_client_timeout(&mut self, id: u32, transport: bool) {
        let Some(c) = self.clients.iter().find(|c| c.id == id) else {
            return;
        };
        match c.role.clone() {
            Role::Initial if Some(id) == self.b_invite => {
                if self.abandon.is_abandoned() || self.a_answered() {
                    return;
                }
                let outcome = if transport {
                    AttemptOutcome::TransportError
                } else {
                    AttemptOutcome::Timeout
                };
                if self.next_hop_or_failover(outcome).await {
                    return;
                }
                if self.transferring() {
                    return self.transfer_done(if transport { 503 } else { 408 }).await;
                }
                let (code, status) = if transport {
                    (503, CallStatus::Failed)
                } else {
                    (408, CallStatus::NoAnswer)
                };
                self.fail_a(code, default_reason(code), status).await;
            }
            Role::Relay { from, server } => {
                self.respond_relayed(from, server, 408, "Request Timeout", None)
                    .await;
                if c_method_is_bye(&self.clients, id) {
                    self.end_after_bye(from);
                }
            }
            _ => {}
        }
    }

    /// CANCEL of the B leg's INVITE (§9.1): only after a provisional response.
    pub(super) async fn send_cancel(&mut self) {
        let Some(id) = self.b_invite else { return };
        let Some(c) = self.clients.iter().find(|c| c.id == id) else {
            return;
        };
        let Some(req) = c.request().cloned() else {
            return;
        };
        let (branch, cseq) = (c.branch.clone(), c.cseq);
        let Some(bytes) = derived_request(&req, &Method::Cancel, None) else {
            return;
        };
        self.send_request(
            Leg::Callee,
            NewRequest {
                method: Method::Cancel,
                branch,
                cseq,
                bytes,
                role: Role::Cancel,
                had_body: false,
            },
        )
        .await;
    }

    /// Accepts an unwanted 2xx (fork, race with CANCEL) and hangs it up at once.
    async fn ack_and_bye(&mut self, id: u32, resp: &Message) {
        let Some(c) = self.clients.iter().find(|c| c.id == id) else {
            return;
        };
        let Some(b) = self.b.as_ref() else { return };
        let cseq = c.cseq;
        let mut d = Dialog {
            call_id: resp.call_id().unwrap_or_default(),
            local: b.local.clone(),
            local_tag: b.local_tag.clone(),
            remote: b.remote.clone(),
            remote_tag: None,
            remote_target: b.remote_target.clone(),
            route_set: Vec::new(),
            local_cseq: cseq,
            peer: c.target.clone(),
            sent_by: b.sent_by.clone(),
            contact: b.contact.clone(),
        };
        d.confirm_from_response(resp);
        let (_, ack) = d.request(&Method::Ack, Some(cseq), 70);
        let target = d.peer.clone();
        self.hub
            .send(&target, ack.finish(), Outgoing::Request(&Method::Ack))
            .await;
        let (_, bye) = d.request(&Method::Bye, None, 70);
        self.hub
            .send(&target, bye.finish(), Outgoing::Request(&Method::Bye))
            .await;
    }

    /// Dispatches a delivered response by the role of its client transaction.
    pub(super) async fn on_client_response(&mut self, id: u32, resp: &Message) {
        let Some(c) = self.clients.iter().find(|c| c.id == id) else {
            return;
        };
        match c.role.clone() {
            Role::Initial => self.on_initial_response(id, resp).await,
            Role::Relay { from, server } => self.on_relayed_response(id, from, server, resp).await,
            Role::Cancel | Role::Local => {}
        }
    }

    /// A response from a leg: found by branch and CSeq method, fed to its client transaction.
    pub(super) async fn on_response(&mut self, resp: Message) {
        let Some(branch) = resp.via_top().ok().and_then(|v| v.branch()) else {
            return;
        };
        let Ok(cseq) = resp.cseq() else { return };
        let Some(code) = resp.code() else { return };
        let Some(c) = self
            .clients
            .iter_mut()
            .find(|c| c.branch == branch && c.method == cseq.method)
        else {
            return;
        };
        let now = Instant::now();
        let id = c.id;
        let acts = match &mut c.tx {
            ClientKind::Invite(t) => {
                let req = t.request().clone();
                let to = resp.header(&HeaderName::To);
                t.on_response(code, now, || {
                    derived_request(&req, &Method::Ack, to.as_ref()).unwrap_or_default()
                })
            }
            ClientKind::NonInvite(t) => t.on_response(code, now),
        };
        self.apply_client(id, acts, Some(&resp)).await;
    }
}

fn c_method_is_bye(clients: &[super::transactions::ClientTx], id: u32) -> bool {
    clients
        .iter()
        .any(|c| c.id == id && c.method == Method::Bye)
}
