//! The dispatcher: every message the transports receive comes here. It
//! parses and validates, answers what needs no call state (errors, OPTIONS,
//! 481 …) statelessly, hands in-call messages to their call task by Call-ID,
//! and starts a call task for an admitted new INVITE.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::metrics::Dir;
use crate::sip::{Checked, HeaderName, Message, Method, Reject};
use crate::transport::{Handler, Received, Target};

use crate::call::hub::{Arrival, CallEvent, CallHub, Outgoing};
use crate::call::linger::Reply;
use crate::call::respond::{
    fixed_top_via, response, response_target, top_via_raw, ALLOW, SUPPORTED,
};

/// Option tags we implement (RFC 3262 reliable provisionals are relayed end to end).
/// Events a call task may queue before the dispatcher starts dropping (UDP peers retransmit).
pub(super) const CALL_QUEUE: usize = 64;
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
    pub(super) hub: Arc<CallHub>,
}

impl Dispatcher {
    pub fn new(hub: Arc<CallHub>) -> Dispatcher {
        Dispatcher { hub }
    }
}

impl Handler for Dispatcher {
    fn on_message(&self, rx: Received) {
        let opts = if rx.kind.is_reliable() {
            &self.hub.tcp_parse
        } else {
            &self.hub.udp_parse
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
                self.hub.metrics.drop_reason(e.name());
                return;
            }
        };
        if msg.is_request() {
            self.on_request(msg, meta, rx.queued);
        } else {
            self.on_response(msg, meta);
        }
    }
}

impl Dispatcher {
    fn on_response(&self, msg: Message, meta: Arrival) {
        if msg.validate_response().is_err() {
            self.hub.metrics.drop_reason("bad_response");
            return;
        }
        if let Some(code) = msg.code() {
            self.hub.metrics.response(Dir::In, code);
        }
        let Some(call_id) = msg.call_id() else {
            return;
        };
        if !self.deliver(&call_id, msg, meta) {
            self.hub.metrics.drop_reason("stray_response");
        }
    }

