use std::net::SocketAddr;

use proptest::prelude::*;

use super::*;
use crate::config::{
    Direction, Failover, FailoverSource, InboundSettings, SourceMatch, Transport, Trunk,
    TrunkModel, TrunkStatus,
};

fn inbound(
    id: u128,
    dest: Option<&str>,
    failover: Option<(FailoverSource, String)>,
    active: bool,
) -> Trunk {
    Trunk {
        trunk_id: Uuid::from_u128(id),
        media_encryption: Default::default(),
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
            destination: dest.map(str::to_string),
            failover: failover.map(|(source, value)| Failover { source, value }),
            phone_numbers_uri: None,
        }),
        outbound: None,
    }
}

fn numbers(list: &[(&str, Assignment)]) -> NumberTable {
    NumberTable::new(
        &list
            .iter()
            .map(|(n, a)| Number {
                no: n.to_string(),
                assigned_to: *a,
                description: None,
            })
            .collect::<Vec<_>>(),
    )
}

#[test]
fn carrier_sources_by_net_and_exact_port() {
    let mk = |src: &str| crate::config::Carrier {
        name: "c".into(),
        srtp: Default::default(),
        address: "127.0.0.1:5090".parse().unwrap(),
        transport: Transport::Udp,
        priority: 1,
        inbound_sources: vec![SourceMatch::parse(src).unwrap()],
        tls_server_name: None,
        health: None,
    };
    let carriers = [mk("192.0.2.0/24"), mk("127.0.0.1:5090")];
    let a = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert_eq!(carrier_for_source(&carriers, a("192.0.2.9:5060")), Some(0));
    assert_eq!(carrier_for_source(&carriers, a("127.0.0.1:5090")), Some(1));
    assert_eq!(
        carrier_for_source(&carriers, a("127.0.0.1:5061")),
        None,
        "same IP, other port: a PBX"
    );
    assert_eq!(
        carrier_for_source(&carriers, a("[::ffff:127.0.0.1]:5090")),
        Some(1)
    );
}

#[test]
fn did_normalisation() {
    assert_eq!(
        normalize_did("+14155550100").as_deref(),
        Some("+14155550100")
    );
    assert_eq!(
        normalize_did("14155550100").as_deref(),
        Some("+14155550100")
    );
    assert_eq!(
        normalize_did("+1-415-555-0100;npdi").as_deref(),
        Some("+14155550100")
    );
    assert_eq!(normalize_did("1415+5550100"), None);
    assert_eq!(normalize_did("alice"), None);
    assert_eq!(normalize_did("1234"), None, "too short for E.164");
}

#[test]
fn routing_by_assignment_and_status() {
    let t1 = inbound(1, Some("pbx.example.com"), None, true);
    let t2 = inbound(
        2,
        None,
        Some((FailoverSource::SipUri, "sip:x@y".into())),
        true,
    );
    let t3 = inbound(
        3,
        Some("pbx"),
        Some((FailoverSource::PhoneNumber, "+442071234567".into())),
        false,
    );
    let t4 = inbound(4, Some("pbx"), None, false);
    let trunks = TrunkTable::new(&[t1, t2, t3, t4]);
    let nums = numbers(&[
        ("+14155550101", Assignment::Trunk(Uuid::from_u128(1))),
        ("+14155550102", Assignment::Trunk(Uuid::from_u128(2))),
        ("+14155550103", Assignment::Trunk(Uuid::from_u128(3))),
        ("+14155550104", Assignment::Trunk(Uuid::from_u128(4))),
        ("+14155550105", Assignment::CallFlows),
    ]);
    let r = |u: &str| route_inbound(&nums, &trunks, Some(u));
    assert!(matches!(
        r("14155550101"),
        Ok(InboundRoute::Trunk {
            failover_first: false,
            ..
        })
    ));
    assert!(
        matches!(
            r("+14155550102"),
            Ok(InboundRoute::Trunk {
                failover_first: true,
                ..
            })
        ),
        "no destination"
    );
    assert!(
        matches!(
            r("+14155550103"),
            Ok(InboundRoute::Trunk {
                failover_first: true,
                ..
            })
        ),
        "inactive with failover"
    );
    assert_eq!(
        r("+14155550104").unwrap_err(),
        InboundRejection::TrunkInactive
    );
    assert_eq!(r("+14155550104").unwrap_err().code(), 480);
    assert!(matches!(
        r("+14155550105"),
        Ok(InboundRoute::Worker {
            mode: WorkerQueue::CallFlows,
            ..
        })
    ));
    assert_eq!(
        r("+14155550199").unwrap_err(),
        InboundRejection::UnknownNumber
    );
    assert_eq!(r("+14155550199").unwrap_err().code(), 404);
}

