//! The call's chain of attempts: the plan turned into hops (carriers in
//! order, or the inbound trunk's destination), the next hop after a failed
//! attempt, and the inbound trunk's failover (another trunk, a number, a URI).
//! The decisions are `policy::{try_next_carrier, is_unreachable, failover_step}`;
//! this file executes them.

use std::sync::Arc;

use crate::config::Direction;
use crate::metrics::SourceLabels;
use crate::policy::{is_unreachable, AttemptOutcome, FailoverStep};
use crate::transport::TransportKind;

use super::CallPlan;
use crate::call::route::{
    carrier_hops, destination_hops, literal_destination, uri_hops, uri_parts, Hop, HopKind,
};

use super::transactions::ServerKind;
use super::Call;
use crate::call::hub::CallHub;
use crate::call::outcome::EndReason;
use crate::call::respond::response;
use crate::config::FailoverSource;
use crate::policy::NoFailover;
use crate::store::CallStatus;

impl Call {
    pub(super) async fn start(&mut self) {
        // RFC 3261 §17.2.1: answer 100 at once so the caller stops retransmitting.
        let Some(s) = self.transactions.caller_invite_mut() else {
            return;
        };
        let trying = response(&s.req, &s.top_via, 100, "Trying", None).finish();
        let acts = match &mut s.tx {
            ServerKind::Invite(t) => t.send_provisional(trying),
            ServerKind::NonInvite(_) => Default::default(),
        };
        self.apply_server(self.transactions.caller_invite_id(), acts)
            .await;
        if !self.media_start().await {
            return;
        }
        match self.plan.take() {
            Some(CallPlan::Outbound { dialed, .. }) => {
                let hops = carrier_hops(&self.snapshot.config, &dialed, |i| {
                    self.hub.carrier_up(&self.snapshot.config.carriers[i].name)
                });
                self.chain.route(hops);
                if !self.start_hop().await {
                    self.reason = Some(EndReason::NoCarrier);
                    self.fail_a(503, "Service Unavailable", CallStatus::Failed)
                        .await;
                }
            }
            Some(CallPlan::Inbound {
                did,
                failover_first,
                ..
            }) => {
                let dest = self
                    .chain
                    .route_trunk()
                    .inbound
                    .as_ref()
                    .and_then(|i| i.destination.clone());
                let started = match dest.filter(|_| !failover_first) {
                    Some(d) => {
                        let hops = resolve_destination(&self.hub, &d, &did).await;
                        self.chain.route(hops);
                        self.start_hop().await
                    }
                    None => false,
                };
                if !started && !self.failover(AttemptOutcome::TransportError).await {
                    let reason = if failover_first {
                        EndReason::TrunkInactive
                    } else {
                        EndReason::DestinationUnreachable
                    };
                    self.reason.get_or_insert(reason);
                    self.fail_a(480, "Temporarily Unavailable", CallStatus::Failed)
                        .await;
                }
            }
            Some(CallPlan::Busy { .. }) => self.busy_call().await,
            Some(CallPlan::Flow { mode, .. }) => self.flow_call(mode).await,
            None => {}
        }
    }
    /// Moves the call to its trunk's failover. False when there is none (or it failed to start).
    pub(super) async fn failover(&mut self, _outcome: AttemptOutcome) -> bool {
        if self.direction != Direction::Inbound || self.chain.is_closed() {
            return false;
        }
        let step = match self.chain.failover_step(&self.snapshot.trunks) {
            Ok(s) => s,
            Err(NoFailover::Unset) => return false,
            Err(none) => {
                self.reason = Some(EndReason::NoFailover(none));
                return false;
            }
        };
        let (source, label) = match &step {
            FailoverStep::Trunk(_) => (FailoverSource::TrunkId, "trunk_id"),
            FailoverStep::PhoneNumber(_) => (FailoverSource::PhoneNumber, "phone_number"),
            FailoverStep::SipUri(_) => (FailoverSource::SipUri, "sip_uri"),
            FailoverStep::Api(_) => (FailoverSource::Api, "api"),
        };
        self.hub
            .metrics
            .failovers
            .get_or_create(&SourceLabels { source: label })
            .inc();
        self.reason = Some(EndReason::Failover(source));
        tracing::info!(
            call = self.number,
            source = label,
            "destination unreachable: failing over"
        );
        let did = self.api_no.clone();
        let hops = match step {
            FailoverStep::Trunk(t) => {
                // The target trunk's own limit applies (cluster-wide with Redis).
                let Ok(slot) = self
                    .hub
                    .limits
                    .acquire(t.trunk_id, t.simultaneous_call_limit)
                    .await
                else {
                    self.reason = Some(EndReason::FailoverLimitReached);
                    return false;
                };
                self.slots.push(slot);
                self.chain.enter_trunk(Arc::clone(&t));
                match t.inbound.as_ref().and_then(|i| i.destination.clone()) {
                    Some(d) => resolve_destination(&self.hub, &d, &did).await,
                    None => Vec::new(),
                }
            }
            FailoverStep::PhoneNumber(n) => {
                self.chain.close();
                carrier_hops(&self.snapshot.config, &n, |i| {
                    self.hub.carrier_up(&self.snapshot.config.carriers[i].name)
                })
            }
            FailoverStep::SipUri(u) => {
                self.chain.close();
                sip_uri_hops(&self.hub, &u).await
            }
            FailoverStep::Api(queue) => {
                self.chain.close();
                return self
                    .start_flow(
                        crate::call::plan::flow_mode(queue),
                        crate::flow::OfferReason::Failover,
                    )
                    .await;
            }
        };
        self.chain.route(hops);
        if self.start_hop().await {
            return true;
        }
        // The failover target could not be started either: maybe it fails over in turn.
        Box::pin(self.failover(AttemptOutcome::TransportError)).await
    }
    /// After a failed attempt: the next hop (carrier or resolved target) when the
    /// outcome allows it, else the trunk's failover (inbound). False: give up.
    pub(super) async fn next_hop_or_failover(&mut self, outcome: AttemptOutcome) -> bool {
        let early_media = self.progress.early_media();
        let kind = self.chain.current().map(|h| h.kind);
        if self.chain.may_try_next(outcome, early_media) {
            while self.chain.advance() {
                if kind == Some(HopKind::Carrier) {
                    self.hub.metrics.carrier_failovers.inc();
                }
                if self.start_hop().await {
                    return true;
                }
            }
        }
        if is_unreachable(outcome, early_media) {
            return self.failover(outcome).await;
        }
        false
    }
}

/// Addresses for an inbound trunk's destination (RFC 3263), as hops calling
/// `did`. (Free functions, not `&self` methods: a `&Call` held across the
/// lookup's await would need `Call: Sync`.)
async fn resolve_destination(hub: &CallHub, dest: &str, did: &str) -> Vec<Hop> {
    match literal_destination(dest) {
        Some(addr) => destination_hops(&[(addr, TransportKind::Udp)], did),
        None => {
            let targets = hub.resolve(dest, None).await;
            destination_hops(&targets, did)
        }
    }
}

/// Hops for a SIP URI target (an IP host directly, a name through RFC 3263).
pub(super) async fn sip_uri_hops(hub: &CallHub, u: &str) -> Vec<Hop> {
    let Some((host, port, tp)) = uri_parts(u) else {
        return Vec::new();
    };
    let targets = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![(
            std::net::SocketAddr::new(ip, port.unwrap_or(5060)),
            tp.unwrap_or(TransportKind::Udp),
        )],
        Err(_) => {
            let dest = match port {
                Some(p) => format!("{host}:{p}"),
                None => host,
            };
            hub.resolve(&dest, tp).await
        }
    };
    uri_hops(u, &targets)
}
