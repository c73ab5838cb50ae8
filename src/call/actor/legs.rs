//! The call's two dialogs (RFC 3261 §12): the caller's (A, from its INVITE)
//! and the callee's of the current attempt (B, none before the first), which
//! leg a message belongs to, and the ACK a late offer holds back. A dialog's
//! own state and the requests it originates are `dialog.rs`.

use crate::sip::Message;

use super::dialog::{Dialog, Leg};

pub struct Legs {
    caller: Dialog,
    callee: Option<Dialog>,
    /// Late offer (INVITE without SDP): the ACK one leg (with its CSeq) still
    /// owes, sent with the answer in the other leg's ACK.
    pending_ack: Option<(Leg, u32)>,
}

impl Legs {
    pub fn new(caller: Dialog) -> Legs {
        Legs {
            caller,
            callee: None,
            pending_ack: None,
        }
    }

    pub fn caller(&self) -> &Dialog {
        &self.caller
    }

    pub fn callee(&self) -> Option<&Dialog> {
        self.callee.as_ref()
    }

    pub fn dialog(&self, leg: Leg) -> Option<&Dialog> {
        match leg {
            Leg::Caller => Some(&self.caller),
            Leg::Callee => self.callee.as_ref(),
        }
    }

    pub fn dialog_mut(&mut self, leg: Leg) -> Option<&mut Dialog> {
        match leg {
            Leg::Caller => Some(&mut self.caller),
            Leg::Callee => self.callee.as_mut(),
        }
    }

    /// Which leg a message belongs to, by Call-ID: the caller's, else the
    /// callee's (every attempt's Call-ID is registered to this call).
    pub fn leg_of(&self, msg: &Message) -> Leg {
        match msg.call_id() {
            Some(id) if *id == self.caller.call_id => Leg::Caller,
            _ => Leg::Callee,
        }
    }

    /// The leg's dialog is confirmed: the peer's tag is known (§12.1.2).
    pub fn established(&self, leg: Leg) -> bool {
        self.dialog(leg).is_some_and(|d| d.remote_tag.is_some())
    }

    /// A new attempt's dialog replaces the callee's.
    pub fn set_callee(&mut self, d: Dialog) {
        self.callee = Some(d);
    }

    /// The callee's dialog is given up (refused answer, failed transfer).
    pub fn drop_callee(&mut self) {
        self.callee = None;
    }

    /// The callee's 2xx confirms its dialog (tag, target, route set).
    pub fn confirm_callee(&mut self, resp: &Message) {
        if let Some(b) = self.callee.as_mut() {
            b.confirm_from_response(resp);
        }
    }

    /// A provisional with a To tag makes the callee's dialog early (§12.1.2);
    /// the first one with a tag decides it.
    pub fn confirm_callee_early(&mut self, resp: &Message) {
        let tagged = resp.to_tag().ok().flatten().is_some();
        if let Some(b) = self.callee.as_mut() {
            if b.remote_tag.is_none() && tagged {
                b.confirm_from_response(resp);
            }
        }
    }

    /// `leg` owes the ACK of sequence `cseq` until the other leg's ACK brings the answer.
    pub fn hold_ack(&mut self, leg: Leg, cseq: u32) {
        self.pending_ack = Some((leg, cseq));
    }

    /// The ACK held back for the leg opposite `acked_on`, now that an ACK
    /// arrived there; one held for `acked_on` itself stays.
    pub fn release_ack(&mut self, acked_on: Leg) -> Option<(Leg, u32)> {
        self.pending_ack
            .take_if(|(leg, _)| *leg == acked_on.other())
    }
}

#[cfg(test)]
mod tests;
