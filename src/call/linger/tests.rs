use super::*;

fn stone(expires: Instant) -> Tombstone {
    Tombstone::new(vec![], expires)
}

#[tokio::test(start_paused = true)]
async fn held_once_per_call_until_swept() {
    let l = Linger::default();
    let now = Instant::now();
    let ids = [Bytes::from_static(b"a-leg"), Bytes::from_static(b"b-leg")];
    l.bury(&ids, stone(now + Duration::from_secs(32)));
    l.bury(&ids[..1], stone(now + Duration::from_secs(1)));
    // The second call reused a-leg's Call-ID: the first keeps only b-leg.
    assert_eq!(l.len(), 2);
    assert!(l.get(b"a-leg", now).is_some());
    assert!(l.get(b"nope", now).is_none());
    let later = now + Duration::from_secs(2);
    assert!(l.get(b"a-leg", later).is_none(), "expired, even unswept");
    l.sweep(later);
    assert_eq!(l.len(), 1);
    assert!(l.get(b"b-leg", later).is_some());
    l.sweep(now + Duration::from_secs(33));
    assert_eq!(l.len(), 0);
    assert!(l.is_empty());
    l.bury(&[], stone(now));
    assert!(l.is_empty(), "a call without Call-IDs leaves nothing");
}

fn bye(branch: &'static str) -> Message {
    let text = format!(
            "BYE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        );
    Message::parse(Bytes::from(text), &Default::default()).expect("parses")
}

#[test]
fn retransmissions_matched_by_branch_and_method() {
    let target = Target {
        kind: crate::transport::TransportKind::Udp,
        addr: "127.0.0.1:5070".parse().expect("addr"),
        conn: None,
    };
    let ok = b"SIP/2.0 200 OK\r\n\r\n";
    let t = Tombstone::new(
        vec![
            Entry::server(b"z9hG4bKbye", Method::Bye, Some((ok, 200, target.clone()))),
            Entry::server(b"z9hG4bKinv", Method::Invite, None),
        ],
        Instant::now(),
    );
    match t.reply(&bye("z9hG4bKbye")) {
        Reply::Resend { bytes, code, .. } => {
            assert_eq!(&bytes[..], ok);
            assert_eq!(code, Some(200));
        }
        other => panic!("expected the 200 again, got {other:?}"),
    }
    assert!(matches!(t.reply(&bye("z9hG4bKother")), Reply::Unknown));
    // Same branch, other method: not that transaction.
    assert!(matches!(t.reply(&bye("z9hG4bKinv")), Reply::Unknown));
}

fn target(addr: &str) -> Target {
    Target {
        kind: crate::transport::TransportKind::Udp,
        addr: addr.parse().expect("addr"),
        conn: None,
    }
}

/// What a call answered and then hung up by the carrier leaves behind
/// (the shape of `call_flows::ended_call_answers_retransmissions_from_its_tombstone`):
/// the PBX's INVITE (absorbed), our INVITE to the carrier (its 2xx gets
/// our ACK again), the carrier's BYE (our 200 again), our BYE to the PBX
/// (absorbed).
const ACK: &str = "ACK sip:+14155550123@203.0.113.20:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK5f3a8c1e9b2d4f60\r\n\
Max-Forwards: 70\r\n\
From: \"Alice Example\" <sip:+13105550199@sbc.example.com>;tag=8a3f21c9e0b7\r\n\
To: <sip:+14155550123@carrier.example.net>;tag=as6f1e2d3c\r\n\
Call-ID: 3c9e1f0a2b4d6e8f1a3c5e7f@trunkgate\r\n\
CSeq: 1 ACK\r\n\
Content-Length: 0\r\n\r\n";
const OK_BYE: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-d8754z-9f1c2b3a4d5e6f70;rport=5060;received=203.0.113.10\r\n\
From: <sip:+14155550123@carrier.example.net>;tag=as6f1e2d3c\r\n\
To: \"Alice Example\" <sip:+13105550199@sbc.example.com>;tag=8a3f21c9e0b7\r\n\
Call-ID: 3c9e1f0a2b4d6e8f1a3c5e7f@trunkgate\r\n\
CSeq: 2 BYE\r\n\
Server: trunkgate\r\n\
Content-Length: 0\r\n\r\n";
const PBX_CALL_ID: &str = "5d1f0c9a7e3b4f21a8c6d2e1b0f9a7c3@198.51.100.7";
const OUR_CALL_ID: &str = "3c9e1f0a2b4d6e8f1a3c5e7f@trunkgate";

fn ended_call() -> Tombstone {
    let carrier = target("203.0.113.20:5060");
    Tombstone::new(
        vec![
            Entry::server(b"z9hG4bK-524287-1---7f3c1d2e9a8b6c5d", Method::Invite, None),
            Entry::client(
                b"z9hG4bK5f3a8c1e9b2d4f60",
                Method::Invite,
                Some((ACK.as_bytes(), carrier.clone())),
            ),
            Entry::server(
                b"z9hG4bK-d8754z-9f1c2b3a4d5e6f70",
                Method::Bye,
                Some((OK_BYE.as_bytes(), 200, carrier)),
            ),
            Entry::client(b"z9hG4bK0c1d2e3f4a5b6c7d", Method::Bye, None),
        ],
        Instant::now() + Duration::from_secs(32),
    )
}

fn message(text: String) -> Message {
    Message::parse(Bytes::from(text), &Default::default()).expect("parses")
}

#[test]
fn buried_call_answers_under_each_call_id() {
    let l = Linger::default();
    let now = Instant::now();
    let ids = [
        Bytes::from_static(PBX_CALL_ID.as_bytes()),
        Bytes::from_static(OUR_CALL_ID.as_bytes()),
    ];
    l.bury(&ids, ended_call());
    assert!(l
        .get(b"5d1f0c9a7e3b4f21a8c6d2e1b0f9a7c3@198.51.100.8", now)
        .is_none());
    let t = l.get(OUR_CALL_ID.as_bytes(), now).expect("B leg");
    assert!(Arc::ptr_eq(
        &t,
        &l.get(PBX_CALL_ID.as_bytes(), now).expect("A leg")
    ));
    assert!(t.has_call_id(PBX_CALL_ID.as_bytes()) && !t.has_call_id(b"5d1f"));
    // The carrier's 200 (INVITE) again: our ACK again, to the carrier.
    let ok = message(format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK5f3a8c1e9b2d4f60\r\nCall-ID: {OUR_CALL_ID}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        ));
    match t.reply(&ok) {
        Reply::Resend {
            bytes,
            target: to,
            code,
        } => {
            assert_eq!(&bytes[..], ACK.as_bytes());
            assert_eq!(to.addr, target("203.0.113.20:5060").addr);
            assert_eq!(code, None);
        }
        other => panic!("expected our ACK again, got {other:?}"),
    }
    // Its 180 again: absorbed, no ACK for a provisional.
    let ringing = message(format!(
            "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK5f3a8c1e9b2d4f60\r\nCall-ID: {OUR_CALL_ID}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        ));
    assert!(matches!(t.reply(&ringing), Reply::Absorbed));
    // The carrier's BYE again: the same 200.
    let bye = message(format!(
            "BYE sip:x@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-d8754z-9f1c2b3a4d5e6f70\r\nCall-ID: {OUR_CALL_ID}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        ));
    match t.reply(&bye) {
        Reply::Resend { bytes, code, .. } => {
            assert_eq!(&bytes[..], OK_BYE.as_bytes());
            assert_eq!(code, Some(200));
        }
        other => panic!("expected the 200 again, got {other:?}"),
    }
    // The PBX's INVITE again: absorbed; the PBX's 200 to our BYE: absorbed.
    let invite = message(format!(
            "INVITE sip:x@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1---7f3c1d2e9a8b6c5d\r\nCall-ID: {PBX_CALL_ID}\r\nCSeq: 102 INVITE\r\nContent-Length: 0\r\n\r\n"
        ));
    assert!(matches!(t.reply(&invite), Reply::Absorbed));
    let ok_bye = message(format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK0c1d2e3f4a5b6c7d\r\nCall-ID: {PBX_CALL_ID}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        ));
    assert!(matches!(t.reply(&ok_bye), Reply::Absorbed));
    // Same branch as our BYE but a request (server side): not ours.
    let stray = message(format!(
            "BYE sip:x@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK0c1d2e3f4a5b6c7d\r\nCall-ID: {PBX_CALL_ID}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        ));
    assert!(matches!(t.reply(&stray), Reply::Unknown));
}

#[test]
fn unknown_methods_match_by_their_token() {
    let t = Tombstone::new(
        vec![Entry::server(b"z9hG4bKx", Method::from_bytes(b"FOO"), None)],
        Instant::now(),
    );
    let foo = |m: &str| {
        message(format!(
                "{m} sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCall-ID: c\r\nCSeq: 1 {m}\r\nContent-Length: 0\r\n\r\n"
            ))
    };
    assert!(matches!(t.reply(&foo("FOO")), Reply::Absorbed));
    assert!(matches!(t.reply(&foo("FOOD")), Reply::Unknown));
    // A long method token is kept too (lengths are 16-bit).
    let long = "X".repeat(300);
    let t = Tombstone::new(
        vec![Entry::server(
            b"z9hG4bKx",
            Method::from_bytes(long.as_bytes()),
            None,
        )],
        Instant::now(),
    );
    assert!(matches!(t.reply(&foo(&long)), Reply::Absorbed));
}

/// Memory per ended call (issue 13): the tombstone's heap and its table
/// slots, for the realistic call above. Was 1,922 bytes with the same
/// accounting before the tombstone became one buffer (176-byte entries,
/// each branch and resend copied apart, Call-ID keys copied apart).
#[test]
fn an_ended_call_costs_under_1300_bytes() {
    let l = Linger::default();
    let ids = [
        Bytes::from_static(PBX_CALL_ID.as_bytes()),
        Bytes::from_static(OUR_CALL_ID.as_bytes()),
    ];
    l.bury(&ids, ended_call());
    let t = l.get(PBX_CALL_ID.as_bytes(), Instant::now()).expect("held");
    assert!(!t.slots.spilled() && !t.targets.spilled() && !t.ids.spilled());
    assert_eq!(t.targets.len(), 1, "one target kept for both resends");
    // What must be kept: Call-IDs, methods, branches, the two resends.
    let payload = PBX_CALL_ID.len() + OUR_CALL_ID.len() + ACK.len() + OK_BYE.len();
    let branches = [
        "z9hG4bK-524287-1---7f3c1d2e9a8b6c5d",
        "z9hG4bK5f3a8c1e9b2d4f60",
        "z9hG4bK-d8754z-9f1c2b3a4d5e6f70",
        "z9hG4bK0c1d2e3f4a5b6c7d",
    ];
    let names = "INVITE".len() * 2 + "BYE".len() * 2;
    let branch_bytes: usize = branches.iter().map(|b| b.len()).sum();
    assert_eq!(t.buf.len(), payload + names + branch_bytes);
    // glibc rounds each allocation up to 16 octets with an 8-octet header.
    let chunk = |n: usize| (n + 8).div_ceil(16) * 16;
    let bytes = chunk(2 * std::mem::size_of::<usize>() + std::mem::size_of::<Tombstone>())
        + chunk(t.buf.len())
        + ids.len() * (Linger::SLOT_BYTES + 1);
    println!(
        "ended call: {bytes} bytes ({} of them resend bytes, Call-IDs and branches)",
        t.buf.len()
    );
    assert!(bytes < 1300, "{bytes} bytes per ended call");
    assert_eq!(
        t.heap_bytes(),
        2 * std::mem::size_of::<usize>() + std::mem::size_of::<Tombstone>() + t.buf.len()
    );
}
