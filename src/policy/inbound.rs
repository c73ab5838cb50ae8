//! Inbound routing: a carrier's INVITE for a DID -> the trunk (or worker) it
//! is assigned to, and what to do when the destination cannot be reached.
//!
//! - A request is inbound when its source matches a carrier's `inbound_sources`
//!   (IP, CIDR or exact IP:port); anything else must match an outbound trunk.
//! - The DID is the Request-URI user (`sip:` or `tel:`), visual separators
//!   removed, normalised to E.164 (`+` added when missing). Unknown -> 404.
//! - `Trunks/{id}` -> that trunk. Inactive: its failover if set, else 480.
//!   `CallFlows`/`ParkingLot` -> the call-flow worker (`call::flow` offers it over gRPC).
//! - Unreachable (failover trigger): transport error, no response, 408, 480, 5xx.
//!   Never after early media or a 2xx, never on the callee's other 4xx/6xx.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use uuid::Uuid;

use crate::config::{Assignment, Carrier, FailoverTarget, Number, TrunkModel, WorkerQueue};

use super::{AttemptOutcome, TrunkTable};

/// The carrier an inbound request comes from, by source address.
pub fn carrier_for_source(carriers: &[Carrier], src: SocketAddr) -> Option<usize> {
    carriers
        .iter()
        .position(|c| c.inbound_sources.iter().any(|m| m.matches(src)))
}

/// `+14155550100`, `14155550100`, `+1-415-555-0100;npdi` -> `+14155550100`.
pub fn normalize_did(user: &str) -> Option<String> {
    let user = user.split(';').next().unwrap_or("");
    let digits: String = user
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' ' | '+'))
        .collect();
    let plus_ok = user.find('+').is_none_or(|i| i == 0) && user.matches('+').count() <= 1;
    (plus_ok && (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{digits}"))
}

/// Numbers indexed for routing, built once per config snapshot.
#[derive(Default)]
pub struct NumberTable {
    map: HashMap<String, Assignment>,
}

impl NumberTable {
    pub fn new(numbers: &[Number]) -> NumberTable {
        NumberTable {
            map: numbers
                .iter()
                .map(|n| (n.no.clone(), n.assigned_to))
                .collect(),
        }
    }

    pub fn get(&self, did: &str) -> Option<Assignment> {
        self.map.get(did).copied()
    }
}

#[derive(Debug, Clone)]
pub enum InboundRoute {
    /// Deliver to the trunk's destination; `failover_first` when the trunk is inactive.
    Trunk {
        trunk: Arc<TrunkModel>,
        did: String,
        failover_first: bool,
    },
    /// CallFlows / ParkingLot: the call-flow worker.
    Worker { mode: WorkerQueue, did: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundRejection {
    NotDialable,
    UnknownNumber,
    TrunkInactive,
    NoDestination,
}

impl InboundRejection {
    pub fn code(&self) -> u16 {
        match self {
            InboundRejection::NotDialable | InboundRejection::UnknownNumber => 404,
            _ => 480,
        }
    }

    pub fn reason_phrase(&self) -> &'static str {
        match self {
            InboundRejection::NotDialable | InboundRejection::UnknownNumber => "Not Found",
            _ => "Temporarily Unavailable",
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            InboundRejection::NotDialable => "not_dialable",
            InboundRejection::UnknownNumber => "unknown_number",
            InboundRejection::TrunkInactive => "trunk_inactive",
            InboundRejection::NoDestination => "no_destination",
        }
    }
}

pub fn route_inbound(
    numbers: &NumberTable,
    trunks: &TrunkTable,
    ruri_user: Option<&str>,
) -> Result<InboundRoute, InboundRejection> {
    let did = normalize_did(ruri_user.unwrap_or("")).ok_or(InboundRejection::NotDialable)?;
    match numbers.get(&did).ok_or(InboundRejection::UnknownNumber)? {
        Assignment::Trunk(id) => {
            let trunk = trunks.get(&id).ok_or(InboundRejection::UnknownNumber)?;
            let failover = trunk.failover().is_some();
            let destination = trunk
                .inbound
                .as_ref()
                .and_then(|i| i.destination.as_ref())
                .is_some();
            if !trunk.is_active() {
                return if failover {
                    Ok(InboundRoute::Trunk {
                        trunk: Arc::clone(trunk),
                        did,
                        failover_first: true,
                    })
                } else {
                    Err(InboundRejection::TrunkInactive)
                };
            }
            if !destination && !failover {
                return Err(InboundRejection::NoDestination);
            }
            Ok(InboundRoute::Trunk {
                trunk: Arc::clone(trunk),
                did,
                failover_first: !destination,
            })
        }
        Assignment::CallFlows => Ok(InboundRoute::Worker {
            mode: WorkerQueue::CallFlows,
            did,
        }),
        Assignment::ParkingLot => Ok(InboundRoute::Worker {
            mode: WorkerQueue::ParkingLot,
            did,
        }),
    }
}

/// The destination could not be reached: fail over (if the trunk has one).
pub fn is_unreachable(outcome: AttemptOutcome, early_media_or_answer: bool) -> bool {
    if early_media_or_answer {
        return false;
    }
    match outcome {
        AttemptOutcome::TransportError | AttemptOutcome::Timeout => true,
        AttemptOutcome::Final(code) => code == 408 || code == 480 || (500..600).contains(&code),
    }
}

/// Where a failover sends the call next.
#[derive(Debug, Clone, PartialEq)]
pub enum FailoverStep {
    /// Another trunk's destination (its own status and limit apply).
    Trunk(Arc<TrunkModel>),
    /// Out through the carriers to this E.164 number.
    PhoneNumber(String),
    /// Straight to this URI.
    SipUri(String),
    /// The call-flow worker.
    Api(WorkerQueue),
}

/// Why a trunk's failover cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoFailover {
    /// The trunk has none.
    Unset,
    /// Its trunk_id names no trunk.
    Invalid,
    /// Its trunk_id leads back to a trunk the call went through.
    Loop,
}

impl NoFailover {
    /// Static name for the call log's reason.
    pub fn name(&self) -> &'static str {
        match self {
            NoFailover::Unset => "no_failover",
            NoFailover::Invalid => "failover_invalid",
            NoFailover::Loop => "failover_loop",
        }
    }
}

/// The failover of `trunk`, or why there is none. `visited` holds the trunks this
/// call already went through, so a ring of trunk_id failovers stops.
pub fn failover_step(
    trunk: &TrunkModel,
    trunks: &TrunkTable,
    visited: &[Uuid],
) -> Result<FailoverStep, NoFailover> {
    Ok(match trunk.failover().ok_or(NoFailover::Unset)? {
        FailoverTarget::Trunk(id) => {
            if visited.contains(id) {
                return Err(NoFailover::Loop);
            }
            let next = trunks.get(id).ok_or(NoFailover::Invalid)?;
            if !next.is_active() {
                // Its own status applies: an inactive target passes on to its own failover.
                let mut seen = visited.to_vec();
                seen.push(*id);
                return failover_step(next, trunks, &seen);
            }
            FailoverStep::Trunk(Arc::clone(next))
        }
        FailoverTarget::PhoneNumber(n) => FailoverStep::PhoneNumber(n.clone()),
        FailoverTarget::SipUri(u) => FailoverStep::SipUri(u.clone()),
        FailoverTarget::Api(q) => FailoverStep::Api(*q),
    })
}

#[cfg(test)]
mod tests;
