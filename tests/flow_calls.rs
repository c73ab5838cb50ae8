//! Calls handed to a call-flow worker over a real gRPC connection: the
//! reference worker (`trunkgate_flow_worker`) driven by a local HTTP
//! callback server, or a hand-driven worker for failure cases. The caller is
//! a scripted carrier UA with an in-process RTP peer.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::worker::{by_type, cmd, start_worker, Hook};
use common::*;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::time::timeout;
use trunkgate::flow::pb;
use trunkgate::media::g711;
use trunkgate::sip::Message;

const DID: &str = "+14155550177";

// ------------------------------------------------------------ callback app

/// The web app answering init_call with `init` and action_result with `result`.
async fn hook(init: Value, result: Value) -> Hook {
    Hook::start(by_type(init, result)).await
}

/// The reference worker calling `hook` back.
async fn worker_for(hook: &Hook) -> SocketAddr {
    start_worker(&format!(
        "listen = \"127.0.0.1:0\"\ndefault_callback_url = \"{}/cb\"\ncallback_timeout_ms = 2000\ncommand_timeout_ms = 5000\n",
        hook.base
    ))
    .await
}

// ------------------------------------------------------------------ gateway

/// A carrier that delivers inbound calls, the DID assigned to `assigned`, the
/// workers at `workers`, and `extra` config (trunks).
async fn gateway(
    carrier: &Ua,
    workers: &[SocketAddr],
    assigned: &str,
    extra: &str,
) -> (Gw, std::path::PathBuf) {
    let store = temp_dir("flow-calls");
    let list: Vec<String> = workers.iter().map(|w| format!("\"http://{w}\"")).collect();
    let text = format!(
        r#"
[sip]
listen = [ {{ transport = "udp", address = "127.0.0.1:0" }}, {{ transport = "tcp", address = "127.0.0.1:0" }} ]
t1_ms = 50
[http]
listen = "127.0.0.1:0"
[store]
data_dir = "{store}"
[[carriers]]
health_interval_s = 0
name = "c1"
address = "{c}"
transport = "udp"
priority = 10
inbound_sources = ["{c}"]
[[numbers]]
no = "{DID}"
assigned_to = "{assigned}"
[media]
bind_ipv4 = "127.0.0.1"
busy_tone_s = 1
[flow]
workers = [{workers}]
connect_timeout_ms = 500
offer_timeout_ms = 1000
health_interval_s = 0
{extra}
"#,
        store = store.display(),
        c = carrier.addr,
        workers = list.join(", ")
    );
    (start(&text).await, store)
}

/// The carrier calls the DID with media at `rtp`.
async fn call(gw: &Gw, carrier: &Ua, id: &str, rtp: SocketAddr) {
    carrier.send_offer(gw.udp, id, DID, rtp, "car").await;
}

async fn ack_200(gw: &Gw, carrier: &Ua, ok: &Message) {
    carrier
        .send(gw.udp, &UaDialog::from_ok(ok, carrier.addr).ack())
        .await;
}

