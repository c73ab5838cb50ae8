//! Calls controlled by a call-flow worker (numbers assigned to `CallFlows` /
//! `ParkingLot`, inbound failover `api`): the call task offers the call over
//! gRPC (`crate::flow`), then executes the worker's commands on the caller's
//! leg — answer, reject, play, record, transfer, hang up — and reports SIP and
//! media events back. The gateway keeps signaling and media throughout; while
//! it is the caller's only peer it answers the caller's in-dialog requests
//! itself (`flow/in_dialog.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::time::Instant;

use crate::flow::{
    CallOffered, Command, CommandError, CommandErrorCode, CommandKind, DtmfSource, Event,
    FlowError, FlowMode, OfferReason, Party, PlaySource, RecordAction, RejectReason, Tone,
};
use crate::media::prompt;
use crate::media::tones::{self, ToneKind};
use crate::sip::HeaderName;

use super::dialog::Leg;
use super::media::RecordRefused;
use super::Call;
use crate::call::outcome::{EndReason, HangupBy, Outcome};
use crate::store::CallStatus;

mod in_dialog;

/// Headers of the caller's INVITE the worker gets in `CallOffered`.
const OFFER_HEADERS: &[HeaderName] = &[HeaderName::From, HeaderName::To, HeaderName::UserAgent];

/// A flow call's state beside the SIP state.
#[derive(Default)]
pub(super) struct FlowState {
    /// Playback ids given to the relay -> the worker's command ids.
    plays: HashMap<u64, String>,
    next_play: u64,
    /// The command id of the transfer under way.
    pub(super) transfer: Option<String>,
    /// A transfer succeeded: the caller talks to the new leg, the worker is done.
    pub(super) bridged: bool,
    /// Caller-ID for the transfer's INVITE (`Transfer.caller_id_no`).
    pub(super) caller_id: Option<String>,
}

/// A synthetic trunk for calls of numbers assigned straight to a call flow:
/// they belong to no customer trunk (no limits, no trunk id in the call log).
pub fn flow_trunk() -> Arc<crate::config::TrunkModel> {
    let trunk = crate::config::Trunk {
        trunk_id: uuid::Uuid::nil(),
        media_encryption: Default::default(),
        status: crate::config::TrunkStatus::Active,
        direction: crate::config::Direction::Inbound,
        simultaneous_call_limit: None,
        description: Some("call flow".into()),
        recording: None,
        inbound: None,
        outbound: None,
    };
    match crate::config::TrunkModel::new(trunk) {
        Ok(m) => Arc::new(m),
        Err(e) => unreachable!("a trunk without inbound or outbound settings parses: {e:?}"),
    }
}

/// The next command of the call's worker; pending forever when there is none
/// (so it can sit in the call task's `select!`). Cancel-safe.
pub(super) async fn next_command(
    flow: &mut Option<crate::flow::FlowCall>,
) -> Result<Option<Command>, FlowError> {
    match flow.as_mut() {
        Some(f) => f.next_command().await,
        None => std::future::pending().await,
    }
}

pub(super) fn err(code: CommandErrorCode, msg: impl Into<String>) -> Result<(), CommandError> {
    Err(CommandError::new(code, msg))
}

