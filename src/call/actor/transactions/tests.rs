//! `Transactions` without sockets: ids, lookups, pruning, deadlines and the
//! tombstone, on tokio's paused clock where timers matter.

use std::collections::HashSet;

use bytes::Bytes;
use tokio::time::Instant;

use super::*;
use crate::sip::ParseOptions;
use crate::transaction::Action;
use crate::transport::TransportKind::{Tcp, Udp};

fn meta(kind: TransportKind) -> Arrival {
    Arrival {
        source: "192.0.2.10:5060".parse().unwrap(),
        local: "192.0.2.1:5060".parse().unwrap(),
        kind,
        conn: None,
    }
}

fn request(method: &str, branch: &str, cseq: u32) -> Message {
    let proto = "UDP";
    let text = format!(
        "{method} sip:b@192.0.2.1 SIP/2.0\r\n\
         Via: SIP/2.0/{proto} 192.0.2.10:5060;branch={branch}\r\n\
         From: <sip:a@192.0.2.10>;tag=a1\r\nTo: <sip:b@192.0.2.1>\r\n\
         Call-ID: call-1\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(Bytes::from(text), &ParseOptions::default()).unwrap()
}

fn response(code: u16, branch: &str, method: &str) -> Message {
    let text = format!(
        "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
         From: <sip:a@192.0.2.1>;tag=b1\r\nTo: <sip:c@192.0.2.20>;tag=c1\r\n\
         Call-ID: call-2\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(Bytes::from(text), &ParseOptions::default()).unwrap()
}

fn carrier() -> Target {
    Target {
        kind: TransportKind::Udp,
        addr: "192.0.2.20:5060".parse().unwrap(),
        conn: None,
    }
}

fn outgoing(method: Method, branch: &str, role: Role) -> NewRequest {
    let text = format!(
        "{method} sip:c@192.0.2.20 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
         From: <sip:a@192.0.2.1>;tag=b1\r\nTo: <sip:c@192.0.2.20>\r\n\
         Call-ID: call-2\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    );
    NewRequest {
        method,
        branch: Bytes::from(branch.to_string()),
        cseq: 1,
        bytes: Bytes::from(text),
        role,
        had_body: false,
    }
}

/// A request of ours to the carrier on the callee's leg: its id and first actions.
fn send(
    txs: &mut Transactions,
    method: Method,
    branch: &str,
    role: Role,
    now: Instant,
) -> (u32, Actions) {
    let req = outgoing(method, branch, role);
    txs.add_client(Leg::Callee, carrier(), req, TimerConfig::default(), now)
}

/// A request (method, branch, CSeq) that arrived on `leg` over `kind`: its
/// server transaction's id.
fn receive(
    txs: &mut Transactions,
    leg: Leg,
    req: (&str, &str, u32),
    kind: TransportKind,
    now: Instant,
) -> u32 {
    let (method, branch, cseq) = req;
    txs.add_server(
        leg,
        request(method, branch, cseq),
        &meta(kind),
        TimerConfig::default(),
        now,
    )
}

fn call(now: Instant) -> Transactions {
    let invite = request("INVITE", "z9hG4bKcaller", 1);
    Transactions::new(
        invite,
        &meta(TransportKind::Udp),
        TimerConfig::default(),
        now,
    )
}

/// Our response `code` (its bytes `bytes`) on server transaction `id`.
fn answer_with(
    txs: &mut Transactions,
    id: u32,
    code: u16,
    bytes: &'static [u8],
    rel: Reliability,
    now: Instant,
) -> Actions {
    let s = txs.server_mut(id).unwrap();
    s.respond(
        code,
        Bytes::from_static(bytes),
        rel,
        TimerConfig::default(),
        now,
    )
}

fn answer(txs: &mut Transactions, id: u32, code: u16, now: Instant) -> Actions {
    answer_with(txs, id, code, b"response", Reliability::Unreliable, now)
}

fn answer_caller(txs: &mut Transactions, code: u16, now: Instant) -> Actions {
    let id = txs.caller_invite_id();
    answer(txs, id, code, now)
}

#[test]
fn ids_are_unique_across_both_kinds_and_the_caller_invite_is_first() {
    let now = Instant::now();
    let mut txs = call(now);
    let mut ids = vec![txs.caller_invite_id()];
    ids.push(receive(
        &mut txs,
        Leg::Caller,
        ("INFO", "z9hG4bKi", 2),
        Udp,
        now,
    ));
    let (c, _) = send(&mut txs, Method::Invite, "z9hG4bKb", Role::Initial, now);
    ids.push(c);
    ids.push(receive(
        &mut txs,
        Leg::Callee,
        ("BYE", "z9hG4bKy", 2),
        Udp,
        now,
    ));
    let distinct: HashSet<u32> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "ids {ids:?}");
    assert_eq!(txs.len(), 4);
    assert_eq!(
        txs.caller_invite_request()
            .and_then(|r| r.method().cloned()),
        Some(Method::Invite)
    );
    // Each id finds its own transaction, of its own kind only.
    assert_eq!(
        txs.server(ids[1]).map(|s| s.method.clone()),
        Some(Method::Info)
    );
    assert_eq!(
        txs.client(c).map(|c| c.method.clone()),
        Some(Method::Invite)
    );
    assert!(txs.server(c).is_none() && txs.client(ids[3]).is_none());
}

#[test]
fn prune_drops_the_terminated_transactions_only() {
    let now = Instant::now();
    let mut txs = call(now);
    // A BYE answered over TCP terminates at once (Timer J is zero, §17.2.2).
    let bye = receive(&mut txs, Leg::Callee, ("BYE", "z9hG4bKy", 2), Tcp, now);
    let acts = answer_with(&mut txs, bye, 200, b"ok", Reliability::Reliable, now);
    assert!(acts.iter().any(|a| matches!(a, Action::Terminated)));
    // Over UDP it lingers in Completed for Timer J; an INFO not yet answered stays too.
    let options = receive(&mut txs, Leg::Caller, ("OPTIONS", "z9hG4bKo", 3), Udp, now);
    answer(&mut txs, options, 200, now);
    let info = receive(&mut txs, Leg::Caller, ("INFO", "z9hG4bKi", 4), Udp, now);
    assert_eq!(txs.prune(), 1);
    assert!(txs.server(bye).is_none());
    for id in [txs.caller_invite_id(), options, info] {
        assert!(txs.server(id).is_some(), "transaction {id} pruned");
    }
    assert_eq!((txs.prune(), txs.len()), (0, 3));
}

#[tokio::test(start_paused = true)]
async fn next_deadline_is_the_earliest_of_all_transactions() {
    let now = Instant::now();
    let mut txs = call(now);
    let timers = TimerConfig::default();
    // The caller's INVITE owes a response: no timer of its own.
    assert_eq!(txs.next_deadline(), None);
    // A 486 over UDP: Timer G (T1) and Timer H (64*T1).
    answer_caller(&mut txs, 486, now);
    assert_eq!(txs.next_deadline(), Some(now + timers.t1));
    tokio::time::advance(timers.t1 / 2).await;
    let later = Instant::now();
    // An INVITE sent later, with a retransmission at later + T1, is not earlier.
    let (c, _) = send(&mut txs, Method::Invite, "z9hG4bKb", Role::Initial, later);
    assert_eq!(
        txs.client(c).and_then(|c| c.next_deadline()),
        Some(later + timers.t1)
    );
    assert_eq!(txs.next_deadline(), Some(now + timers.t1));
    // Once the caller's INVITE has its ACK (Confirmed: Timer I = T4), the client's timer leads.
    if let Some(ServerKind::Invite(t)) = txs.caller_invite_mut().map(|s| &mut s.tx) {
        t.on_ack(later);
    }
    assert_eq!(txs.next_deadline(), Some(later + timers.t1));
}

#[test]
fn the_callee_invite_is_the_latest_initial_request() {
    let now = Instant::now();
    let mut txs = call(now);
    assert!(txs.callee_invite().is_none());
    let (first, _) = send(&mut txs, Method::Invite, "z9hG4bK1", Role::Initial, now);
    let (cancel, _) = send(&mut txs, Method::Cancel, "z9hG4bK1", Role::Cancel, now);
    assert!(txs.is_callee_invite(first) && !txs.is_callee_invite(cancel));
    let (second, _) = send(&mut txs, Method::Invite, "z9hG4bK2", Role::Initial, now);
    assert!(!txs.is_callee_invite(first));
    assert_eq!(txs.callee_invite().map(|c| c.id), Some(second));
}

#[test]
fn responses_and_requests_find_their_transaction_by_branch_and_method() {
    let now = Instant::now();
    let mut txs = call(now);
    // An INVITE and its CANCEL share the branch (§9.1): the CSeq method tells them apart.
    let (invite, _) = send(&mut txs, Method::Invite, "z9hG4bK1", Role::Initial, now);
    let (cancel, _) = send(&mut txs, Method::Cancel, "z9hG4bK1", Role::Cancel, now);
    let found = |txs: &mut Transactions, m: Method| txs.client_for(b"z9hG4bK1", &m).map(|c| c.id);
    assert_eq!(found(&mut txs, Method::Cancel), Some(cancel));
    assert_eq!(found(&mut txs, Method::Invite), Some(invite));
    assert_eq!(
        txs.client_for(b"z9hG4bK2", &Method::Invite).map(|c| c.id),
        None
    );
    // A request matches on its own leg only.
    let caller = txs.caller_invite_id();
    let on = |txs: &mut Transactions, leg: Leg| {
        txs.server_for(leg, b"z9hG4bKcaller", &Method::Invite)
            .map(|s| s.id)
    };
    assert_eq!(on(&mut txs, Leg::Caller), Some(caller));
    assert_eq!(on(&mut txs, Leg::Callee), None);
    assert!(txs
        .server_for(Leg::Caller, b"z9hG4bKcaller", &Method::Bye)
        .is_none());
    assert_eq!(
        txs.server_on_branch(Leg::Caller, b"z9hG4bKcaller")
            .map(|s| s.id),
        Some(caller)
    );
}

#[test]
fn a_client_invite_feeds_a_response_and_acks_a_failure_itself() {
    let now = Instant::now();
    let mut txs = call(now);
    let (id, acts) = send(&mut txs, Method::Invite, "z9hG4bK1", Role::Initial, now);
    assert!(matches!(acts.first(), Some(Action::Send(b)) if b.starts_with(b"INVITE ")));
    let c = txs.client_mut(id).unwrap();
    let acts = c.on_response(&response(486, "z9hG4bK1", "INVITE"), 486, now);
    let ack = acts.iter().find_map(|a| match a {
        Action::Send(b) => Some(b.clone()),
        _ => None,
    });
    let ack = ack.expect("the transaction ACKs a non-2xx final (§17.1.1.3)");
    assert_eq!(c.method_of(&ack), Method::Ack);
    assert!(
        ack.windows(6).any(|w| w == b"tag=c1"),
        "the ACK's To is the response's"
    );
    assert!(acts.iter().any(|a| matches!(a, Action::Deliver)));
}

#[test]
fn the_caller_invite_answered_and_its_ack_found_by_cseq() {
    let now = Instant::now();
    let mut txs = call(now);
    assert!(!txs.caller_answered());
    answer_caller(&mut txs, 180, now);
    assert!(!txs.caller_answered(), "a provisional is no answer");
    assert!(txs.invite_acked_by(Leg::Caller, 1).is_none(), "no 2xx yet");
    answer_caller(&mut txs, 200, now);
    assert!(txs.caller_answered());
    let caller = txs.caller_invite_id();
    assert_eq!(
        txs.invite_acked_by(Leg::Caller, 1).map(|s| s.id),
        Some(caller)
    );
    assert!(txs.invite_acked_by(Leg::Caller, 2).is_none());
    assert!(txs.invite_acked_by(Leg::Callee, 1).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_tombstone_only_once_nothing_sends_on_its_own() {
    let now = Instant::now();
    let mut txs = call(now);
    // The caller's 2xx is retransmitted until its ACK: no tombstone yet.
    answer_caller(&mut txs, 200, now);
    assert!(txs.tombstone().is_none());
    if let Some(r) = txs.caller_invite_mut().and_then(|s| s.r2xx.as_mut()) {
        r.on_ack();
    }
    // A BYE we answered over UDP: its 200 is what a retransmission gets.
    let bye = receive(&mut txs, Leg::Caller, ("BYE", "z9hG4bKy", 2), Udp, now);
    let ok = b"SIP/2.0 200 OK\r\n\r\n";
    answer_with(&mut txs, bye, 200, ok, Reliability::Unreliable, now);
    let stone = txs.tombstone().expect("only timers that absorb are left");
    match stone.reply(&request("BYE", "z9hG4bKy", 2)) {
        crate::call::linger::Reply::Resend { bytes, code, .. } => {
            assert_eq!((&bytes[..], code), (&ok[..], Some(200)));
        }
        other => panic!("a retransmitted BYE got {other:?}"),
    }
    // A request still unanswered holds the call task.
    receive(&mut txs, Leg::Caller, ("INFO", "z9hG4bKi", 3), Udp, now);
    assert!(txs.tombstone().is_none());
}

/// A live call keeps room for one transaction each way (its INVITEs), and
/// the BYE at its end grows each list by exactly one, not to four.
#[test]
fn room_for_what_a_live_call_holds() {
    let now = Instant::now();
    let mut txs = call(now);
    send(&mut txs, Method::Invite, "z9hG4bKb1", Role::Initial, now);
    assert_eq!((txs.servers.capacity(), txs.clients.capacity()), (1, 1));
    receive(
        &mut txs,
        Leg::Caller,
        ("BYE", "z9hG4bKbye", 2),
        TransportKind::Udp,
        now,
    );
    send(&mut txs, Method::Bye, "z9hG4bKb2", Role::Local, now);
    assert_eq!((txs.servers.capacity(), txs.clients.capacity()), (2, 2));
    assert_eq!(txs.len(), 4);
}
