//! Admission of a new INVITE, as decisions that send nothing: `plan_call`
//! turns the policy decision (`policy::admit_outbound` for a PBX,
//! `policy::route_inbound` for a carrier) into an [`Admission`] (a `CallPlan`
//! and its trunk) or a typed [`Refusal`]; `settle` decides with the trunk's
//! limit slot (a call, a busy-tone call, or a refusal). `start.rs` executes
//! these (slot, registration, task); `dispatch.rs` `refuse` sends a refusal.

use std::sync::Arc;

use crate::config::{Direction, TrunkModel};
use crate::policy::{
    admit_outbound, carrier_for_source, limit_rejection, route_inbound, InboundRoute, OutboundFacts,
};
use crate::sip::{HeaderName, Host, Message, Reject, Uri};

use super::overload::Shed;
use crate::call::actor::CallPlan;
use crate::call::hub::{Arrival, CallHub, Snapshot};
use crate::call::limits::{Refusal as SlotRefusal, Slot};
use crate::call::outcome::Refused;

/// A new call's routing facts, between the policy decision and its slot.
pub(super) struct Admission {
    pub plan: CallPlan,
    pub trunk: Arc<TrunkModel>,
    pub direction: Direction,
    /// The dialled number (outbound) or the DID (inbound).
    pub number: String,
}

/// Why a new INVITE does not become a call, and so what it is answered.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A stateless error response, counted under `reason`; no call-log record.
    Stateless {
        reject: Reject,
        reason: &'static str,
    },
    /// Shed by overload control: 503 + Retry-After, counted only.
    Shed(Shed),
    /// A call refused by policy or limit: the error response and a call-log record.
    Call(Box<CallRefusal>),
}

/// A refused call, as its response and its call-log record need it.
#[derive(Debug)]
pub(crate) struct CallRefusal {
    pub reject: Reject,
    pub refused: Refused,
    pub direction: Direction,
    pub trunk: Option<Arc<TrunkModel>>,
    pub number: String,
}

fn stateless(reject: Reject, reason: &'static str) -> Refusal {
    Refusal::Stateless { reject, reason }
}

fn refused_call(
    code: u16,
    reason: &'static str,
    refused: Refused,
    direction: Direction,
    trunk: Option<Arc<TrunkModel>>,
    number: String,
) -> Refusal {
    Refusal::Call(Box::new(CallRefusal {
        reject: Reject {
            code,
            reason,
            unsupported: Vec::new(),
        },
        refused,
        direction,
        trunk,
        number,
    }))
}

