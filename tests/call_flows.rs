//! Calls through the running gateway over real loopback sockets: a PBX UA on
//! one side, carrier UAs on the other, asserting what each side sees.

mod common;

use std::time::Duration;

use common::*;
use tokio::net::TcpListener;

/// Sets up a PBX and a single UDP carrier and drives INVITE up to the carrier.
struct Call {
    gw: Gw,
    pbx: Ua,
    carrier: Ua,
    call_id: String,
}

async fn setup(carriers: usize) -> (Gw, Ua, Vec<Ua>) {
    let mut cs = Vec::new();
    for _ in 0..carriers {
        cs.push(Ua::new().await);
    }
    let list: Vec<_> = cs.iter().map(|c| (c.addr, "udp")).collect();
    let gw = start(&config_text(&list, "127.0.0.0/8")).await;
    let pbx = Ua::new().await;
    (gw, pbx, cs)
}

async fn ring(name: &str) -> (Call, trunkgate::sip::Message) {
    let (gw, pbx, mut cs) = setup(1).await;
    let carrier = cs.remove(0);
    let call_id = format!("{name}@pbx");
    pbx.send_invite(gw.udp, &call_id, DIALED, "z9hG4bKinv1")
        .await;
    pbx.expect_response(100).await;
    let (inv, _) = carrier.expect_request("INVITE").await;
    (
        Call {
            gw,
            pbx,
            carrier,
            call_id,
        },
        inv,
    )
}

/// Brings a call up: 180, 200 (SDP), ACKs on both legs. Returns the carrier's INVITE and the PBX's 200.
async fn answered(name: &str) -> (Call, trunkgate::sip::Message, trunkgate::sip::Message) {
    let (c, inv) = ring(name).await;
    let from = c.gw.udp;
    c.carrier.status(from, &inv, 180, "Ringing", "car1").await;
    c.pbx.expect_response(180).await;
    let contact = format!("sip:carrier@{}", c.carrier.addr);
    c.carrier
        .send(
            from,
            &reply(&inv, 200, "OK", Some("car1"), Some(&contact), SDP_ANSWER),
        )
        .await;
    let ok = c.pbx.expect_response(200).await;
    let (ack, _) = c.carrier.expect_request("ACK").await;
    assert_eq!(hdr(&ack, "Call-ID"), hdr(&inv, "Call-ID"));
    assert_eq!(
        ack.request_uri()
            .map(|u| String::from_utf8_lossy(u).into_owned()),
        Some(contact)
    );
    let ack_pbx = UaDialog::from_ok(&ok, c.pbx.addr).ack();
    c.pbx.send(from, &ack_pbx).await;
    (c, inv, ok)
}

/// The carrier's dialog of an answered call (`answered`): it sends to the gateway.
fn carrier_dialog(c: &Call, inv: &trunkgate::sip::Message) -> UaDialog {
    let target = format!("sip:trunkgate@{}", c.gw.udp);
    UaDialog::answered(inv, "car1", &target, c.carrier.addr)
}

