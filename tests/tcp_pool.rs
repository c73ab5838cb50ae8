//! Issue 15 item 2, the attack: an untrusted source (127.0.0.2) opens more SIP TCP
//! connections than the pool holds and keeps them silent. The gateway keeps
//! `[sip] tcp_reserved_trusted` slots for carriers, trunk CIDRs and Twilio ranges, so
//! the trusted PBX (127.0.0.1, the trunk's CIDR) still connects and its call is carried;
//! the silent untrusted connections are closed after `tcp_untrusted_timeout_s`, while
//! the PBX's idle connection stays open and usable.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

const MAX: usize = 24;
const RESERVED: usize = 8;

async fn connect_from(src: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().expect("socket");
    s.bind(format!("{src}:0").parse().expect("addr"))
        .expect("bind 127.0.0.2");
    tokio::time::timeout(WAIT, s.connect(to))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// True when the gateway closed `s` (EOF or reset) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut b = [0u8; 64];
    matches!(
        tokio::time::timeout(within, s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

async fn wait_metric(http: SocketAddr, series: &str, at_least: f64) -> f64 {
    let mut v = 0.0;
    for _ in 0..100 {
        v = metric_value(&metrics(http).await, series);
        if v >= at_least {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_sources_cannot_lock_the_trusted_pbx_out_of_the_tcp_pool() {
    let carrier = Ua::new().await;
    let text = config_text(&[(carrier.addr, "udp")], "127.0.0.1/32").replace(
        "t4_ms = 500\n",
        &format!(
            "t4_ms = 500\ntcp_max_connections = {MAX}\ntcp_max_per_source = {MAX}\n\
             tcp_reserved_trusted = {RESERVED}\ntcp_untrusted_timeout_s = 4\n"
        ),
    );
    let gw = start(&text).await;

    // The attack: MAX silent connections from an untrusted address.
    let mut flood = Vec::new();
    for _ in 0..MAX {
        flood.push(connect_from("127.0.0.2", gw.tcp).await);
    }
    // The trusted PBX still gets a connection, and its call is carried.
    let mut pbx = TcpUa::connect(gw.tcp).await;
    pbx.send_invite(gw.tcp, "TCP", "pool@pbx", DIALED, "z9hG4bKpool1")
        .await;
    assert_eq!(pbx.recv().await.code(), Some(100));
    let (b_inv, from) = carrier.wait_request("INVITE").await;
    carrier.answer(from, &b_inv, "c1", "c").await;
    let ok = pbx.recv().await;
    assert_eq!(ok.code(), Some(200), "the trusted PBX's call is answered");
    let refused = wait_metric(
        gw.http,
        "trunkgate_sip_tcp_refused_total{reason=\"reserved_for_trusted\"}",
        RESERVED as f64,
    )
    .await;
    assert_eq!(
        refused, RESERVED as f64,
        "the untrusted share is MAX - RESERVED"
    );

    // A second, idle connection of the trusted PBX.
    let mut pbx_idle = TcpUa::connect(gw.tcp).await;
    let idle_since = tokio::time::Instant::now();

    // Every silent untrusted connection is closed: MAX - RESERVED by the short timeout,
    // the rest at accept.
    let mut closed = 0;
    for s in &mut flood {
        if closed_within(s, Duration::from_secs(15)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, MAX, "all untrusted connections closed");
    let idle = wait_metric(
        gw.http,
        "trunkgate_sip_tcp_closed_total{reason=\"untrusted_idle\"}",
        (MAX - RESERVED) as f64,
    )
    .await;
    assert_eq!(idle, (MAX - RESERVED) as f64);

    // The trusted idle connection outlives the untrusted timeout and still works.
    tokio::time::sleep_until(idle_since + Duration::from_secs(5)).await;
    let me2 = pbx_idle.addr;
    pbx_idle
        .send(&format!(
            "OPTIONS sip:{gw_tcp} SIP/2.0\r\nVia: SIP/2.0/TCP {me2};branch=z9hG4bKpoolo\r\n\
             Max-Forwards: 70\r\nFrom: <sip:pbx@{me2}>;tag=o1\r\nTo: <sip:{gw_tcp}>\r\n\
             Call-ID: pool-opt@pbx\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            gw_tcp = gw.tcp
        ))
        .await;
    assert_eq!(pbx_idle.recv().await.code(), Some(200));
}
