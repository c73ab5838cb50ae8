//! The call's initial INVITE: the attempt toward each carrier in turn, the
//! carrier's responses relayed to the caller, CANCEL, and the ringing timeout.

use bytes::Bytes;
use tokio::time::Instant;

use crate::config::Direction;
use crate::metrics::TrunkReasonLabels;
use crate::policy::AttemptOutcome;
use crate::transport::{Target, TransportKind};

use crate::sip::{default_reason, Message, Method};

use super::callee_invite::CalleeInvite;
use super::dialog::Leg;
use super::phase::Progress;
use super::transactions::{derived_request, Role, ServerKind};
use super::{Call, NewRequest};
use crate::call::hub::{push_random_hex, random_hex, Outgoing};
use crate::call::outcome::{EndReason, Outcome};
use crate::call::respond::{reason_of, with_body};
use crate::store::CallStatus;

impl Call {
    /// Sends the INVITE to the current hop. False when no hop is left.
    pub(super) async fn start_hop(&mut self) -> bool {
        let Some(hop) = self.chain.current().cloned() else {
            return false;
        };
        let Some(inv) = self.transactions.caller_invite_request().cloned() else {
            return false;
        };
        let had_body = !inv.body().is_empty();
        let sdp = self.media_b_offer(&inv, hop.target.addr);
        let tag = Bytes::from(random_hex(8));
        let call_id = {
            let mut s = String::with_capacity(24 + 10);
            push_random_hex(&mut s, 12);
            s.push_str("@trunkgate");
            Bytes::from(s)
        };
        let invite = CalleeInvite {
            hop: &hop,
            caller_invite: &inv,
            caller_from: &self.caller_from,
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
        self.legs.set_callee(d);
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
        // It becomes the callee's INVITE (a failover inside the send moves on to the next one).
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
        if !self.transactions.is_callee_invite(id) {
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
                self.trunk_metrics
                    .observe_post_dial_delay(t.elapsed().as_secs_f64());
            }
        }
        self.legs.confirm_callee_early(resp);
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
                let _ = self.media.relay(Leg::Callee, resp);
                let b = self.a_response_as(resp, 183, "Session Progress", true);
                b.body("application/sdp", &sdp)
            }
            None => {
                let b = self.a_response(resp, code, true);
                match self.media.relay(Leg::Callee, resp) {
                    Ok(Some(sdp)) => b.body("application/sdp", &sdp),
                    Ok(None) => with_body(b, resp),
                    Err(e) => {
                        tracing::info!(call = self.number, error = %e, "carrier early SDP not anchored");
                        b.finish()
                    }
                }
            }
        };
        let acts = match self.transactions.caller_invite_mut().map(|s| &mut s.tx) {
            Some(ServerKind::Invite(t)) => t.send_provisional(bytes),
            _ => Default::default(),
        };
        self.apply_server(self.transactions.caller_invite_id(), acts)
            .await;
    }

    async fn on_b_success(&mut self, id: u32, resp: &Message) {
        let tag = resp.to_tag().ok().flatten();
        let Some(c) = self.transactions.client(id) else {
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
        self.legs.confirm_callee(resp);
        let cseq = c.cseq;
        let had_body = c.had_body;
        if self.transferring() && self.a_answered() {
            return self.transfer_answered(id, resp).await;
        }
        if self.abandon.is_abandoned() || self.a_answered() {
            self.ack_and_bye(id, resp).await;
            return;
        }
        let answer_sdp = self.media.answer(resp);
        if let Err(crate::media::session::MediaError::Srtp(e)) = &answer_sdp {
            // The carrier answered without the SRTP its policy requires (or
            // with crypto we never offered): hang it up, 488 to the caller.
            tracing::info!(call = self.number, error = %e, "carrier answer refused");
            self.reason = Some(EndReason::Layer(e.name()));
            self.ack_and_bye(id, resp).await;
            self.legs.drop_callee();
            self.fail_a(488, "Not Acceptable Here", CallStatus::Failed)
                .await;
            return;
        }
        let ack = if had_body {
            self.send_ack(Leg::Callee, cseq, None)
                .await
                .unwrap_or_default()
        } else {
            self.legs.hold_ack(Leg::Callee, cseq);
            Bytes::new()
        };
        if let Some(c) = self.transactions.client_mut(id) {
            c.acked = Some((tag, ack));
        }
        self.phase.answer(Instant::now());
        self.publish_live();
        self.trunk_metrics
            .observe_time_to_answer(self.started.elapsed().as_secs_f64());
        let b = self.a_response(resp, 200, true);
        let bytes = match answer_sdp {
            Ok(Some(sdp)) => b.body("application/sdp", &sdp),
            Ok(None) => with_body(b, resp),
            Err(e) => {
                tracing::info!(call = self.number, error = %e, "carrier answer SDP not anchored");
                with_body(b, resp)
            }
        };
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
                trunk: self.trunk_metrics.label.clone(),
                direction: self.direction.as_str(),
                reason,
            })
            .inc();
    }

    /// Timer B / transport error on a client transaction.
    pub(super) async fn on_client_timeout(&mut self, id: u32, transport: bool) {
        let Some(c) = self.transactions.client(id) else {
            return;
        };
        let is_bye = c.method == Method::Bye;
        match c.role.clone() {
            Role::Initial if self.transactions.is_callee_invite(id) => {
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
                if is_bye {
                    self.end_after_bye(from);
                }
            }
            _ => {}
        }
    }

    /// CANCEL of the B leg's INVITE (§9.1): only after a provisional response.
    pub(super) async fn send_cancel(&mut self) {
        let Some(c) = self.transactions.callee_invite() else {
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
        let Some(c) = self.transactions.client(id) else {
            return;
        };
        let Some(b) = self.legs.callee() else { return };
        let cseq = c.cseq;
        let mut d = b.fork(resp, cseq, c.target.clone());
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
        let Some(c) = self.transactions.client(id) else {
            return;
        };
        match c.role.clone() {
            Role::Initial => self.on_initial_response(id, resp).await,
            Role::Relay { from, server } => self.on_relayed_response(id, from, server, resp).await,
            Role::Cancel | Role::Local => {}
        }
    }
}
