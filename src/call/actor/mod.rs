//! The call task: one per call, it owns both legs, all their transactions and
//! timers, and is driven by events from the dispatcher and its own deadlines.
//! Its phase is a `phase::Phase`; the transaction state machines do the RFC
//! timing. The `Call` struct is here; it composes the parts that own their
//! state (`transactions::Transactions`, `legs::Legs`, `chain::FailoverChain`,
//! `phase`, `media::CallMedia`), and its behaviour is split by concern over
//! the other files of this folder (each an `impl Call`).

mod attempt;
mod callee_invite;
mod caller_leg;
pub(crate) mod calllog;
mod chain;
pub(crate) mod dialog;
mod failover;
pub(crate) mod flow;
mod hangup;
mod legs;
pub(crate) mod media;
mod phase;
pub mod quality;
mod relay;
#[cfg(test)]
mod tests;
mod transactions;
mod transfer;
mod wire;
pub(super) use transactions::NewRequest;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use crate::config::Direction;
use crate::config::TrunkModel;
use crate::metrics::TrunkMetrics;
use crate::sip::Message;
use crate::store::CallStatus;
use crate::transaction::Reliability;

use self::callee_invite::CallerFrom;
use self::chain::FailoverChain;
use self::dialog::Dialog;
use self::legs::Legs;
use self::media::CallMedia;
use self::phase::{Abandon, Phase, Progress, SetupTimer, SetupTimers};
use self::transactions::{min_opt, Transactions};
use super::hub::{random_hex, Arrival, CallEvent, CallHub, CallSender, Snapshot};
use super::outcome::{EndReason, Outcome};
pub use super::plan::CallPlan;

pub struct Call {
    hub: Arc<CallHub>,
    snapshot: Arc<Snapshot>,
    me: CallSender,
    number: u64,
    direction: Direction,
    /// The trunk the call was admitted on (limits, metrics, call log).
    trunk: Arc<TrunkModel>,
    /// The trunk's metric handles and label (looked up once per trunk).
    trunk_metrics: Arc<TrunkMetrics>,
    /// Where the B leg goes: the hops in order, the one in use, the trunk
    /// whose destination/failover is in use (inbound failover moves it).
    chain: FailoverChain,
    /// The number on our side: dialed (outbound) or the DID (inbound).
    api_no: String,
    caller_no: String,
    /// The caller's From display name and user, for the callee's INVITE.
    caller_from: CallerFrom,
    /// Limit slots held; released (dropped) when the call ends.
    slots: Vec<super::limits::Slot>,
    /// Counts this call in set-up (overload control) until answered or ended.
    setup: super::intake::overload::HeldCount,
    /// Counts the current attempt's INVITE until the callee's first response.
    pending: Option<super::intake::overload::HeldCount>,
    /// Machine-readable reason for the call log (`pdd_timeout`, `failover:sip_uri` …).
    reason: Option<EndReason>,
    started: Instant,
    started_wall: std::time::SystemTime,
    /// Ringing limit, post-dial delay and busy-tone deadlines (set-up only).
    setup_timers: SetupTimers,
    plan: Option<CallPlan>,
    /// The caller's dialog and the callee's of the current attempt.
    legs: Legs,
    attempt_started: Option<Instant>,
    /// How far the callee's INVITE in flight has got (reset per attempt).
    progress: Progress,
    /// Whether the set-up was given up, and whether its CANCEL still waits.
    abandon: Abandon,
    /// Every transaction of both legs, the caller's INVITE first.
    transactions: Transactions,
    /// Set-up, answered or ended (with its outcome).
    phase: Phase,
    registered: Vec<Bytes>,
    max_forwards: u32,
    /// The call's media: its relay session, recording and our own tone.
    media: CallMedia,
    /// Why the busy tone plays (default: the trunk's limit), the reason of its 486.
    busy_reason: Option<EndReason>,
    /// The call-flow worker controlling this call, and what it set up.
    flow: Option<crate::flow::FlowCall>,
    flow_state: Option<Box<self::flow::FlowState>>,
}

