//! Media anchoring over real loopback sockets: SDP rewritten on both legs,
//! RTP relayed both ways, NAT latching, dead-media timeout, the early-media
//! override ringback, the inbound busy tone, pre-connect recording, T.38
//! policy and port exhaustion. RTP peers are in-process UDP sockets.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicU16;
use std::time::Duration;

use common::*;
use trunkgate::media::g711;
use trunkgate::sip::Message;

/// A media port range of its own for each gateway in this test binary.
fn media_section(extra: &str) -> String {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    media_section_in(&NEXT, 40000, 200, 40, extra)
}

/// Test gateway config: one UDP carrier, the demo outbound trunk with
/// `trunk_extra` lines in `[trunks.outbound]` (and tables after it), a
/// `[media]` section with `media` lines, the store in `store`.
fn media_config(carrier: &Ua, store: &Path, trunk_extra: &str, media: &str) -> String {
    demo_config(&[(carrier.addr, "udp")], "127.0.0.0/8", store)
        .with(trunk_extra)
        .with(&media_section(media))
        .text()
}

/// A gateway on [`media_config`] with a store of its own.
async fn gateway(carrier: &Ua, trunk_extra: &str, media: &str) -> Gw {
    start(&media_config(
        carrier,
        &temp_dir("store"),
        trunk_extra,
        media,
    ))
    .await
}

type Up = MediaCall;

/// PBX INVITE (SDP at `pbx_media`) -> carrier INVITE; returns it.
async fn offer(
    gw: &Gw,
    pbx: &Ua,
    carrier: &Ua,
    id: &str,
    dialed: &str,
    pbx_media: SocketAddr,
) -> Message {
    pbx.send_offer(gw.udp, id, dialed, pbx_media, "pbx").await;
    pbx.expect_response(100).await;
    carrier.wait_request("INVITE").await.0
}

/// ACKs the PBX's 200 (the carrier's leg is ACKed by the gateway).
async fn ack(gw: &Gw, pbx: &Ua, ok: &Message) {
    pbx.send(gw.udp, &UaDialog::from_ok(ok, pbx.addr).ack())
        .await;
}

/// A call answered with media at `pbx_media` (PBX) and `car_media` (carrier).
async fn answered(
    gw: Gw,
    pbx: Ua,
    carrier: Ua,
    id: &str,
    pbx_media: SocketAddr,
    car_media: SocketAddr,
) -> Up {
    let inv = offer(&gw, &pbx, &carrier, id, DIALED, pbx_media).await;
    MediaCall::answer(gw, pbx, carrier, inv, id, car_media).await
}

/// A call answered between a fresh PBX and `carrier`, each with an RTP
/// peer of its own: the call, the PBX's peer, the carrier's.
async fn call(gw: Gw, carrier: Ua, id: &str) -> (Up, RtpPeer, RtpPeer) {
    let (pbx_rtp, car_rtp) = (RtpPeer::new().await, RtpPeer::new().await);
    let pbx = Ua::new().await;
    let u = answered(gw, pbx, carrier, id, pbx_rtp.addr, car_rtp.addr).await;
    (u, pbx_rtp, car_rtp)
}

/// [`call`] through a fresh gateway whose `[media]` has `media` lines, to a
/// fresh carrier.
async fn media_call(media: &str, id: &str) -> (Up, RtpPeer, RtpPeer) {
    let carrier = Ua::new().await;
    let gw = gateway(&carrier, "", media).await;
    call(gw, carrier, id).await
}

/// Asserts that the first `ms` ms of PCMU audio in `pkts` hold the tone
/// of `fa` + `fb` Hz (each over 100 times the power at 1 kHz).
fn assert_dual_tone(pkts: &[RtpPkt], ms: usize, fa: f64, fb: f64) {
    let payloads: Vec<&[u8]> = pkts.iter().map(|p| p.payload.as_slice()).collect();
    let on: Vec<i16> = decode(&payloads).into_iter().take(ms * 8).collect();
    let (pa, pb, p1k) = (goertzel(&on, fa), goertzel(&on, fb), goertzel(&on, 1000.0));
    assert!(
        pa > 100.0 * p1k && pb > 100.0 * p1k,
        "{fa}={pa} {fb}={pb} 1000={p1k}"
    );
}

