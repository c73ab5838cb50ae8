//! One call inside the reference worker: the stream plumbing (send a
//! command, wait for its ack or a matching event) and the call's lifecycle
//! (Accept, `init_call`, the actions, the end, `end_call`). The actions
//! themselves are in [`super::exec`].

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::{Status, Streaming};

use super::callback::{CallbackRequest, Callbacks};
use super::config::{CallbackTarget, WorkerConfig};
use trunkgate::flow::pb::{self, gateway_message::Event as PbEvent};
use trunkgate::flow::{CallOffered, CommandKind, Direction, FlowMode, OfferReason};

pub(crate) type Out = mpsc::Sender<Result<pb::WorkerMessage, Status>>;

/// Why the flow stopped before its actions ran out.
#[derive(Debug)]
pub(crate) enum Stop {
    HungUp {
        who: pb::Party,
        sip_code: u16,
        reason: String,
    },
    /// The gateway closed or broke the stream without `HungUp`.
    StreamClosed,
}

/// What a waited-for gateway event looked like.
pub(crate) enum Seen {
    Ack(pb::CommandAck),
    Other(PbEvent),
}

pub(crate) struct Session {
    pub(crate) cfg: Arc<WorkerConfig>,
    pub(crate) http: Callbacks,
    out: Out,
    inbound: Streaming<pb::GatewayMessage>,
    pub(crate) offer: CallOffered,
    pub(crate) target: Option<CallbackTarget>,
    next_id: u64,
    /// DTMF typed ahead of a COLLECT.
    pub(crate) digits: VecDeque<char>,
    pub(crate) answered: bool,
    pub(crate) rejected: bool,
    pub(crate) transferred: bool,
    pub(crate) callback_failed: bool,
    pub(crate) recording_url: Option<String>,
}

impl Session {
    pub(crate) fn new(
        cfg: Arc<WorkerConfig>,
        http: Callbacks,
        out: Out,
        inbound: Streaming<pb::GatewayMessage>,
        offer: CallOffered,
    ) -> Session {
        let target = cfg.target_for(&offer.api_no).cloned();
        Session {
            cfg,
            http,
            out,
            inbound,
            offer,
            target,
            next_id: 0,
            digits: VecDeque::new(),
            answered: false,
            rejected: false,
            transferred: false,
            callback_failed: false,
            recording_url: None,
        }
    }

    /// The whole call. Every wait inside is bounded by `max_call`.
    pub(crate) async fn run(mut self) {
        let call_id = self.offer.call_id.clone();
        let max_call = self.cfg.max_call;
        let stop = match tokio::time::timeout(max_call, self.flow()).await {
            Ok(Ok(())) => self.finish().await,
            Ok(Err(stop)) => stop,
            Err(_) => {
                tracing::warn!(%call_id, "call flow exceeded max_call; hanging up");
                self.finish().await
            }
        };
        self.end_call(stop).await;
        tracing::info!(%call_id, "call flow ended");
    }