impl Call {
    pub fn new(
        hub: Arc<CallHub>,
        snapshot: Arc<Snapshot>,
        plan: CallPlan,
        slot: Option<super::limits::Slot>,
        invite: Message,
        meta: Arrival,
        me: CallSender,
    ) -> Call {
        let (trunk, direction, api_no) = match &plan {
            CallPlan::Outbound { trunk, dialed } => {
                (Arc::clone(trunk), Direction::Outbound, dialed.clone())
            }
            CallPlan::Inbound { trunk, did, .. } | CallPlan::Busy { trunk, did } => {
                (Arc::clone(trunk), Direction::Inbound, did.clone())
            }
            CallPlan::Flow { did, .. } => {
                (self::flow::flow_trunk(), Direction::Inbound, did.clone())
            }
        };
        // The caller's From, parsed once: the call log, its dialog and every
        // callee INVITE read it.
        let from = invite.from_hdr().ok();
        let from_uri = from.as_ref().and_then(|f| f.uri().ok());
        let caller_no = self::calllog::caller_no_of(from_uri.as_ref());
        let caller_from = CallerFrom::of(from.as_ref(), from_uri.as_ref());
        let now = Instant::now();
        let cfg = &snapshot.config;
        let a_tag = Bytes::from(random_hex(8));
        let sent_by = if meta.local.ip().is_unspecified() {
            hub.sent_by(meta.kind, &meta.source)
        } else {
            crate::sip::addr_text::socket_addr(&meta.local)
        };
        let caller = Dialog::caller(&invite, from.as_ref(), &meta, a_tag, sent_by);
        let call_id = caller.call_id.clone();
        let max_forwards = match invite.max_forwards() {
            Ok(Some(n)) => n.saturating_sub(1),
            _ => cfg.sip.max_forwards,
        };
        let trunk_metrics = hub.metrics.trunk(trunk.trunk_id);
        let media = CallMedia::open(&hub, &me, meta.source);
        let transactions = Transactions::new(invite, &meta, hub.timers, now);
        let number = hub.next_call_number();
        hub.metrics.calls_active.inc();
        hub.metrics.transactions_active.inc();
        trunk_metrics.calls_active.inc();
        let setup = hub.overload.enter_setup();
        Call {
            hub,
            me,
            number,
            direction,
            chain: FailoverChain::new(Arc::clone(&trunk)),
            trunk,
            trunk_metrics,
            api_no,
            caller_no,
            caller_from,
            slots: slot.into_iter().collect(),
            setup,
            pending: None,
            reason: None,
            started: now,
            started_wall: std::time::SystemTime::now(),
            setup_timers: SetupTimers {
                ring: Some(now + cfg.sip.invite_timeout),
                ..SetupTimers::default()
            },
            plan: Some(plan),
            legs: Legs::new(caller),
            attempt_started: None,
            progress: Progress::Sent,
            abandon: Abandon::No,
            transactions,
            phase: Phase::Setup,
            registered: vec![call_id],
            max_forwards,
            snapshot,
            media,
            busy_reason: None,
            flow: None,
            flow_state: None,
        }
    }

    pub fn number(&self) -> u64 {
        self.number
    }

    /// The caller's Call-ID.
    pub fn call_id(&self) -> &Bytes {
        &self.legs.caller().call_id
    }

    /// Publishes the call's current shape in the live-call list (until it ends).
    pub(super) fn publish_live(&self) {
        if self.phase.is_ended() {
            return;
        }
        if self.phase.answered_at().is_some() {
            self.setup.release();
        }
        let state = if self.phase.answered_at().is_some() {
            "answered"
        } else {
            "ringing"
        };
        let call_id = String::from_utf8_lossy(self.call_id());
        // Published before: only what can change is written again (no
        // start time or Call-ID formatted a second time).
        if let Some(mut e) = self.hub.live.get_mut(call_id.as_ref()) {
            let live = e.value_mut();
            live.state = state;
            if live.caller_no != self.caller_no {
                live.caller_no.clone_from(&self.caller_no);
            }
            if live.api_no != self.api_no {
                live.api_no.clone_from(&self.api_no);
            }
            refresh_leg(&mut live.legs.caller, self.legs.caller());
            match (self.legs.callee(), &mut live.legs.callee) {
                (Some(d), Some(l)) => refresh_leg(l, d),
                (d, l) => *l = d.map(live_leg),
            }
            live.quality = self.live_quality();
            return;
        }
        let live = super::hub::LiveCall {
            call_id: call_id.into_owned(),
            trunk_id: self.trunk.trunk_id,
            direction: self.direction.as_str(),
            caller_no: self.caller_no.clone(),
            api_no: self.api_no.clone(),
            state,
            start_time: crate::store::to_rfc3339(self.started_wall),
            legs: super::hub::LiveLegs {
                caller: live_leg(self.legs.caller()),
                callee: self.legs.callee().map(live_leg),
            },
            quality: self.live_quality(),
        };
        self.hub.live.insert(live.call_id.clone(), live);
    }