fn decode(payloads: &[&[u8]]) -> Vec<i16> {
    let mut pcm = Vec::new();
    for p in payloads {
        pcm.extend(p.iter().map(|b| g711::ulaw_decode(*b)));
    }
    pcm
}

#[tokio::test]
async fn rtp_flows_both_ways_and_sdp_points_at_the_relay() {
    let (u, pbx_rtp, car_rtp) = media_call("", "m-basic").await;

    // Each side's SDP names the gateway, never the other side; codecs and direction kept.
    let to_carrier = String::from_utf8_lossy(u.inv.body()).into_owned();
    let to_pbx = String::from_utf8_lossy(u.ok.body()).into_owned();
    assert!(
        !to_carrier.contains(&pbx_rtp.addr.port().to_string()),
        "{to_carrier}"
    );
    assert!(
        !to_pbx.contains(&car_rtp.addr.port().to_string()),
        "{to_pbx}"
    );
    assert!((40000..48000).contains(&u.a_relay.port()) && u.a_relay.port() % 2 == 0);
    assert!((40000..48000).contains(&u.b_relay.port()) && u.b_relay.port() != u.a_relay.port());
    for sdp in [&to_carrier, &to_pbx] {
        assert!(
            sdp.contains("m=audio ") && sdp.contains(" RTP/AVP 0 8 101\r\n"),
            "{sdp}"
        );
        assert!(sdp.contains("a=rtpmap:101 telephone-event/8000\r\n"));
        assert!(sdp.contains("a=sendrecv\r\n"));
    }

    // PBX -> carrier: 20 packets arrive from our B side, unchanged.
    for i in 0..20u16 {
        let (seq, ts) = (100 + i, 160 * u32::from(i));
        pbx_rtp
            .send(u.a_relay, 0, seq, ts, 0x1111, &[i as u8; 160])
            .await;
    }
    let got = car_rtp.drain(Duration::from_millis(500), 20).await;
    assert_eq!(got.len(), 20);
    for (i, p) in got.iter().enumerate() {
        assert_eq!(p.from, u.b_relay);
        assert_eq!((p.seq, p.ssrc, p.pt), (100 + i as u16, 0x1111, 0));
        assert_eq!(p.payload, vec![i as u8; 160]);
    }
    // Carrier -> PBX.
    let carrier_pcma = (7000..7020u16).map(|seq| (seq, 160 * u32::from(seq - 7000)));
    for (seq, ts) in carrier_pcma {
        car_rtp
            .send(u.b_relay, 8, seq, ts, 0x2222, &[0xd5; 160])
            .await;
    }
    let got = pbx_rtp.drain(Duration::from_millis(500), 20).await;
    assert_eq!(got.len(), 20);
    assert!(got
        .iter()
        .all(|p| p.from == u.a_relay && p.ssrc == 0x2222 && p.pt == 8));

    u.hang_up().await;
    // Counters are flushed when the relay ends (BYE) or once a second.
    let mut relayed = 0.0;
    for _ in 0..40 {
        relayed = metric_value(
            &metrics(u.gw.http).await,
            "trunkgate_media_packets_relayed_total",
        );
        if relayed >= 40.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(relayed, 40.0);
    u.gw.gw.shutdown().await;
}

#[tokio::test]
async fn nat_latching_follows_the_real_source_and_ignores_strangers() {
    // The PBX's SDP names one port (`signaled`), its packets come from another (a NAT).
    let (u, signaled, car_rtp) = media_call("", "m-nat").await;
    let real = RtpPeer::new().await;
    let three = || (0..3u16).map(|i| (i, 160 * u32::from(i)));
    real.send_all(u.a_relay, 7, &[1; 160], three()).await;
    assert_eq!(car_rtp.drain(Duration::from_millis(300), 3).await.len(), 3);
    // A stranger on another IP sends to the PBX's relay port: not latched, not relayed.
    let stranger = RtpPeer::bind("127.0.0.2:0").await;
    let at_zero = (900..903u16).map(|seq| (seq, 0));
    stranger.send_all(u.a_relay, 666, &[9; 160], at_zero).await;
    assert!(
        car_rtp.hears_nothing(Duration::from_millis(300)).await,
        "stranger's RTP relayed"
    );
    // The carrier's media goes to where the PBX really is.
    car_rtp.send_all(u.b_relay, 8, &[2; 160], three()).await;
    assert_eq!(real.drain(Duration::from_millis(300), 3).await.len(), 3);
    assert!(signaled.hears_nothing(Duration::from_millis(200)).await);
    u.hang_up().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let m = metrics(u.gw.http).await;
    assert_eq!(
        metric_value(
            &m,
            "trunkgate_media_packets_dropped_total{reason=\"source\"}"
        ),
        3.0
    );
    u.gw.gw.shutdown().await;
}

/// The carrier's stream stops (a black-holed peer) while the PBX goes on
/// sending: that leg is dead, and the RTP timeout ends the call. A leg that
/// never sent RTP (one-way by design) does not end it.
#[tokio::test]
async fn a_leg_whose_stream_stops_ends_the_call_while_the_other_still_sends() {
    let (u, pbx_rtp, car_rtp) = media_call("rtp_timeout_s = 1", "m-half-dead").await;
    // 2.5 s of PBX-only media: the carrier never sent, so no leg has stopped.
    let mut seq = 1u16;
    for _ in 0..25 {
        pbx_rtp
            .send(u.a_relay, 0, seq, u32::from(seq) * 160, 5, &[0xff; 160])
            .await;
        seq += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        u.pbx.hears_nothing(Duration::from_millis(10)).await,
        "a call with one-way media was ended"
    );
    // The carrier's stream flows, then stops; the PBX keeps sending.
    car_rtp.send(u.b_relay, 0, 1, 0, 9, &[0x42; 160]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let bye_p = loop {
        assert!(tokio::time::Instant::now() < deadline, "no BYE to the PBX");
        pbx_rtp
            .send(u.a_relay, 0, seq, u32::from(seq) * 160, 5, &[0xff; 160])
            .await;
        seq += 1;
        if let Some((m, _)) = u.pbx.recv_within(Duration::from_millis(100)).await {
            if m.method().map(|x| x.as_str()) == Some("BYE") {
                break m;
            }
        }
    };
    let (bye_c, _) = u.carrier.wait_request("BYE").await;
    u.carrier.ok(u.gw.udp, &bye_c).await;
    u.pbx.ok(u.gw.udp, &bye_p).await;
    let m = metrics(u.gw.http).await;
    assert_eq!(metric_value(&m, "trunkgate_media_rtp_timeouts_total"), 1.0);
    assert_eq!(metric_value(&m, "trunkgate_calls_active"), 0.0);
}

#[tokio::test]
async fn dead_media_hangs_up_both_legs_with_reason_rtp_timeout() {
    let carrier = Ua::new().await;
    let store = temp_dir("media-rtp-timeout");
    let gw = start(&media_config(&carrier, &store, "", "rtp_timeout_s = 1")).await;
    let (u, pbx_rtp, _car_rtp) = call(gw, carrier, "m-dead").await;
    // A little media, then silence: the timeout counts from the last packet.
    pbx_rtp.send(u.a_relay, 0, 1, 0, 5, &[0xff; 160]).await;
    let (bye_c, _) = u.carrier.wait_request("BYE").await;
    let (bye_p, _) = u.pbx.wait_request("BYE").await;
    u.carrier.ok(u.gw.udp, &bye_c).await;
    u.pbx.ok(u.gw.udp, &bye_p).await;
    let m = metrics(u.gw.http).await;
    assert_eq!(metric_value(&m, "trunkgate_media_rtp_timeouts_total"), 1.0);
    u.gw.gw.shutdown().await;
    let r = call_record(&store, "m-dead");
    assert_eq!(r.reason.as_deref(), Some("rtp_timeout"));
    assert_eq!(r.hangup_end.as_deref(), Some("api"));
}

#[tokio::test]
async fn override_plays_the_countrys_ringback_then_the_carriers_media_continues_the_stream() {
    let carrier = Ua::new().await;
    let gw = gateway(&carrier, "override_early_media = \"to_country\"", "").await;
    let (pbx, pbx_rtp, car_rtp) = (Ua::new().await, RtpPeer::new().await, RtpPeer::new().await);
    // A UK number: the caller must hear the UK ringback (400+450 Hz).
    let id = "m-ovr";
    let inv = offer(&gw, &pbx, &carrier, id, "+442079460000", pbx_rtp.addr).await;
    let b_relay = sdp_target(inv.body());
    carrier
        .send(
            gw.udp,
            &reply(
                &inv,
                183,
                "Session Progress",
                Some("car"),
                Some(&format!("sip:c@{}", carrier.addr)),
                &sdp_at(car_rtp.addr, "car"),
            ),
        )
        .await;
    let p183 = pbx.wait_response(183).await;
    let a_relay = sdp_target(p183.body());
    assert!(!String::from_utf8_lossy(p183.body()).contains(&car_rtp.addr.port().to_string()));
    // The carrier's early media (an announcement) must not reach the PBX.
    for i in 0..30u16 {
        car_rtp
            .send(b_relay, 0, 500 + i, 160 * u32::from(i), 0xBAD, &[0x42; 160])
            .await;
    }
    let tone = pbx_rtp.drain(Duration::from_millis(300), 60).await;
    assert!(tone.len() >= 30, "{} tone packets", tone.len());
    assert!(tone
        .iter()
        .all(|p| p.from == a_relay && p.pt == 0 && p.payload.len() == 160));
    assert!(tone
        .iter()
        .all(|p| p.ssrc != 0xBAD && p.payload != vec![0x42; 160]));
    assert!(tone[0].marker, "first tone packet has the marker bit");
    for w in tone.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
        assert_eq!(w[1].ts, w[0].ts.wrapping_add(160));
    }
    // Paced by a timer: 20 ms apart on average, not a burst.
    let span = tone.last().unwrap().at - tone[0].at;
    assert!(
        span >= Duration::from_millis(20 * (tone.len() as u64 - 1) / 2),
        "burst: {span:?}"
    );
    assert_dual_tone(&tone, 400, 400.0, 450.0); // UK cadence starts with 400 ms on

    // Answer: the carrier's media now flows, continuing the tone's stream.
    let last_tone = pbx_rtp
        .drain(Duration::from_millis(30), 10)
        .await
        .last()
        .cloned()
        .unwrap_or(tone.last().unwrap().clone());
    carrier
        .answer_with(gw.udp, &inv, "car", "c", &sdp_at(car_rtp.addr, "car"))
        .await;
    let ok = pbx.wait_response(200).await;
    assert_eq!(sdp_target(ok.body()), a_relay);
    ack(&gw, &pbx, &ok).await;
    let mut last = last_tone;
    let mut after = Vec::new();
    for i in 0..10u16 {
        car_rtp
            .send(
                b_relay,
                0,
                9000 + i,
                80000 + 160 * u32::from(i),
                0xCAFE,
                &[0x11; 160],
            )
            .await;
    }
    for _ in 0..40 {
        let Some(p) = pbx_rtp.recv_within(Duration::from_millis(500)).await else {
            break;
        };
        if p.payload == vec![0x11; 160] {
            after.push(p);
            if after.len() == 10 {
                break;
            }
        } else {
            last = p; // a tone packet still in flight
        }
    }
    assert_eq!(after.len(), 10);
    assert_eq!(after[0].ssrc, last.ssrc, "same SSRC as the tone");
    assert_eq!(after[0].seq, last.seq.wrapping_add(1), "sequence continues");
    assert!(after[0].marker, "marker bit on the switch");
    assert!(
        after[0].ts.wrapping_sub(last.ts) >= 160 && after[0].ts.wrapping_sub(last.ts) < 8000 * 5
    );
    for w in after.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1));
        assert_eq!(w[1].ts, w[0].ts.wrapping_add(160));
        assert!(!w[1].marker);
    }
    gw.gw.shutdown().await;
}

