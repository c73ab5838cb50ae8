//! Media load for `benches/srtp-vs-rtpengine.sh`: N calls through a SIP target
//! (trunkgate, or Kamailio + rtpengine), each with 50 pkt/s of PCMU both ways
//! for a fixed window, while the CPU of the relay process(es) is read from
//! `/proc/<pid>/stat`. This program plays both ends on loopback: the PBX
//! (UAC; `--srtp`: `RTP/SAVP` with an `a=crypto` key, SRTP from this crate's
//! own contexts) and the carrier (UAS on `--uas`, plain `RTP/AVP`).
//!
//! ```text
//! srtp_load --target 127.0.0.1:5080 --uas 127.0.0.1:5091 --calls 200 \
//!           --window 20 [--srtp] [--watch-pid PID]... [--label NAME]
//! ```
//! Prints one line: `label=… calls=N streams=2N cpu_pct=… cpu_pct_per_stream=…
//! rx_pps=… expected_pps=… bad=…` (bad: failed authentication, or not the
//! clear audio that was sent; a stream = one direction of one call:
//! 50 pkt/s into the relay and 50 out). Bounded: 5 s per call set-up, the
//! window, then it exits; the target is stopped by the script.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::net::UdpSocket;
use trunkgate::media::srtp::{parse_crypto, Crypto, EndCrypto, KeyMaterial, LegKeys, Suite};

const DIALED: &str = "+14155550100";

struct Args {
    target: SocketAddr,
    uas: SocketAddr,
    calls: usize,
    window: u64,
    srtp: bool,
    pids: Vec<u32>,
    label: String,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        target: "127.0.0.1:5080".parse().map_err(|e| format!("{e}"))?,
        uas: "127.0.0.1:5091".parse().map_err(|e| format!("{e}"))?,
        calls: 100,
        window: 20,
        srtp: false,
        pids: Vec::new(),
        label: "run".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--target" => a.target = v()?.parse().map_err(|e| format!("--target: {e}"))?,
            "--uas" => a.uas = v()?.parse().map_err(|e| format!("--uas: {e}"))?,
            "--calls" => a.calls = v()?.parse().map_err(|e| format!("--calls: {e}"))?,
            "--window" => a.window = v()?.parse().map_err(|e| format!("--window: {e}"))?,
            "--watch-pid" => a
                .pids
                .push(v()?.parse().map_err(|e| format!("--watch-pid: {e}"))?),
            "--label" => a.label = v()?,
            "--srtp" => a.srtp = true,
            "--bench" => {} // cargo passes it to harness-less targets
            _ => return Err(format!("unknown argument {k}")),
        }
    }
    if !(1..=2000).contains(&a.calls) || !(1..=600).contains(&a.window) {
        return Err("--calls 1..=2000, --window 1..=600".into());
    }
    Ok(a)
}

/// utime + stime of `pid` in clock ticks (USER_HZ = 100 on Linux).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn offer(rtp: SocketAddr, key: Option<&Crypto>) -> String {
    let (proto, line) = match key {
        Some(c) => ("RTP/SAVP", format!("a=crypto:{}\r\n", c.line())),
        None => ("RTP/AVP", String::new()),
    };
    format!(
        "v=0\r\no=pbx 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n{line}",
        ip = rtp.ip(),
        port = rtp.port()
    )
}