    /// Hands a message to the call owning `call_id`, or to its tombstone
    /// once it has ended. False when there is neither.
    fn deliver(&self, call_id: &Bytes, msg: Message, meta: Arrival) -> bool {
        let Some(tx) = self.hub.calls.get(call_id).map(|e| e.value().clone()) else {
            return self.ended_call(call_id, &msg);
        };
        match tx.try_send(CallEvent::Sip(Box::new((msg, meta)))) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.hub.metrics.drop_reason("call_queue_full");
                true
            }
            Err(mpsc::error::TrySendError::Closed(ev)) => {
                self.hub.unregister(call_id, &tx);
                match ev {
                    CallEvent::Sip(m) => self.ended_call(call_id, &m.0),
                    _ => false,
                }
            }
        }
    }

    /// A retransmission toward an ended call, answered from its tombstone
    /// (call::linger). False when the call left none or `msg` is not one of
    /// its transactions.
    fn ended_call(&self, call_id: &Bytes, msg: &Message) -> bool {
        let Some(stone) = self.hub.linger.get(call_id, tokio::time::Instant::now()) else {
            return false;
        };
        match stone.reply(msg) {
            Reply::Unknown => false,
            Reply::Absorbed => true,
            Reply::Resend {
                bytes,
                target,
                code,
            } => {
                let what = match code {
                    Some(c) => Outgoing::Response(c),
                    // Our ACK again, for a retransmitted final response.
                    None => Outgoing::Request(&Method::Ack),
                };
                self.hub.send_now(target, bytes, what);
                true
            }
        }
    }

    fn trusted(&self, meta: &Arrival) -> bool {
        self.hub.is_trusted_source(meta.source)
    }

    /// `queued`: how long the request waited in the socket's receive queue.
    fn on_request(&self, msg: Message, meta: Arrival, queued: Duration) {
        let Some(method) = msg.method().cloned() else {
            return;
        };
        self.hub.metrics.request(Dir::In, &method);
        if let Some(ua) = msg.header(&HeaderName::UserAgent) {
            if is_scanner(&ua) {
                self.hub.metrics.drop_reason("scanner");
                // Whatever it sends next (another User-Agent) is dropped too.
                if !self.trusted(&meta) {
                    self.hub
                        .flood
                        .ban(meta.source.ip(), tokio::time::Instant::now());
                }
                return;
            }
        }
        let checked = match msg.check_request(SUPPORTED) {
            Ok(c) => c,
            Err(rej) => {
                // Malformed requests from untrusted sources count toward the flood limit too.
                let limited = !self.trusted(&meta)
                    && !self
                        .hub
                        .flood
                        .allow(meta.source.ip(), tokio::time::Instant::now());
                if limited {
                    self.hub.metrics.drop_reason("rate_limited");
                } else if method != Method::Ack {
                    self.reject(&msg, &meta, &rej, "invalid_request");
                }
                return;
            }
        };
        if let Method::Other(_) = method {
            let rej = Reject {
                code: 501,
                reason: "Not Implemented",
                unsupported: Vec::new(),
            };
            return self.reject(&msg, &meta, &rej, "method_not_implemented");
        }
        let Some(call_id) = msg.call_id() else {
            return;
        };
        // An initial INVITE (no To tag) that is already known is a retransmission: deliver it.
        let msg = {
            let Some(tx) = self.hub.calls.get(&call_id).map(|e| e.value().clone()) else {
                return self.out_of_call(msg, checked, meta, method, call_id, queued);
            };
            match tx.try_send(CallEvent::Sip(Box::new((msg, meta.clone())))) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.hub.metrics.drop_reason("call_queue_full");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(CallEvent::Sip(m))) => {
                    self.hub.unregister(&call_id, &tx);
                    m.0
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        };
        self.out_of_call(msg, checked, meta, method, call_id, queued)
    }

    /// A request no call task owns (`checked`: its Request-URI and To tag,
    /// parsed by the validation).
    fn out_of_call(
        &self,
        msg: Message,
        checked: Checked,
        meta: Arrival,
        method: Method,
        call_id: Bytes,
        queued: Duration,
    ) {
        let in_dialog = checked.to_tag.is_some();
        // A retransmission toward a call that has ended.
        if self.ended_call(&call_id, &msg) {
            return;
        }
        // Only requests that belong to no call count toward the flood limit: in-dialog
        // traffic of live calls (from carriers, PBXs, inbound destinations) never does.
        if !self.trusted(&meta)
            && !self
                .hub
                .flood
                .allow(meta.source.ip(), tokio::time::Instant::now())
        {
            self.hub.metrics.drop_reason("rate_limited");
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
            Method::Invite if !in_dialog => self.new_call(msg, checked.uri, meta, call_id, queued),
            Method::Options if !in_dialog => {
                let (mut b, target) = self.stateless(&msg, &meta, 200, "OK");
                b = b.header("Allow", ALLOW).header("Accept", "application/sdp");
                b = b.header("Supported", SUPPORTED.join(", "));
                self.hub.send_detached(target, b.finish(), 200);
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

    /// A stateless response to `msg` and where it goes (the top Via parsed once).
    pub(super) fn stateless(
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

    /// 503 + Retry-After for an INVITE shed by overload control. Counted
    /// (`trunkgate_rejections_total{reason="overload_*"}`), not logged per
    /// call: under overload a record per refusal would be load itself.
    pub(super) fn shed(&self, msg: &Message, meta: &Arrival, shed: super::overload::Shed) {
        self.hub.metrics.reject(shed.name());
        if msg.header(&HeaderName::Via).is_none() {
            return;
        }
        let retry = self.hub.overload.settings().retry_after_s;
        let (b, target) = self.stateless(msg, meta, 503, "Service Unavailable");
        let b = b.header("Retry-After", retry.to_string());
        self.hub.send_detached(target, b.finish(), 503);
    }

    /// Sends what a refused new INVITE is answered (`admit::Refusal`):
    /// a stateless error, 503 + Retry-After, or an error response
    /// with the refused call's log record.
    pub(super) fn refuse(&self, msg: &Message, meta: &Arrival, refusal: super::admit::Refusal) {
        use super::admit::Refusal;
        match refusal {
            Refusal::Stateless { reject, reason } => self.reject(msg, meta, &reject, reason),
            Refusal::Shed(shed) => self.shed(msg, meta, shed),
            Refusal::Call(c) => {
                self.reject(msg, meta, &c.reject, c.refused.name());
                let trusted = self.hub.is_trusted_source(meta.source);
                crate::call::actor::calllog::rejected(
                    &self.hub,
                    trusted,
                    msg,
                    c.reject.code,
                    c.refused,
                    c.direction,
                    c.trunk.as_ref(),
                    &c.number,
                );
            }
        }
    }

    /// Answers a request statelessly with an error.
    pub(super) fn reject(&self, msg: &Message, meta: &Arrival, rej: &Reject, reason: &'static str) {
        self.hub.metrics.reject(reason);
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
        self.hub.send_detached(target, b.finish(), rej.code);
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
