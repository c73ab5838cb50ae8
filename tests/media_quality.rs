//! Media quality through the running gateway over real loopback sockets:
//! in-process RTP peers play the PBX and the carrier, and the figures are
//! read where an operator reads them — the call log
//! (`GET /v1/History/Logs/Calls/{call_id}`), `GET /v1/LiveCalls`, `/metrics`
//! and the gateway's log. Each call lasts a few seconds.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU16;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::Value;

const KEY: &str = "quality-test-key-7d1f";
const PCMU: [u8; 160] = [0xff; 160];

/// A media port range of its own for each gateway of this binary (62000-62999).
fn media_section(extra: &str) -> String {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    media_section_in(&NEXT, 62000, 100, 10, extra)
}

async fn gateway(carrier: &Ua, media: &str) -> Gw {
    let text = config_text(&[(carrier.addr, "udp")], "127.0.0.0/8");
    let api = format!(
        "\n[api]\nkey_hashes = [\"{}\"]\n",
        trunkgate::api::auth::key_hash_string(KEY)
    );
    start(&format!("{text}{api}{}", media_section(media))).await
}

type Up = MediaCall;

/// PBX -> gateway -> `carrier`, answered, media at `pbx_media` and `car_media`.
async fn answered_with(
    gw: Gw,
    carrier: Ua,
    id: &str,
    pbx_media: SocketAddr,
    car_media: SocketAddr,
) -> Up {
    let pbx = Ua::new().await;
    pbx.send_offer(gw.udp, id, DIALED, pbx_media, "pbx").await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    MediaCall::answer(gw, pbx, carrier, inv, id, car_media).await
}

/// A gateway with `media` lines in its `[media]`, and a call through it
/// answered with a fresh RTP peer on each side: the call, the PBX's peer, the
/// carrier's.
async fn quality_call(media: &str, id: &str) -> (Up, RtpPeer, RtpPeer) {
    let carrier = Ua::new().await;
    let gw = gateway(&carrier, media).await;
    let (pbx_rtp, car_rtp) = (RtpPeer::new().await, RtpPeer::new().await);
    let u = answered_with(gw, carrier, id, pbx_rtp.addr, car_rtp.addr).await;
    (u, pbx_rtp, car_rtp)
}

async fn bye(u: &Up) {
    u.hang_up().await;
}