/// The carrier: answers each INVITE with the next media socket of the pool and
/// reports where the relay wants that socket's media.
async fn carrier(
    sock: UdpSocket,
    media: Vec<SocketAddr>,
    tx: tokio::sync::mpsc::Sender<SocketAddr>,
) {
    let mut next = 0;
    loop {
        let Some((m, from)) = recv_any(&sock).await else {
            continue;
        };
        match m.method().map(|m| m.as_str().to_string()).as_deref() {
            Some("INVITE") if next < media.len() => {
                // The carrier leg must be plain RTP: the relay bridges, it does not pass SRTP on.
                let body = String::from_utf8_lossy(m.body());
                if body.contains("a=crypto") || !body.contains(" RTP/AVP ") {
                    eprintln!("srtp_load: the carrier was offered SRTP, not RTP/AVP:\n{body}");
                    std::process::exit(1);
                }
                let me = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
                let ans = offer(media[next], None).replace("o=pbx", "o=car");
                let out = reply(
                    &m,
                    200,
                    "OK",
                    Some(&format!("c{next}")),
                    Some(&format!("sip:c@{me}")),
                    &ans,
                );
                let _ = sock.send_to(out.as_bytes(), from).await;
                let _ = tx.send(sdp_target(m.body())).await;
                next += 1;
            }
            Some("BYE") => {
                let _ = sock
                    .send_to(reply(&m, 200, "OK", None, None, "").as_bytes(), from)
                    .await;
            }
            _ => {}
        }
    }
}

async fn recv_any(sock: &UdpSocket) -> Option<(trunkgate::sip::Message, SocketAddr)> {
    let mut buf = vec![0u8; 65536];
    let (n, from) = sock.recv_from(&mut buf).await.ok()?;
    let m = trunkgate::sip::Message::parse(
        bytes::Bytes::copy_from_slice(&buf[..n]),
        &Default::default(),
    )
    .ok()?;
    Some((m, from))
}

struct Call {
    pbx: Arc<UdpSocket>,
    car: Arc<UdpSocket>,
    to_a: SocketAddr,
    to_b: SocketAddr,
    tx: Option<EndCrypto>,
}

async fn setup(
    a: &Args,
    uac: &UdpSocket,
    i: usize,
    car: Arc<UdpSocket>,
    rx_b: &mut tokio::sync::mpsc::Receiver<SocketAddr>,
    stats: &Arc<Stats>,
) -> Option<Call> {
    let pbx = Arc::new(UdpSocket::bind("127.0.0.1:0").await.ok()?);
    let me = uac.local_addr().ok()?;
    let key = a
        .srtp
        .then(|| {
            KeyMaterial::generate(Suite::AesCm128HmacSha1_80).map(|key| Crypto { tag: 1, key })
        })
        .flatten();
    let id = format!("load-{i}-{}", std::process::id());
    let inv = invite_sdp(
        me,
        a.target,
        "UDP",
        &id,
        DIALED,
        &format!("z9hG4bK{id}"),
        &offer(pbx.local_addr().ok()?, key.as_ref()),
    );
    uac.send_to(inv.as_bytes(), a.target).await.ok()?;
    let ok = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let (m, _) = recv_any(uac).await?;
            match m.code() {
                Some(200) if hdr(&m, "Call-ID") == id => return Some(m),
                Some(c) if c >= 300 => return None,
                _ => {}
            }
        }
    })
    .await
    .ok()??;
    let to_b = tokio::time::timeout(Duration::from_secs(5), rx_b.recv())
        .await
        .ok()??;
    let (c, f, t) = (contact_uri(&ok), hdr(&ok, "From"), hdr(&ok, "To"));
    let mut ack = in_dialog(
        "ACK",
        &c,
        me,
        "UDP",
        &f,
        &t,
        &id,
        1,
        &format!("z9hG4bKa{id}"),
        "",
    );
    let rr = hdr(&ok, "Record-Route");
    if !rr.is_empty() {
        ack = ack.replacen("Max-Forwards:", &format!("Route: {rr}\r\nMax-Forwards:"), 1);
    }
    uac.send_to(ack.as_bytes(), a.target).await.ok()?;
    let to_a = sdp_target(ok.body());
    let (tx, rx) = match key {
        Some(ours) => {
            let text = String::from_utf8_lossy(ok.body()).into_owned();
            let theirs = text
                .lines()
                .filter_map(|l| l.strip_prefix("a=crypto:"))
                .find_map(parse_crypto)?;
            let keys = LegKeys {
                rx: theirs.key,
                tx: ours.key,
            };
            (EndCrypto::new(keys.clone()), EndCrypto::new(keys))
        }
        None => (None, None),
    };
    spawn_rx(Arc::clone(&pbx), rx, Arc::clone(stats));
    spawn_rx(Arc::clone(&car), None, Arc::clone(stats));
    Some(Call {
        pbx,
        car,
        to_a,
        to_b,
        tx,
    })
}

