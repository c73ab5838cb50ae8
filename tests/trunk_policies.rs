//! Trunk policies on live calls over loopback: limits and their release on
//! every end path, post-dial delay, inbound DIDs and failover, status,
//! Twilio authentication.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;

const OUT_TRUNK: &str = "6f1c2b1e-8a51-4d2b-9c3e-1a2b3c4d5e6f";
const IN_TRUNK: &str = "0b7f7d0e-3c1a-4f7e-9a55-2d5c3e9b1a10";
const FO_TRUNK: &str = "9d3e1f2a-1111-4c4c-8d8d-0a0b0c0d0e0f";
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const DIALED: &str = "+14155550100";
const DID: &str = "+14155550199";

/// Node settings + one carrier (UDP) that also delivers inbound calls from `carrier_src`.
fn node(carrier: SocketAddr, carrier_src: &str) -> String {
    format!(
        r#"
[sip]
listen = [ {{ transport = "udp", address = "127.0.0.1:0" }}, {{ transport = "tcp", address = "127.0.0.1:0" }} ]
t1_ms = 50
t2_ms = 400
t4_ms = 500
[http]
listen = "127.0.0.1:0"
[store]
data_dir = "{store}"
[twilio]
signaling_ranges = ["127.0.0.2/32"]
[media]
busy_tone_s = 1
[[carriers]]
health_interval_s = 0
name = "c1"
address = "{carrier}"
transport = "udp"
priority = 10
inbound_sources = ["{carrier_src}"]
"#,
        store = temp_dir("policy").display()
    )
}

fn outbound_trunk(limit: Option<u32>, extra: &str) -> String {
    let limit = limit
        .map(|l| format!("simultaneous_call_limit = {l}\n"))
        .unwrap_or_default();
    format!(
        r#"
[[trunks]]
trunk_id = "{OUT_TRUNK}"
direction = "outbound"
{limit}
[trunks.outbound]
authentication = [ {{ source = "other", value = "127.0.0.1" }}, {{ source = "twilio", value = "{SID}" }} ]
{extra}
"#
    )
}

fn inbound_trunk(
    id: &str,
    status: &str,
    limit: Option<u32>,
    dest: Option<SocketAddr>,
    failover: Option<(&str, String)>,
) -> String {
    let limit = limit
        .map(|l| format!("simultaneous_call_limit = {l}\n"))
        .unwrap_or_default();
    let dest = dest
        .map(|d| format!("destination = \"{d}\"\n"))
        .unwrap_or_default();
    let fo = failover
        .map(|(s, v)| format!("failover = {{ source = \"{s}\", value = \"{v}\" }}\n"))
        .unwrap_or_default();
    format!(
        r#"
[[trunks]]
trunk_id = "{id}"
status = "{status}"
direction = "inbound"
{limit}
[trunks.inbound]
{dest}{fo}
"#
    )
}

fn number(no: &str, trunk: &str) -> String {
    format!("\n[[numbers]]\nno = \"{no}\"\nassigned_to = \"Trunks/{trunk}\"\n")
}

/// PBX INVITE -> carrier INVITE, returns the carrier's copy.
async fn place(gw: &Gw, pbx: &Ua, carrier: &Ua, call_id: &str) -> trunkgate::sip::Message {
    pbx.send(
        gw.udp,
        &invite(
            pbx.addr,
            gw.udp,
            "UDP",
            call_id,
            DIALED,
            &format!("z9hG4bK{call_id}"),
        ),
    )
    .await;
    pbx.expect_response(100).await;
    carrier.wait_request("INVITE").await.0
}

