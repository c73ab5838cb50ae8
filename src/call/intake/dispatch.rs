//! The dispatcher: every message the transports receive comes here. It
//! parses and validates, answers what needs no call state (errors, OPTIONS,
//! 481 …) statelessly, hands in-call messages to their call task by Call-ID,
//! and starts a call task for an admitted new INVITE.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::config::{Direction, Trunk};
use crate::metrics::Dir;
use crate::metrics::TrunkReasonLabels;
use crate::policy::{
    admit_outbound, carrier_for_source, limit_rejection, route_inbound, InboundRoute, OutboundFacts,
};
use crate::sip::{HeaderName, Host, Message, Method, Reject, Uri};
use crate::transport::{Handler, Received, Target};

use crate::call::actor::{Call, CallPlan};
use crate::call::core::{Arrival, CallEvent, CallSender, Core};
use crate::call::limits::{Refusal, Slot};
use crate::call::outcome::Refused;
use crate::call::respond::{
    fixed_top_via, response, response_target, top_via_raw, ALLOW, SUPPORTED,
};

/// A new call's routing facts, between the policy decision and its slot.
struct Admission {
    plan: CallPlan,
    trunk: Arc<Trunk>,
    direction: Direction,
    number: String,
}

/// Option tags we implement (RFC 3262 reliable provisionals are relayed end to end).
/// Events a call task may queue before the dispatcher starts dropping (UDP peers retransmit).
const CALL_QUEUE: usize = 64;
/// User-Agent substrings of known scanners; their requests are dropped silently.
const SCANNERS: &[&[u8]] = &[
    b"friendly-scanner",
    b"sipvicious",
    b"sipcli",
    b"sip-scan",
    b"sundayddr",
    b"iWar",
];

pub struct Dispatcher {
    core: Arc<Core>,
}

impl Dispatcher {
    pub fn new(core: Arc<Core>) -> Dispatcher {
        Dispatcher { core }
    }
}

impl Handler for Dispatcher {
    fn on_message(&self, rx: Received) {
        let opts = if rx.kind.is_reliable() {
            &self.core.tcp_parse
        } else {
            &self.core.udp_parse
        };
        let meta = Arrival {
            source: rx.source,
            local: rx.local,
            kind: rx.kind,
            conn: rx.conn,
        };
        let msg = match Message::parse(rx.data, opts) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(peer = %meta.source, error = %e, "unparseable message dropped");
                self.core.metrics.drop_reason(e.name());
                return;
            }
        };
        if msg.is_request() {
            self.on_request(msg, meta);
        } else {
            self.on_response(msg, meta);
        }
    }
}

impl Dispatcher {
    fn on_response(&self, msg: Message, meta: Arrival) {
        if msg.validate_response().is_err() {
            self.core.metrics.drop_reason("bad_response");
            return;
        }
        if let Some(code) = msg.code() {
            self.core.metrics.response(Dir::In, code);
        }
        let Some(call_id) = msg.call_id().cloned() else {
            return;
        };
        if !self.deliver(&call_id, msg, meta) {
            self.core.metrics.drop_reason("stray_response");
        }
    }

