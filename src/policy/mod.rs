//! Pure policy decisions: facts in, decision out, no sockets, no clocks.
//! The call task executes what these return.
//!
//! - `outbound`: which trunk an INVITE from a PBX belongs to, whether its
//!   source is admitted, and the number it dials.
//! - `carrier`: the order carriers are tried in and when to move to the next.
//! - `inbound`: carrier INVITEs for DIDs -> trunk, failover steps.
//! - `limits` (in `call::limits`) holds the counters; the decision of what an
//!   over-limit call gets (503 out, 486 in) is `limit_rejection` below.

pub mod carrier;
pub mod inbound;
pub mod outbound;

pub use carrier::{carrier_order, try_next_carrier, AttemptOutcome};
pub use inbound::{
    carrier_for_source, failover_step, is_unreachable, normalize_did, route_inbound, FailoverStep,
    InboundRejection, InboundRoute, NoFailover, NumberTable,
};
pub use outbound::{
    admit_outbound, normalize_dialed, Admitted, OutboundFacts, Rejection, TrunkTable,
};

/// What a call over its trunk's `simultaneous_call_limit` gets: 503 outbound, 486 inbound.
pub fn limit_rejection(direction: crate::config::Direction) -> (u16, &'static str) {
    match direction {
        crate::config::Direction::Outbound => (503, "Service Unavailable"),
        crate::config::Direction::Inbound => (486, "Busy Here"),
    }
}
