//! A call-flow worker's transfer: the caller's call moved to a new B leg (an
//! E.164 number through the carriers, or a SIP URI), before or after the
//! caller was answered. The sub-state is `FlowState::transfer` (the command
//! id under way) and `bridged`; the worker hears the result
//! (`Event::TransferResult`).

use crate::flow::{CommandError, CommandErrorCode, Event, TransferTarget};
use crate::media::tones::{self, ToneKind};
use crate::sip::Message;

use super::dialog::Leg;
use super::flow::err;
use super::Call;
use crate::call::outcome::EndReason;
use crate::call::route::carrier_hops;

impl Call {
    pub(super) async fn flow_transfer(
        &mut self,
        id: &str,
        target: &TransferTarget,
        caller_id: Option<String>,
    ) -> Result<(), CommandError> {
        if self
            .flow_state
            .as_ref()
            .is_some_and(|s| s.transfer.is_some() || s.bridged)
        {
            return err(
                CommandErrorCode::InvalidState,
                "a transfer is already under way",
            );
        }
        let hops = match target {
            TransferTarget::E164(n) => carrier_hops(&self.snapshot.config, n, |i| {
                self.hub.carrier_up(&self.snapshot.config.carriers[i].name)
            }),
            TransferTarget::SipUri(u) => super::failover::sip_uri_hops(&self.hub, u).await,
        };
        if hops.is_empty() {
            return err(
                CommandErrorCode::InvalidArgument,
                "no route to the transfer target",
            );
        }
        if let Some(st) = self.flow_state.as_mut() {
            st.transfer = Some(id.to_string());
            st.caller_id = caller_id;
        }
        // The trunk's own failover is not for a worker's transfer.
        self.chain.close();
        if self.a_answered() {
            // The caller hears ringback until the new leg answers.
            let country = tones::country_of_number(&self.api_no);
            let cadence = tones::tone(country.as_deref(), ToneKind::Ringback);
            self.media.transfer_ringback(cadence);
        }
        self.chain.route(hops);
        if !self.start_hop().await {
            self.transfer_done(503).await;
        }
        Ok(())
    }

    /// A transfer is under way (its B-leg responses report to the worker).
    pub(super) fn transferring(&self) -> bool {
        self.flow_state
            .as_ref()
            .is_some_and(|s| s.transfer.is_some())
    }

    /// The transfer's outcome: 2xx bridges the caller to the new leg (the
    /// worker's part is over); anything else is reported and the flow goes on.
    pub(super) async fn transfer_done(&mut self, code: u16) {
        let ok = (200..300).contains(&code);
        let Some(st) = self.flow_state.as_mut() else {
            return;
        };
        let Some(id) = st.transfer.take() else { return };
        st.bridged = ok;
        if let Some(f) = &self.flow {
            f.event(Event::TransferResult {
                command_id: id,
                sip_code: code,
                ok,
            });
        }
        if ok {
            self.reason = Some(EndReason::FlowTransferred);
        } else {
            self.legs.drop_callee();
        }
        self.media.transfer_done(ok);
    }

    /// The callee answered a transfer made after the caller was answered: ACK
    /// it, take its SDP into the relay, bridge.
    pub(super) async fn transfer_answered(&mut self, id: u32, resp: &Message) {
        let Some(c) = self.transactions.client(id) else {
            return;
        };
        let (cseq, had_body) = (c.cseq, c.had_body);
        self.legs.confirm_callee(resp);
        let tag = resp.to_tag().ok().flatten();
        let ack = if had_body {
            self.send_ack(Leg::Callee, cseq, None)
                .await
                .unwrap_or_default()
        } else {
            bytes::Bytes::new()
        };
        if let Some(c) = self.transactions.client_mut(id) {
            c.acked = Some((tag, ack));
        }
        let _ = self.media.relay(Leg::Callee, resp);
        self.transfer_done(200).await;
        self.publish_live();
    }
}