#[test]
fn unreachable_rules() {
    use AttemptOutcome::*;
    for (o, want) in [
        (TransportError, true),
        (Timeout, true),
        (Final(408), true),
        (Final(480), true),
        (Final(500), true),
        (Final(503), true),
        (Final(504), true),
        (Final(486), false),
        (Final(404), false),
        (Final(603), false),
    ] {
        assert_eq!(is_unreachable(o, false), want, "{o:?}");
    }
    assert!(
        !is_unreachable(Final(503), true),
        "never after early media or answer"
    );
}

#[test]
fn failover_steps_and_loops() {
    let id = |n| Uuid::from_u128(n).to_string();
    let a = inbound(1, Some("a"), Some((FailoverSource::TrunkId, id(2))), true);
    let b = inbound(2, Some("b"), Some((FailoverSource::TrunkId, id(1))), true);
    let c = inbound(3, Some("c"), Some((FailoverSource::TrunkId, id(4))), true);
    let d = inbound(
        4,
        Some("d"),
        Some((FailoverSource::SipUri, "sip:vm@example.com".into())),
        false,
    );
    let trunks = TrunkTable::new(&[a.clone(), b.clone(), c.clone(), d]);
    let visited = [Uuid::from_u128(1)];
    let m = |t: &Trunk| TrunkModel::new(t.clone()).unwrap();
    let (a, b, c) = (m(&a), m(&b), m(&c));
    match failover_step(&a, &trunks, &visited) {
        Ok(FailoverStep::Trunk(t)) => assert_eq!(t.trunk_id, Uuid::from_u128(2)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        failover_step(&b, &trunks, &[Uuid::from_u128(1), Uuid::from_u128(2)]),
        Err(NoFailover::Loop)
    );
    // An inactive failover trunk passes on to its own failover.
    assert_eq!(
        failover_step(&c, &trunks, &[Uuid::from_u128(3)]),
        Ok(FailoverStep::SipUri("sip:vm@example.com".into()))
    );
    assert_eq!(
        failover_step(&m(&inbound(9, Some("x"), None, true)), &trunks, &[]),
        Err(NoFailover::Unset)
    );
    // A trunk_id that names no trunk (removed since) is no failover.
    assert_eq!(
        failover_step(
            &m(&inbound(
                5,
                None,
                Some((FailoverSource::TrunkId, id(77))),
                true
            )),
            &trunks,
            &[Uuid::from_u128(5)]
        ),
        Err(NoFailover::Invalid)
    );
}

#[test]
fn api_failover_carries_the_queue_of_the_trunk_that_names_it() {
    let id = |n| Uuid::from_u128(n).to_string();
    let a = inbound(1, Some("a"), Some((FailoverSource::TrunkId, id(2))), true);
    let b = inbound(
        2,
        Some("b"),
        Some((FailoverSource::Api, "ParkingLot".into())),
        false,
    );
    let trunks = TrunkTable::new(&[a.clone(), b]);
    assert_eq!(
        failover_step(&TrunkModel::new(a).unwrap(), &trunks, &[Uuid::from_u128(1)]),
        Ok(FailoverStep::Api(WorkerQueue::ParkingLot))
    );
}

proptest! {
    #[test]
    fn did_normalisation_is_e164_or_none(s in ".{0,30}") {
        if let Some(d) = normalize_did(&s) {
            prop_assert!(d.starts_with('+'));
            prop_assert!((9..=16).contains(&d.len()));
            prop_assert!(d[1..].bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