#[tokio::test]
async fn basic_call_relays_and_hides_topology() {
    let (c, inv, ok) = answered("basic").await;
    // The carrier sees a new dialog: new Call-ID, nothing of the PBX.
    let raw = String::from_utf8_lossy(inv.raw()).into_owned();
    assert_ne!(hdr(&inv, "Call-ID"), c.call_id);
    assert!(
        !raw.contains("leak-me-not"),
        "internal header leaked:\n{raw}"
    );
    assert!(!raw.contains("test-pbx"), "PBX User-Agent leaked");
    let pbx_port = format!(":{}", c.pbx.addr.port());
    let head = raw.split("\r\n\r\n").next().unwrap_or_default().to_string();
    assert!(
        !head.contains(&pbx_port),
        "PBX address leaked into carrier headers:\n{head}"
    );
    assert!(inv
        .request_uri()
        .is_some_and(|u| u.starts_with(format!("sip:{DIALED}@").as_bytes())));
    assert_eq!(hdr(&inv, "Max-Forwards"), "69");
    assert!(
        hdr(&inv, "From").contains("+14155550001"),
        "caller number kept"
    );
    // The SDP is anchored: same codecs, our relay port instead of the PBX's.
    let offer = String::from_utf8_lossy(inv.body()).into_owned();
    assert!(
        offer.contains("m=audio ") && offer.contains(" RTP/AVP 0 8\r\n"),
        "{offer}"
    );
    assert!(
        !offer.contains("m=audio 40000"),
        "PBX media port leaked: {offer}"
    );
    // The PBX sees its own dialog, the carrier's answer, and none of the carrier's addresses.
    assert_eq!(hdr(&ok, "Call-ID"), c.call_id);
    assert!(hdr(&ok, "To").contains("tag="));
    let answer = String::from_utf8_lossy(ok.body()).into_owned();
    assert!(answer.contains("a=rtpmap:0 PCMU/8000"), "{answer}");
    assert!(
        !answer.contains("m=audio 50000"),
        "carrier media port leaked: {answer}"
    );
    assert!(!hdr(&ok, "Contact").contains(&c.carrier.addr.port().to_string()));
    assert!(
        !String::from_utf8_lossy(ok.raw()).contains("car1"),
        "carrier tag leaked"
    );

    // PBX hangs up.
    let bye = UaDialog::from_ok(&ok, c.pbx.addr).bye();
    c.pbx.send(c.gw.udp, &bye).await;
    let (bye_b, _) = c.carrier.expect_request("BYE").await;
    assert_eq!(hdr(&bye_b, "Call-ID"), hdr(&inv, "Call-ID"));
    assert!(hdr(&bye_b, "To").contains("tag=car1"));
    c.carrier.ok(c.gw.udp, &bye_b).await;
    let ok_bye = c.pbx.expect_response(200).await;
    assert!(hdr(&ok_bye, "CSeq").contains("BYE"));
    let m = metrics(c.gw.http).await;
    let series = format!("trunkgate_calls_total{{trunk=\"{DEMO_TRUNK}\",direction=\"outbound\",status=\"completed\"}}");
    assert_eq!(metric_value(&m, &series), 1.0, "{m}");
    assert_eq!(metric_value(&m, "trunkgate_calls_active"), 0.0);
    let per_trunk = |name: &str| metric_value(&m, &format!("{name}{{trunk=\"{DEMO_TRUNK}\"}}"));
    assert_eq!(
        per_trunk("trunkgate_time_to_answer_seconds_count"),
        1.0,
        "{m}"
    );
    assert_eq!(per_trunk("trunkgate_post_dial_delay_seconds_count"), 1.0);
}

#[tokio::test]
async fn caller_cancel_while_ringing() {
    let (c, inv) = ring("cancel").await;
    c.carrier
        .status(c.gw.udp, &inv, 180, "Ringing", "car1")
        .await;
    c.pbx.expect_response(180).await;
    let cancel = format!(
        "CANCEL sip:{DIALED}@{gw} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKinv1\r\nMax-Forwards: 70\r\nFrom: \"Alice\" <sip:+14155550001@{me}>;tag=pbx1\r\nTo: <sip:{DIALED}@{gw}>\r\nCall-ID: {cid}\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
        gw = c.gw.udp, me = c.pbx.addr, cid = c.call_id
    );
    c.pbx.send(c.gw.udp, &cancel).await;
    let r1 = c.pbx.expect_response(200).await;
    assert!(hdr(&r1, "CSeq").contains("CANCEL"));
    let r2 = c.pbx.expect_response(487).await;
    assert!(hdr(&r2, "CSeq").contains("INVITE"));
    let (cancel_b, _) = c.carrier.expect_request("CANCEL").await;
    assert_eq!(hdr(&cancel_b, "Call-ID"), hdr(&inv, "Call-ID"));
    assert_eq!(
        cancel_b.via_top().unwrap().branch(),
        inv.via_top().unwrap().branch(),
        "CANCEL uses the INVITE's branch"
    );
    c.carrier
        .status(c.gw.udp, &cancel_b, 200, "OK", "car1")
        .await;
    c.carrier
        .status(c.gw.udp, &inv, 487, "Request Terminated", "car1")
        .await;
    let (ack, _) = c.carrier.expect_request("ACK").await;
    assert_eq!(
        ack.via_top().unwrap().branch(),
        inv.via_top().unwrap().branch(),
        "hop-by-hop ACK for 487"
    );
    let m = metrics(c.gw.http).await;
    let series = format!("trunkgate_calls_total{{trunk=\"{DEMO_TRUNK}\",direction=\"outbound\",status=\"canceled\"}}");
    assert_eq!(metric_value(&m, &series), 1.0);
}