async fn active(gw: &Gw, trunk: &str) -> u32 {
    // Slots are released when the call task records the end; poll briefly.
    let id: uuid::Uuid = trunk.parse().unwrap();
    for _ in 0..50 {
        let n = gw.gw.trunk_active_calls(&id);
        if n == 0 {
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.gw.trunk_active_calls(&id)
}

/// Timer B in virtual time (paused clock, real loopback sockets).
#[tokio::test(start_paused = true)]
async fn outbound_limit_503_and_slot_released_on_every_end_path() {
    let carrier = Ua::new().await;
    let gw = start(&format!(
        "{}{}",
        node(carrier.addr, "127.0.0.9/32"),
        outbound_trunk(Some(1), "")
    ))
    .await;
    let pbx = Ua::new().await;
    let pbx2 = Ua::new().await;

    // 1. Answered call, caller hangs up.
    let inv = place(&gw, &pbx, &carrier, "lim1").await;
    pbx2.send(
        gw.udp,
        &invite(pbx2.addr, gw.udp, "UDP", "over1", DIALED, "z9hG4bKover1"),
    )
    .await;
    let r = pbx2.expect_response(503).await;
    assert_eq!(hdr(&r, "Call-ID"), "over1");
    carrier
        .send(
            gw.udp,
            &reply(
                &inv,
                200,
                "OK",
                Some("t1"),
                Some(&format!("sip:c@{}", carrier.addr)),
                SDP_ANSWER,
            ),
        )
        .await;
    let ok = pbx.wait_response(200).await;
    carrier.wait_request("ACK").await;
    hang_up(&pbx, gw.udp, &carrier, &ok).await;
    assert_eq!(active(&gw, OUT_TRUNK).await, 0, "released after caller BYE");

    // 2. Callee busy.
    let inv = place(&gw, &pbx, &carrier, "lim2").await;
    carrier
        .send(gw.udp, &reply(&inv, 486, "Busy Here", Some("t2"), None, ""))
        .await;
    pbx.wait_response(486).await;
    assert_eq!(active(&gw, OUT_TRUNK).await, 0, "released after 486");

    // 3. Caller CANCEL.
    let inv = place(&gw, &pbx, &carrier, "lim3").await;
    carrier
        .send(gw.udp, &reply(&inv, 180, "Ringing", Some("t3"), None, ""))
        .await;
    pbx.wait_response(180).await;
    let cancel = invite(pbx.addr, gw.udp, "UDP", "lim3", DIALED, "z9hG4bKlim3")
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let cancel =
        cancel.split("Content-Type").next().unwrap().to_string() + "Content-Length: 0\r\n\r\n";
    pbx.send(gw.udp, &cancel).await;
    pbx.wait_response(487).await;
    assert_eq!(active(&gw, OUT_TRUNK).await, 0, "released after CANCEL");

    // 4. Callee hangs up.
    let inv = place(&gw, &pbx, &carrier, "lim4").await;
    carrier
        .send(
            gw.udp,
            &reply(
                &inv,
                200,
                "OK",
                Some("t4"),
                Some(&format!("sip:c@{}", carrier.addr)),
                SDP_ANSWER,
            ),
        )
        .await;
    pbx.wait_response(200).await;
    let bye = in_dialog(
        "BYE",
        &format!("sip:trunkgate@{}", gw.udp),
        carrier.addr,
        "UDP",
        &format!("{};tag=t4", hdr(&inv, "To")),
        &hdr(&inv, "From"),
        &hdr(&inv, "Call-ID"),
        1,
        "z9hG4bKcb4",
        "",
    );
    carrier.send(gw.udp, &bye).await;
    let (bye_a, _) = pbx.wait_request("BYE").await;
    pbx.send(gw.udp, &reply(&bye_a, 200, "OK", None, None, ""))
        .await;
    assert_eq!(active(&gw, OUT_TRUNK).await, 0, "released after callee BYE");

    // 5. Carrier silent: Timer B (3.2 s) -> 408.
    place(&gw, &pbx, &carrier, "lim5").await;
    pbx.wait_response(408).await;
    assert_eq!(active(&gw, OUT_TRUNK).await, 0, "released after timeout");

    // And the slot really is free: a new call goes through.
    place(&gw, &pbx2, &carrier, "lim6").await;
    let m = metrics(gw.http).await;
    let series = format!("trunkgate_trunk_rejections_total{{trunk=\"{OUT_TRUNK}\",direction=\"outbound\",reason=\"limit_reached\"}}");
    assert_eq!(metric_value(&m, &series), 1.0, "{m}");
}

/// In virtual time: the paused clock jumps over the 7 s while the sockets stay real.
#[tokio::test(start_paused = true)]
async fn post_dial_delay_cancels_and_answers_503() {
    let carrier = Ua::new().await;
    let gw = start(&format!(
        "{}{}",
        node(carrier.addr, "127.0.0.9/32"),
        outbound_trunk(None, "max_post_dial_delay = 7")
    ))
    .await;
    let pbx = Ua::new().await;
    let inv = place(&gw, &pbx, &carrier, "pdd1").await;
    // 100 Trying does not stop the timer.
    carrier
        .send(gw.udp, &reply(&inv, 100, "Trying", None, None, ""))
        .await;
    let started = tokio::time::Instant::now();
    let (cancel, _) = carrier
        .recv_within(Duration::from_secs(10))
        .await
        .expect("CANCEL after the PDD");
    assert_eq!(cancel.method().map(|m| m.as_str()), Some("CANCEL"));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(6500),
        "CANCEL came after {waited:?}, before the 7 s PDD"
    );
    assert_eq!(hdr(&cancel, "Call-ID"), hdr(&inv, "Call-ID"));
    let r = pbx.wait_response(503).await;
    assert_eq!(hdr(&r, "Call-ID"), "pdd1");
    carrier
        .send(gw.udp, &reply(&cancel, 200, "OK", Some("p"), None, ""))
        .await;
    carrier
        .send(
            gw.udp,
            &reply(&inv, 487, "Request Terminated", Some("p"), None, ""),
        )
        .await;
    carrier.wait_request("ACK").await;
    let m = metrics(gw.http).await;
    let series = format!("trunkgate_trunk_rejections_total{{trunk=\"{OUT_TRUNK}\",direction=\"outbound\",reason=\"pdd_timeout\"}}");
    assert_eq!(metric_value(&m, &series), 1.0);
}

#[tokio::test(start_paused = true)]
async fn ringing_within_pdd_keeps_the_call() {
    let carrier = Ua::new().await;
    let gw = start(&format!(
        "{}{}",
        node(carrier.addr, "127.0.0.9/32"),
        outbound_trunk(None, "max_post_dial_delay = 7")
    ))
    .await;
    let pbx = Ua::new().await;
    let inv = place(&gw, &pbx, &carrier, "pdd2").await;
    carrier
        .send(gw.udp, &reply(&inv, 180, "Ringing", Some("r"), None, ""))
        .await;
    pbx.wait_response(180).await;
    // Past 7 s: no CANCEL, no 503.
    assert!(
        carrier
            .recv_within(Duration::from_millis(7500))
            .await
            .is_none(),
        "no CANCEL once ringing"
    );
    carrier
        .send(
            gw.udp,
            &reply(
                &inv,
                200,
                "OK",
                Some("r"),
                Some(&format!("sip:c@{}", carrier.addr)),
                SDP_ANSWER,
            ),
        )
        .await;
    pbx.wait_response(200).await;
}

/// Builds: carrier (inbound source = its own address), an inbound trunk for DID.
async fn inbound_setup(trunks: &str, numbers: &str) -> (Gw, Ua) {
    let carrier = Ua::new().await;
    let text = format!(
        "{}{}{}{}",
        node(carrier.addr, &carrier.addr.to_string()),
        outbound_trunk(None, ""),
        trunks,
        numbers
    );
    (start(&text).await, carrier)
}

async fn inbound_invite(gw: &Gw, carrier: &Ua, did: &str, call_id: &str) {
    carrier
        .send(
            gw.udp,
            &invite(
                carrier.addr,
                gw.udp,
                "UDP",
                call_id,
                did,
                &format!("z9hG4bK{call_id}"),
            ),
        )
        .await;
}

#[tokio::test]
async fn inbound_did_delivered_to_the_trunk_destination() {
    let pbx = Ua::new().await;
    let (gw, carrier) = inbound_setup(
        &inbound_trunk(IN_TRUNK, "active", None, Some(pbx.addr), None),
        &number(DID, IN_TRUNK),
    )
    .await;
    // Without the + and with separators: normalised to E.164.
    inbound_invite(&gw, &carrier, "1-415-555-0199", "in1").await;
    carrier.expect_response(100).await;
    let (inv, _) = pbx.expect_request("INVITE").await;
    assert!(inv
        .request_uri()
        .unwrap()
        .starts_with(format!("sip:{DID}@").as_bytes()));
    pbx.send(
        gw.udp,
        &reply(
            &inv,
            200,
            "OK",
            Some("p"),
            Some(&format!("sip:pbx@{}", pbx.addr)),
            SDP_ANSWER,
        ),
    )
    .await;
    carrier.wait_response(200).await;
    // Unknown number -> 404; a DID from a non-carrier source -> treated as outbound and refused 403.
    inbound_invite(&gw, &carrier, "+14155550000", "in2").await;
    carrier.wait_response(404).await;
    let stranger = Ua::bind("127.0.0.3:0").await;
    stranger
        .send(
            gw.udp,
            &invite(stranger.addr, gw.udp, "UDP", "in3", DID, "z9hG4bKin3"),
        )
        .await;
    stranger.expect_response(403).await;
}

#[tokio::test]
async fn inbound_limit_486() {
    let pbx = Ua::new().await;
    let (gw, carrier) = inbound_setup(
        &inbound_trunk(IN_TRUNK, "active", Some(1), Some(pbx.addr), None),
        &number(DID, IN_TRUNK),
    )
    .await;
    inbound_invite(&gw, &carrier, DID, "il1").await;
    carrier.expect_response(100).await;
    pbx.expect_request("INVITE").await;
    inbound_invite(&gw, &carrier, DID, "il2").await;
    let r = carrier.wait_response(486).await;
    assert_eq!(hdr(&r, "Call-ID"), "il2");
}

#[tokio::test]
async fn inbound_failover_to_trunk_phone_number_and_sip_uri() {
    let dead = Ua::new().await; // answers 503: unreachable
    let backup = Ua::new().await;
    let uri_target = Ua::new().await;
    for (source, value) in [
        ("trunk_id", FO_TRUNK.to_string()),
        ("phone_number", "+442071234567".to_string()),
        ("sip_uri", format!("sip:voicemail@{}", uri_target.addr)),
    ] {
        let trunks = format!(
            "{}{}",
            inbound_trunk(
                IN_TRUNK,
                "active",
                None,
                Some(dead.addr),
                Some((source, value.clone()))
            ),
            inbound_trunk(FO_TRUNK, "active", None, Some(backup.addr), None)
        );
        let (gw, carrier) = inbound_setup(&trunks, &number(DID, IN_TRUNK)).await;
        let cid = format!("fo-{source}");
        inbound_invite(&gw, &carrier, DID, &cid).await;
        carrier.expect_response(100).await;
        let (inv, _) = dead.expect_request("INVITE").await;
        dead.send(
            gw.udp,
            &reply(&inv, 503, "Service Unavailable", Some("d"), None, ""),
        )
        .await;
        dead.expect_request("ACK").await;
        let (who, expect_ruri) = match source {
            "trunk_id" => (&backup, format!("sip:{DID}@")),
            // phone_number goes out through the carriers: the carrier UA gets an INVITE for that number.
            "phone_number" => (&carrier, "sip:+442071234567@".to_string()),
            _ => (&uri_target, value.clone()),
        };
        let (inv2, _) = who.wait_request("INVITE").await;
        let ruri = String::from_utf8_lossy(inv2.request_uri().unwrap()).into_owned();
        assert!(ruri.starts_with(&expect_ruri), "{source}: R-URI {ruri}");
        who.send(
            gw.udp,
            &reply(
                &inv2,
                200,
                "OK",
                Some("b"),
                Some(&format!("sip:b@{}", who.addr)),
                SDP_ANSWER,
            ),
        )
        .await;
        let ok = carrier.wait_response(200).await;
        assert_eq!(
            hdr(&ok, "Call-ID"),
            cid,
            "{source}: the carrier's INVITE stayed one transaction"
        );
        let m = metrics(gw.http).await;
        assert_eq!(
            metric_value(
                &m,
                &format!("trunkgate_failovers_total{{source=\"{source}\"}}")
            ),
            1.0,
            "{m}"
        );
        gw.gw.shutdown().await;
    }
}

#[tokio::test]
async fn no_failover_on_486_and_inactive_trunks() {
    let pbx = Ua::new().await;
    let backup = Ua::new().await;
    let trunks = format!(
        "{}{}{}",
        inbound_trunk(
            IN_TRUNK,
            "active",
            None,
            Some(pbx.addr),
            Some(("trunk_id", FO_TRUNK.to_string()))
        ),
        inbound_trunk(FO_TRUNK, "active", None, Some(backup.addr), None),
        inbound_trunk(
            "5e5e5e5e-0000-4000-8000-000000000001",
            "inactive",
            None,
            Some(pbx.addr),
            None
        ),
    );
    let numbers = format!(
        "{}{}{}",
        number(DID, IN_TRUNK),
        number("+14155550198", FO_TRUNK),
        number("+14155550197", "5e5e5e5e-0000-4000-8000-000000000001")
    );
    let (gw, carrier) = inbound_setup(&trunks, &numbers).await;
    inbound_invite(&gw, &carrier, DID, "busy1").await;
    carrier.expect_response(100).await;
    let (inv, _) = pbx.expect_request("INVITE").await;
    pbx.send(gw.udp, &reply(&inv, 486, "Busy Here", Some("b"), None, ""))
        .await;
    carrier.wait_response(486).await;
    pbx.expect_request("ACK").await;
    assert!(
        backup
            .recv_within(Duration::from_millis(300))
            .await
            .is_none(),
        "no failover on the callee's 486"
    );
    // Inactive trunk without failover -> 480.
    inbound_invite(&gw, &carrier, "+14155550197", "inact1").await;
    carrier.wait_response(480).await;
    assert!(pbx.recv_within(Duration::from_millis(200)).await.is_none());
}

#[tokio::test]
async fn inactive_inbound_trunk_goes_straight_to_failover_and_outbound_gets_403() {
    let pbx = Ua::new().await;
    let backup = Ua::new().await;
    let trunks = format!(
        "{}{}",
        inbound_trunk(
            IN_TRUNK,
            "inactive",
            None,
            Some(pbx.addr),
            Some(("trunk_id", FO_TRUNK.to_string()))
        ),
        inbound_trunk(FO_TRUNK, "active", None, Some(backup.addr), None),
    );
    let (gw, carrier) = inbound_setup(&trunks, &number(DID, IN_TRUNK)).await;
    inbound_invite(&gw, &carrier, DID, "inact2").await;
    carrier.expect_response(100).await;
    backup.expect_request("INVITE").await;
    assert!(
        pbx.recv_within(Duration::from_millis(200)).await.is_none(),
        "inactive trunk's destination not tried"
    );

    let c2 = Ua::new().await;
    let text = format!(
        "{}{}",
        node(c2.addr, "127.0.0.9/32"),
        outbound_trunk(None, "").replace(
            "direction = \"outbound\"",
            "direction = \"outbound\"\nstatus = \"inactive\""
        )
    );
    let gw2 = start(&text).await;
    let p = Ua::new().await;
    p.send(
        gw2.udp,
        &invite(p.addr, gw2.udp, "UDP", "inact3", DIALED, "z9hG4bKi3"),
    )
    .await;
    p.expect_response(403).await;
}

#[tokio::test]
async fn twilio_auth_needs_sid_and_signaling_range() {
    let carrier = Ua::new().await;
    let text = format!(
        "{}{}",
        node(carrier.addr, "127.0.0.9/32"),
        outbound_trunk(None, "domain = \"twilio.example.com\"")
    );
    let gw = start(&text).await;
    let tw = |ua: &Ua, sid: &str, cid: &str| {
        invite(
            ua.addr,
            gw.udp,
            "UDP",
            cid,
            DIALED,
            &format!("z9hG4bK{cid}"),
        )
        .replace(
            &format!("sip:{DIALED}@{}", gw.udp),
            &format!("sip:{DIALED}@twilio.example.com"),
        )
        .replace(
            "User-Agent: test-pbx\r\n",
            &format!("User-Agent: test-pbx\r\nX-Twilio-AccountSid: {sid}\r\n"),
        )
    };
    let twilio = Ua::bind("127.0.0.2:0").await;
    twilio.send(gw.udp, &tw(&twilio, SID, "tw1")).await;
    twilio.expect_response(100).await;
    carrier.wait_request("INVITE").await;
    // Right SID, wrong source.
    let other = Ua::bind("127.0.0.3:0").await;
    other.send(gw.udp, &tw(&other, SID, "tw2")).await;
    other.expect_response(403).await;
    // Wrong SID, right source.
    twilio
        .send(
            gw.udp,
            &tw(&twilio, "AC00000000000000000000000000000000", "tw3"),
        )
        .await;
    twilio.wait_response(403).await;
    // The trunk's `other` entry (127.0.0.1) admits without any SID.
    let pbx = Ua::new().await;
    pbx.send(
        gw.udp,
        &tw(&pbx, "", "tw4").replace("X-Twilio-AccountSid: \r\n", ""),
    )
    .await;
    pbx.expect_response(100).await;
    let m = metrics(gw.http).await;
    assert_eq!(
        metric_value(&m, "trunkgate_rejections_total{reason=\"auth_failed\"}"),
        2.0,
        "{m}"
    );
}

/// RFC 3263: the destination name resolves through SRV to two targets; the
/// first never answers (Timer B, virtual time), the call goes to the second.
#[tokio::test(start_paused = true)]
async fn destination_srv_two_targets_first_down() {
    let first = Ua::new().await;
    let second = Ua::new().await;
    let carrier = Ua::new().await;
    let dns = format!(
        r#"
[dns]
static = [
  {{ name = "_sip._udp.pbx.test", srv = ["10 50 {p1} a.pbx.test", "20 50 {p2} b.pbx.test"] }},
  {{ name = "a.pbx.test", a = ["127.0.0.1"] }},
  {{ name = "b.pbx.test", a = ["127.0.0.1"] }},
]
"#,
        p1 = first.addr.port(),
        p2 = second.addr.port()
    );
    let text = format!(
        "{}{}{}{}{}",
        node(carrier.addr, &carrier.addr.to_string()),
        outbound_trunk(None, ""),
        inbound_trunk(IN_TRUNK, "active", None, None, None).replace(
            "[trunks.inbound]\n",
            "[trunks.inbound]\ndestination = \"pbx.test\"\n"
        ),
        number(DID, IN_TRUNK),
        dns
    );
    let gw = start(&text).await;
    inbound_invite(&gw, &carrier, DID, "srv1").await;
    carrier.expect_response(100).await;
    let (inv1, _) = first.expect_request("INVITE").await;
    assert!(inv1
        .request_uri()
        .unwrap()
        .starts_with(format!("sip:{DID}@").as_bytes()));
    // The first target stays silent; after Timer B the second one is tried.
    let (inv2, _) = second.wait_request("INVITE").await;
    second
        .send(
            gw.udp,
            &reply(
                &inv2,
                200,
                "OK",
                Some("s"),
                Some(&format!("sip:b@{}", second.addr)),
                SDP_ANSWER,
            ),
        )
        .await;
    let ok = carrier.wait_response(200).await;
    assert_eq!(hdr(&ok, "Call-ID"), "srv1");
}

/// The same through a real DNS server on loopback (RFC 3263 via hickory-resolver):
/// SRV to two targets, the first answers 503 (unreachable), the second takes the call.
#[tokio::test]
async fn destination_srv_through_a_local_dns_server() {
    use trunkgate::resolve::{testdns, SrvRecord, StaticTable};
    let first = Ua::new().await;
    let second = Ua::new().await;
    let carrier = Ua::new().await;
    let mut zone = StaticTable::default();
    zone.srv.insert(
        "_sip._udp.pbx.test".into(),
        vec![
            SrvRecord {
                priority: 10,
                weight: 0,
                port: first.addr.port(),
                target: "a.pbx.test".into(),
            },
            SrvRecord {
                priority: 20,
                weight: 0,
                port: second.addr.port(),
                target: "b.pbx.test".into(),
            },
        ],
    );
    zone.a
        .insert("a.pbx.test".into(), vec!["127.0.0.1".parse().unwrap()]);
    zone.a
        .insert("b.pbx.test".into(), vec!["127.0.0.1".parse().unwrap()]);
    let (dns, server) = testdns::start(zone).await;
    let text = format!(
        "{}{}{}{}\n[dns]\nnameservers = [\"{dns}\"]\n",
        node(carrier.addr, &carrier.addr.to_string()),
        outbound_trunk(None, ""),
        inbound_trunk(IN_TRUNK, "active", None, None, None).replace(
            "[trunks.inbound]\n",
            "[trunks.inbound]\ndestination = \"pbx.test\"\n"
        ),
        number(DID, IN_TRUNK),
    );
    let gw = start(&text).await;
    inbound_invite(&gw, &carrier, DID, "dns1").await;
    carrier.expect_response(100).await;
    let (inv1, _) = first.expect_request("INVITE").await;
    first
        .send(
            gw.udp,
            &reply(&inv1, 503, "Service Unavailable", Some("f"), None, ""),
        )
        .await;
    let (inv2, _) = second.wait_request("INVITE").await;
    second
        .send(
            gw.udp,
            &reply(
                &inv2,
                200,
                "OK",
                Some("s"),
                Some(&format!("sip:b@{}", second.addr)),
                SDP_ANSWER,
            ),
        )
        .await;
    let ok = carrier.wait_response(200).await;
    assert_eq!(hdr(&ok, "Call-ID"), "dns1");
    server.abort();
}

/// A reload that changes `[dns]` takes effect for the next call: the
/// destination name resolves through the new static table to the new PBX.
#[tokio::test]
async fn reload_with_new_dns_sends_the_next_call_to_the_new_address() {
    let old_pbx = Ua::new().await;
    let new_pbx = Ua::new().await;
    let carrier = Ua::new().await;
    let text_for = |port: u16| {
        format!(
            "{}{}{}{}\n[dns]\nstatic = [ {{ name = \"_sip._udp.pbx.test\", srv = [\"10 50 {port} a.pbx.test\"] }}, {{ name = \"a.pbx.test\", a = [\"127.0.0.1\"] }} ]\n",
            node(carrier.addr, &carrier.addr.to_string()),
            outbound_trunk(None, ""),
            inbound_trunk(IN_TRUNK, "active", None, None, None).replace(
                "[trunks.inbound]\n",
                "[trunks.inbound]\ndestination = \"pbx.test\"\n"
            ),
            number(DID, IN_TRUNK),
        )
    };
    let gw = start(&text_for(old_pbx.addr.port())).await;
    inbound_invite(&gw, &carrier, DID, "dnsrl1").await;
    let (inv, from) = old_pbx.wait_request("INVITE").await;
    old_pbx
        .send(from, &reply(&inv, 486, "Busy Here", Some("o"), None, ""))
        .await;
    carrier.wait_response(486).await;

    let new_cfg =
        trunkgate::config::parse_str(&text_for(new_pbx.addr.port()), "reload.toml").expect("valid");
    gw.gw.reload(new_cfg);
    inbound_invite(&gw, &carrier, DID, "dnsrl2").await;
    let (inv, from) = new_pbx.wait_request("INVITE").await;
    new_pbx
        .send(from, &reply(&inv, 486, "Busy Here", Some("n"), None, ""))
        .await;
    let busy = carrier.wait_response(486).await;
    assert_eq!(hdr(&busy, "Call-ID"), "dnsrl2");
}