/// A 1 kHz prompt of `secs` seconds in a fresh WAV file.
fn prompt_wav(secs: f64) -> std::path::PathBuf {
    let path = temp_dir("flow-prompt").join("prompt.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..(secs * 8000.0) as u32 {
        let t = f64::from(i) / 8000.0;
        w.write_sample((8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    path
}

/// RFC 4733 end packets (three, as senders do) for one digit.
async fn send_digit(rtp: &RtpPeer, to: SocketAddr, event: u8, seq: &mut u16, ts: u32) {
    for _ in 0..3 {
        rtp.send(to, 101, *seq, ts, 0x77, &[event, 0x80 | 10, 0x03, 0x20])
            .await;
        *seq = seq.wrapping_add(1);
    }
}

#[tokio::test]
async fn call_flow_number_plays_a_wav_then_collects_sip_info_and_rfc4733_digits() {
    let wav = prompt_wav(0.4);
    let mut hook = hook(
        json!([{ "action": "PLAY", "url": wav.display().to_string() },
               { "action": "COLLECT", "num_digits": 3, "timeout": 5 }]),
        json!([{ "action": "HANGUP" }]),
    )
    .await;
    let worker = worker_for(&hook).await;
    let carrier = Ua::new().await;
    let (gw, _) = gateway(&carrier, &[worker], "CallFlows", "").await;
    let rtp = RtpPeer::new().await;
    call(&gw, &carrier, "f-play", rtp.addr).await;
    let init = hook.next_of("init_call").await;
    assert_eq!(init["api_no"], DID);
    assert_eq!(init["caller_no"], "+14155550001");
    assert_eq!(init["direction"], "inbound");
    let ok = carrier.wait_response(200).await;
    ack_200(&gw, &carrier, &ok).await;
    let relay = sdp_target(ok.body());
    // The prompt arrives in the caller's RTP: 1 kHz, from our relay port.
    let pkts = rtp.drain(Duration::from_millis(300), 40).await;
    assert!(pkts.len() >= 15, "{} prompt packets", pkts.len());
    assert!(pkts.iter().all(|p| p.from == relay));
    let pcm: Vec<i16> = pkts
        .iter()
        .take(15)
        .flat_map(|p| p.payload.iter().map(|b| g711::ulaw_decode(*b)))
        .collect();
    assert!(goertzel(&pcm, 1000.0) > 100.0 * goertzel(&pcm, 400.0));
    // A hold re-INVITE from the caller is answered by us with the same SDP.
    let hold = sdp_at(rtp.addr, "car").replace("a=sendrecv", "a=sendonly");
    let mut dialog = UaDialog::from_ok(&ok, carrier.addr);
    dialog.cseq = 4;
    carrier.send(gw.udp, &dialog.reinvite(&hold)).await;
    let re_ok = carrier.wait_response(200).await;
    assert_eq!(sdp_target(re_ok.body()), relay);
    assert_eq!(hdr(&re_ok, "CSeq"), "5 INVITE");
    // The re-INVITE's 2xx is ACKed with its To (and the re-INVITE's CSeq).
    dialog.to = hdr(&re_ok, "To");
    carrier.send(gw.udp, &dialog.ack()).await;
    // Digit 1 as SIP INFO (dtmf-relay), 2 and 3 as RFC 4733 events; they reach
    // the app in action_result.
    let info = dialog
        .next("INFO", "Signal=1\r\nDuration=160\r\n")
        .replace("application/sdp", "application/dtmf-relay");
    carrier.send(gw.udp, &info).await;
    let info_ok = carrier.wait_response(200).await;
    assert_eq!(hdr(&info_ok, "CSeq"), "6 INFO");
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut seq = 1u16;
    for (i, d) in [2u8, 3].iter().enumerate() {
        send_digit(&rtp, relay, *d, &mut seq, 8000 * (i as u32 + 1)).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let res = hook.next_of("action_result").await;
    assert_eq!(res["digits"], "123", "{res}");
    // HANGUP: the caller gets a BYE.
    let (bye, _) = carrier.wait_request("BYE").await;
    carrier.ok(gw.udp, &bye).await;
    let end = hook.next_of("end_call").await;
    assert_eq!(end["call_id"], init["call_id"]);
    gw.gw.shutdown().await;
}

#[tokio::test]
async fn transfer_to_a_sip_uri_bridges_the_caller_to_the_new_leg() {
    let bob = Ua::new().await;
    let mut hook = hook(
        json!([{ "action": "TRANSFER", "sip_uri": format!("sip:bob@{}", bob.addr) }]),
        json!([]),
    )
    .await;
    let worker = worker_for(&hook).await;
    let carrier = Ua::new().await;
    let (gw, _) = gateway(&carrier, &[worker], "CallFlows", "").await;
    let (rtp, bob_rtp) = (RtpPeer::new().await, RtpPeer::new().await);
    call(&gw, &carrier, "f-xfer", rtp.addr).await;
    hook.next_of("init_call").await;
    let (inv, _) = bob.wait_request("INVITE").await;
    assert!(inv.request_uri().unwrap().starts_with(b"sip:bob@"));
    let to_bob = sdp_target(inv.body());
    bob.answer_with(gw.udp, &inv, "bob", "bob", &sdp_at(bob_rtp.addr, "bob"))
        .await;
    bob.wait_request("ACK").await;
    let ok = carrier.wait_response(200).await;
    ack_200(&gw, &carrier, &ok).await;
    let relay = sdp_target(ok.body());
    // Media is bridged both ways through the relay.
    for i in 0..5u16 {
        rtp.send(relay, 0, i, 160 * u32::from(i), 1, &[0x11; 160])
            .await;
    }
    let got = bob_rtp.drain(Duration::from_millis(300), 5).await;
    assert_eq!(got.len(), 5);
    assert!(got
        .iter()
        .all(|p| p.from == to_bob && p.payload == vec![0x11; 160]));
    for i in 0..5u16 {
        bob_rtp
            .send(to_bob, 0, i, 160 * u32::from(i), 2, &[0x22; 160])
            .await;
    }
    let back = rtp.drain(Duration::from_millis(300), 20).await;
    assert!(back.iter().filter(|p| p.payload == vec![0x22; 160]).count() == 5);
    // The caller hangs up the bridged call; the app hears the flow ended with the transfer.
    hang_up(&carrier, gw.udp, &bob, &ok).await;
    let end = hook.next_of("end_call").await;
    assert_eq!(end["status"], "transferred", "{end}");
    gw.gw.shutdown().await;
}

#[tokio::test]
async fn reject_busy_gives_the_caller_a_busy_tone_then_486() {
    let mut hook = hook(json!([{ "action": "REJECT", "reason": "busy" }]), json!([])).await;
    let worker = worker_for(&hook).await;
    let carrier = Ua::new().await;
    let (gw, store) = gateway(&carrier, &[worker], "CallFlows", "").await;
    let rtp = RtpPeer::new().await;
    call(&gw, &carrier, "f-busy", rtp.addr).await;
    hook.next_of("init_call").await;
    carrier.wait_response(183).await;
    assert!(
        rtp.drain(Duration::from_millis(200), 30).await.len() >= 20,
        "busy tone"
    );
    carrier.wait_response(486).await;
    gw.gw.shutdown().await;
    let r = call_record(&store, "f-busy");
    assert_eq!(r.reason.as_deref(), Some("flow:reject_busy"));
    assert_eq!(r.trunk_id, None);
}

#[tokio::test]
async fn worker_down_gets_503_and_a_call_log_reason() {
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let carrier = Ua::new().await;
    let (gw, store) = gateway(&carrier, &[dead], "CallFlows", "").await;
    let rtp = RtpPeer::new().await;
    call(&gw, &carrier, "f-down", rtp.addr).await;
    carrier.wait_response(503).await;
    gw.gw.shutdown().await;
    let r = call_record(&store, "f-down");
    assert_eq!(r.reason.as_deref(), Some("flow:unreachable"));
    assert_eq!(r.sip.response_code, 503);
}

// ---------------------------------------------------- a worker driven by hand

/// A TCP relay in front of `to`; aborting the returned task cuts every connection.
async fn tcp_relay(to: SocketAddr) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        while let Ok((mut a, _)) = l.accept().await {
            conns.spawn(async move {
                if let Ok(mut b) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn inbound_failover_api_reaches_the_worker_and_a_killed_stream_ends_the_call() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (worker, cut) = tcp_relay(listener.local_addr().unwrap()).await;
    let mut streams = common::worker::serve_manual(listener);
    // The trunk's destination refuses (503): failover to the call-flow API.
    let dest = Ua::new().await;
    let carrier = Ua::new().await;
    let trunk = format!(
        "[[trunks]]\ntrunk_id = \"{IN_TRUNK}\"\ndirection = \"inbound\"\nsimultaneous_call_limit = 1\n[trunks.inbound]\ndestination = \"{}\"\nfailover = {{ source = \"api\", value = \"CallFlows\" }}\n",
        dest.addr
    );
    let (gw, store) = gateway(&carrier, &[worker], &format!("Trunks/{IN_TRUNK}"), &trunk).await;
    let rtp = RtpPeer::new().await;
    call(&gw, &carrier, "f-fo", rtp.addr).await;
    let (inv, _) = dest.wait_request("INVITE").await;
    dest.status(gw.udp, &inv, 503, "Service Unavailable", "d")
        .await;
    let (mut from_gw, to_gw) = timeout(WAIT, streams.recv()).await.unwrap().unwrap();
    let offered = match timeout(WAIT, from_gw.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .event
        .unwrap()
    {
        pb::gateway_message::Event::CallOffered(o) => o,
        other => panic!("expected CallOffered, got {other:?}"),
    };
    assert_eq!(offered.api_no, DID);
    assert_eq!(offered.reason, pb::OfferReason::Failover as i32);
    assert_eq!(offered.trunk_id.as_deref(), Some(IN_TRUNK));
    let accept = pb::worker_message::Command::Accept(pb::Accept {});
    to_gw.send(cmd("1", accept)).await.unwrap();
    let answer = pb::worker_message::Command::Answer(pb::Answer {});
    to_gw.send(cmd("2", answer)).await.unwrap();
    let ok = carrier.wait_response(200).await;
    ack_200(&gw, &carrier, &ok).await;
    let id: uuid::Uuid = IN_TRUNK.parse().unwrap();
    assert_eq!(gw.gw.trunk_active_calls(&id), 1);
    // The worker dies mid-call: the caller gets a BYE and the trunk's slot comes back.
    cut.abort();
    let (bye, _) = carrier.wait_request("BYE").await;
    drop((from_gw, to_gw));
    carrier.ok(gw.udp, &bye).await;
    for _ in 0..50 {
        if gw.gw.trunk_active_calls(&id) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(gw.gw.trunk_active_calls(&id), 0);
    gw.gw.shutdown().await;
    let r = call_record(&store, "f-fo");
    assert_eq!(r.reason.as_deref(), Some("flow:stream_broken"), "{r:?}");
}
