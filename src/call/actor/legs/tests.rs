//! `Legs` without sockets: which leg a message is on, the callee's dialog
//! through an attempt, and the ACK a late offer holds back.

use bytes::Bytes;

use super::*;
use crate::call::hub::Arrival;
use crate::sip::ParseOptions;
use crate::transport::TransportKind;

fn parse(text: String) -> Message {
    Message::parse(Bytes::from(text), &ParseOptions::default()).unwrap()
}

fn invite(call_id: &str) -> Message {
    parse(format!(
        "INVITE sip:b@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n\
         From: <sip:a@192.0.2.10>;tag=a1\r\nTo: <sip:b@192.0.2.1>\r\n\
         Contact: <sip:a@192.0.2.10:5062>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    ))
}

/// A response of the callee on its leg's Call-ID, with a To tag or none.
fn from_callee(code: u16, tag: Option<&str>) -> Message {
    let to_tag = tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    parse(format!(
        "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK2\r\n\
         From: <sip:a@192.0.2.1>;tag=b1\r\nTo: <sip:c@192.0.2.20>{to_tag}\r\n\
         Contact: <sip:c@192.0.2.20:5070>\r\n\
         Call-ID: callee-leg\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    ))
}

fn meta() -> Arrival {
    Arrival {
        source: "192.0.2.10:5060".parse().unwrap(),
        local: "192.0.2.1:5060".parse().unwrap(),
        kind: TransportKind::Udp,
        conn: None,
    }
}

fn legs() -> Legs {
    let tag = Bytes::from_static(b"gw1");
    let inv = invite("caller-leg");
    Legs::new(Dialog::caller(
        &inv,
        inv.from_hdr().ok().as_ref(),
        &meta(),
        tag,
        "192.0.2.1:5060".into(),
    ))
}

/// The callee's dialog as an attempt starts it: no tag of the callee's yet.
fn callee() -> Dialog {
    let inv = invite("callee-leg");
    let mut d = Dialog::caller(
        &inv,
        inv.from_hdr().ok().as_ref(),
        &meta(),
        Bytes::from_static(b"gw2"),
        "192.0.2.1:5060".into(),
    );
    d.remote_tag = None;
    d
}

#[test]
fn a_message_belongs_to_the_caller_by_its_call_id_else_to_the_callee() {
    let legs = legs();
    assert_eq!(legs.leg_of(&invite("caller-leg")), Leg::Caller);
    assert_eq!(legs.leg_of(&from_callee(180, None)), Leg::Callee);
    assert_eq!(legs.leg_of(&invite("a-given-up-attempt")), Leg::Callee);
}

#[test]
fn the_caller_dialog_comes_from_its_invite() {
    let legs = legs();
    let a = legs.caller();
    assert_eq!(&a.call_id[..], b"caller-leg");
    assert_eq!(a.remote_tag.as_deref(), Some(&b"a1"[..]));
    assert_eq!(&a.remote_target[..], b"sip:a@192.0.2.10:5062");
    assert!(a.local.ends_with(b";tag=gw1"), "our tag on its To");
    assert!(legs.established(Leg::Caller));
}

#[test]
fn the_callee_dialog_exists_from_an_attempt_and_is_established_by_its_tag() {
    let mut legs = legs();
    assert!(legs.callee().is_none() && legs.dialog(Leg::Callee).is_none());
    assert!(!legs.established(Leg::Callee));
    // Answers before an attempt change nothing.
    legs.confirm_callee(&from_callee(200, Some("c1")));
    assert!(legs.callee().is_none());
    legs.set_callee(callee());
    assert!(!legs.established(Leg::Callee));
    // A provisional without a tag leaves it unconfirmed; the first tag decides it.
    legs.confirm_callee_early(&from_callee(100, None));
    assert!(!legs.established(Leg::Callee));
    legs.confirm_callee_early(&from_callee(183, Some("c1")));
    legs.confirm_callee_early(&from_callee(180, Some("c2")));
    let tag = |legs: &Legs| legs.callee().and_then(|d| d.remote_tag.clone());
    assert_eq!(tag(&legs).as_deref(), Some(&b"c1"[..]));
    assert_eq!(
        legs.dialog(Leg::Callee).map(|d| &d.remote_target[..]),
        Some(&b"sip:c@192.0.2.20:5070"[..])
    );
    // The 2xx confirms whatever it says (§12.1.2).
    legs.confirm_callee(&from_callee(200, Some("c2")));
    assert_eq!(tag(&legs).as_deref(), Some(&b"c2"[..]));
    assert!(legs.established(Leg::Callee));
    legs.drop_callee();
    assert!(legs.dialog_mut(Leg::Callee).is_none() && !legs.established(Leg::Callee));
    assert!(legs.dialog_mut(Leg::Caller).is_some());
}

#[test]
fn a_held_ack_goes_with_the_other_legs_ack_only() {
    let mut legs = legs();
    assert_eq!(legs.release_ack(Leg::Caller), None);
    // The callee's 2xx waits for the caller's ACK, which carries the answer.
    legs.hold_ack(Leg::Callee, 7);
    assert_eq!(
        legs.release_ack(Leg::Callee),
        None,
        "an ACK on the same leg"
    );
    assert_eq!(legs.release_ack(Leg::Caller), Some((Leg::Callee, 7)));
    assert_eq!(legs.release_ack(Leg::Caller), None, "sent once");
    legs.hold_ack(Leg::Caller, 3);
    assert_eq!(legs.release_ack(Leg::Callee), Some((Leg::Caller, 3)));
}

#[test]
fn an_unwanted_fork_gets_a_dialog_of_its_own() {
    let mut legs = legs();
    legs.set_callee(callee());
    let b = legs.callee().unwrap();
    let peer = crate::transport::Target {
        kind: TransportKind::Udp,
        addr: "192.0.2.30:5060".parse().unwrap(),
        conn: None,
    };
    let fork = b.fork(&from_callee(200, Some("f9")), 4, peer.clone());
    assert_eq!(fork.remote_tag.as_deref(), Some(&b"f9"[..]));
    assert_eq!((fork.local_cseq, fork.peer.addr), (4, peer.addr));
    assert_eq!(fork.local_tag, b.local_tag);
    // The callee's own dialog is untouched.
    assert!(!legs.established(Leg::Callee));
}
