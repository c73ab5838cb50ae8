//! Issue 15 item 5, the UDP size rule of RFC 3261 §18.1.1: an INVITE toward a UDP
//! carrier that would be over 1300 bytes (path MTU unknown) is sent over TCP to the
//! same address, its top Via saying TCP; a small one still goes over UDP. A gateway
//! with no TCP listener does not send the big INVITE over UDP at all: the caller gets
//! an error and the carrier's UDP socket sees nothing.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::net::{TcpListener, UdpSocket};

/// Passed-on headers, each under `max_copied_header` (256), together ~1.2 KB.
fn big_headers() -> String {
    let v = |h: &str| format!("<sip:+14155550001@pbx.example;x={}>", h.repeat(200));
    format!(
        "P-Asserted-Identity: {}\r\nP-Preferred-Identity: {}\r\nDiversion: {};reason=unconditional\r\n\
         Remote-Party-ID: {}\r\nSubject: {}\r\n",
        v("a"),
        v("b"),
        v("c"),
        v("d"),
        "s".repeat(230)
    )
}

/// A carrier listening on UDP and TCP on the same loopback port.
async fn dual_carrier() -> (Ua, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
        let addr = udp.local_addr().expect("addr");
        if let Ok(tcp) = TcpListener::bind(addr).await {
            return (Ua { sock: udp, addr }, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

async fn answer_over_tcp(l: &TcpListener) -> (TcpUa, trunkgate::sip::Message) {
    let (stream, _) = tokio::time::timeout(WAIT, l.accept())
        .await
        .expect("the gateway connects over TCP")
        .expect("accept");
    let mut c = TcpUa::from_stream(stream);
    let inv = c.recv().await;
    (c, inv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_invite_goes_over_tcp_a_small_one_over_udp() {
    let (carrier, carrier_tcp) = dual_carrier().await;
    let gw = start(&config_text(&[(carrier.addr, "udp")], "127.0.0.1/32")).await;
    let pbx = Ua::new().await;

    // Small: UDP as configured.
    pbx.send_invite(gw.udp, "mtu-small", DIALED, "z9hG4bKmtu1")
        .await;
    let (inv, from) = carrier.wait_request("INVITE").await;
    assert!(inv.raw().len() <= 1300, "{} bytes", inv.raw().len());
    assert!(hdr(&inv, "Via").starts_with("SIP/2.0/UDP"));
    carrier.status(from, &inv, 486, "Busy Here", "c").await;
    pbx.wait_response(486).await;
    carrier.wait_request("ACK").await;

    // Big: over TCP to the same address, Via TCP, Contact transport=tcp.
    let big = invite(pbx.addr, gw.udp, "UDP", "mtu-big", DIALED, "z9hG4bKmtu2").replace(
        "User-Agent: test-pbx\r\n",
        &format!("User-Agent: test-pbx\r\n{}", big_headers()),
    );
    pbx.send(gw.udp, &big).await;
    let (mut c, inv) = answer_over_tcp(&carrier_tcp).await;
    assert!(inv.raw().len() > 1300, "{} bytes", inv.raw().len());
    assert!(
        hdr(&inv, "Via").starts_with("SIP/2.0/TCP"),
        "{}",
        hdr(&inv, "Via")
    );
    assert!(hdr(&inv, "Contact").contains("transport=tcp"));
    c.send(&reply(
        &inv,
        200,
        "OK",
        Some("ct"),
        Some(&format!("sip:c@{};transport=tcp", carrier.addr)),
        SDP_ANSWER,
    ))
    .await;
    pbx.wait_response(200).await;
    let ack = c.recv().await;
    assert_eq!(ack.method().map(|m| m.as_str()), Some("ACK"));
    assert!(
        carrier.hears_nothing(Duration::from_millis(300)).await,
        "nothing of the big call over UDP"
    );
    let m = metrics(gw.http).await;
    assert_eq!(metric_value(&m, "trunkgate_sip_udp_to_tcp_total"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tcp_a_big_invite_is_refused_not_sent_over_udp() {
    let carrier = Ua::new().await;
    let text = config_text(&[(carrier.addr, "udp")], "127.0.0.1/32")
        .replace(", { transport = \"tcp\", address = \"127.0.0.1:0\" }", "");
    let cfg = trunkgate::config::parse_str(&text, "test.toml").expect("config");
    let gw = trunkgate::gateway::Gateway::start(cfg)
        .await
        .expect("starts");
    let udp: SocketAddr = gw
        .sip_addr(trunkgate::transport::TransportKind::Udp)
        .expect("udp");
    let pbx = Ua::new().await;
    let big = invite(pbx.addr, udp, "UDP", "mtu-refused", DIALED, "z9hG4bKmtu3").replace(
        "User-Agent: test-pbx\r\n",
        &format!("User-Agent: test-pbx\r\n{}", big_headers()),
    );
    pbx.send(udp, &big).await;
    let mut final_code = None;
    for _ in 0..10 {
        match pbx.recv_within(WAIT).await {
            Some((m, _)) if m.code().is_some_and(|c| c >= 300) => {
                final_code = m.code();
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    let code = final_code.expect("a final response");
    assert!(code >= 500, "got {code}");
    assert!(
        carrier.hears_nothing(Duration::from_millis(300)).await,
        "no oversize datagram reached the carrier"
    );
    let m = metrics(gw.http_addr()).await;
    assert!(metric_value(&m, "trunkgate_sip_udp_oversize_refused_total") >= 1.0);
}
