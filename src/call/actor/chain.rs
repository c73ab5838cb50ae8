//! The call's failover chain as owned state: the hops of the route in use
//! (carriers in order, or one trunk destination's resolved targets), the hop
//! being tried, the trunk whose destination and failover are in use, the
//! trunks already gone through, and whether the trunk's failover was used.
//! Pure: which outcome moves on, and to what, is decided here from the
//! `policy` rules; `failover.rs` executes the moves (resolving, sending,
//! limit slots). Tested without sockets.

use std::sync::Arc;

use uuid::Uuid;

use crate::call::route::{Hop, HopKind};
use crate::config::TrunkModel;
use crate::policy::{
    failover_step, is_unreachable, try_next_carrier, AttemptOutcome, FailoverStep, NoFailover,
    TrunkTable,
};

#[derive(Debug)]
pub(crate) struct FailoverChain {
    hops: Vec<Hop>,
    hop: usize,
    /// The trunk whose destination/failover is in use (a trunk_id failover moves it).
    route_trunk: Arc<TrunkModel>,
    /// Trunks this call went through (failover loop detection).
    visited: Vec<Uuid>,
    /// The trunk's failover was used (or a worker's transfer replaced it): never again.
    failover_done: bool,
}

impl FailoverChain {
    /// A chain with no hops yet, routed by the trunk the call was admitted on.
    pub fn new(trunk: Arc<TrunkModel>) -> FailoverChain {
        FailoverChain {
            hops: Vec::new(),
            hop: 0,
            visited: vec![trunk.trunk_id],
            route_trunk: trunk,
            failover_done: false,
        }
    }

    /// The hop being tried (none before routing or when the route was empty).
    pub fn current(&self) -> Option<&Hop> {
        self.hops.get(self.hop)
    }

    /// How many hops of the route in use were tried (the end-of-call log line).
    pub fn tried(&self) -> usize {
        self.hop + 1
    }

    pub fn route_trunk(&self) -> &Arc<TrunkModel> {
        &self.route_trunk
    }

    /// A new route (the plan's carriers or destination, a failover target, a
    /// transfer): tried from its first hop.
    pub fn route(&mut self, hops: Vec<Hop>) {
        self.hops = hops;
        self.hop = 0;
    }

    /// After a failed attempt: may the next hop of this route be tried? A
    /// carrier only when it could not take the call (`try_next_carrier`), a
    /// destination target when it is unreachable (`is_unreachable`); never
    /// after early media.
    pub fn may_try_next(&self, outcome: AttemptOutcome, early_media: bool) -> bool {
        match self.current().map(|h| h.kind) {
            Some(HopKind::Carrier) => try_next_carrier(outcome, early_media),
            Some(HopKind::Destination) => is_unreachable(outcome, early_media),
            None => false,
        }
    }

    /// Moves to the next hop of the route; false (and no move) at its end.
    pub fn advance(&mut self) -> bool {
        if self.hop + 1 < self.hops.len() {
            self.hop += 1;
            true
        } else {
            false
        }
    }

    /// The route trunk's failover step, or why there is none (a trunk_id ring
    /// through the trunks visited is `Loop`).
    pub fn failover_step(&self, trunks: &TrunkTable) -> Result<FailoverStep, NoFailover> {
        failover_step(&self.route_trunk, trunks, &self.visited)
    }

    /// A trunk_id failover took `trunk`: its destination and failover are in use now.
    pub fn enter_trunk(&mut self, trunk: Arc<TrunkModel>) {
        self.visited.push(trunk.trunk_id);
        self.route_trunk = trunk;
    }

    /// A failover to a number, a URI or the worker (or a worker's transfer) is
    /// the last one: the trunk's failover is not used again.
    pub fn close(&mut self) {
        self.failover_done = true;
    }

    pub fn is_closed(&self) -> bool {
        self.failover_done
    }
}

#[cfg(test)]
mod tests;