#[tokio::test]
async fn callee_busy_is_passed_back_without_failover() {
    let (gw, pbx, cs) = setup(2).await;
    pbx.send_invite(gw.udp, "busy@pbx", DIALED, "z9hG4bKb1")
        .await;
    pbx.expect_response(100).await;
    let (inv, _) = cs[0].expect_request("INVITE").await;
    cs[0].status(gw.udp, &inv, 486, "Busy Here", "c1").await;
    let busy = pbx.expect_response(486).await;
    assert_eq!(hdr(&busy, "Call-ID"), "busy@pbx");
    let (ack, _) = cs[0].expect_request("ACK").await;
    assert!(hdr(&ack, "To").contains("tag=c1"));
    // A retransmitted 486 is absorbed by the transaction: the ACK is repeated, the PBX hears nothing new.
    cs[0].status(gw.udp, &inv, 486, "Busy Here", "c1").await;
    cs[0].expect_request("ACK").await;
    assert!(
        cs[1].hears_nothing(Duration::from_millis(300)).await,
        "no failover on the callee's 486"
    );
    let ack = in_dialog(
        "ACK",
        &format!("sip:{DIALED}@{}", gw.udp),
        pbx.addr,
        "UDP",
        "\"Alice\" <sip:+14155550001@x>;tag=pbx1",
        &hdr(&busy, "To"),
        "busy@pbx",
        1,
        "z9hG4bKb1",
        "",
    );
    // Timer G retransmitted the 486 while no ACK came (T1 = 50 ms); after the ACK it stops.
    let mut before = 0;
    while let Some((m, _)) = pbx.recv_within(Duration::from_millis(20)).await {
        assert_eq!(m.code(), Some(486));
        before += 1;
    }
    assert!(
        before >= 2,
        "486 retransmitted on Timer G before the ACK, saw {before}"
    );
    pbx.send(gw.udp, &ack).await;
    while pbx.recv_within(Duration::from_millis(30)).await.is_some() {}
    assert!(
        pbx.hears_nothing(Duration::from_millis(400)).await,
        "486 not retransmitted after ACK"
    );
}

#[tokio::test]
async fn failover_to_next_carrier_on_503() {
    let (gw, pbx, cs) = setup(2).await;
    pbx.send_invite(gw.udp, "fo@pbx", DIALED, "z9hG4bKf1").await;
    pbx.expect_response(100).await;
    let (inv1, _) = cs[0].expect_request("INVITE").await;
    cs[0]
        .status(gw.udp, &inv1, 503, "Service Unavailable", "c1")
        .await;
    cs[0].expect_request("ACK").await;
    let (inv2, _) = cs[1].expect_request("INVITE").await;
    assert_ne!(hdr(&inv1, "Call-ID"), hdr(&inv2, "Call-ID"));
    cs[1].answer(gw.udp, &inv2, "c2", "c").await;
    pbx.expect_response(200).await;
    assert_metric(gw.http, "trunkgate_carrier_failovers_total", 1.0).await;
}

#[tokio::test]
async fn callee_hangs_up() {
    let (c, inv, ok) = answered("calleebye").await;
    let bye = carrier_dialog(&c, &inv).bye();
    c.carrier.send(c.gw.udp, &bye).await;
    let (bye_a, _) = c.pbx.wait_request("BYE").await;
    assert_eq!(hdr(&bye_a, "Call-ID"), c.call_id);
    assert!(
        hdr(&bye_a, "To").contains("tag=pbx1"),
        "To is the PBX's From"
    );
    assert_eq!(
        hdr(&bye_a, "From"),
        hdr(&ok, "To"),
        "From is our To with our tag"
    );
    c.pbx.ok(c.gw.udp, &bye_a).await;
    let ok_b = c.carrier.expect_response(200).await;
    assert!(hdr(&ok_b, "CSeq").contains("BYE"));
}

