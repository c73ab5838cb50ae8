//! Trunk policies on live calls over loopback: limits and their release on
//! every end path, post-dial delay, inbound DIDs and failover, status,
//! Twilio authentication.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;

const FO_TRUNK: &str = "9d3e1f2a-1111-4c4c-8d8d-0a0b0c0d0e0f";

/// Node settings + one carrier (UDP) that also delivers inbound calls from `carrier_src`.
fn node(carrier: SocketAddr, carrier_src: &str) -> Toml {
    Toml::new(&temp_dir("policy"))
        .with("[twilio]\nsignaling_ranges = [\"127.0.0.2/32\"]\n[media]\nbusy_tone_s = 1\n")
        .inbound_carrier(carrier, carrier_src)
}

fn outbound_trunk(limit: Option<u32>, extra: &str) -> String {
    let limit = limit
        .map(|l| format!("simultaneous_call_limit = {l}\n"))
        .unwrap_or_default();
    format!(
        r#"
[[trunks]]
trunk_id = "{DEMO_TRUNK}"
direction = "outbound"
{limit}
[trunks.outbound]
authentication = [ {{ source = "other", value = "127.0.0.1" }}, {{ source = "twilio", value = "{TWILIO_SID}" }} ]
{extra}
"#
    )
}

/// [`node`] (the carrier 127.0.0.9) with the outbound trunk.
fn outbound_node(carrier: SocketAddr, limit: Option<u32>, extra: &str) -> String {
    node(carrier, "127.0.0.9/32")
        .with(&outbound_trunk(limit, extra))
        .text()
}

/// An inbound trunk of the config: active, no limit, no destination and
/// no failover unless set.
struct Inbound {
    id: &'static str,
    status: &'static str,
    limit: Option<u32>,
    dest: Option<String>,
    failover: Option<(&'static str, String)>,
}

fn inbound(id: &'static str) -> Inbound {
    Inbound {
        id,
        status: "active",
        limit: None,
        dest: None,
        failover: None,
    }
}

impl Inbound {
    /// Calls go to `dest` (an address or a name to resolve).
    fn to(mut self, dest: impl ToString) -> Inbound {
        self.dest = Some(dest.to_string());
        self
    }

    fn inactive(mut self) -> Inbound {
        self.status = "inactive";
        self
    }

    fn limit(mut self, n: u32) -> Inbound {
        self.limit = Some(n);
        self
    }

    fn failover(mut self, source: &'static str, value: impl ToString) -> Inbound {
        self.failover = Some((source, value.to_string()));
        self
    }