#[tokio::test]
async fn inbound_over_the_limit_hears_a_busy_tone_then_486() {
    let (carrier, pbx) = (Ua::new().await, Ua::new().await);
    let c = carrier.addr;
    let text = Toml::new(&temp_dir("media-busy"))
        .timers("t1_ms = 50\n")
        .inbound_carrier(c, &c.to_string())
        .with(&format!(
            "[[trunks]]\ntrunk_id = \"{IN_TRUNK}\"\ndirection = \"inbound\"\nsimultaneous_call_limit = 1\n[trunks.inbound]\ndestination = \"{}\"\n",
            pbx.addr
        ))
        .number(DID, &format!("Trunks/{IN_TRUNK}"))
        .with(&media_section("busy_tone_s = 1"))
        .text();
    let gw = start(&text).await;
    let car_rtp = RtpPeer::new().await;
    // First call takes the trunk's only slot.
    carrier
        .send_offer(gw.udp, "m-b1", DID, car_rtp.addr, "car")
        .await;
    carrier.expect_response(100).await;
    pbx.expect_request("INVITE").await;
    // Second: 183 with our SDP, the US busy tone (480+620 Hz), then 486.
    let car2 = RtpPeer::new().await;
    carrier
        .send_invite_sdp(gw.udp, "m-b2", DID, "z9hG4bKb2", &sdp_at(car2.addr, "car"))
        .await;
    carrier.expect_response(100).await;
    let p183 = carrier.wait_response(183).await;
    let relay = sdp_target(p183.body());
    let busy = car2.drain(Duration::from_millis(300), 100).await;
    assert!(busy.len() >= 35, "{} busy packets in ~1 s", busy.len());
    assert!(busy.iter().all(|p| p.from == relay));
    let span = busy.last().unwrap().at - busy[0].at;
    assert!(span >= Duration::from_millis(500), "burst: {span:?}");
    assert_dual_tone(&busy, 300, 480.0, 620.0); // US busy: 500 ms on
    let r = carrier.wait_response(486).await;
    assert_eq!(hdr(&r, "Call-ID"), "m-b2");
    gw.gw.shutdown().await;
}