async fn api_get(gw: &Gw, path: &str) -> (u16, Value) {
    let r = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("client")
        .get(format!("http://{}{path}", gw.http))
        .header("X-API-Key", KEY)
        .send()
        .await
        .expect("http request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The call's record as `GET /v1/History/Logs/Calls/{call_id}` returns it
/// (written off the call path: polled, at most 5 s).
async fn call_log(gw: &Gw, id: &str) -> Value {
    for _ in 0..100 {
        let (s, v) = api_get(gw, &format!("/v1/History/Logs/Calls/{id}")).await;
        if s == 200 {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("call {id} not logged within 5 s");
}

/// The quality object of a finished call, after a BYE from the PBX (sent
/// once the last packets had time to cross loopback).
async fn quality_after_bye(u: &Up) -> Value {
    tokio::time::sleep(Duration::from_millis(100)).await;
    bye(u).await;
    let rec = call_log(&u.gw, &u.id).await;
    let q = rec["quality"].clone();
    assert!(q.is_object(), "no quality object in {rec:#}");
    q
}

/// Sends packets `seqs` (extended sequence numbers: the low 16 bits go on
/// the wire, timestamps follow them at 160 per packet) in order, 20 ms
/// apart, as 20 ms PCMU packets of `ssrc`.
async fn send_seqs(peer: &RtpPeer, to: SocketAddr, ssrc: u32, seqs: &[u32]) {
    let start = tokio::time::Instant::now();
    for (i, &s) in seqs.iter().enumerate() {
        tokio::time::sleep_until(start + Duration::from_millis(20 * i as u64)).await;
        peer.send(to, 0, s as u16, s.wrapping_mul(160), ssrc, &PCMU)
            .await;
    }
}

/// The value of series `name` of the demo trunk in direction `dir`.
fn trunk_series(metrics: &str, name: &str, dir: &str) -> f64 {
    let labels = format!("{{trunk=\"{DEMO_TRUNK}\",direction=\"{dir}\"}}");
    metric_value(metrics, &format!("{name}{labels}"))
}

/// The value of series `name` of the carrier `carrier0` in direction `dir`.
fn carrier_series(metrics: &str, name: &str, dir: &str) -> f64 {
    let labels = format!("{{carrier=\"carrier0\",direction=\"{dir}\"}}");
    metric_value(metrics, &format!("{name}{labels}"))
}

/// How many calls of the demo trunk were flagged one-way caller to callee.
async fn one_way_caller_to_callee(gw: &Gw) -> f64 {
    let m = metrics(gw.http).await;
    trunk_series(
        &m,
        "trunkgate_calls_one_way_audio_total",
        "caller_to_callee",
    )
}

fn num(v: &Value, path: &str) -> f64 {
    let mut cur = v;
    for k in path.split('.') {
        cur = &cur[k];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v:#}"))
}

/// A deterministic pseudo-random sequence (LCG), for drops and delays.
struct Lcg(u64);

impl Lcg {
    fn next_unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[tokio::test]
async fn a_clean_call_scores_mos_4_3_or_better_both_ways() {
    let (u, pbx_rtp, car_rtp) = quality_call("", "q-clean").await;
    let seqs: Vec<u32> = (1000..1100).collect();
    // Across the sequence-number wrap.
    let back: Vec<u32> = (65500..65600).collect();
    tokio::join!(
        send_seqs(&pbx_rtp, u.a_relay, 0x1111, &seqs),
        send_seqs(&car_rtp, u.b_relay, 0x2222, &back),
    );
    let q = quality_after_bye(&u).await;
    for dir in ["caller_to_callee", "callee_to_caller"] {
        let d = &q[dir];
        assert_eq!(num(d, "packets_received"), 100.0, "{dir}: {q:#}");
        assert_eq!(num(d, "packets_expected"), 100.0, "{dir}: {q:#}");
        assert_eq!(num(d, "packets_lost"), 0.0, "{dir}");
        assert_eq!(d["codec"], "PCMU");
        assert_eq!(num(d, "clock_rate"), 8000.0);
        assert!(num(d, "mos") >= 4.3, "{dir}: {q:#}");
    }
    assert!(num(&q, "mos_min") >= 4.3, "{q:#}");
    assert!(q["one_way_audio"].is_null());
    let m = metrics(u.gw.http).await;
    for dir in ["caller_to_callee", "callee_to_caller"] {
        let of_trunk = |name: &str| trunk_series(&m, name, dir);
        assert_eq!(of_trunk("trunkgate_media_rtp_received_total"), 100.0);
        assert_eq!(of_trunk("trunkgate_media_mos_count"), 1.0);
        let of_carrier = |name: &str| carrier_series(&m, name, dir);
        assert_eq!(of_carrier("trunkgate_carrier_media_mos_count"), 1.0);
    }
    u.gw.gw.shutdown().await;
}

#[tokio::test]
async fn five_percent_loss_one_way_shows_in_that_direction_only() {
    let (u, pbx_rtp, car_rtp) = quality_call("", "q-loss").await;
    // 150 packets; the PBX drops 5 % at random (never the first or last).
    let mut rng = Lcg(17);
    let sent: Vec<u32> = (0..150u32)
        .filter(|s| *s == 0 || *s == 149 || rng.next_unit() >= 0.05)
        .collect();
    let dropped = 150 - sent.len();
    assert!((4..=11).contains(&dropped), "{dropped} dropped");
    let back: Vec<u32> = (500..650).collect();
    tokio::join!(
        send_seqs(&pbx_rtp, u.a_relay, 0x3333, &sent),
        send_seqs(&car_rtp, u.b_relay, 0x4444, &back),
    );
    let q = quality_after_bye(&u).await;
    let (lossy, clean) = (&q["caller_to_callee"], &q["callee_to_caller"]);
    assert_eq!(num(lossy, "packets_expected"), 150.0, "{q:#}");
    assert_eq!(num(lossy, "packets_lost"), dropped as f64, "{q:#}");
    let pct = dropped as f64 * 100.0 / 150.0;
    assert!((num(lossy, "loss_pct") - pct).abs() < 0.01, "{q:#}");
    assert_eq!(num(clean, "packets_lost"), 0.0, "{q:#}");
    assert!(num(clean, "mos") >= 4.3, "{q:#}");
    assert!(
        num(lossy, "mos") < num(clean, "mos") - 0.3,
        "loss must lower the MOS of its direction: {q:#}"
    );
    assert!(num(lossy, "max_loss_burst") >= 1.0);
    assert_eq!(num(&q, "mos_min"), num(lossy, "mos"), "{q:#}");
    let m = metrics(u.gw.http).await;
    assert_eq!(
        trunk_series(&m, "trunkgate_media_rtp_lost_total", "caller_to_callee"),
        dropped as f64
    );
    u.gw.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_ms_of_jitter_matches_the_rfc_3550_figure() {
    let (u, pbx_rtp, _car_rtp) = quality_call("", "q-jitter").await;
    // 150 packets due every 20 ms, each sent 0-40 ms late (uniform); sent in
    // the order they fall due, so some overtake others.
    let mut rng = Lcg(4242);
    let mut plan: Vec<(u64, u16)> = (0..150u16)
        .map(|s| {
            (
                u64::from(s) * 20_000 + (rng.next_unit() * 40_000.0) as u64,
                s,
            )
        })
        .collect();
    plan.sort_unstable();
    let start = tokio::time::Instant::now();
    let mut sent_at = Vec::with_capacity(plan.len());
    for (at_us, s) in &plan {
        tokio::time::sleep_until(start + Duration::from_micros(*at_us)).await;
        let t = std::time::Instant::now();
        pbx_rtp
            .send(u.a_relay, 0, *s, u32::from(*s) * 160, 0x5555, &PCMU)
            .await;
        sent_at.push((t, *s));
    }
    // RFC 3550 §6.4.1 over the packets in the order they left:
    // D = (Rj - Ri) - (Sj - Si), J += (|D| - J) / 16.
    let mut j = 0f64;
    for w in sent_at.windows(2) {
        let ((ti, si), (tj, sj)) = (w[0], w[1]);
        let arrival = tj.duration_since(ti).as_secs_f64() * 1000.0;
        let stamp = (f64::from(sj) - f64::from(si)) * 20.0;
        j += ((arrival - stamp).abs() - j) / 16.0;
    }
    assert!(j > 5.0, "injected jitter too small to test: {j} ms");
    let q = quality_after_bye(&u).await;
    let got = num(&q["caller_to_callee"], "jitter_ms");
    assert!(
        (got - j).abs() <= 0.2 * j,
        "gateway jitter {got} ms vs the test's RFC 3550 figure {j} ms: {q:#}"
    );
    assert_eq!(
        num(&q["caller_to_callee"], "jitter_ts"),
        (got * 8.0).floor(),
        "{q:#}"
    );
    // Late packets are reordered, not lost.
    assert_eq!(num(&q["caller_to_callee"], "packets_lost"), 0.0, "{q:#}");
    u.gw.gw.shutdown().await;
}

#[tokio::test]
async fn reordered_and_duplicated_packets_are_not_counted_as_loss() {
    let (u, pbx_rtp, _car_rtp) = quality_call("", "q-reorder").await;
    // 0..60 with every 10th pair swapped (6 late) and every 15th sent twice (4 duplicates).
    let mut seqs: Vec<u32> = (0..60).collect();
    for k in (5..60).step_by(10) {
        seqs.swap(k, k + 1);
    }
    let mut with_dups = Vec::new();
    for s in seqs {
        with_dups.push(s);
        if s % 15 == 7 {
            with_dups.push(s);
        }
    }
    send_seqs(&pbx_rtp, u.a_relay, 0x6666, &with_dups).await;
    let q = quality_after_bye(&u).await;
    let d = &q["caller_to_callee"];
    assert_eq!(num(d, "packets_expected"), 60.0, "{q:#}");
    assert_eq!(num(d, "packets_received"), 60.0, "{q:#}");
    assert_eq!(num(d, "packets_lost"), 0.0, "{q:#}");
    assert_eq!(num(d, "loss_pct"), 0.0, "{q:#}");
    assert_eq!(num(d, "duplicates"), 4.0, "{q:#}");
    assert_eq!(num(d, "out_of_order"), 6.0, "{q:#}");
    assert_eq!(num(d, "max_loss_burst"), 0.0, "{q:#}");
    u.gw.gw.shutdown().await;
}

/// A `tracing` writer into a shared buffer (the gateway's log as an operator reads it).
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuf {
    fn lines_with(&self, needle: &str) -> Vec<String> {
        let text = self
            .0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        text.lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_that_never_sends_is_flagged_one_way_within_6_s_and_logged() {
    let log = LogBuf::default();
    let writer = log.clone();
    let _ = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let (u, pbx_rtp, _car_rtp) = quality_call("", "q-oneway").await;
    let answered_at = tokio::time::Instant::now();
    // The PBX talks, the carrier never sends a packet. Every 200 ms the live
    // call list is read; the flag must be there within 6 s of the answer.
    let mut flagged_after = None;
    let mut seq = 0u16;
    while answered_at.elapsed() < Duration::from_secs(7) {
        for _ in 0..10 {
            pbx_rtp
                .send(u.a_relay, 0, seq, u32::from(seq) * 160, 0x7777, &PCMU)
                .await;
            seq += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (s, live) = api_get(&u.gw, "/v1/LiveCalls").await;
        assert_eq!(s, 200);
        let call = live["calls"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["call_id"] == "q-oneway"))
            .cloned()
            .unwrap_or(Value::Null);
        if call["quality"]["one_way_audio"] == "caller_to_callee" {
            assert_eq!(call["quality"]["one_way_cause"], "no_rtp", "{call:#}");
            assert!(num(&call["quality"], "caller_to_callee.packets_received") > 0.0);
            flagged_after = Some(answered_at.elapsed());
            break;
        }
    }
    let after = flagged_after.expect("one-way audio not shown in /v1/LiveCalls within 7 s");
    assert!(
        after <= Duration::from_secs(6),
        "flagged only after {after:?}"
    );
    assert_eq!(one_way_caller_to_callee(&u.gw).await, 1.0);
    // More audio one way: still one flag, one log line.
    send_seqs(
        &pbx_rtp,
        u.a_relay,
        0x7777,
        &(u32::from(seq)..u32::from(seq) + 25).collect::<Vec<_>>(),
    )
    .await;
    let q = quality_after_bye(&u).await;
    assert_eq!(q["one_way_audio"], "caller_to_callee", "{q:#}");
    assert_eq!(q["one_way_cause"], "no_rtp");
    assert_eq!(num(&q["callee_to_caller"], "packets_received"), 0.0);
    assert!(q["callee_to_caller"]["mos"].is_null());
    assert!(
        num(&q["callee_to_caller"], "max_silence_ms") >= 5000.0,
        "{q:#}"
    );
    let lines: Vec<String> = log
        .lines_with("one-way audio")
        .into_iter()
        .filter(|l| l.contains("q-oneway"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("caller_to_callee") && lines[0].contains(DEMO_TRUNK),
        "{}",
        lines[0]
    );
    assert_eq!(one_way_caller_to_callee(&u.gw).await, 1.0);
    u.gw.gw.shutdown().await;
}

#[tokio::test]
async fn a_callee_behind_a_broken_nat_is_counted_as_a_latching_failure() {
    let (u, pbx_rtp, _car_rtp) = quality_call("one_way_after_s = 1", "q-latch").await;
    // The carrier's media comes from another IP than its SDP names: dropped.
    let stray = RtpPeer::bind("127.0.0.2:0").await;
    let seqs: Vec<u32> = (0..75).collect();
    tokio::join!(
        send_seqs(&pbx_rtp, u.a_relay, 0x8888, &seqs),
        send_seqs(&stray, u.b_relay, 0x9999, &seqs),
    );
    let q = quality_after_bye(&u).await;
    assert_eq!(q["one_way_audio"], "caller_to_callee", "{q:#}");
    assert_eq!(q["one_way_cause"], "latching", "{q:#}");
    assert_eq!(num(&q["callee_to_caller"], "latch_failures"), 75.0, "{q:#}");
    assert_eq!(num(&q["callee_to_caller"], "packets_received"), 0.0);
    let m = metrics(u.gw.http).await;
    let of_trunk = |name: &str| trunk_series(&m, name, "caller_to_callee");
    assert_eq!(of_trunk("trunkgate_calls_latch_failures_total"), 1.0);
    assert_eq!(of_trunk("trunkgate_calls_one_way_audio_total"), 0.0);
    u.gw.gw.shutdown().await;
}

/// An RTP socket and an RTCP socket on the next port (RFC 3550 §11), retried
/// while another socket holds that port.
async fn rtp_pair() -> (RtpPeer, RtpPeer) {
    for _ in 0..50 {
        let rtp = RtpPeer::new().await;
        if let Ok(rtcp) =
            tokio::net::UdpSocket::bind(("127.0.0.1", rtp.addr.port().wrapping_add(1))).await
        {
            let addr = rtcp.local_addr().expect("addr");
            return (rtp, RtpPeer { sock: rtcp, addr });
        }
    }
    panic!("no free RTP/RTCP port pair in 50 tries");
}

/// An RR about `about` (25 % lost, 12 cumulative, jitter 160 = 20 ms at
/// 8 kHz) followed by an XR VoIP Metrics block, as one compound packet.
fn rr_with_xr(about: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7, 0, 0, 0, 0x42];
    p.extend_from_slice(&about.to_be_bytes());
    p.extend_from_slice(&[
        64, 0, 0, 12, 0, 0, 0, 99, 0, 0, 0, 160, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    p.extend_from_slice(&[0x80, 207, 0, 10, 0, 0, 0, 0x42]);
    p.extend_from_slice(&[7, 0, 0, 8]);
    p.extend_from_slice(&about.to_be_bytes());
    p.extend_from_slice(&[26, 5, 0, 0, 0, 0, 0, 0]);
    p.extend_from_slice(&[0, 80, 0, 30]); // round trip 80 ms, end system delay 30 ms
    p.extend_from_slice(&[0, 0, 0, 0, 80, 127, 38, 37, 0, 0, 0, 0, 0, 0, 0, 0]);
    p
}

#[tokio::test]
async fn endpoint_rtcp_reports_are_kept_beside_the_gateways_figures() {
    let carrier = Ua::new().await;
    let gw = gateway(&carrier, "").await;
    let (pbx_rtp, pbx_rtcp) = rtp_pair().await;
    let (car_rtp, car_rtcp) = rtp_pair().await;
    let u = answered_with(gw, carrier, "q-rtcp", pbx_rtp.addr, car_rtp.addr).await;
    let seqs: Vec<u32> = (0..40).collect();
    tokio::join!(
        send_seqs(&pbx_rtp, u.a_relay, 0xABCD, &seqs),
        send_seqs(&car_rtp, u.b_relay, 0xDCBA, &seqs),
    );
    // The carrier reports on the PBX's stream it receives, to our RTCP port.
    let rtcp_port = SocketAddr::new(u.b_relay.ip(), u.b_relay.port() + 1);
    car_rtcp
        .sock
        .send_to(&rr_with_xr(0xABCD), rtcp_port)
        .await
        .expect("rtcp");
    // It still reaches the PBX untouched, on the PBX's RTCP port.
    let mut buf = [0u8; 512];
    let (n, _) = tokio::time::timeout(WAIT, pbx_rtcp.sock.recv_from(&mut buf))
        .await
        .expect("RTCP relayed to the PBX")
        .expect("recv");
    assert_eq!(&buf[..n], &rr_with_xr(0xABCD)[..]);
    let q = quality_after_bye(&u).await;
    let r = &q["caller_to_callee"]["endpoint_report"];
    assert_eq!(num(r, "reports"), 1.0, "{q:#}");
    assert_eq!(num(r, "fraction_lost_pct"), 25.0, "{q:#}");
    assert_eq!(num(r, "cumulative_lost"), 12.0);
    assert_eq!(num(r, "jitter_ms"), 20.0);
    assert_eq!(num(r, "xr.round_trip_ms"), 80.0, "{q:#}");
    assert_eq!(num(r, "xr.end_system_delay_ms"), 30.0);
    assert_eq!(num(r, "xr.r_factor"), 80.0);
    assert_eq!(num(r, "xr.mos_lq"), 3.8);
    assert_eq!(num(r, "xr.loss_rate_pct"), 10.16);
    // The gateway's own figures for that direction are there too, and the
    // other direction has no endpoint report (the PBX sent no RTCP).
    assert_eq!(num(&q["caller_to_callee"], "packets_received"), 40.0);
    assert!(q["callee_to_caller"]["endpoint_report"].is_null(), "{q:#}");
    u.gw.gw.shutdown().await;
}

#[tokio::test]
async fn quality_off_measures_nothing() {
    let (u, pbx_rtp, car_rtp) = quality_call("quality = false", "q-off").await;
    let seqs: Vec<u32> = (0..60).collect();
    send_seqs(&pbx_rtp, u.a_relay, 0x1234, &seqs).await;
    let (_, live) = api_get(&u.gw, "/v1/LiveCalls").await;
    let call = live["calls"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["call_id"] == "q-off"))
        .cloned()
        .expect("call listed");
    assert!(call["quality"].is_null(), "{call:#}");
    bye(&u).await;
    let rec = call_log(&u.gw, "q-off").await;
    assert!(rec["quality"].is_null(), "{rec:#}");
    assert_eq!(rec["status"], "completed");
    // The media itself still flowed.
    assert!(!car_rtp
        .drain(Duration::from_millis(200), 60)
        .await
        .is_empty());
    u.gw.gw.shutdown().await;
}