#[derive(Default)]
struct Stats {
    rx: AtomicU64,
    /// Packets that failed SRTP authentication or were not the clear audio sent.
    bad: AtomicU64,
}

fn spawn_rx(sock: Arc<UdpSocket>, mut crypto: Option<EndCrypto>, stats: Arc<Stats>) {
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = sock.recv_from(&mut buf).await {
            // Both ends send 160 bytes of 0xd5 (PCMA silence): anything else
            // here (e.g. ciphertext passed through) is counted as bad.
            let n = match crypto.as_mut() {
                Some(c) => c.unprotect(&mut buf[..n], false),
                None => Some(n),
            };
            if n.is_none_or(|n| n != 172 || buf[12..172].iter().any(|&b| b != 0xd5)) {
                stats.bad.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            stats.rx.fetch_add(1, Ordering::Relaxed);
        }
    });
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("srtp_load: {e}");
            std::process::exit(2);
        }
    };
    let uac = UdpSocket::bind("127.0.0.1:0").await.expect("uac socket");
    let uas = UdpSocket::bind(a.uas)
        .await
        .expect("uas socket (--uas address in use?)");
    let mut cars = Vec::with_capacity(a.calls);
    for _ in 0..a.calls {
        cars.push(Arc::new(
            UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("carrier media socket"),
        ));
    }
    let (btx, mut brx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(carrier(
        uas,
        cars.iter().filter_map(|c| c.local_addr().ok()).collect(),
        btx,
    ));
    let stats = Arc::new(Stats::default());
    let mut calls = Vec::with_capacity(a.calls);
    for (i, car) in cars.iter().enumerate() {
        match setup(&a, &uac, i, Arc::clone(car), &mut brx, &stats).await {
            Some(c) => calls.push(c),
            None => {
                eprintln!("srtp_load: call {i} failed to set up");
                std::process::exit(1);
            }
        }
    }
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let warmup = 100u64; // 2 s before the window
    let total = warmup + a.window * 50;
    let mut t0 = None;
    let mut rx0 = 0;
    for n in 0..total {
        tick.tick().await;
        if n == warmup {
            t0 = Some((
                std::time::Instant::now(),
                a.pids.iter().filter_map(|&p| cpu_ticks(p)).sum::<u64>(),
            ));
            rx0 = stats.rx.load(Ordering::Relaxed);
        }
        let seq = n as u16;
        for (i, c) in calls.iter_mut().enumerate() {
            let clear = rtp(seq, 0x1000 + i as u32);
            let out = match c.tx.as_mut() {
                Some(e) => e
                    .protect(&clear, false)
                    .map(|b| b.to_vec())
                    .unwrap_or_default(),
                None => clear.clone(),
            };
            let _ = c.pbx.try_send_to(&out, c.to_a);
            let mut back = clear;
            back[8..12].copy_from_slice(&(0x8000 + i as u32).to_be_bytes());
            let _ = c.car.try_send_to(&back, c.to_b);
        }
    }
    let Some((start, ticks0)) = t0 else { return };
    let secs = start.elapsed().as_secs_f64();
    let ticks1: u64 = a.pids.iter().filter_map(|&p| cpu_ticks(p)).sum();
    let cpu_pct = (ticks1.saturating_sub(ticks0)) as f64 / secs; // ticks/s = % of a core
    let streams = 2 * calls.len();
    let rx = stats.rx.load(Ordering::Relaxed) - rx0;
    println!(
        "label={} calls={} streams={streams} window_s={secs:.1} cpu_pct={cpu_pct:.2} cpu_pct_per_stream={:.4} rx_pps={:.0} expected_pps={} bad={}",
        a.label,
        calls.len(),
        cpu_pct / streams as f64,
        rx as f64 / secs,
        streams * 50,
        stats.bad.load(Ordering::Relaxed)
    );
}