    async fn flow(&mut self) -> Result<(), Stop> {
        // Not waiting for Accept's ack: the callback starts at once; the ack
        // is skipped later like any ack nobody waits for.
        self.send(CommandKind::Accept).await?;
        let req = self.request("init_call", "ringing");
        let actions = match self.http.post_target(self.target.as_ref(), &req).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(call_id = %self.offer.call_id, reason = e.name(), "init_call failed, hanging up: {e}");
                self.callback_failed = true;
                Vec::new()
            }
        };
        self.run_actions(actions).await
    }

    /// Hangs up unless the call already ended, then waits for `HungUp`.
    async fn finish(&mut self) -> Stop {
        if !self.rejected {
            if let Err(stop) = self.command(CommandKind::Hangup).await {
                return stop;
            }
        }
        let deadline = Instant::now() + self.cfg.command_timeout;
        loop {
            match self.recv_until(Some(deadline)).await {
                Ok(Some(_)) => continue,
                Ok(None) => return Stop::StreamClosed,
                Err(stop) => return stop,
            }
        }
    }

    async fn end_call(&mut self, stop: Stop) {
        let status = if self.rejected {
            "rejected"
        } else if self.transferred {
            "transferred"
        } else if self.answered {
            "completed"
        } else if self.callback_failed {
            "failed"
        } else {
            "canceled"
        };
        let mut req = self.request("end_call", status);
        req.recording_url = self.recording_url.clone();
        match stop {
            Stop::HungUp {
                who,
                sip_code,
                reason,
            } => {
                tracing::info!(call_id = %self.offer.call_id, ?who, sip_code, %reason, "hung up");
                req.hangup_by = Some(party_name(who).to_owned());
                req.sip_code = Some(sip_code).filter(|c| *c != 0);
            }
            Stop::StreamClosed => req.hangup_by = Some("gateway".to_owned()),
        }
        if let Err(e) = self.http.post_target(self.target.as_ref(), &req).await {
            tracing::warn!(call_id = %self.offer.call_id, reason = e.name(), "end_call not delivered: {e}");
        }
    }

    pub(crate) fn request(&self, kind: &str, status: &str) -> CallbackRequest {
        let o = &self.offer;
        CallbackRequest {
            service: match o.mode {
                FlowMode::CallFlows => "call_flows",
                FlowMode::ParkingLot => "parking_lot",
            }
            .to_owned(),
            kind: kind.to_owned(),
            call_id: o.call_id.clone(),
            direction: match o.direction {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            }
            .to_owned(),
            caller_no: o.caller_no.clone(),
            api_no: o.api_no.clone(),
            trunk_id: o.trunk_id.clone(),
            reason: match o.reason {
                OfferReason::NumberAssignment => "number_assignment",
                OfferReason::Failover => "failover",
            }
            .to_owned(),
            start_time: trunkgate::rfc3339::to_rfc3339(o.start_time),
            status: status.to_owned(),
            digits: None,
            recording_url: None,
            hangup_by: None,
            sip_code: None,
        }
    }

    /// Sends a command and waits (bounded by `command_timeout`) for its ack.
    /// Returns the command id and whether the gateway executed it.
    pub(crate) async fn command(&mut self, kind: CommandKind) -> Result<(String, bool), Stop> {
        let id = self.send(kind).await?;
        let deadline = Instant::now() + self.cfg.command_timeout;
        loop {
            match self.recv_until(Some(deadline)).await? {
                Some(Seen::Ack(a)) if a.command_id == id => {
                    if !a.ok {
                        tracing::warn!(call_id = %self.offer.call_id, command_id = %id, code = a.error_code, "command failed: {}", a.error_message);
                    }
                    return Ok((id, a.ok));
                }
                Some(_) => continue,
                None => {
                    tracing::warn!(call_id = %self.offer.call_id, command_id = %id, "no ack in time");
                    return Ok((id, false));
                }
            }
        }
    }

    /// Sends a command with a fresh id, without waiting for its ack.
    async fn send(&mut self, kind: CommandKind) -> Result<String, Stop> {
        self.next_id += 1;
        let id = format!("c{}", self.next_id);
        let msg = pb::WorkerMessage {
            command_id: id.clone(),
            command: Some(kind.into()),
        };
        match self.out.send(Ok(msg)).await {
            Ok(()) => Ok(id),
            Err(_) => Err(Stop::StreamClosed),
        }
    }

    /// The next gateway event, or `None` once `deadline` passes. DTMF is
    /// buffered, `Answered` and `RecordingSaved` recorded, `HungUp` and the
    /// end of the stream become `Err(Stop)`.
    pub(crate) async fn recv_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Seen>, Stop> {
        let next = self.inbound.message();
        let msg = match deadline {
            Some(d) => match tokio::time::timeout_at(d, next).await {
                Ok(m) => m,
                Err(_) => return Ok(None),
            },
            None => next.await,
        };
        let ev = match msg {
            Ok(Some(pb::GatewayMessage { event: Some(ev) })) => ev,
            Ok(Some(_)) => return Ok(Some(Seen::Other(PbEvent::Answered(pb::Answered {})))),
            Ok(None) | Err(_) => return Err(Stop::StreamClosed),
        };
        Ok(Some(match ev {
            PbEvent::CommandAck(a) => Seen::Ack(a),
            PbEvent::HungUp(h) => {
                return Err(Stop::HungUp {
                    who: h.who(),
                    sip_code: u16::try_from(h.sip_code).unwrap_or(0),
                    reason: h.reason,
                })
            }
            PbEvent::Dtmf(d) => {
                self.digits.extend(d.digit.chars().take(1));
                Seen::Other(PbEvent::Dtmf(d))
            }
            PbEvent::Answered(a) => {
                self.answered = true;
                Seen::Other(PbEvent::Answered(a))
            }
            PbEvent::RecordingSaved(r) => {
                self.recording_url = Some(r.path.clone());
                Seen::Other(PbEvent::RecordingSaved(r))
            }
            other => Seen::Other(other),
        }))
    }
}

fn party_name(p: pb::Party) -> &'static str {
    match p {
        pb::Party::Caller => "caller",
        pb::Party::Callee => "callee",
        pb::Party::Worker => "worker",
        pb::Party::Gateway | pb::Party::Unspecified => "gateway",
    }
}