/// A new INVITE (unknown Call-ID) -> the snapshot it is routed with and its
/// admission, or why not. In order: Max-Forwards, draining (503), overload
/// shedding, the body (415/406), then the policy decision on the
/// Request-URI (`uri`, parsed by the validation).
pub(super) fn plan_call(
    hub: &CallHub,
    msg: &Message,
    uri: Uri,
    meta: &Arrival,
    queued: std::time::Duration,
) -> Result<(Arc<Snapshot>, Admission), Refusal> {
    if let Err(rej) = msg.max_forwards() {
        return Err(stateless(rej, "invalid_request"));
    }
    if hub.draining.load(std::sync::atomic::Ordering::Relaxed) {
        let rej = Reject {
            code: 503,
            reason: "Service Unavailable",
            unsupported: Vec::new(),
        };
        return Err(stateless(rej, "shutting_down"));
    }
    // Overload: refused before any routing, task, port or log record
    // (`queued`: how long the INVITE waited in the socket's receive queue).
    let shed = hub
        .overload
        .decide(meta.source.ip(), queued, || rand::random_range(0..1000));
    if let Some(shed) = shed {
        return Err(Refusal::Shed(shed));
    }
    if let Some(rej) = check_invite_body(msg) {
        return Err(stateless(rej, "unsupported_media"));
    }
    let host = match &uri.host {
        Host::Name(n) => String::from_utf8_lossy(n).into_owned(),
        Host::V4(a) => a.to_string(),
        Host::V6(a) => a.to_string(),
    };
    let user = uri
        .user_unescaped()
        .map(|u| String::from_utf8_lossy(&u).into_owned());
    let sid = msg
        .header(&HeaderName::Other(bytes::Bytes::from_static(
            b"X-Twilio-AccountSid",
        )))
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    let snapshot = hub.snapshot.load_full();
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
                return Err(refused_call(
                    r.code(),
                    r.reason_phrase(),
                    Refused::Inbound(r),
                    Direction::Inbound,
                    None,
                    user.unwrap_or_default(),
                ));
            }
        }
    } else {
        let facts = OutboundFacts {
            ruri_host: &host,
            ruri_user: user.as_deref(),
            source: meta.source.ip(),
            twilio_account_sid: sid.as_deref(),
        };
        let admitted =
            admit_outbound(&snapshot.trunks, &snapshot.config.twilio, &facts).and_then(|a| {
                crate::call::tls_hooks::check_client_cert(hub, &snapshot.config, a, meta)
            });
        match admitted {
            Ok(a) => CallPlan::Outbound {
                trunk: a.trunk,
                dialed: a.dialed,
            },
            Err(r) => {
                tracing::info!(peer = %meta.source, reason = r.name(), code = r.code(), "INVITE refused");
                return Err(refused_call(
                    r.code(),
                    r.reason_phrase(),
                    Refused::Outbound(r),
                    Direction::Outbound,
                    None,
                    user.unwrap_or_default(),
                ));
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
    Ok((
        snapshot,
        Admission {
            plan,
            trunk,
            direction,
            number,
        },
    ))
}

/// The admission once the trunk's limit slot is known: the plan with its slot;
/// over the limit inbound with a busy tone possible (`busy_tone`: media
/// anchored and an SDP offer), a `Busy` plan that plays it; otherwise a
/// refusal (503 outbound, 486 inbound; Redis down with `reject`: 503).
pub(super) fn settle(
    call: Admission,
    slot: Result<Slot, SlotRefusal>,
    busy_tone: bool,
) -> Result<(CallPlan, Option<Slot>), Refusal> {
    let Admission {
        plan,
        trunk,
        direction,
        number,
    } = call;
    match slot {
        Ok(s) => Ok((plan, Some(s))),
        Err(SlotRefusal::ClusterDown) => Err(refused_call(
            503,
            "Service Unavailable",
            Refused::ClusterUnavailable,
            direction,
            Some(trunk),
            number,
        )),
        // Inbound over the limit with media anchored: the carrier hears a busy
        // tone first (the call task answers 486 after it), else 486/503 at once.
        Err(SlotRefusal::LimitReached) if direction == Direction::Inbound && busy_tone => {
            Ok((CallPlan::Busy { trunk, did: number }, None))
        }
        Err(SlotRefusal::LimitReached) => {
            let (code, reason) = limit_rejection(direction);
            Err(refused_call(
                code,
                reason,
                Refused::LimitReached,
                direction,
                Some(trunk),
                number,
            ))
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::limits::Limits;
    use crate::config::{Trunk, TrunkStatus};

    fn admission(direction: Direction) -> Admission {
        let trunk = Arc::new(
            TrunkModel::new(Trunk {
                trunk_id: uuid::Uuid::from_u128(3),
                status: TrunkStatus::Active,
                direction,
                simultaneous_call_limit: Some(1),
                description: None,
                recording: None,
                inbound: None,
                outbound: None,
                media_encryption: Default::default(),
            })
            .unwrap(),
        );
        let plan = match direction {
            Direction::Outbound => CallPlan::Outbound {
                trunk: Arc::clone(&trunk),
                dialed: "+14155550100".into(),
            },
            Direction::Inbound => CallPlan::Inbound {
                trunk: Arc::clone(&trunk),
                did: "+14155550100".into(),
                failover_first: false,
            },
        };
        Admission {
            plan,
            trunk,
            direction,
            number: "+14155550100".into(),
        }
    }

    fn call_refusal(r: Result<(CallPlan, Option<Slot>), Refusal>) -> (u16, Refused) {
        match r {
            Err(Refusal::Call(c)) => {
                assert_eq!(c.number, "+14155550100");
                assert_eq!(c.trunk.map(|t| t.trunk_id), Some(uuid::Uuid::from_u128(3)));
                (c.reject.code, c.refused)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_slot_starts_the_planned_call() {
        let limits = Limits::default();
        let slot = limits
            .try_acquire(uuid::Uuid::from_u128(3), Some(1))
            .ok_or(SlotRefusal::LimitReached);
        match settle(admission(Direction::Outbound), slot, true) {
            Ok((CallPlan::Outbound { .. }, Some(s))) => assert_eq!(s.trunk_id.as_u128(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn over_the_limit_outbound_is_503_whatever_the_media() {
        for tone in [false, true] {
            let r = settle(
                admission(Direction::Outbound),
                Err(SlotRefusal::LimitReached),
                tone,
            );
            assert_eq!(call_refusal(r), (503, Refused::LimitReached));
        }
    }

    #[test]
    fn over_the_limit_inbound_plays_busy_when_it_can_else_486() {
        match settle(
            admission(Direction::Inbound),
            Err(SlotRefusal::LimitReached),
            true,
        ) {
            Ok((CallPlan::Busy { did, trunk }, None)) => {
                assert_eq!(did, "+14155550100");
                assert_eq!(trunk.trunk_id.as_u128(), 3);
            }
            other => panic!("{other:?}"),
        }
        let r = settle(
            admission(Direction::Inbound),
            Err(SlotRefusal::LimitReached),
            false,
        );
        assert_eq!(call_refusal(r), (486, Refused::LimitReached));
    }

    #[test]
    fn redis_down_with_reject_is_503_in_both_directions() {
        for d in [Direction::Inbound, Direction::Outbound] {
            let r = settle(admission(d), Err(SlotRefusal::ClusterDown), true);
            assert_eq!(call_refusal(r), (503, Refused::ClusterUnavailable));
        }
    }
}
