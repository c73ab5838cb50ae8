//! HEP v3 capture over real sockets: with `[hep]` set, every SIP message the
//! gateway receives or sends arrives at a collector (a UDP socket in the
//! test, decoded by the parser below) with addresses, ports, capture id,
//! auth key, Call-ID correlation and the message itself.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::net::UdpSocket;

/// The chunks of one HEP3 packet, by type (vendor 0).
fn decode(d: &[u8]) -> HashMap<u16, Vec<u8>> {
    assert_eq!(&d[..4], b"HEP3", "not a HEP3 packet");
    assert_eq!(
        usize::from(u16::from_be_bytes([d[4], d[5]])),
        d.len(),
        "total length"
    );
    let mut chunks = HashMap::new();
    let mut i = 6;
    while i + 6 <= d.len() {
        let t = u16::from_be_bytes([d[i + 2], d[i + 3]]);
        let l = usize::from(u16::from_be_bytes([d[i + 4], d[i + 5]]));
        assert!(l >= 6 && i + l <= d.len(), "chunk length");
        chunks.insert(t, d[i + 6..i + l].to_vec());
        i += l;
    }
    chunks
}

fn addr(c: &HashMap<u16, Vec<u8>>, ip: u16, port: u16) -> SocketAddr {
    let ip: [u8; 4] = c[&ip].as_slice().try_into().expect("IPv4");
    let port = u16::from_be_bytes(c[&port].as_slice().try_into().expect("port"));
    SocketAddr::from((ip, port))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sip_message_is_exported_as_hep3() {
    let collector = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let carrier = Ua::new().await;
    let text = format!(
        "{}\n[hep]\naddress = \"{}\"\nnode_id = 77\npassword = \"s3cret\"\n",
        config_text(&[(carrier.addr, "udp")], "127.0.0.0/8"),
        collector.local_addr().unwrap()
    );
    let gw = start(&text).await;
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "hep-1@pbx", DIALED, "z9hG4bKhep1")
        .await;
    pbx.expect_response(100).await;
    let (inv, from) = carrier.wait_request("INVITE").await;
    let b_call_id = hdr(&inv, "Call-ID");
    carrier.status(from, &inv, 486, "Busy Here", "c1").await;
    pbx.wait_response(486).await;

    // What must arrive: PBX -> gw INVITE, gw -> PBX 100, gw -> carrier INVITE, carrier -> gw 486.
    let mut want: Vec<(SocketAddr, SocketAddr, &str, String)> = vec![
        (pbx.addr, gw.udp, "INVITE ", "hep-1@pbx".into()),
        (gw.udp, pbx.addr, "SIP/2.0 100", "hep-1@pbx".into()),
        (gw.udp, carrier.addr, "INVITE ", b_call_id.clone()),
        (carrier.addr, gw.udp, "SIP/2.0 486", b_call_id),
    ];
    let mut buf = vec![0u8; 70_000];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !want.is_empty() {
        let n = tokio::time::timeout_at(deadline, collector.recv(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("not captured within 5 s: {want:?}"))
            .unwrap();
        let c = decode(&buf[..n]);
        assert_eq!(c[&1], [2], "IPv4");
        assert_eq!(c[&2], [17], "UDP");
        assert_eq!(c[&11], [1], "SIP");
        assert_eq!(c[&12], 77u32.to_be_bytes(), "capture id = node_id");
        assert_eq!(c[&14], b"s3cret", "auth key");
        let (src, dst) = (addr(&c, 3, 7), addr(&c, 4, 8));
        let payload = String::from_utf8_lossy(&c[&15]).to_string();
        let corr = String::from_utf8_lossy(&c[&17]).to_string();
        assert!(
            payload.contains(&format!("Call-ID: {corr}")),
            "correlation = Call-ID:\n{payload}"
        );
        want.retain(|(s, d, start, id)| {
            !(src == *s && dst == *d && payload.starts_with(start) && corr == *id)
        });
    }
    // Every copy counted as sent (bounded: polled up to 5 s).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = metrics(gw.http).await;
        if metric_value(&m, "trunkgate_hep_packets_total{result=\"sent\"}") >= 4.0 {
            assert_eq!(
                metric_value(&m, "trunkgate_hep_packets_total{result=\"dropped\"}"),
                0.0,
                "{m}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "hep sent counter:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