    /// The task body: events and deadlines until every transaction is over.
    ///
    /// Not an `async fn`: an `async fn` moves its arguments into locals of
    /// its body, and rustc lays those out beside the captured arguments
    /// instead of over them, so the call task's future held the `Call`
    /// (~2 KB) twice: 4,496 bytes per live call, 2,448 now (the layout is
    /// checked by `run_future_holds_the_call_once`).
    #[allow(clippy::manual_async_fn)] // deliberate: see above
    pub fn run(
        mut self,
        mut rx: mpsc::Receiver<CallEvent>,
    ) -> impl std::future::Future<Output = ()> + Send {
        async move {
            self.publish_live();
            // The handlers are boxed: their futures are large and only live while an
            // event is handled, so a lingering call task stays small (memory per call).
            Box::pin(self.start()).await;
            loop {
                self.prune();
                if self.finished() {
                    break;
                }
                // Ended, and nothing left that sends on its own: the task goes, a
                // tombstone answers the retransmissions (call::linger).
                if self.phase.is_ended() {
                    if let Some(stone) = self.transactions.tombstone() {
                        self.hub.linger.bury(&self.registered, stone);
                        break;
                    }
                }
                let deadline = self.next_deadline();
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Some(CallEvent::Sip(ev)) => {
                            let (msg, meta) = *ev;
                            Box::pin(self.on_message(msg, meta)).await
                        }
                        Some(CallEvent::Hangup) => Box::pin(self.hangup()).await,
                        Some(CallEvent::Media(ev)) => Box::pin(self.on_media_event(ev)).await,
                        None => break,
                    },
                    cmd = self::flow::next_command(&mut self.flow) => {
                        Box::pin(self.on_flow_command(cmd)).await
                    }
                    _ = sleep_until(deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))) => {
                        Box::pin(self.on_timers(Instant::now())).await;
                    }
                }
            }
            if !self.phase.is_ended() {
                self.end(Outcome::by_gateway(CallStatus::Error, 500));
            }
            let left = self.transactions.len();
            if left > 0 {
                self.hub.metrics.transactions_active.dec_by(left as i64);
            }
            for id in &self.registered {
                self.hub.unregister(id, &self.me);
            }
        }
    }

    fn finished(&self) -> bool {
        self.phase.is_ended() && self.transactions.is_empty()
    }

    fn next_deadline(&self) -> Option<Instant> {
        let setup = if !self.phase.is_ended() {
            self.setup_timers.next()
        } else {
            None
        };
        min_opt(setup, self.transactions.next_deadline())
    }

    async fn on_message(&mut self, msg: Message, meta: Arrival) {
        let side = self.legs.leg_of(&msg);
        if msg.is_request() {
            self.on_request(side, msg, meta).await;
        } else {
            self.on_response(msg).await;
        }
    }

    async fn on_timers(&mut self, now: Instant) {
        while !self.phase.is_ended() {
            match self.setup_timers.take_due(now) {
                Some(SetupTimer::Ring) => self.ring_timeout().await,
                Some(SetupTimer::PostDialDelay) => self.pdd_timeout().await,
                Some(SetupTimer::BusyTone) => self.busy_tone_done().await,
                None => break,
            }
        }
        self.on_transaction_timers(now).await;
    }

    /// Records how the call ended: metrics and the one log line per call.
    pub(super) fn end(&mut self, outcome: Outcome) {
        if !self.phase.end(outcome) {
            return;
        }
        let Outcome { status, code, by } = outcome;
        self.flow_hung_up(by, code);
        let m = &self.hub.metrics;
        m.calls_active.dec();
        self.trunk_metrics.calls_active.dec();
        self.trunk_metrics
            .call_ended(self.direction.as_str(), status.as_str());
        // The relay stops now (ports freed, recording finalised), not when the
        // transactions stop lingering; it hands over the call's quality first.
        let media = self.media.end();
        self.setup_timers.busy = None;
        self::calllog::finished(self, media, outcome);
        self.hub
            .live
            .remove(String::from_utf8_lossy(self.call_id()).as_ref());
        // The limit slots go back now: the call is over even if transactions linger.
        self.slots.clear();
        self.setup.release();
        self.setup_timers.pdd = None;
        let duration = self
            .phase
            .answered_at()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        if self.phase.answered_at().is_some() {
            m.call_duration.observe(duration.as_secs_f64());
        }
        tracing::info!(
            call = self.number,
            trunk = %self.trunk_metrics.label,
            trunk_description = self.trunk.description.as_deref().unwrap_or(""),
            direction = self.direction.as_str(),
            api_no = %self.api_no,
            reason = self.reason.map_or("", EndReason::name),
            result = status.as_str(),
            code,
            hangup_by = by.as_str(),
            duration_ms = duration.as_millis() as u64,
            hops_tried = self.chain.tried(),
            "call ended"
        );
    }

    pub(super) fn reliability(&self) -> Reliability {
        self::transactions::reliability(self.legs.caller().peer.kind)
    }
}

/// A leg as the live-call list shows it.
fn live_leg(d: &Dialog) -> super::hub::LiveLeg {
    super::hub::LiveLeg {
        call_id: String::from_utf8_lossy(&d.call_id).into_owned(),
        peer: crate::sip::addr_text::socket_addr(&d.peer.addr),
        transport: d.peer.kind.as_str(),
    }
}

/// `l` made to show `d` again: its Call-ID is copied only when it changed
/// (a new carrier attempt moves the callee leg; most updates move nothing).
fn refresh_leg(l: &mut super::hub::LiveLeg, d: &Dialog) {
    if l.call_id.as_bytes() != d.call_id.as_ref() {
        l.call_id = String::from_utf8_lossy(&d.call_id).into_owned();
    }
    l.peer = crate::sip::addr_text::socket_addr(&d.peer.addr);
    l.transport = d.peer.kind.as_str();
}