#[tokio::test]
async fn pre_connect_recording_has_each_side_on_its_channel_at_the_right_offset() {
    let carrier = Ua::new().await;
    let store = temp_dir("media-rec");
    let rec_dir = store.join("rec");
    let recordings = format!("recordings_dir = \"{}\"", rec_dir.display());
    let recording = "[trunks.recording]\nsetting = \"pre_connect\"\n";
    let gw = start(&media_config(&carrier, &store, recording, &recordings)).await;
    let (u, pbx_rtp, car_rtp) = call(gw, carrier, "m-rec").await;
    // Caller: 1 kHz for 0.6 s; then the callee: 400 Hz for 0.6 s.
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    for i in 0..30u16 {
        tick.tick().await;
        pbx_rtp
            .send(
                u.a_relay,
                0,
                i,
                160 * u32::from(i),
                0xA,
                &pcmu_sine(1000.0, 160 * u64::from(i)),
            )
            .await;
    }
    for i in 0..30u16 {
        tick.tick().await;
        car_rtp
            .send(
                u.b_relay,
                0,
                3000 + i,
                55_000 + 160 * u32::from(i),
                0xB,
                &pcmu_sine(400.0, 160 * u64::from(i)),
            )
            .await;
    }
    u.hang_up().await;
    u.gw.gw.shutdown().await;
    let rec = call_record(&store, "m-rec")
        .recording
        .expect("recording in the call log");
    assert!(
        rec.duration > 1.0 && rec.duration < 5.0,
        "duration {}",
        rec.duration
    );
    let Wav { spec, left, right } = Wav::finished(&rec.path).await;
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    // Left: 1 kHz in the first 0.5 s, silence from 0.7 s; right: silence first, 400 Hz from 0.7 s.
    assert!(tone(&left, 0.05, 0.5, 1000.0) > 1000.0 * tone(&left, 0.7, 1.1, 1000.0).max(1e-3));
    assert!(tone(&right, 0.7, 1.1, 400.0) > 1000.0 * tone(&right, 0.05, 0.5, 400.0).max(1e-3));
    assert!(tone(&right, 0.7, 1.1, 400.0) > 100.0 * tone(&right, 0.7, 1.1, 1000.0));
}

