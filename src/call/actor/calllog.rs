//! One call-log record per call (the spec's log shape), handed to the store's
//! off-path writer: a full queue drops the record with a metric and a log
//! line, it never blocks a call.

use std::sync::Arc;
use std::time::SystemTime;

use crate::config::{Direction, TrunkModel};
use crate::media::session::MediaSession;
use crate::sip::{Message, Uri};
use crate::store::{to_rfc3339, CallRecord, SipInfo};

use super::Call;
use crate::call::hub::CallHub;
use crate::call::outcome::{Outcome, Refused};

pub(super) fn submit(hub: &CallHub, rec: CallRecord) {
    let Some(w) = hub.call_log() else { return };
    if !w.submit(rec) {
        hub.metrics.call_log_dropped.inc();
    }
}

/// A refusal of an untrusted source: sampled into its own queue, never into the calls'.
fn submit_refusal(hub: &CallHub, rec: CallRecord) {
    let Some(w) = hub.call_log() else { return };
    let logged = if w.submit_refusal(rec) { "yes" } else { "no" };
    hub.metrics
        .call_log_refusals
        .get_or_create(&vec![("logged", logged)])
        .inc();
}

/// Longest caller number or Call-ID kept in a record (characters): what a
/// caller sends is otherwise bounded only by the message size.
const MAX_FIELD: usize = 128;

/// `s` cut to [`MAX_FIELD`] characters.
fn clip(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(MAX_FIELD) {
        s.truncate(i);
    }
    s
}

/// The calling number: the From URI's user part, unescaped (empty if none), at
/// most [`MAX_FIELD`] characters.
pub(super) fn caller_no(msg: &Message) -> String {
    caller_no_of(msg.from_hdr().ok().and_then(|f| f.uri().ok()).as_ref())
}

/// [`caller_no`] from the From URI already parsed (`None`: no From or no URI).
pub(super) fn caller_no_of(from_uri: Option<&Uri>) -> String {
    clip(
        from_uri
            .and_then(Uri::user_unescaped)
            .map(|u| String::from_utf8_lossy(&u).into_owned())
            .unwrap_or_default(),
    )
}

/// A call refused before it started (policy, limits, unknown number …). From an
/// untrusted source (`trusted` false: no carrier, trunk CIDR or Twilio range) the
/// record is only sampled (issue 15: a refusal flood must not crowd out real calls).
#[allow(clippy::too_many_arguments)]
pub fn rejected(
    hub: &Arc<CallHub>,
    trusted: bool,
    msg: &Message,
    code: u16,
    refused: Refused,
    direction: Direction,
    trunk: Option<&Arc<TrunkModel>>,
    number: &str,
) {
    if let Some(id) = msg.call_id() {
        let fresh = hub
            .recent_rejects
            .lock()
            .map(|mut r| r.insert(&id))
            .unwrap_or(true);
        if !fresh {
            return;
        }
    }
    let call_id = clip(
        msg.call_id()
            .map(|c| String::from_utf8_lossy(&c).into_owned())
            .unwrap_or_default(),
    );
    let now = to_rfc3339(SystemTime::now());
    let status = refused.status(direction);
    let rec = CallRecord {
        id: uuid::Uuid::new_v4(),
        call_id: call_id.clone(),
        parent_call_id: None,
        caller_no: caller_no(msg),
        api_no: clip(number.to_string()),
        start_time: now.clone(),
        end_time: now,
        direction: direction.as_str().to_string(),
        hangup_end: Some("api".into()),
        duration: 0,
        status,
        error: Some(crate::sip::default_reason(code).to_string()),
        error_code: Some(code),
        connect_time_sec: 0,
        sip: SipInfo {
            call_id,
            response_code: code,
        },
        service: "sip_trunking".into(),
        trunk_id: trunk.map(|t| t.trunk_id),
        reason: Some(refused.name().to_string()),
        recording: None,
        quality: None,
    };
    if trusted {
        submit(hub, rec);
    } else {
        submit_refusal(hub, rec);
    }
}

/// The record of a call that ran, written when it ends (with its media
/// quality, once the media task has handed it over).
pub fn finished(call: &Call, media: Option<crate::media::session::MediaSession>, outcome: Outcome) {
    let Outcome { status, code, by } = outcome;
    let end = SystemTime::now();
    let duration = end.duration_since(call.started_wall).unwrap_or_default();
    let failed = outcome.is_failure();
    submit_with_quality(
        call,
        media,
        CallRecord {
            id: uuid::Uuid::new_v4(),
            call_id: String::from_utf8_lossy(call.call_id()).into_owned(),
            parent_call_id: None,
            caller_no: call.caller_no.clone(),
            api_no: call.api_no.clone(),
            start_time: to_rfc3339(call.started_wall),
            end_time: to_rfc3339(end),
            direction: call.direction.as_str().to_string(),
            hangup_end: Some(by.log_end().to_string()),
            duration: duration.as_millis() as u64,
            status,
            error: failed.then(|| crate::sip::default_reason(code).to_string()),
            error_code: failed.then_some(code),
            // Connected seconds: from the answer to now (the end).
            connect_time_sec: call
                .phase
                .answered_at()
                .map_or(0, |t| t.elapsed().as_secs()),
            sip: SipInfo {
                call_id: String::from_utf8_lossy(call.call_id()).into_owned(),
                response_code: code,
            },
            service: "sip_trunking".into(),
            // Calls of numbers assigned straight to a call flow have no trunk.
            trunk_id: (!call.trunk.trunk_id.is_nil()).then_some(call.trunk.trunk_id),
            reason: call.reason.map(|r| r.name().to_string()),
            recording: call
                .media
                .recording()
                .map(|(path, first)| crate::store::RecordingRef {
                    path: path.display().to_string(),
                    duration: first.get().map_or(0.0, |t| t.elapsed().as_secs_f64()),
                }),
            quality: None,
        },
    );
}

/// Submits `rec` once the media task has handed over the call's final
/// quality figures (at once when the call had no media).
fn submit_with_quality(call: &Call, media: Option<MediaSession>, rec: CallRecord) {
    let Some(media) = media else {
        submit(&call.hub, rec);
        return;
    };
    let hub = std::sync::Arc::clone(&call.hub);
    let trunk = call.trunk_metrics.label.clone();
    let carrier = call.carrier_name();
    let answered = call.phase.answered_at().is_some();
    media.finish(move |q| {
        let mut rec = rec;
        if let Some(q) = &q {
            hub.metrics
                .quality
                .observe(&trunk, carrier.as_deref(), answered, q);
        }
        rec.quality = q;
        submit(&hub, rec);
    });
}