    fn text(&self) -> String {
        let limit = self
            .limit
            .map(|l| format!("simultaneous_call_limit = {l}\n"))
            .unwrap_or_default();
        let dest = self
            .dest
            .as_ref()
            .map(|d| format!("destination = \"{d}\"\n"))
            .unwrap_or_default();
        let fo = self
            .failover
            .as_ref()
            .map(|(s, v)| format!("failover = {{ source = \"{s}\", value = \"{v}\" }}\n"))
            .unwrap_or_default();
        format!(
            r#"
[[trunks]]
trunk_id = "{}"
status = "{}"
direction = "inbound"
{limit}
[trunks.inbound]
{dest}{fo}
"#,
            self.id, self.status
        )
    }
}

/// [`node`] with the carrier (its own address the inbound source), the
/// outbound trunk, the inbound `trunks` and the `numbers` (DID, trunk).
fn inbound_node(carrier: &Ua, trunks: &[Inbound], numbers: &[(&str, &str)]) -> Toml {
    let mut t = node(carrier.addr, &carrier.addr.to_string()).with(&outbound_trunk(None, ""));
    for trunk in trunks {
        t = t.with(&trunk.text());
    }
    for (no, trunk) in numbers {
        t = t.number(no, &format!("Trunks/{trunk}"));
    }
    t
}

/// PBX INVITE -> carrier INVITE, returns the carrier's copy.
async fn place(gw: &Gw, pbx: &Ua, carrier: &Ua, call_id: &str) -> trunkgate::sip::Message {
    pbx.send_invite(gw.udp, call_id, DIALED, &format!("z9hG4bK{call_id}"))
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
    let gw = start(&outbound_node(carrier.addr, Some(1), "")).await;
    let pbx = Ua::new().await;
    let pbx2 = Ua::new().await;

    // 1. Answered call, caller hangs up.
    let inv = place(&gw, &pbx, &carrier, "lim1").await;
    pbx2.send_invite(gw.udp, "over1", DIALED, "z9hG4bKover1")
        .await;
    let r = pbx2.expect_response(503).await;
    assert_eq!(hdr(&r, "Call-ID"), "over1");
    carrier.answer(gw.udp, &inv, "t1", "c").await;
    let ok = pbx.wait_response(200).await;
    carrier.wait_request("ACK").await;
    hang_up(&pbx, gw.udp, &carrier, &ok).await;
    assert_eq!(
        active(&gw, DEMO_TRUNK).await,
        0,
        "released after caller BYE"
    );

    // 2. Callee busy.
    let inv = place(&gw, &pbx, &carrier, "lim2").await;
    carrier.status(gw.udp, &inv, 486, "Busy Here", "t2").await;
    pbx.wait_response(486).await;
    assert_eq!(active(&gw, DEMO_TRUNK).await, 0, "released after 486");

    // 3. Caller CANCEL.
    let inv = place(&gw, &pbx, &carrier, "lim3").await;
    carrier.status(gw.udp, &inv, 180, "Ringing", "t3").await;
    pbx.wait_response(180).await;
    let cancel = invite(pbx.addr, gw.udp, "UDP", "lim3", DIALED, "z9hG4bKlim3")
        .replacen("INVITE sip", "CANCEL sip", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let cancel =
        cancel.split("Content-Type").next().unwrap().to_string() + "Content-Length: 0\r\n\r\n";
    pbx.send(gw.udp, &cancel).await;
    pbx.wait_response(487).await;
    assert_eq!(active(&gw, DEMO_TRUNK).await, 0, "released after CANCEL");

    // 4. Callee hangs up.
    let inv = place(&gw, &pbx, &carrier, "lim4").await;
    carrier.answer(gw.udp, &inv, "t4", "c").await;
    pbx.wait_response(200).await;
    let target = format!("sip:trunkgate@{}", gw.udp);
    let bye = UaDialog::answered(&inv, "t4", &target, carrier.addr).bye();
    carrier.send(gw.udp, &bye).await;
    let (bye_a, _) = pbx.wait_request("BYE").await;
    pbx.ok(gw.udp, &bye_a).await;
    assert_eq!(
        active(&gw, DEMO_TRUNK).await,
        0,
        "released after callee BYE"
    );

    // 5. Carrier silent: Timer B (3.2 s) -> 408.
    place(&gw, &pbx, &carrier, "lim5").await;
    pbx.wait_response(408).await;
    assert_eq!(active(&gw, DEMO_TRUNK).await, 0, "released after timeout");

    // And the slot really is free: a new call goes through.
    place(&gw, &pbx2, &carrier, "lim6").await;
    let m = metrics(gw.http).await;
    let series = format!("trunkgate_trunk_rejections_total{{trunk=\"{DEMO_TRUNK}\",direction=\"outbound\",reason=\"limit_reached\"}}");
    assert_eq!(metric_value(&m, &series), 1.0, "{m}");
}

/// A gateway whose outbound trunk has a 7 s post-dial delay, and call `id`
/// placed through it: the gateway, the PBX, the carrier and its INVITE.
async fn pdd_call(id: &str) -> (Gw, Ua, Ua, trunkgate::sip::Message) {
    let carrier = Ua::new().await;
    let gw = start(&outbound_node(
        carrier.addr,
        None,
        "max_post_dial_delay = 7",
    ))
    .await;
    let pbx = Ua::new().await;
    let inv = place(&gw, &pbx, &carrier, id).await;
    (gw, pbx, carrier, inv)
}

/// In virtual time: the paused clock jumps over the 7 s while the sockets stay real.
#[tokio::test(start_paused = true)]
async fn post_dial_delay_cancels_and_answers_503() {
    let (gw, pbx, carrier, inv) = pdd_call("pdd1").await;
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
    carrier.status(gw.udp, &cancel, 200, "OK", "p").await;
    carrier
        .status(gw.udp, &inv, 487, "Request Terminated", "p")
        .await;
    carrier.wait_request("ACK").await;
    let m = metrics(gw.http).await;
    let series = format!("trunkgate_trunk_rejections_total{{trunk=\"{DEMO_TRUNK}\",direction=\"outbound\",reason=\"pdd_timeout\"}}");
    assert_eq!(metric_value(&m, &series), 1.0);
}

#[tokio::test(start_paused = true)]
async fn ringing_within_pdd_keeps_the_call() {
    let (gw, pbx, carrier, inv) = pdd_call("pdd2").await;
    carrier.status(gw.udp, &inv, 180, "Ringing", "r").await;
    pbx.wait_response(180).await;
    // Past 7 s: no CANCEL, no 503.
    assert!(
        carrier.hears_nothing(Duration::from_millis(7500)).await,
        "no CANCEL once ringing"
    );
    carrier.answer(gw.udp, &inv, "r", "c").await;
    pbx.wait_response(200).await;
}

/// Builds: carrier (inbound source = its own address), [`inbound_node`].
async fn inbound_setup(trunks: &[Inbound], numbers: &[(&str, &str)]) -> (Gw, Ua) {
    let carrier = Ua::new().await;
    let text = inbound_node(&carrier, trunks, numbers).text();
    (start(&text).await, carrier)
}

/// [`inbound_node`] with DID on the inbound trunk to the name `pbx.test`.
fn pbx_test_node(carrier: &Ua) -> Toml {
    inbound_node(
        carrier,
        &[inbound(IN_TRUNK).to("pbx.test")],
        &[(DID, IN_TRUNK)],
    )
}

async fn inbound_invite(gw: &Gw, carrier: &Ua, did: &str, call_id: &str) {
    carrier
        .send_invite(gw.udp, call_id, did, &format!("z9hG4bK{call_id}"))
        .await;
}

#[tokio::test]
async fn inbound_did_delivered_to_the_trunk_destination() {
    let pbx = Ua::new().await;
    let (gw, carrier) = inbound_setup(&[inbound(IN_TRUNK).to(pbx.addr)], &[(DID, IN_TRUNK)]).await;
    // Without the + and with separators: normalised to E.164.
    inbound_invite(&gw, &carrier, "1-415-555-0199", "in1").await;
    carrier.expect_response(100).await;
    let (inv, _) = pbx.expect_invite_for(DID).await;
    pbx.answer(gw.udp, &inv, "p", "pbx").await;
    carrier.wait_response(200).await;
    // Unknown number -> 404; a DID from a non-carrier source -> treated as outbound and refused 403.
    inbound_invite(&gw, &carrier, "+14155550000", "in2").await;
    carrier.wait_response(404).await;
    let stranger = Ua::bind("127.0.0.3:0").await;
    stranger.send_invite(gw.udp, "in3", DID, "z9hG4bKin3").await;
    stranger.expect_response(403).await;
}

#[tokio::test]
async fn inbound_limit_486() {
    let pbx = Ua::new().await;
    let (gw, carrier) = inbound_setup(
        &[inbound(IN_TRUNK).limit(1).to(pbx.addr)],
        &[(DID, IN_TRUNK)],
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
        let trunks = [
            inbound(IN_TRUNK).to(dead.addr).failover(source, &value),
            inbound(FO_TRUNK).to(backup.addr),
        ];
        let (gw, carrier) = inbound_setup(&trunks, &[(DID, IN_TRUNK)]).await;
        let cid = format!("fo-{source}");
        inbound_invite(&gw, &carrier, DID, &cid).await;
        carrier.expect_response(100).await;
        let (inv, _) = dead.expect_request("INVITE").await;
        dead.status(gw.udp, &inv, 503, "Service Unavailable", "d")
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
        who.answer(gw.udp, &inv2, "b", "b").await;
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
    const INACTIVE: &str = "5e5e5e5e-0000-4000-8000-000000000001";
    let trunks = [
        inbound(IN_TRUNK)
            .to(pbx.addr)
            .failover("trunk_id", FO_TRUNK),
        inbound(FO_TRUNK).to(backup.addr),
        inbound(INACTIVE).inactive().to(pbx.addr),
    ];
    let numbers = [
        (DID, IN_TRUNK),
        ("+14155550198", FO_TRUNK),
        ("+14155550197", INACTIVE),
    ];
    let (gw, carrier) = inbound_setup(&trunks, &numbers).await;
    inbound_invite(&gw, &carrier, DID, "busy1").await;
    carrier.expect_response(100).await;
    let (inv, _) = pbx.expect_request("INVITE").await;
    pbx.status(gw.udp, &inv, 486, "Busy Here", "b").await;
    carrier.wait_response(486).await;
    pbx.expect_request("ACK").await;
    assert!(
        backup.hears_nothing(Duration::from_millis(300)).await,
        "no failover on the callee's 486"
    );
    // Inactive trunk without failover -> 480.
    inbound_invite(&gw, &carrier, "+14155550197", "inact1").await;
    carrier.wait_response(480).await;
    assert!(pbx.hears_nothing(Duration::from_millis(200)).await);
}

#[tokio::test]
async fn inactive_inbound_trunk_goes_straight_to_failover_and_outbound_gets_403() {
    let pbx = Ua::new().await;
    let backup = Ua::new().await;
    let trunks = [
        inbound(IN_TRUNK)
            .inactive()
            .to(pbx.addr)
            .failover("trunk_id", FO_TRUNK),
        inbound(FO_TRUNK).to(backup.addr),
    ];
    let (gw, carrier) = inbound_setup(&trunks, &[(DID, IN_TRUNK)]).await;
    inbound_invite(&gw, &carrier, DID, "inact2").await;
    carrier.expect_response(100).await;
    backup.expect_request("INVITE").await;
    assert!(
        pbx.hears_nothing(Duration::from_millis(200)).await,
        "inactive trunk's destination not tried"
    );

    let c2 = Ua::new().await;
    let text = outbound_node(c2.addr, None, "").replace(
        "direction = \"outbound\"",
        "direction = \"outbound\"\nstatus = \"inactive\"",
    );
    let gw2 = start(&text).await;
    let p = Ua::new().await;
    p.send_invite(gw2.udp, "inact3", DIALED, "z9hG4bKi3").await;
    p.expect_response(403).await;
}

#[tokio::test]
async fn twilio_auth_needs_sid_and_signaling_range() {
    let carrier = Ua::new().await;
    let text = outbound_node(carrier.addr, None, "domain = \"twilio.example.com\"");
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
    twilio.send(gw.udp, &tw(&twilio, TWILIO_SID, "tw1")).await;
    twilio.expect_response(100).await;
    carrier.wait_request("INVITE").await;
    // Right TWILIO_SID, wrong source.
    let other = Ua::bind("127.0.0.3:0").await;
    other.send(gw.udp, &tw(&other, TWILIO_SID, "tw2")).await;
    other.expect_response(403).await;
    // Wrong TWILIO_SID, right source.
    twilio
        .send(
            gw.udp,
            &tw(&twilio, "AC00000000000000000000000000000000", "tw3"),
        )
        .await;
    twilio.wait_response(403).await;
    // The trunk's `other` entry (127.0.0.1) admits without any TWILIO_SID.
    let pbx = Ua::new().await;
    pbx.send(
        gw.udp,
        &tw(&pbx, "", "tw4").replace("X-Twilio-AccountSid: \r\n", ""),
    )
    .await;
    pbx.expect_response(100).await;
    assert_metric(gw.http, &rejections("auth_failed"), 2.0).await;
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
    let text = pbx_test_node(&carrier).with(&dns).text();
    let gw = start(&text).await;
    inbound_invite(&gw, &carrier, DID, "srv1").await;
    carrier.expect_response(100).await;
    first.expect_invite_for(DID).await;
    // The first target stays silent; after Timer B the second one is tried.
    let (inv2, _) = second.wait_request("INVITE").await;
    second.answer(gw.udp, &inv2, "s", "b").await;
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
    let text = pbx_test_node(&carrier)
        .with(&format!("[dns]\nnameservers = [\"{dns}\"]\n"))
        .text();
    let gw = start(&text).await;
    inbound_invite(&gw, &carrier, DID, "dns1").await;
    carrier.expect_response(100).await;
    let (inv1, _) = first.expect_request("INVITE").await;
    first
        .status(gw.udp, &inv1, 503, "Service Unavailable", "f")
        .await;
    let (inv2, _) = second.wait_request("INVITE").await;
    second.answer(gw.udp, &inv2, "s", "b").await;
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
        pbx_test_node(&carrier)
            .with(&format!("[dns]\nstatic = [ {{ name = \"_sip._udp.pbx.test\", srv = [\"10 50 {port} a.pbx.test\"] }}, {{ name = \"a.pbx.test\", a = [\"127.0.0.1\"] }} ]\n"))
            .text()
    };
    let gw = start(&text_for(old_pbx.addr.port())).await;
    inbound_invite(&gw, &carrier, DID, "dnsrl1").await;
    let (inv, from) = old_pbx.wait_request("INVITE").await;
    old_pbx.status(from, &inv, 486, "Busy Here", "o").await;
    carrier.wait_response(486).await;

    let new_cfg =
        trunkgate::config::parse_str(&text_for(new_pbx.addr.port()), "reload.toml").expect("valid");
    gw.gw.reload(new_cfg);
    inbound_invite(&gw, &carrier, DID, "dnsrl2").await;
    let (inv, from) = new_pbx.wait_request("INVITE").await;
    new_pbx.status(from, &inv, 486, "Busy Here", "n").await;
    let busy = carrier.wait_response(486).await;
    assert_eq!(hdr(&busy, "Call-ID"), "dnsrl2");
}
