//! How a call ended, typed. An [`Outcome`] (status, SIP code, who hung up) is
//! built by a named constructor, an [`EndReason`] says why with a static name,
//! and a [`Refused`] call never started: the call status, the call log's
//! `reason`, the metric labels and the call-flow worker's `Party` all derive
//! from these, no strings are compared. A leaf: it imports nothing of the call
//! layer.

use crate::config::{Direction, FailoverSource};
use crate::policy::{InboundRejection, NoFailover, Rejection};
use crate::store::CallStatus;

/// Who ended the call (the log line's `hangup_by`, the call log's `hangup_end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangupBy {
    /// The A leg: the PBX (outbound) or the carrier (inbound).
    Caller,
    /// The B leg: the carrier (outbound) or the PBX (inbound).
    Callee,
    /// The gateway itself: a timer, a refusal, a failed set-up.
    Gateway,
    /// The operator (REST API) or the call-flow worker.
    Api,
}

impl HangupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            HangupBy::Caller => "caller",
            HangupBy::Callee => "callee",
            HangupBy::Gateway => "gateway",
            HangupBy::Api => "api",
        }
    }

    /// The call log's `hangup_end`: the spec knows only the caller and the API.
    pub fn log_end(self) -> &'static str {
        match self {
            HangupBy::Caller => "caller",
            _ => "api",
        }
    }
}

/// How a call ended, for metrics, the call log and the end-of-call log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: CallStatus,
    /// The final SIP code of the call (200 for an answered call, whoever hung up).
    pub code: u16,
    pub by: HangupBy,
}

impl Outcome {
    /// An answered call hung up by `by` (BYE, API, RTP timeout …).
    pub fn completed(by: HangupBy) -> Outcome {
        Outcome {
            status: CallStatus::Completed,
            code: 200,
            by,
        }
    }

    /// The caller cancelled before the answer: 487 (RFC 3261 §9.2).
    pub fn canceled(by: HangupBy) -> Outcome {
        Outcome {
            status: CallStatus::Canceled,
            code: 487,
            by,
        }
    }

    /// The callee's final error response, relayed to the caller.
    pub fn refused_by_callee(code: u16) -> Outcome {
        let status = match code {
            486 | 600 => CallStatus::Busy,
            408 | 480 => CallStatus::NoAnswer,
            403 => CallStatus::Restricted,
            _ => CallStatus::Failed,
        };
        Outcome {
            status,
            code,
            by: HangupBy::Callee,
        }
    }

    /// The gateway answered the caller `code` itself, with this status.
    pub fn by_gateway(status: CallStatus, code: u16) -> Outcome {
        Outcome {
            status,
            code,
            by: HangupBy::Gateway,
        }
    }

    /// True when the call did not connect (the call log's `error` fields are set).
    pub fn is_failure(&self) -> bool {
        !(200..300).contains(&self.code)
    }
}

/// Why a call ended or where it went, as the call log's `reason` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Outbound: every carrier is down or none matches the number.
    NoCarrier,
    /// Inbound: the trunk's destination did not answer and nothing took over.
    DestinationUnreachable,
    /// Inbound: the trunk is inactive and its failover did not start.
    TrunkInactive,
    /// Inbound: the call went to the trunk's failover of this source.
    Failover(FailoverSource),
    /// Inbound: the trunk's failover cannot be used.
    NoFailover(NoFailover),
    /// Inbound: the failover trunk is at its own call limit.
    FailoverLimitReached,
    /// No 180/183 within the trunk's `max_post_dial_delay`.
    PddTimeout,
    /// No RTP on the answered call within the media timeout.
    RtpTimeout,
    /// The operator hung the call up (REST API).
    ApiHangup,
    /// Inbound over the trunk's limit: busy tone then 486.
    LimitReached,
    FlowNoWorker,
    FlowEnded,
    FlowRejectBusy,
    FlowRejectDisconnected,
    FlowHangup,
    FlowTransferred,
    /// A lower layer's typed error (media, SRTP, call-flow), by its static name.
    Layer(&'static str),
}

impl EndReason {
    /// The static name: the call log's `reason`, bounded as a metric label.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::NoCarrier => "no_carrier",
            EndReason::DestinationUnreachable => "destination_unreachable",
            EndReason::TrunkInactive => "trunk_inactive",
            EndReason::Failover(FailoverSource::TrunkId) => "failover:trunk_id",
            EndReason::Failover(FailoverSource::PhoneNumber) => "failover:phone_number",
            EndReason::Failover(FailoverSource::SipUri) => "failover:sip_uri",
            EndReason::Failover(FailoverSource::Api) => "failover:api",
            EndReason::NoFailover(n) => n.name(),
            EndReason::FailoverLimitReached => "failover_limit_reached",
            EndReason::PddTimeout => "pdd_timeout",
            EndReason::RtpTimeout => "rtp_timeout",
            EndReason::ApiHangup => "api_hangup",
            EndReason::LimitReached => "limit_reached",
            EndReason::FlowNoWorker => "flow:no_worker",
            EndReason::FlowEnded => "flow:ended",
            EndReason::FlowRejectBusy => "flow:reject_busy",
            EndReason::FlowRejectDisconnected => "flow:reject_disconnected",
            EndReason::FlowHangup => "flow:hangup",
            EndReason::FlowTransferred => "flow:transferred",
            EndReason::Layer(name) => name,
        }
    }
}