#[tokio::test]
async fn reinvite_is_relayed() {
    let (c, inv, ok) = answered("reinv").await;
    let mut dialog = UaDialog::from_ok(&ok, c.pbx.addr);
    let reinv = dialog.reinvite(SDP);
    c.pbx.send(c.gw.udp, &reinv).await;
    c.pbx.expect_response(100).await;
    let (re_b, _) = c.carrier.wait_request("INVITE").await;
    assert_eq!(hdr(&re_b, "Call-ID"), hdr(&inv, "Call-ID"));
    assert!(hdr(&re_b, "To").contains("tag=car1"));
    assert!(hdr(&re_b, "CSeq").starts_with("2 INVITE"));
    c.carrier
        .send(
            c.gw.udp,
            &reply(
                &re_b,
                200,
                "OK",
                None,
                Some(&format!("sip:carrier@{}", c.carrier.addr)),
                SDP_ANSWER,
            ),
        )
        .await;
    let ok2 = c.pbx.wait_response(200).await;
    assert!(hdr(&ok2, "CSeq").starts_with("2 INVITE"));
    let (ack_b, _) = c.carrier.expect_request("ACK").await;
    assert!(hdr(&ack_b, "CSeq").starts_with("2 ACK"));
    // The same BYE retransmitted reaches the carrier once.
    let bye = dialog.bye();
    c.pbx.send(c.gw.udp, &bye).await;
    c.pbx.send(c.gw.udp, &bye).await;
    let (bye_b, _) = c.carrier.wait_request("BYE").await;
    c.carrier.ok(c.gw.udp, &bye_b).await;
    let second = c.carrier.recv_within(Duration::from_millis(300)).await;
    assert!(
        second.is_none_or(|(m, _)| m.method().map(|x| x.as_str()) != Some("BYE")),
        "retransmitted BYE absorbed"
    );
}

/// Timer B in virtual time (paused clock, real loopback sockets).
#[tokio::test(start_paused = true)]
async fn carrier_never_answers_gets_408_and_retransmissions_are_absorbed() {
    let (c, _inv) = ring("silent").await;
    // Timer A: the gateway retransmits its INVITE (T1 = 50 ms in tests).
    let mut retrans = 0;
    while let Some((m, _)) = c.carrier.recv_within(Duration::from_millis(1500)).await {
        if m.method().map(|x| x.as_str()) == Some("INVITE") {
            retrans += 1;
        }
        if retrans >= 4 {
            break;
        }
    }
    assert!(
        retrans >= 4,
        "INVITE retransmitted on Timer A, saw {retrans}"
    );
    // The PBX retransmits its INVITE: it gets 100 again, the carrier no new call.
    c.pbx
        .send_invite(c.gw.udp, &c.call_id, DIALED, "z9hG4bKinv1")
        .await;
    c.pbx.expect_response(100).await;
    // Timer B (64*T1 = 3.2 s) -> 408 to the PBX.
    let r = c.pbx.wait_response(408).await;
    assert_eq!(hdr(&r, "Call-ID"), c.call_id);
}

#[tokio::test]
async fn unauthenticated_source_gets_403() {
    let carrier = Ua::new().await;
    let gw = start(&config_text(&[(carrier.addr, "udp")], "127.0.0.2/32")).await;
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "unauth@pbx", DIALED, "z9hG4bKu1")
        .await;
    pbx.expect_response(403).await;
    assert!(carrier.hears_nothing(Duration::from_millis(300)).await);
    assert_metric(gw.http, &rejections("no_trunk"), 1.0).await;
}

#[tokio::test]
async fn undialable_number_gets_484_and_zero_max_forwards_483() {
    let (gw, pbx, _cs) = setup(1).await;
    pbx.send_invite(gw.udp, "nodial@pbx", "alice", "z9hG4bKn1")
        .await;
    pbx.expect_response(484).await;
    let mf0 = invite(pbx.addr, gw.udp, "UDP", "mf0@pbx", DIALED, "z9hG4bKm1")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    pbx.send(gw.udp, &mf0).await;
    pbx.expect_response(483).await;
}

