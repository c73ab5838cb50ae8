//! What intake decided for a new call, handed to the call actor: which trunk,
//! which number, and which of the four shapes of call it is. A leaf.

use std::sync::Arc;

use crate::config::TrunkModel;

/// What the dispatcher decided for a new call.
#[derive(Debug, Clone)]
pub enum CallPlan {
    /// From a PBX through an outbound trunk to the carriers.
    Outbound {
        trunk: Arc<TrunkModel>,
        dialed: String,
    },
    /// From a carrier for a DID on an inbound trunk.
    Inbound {
        trunk: Arc<TrunkModel>,
        did: String,
        failover_first: bool,
    },
    /// From a carrier to an inbound trunk at its limit: busy tone, then 486.
    Busy { trunk: Arc<TrunkModel>, did: String },
    /// From a carrier for a number assigned to a call flow: the worker decides.
    Flow {
        did: String,
        mode: crate::flow::FlowMode,
    },
}

/// The worker product a number or an `api` failover names, as the call-flow
/// contract spells it.
pub fn flow_mode(q: crate::config::WorkerQueue) -> crate::flow::FlowMode {
    match q {
        crate::config::WorkerQueue::CallFlows => crate::flow::FlowMode::CallFlows,
        crate::config::WorkerQueue::ParkingLot => crate::flow::FlowMode::ParkingLot,
    }
}
