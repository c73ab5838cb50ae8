use std::net::SocketAddr;

use super::*;
use crate::call::route::destination_hops;
use crate::config::{
    Direction, Failover, FailoverSource, InboundSettings, Trunk, TrunkStatus, WorkerQueue,
};
use crate::transport::{Target, TransportKind};
use AttemptOutcome::*;

fn inbound(id: u128, failover: Option<(FailoverSource, String)>, active: bool) -> Trunk {
    Trunk {
        trunk_id: Uuid::from_u128(id),
        status: if active {
            TrunkStatus::Active
        } else {
            TrunkStatus::Inactive
        },
        direction: Direction::Inbound,
        simultaneous_call_limit: None,
        description: None,
        recording: None,
        inbound: Some(InboundSettings {
            destination: Some(format!("pbx{id}.example.com")),
            failover: failover.map(|(source, value)| Failover { source, value }),
            phone_numbers_uri: None,
        }),
        outbound: None,
        media_encryption: Default::default(),
    }
}

fn model(t: &Trunk) -> Arc<TrunkModel> {
    Arc::new(TrunkModel::new(t.clone()).unwrap())
}

fn carrier(port: u16) -> Hop {
    let addr: SocketAddr = format!("192.0.2.1:{port}").parse().unwrap();
    Hop {
        target: Target {
            kind: TransportKind::Udp,
            addr,
            conn: None,
        },
        ruri: format!("sip:+14155550100@{addr}"),
        to: "<sip:+14155550100@192.0.2.1>".into(),
        kind: HopKind::Carrier,
    }
}

fn port(c: &FailoverChain) -> Option<u16> {
    c.current().map(|h| h.target.addr.port())
}

#[test]
fn hops_are_tried_in_route_order_and_the_route_ends() {
    let mut c = FailoverChain::new(model(&inbound(1, None, true)));
    assert_eq!(port(&c), None, "no hop before routing");
    assert!(!c.advance());
    c.route(vec![carrier(5091), carrier(5092), carrier(5093)]);
    assert_eq!((port(&c), c.tried()), (Some(5091), 1));
    assert!(c.advance());
    assert_eq!((port(&c), c.tried()), (Some(5092), 2));
    assert!(c.advance());
    assert_eq!((port(&c), c.tried()), (Some(5093), 3));
    // The end of the route: no move.
    assert!(!c.advance());
    assert_eq!((port(&c), c.tried()), (Some(5093), 3));
    // A new route (a failover target) starts from its first hop.
    let targets = [
        ("198.51.100.7:5060".parse().unwrap(), TransportKind::Udp),
        ("198.51.100.8:5070".parse().unwrap(), TransportKind::Tcp),
    ];
    c.route(destination_hops(&targets, "+14155550100"));
    assert_eq!((port(&c), c.tried()), (Some(5060), 1));
    assert_eq!(c.current().map(|h| h.kind), Some(HopKind::Destination));
}

#[test]
fn a_carrier_that_could_not_take_the_call_moves_on() {
    let mut c = FailoverChain::new(model(&inbound(1, None, true)));
    c.route(vec![carrier(5091), carrier(5092)]);
    for o in [
        TransportError,
        Timeout,
        Final(408),
        Final(500),
        Final(503),
        Final(504),
    ] {
        assert!(c.may_try_next(o, false), "{o:?}");
    }
    // The callee's own decisions go back to the caller.
    for o in [Final(404), Final(480), Final(486), Final(487), Final(603)] {
        assert!(!c.may_try_next(o, false), "{o:?}");
    }
    // Never once the caller heard the far end.
    assert!(!c.may_try_next(Final(503), true));
    assert!(!c.may_try_next(TransportError, true));
}

#[test]
fn an_unreachable_destination_target_moves_on() {
    let mut c = FailoverChain::new(model(&inbound(1, None, true)));
    let targets = [
        ("198.51.100.7:5060".parse().unwrap(), TransportKind::Udp),
        ("198.51.100.8:5060".parse().unwrap(), TransportKind::Udp),
    ];
    c.route(destination_hops(&targets, "+14155550100"));
    for o in [TransportError, Timeout, Final(408), Final(480), Final(503)] {
        assert!(c.may_try_next(o, false), "{o:?}");
    }
    for o in [Final(404), Final(486), Final(603)] {
        assert!(!c.may_try_next(o, false), "{o:?}");
    }
    assert!(!c.may_try_next(Timeout, true), "not after early media");
    // No route at all: nothing to move to.
    c.route(Vec::new());
    assert!(!c.may_try_next(TransportError, false));
}

#[test]
fn trunk_failovers_follow_the_route_trunk_and_stop_at_a_loop() {
    let id = |n: u128| Uuid::from_u128(n).to_string();
    let a = inbound(1, Some((FailoverSource::TrunkId, id(2))), true);
    let b = inbound(2, Some((FailoverSource::TrunkId, id(1))), true);
    let trunks = TrunkTable::new(&[a.clone(), b.clone()]);
    let mut c = FailoverChain::new(model(&a));
    let next = match c.failover_step(&trunks) {
        Ok(FailoverStep::Trunk(t)) => t,
        other => panic!("{other:?}"),
    };
    assert_eq!(next.trunk_id, Uuid::from_u128(2));
    c.enter_trunk(next);
    assert_eq!(c.route_trunk().trunk_id, Uuid::from_u128(2));
    // B fails over back to A, which the call went through: the chain stops.
    assert_eq!(c.failover_step(&trunks), Err(NoFailover::Loop));
}

#[test]
fn a_last_failover_closes_the_chain() {
    let a = inbound(1, Some((FailoverSource::Api, "ParkingLot".into())), true);
    let trunks = TrunkTable::new(std::slice::from_ref(&a));
    let mut c = FailoverChain::new(model(&a));
    assert!(!c.is_closed());
    assert_eq!(
        c.failover_step(&trunks),
        Ok(FailoverStep::Api(WorkerQueue::ParkingLot))
    );
    c.close();
    assert!(c.is_closed());
    // A trunk without a failover has none to take.
    let none = FailoverChain::new(model(&inbound(3, None, true)));
    assert_eq!(none.failover_step(&trunks), Err(NoFailover::Unset));
}