#[tokio::test]
async fn out_of_dialog_options_answered_200() {
    let (gw, pbx, _cs) = setup(1).await;
    let opt = format!(
        "OPTIONS sip:{gw} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKo1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:mon@{me}>;tag=m1\r\nTo: <sip:{gw}>\r\nCall-ID: opt@pbx\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        gw = gw.udp, me = pbx.addr
    );
    pbx.send(gw.udp, &opt).await;
    let r = pbx.expect_response(200).await;
    assert!(hdr(&r, "Allow").contains("INVITE"));
    assert!(hdr(&r, "Via").contains(&format!("rport={}", pbx.addr.port())));
}

#[tokio::test]
async fn call_over_tcp_both_legs() {
    let carrier_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let caddr = carrier_l.local_addr().unwrap();
    let gw = start(&config_text(&[(caddr, "tcp")], "127.0.0.0/8")).await;
    let mut pbx = TcpUa::connect(gw.tcp).await;
    let me = pbx.addr;
    pbx.send_invite(gw.tcp, "TCP", "tcp@pbx", DIALED, "z9hG4bKt1")
        .await;
    assert_eq!(pbx.recv().await.code(), Some(100));
    let (stream, _) = tokio::time::timeout(WAIT, carrier_l.accept())
        .await
        .unwrap()
        .unwrap();
    let mut carrier = TcpUa::from_stream(stream);
    let inv = carrier.recv().await;
    assert!(hdr(&inv, "Via").starts_with("SIP/2.0/TCP"));
    let contact = format!("sip:carrier@{caddr};transport=tcp");
    carrier
        .send(&reply(&inv, 180, "Ringing", Some("ct"), None, ""))
        .await;
    assert_eq!(pbx.recv().await.code(), Some(180));
    carrier
        .send(&reply(
            &inv,
            200,
            "OK",
            Some("ct"),
            Some(&contact),
            SDP_ANSWER,
        ))
        .await;
    let ok = pbx.recv().await;
    assert_eq!(ok.code(), Some(200));
    let ack = carrier.recv().await;
    assert_eq!(ack.method().map(|m| m.as_str()), Some("ACK"));
    let mut dialog = UaDialog::from_ok(&ok, me).over("TCP");
    pbx.send(&dialog.ack()).await;
    pbx.send(&dialog.bye()).await;
    let bye = carrier.recv().await;
    assert_eq!(bye.method().map(|m| m.as_str()), Some("BYE"));
    carrier.send(&reply(&bye, 200, "OK", None, None, "")).await;
    let r = pbx.recv().await;
    assert_eq!(r.code(), Some(200));
    assert!(hdr(&r, "CSeq").contains("BYE"));
}

#[tokio::test]
async fn info_update_and_options_in_dialog_are_relayed_both_ways() {
    let (c, inv, ok) = answered("indialog").await;
    let mut dialog = UaDialog::from_ok(&ok, c.pbx.addr);
    dialog.cseq = 9;
    for method in ["INFO", "UPDATE", "OPTIONS"] {
        c.pbx.send(c.gw.udp, &dialog.next(method, "")).await;
        let cseq = dialog.cseq;
        let (req_b, _) = c.carrier.wait_request(method).await;
        assert_eq!(
            hdr(&req_b, "Call-ID"),
            hdr(&inv, "Call-ID"),
            "{method} on the carrier's dialog"
        );
        assert!(hdr(&req_b, "To").contains("tag=car1"));
        c.carrier.ok(c.gw.udp, &req_b).await;
        let r = c.pbx.wait_response(200).await;
        assert_eq!(
            hdr(&r, "CSeq"),
            format!("{cseq} {method}"),
            "the PBX's own CSeq comes back"
        );
    }
    // And from the carrier toward the PBX.
    let mut carrier_side = carrier_dialog(&c, &inv);
    carrier_side.cseq = 4;
    let info = carrier_side.next("INFO", "");
    c.carrier.send(c.gw.udp, &info).await;
    let (info_a, _) = c.pbx.wait_request("INFO").await;
    assert_eq!(hdr(&info_a, "Call-ID"), c.call_id);
    c.pbx.ok(c.gw.udp, &info_a).await;
    let r = c.carrier.wait_response(200).await;
    assert_eq!(hdr(&r, "CSeq"), "5 INFO");
}