    /// Hands a message to the call owning `call_id`. False when there is none.
    fn deliver(&self, call_id: &Bytes, msg: Message, meta: Arrival) -> bool {
        let Some(tx) = self.core.calls.get(call_id).map(|e| e.value().clone()) else {
            return false;
        };
        match tx.try_send(CallEvent::Sip(Box::new((msg, meta)))) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.core.metrics.drop_reason("call_queue_full");
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.core.unregister(call_id, &tx);
                false
            }
        }
    }

    fn trusted(&self, meta: &Arrival) -> bool {
        self.core.is_trusted_source(meta.source)
    }

    fn on_request(&self, msg: Message, meta: Arrival) {
        let Some(method) = msg.method().cloned() else {
            return;
        };
        self.core.metrics.request(Dir::In, &method);
        if let Some(ua) = msg.header(&HeaderName::UserAgent) {
            if is_scanner(ua) {
                self.core.metrics.drop_reason("scanner");
                // Whatever it sends next (another User-Agent) is dropped too.
                if !self.trusted(&meta) {
                    self.core
                        .flood
                        .ban(meta.source.ip(), tokio::time::Instant::now());
                }
                return;
            }
        }
        if let Err(rej) = msg.validate_request(SUPPORTED) {
            // Malformed requests from untrusted sources count toward the flood limit too.
            let limited = !self.trusted(&meta)
                && !self
                    .core
                    .flood
                    .allow(meta.source.ip(), tokio::time::Instant::now());
            if limited {
                self.core.metrics.drop_reason("rate_limited");
            } else if method != Method::Ack {
                self.reject(&msg, &meta, &rej, "invalid_request");
            }
            return;
        }
        if let Method::Other(_) = method {
            let rej = Reject {
                code: 501,
                reason: "Not Implemented",
                unsupported: Vec::new(),
            };
            return self.reject(&msg, &meta, &rej, "method_not_implemented");
        }
        let Some(call_id) = msg.call_id().cloned() else {
            return;
        };
        let to_tag = msg.to_hdr().ok().and_then(|t| t.tag());
        // An initial INVITE (no To tag) that is already known is a retransmission: deliver it.
        let msg = {
            let Some(tx) = self.core.calls.get(&call_id).map(|e| e.value().clone()) else {
                return self.out_of_call(msg, meta, method, call_id, to_tag.is_some());
            };
            match tx.try_send(CallEvent::Sip(Box::new((msg, meta.clone())))) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.core.metrics.drop_reason("call_queue_full");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(CallEvent::Sip(m))) => {
                    self.core.unregister(&call_id, &tx);
                    m.0
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        };
        self.out_of_call(msg, meta, method, call_id, to_tag.is_some())
    }

    /// A request no call task owns.
    fn out_of_call(
        &self,
        msg: Message,
        meta: Arrival,
        method: Method,
        call_id: Bytes,
        in_dialog: bool,
    ) {
        // Only requests that belong to no call count toward the flood limit: in-dialog
        // traffic of live calls (from carriers, PBXs, inbound destinations) never does.
        if !self.trusted(&meta)
            && !self
                .core
                .flood
                .allow(meta.source.ip(), tokio::time::Instant::now())
        {
            self.core.metrics.drop_reason("rate_limited");
            return;
        }
        // RFC 3261 §16.3 item 3 / RFC 4475 §3.3.11: no hops left -> 483, whatever the method.
        if method != Method::Ack && matches!(msg.max_forwards(), Ok(Some(0))) {
            let rej = Reject {
                code: 483,
                reason: "Too Many Hops",
                unsupported: Vec::new(),
            };
            return self.reject(&msg, &meta, &rej, "too_many_hops");
        }
        match method {
            Method::Ack => {} // ACK for a 2xx of a call that is gone, or stray: nothing to answer (§17.2.1)
            Method::Invite if !in_dialog => self.new_call(msg, meta, call_id),
            Method::Options if !in_dialog => {
                let (mut b, target) = self.stateless(&msg, &meta, 200, "OK");
                b = b.header("Allow", ALLOW).header("Accept", "application/sdp");
                b = b.header("Supported", SUPPORTED.join(", "));
                self.core.send_detached(target, b.finish(), 200);
            }
            Method::Register
            | Method::Subscribe
            | Method::Publish
            | Method::Message
            | Method::Refer
            | Method::Notify
                if !in_dialog =>
            {
                let rej = Reject {
                    code: 405,
                    reason: "Method Not Allowed",
                    unsupported: Vec::new(),
                };
                self.reject(&msg, &meta, &rej, "method_not_allowed");
            }
            Method::Cancel => {
                let rej = Reject {
                    code: 481,
                    reason: "Call/Transaction Does Not Exist",
                    unsupported: Vec::new(),
                };
                self.reject(&msg, &meta, &rej, "no_transaction");
            }
            _ => {
                let rej = Reject {
                    code: 481,
                    reason: "Call/Transaction Does Not Exist",
                    unsupported: Vec::new(),
                };
                self.reject(&msg, &meta, &rej, "no_dialog");
            }
        }
    }

    fn new_call(&self, msg: Message, meta: Arrival, call_id: Bytes) {
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
                    mode: match mode {
                        crate::config::Assignment::ParkingLot => crate::flow::FlowMode::ParkingLot,
                        _ => crate::flow::FlowMode::CallFlows,
                    },
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

    /// A stateless response to `msg` and where it goes (the top Via parsed once).
    fn stateless(
        &self,
        msg: &Message,
        meta: &Arrival,
        code: u16,
        reason: &str,
    ) -> (crate::sip::MessageBuilder, Target) {
        let via = msg.via_top().ok();
        let top = fixed_top_via(&top_via_raw(msg), via.as_ref(), meta.source);
        // A stable To tag for a retransmitted request: derived from Call-ID and branch.
        let tag = stable_tag(msg, via.as_ref());
        let b = response(msg, &top, code, reason, Some(tag.as_bytes()));
        (b, response_target(via.as_ref(), meta))
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
        trunk: Option<&Arc<Trunk>>,
        number: &str,
    ) {
        self.reject(msg, meta, rej, refused.name());
        let trusted = self.core.is_trusted_source(meta.source);
        crate::call::actor::calllog::rejected(
            &self.core, trusted, msg, rej.code, refused, direction, trunk, number,
        );
    }

    /// 503 + Retry-After for an INVITE shed by overload control. Counted
    /// (`trunkgate_rejections_total{reason="overload_*"}`), not logged per
    /// call: under overload a record per refusal would be load itself.
    fn shed(&self, msg: &Message, meta: &Arrival, shed: super::overload::Shed) {
        self.core.metrics.reject(shed.name());
        if msg.header(&HeaderName::Via).is_none() {
            return;
        }
        let retry = self.core.overload.settings().retry_after_s;
        let (b, target) = self.stateless(msg, meta, 503, "Service Unavailable");
        let b = b.header("Retry-After", retry.to_string());
        self.core.send_detached(target, b.finish(), 503);
    }

    /// Answers a request statelessly with an error.
    fn reject(&self, msg: &Message, meta: &Arrival, rej: &Reject, reason: &'static str) {
        self.core.metrics.reject(reason);
        if msg.header(&HeaderName::Via).is_none() {
            return; // nowhere to send a response (RFC 3261 §18.2.2 needs the Via)
        }
        let (mut b, target) = self.stateless(msg, meta, rej.code, rej.reason);
        if rej.code == 420 && !rej.unsupported.is_empty() {
            let list: Vec<String> = rej
                .unsupported
                .iter()
                .map(|u| String::from_utf8_lossy(u).into_owned())
                .collect();
            b = b.header("Unsupported", list.join(", "));
        }
        if rej.code == 405 || rej.code == 501 {
            b = b.header("Allow", ALLOW);
        }
        if rej.code == 415 {
            b = b.header("Accept", "application/sdp");
        }
        self.core.send_detached(target, b.finish(), rej.code);
    }
}

/// Case-insensitive substring match of a User-Agent against [`SCANNERS`], without allocating.
fn is_scanner(ua: &[u8]) -> bool {
    SCANNERS
        .iter()
        .any(|s| ua.windows(s.len()).any(|w| w.eq_ignore_ascii_case(s)))
}

fn stable_tag(msg: &Message, via: Option<&crate::sip::Via>) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    msg.call_id().hash(&mut h);
    via.and_then(|v| v.branch()).hash(&mut h);
    format!("tg{:016x}", h.finish())
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