/// A T.38 re-INVITE body (RFC 3362 / ITU-T T.38 annex D).
fn t38_sdp(at: SocketAddr) -> String {
    let attrs = "a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n";
    sdp_body(at, "car 1 2", "image", "udptl t38", attrs)
}

fn image_port(body: &[u8]) -> u16 {
    sdp_line(body, "m=image ")
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("m=image line")
}

/// The carrier re-INVITEs with `body` and CSeq `cseq`, to the INVITE's Contact.
async fn carrier_reinvite(u: &Up, cseq: u32, body: &str) {
    let mut dialog = UaDialog::answered(&u.inv, "car", &contact_uri(&u.inv), u.carrier.addr);
    dialog.cseq = cseq - 1;
    u.carrier.send(u.gw.udp, &dialog.reinvite(body)).await;
}

#[tokio::test]
async fn a_reinvite_moving_the_latched_carrier_sends_the_audio_to_its_new_address() {
    let (u, pbx_rtp, car_rtp) = media_call("", "m-move").await;
    let three = |from: u16| (from..from + 3).map(|s| (s, 160 * u32::from(s)));
    // Both legs latched: each side's audio reaches the other.
    car_rtp.send_all(u.b_relay, 8, &[2; 160], three(0)).await;
    assert_eq!(pbx_rtp.drain(Duration::from_millis(300), 3).await.len(), 3);
    pbx_rtp.send_all(u.a_relay, 7, &[1; 160], three(0)).await;
    assert_eq!(car_rtp.drain(Duration::from_millis(300), 3).await.len(), 3);
    // The carrier moves its media to another port; the PBX accepts.
    let moved = RtpPeer::new().await;
    carrier_reinvite(&u, 10, &sdp_at(moved.addr, "car")).await;
    let (re, _) = u.pbx.wait_request("INVITE").await;
    let contact = format!("sip:pbx@{}", u.pbx.addr);
    let answer = sdp_at(pbx_rtp.addr, "pbx");
    let ok = reply(&re, 200, "OK", None, Some(&contact), &answer);
    u.pbx.send(u.gw.udp, &ok).await;
    u.carrier.wait_response(200).await;
    // The PBX's audio now goes to the new address, not the latched old one.
    pbx_rtp.send_all(u.a_relay, 7, &[1; 160], three(3)).await;
    assert_eq!(moved.drain(Duration::from_millis(300), 3).await.len(), 3);
    assert!(car_rtp.hears_nothing(Duration::from_millis(200)).await);
    // A stranger on another IP is not relayed to the PBX.
    let stranger = RtpPeer::bind("127.0.0.2:0").await;
    stranger.send_all(u.b_relay, 666, &[9; 160], three(6)).await;
    assert!(
        pbx_rtp.hears_nothing(Duration::from_millis(300)).await,
        "stranger's RTP relayed"
    );
    // The new address is latched by its first packet and heard by the PBX.
    moved.send_all(u.b_relay, 9, &[3; 160], three(9)).await;
    assert_eq!(pbx_rtp.drain(Duration::from_millis(300), 3).await.len(), 3);
    u.hang_up().await;
    u.gw.gw.shutdown().await;
}

