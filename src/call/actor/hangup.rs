//! How an established or ringing call is hung up: after a BYE from either
//! leg, on a missing ACK for our 2xx, and by the operator (REST API); BYE on
//! both legs.

use crate::call::outcome::{EndReason, HangupBy, Outcome};
use crate::sip::Method;
use crate::store::CallStatus;

use super::dialog::Leg;
use super::transactions::Role;
use super::{Call, NewRequest};

impl Call {
    /// A BYE from `side` ends the call (whatever the other leg answers).
    pub(super) fn end_after_bye(&mut self, side: Leg) {
        let by = if side == Leg::Caller {
            HangupBy::Caller
        } else {
            HangupBy::Callee
        };
        self.end(Outcome::completed(by));
    }

    /// No ACK for our 2xx within 64*T1 (§13.3.1.4): hang up both legs.
    pub(super) async fn ack_timeout(&mut self, server: u32) {
        let Some(s) = self.transactions.server(server) else {
            return;
        };
        let side = s.side;
        tracing::debug!(call = self.number, "no ACK for 2xx; ending the call");
        self.bye_both(side).await;
        self.end(Outcome::by_gateway(CallStatus::Error, 408));
    }

    /// BYE on both legs (those with a confirmed dialog), starting with `first`.
    pub(super) async fn bye_both(&mut self, first: Leg) {
        for leg in [first, first.other()] {
            let mf = self.max_forwards;
            let Some(d) = self.legs.dialog_mut(leg) else {
                continue;
            };
            if d.remote_tag.is_none() {
                continue;
            }
            let (branch, b) = d.request(&Method::Bye, None, mf);
            let cseq = d.local_cseq;
            self.send_request(
                leg,
                NewRequest {
                    method: Method::Bye,
                    branch,
                    cseq,
                    bytes: b.finish(),
                    role: Role::Local,
                    had_body: false,
                },
            )
            .await;
        }
    }

    /// The operator hangs the call up (REST API): BYE both legs of an answered
    /// call; an unanswered one is cancelled toward the carrier and the caller gets 480.
    pub(super) async fn hangup(&mut self) {
        if self.phase.is_ended() {
            return;
        }
        if self.phase.answered_at().is_some() {
            self.bye_both(Leg::Caller).await;
            self.reason = Some(EndReason::ApiHangup);
            self.end(Outcome::completed(HangupBy::Api));
        } else {
            if self.abandon.abandon(self.progress) {
                self.send_cancel().await;
            }
            self.reason = Some(EndReason::ApiHangup);
            self.fail_a(480, "Temporarily Unavailable", CallStatus::Canceled)
                .await;
        }
    }
}
