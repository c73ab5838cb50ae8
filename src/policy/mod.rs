//! Pure policy decisions: facts in, decision out, no sockets, no clocks.
//! The call task executes what these return.
//!
//! - `outbound`: which trunk an INVITE from a PBX belongs to, whether its
//!   source is admitted, and the number it dials.
//! - `carrier`: the order carriers are tried in and when to move to the next.

pub mod carrier;
pub mod outbound;

pub use carrier::{carrier_order, try_next_carrier, AttemptOutcome};
pub use outbound::{
    admit_outbound, normalize_dialed, Admitted, OutboundFacts, Rejection, TrunkTable,
};
