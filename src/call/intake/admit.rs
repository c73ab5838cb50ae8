//! Admission of a new call: the policy decision (`policy::admit_outbound` for
//! a PBX, `policy::route_inbound` for a carrier) turned into a `CallPlan`, the
//! trunk's limit slot taken, and the call task started — or the call refused
//! (response + call-log record). Called by `dispatch` for an INVITE with an
//! unknown Call-ID.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::config::{Direction, TrunkModel};
use crate::metrics::TrunkReasonLabels;
use crate::policy::{
    admit_outbound, carrier_for_source, limit_rejection, route_inbound, InboundRoute, OutboundFacts,
};
use crate::sip::{HeaderName, Host, Message, Reject, Uri};

use super::dispatch::{Dispatcher, CALL_QUEUE};
use crate::call::actor::{Call, CallPlan};
use crate::call::core::{Arrival, CallEvent, CallSender};
use crate::call::limits::{Refusal, Slot};
use crate::call::outcome::Refused;

/// A new call's routing facts, between the policy decision and its slot.
struct Admission {
    plan: CallPlan,
    trunk: Arc<TrunkModel>,
    direction: Direction,
    number: String,
}

impl Dispatcher {
    pub(super) fn new_call(&self, msg: Message, meta: Arrival, call_id: Bytes) {
        if let Err(rej) = msg.max_forwards() {
            return self.reject(&msg, &meta, &rej, "invalid_request");
        }
        if self
            .core
            .draining
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            let rej = Reject {
                code: 503,
                reason: "Service Unavailable",
                unsupported: Vec::new(),
            };
            return self.reject(&msg, &meta, &rej, "shutting_down");
        }
        // Overload: refused before any routing, task, port or log record.
        if let Some(shed) = self.core.overload.check(|| rand::random_range(0..1000)) {
            return self.shed(&msg, &meta, shed);
        }
        if let Some(rej) = check_invite_body(&msg) {
            return self.reject(&msg, &meta, &rej, "unsupported_media");
        }
        let uri = match msg.request_uri().map(Uri::parse) {
            Some(Ok(u)) => u,
            Some(Err(rej)) => return self.reject(&msg, &meta, &rej, "invalid_request"),
            None => return,
        };
        let host = match &uri.host {
            Host::Name(n) => String::from_utf8_lossy(n).into_owned(),
            Host::V4(a) => a.to_string(),
            Host::V6(a) => a.to_string(),
        };
        let user = uri
            .user_unescaped()
            .map(|u| String::from_utf8_lossy(&u).into_owned());
        let sid = msg
            .header(&HeaderName::Other(Bytes::from_static(
                b"X-Twilio-AccountSid",
            )))
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let snapshot = self.core.snapshot.load();
        // A carrier's source makes the request inbound; anything else must be a PBX on an outbound trunk.
        let plan = if carrier_for_source(&snapshot.config.carriers, meta.source).is_some() {
            match route_inbound(&snapshot.numbers, &snapshot.trunks, user.as_deref()) {
                Ok(InboundRoute::Trunk {
                    trunk,
                    did,
                    failover_first,
                }) => CallPlan::Inbound {
                    trunk,
                    did,
                    failover_first,
                },
                Ok(InboundRoute::Worker { mode, did }) => CallPlan::Flow {
                    did,
                    mode: crate::call::plan::flow_mode(mode),
                },
                Err(r) => {
                    tracing::info!(peer = %meta.source, reason = r.name(), code = r.code(), "inbound INVITE refused");
                    let rej = Reject {
                        code: r.code(),
                        reason: r.reason_phrase(),
                        unsupported: Vec::new(),
                    };
                    let did = user.clone().unwrap_or_default();
                    return self.reject_call(
                        &msg,
                        &meta,
                        &rej,
                        Refused::Inbound(r),
                        Direction::Inbound,
                        None,
                        &did,
                    );
                }
            }
        } else {
            let facts = OutboundFacts {
                ruri_host: &host,
                ruri_user: user.as_deref(),
                source: meta.source.ip(),
                twilio_account_sid: sid.as_deref(),
            };
            let admitted = admit_outbound(&snapshot.trunks, &snapshot.config.twilio, &facts)
                .and_then(|a| {
                    crate::call::tls_hooks::check_client_cert(
                        &self.core,
                        &snapshot.config,
                        a,
                        &meta,
                    )
                });
            match admitted {
                Ok(a) => CallPlan::Outbound {
                    trunk: a.trunk,
                    dialed: a.dialed,
                },
                Err(r) => {
                    tracing::info!(peer = %meta.source, reason = r.name(), code = r.code(), "INVITE refused");
                    let rej = Reject {
                        code: r.code(),
                        reason: r.reason_phrase(),
                        unsupported: Vec::new(),
                    };
                    let dialed = user.clone().unwrap_or_default();
                    return self.reject_call(
                        &msg,
                        &meta,
                        &rej,
                        Refused::Outbound(r),
                        Direction::Outbound,
                        None,
                        &dialed,
                    );
                }
            }
        };
        let (trunk, direction, number) = match &plan {
            CallPlan::Outbound { trunk, dialed } => {
                (Arc::clone(trunk), Direction::Outbound, dialed.clone())
            }
            CallPlan::Inbound { trunk, did, .. } | CallPlan::Busy { trunk, did } => {
                (Arc::clone(trunk), Direction::Inbound, did.clone())
            }
            CallPlan::Flow { did, .. } => (
                crate::call::actor::flow::flow_trunk(),
                Direction::Inbound,
                did.clone(),
            ),
        };
        // simultaneous_call_limit: a slot now, released exactly once when the call ends.
        let limit = trunk.simultaneous_call_limit;
        if self.core.limits.is_clustered(limit) {
            // The slot is a Redis lease: one round trip, off the transport's thread.
            // Registered first so retransmissions of this INVITE wait for the task.
            let (tx, rx) = mpsc::channel(CALL_QUEUE);
            match self.core.calls.entry(call_id.clone()) {
                dashmap::Entry::Occupied(e) => {
                    let _ = e.get().try_send(CallEvent::Sip(Box::new((msg, meta))));
                    return;
                }
                dashmap::Entry::Vacant(v) => {
                    v.insert(tx.clone());
                }
            }
            let d = Dispatcher::new(Arc::clone(&self.core));
            let snapshot: Arc<crate::call::core::Snapshot> = Arc::clone(&snapshot);
            tokio::spawn(async move {
                let slot = d.core.limits.acquire(trunk.trunk_id, limit).await;
                let call = Admission {
                    plan,
                    trunk,
                    direction,
                    number,
                };
                d.admit(&snapshot, call, slot, msg, meta, call_id, Some((tx, rx)));
            });
            return;
        }
        let slot = self
            .core
            .limits
            .try_acquire(trunk.trunk_id, limit)
            .ok_or(Refusal::LimitReached);
        let call = Admission {
            plan,
            trunk,
            direction,
            number,
        };
        self.admit(&snapshot, call, slot, msg, meta, call_id, None);
    }
    /// Starts the call task for an admitted call, or refuses it (over the
    /// limit: 503 outbound, busy inbound; Redis down with `reject`: 503).
    /// `registered`: the call's channel, already in the Call-ID registry.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        snapshot: &Arc<crate::call::core::Snapshot>,
        call: Admission,
        slot: Result<Slot, Refusal>,
        msg: Message,
        meta: Arrival,
        call_id: Bytes,
        registered: Option<(CallSender, mpsc::Receiver<CallEvent>)>,
    ) {
        let Admission {
            plan,
            trunk,
            direction,
            number,
        } = call;
        let mut plan = plan;
        let slot = match slot {
            Ok(s) => Some(s),
            Err(Refusal::ClusterDown) => {
                if registered.is_some() {
                    self.core.calls.remove(&call_id);
                }
                let rej = Reject {
                    code: 503,
                    reason: "Service Unavailable",
                    unsupported: Vec::new(),
                };
                return self.reject_call(
                    &msg,
                    &meta,
                    &rej,
                    Refused::ClusterUnavailable,
                    direction,
                    Some(&trunk),
                    &number,
                );
            }
            Err(Refusal::LimitReached) => None,
        };
        if slot.is_none() {
            self.core
                .metrics
                .trunk_rejections
                .get_or_create(&TrunkReasonLabels {
                    trunk: trunk.trunk_id.to_string(),
                    direction: direction.as_str(),
                    reason: Refused::LimitReached.name(),
                })
                .inc();
            // Inbound over the limit with media anchored: the carrier hears a busy
            // tone first (the call task answers 486 after it), else 486/503 at once.
            let tone = direction == Direction::Inbound
                && self.core.media.enabled()
                && crate::call::actor::media::has_sdp(&msg);
            if !tone {
                if registered.is_some() {
                    self.core.calls.remove(&call_id);
                }
                let (code, reason) = limit_rejection(direction);
                let rej = Reject {
                    code,
                    reason,
                    unsupported: Vec::new(),
                };
                return self.reject_call(
                    &msg,
                    &meta,
                    &rej,
                    Refused::LimitReached,
                    direction,
                    Some(&trunk),
                    &number,
                );
            }
            plan = CallPlan::Busy {
                trunk: Arc::clone(&trunk),
                did: number.clone(),
            };
        }
        let (tx, rx) = match registered {
            Some(pair) => pair,
            None => {
                let (tx, rx) = mpsc::channel(CALL_QUEUE);
                // Register before the task runs so retransmissions of this INVITE find it.
                match self.core.calls.entry(call_id) {
                    dashmap::Entry::Occupied(e) => {
                        let _ = e.get().try_send(CallEvent::Sip(Box::new((msg, meta))));
                        return;
                    }
                    dashmap::Entry::Vacant(v) => {
                        v.insert(tx.clone());
                    }
                }
                (tx, rx)
            }
        };
        let call = Call::new(
            Arc::clone(&self.core),
            Arc::clone(snapshot),
            plan,
            slot,
            msg,
            meta,
            tx,
        );
        // Every log line of the call carries its number and the caller's Call-ID.
        let span = tracing::info_span!("call", id = call.number(), call_id = %String::from_utf8_lossy(call.call_id()));
        let fut = tracing::Instrument::instrument(call.run(rx), span);
        tokio::spawn(fut);
    }
    /// Refuses a new call: the error response plus the call's log record.
    #[allow(clippy::too_many_arguments)]
    fn reject_call(
        &self,
        msg: &Message,
        meta: &Arrival,
        rej: &Reject,
        refused: Refused,
        direction: Direction,
        trunk: Option<&Arc<TrunkModel>>,
        number: &str,
    ) {
        self.reject(msg, meta, rej, refused.name());
        let trusted = self.core.is_trusted_source(meta.source);
        crate::call::actor::calllog::rejected(
            &self.core, trusted, msg, rej.code, refused, direction, trunk, number,
        );
    }
}

/// RFC 3261 §8.2.3 / RFC 4475 §3.3.6, §3.3.15: an INVITE must carry SDP (or no body)
/// and must accept SDP in answers.
fn check_invite_body(msg: &Message) -> Option<Reject> {
    if !msg.body().is_empty() {
        let ct = msg
            .content_type()
            .map(|c| c.to_ascii_lowercase())
            .unwrap_or_default();
        let ok = ct.starts_with(b"application/sdp") || ct.starts_with(b"multipart/mixed");
        if !ok {
            return Some(Reject {
                code: 415,
                reason: "Unsupported Media Type",
                unsupported: Vec::new(),
            });
        }
    }
    let accepts = msg.header_values(&HeaderName::Accept);
    if !accepts.is_empty() {
        let sdp = accepts.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a.starts_with(b"application/sdp")
                || a.starts_with(b"*/*")
                || a.starts_with(b"application/*")
        });
        if !sdp {
            return Some(Reject {
                code: 406,
                reason: "Not Acceptable",
                unsupported: Vec::new(),
            });
        }
    }
    None
}