/// Why a new call was refused before a call task started (intake).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// A PBX's INVITE that no outbound trunk admits.
    Outbound(Rejection),
    /// A carrier's INVITE for a number that goes nowhere.
    Inbound(InboundRejection),
    /// The trunk is at its `simultaneous_call_limit`.
    LimitReached,
    /// The cluster's limit store is down and the policy is to refuse.
    ClusterUnavailable,
}

impl Refused {
    /// The call log's `reason` and the rejection metric's label.
    pub fn name(self) -> &'static str {
        match self {
            Refused::Outbound(r) => r.name(),
            Refused::Inbound(r) => r.name(),
            Refused::LimitReached => "limit_reached",
            Refused::ClusterUnavailable => "cluster_unavailable",
        }
    }

    /// The call log's status: busy over an inbound limit, restricted when the
    /// caller may not use the trunk, failed otherwise.
    pub fn status(self, direction: Direction) -> CallStatus {
        match self {
            Refused::LimitReached if direction == Direction::Inbound => CallStatus::Busy,
            Refused::Outbound(
                Rejection::AuthFailed | Rejection::NoTrunk | Rejection::TrunkInactive,
            )
            | Refused::Inbound(InboundRejection::TrunkInactive) => CallStatus::Restricted,
            _ => CallStatus::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callee_codes_map_to_statuses() {
        let status = |c| Outcome::refused_by_callee(c).status;
        assert_eq!(status(486), CallStatus::Busy);
        assert_eq!(status(600), CallStatus::Busy);
        assert_eq!(status(408), CallStatus::NoAnswer);
        assert_eq!(status(480), CallStatus::NoAnswer);
        assert_eq!(status(403), CallStatus::Restricted);
        assert_eq!(status(404), CallStatus::Failed);
        assert_eq!(status(503), CallStatus::Failed);
        assert_eq!(Outcome::refused_by_callee(486).by, HangupBy::Callee);
    }

    #[test]
    fn answered_and_canceled_calls() {
        let c = Outcome::completed(HangupBy::Api);
        assert_eq!(
            (c.status, c.code, c.is_failure()),
            (CallStatus::Completed, 200, false)
        );
        let c = Outcome::canceled(HangupBy::Caller);
        assert_eq!(
            (c.status, c.code, c.is_failure()),
            (CallStatus::Canceled, 487, true)
        );
        assert_eq!(HangupBy::Caller.log_end(), "caller");
        assert_eq!(HangupBy::Gateway.log_end(), "api");
        assert_eq!(HangupBy::Callee.log_end(), "api");
    }

    #[test]
    fn reason_names_are_the_call_log_strings() {
        assert_eq!(
            EndReason::Failover(FailoverSource::SipUri).name(),
            "failover:sip_uri"
        );
        assert_eq!(
            EndReason::NoFailover(NoFailover::Loop).name(),
            "failover_loop"
        );
        assert_eq!(EndReason::PddTimeout.name(), "pdd_timeout");
        assert_eq!(EndReason::FlowRejectBusy.name(), "flow:reject_busy");
        assert_eq!(EndReason::Layer("srtp_required").name(), "srtp_required");
    }

    #[test]
    fn refusal_statuses() {
        use Direction::{Inbound, Outbound};
        assert_eq!(Refused::LimitReached.status(Inbound), CallStatus::Busy);
        assert_eq!(Refused::LimitReached.status(Outbound), CallStatus::Failed);
        for r in [
            Rejection::AuthFailed,
            Rejection::NoTrunk,
            Rejection::TrunkInactive,
        ] {
            assert_eq!(
                Refused::Outbound(r).status(Outbound),
                CallStatus::Restricted
            );
        }
        assert_eq!(
            Refused::Outbound(Rejection::NotDialable).status(Outbound),
            CallStatus::Failed
        );
        assert_eq!(
            Refused::Inbound(InboundRejection::TrunkInactive).status(Inbound),
            CallStatus::Restricted
        );
        assert_eq!(
            Refused::Inbound(InboundRejection::UnknownNumber).status(Inbound),
            CallStatus::Failed
        );
        assert_eq!(
            Refused::ClusterUnavailable.status(Inbound),
            CallStatus::Failed
        );
        assert_eq!(Refused::ClusterUnavailable.name(), "cluster_unavailable");
    }
}
