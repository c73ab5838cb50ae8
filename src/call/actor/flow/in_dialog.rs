//! A flow call's in-dialog requests while the gateway is the caller's only
//! peer (answered by us, no bridged leg): BYE ends the call, SIP INFO key
//! presses go to the worker, a re-INVITE/UPDATE gets our unchanged SDP.

use tokio::time::Instant;

use crate::call::actor::dialog::Leg;
use crate::call::actor::Call;
use crate::call::outcome::{HangupBy, Outcome};
use crate::flow::DtmfSource;
use crate::sip::Message;

impl Call {
    /// A flow call's caller leg answered by us, with no other leg: in-dialog
    /// requests from the caller are ours to answer. Returns true when handled.
    pub(in crate::call::actor) async fn flow_in_dialog(
        &mut self,
        side: Leg,
        msg: &Message,
        meta: &crate::call::hub::Arrival,
    ) -> bool {
        let flow_leg = self.flow_state.as_ref().is_some_and(|s| !s.bridged)
            && side == Leg::Caller
            && (!self.legs.established(Leg::Callee) || !self.a_answered() || self.transferring());
        if !flow_leg || !self.a_answered() {
            return false;
        }
        match msg.method() {
            Some(crate::sip::Method::Bye) => {
                self.answer_new(side, msg, meta, 200, "OK", None).await;
                self.end(Outcome::completed(HangupBy::Caller));
                true
            }
            Some(crate::sip::Method::Info) => {
                self.answer_new(side, msg, meta, 200, "OK", None).await;
                if let Some(d) = info_digit(msg.body()) {
                    self.flow_dtmf(d, 100, DtmfSource::SipInfo);
                }
                true
            }
            // A re-INVITE/UPDATE (hold, session refresh): the caller's new address
            // goes to the relay, the answer is our unchanged SDP.
            Some(crate::sip::Method::Invite) | Some(crate::sip::Method::Update) => {
                let _ = self.media.relay(Leg::Caller, msg);
                self.answer_own_sdp(side, msg, meta).await;
                true
            }
            _ => false,
        }
    }

    /// 200 OK with our SDP to an in-dialog INVITE/UPDATE from `side`.
    async fn answer_own_sdp(&mut self, side: Leg, msg: &Message, meta: &crate::call::hub::Arrival) {
        let sdp = self.media.own_sdp();
        let id = self.add_server(side, msg, meta);
        let a = self.legs.caller();
        let (tag, contact) = (a.local_tag.clone(), a.contact.clone());
        let (rel, timers, now) = (self.reliability(), self.hub.timers, Instant::now());
        let Some(s) = self.transactions.server_mut(id) else {
            return;
        };
        let b = crate::call::respond::response(&s.req, &s.top_via, 200, "OK", Some(&tag))
            .header("Contact", &contact)
            .header("Allow", crate::call::respond::ALLOW);
        let bytes = match sdp {
            Some(sdp) => b.body("application/sdp", &sdp),
            None => b.finish(),
        };
        let acts = s.respond(200, bytes, rel, timers, now);
        self.apply_server(id, acts).await;
    }
}

/// The digit of a SIP INFO key press: `application/dtmf-relay` (`Signal=5`)
/// or `application/dtmf` (the digit alone).
fn info_digit(body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let v = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then_some(v)
        })
        .unwrap_or(text)
        .trim();
    let mut chars = v.chars();
    let c = chars.next()?;
    (chars.next().is_none() && "0123456789*#ABCDabcd".contains(c)).then(|| c.to_ascii_uppercase())
}

#[cfg(test)]
mod tests;