impl Call {
    /// Offers the call to the workers. False: nobody took it (`reason` says why).
    pub(super) async fn start_flow(&mut self, mode: FlowMode, reason: OfferReason) -> bool {
        let Some(pool) = self.hub.flow() else {
            self.reason = Some(EndReason::FlowNoWorker);
            return false;
        };
        let headers = self
            .transactions
            .caller_invite_request()
            .map(|req| {
                OFFER_HEADERS
                    .iter()
                    .filter_map(|h| {
                        let v = req.header(h)?;
                        Some((
                            h.as_str().to_string(),
                            String::from_utf8_lossy(&v).into_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let offered = CallOffered {
            call_id: String::from_utf8_lossy(self.call_id()).into_owned(),
            direction: match self.direction {
                crate::config::Direction::Inbound => crate::flow::Direction::Inbound,
                crate::config::Direction::Outbound => crate::flow::Direction::Outbound,
            },
            caller_no: self.caller_no.clone(),
            api_no: self.api_no.clone(),
            trunk_id: (!self.trunk.trunk_id.is_nil()).then(|| self.trunk.trunk_id.to_string()),
            mode,
            reason,
            source: self.legs.caller().peer.addr,
            headers,
            start_time: self.started_wall,
        };
        match pool.offer(offered).await {
            Ok(f) => {
                tracing::info!(
                    call = self.number,
                    worker = f.worker(),
                    "call handed to the call-flow worker"
                );
                self.flow = Some(f);
                self.flow_state = Some(Box::default());
                true
            }
            Err(e) => {
                tracing::info!(call = self.number, error = %e, "no call-flow worker took the call");
                self.reason = Some(EndReason::Layer(e.name()));
                false
            }
        }
    }

    /// A number assigned to a call flow: offer it, 503 when no worker takes it.
    pub(super) async fn flow_call(&mut self, mode: FlowMode) {
        if !self.start_flow(mode, OfferReason::NumberAssignment).await {
            self.fail_a(503, "Service Unavailable", CallStatus::Failed)
                .await;
        }
    }

    pub(super) async fn on_flow_command(&mut self, next: Result<Option<Command>, FlowError>) {
        let cmd = match next {
            Ok(Some(c)) => c,
            Ok(None) => return self.flow_gone(EndReason::FlowEnded).await,
            Err(e) => {
                tracing::info!(call = self.number, error = %e, "call-flow stream broke");
                return self.flow_gone(EndReason::Layer(e.name())).await;
            }
        };
        let result = if self.phase.is_ended() {
            err(CommandErrorCode::InvalidState, "the call has ended")
        } else {
            self.execute(&cmd).await
        };
        if let Some(f) = self.flow.as_mut() {
            f.ack(&cmd.id, result);
        }
    }

    /// The worker is gone: the call ends unless it was transferred already.
    async fn flow_gone(&mut self, reason: EndReason) {
        self.flow = None;
        if self.phase.is_ended() || self.flow_state.as_ref().is_some_and(|s| s.bridged) {
            return;
        }
        self.reason = Some(reason);
        if self.phase.answered_at().is_some() {
            self.bye_both(Leg::Caller).await;
            self.end(Outcome::completed(HangupBy::Gateway));
        } else {
            self.fail_a(503, "Service Unavailable", CallStatus::Failed)
                .await;
        }
    }

    async fn execute(&mut self, cmd: &Command) -> Result<(), CommandError> {
        match &cmd.kind {
            CommandKind::Accept => {
                if !self.a_answered() {
                    self.send_a_provisional(180, "Ringing", None).await;
                }
                Ok(())
            }
            CommandKind::Answer => self.flow_answer().await,
            CommandKind::Reject(r) => {
                if self.a_answered() {
                    return err(CommandErrorCode::InvalidState, "already answered");
                }
                match r {
                    RejectReason::Busy => {
                        self.busy_reason = Some(EndReason::FlowRejectBusy);
                        self.busy_call().await;
                    }
                    RejectReason::Disconnected => {
                        self.reason = Some(EndReason::FlowRejectDisconnected);
                        self.fail_a(404, "Not Found", CallStatus::Failed).await;
                    }
                }
                Ok(())
            }
            CommandKind::Play { source, loops } => self.flow_play(&cmd.id, source, *loops).await,
            CommandKind::StopPlay => {
                self.media.stop_play();
                Ok(())
            }
            CommandKind::Record(a) => self.flow_record(*a),
            CommandKind::Transfer {
                target,
                caller_id_no,
            } => {
                self.flow_transfer(&cmd.id, target, caller_id_no.clone())
                    .await
            }
            CommandKind::Hangup => {
                self.reason = Some(EndReason::FlowHangup);
                if self.phase.answered_at().is_some() {
                    self.bye_both(Leg::Caller).await;
                    self.end(Outcome::completed(HangupBy::Api));
                } else {
                    self.fail_a(503, "Service Unavailable", CallStatus::Failed)
                        .await;
                }
                Ok(())
            }
        }
    }

    /// 200 OK to the caller with the gateway as its media peer.
    async fn flow_answer(&mut self) -> Result<(), CommandError> {
        if self.a_answered() {
            return Ok(()); // idempotent
        }
        let sdp = self.media.own_sdp();
        let Some(b) = self.a_own_response(200, "OK") else {
            return err(CommandErrorCode::InvalidState, "no INVITE to answer");
        };
        let bytes = match &sdp {
            Some(sdp) => b.body("application/sdp", sdp),
            None => b.finish(),
        };
        self.setup_timers.ring = None;
        self.phase.answer(Instant::now());
        self.send_a_final(200, bytes).await;
        self.media.answered_by_us();
        self.publish_live();
        if let Some(f) = &self.flow {
            f.event(Event::Answered);
        }
        Ok(())
    }

    async fn flow_play(
        &mut self,
        id: &str,
        source: &PlaySource,
        loops: u32,
    ) -> Result<(), CommandError> {
        let Some(codec) = self.media.tone_codec() else {
            return err(
                CommandErrorCode::MediaUnavailable,
                "the caller offered no G.711 media",
            );
        };
        let audio = match source {
            PlaySource::WavPath(p) => prompt::load_wav(p).map(|pcm| prompt::encode(&pcm, codec.1)),
            PlaySource::Url(u) => match u
                .strip_prefix("file://")
                .or((!u.contains("://")).then_some(u.as_str()))
            {
                Some(p) => prompt::load_wav(p).map(|pcm| prompt::encode(&pcm, codec.1)),
                None => {
                    return err(
                        CommandErrorCode::Unsupported,
                        "only file URLs and paths can be played",
                    )
                }
            },
            PlaySource::Dtmf(d) => prompt::dtmf_pcm(d).map(|pcm| prompt::encode(&pcm, codec.1)),
            PlaySource::Tone(t) => {
                let kind = match t {
                    Tone::Ringback => ToneKind::Ringback,
                    Tone::Busy | Tone::Congestion => ToneKind::Busy,
                    Tone::Sit => {
                        return err(
                            CommandErrorCode::Unsupported,
                            "no SIT tone in the tone table",
                        )
                    }
                };
                let country = tones::country_of_number(&self.api_no)
                    .or_else(|| self.hub.media.settings().default_country.clone());
                Ok(prompt::tone_clip(
                    tones::tone(country.as_deref(), kind),
                    codec.1,
                    loops,
                ))
            }
        };
        let audio = match audio {
            Ok(a) => a,
            Err(e) => return err(CommandErrorCode::InvalidArgument, e.to_string()),
        };
        // Before the answer, prompts are early media (183 with our SDP).
        if !self.a_answered() {
            if let Some(sdp) = self.media.own_sdp() {
                self.send_a_provisional(183, "Session Progress", Some(sdp))
                    .await;
            }
        }
        let Some(st) = self.flow_state.as_mut() else {
            return err(CommandErrorCode::InvalidState, "not a call flow");
        };
        let play = st.next_play;
        st.next_play += 1;
        st.plays.insert(play, id.to_string());
        let loops = if matches!(source, PlaySource::Tone(_)) {
            1
        } else {
            loops
        };
        self.media.play(audio, loops, play, codec);
        Ok(())
    }

    fn flow_record(&mut self, a: RecordAction) -> Result<(), CommandError> {
        match self.media.record(a) {
            Ok(Some((path, duration))) => {
                if let Some(f) = &self.flow {
                    f.event(Event::RecordingSaved {
                        path: path.display().to_string(),
                        duration,
                    });
                }
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(RecordRefused::NoMedia) => {
                err(CommandErrorCode::MediaUnavailable, "no media on this call")
            }
            Err(RecordRefused::NoRecorder) => {
                err(CommandErrorCode::Internal, "the recorder is unavailable")
            }
        }
    }

    /// Media and SIP INFO key presses go to the worker.
    pub(super) fn flow_dtmf(&self, digit: char, duration_ms: u32, source: DtmfSource) {
        if let Some(f) = &self.flow {
            f.event(Event::Dtmf {
                digit,
                duration: std::time::Duration::from_millis(u64::from(duration_ms)),
                source,
            });
        }
    }

    pub(super) fn flow_playback_finished(&mut self, play: u64, interrupted: bool) {
        let Some(id) = self.flow_state.as_mut().and_then(|s| s.plays.remove(&play)) else {
            return;
        };
        if let Some(f) = &self.flow {
            f.event(Event::PlaybackFinished {
                command_id: id,
                interrupted,
            });
        }
    }

    /// The call ended: the worker hears who hung up.
    pub(super) fn flow_hung_up(&mut self, by: HangupBy, code: u16) {
        let Some(f) = self.flow.take() else { return };
        let who = match by {
            HangupBy::Caller => Party::Caller,
            HangupBy::Callee => Party::Callee,
            HangupBy::Api => Party::Worker,
            HangupBy::Gateway => Party::Gateway,
        };
        f.hung_up(who, code, self.reason.map_or("", EndReason::name));
    }
}
