//! What media quality tracking costs, quality on vs off in the same run:
//!
//! 1. per packet: [`Quality::rtp`] alone over a long stream (ns per packet);
//! 2. per relayed stream: `QUALITY_BENCH_CALLS` calls (default 150) set up on
//!    the real relay (`MediaSession`, loopback sockets, ports 62000-62999),
//!    each leg sending 50 packets/s of 20 ms PCMU, for `QUALITY_BENCH_SECS`
//!    (default 10) per phase; phases alternate off, on, off, on. The CPU
//!    time of the media threads (`trunkgate-media-*`, from
//!    `/proc/self/task/*/schedstat`, nanoseconds) is divided by the streams
//!    and the phase length. The sender is one thread of this process; it
//!    does the same work in every phase and is not counted.
//!
//! `cargo bench --bench media_quality` measures; under `cargo test` (no
//! `--bench`) it runs one short phase each way as a smoke test. Every loop is
//! bounded by its count and time; the process ends when done.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use trunkgate::media::leg::Leg;
use trunkgate::media::quality::{Quality, QualityOptions};
use trunkgate::media::session::MediaSession;
use trunkgate::media::{Media, MediaMetrics, MediaSettings};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time of the media runtime threads so far, in nanoseconds.
fn media_cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.starts_with("trunkgate-media"))
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// ns per packet, and the figures' JSON (call-log bytes added per call).
fn per_packet_ns(enabled: bool, packets: u64) -> (f64, usize) {
    let mut q = Quality::new(QualityOptions {
        enabled,
        one_way_after: Some(Duration::from_secs(5)),
    });
    let t0 = tokio::time::Instant::now();
    q.answered(t0);
    let mut pkt = [0u8; 172];
    pkt[0] = 0x80;
    let start = Instant::now();
    for i in 0..packets {
        let seq = i as u16;
        pkt[2..4].copy_from_slice(&seq.to_be_bytes());
        pkt[4..8].copy_from_slice(&((i * 160) as u32).to_be_bytes());
        let at = t0 + Duration::from_micros(i * 20_000 + (i * 7919) % 3000);
        let leg = if i % 2 == 0 { Leg::Caller } else { Leg::Callee };
        std::hint::black_box(q.rtp(0, leg, std::hint::black_box(&pkt), None, at));
    }
    let ns = start.elapsed().as_nanos() as f64 / packets as f64;
    let json = q
        .report(t0 + Duration::from_micros(packets * 20_000))
        .and_then(|r| serde_json::to_string(&r).ok())
        .map_or(0, |s| s.len());
    (ns, json)
}

fn sdp(addr: SocketAddr) -> String {
    format!(
        "v=0\r\no=b 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        ip = addr.ip(),
        port = addr.port()
    )
}

/// Where an SDP body says media should go.
fn target(body: &[u8]) -> Option<SocketAddr> {
    let text = String::from_utf8_lossy(body);
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))?
        .split_whitespace()
        .next()?
        .parse::<u16>()
        .ok()?;
    Some(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// One phase: `calls` calls relaying 50 packets/s each way for `secs`.
/// Returns media-thread CPU in % of one core per relayed stream.
fn phase(rt: &tokio::runtime::Runtime, quality: bool, calls: usize, secs: u64) -> f64 {
    let settings = MediaSettings {
        bind_ipv4: "127.0.0.1".parse().expect("ip"),
        port_min: 62000,
        port_max: 62999,
        quality,
        rtp_timeout: None,
        ..MediaSettings::default()
    };
    let media = Media::new(settings, MediaMetrics::default());
    let mut sessions = Vec::new();
    // (socket, where it sends) for every stream.
    let mut senders: Vec<(UdpSocket, SocketAddr)> = Vec::new();
    let _guard = rt.enter();
    for _ in 0..calls {
        let pbx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let car = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let (pa, ca) = (
            pbx.local_addr().expect("addr"),
            car.local_addr().expect("addr"),
        );
        let mut s = MediaSession::new(Arc::clone(&media), Box::new(|_| {}));
        s.set_peer(Leg::Caller, pa);
        s.set_peer(Leg::Callee, ca);
        let to_car = s
            .relay_sdp(Leg::Caller, sdp(pa).as_bytes())
            .expect("offer anchored");
        let to_pbx = s
            .relay_sdp(Leg::Callee, sdp(ca).as_bytes())
            .expect("answer anchored");
        s.answered();
        let (Some(b_side), Some(a_side)) = (target(&to_car), target(&to_pbx)) else {
            panic!("no m= line in the relayed SDP");
        };
        senders.push((pbx, a_side));
        senders.push((car, b_side));
        sessions.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let streams = senders.len();
    let sender = std::thread::spawn(move || {
        let start = Instant::now();
        let ticks = secs * 50;
        let mut pkt = [0xffu8; 172];
        pkt[0] = 0x80;
        for k in 0..ticks {
            let due = start + Duration::from_millis(20 * k);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            pkt[2..4].copy_from_slice(&(k as u16).to_be_bytes());
            pkt[4..8].copy_from_slice(&((k * 160) as u32).to_be_bytes());
            for (i, (sock, to)) in senders.iter().enumerate() {
                pkt[8..12].copy_from_slice(&(i as u32).to_be_bytes());
                let _ = sock.send_to(&pkt, to);
            }
        }
    });
    let cpu0 = media_cpu_ns();
    let t0 = Instant::now();
    let _ = sender.join();
    let cpu = media_cpu_ns().saturating_sub(cpu0) as f64;
    let wall = t0.elapsed().as_nanos() as f64;
    drop(sessions);
    std::thread::sleep(Duration::from_millis(300));
    100.0 * cpu / wall / streams as f64
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (packets, calls, secs, rounds) = if bench {
        (
            env("QUALITY_BENCH_PACKETS", 20_000_000),
            env("QUALITY_BENCH_CALLS", 150) as usize,
            env("QUALITY_BENCH_SECS", 10),
            env("QUALITY_BENCH_ROUNDS", 2),
        )
    } else {
        (100_000, 5, 1, 1)
    };
    let (on, json) = per_packet_ns(true, packets);
    let (off, _) = per_packet_ns(false, packets);
    println!("tracker per packet: on {on:.1} ns, off {off:.1} ns ({packets} packets)");
    println!(
        "per call: tracker state {} bytes (in the media task), live figures {} bytes + strings (heap), `quality` JSON {json} bytes in the call-log record",
        std::mem::size_of::<Quality>(),
        std::mem::size_of::<trunkgate::media::quality::QualityReport>()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (mut sum_off, mut sum_on) = (0.0, 0.0);
    for round in 0..rounds {
        let off = phase(&rt, false, calls, secs);
        let on = phase(&rt, true, calls, secs);
        println!(
            "round {round}: CPU per relayed stream (% of a core): quality off {off:.4}, on {on:.4}, on/off {:.3}",
            on / off
        );
        sum_off += off;
        sum_on += on;
    }
    println!(
        "mean over {rounds} rounds, {} streams, {secs} s each: off {:.4} %, on {:.4} %, on/off {:.3}",
        calls * 2,
        sum_off / rounds as f64,
        sum_on / rounds as f64,
        sum_on / sum_off
    );
}