#[tokio::test]
async fn t38_reinvite_refused_488_when_fax_is_off_and_relayed_when_on() {
    // Fax off (the default test trunk): 488 to the carrier, the PBX sees nothing, the call goes on.
    let (u, pbx_rtp, car_rtp) = media_call("", "m-fax0").await;
    let car_fax = RtpPeer::new().await;
    carrier_reinvite(&u, 10, &t38_sdp(car_fax.addr)).await;
    u.carrier.wait_response(488).await;
    assert!(
        u.pbx.hears_nothing(Duration::from_millis(300)).await,
        "re-INVITE leaked to the PBX"
    );
    pbx_rtp.send(u.a_relay, 0, 1, 0, 1, &[3; 160]).await;
    assert!(
        car_rtp
            .recv_within(Duration::from_millis(500))
            .await
            .is_some(),
        "audio still relayed"
    );
    u.hang_up().await;
    u.gw.gw.shutdown().await;

    // Fax on: the T.38 offer reaches the PBX pointing at us; UDPTL flows through the relay.
    let carrier = Ua::new().await;
    let text = media_config(&carrier, &temp_dir("store"), "", "")
        .replace("fax_support = \"disabled\"", "fax_support = \"enabled\"");
    let gw = start(&text).await;
    let (pbx_rtp, car_rtp) = (RtpPeer::new().await, RtpPeer::new().await);
    let (pbx_fax, car_fax) = (RtpPeer::new().await, RtpPeer::new().await);
    let u = answered(
        gw,
        Ua::new().await,
        carrier,
        "m-fax1",
        pbx_rtp.addr,
        car_rtp.addr,
    )
    .await;
    carrier_reinvite(&u, 10, &t38_sdp(car_fax.addr)).await;
    let (re, _) = u.pbx.wait_request("INVITE").await;
    let a_fax = image_port(re.body());
    assert_ne!(a_fax, car_fax.addr.port());
    assert!(String::from_utf8_lossy(re.body()).contains("a=T38FaxVersion:0\r\n"));
    u.pbx
        .send(
            u.gw.udp,
            &reply(
                &re,
                200,
                "OK",
                None,
                Some(&format!("sip:pbx@{}", u.pbx.addr)),
                &t38_sdp(pbx_fax.addr),
            ),
        )
        .await;
    let ok = u.carrier.wait_response(200).await;
    let b_fax = image_port(ok.body());
    // UDPTL is not RTP: relayed byte for byte.
    let udptl = [0x00u8, 0x01, 0x02, 0x06, 0x80, 0x11, 0x22];
    car_fax
        .sock
        .send_to(&udptl, SocketAddr::new(u.b_relay.ip(), b_fax))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = tokio::time::timeout(WAIT, pbx_fax.sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], &udptl);
    assert_eq!(from.port(), a_fax);
    u.gw.gw.shutdown().await;
}