#[tokio::test]
async fn reliable_provisional_and_prack_with_rack_rewritten() {
    let (gw, pbx, cs) = setup(1).await;
    let carrier = &cs[0];
    let inv_a = invite(pbx.addr, gw.udp, "UDP", "prack@pbx", DIALED, "z9hG4bKp1")
        .replace("CSeq: 1 INVITE", "CSeq: 101 INVITE")
        .replace(
            "User-Agent: test-pbx\r\n",
            "User-Agent: test-pbx\r\nSupported: 100rel\r\n",
        );
    pbx.send(gw.udp, &inv_a).await;
    pbx.expect_response(100).await;
    let (inv, _) = carrier.expect_request("INVITE").await;
    assert!(hdr(&inv, "Supported").contains("100rel"));
    let r183 = reply(
        &inv,
        183,
        "Session Progress",
        Some("car1"),
        Some(&format!("sip:c@{}", carrier.addr)),
        SDP_ANSWER,
    )
    .replace(
        "Content-Type:",
        "Require: 100rel\r\nRSeq: 7\r\nContent-Type:",
    );
    carrier.send(gw.udp, &r183).await;
    let p = pbx.expect_response(183).await;
    assert_eq!(hdr(&p, "RSeq"), "7");
    assert!(hdr(&p, "Require").contains("100rel"));
    let early = String::from_utf8_lossy(p.body()).into_owned();
    assert!(
        early.contains("m=audio ") && !early.contains("m=audio 50000"),
        "early media SDP relayed through our media port: {early}"
    );
    // The PRACK takes the next CSeq after the INVITE's 101 (the 183's).
    let prack = UaDialog::from_ok(&p, pbx.addr).next("PRACK", "").replace(
        "Content-Length: 0",
        "RAck: 7 101 INVITE\r\nContent-Length: 0",
    );
    pbx.send(gw.udp, &prack).await;
    let (prack_b, _) = carrier.wait_request("PRACK").await;
    assert_eq!(
        hdr(&prack_b, "RAck"),
        "7 1 INVITE",
        "RAck names the carrier leg's INVITE CSeq"
    );
    carrier.ok(gw.udp, &prack_b).await;
    let r = pbx.wait_response(200).await;
    assert_eq!(hdr(&r, "CSeq"), "102 PRACK");
}

/// Timer B in virtual time (paused clock, real loopback sockets).
#[tokio::test(start_paused = true)]
async fn failover_on_carrier_timeout() {
    let (gw, pbx, cs) = setup(2).await;
    pbx.send_invite(gw.udp, "fot@pbx", DIALED, "z9hG4bKft")
        .await;
    pbx.expect_response(100).await;
    cs[0].expect_request("INVITE").await;
    // Carrier 1 stays silent: Timer B (3.2 s with T1 = 50 ms) moves the call to carrier 2.
    let (inv2, _) = tokio::time::timeout(Duration::from_secs(6), cs[1].expect_request("INVITE"))
        .await
        .expect("failover in time");
    cs[1].status(gw.udp, &inv2, 486, "Busy Here", "c2").await;
    pbx.wait_response(486).await;
}

#[tokio::test]
async fn call_over_ipv6_loopback() {
    let Ok(probe) = tokio::net::UdpSocket::bind("[::1]:0").await else {
        panic!("IPv6 loopback unavailable on this host");
    };
    drop(probe);
    let carrier = Ua::bind("[::1]:0").await;
    let text = config_text(&[(carrier.addr, "udp")], "::1/128").replace(
        "address = \"127.0.0.1:0\" }, { transport = \"tcp\"",
        "address = \"[::1]:0\" }, { transport = \"tcp\"",
    );
    let gw = start(&text).await;
    let gw6 = gw
        .gw
        .sip_addr(trunkgate::transport::TransportKind::Udp)
        .unwrap();
    assert!(gw6.is_ipv6(), "listening on {gw6}");
    let pbx = Ua::bind("[::1]:0").await;
    pbx.send_invite(gw6, "v6@pbx", DIALED, "z9hG4bKv6").await;
    pbx.expect_response(100).await;
    let (inv, _) = carrier.expect_request("INVITE").await;
    assert!(
        hdr(&inv, "Via").contains("[::1]:"),
        "IPv6 reference in Via: {}",
        hdr(&inv, "Via")
    );
    assert!(inv
        .request_uri()
        .unwrap()
        .starts_with(b"sip:+14155550100@[::1]:"));
    carrier.answer(gw6, &inv, "v6", "c").await;
    let ok = pbx.expect_response(200).await;
    assert!(hdr(&ok, "Contact").contains("[::1]"));
    carrier.expect_request("ACK").await;
}

