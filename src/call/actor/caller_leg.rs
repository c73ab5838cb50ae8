//! The caller's (A) leg of the initial INVITE: our provisional and final
//! responses to it, the caller's CANCEL, and the ringing timeout (Timer C).

use bytes::Bytes;
use tokio::time::Instant;

use crate::sip::Message;

use super::transactions::ServerKind;
use super::Call;
use crate::call::outcome::{HangupBy, Outcome};
use crate::call::respond::ALLOW;
use crate::call::respond::{copy_headers, reason_of, response, PASS_RESPONSE};
use crate::store::CallStatus;

impl Call {
    /// Sends a final error to the caller and ends the call.
    pub(super) async fn fail_a(&mut self, code: u16, reason: &str, status: CallStatus) {
        let Some(s) = self.transactions.caller_invite() else {
            return;
        };
        let tag = &self.legs.caller().local_tag;
        let bytes = response(&s.req, &s.top_via, code, reason, Some(tag)).finish();
        self.send_a_final(code, bytes).await;
        self.end(Outcome::by_gateway(status, code));
    }
    pub(super) async fn send_a_final(&mut self, code: u16, bytes: Bytes) {
        let now = Instant::now();
        let rel = self.reliability();
        let timers = self.hub.timers;
        let Some(s) = self.transactions.caller_invite_mut() else {
            return;
        };
        if !matches!(s.tx, ServerKind::Invite(_)) {
            return;
        }
        let acts = s.respond(code, bytes, rel, timers, now);
        self.apply_server(self.transactions.caller_invite_id(), acts)
            .await;
    }
    /// A provisional response of our own to the caller's INVITE, with our SDP (tones) or none.
    pub(super) async fn send_a_provisional(&mut self, code: u16, reason: &str, sdp: Option<Bytes>) {
        let Some(b) = self.a_own_response(code, reason) else {
            return;
        };
        let bytes = match sdp {
            Some(sdp) => b.body("application/sdp", &sdp),
            None => b.finish(),
        };
        let acts = match self.transactions.caller_invite_mut().map(|s| &mut s.tx) {
            Some(ServerKind::Invite(t)) => t.send_provisional(bytes),
            _ => return,
        };
        self.apply_server(self.transactions.caller_invite_id(), acts)
            .await;
    }
    /// Our own response to the caller's INVITE in its dialog (Record-Route,
    /// Contact, Allow), without a body yet; None once its transaction is gone.
    pub(super) fn a_own_response(
        &self,
        code: u16,
        reason: &str,
    ) -> Option<crate::sip::MessageBuilder> {
        let s = self.transactions.caller_invite()?;
        let a = self.legs.caller();
        let mut b = response(&s.req, &s.top_via, code, reason, Some(&a.local_tag));
        for rr in s.req.record_routes() {
            b = b.header("Record-Route", rr);
        }
        Some(b.header("Contact", &a.contact).header("Allow", ALLOW))
    }
    pub(super) fn a_answered(&self) -> bool {
        self.transactions.caller_answered()
    }
    /// A response to the caller's INVITE mirroring the carrier's `resp`.
    pub(super) fn a_response(
        &self,
        resp: &Message,
        code: u16,
        dialog: bool,
    ) -> crate::sip::MessageBuilder {
        self.a_response_as(resp, code, &reason_of(resp), dialog)
    }
    /// [`Self::a_response`] with our own status line (e.g. 180 shown as 183 with our SDP).
    pub(super) fn a_response_as(
        &self,
        resp: &Message,
        code: u16,
        reason: &str,
        dialog: bool,
    ) -> crate::sip::MessageBuilder {
        let Some(s) = self.transactions.caller_invite() else {
            return crate::sip::MessageBuilder::response(code, reason);
        };
        let tag = &self.legs.caller().local_tag;
        let b = if dialog {
            self.a_own_response(code, reason)
        } else {
            None
        };
        let b = b.unwrap_or_else(|| response(&s.req, &s.top_via, code, reason, Some(tag)));
        copy_headers(
            resp,
            PASS_RESPONSE,
            self.snapshot.config.sip.max_copied_header,
            b,
        )
    }
    /// The caller cancelled: 487 to its INVITE, CANCEL toward the carrier.
    pub(super) async fn cancel_call(&mut self, by: HangupBy) {
        if self.a_answered() {
            return;
        }
        let send_cancel = self.abandon.abandon(self.progress);
        if let Some(s) = self.transactions.caller_invite() {
            let tag = &self.legs.caller().local_tag;
            let bytes = response(&s.req, &s.top_via, 487, "Request Terminated", Some(tag)).finish();
            self.send_a_final(487, bytes).await;
        }
        if send_cancel {
            self.send_cancel().await;
        }
        self.end(Outcome::canceled(by));
    }
    /// Timer C: nobody answered within the ringing limit.
    pub(super) async fn ring_timeout(&mut self) {
        if self.a_answered() {
            return;
        }
        if self.abandon.abandon(self.progress) {
            self.send_cancel().await;
        }
        self.fail_a(408, "Request Timeout", CallStatus::NoAnswer)
            .await;
    }
}