#[tokio::test]
async fn exhausted_port_range_refuses_with_503_and_a_metric() {
    let carrier = Ua::new().await;
    // Two pairs: exactly one call (a pair per leg). The range lies above the
    // kernel's ephemeral ports (32768-60999) and outside the default media
    // range, so no other socket of a concurrent test can take a released port.
    let text = config_text(&[(carrier.addr, "udp")], "127.0.0.0/8");
    let gw = start(&format!(
        "{text}\n[media]\nbind_ipv4 = \"127.0.0.1\"\nport_min = 61980\nport_max = 61983\n"
    ))
    .await;
    let (u, pbx_rtp, _car_rtp) = call(gw, carrier, "m-ex1").await;
    let pbx2 = Ua::new().await;
    pbx2.send_offer(u.gw.udp, "m-ex2", DIALED, pbx_rtp.addr, "pbx")
        .await;
    pbx2.expect_response(100).await;
    pbx2.wait_response(503).await;
    let m = metrics(u.gw.http).await;
    assert_eq!(
        metric_value(&m, "trunkgate_media_ports_exhausted_total"),
        1.0
    );
    assert_eq!(
        metric_value(&m, "trunkgate_media_port_pairs_available"),
        0.0,
        "{m}"
    );
    // The first call's ports come back when it ends, and the gauge says so.
    u.hang_up().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = metrics(u.gw.http).await;
        if metric_value(&m, "trunkgate_media_port_pairs_available") == 2.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "port pairs not back in the gauge:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pbx3 = Ua::new().await;
    let inv = offer(&u.gw, &pbx3, &u.carrier, "m-ex3", DIALED, pbx_rtp.addr).await;
    assert!((61980..=61983).contains(&sdp_target(inv.body()).port()));
    u.gw.gw.shutdown().await;
}

/// A reload changes `[media] rtp_timeout_s` for the next call: started with
/// the timeout off, reloaded with 1 s, the next call's dead media hangs it up.
#[tokio::test]
async fn reload_applies_the_rtp_timeout_to_new_calls() {
    let carrier = Ua::new().await;
    let text = media_config(&carrier, &temp_dir("store"), "", "rtp_timeout_s = 0");
    let gw = start(&text).await;
    let reloaded = text.replace("rtp_timeout_s = 0", "rtp_timeout_s = 1");
    gw.gw
        .reload(trunkgate::config::parse_str(&reloaded, "reload.toml").expect("valid"));
    let (u, pbx_rtp, _car_rtp) = call(gw, carrier, "m-reload").await;
    pbx_rtp.send(u.a_relay, 0, 1, 0, 5, &[0xff; 160]).await;
    let (bye_c, _) = u.carrier.wait_request("BYE").await;
    u.carrier.ok(u.gw.udp, &bye_c).await;
    let m = metrics(u.gw.http).await;
    assert_eq!(metric_value(&m, "trunkgate_media_rtp_timeouts_total"), 1.0);
    u.gw.gw.shutdown().await;
}