#[tokio::test]
async fn graceful_drain_refuses_new_calls_and_waits_for_live_ones() {
    let (c, _inv, ok) = answered("drain").await;
    let pbx2 = Ua::new().await;
    let drain = c.gw.gw.drain(Duration::from_secs(10));
    let driver = async {
        // A new call during the drain: 503.
        pbx2.send_invite(c.gw.udp, "late@pbx", DIALED, "z9hG4bKlate")
            .await;
        pbx2.expect_response(503).await;
        // The live call still works and ends normally.
        hang_up(&c.pbx, c.gw.udp, &c.carrier, &ok).await;
    };
    let started = tokio::time::Instant::now();
    let (left, ()) = tokio::join!(drain, driver);
    assert_eq!(left, 0, "no call left up");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drain ended when the last call did"
    );
}

fn options(from: std::net::SocketAddr, gw: std::net::SocketAddr, n: u32, ua: &str) -> String {
    format!(
        "OPTIONS sip:{gw} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKopt{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:x@{from}>;tag=o{n}\r\nTo: <sip:{gw}>\r\nCall-ID: opt{n}@flood\r\nCSeq: 1 OPTIONS\r\nUser-Agent: {ua}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Sends OPTIONS `ns` from `ua` to the gateway at `gw`; how many are
/// answered before 300 ms pass without an answer.
async fn options_answered(ua: &Ua, gw: std::net::SocketAddr, ns: std::ops::Range<u32>) -> usize {
    for n in ns {
        ua.send(gw, &options(ua.addr, gw, n, "x")).await;
    }
    ua.count_until_quiet(Duration::from_millis(300)).await
}

#[tokio::test]
async fn untrusted_flood_is_cut_off_and_scanners_dropped() {
    let carrier = Ua::new().await;
    let gw = start(&config_text(&[(carrier.addr, "udp")], "127.0.0.1/32")).await;
    let flooder = Ua::bind("127.0.0.8:0").await;
    let answered = options_answered(&flooder, gw.udp, 0..30).await;
    assert_eq!(
        answered, 16,
        "pike-style limit: 16 requests per 2 s from an untrusted source"
    );
    // A trusted source (a trunk's CIDR) is never limited.
    let pbx = Ua::new().await;
    let ok = options_answered(&pbx, gw.udp, 100..140).await;
    assert_eq!(ok, 40);
    // Known scanners get nothing at all.
    pbx.send(gw.udp, &options(pbx.addr, gw.udp, 999, "friendly-scanner"))
        .await;
    assert!(pbx.hears_nothing(Duration::from_millis(300)).await);
    let dropped = |reason: &str| format!("trunkgate_sip_dropped_total{{reason=\"{reason}\"}}");
    assert_metric(gw.http, &dropped("rate_limited"), 14.0).await;
    assert_metric(gw.http, &dropped("scanner"), 1.0).await;
}

#[tokio::test]
async fn live_calls_listed_and_hung_up_by_the_operator() {
    let (c, inv, _ok) = answered("live").await;
    let live = c.gw.gw.live_calls();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].call_id, c.call_id);
    assert_eq!(live[0].state, "answered");
    assert_eq!(live[0].api_no, DIALED);
    let callee = live[0].legs.callee.as_ref().expect("callee leg");
    assert_eq!(callee.call_id, hdr(&inv, "Call-ID"));
    assert!(!c.gw.gw.hangup("no-such-call"));
    assert!(c.gw.gw.hangup(&c.call_id));
    let (bye_a, _) = c.pbx.wait_request("BYE").await;
    assert_eq!(hdr(&bye_a, "Call-ID"), c.call_id);
    let (bye_b, _) = c.carrier.wait_request("BYE").await;
    assert_eq!(hdr(&bye_b, "Call-ID"), hdr(&inv, "Call-ID"));
    c.pbx.ok(c.gw.udp, &bye_a).await;
    c.carrier.ok(c.gw.udp, &bye_b).await;
    assert!(c.gw.gw.live_calls().is_empty());
}

#[tokio::test]
async fn carrier_address_is_trusted_by_the_flood_limit() {
    // The trunk admits only 127.0.0.1; the carrier signals from 127.0.0.6.
    let carrier = Ua::bind("127.0.0.6:0").await;
    let gw = start(&config_text(&[(carrier.addr, "udp")], "127.0.0.1/32")).await;
    let answered = options_answered(&carrier, gw.udp, 0..40).await;
    assert_eq!(
        answered, 40,
        "a carrier's BYEs/OPTIONS are never rate-limited"
    );
}

/// After a call ends its task goes; a tombstone (call::linger) answers the
/// late retransmissions for 64*T1 (3.2 s with the tests' T1 of 50 ms): the
/// same 200 for a retransmitted BYE, the same ACK for a retransmitted 2xx,
/// nothing (and no new call) for a retransmitted INVITE, and then nothing is
/// left of the call at all.
#[tokio::test]
async fn ended_call_answers_retransmissions_from_its_tombstone() {
    let (c, inv, ok) = answered("tombstone").await;
    let carrier_call_id = hdr(&inv, "Call-ID");
    let bye = carrier_dialog(&c, &inv).bye();
    c.carrier.send(c.gw.udp, &bye).await;
    let (bye_a, _) = c.pbx.wait_request("BYE").await;
    c.pbx.ok(c.gw.udp, &bye_a).await;
    let ok_bye = c.carrier.expect_response(200).await;
    // The call task is gone and one ended call is held.
    let mut held = 0.0;
    for _ in 0..40 {
        let m = metrics(c.gw.http).await;
        held = metric_value(&m, "trunkgate_calls_lingering");
        if held == 1.0 && metric_value(&m, "trunkgate_transactions_active") == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(held, 1.0, "the ended call left a tombstone");
    let m = metrics(c.gw.http).await;
    assert!(m.contains("trunkgate_transactions_active"));
    assert_eq!(metric_value(&m, "trunkgate_transactions_active"), 0.0);

    // A retransmitted BYE gets the very same 200.
    c.carrier.send(c.gw.udp, &bye).await;
    let again = c.carrier.expect_response(200).await;
    assert_eq!(again.raw(), ok_bye.raw());
    // A retransmitted 200 (INVITE) from the carrier gets our ACK again.
    c.carrier.answer(c.gw.udp, &inv, "car1", "carrier").await;
    let (ack, _) = c.carrier.expect_request("ACK").await;
    assert_eq!(hdr(&ack, "Call-ID"), carrier_call_id);
    assert!(hdr(&ack, "CSeq").contains("ACK"));
    // A retransmitted INVITE from the PBX is absorbed: no new call, no answer.
    let calls_before = metric_value(&metrics(c.gw.http).await, "trunkgate_calls_active");
    c.pbx
        .send_invite(c.gw.udp, &c.call_id, DIALED, "z9hG4bKinv1")
        .await;
    assert!(
        c.carrier.hears_nothing(Duration::from_millis(300)).await,
        "a retransmitted INVITE of an ended call reached the carrier"
    );
    assert!(c.pbx.hears_nothing(Duration::from_millis(100)).await);
    assert_eq!(
        metric_value(&metrics(c.gw.http).await, "trunkgate_calls_active"),
        calls_before
    );
    // A new request in the ended dialog is not a retransmission: 481.
    let bye2 = UaDialog::from_ok(&ok, c.pbx.addr).bye();
    c.pbx.send(c.gw.udp, &bye2).await;
    c.pbx.expect_response(481).await;
    // After 64*T1 nothing is left of the call.
    let mut held = 1.0;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        held = metric_value(&metrics(c.gw.http).await, "trunkgate_calls_lingering");
        if held == 0.0 {
            break;
        }
    }
    assert_eq!(held, 0.0, "the tombstone expired");
}
