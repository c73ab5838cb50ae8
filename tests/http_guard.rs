//! The HTTP listener cannot be used to exhaust the process: idle connections
//! from one source beyond `http.max_per_source` are closed at accept and
//! counted, the held ones are closed after `http.idle_timeout_s`, and
//! meanwhile /metrics answers another source and SIP calls are carried.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

async fn connect_from(ip: &str, to: std::net::SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    s.connect(to).await.expect("connect")
}

/// True when the server closed the connection (EOF or reset) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut b = [0u8; 16];
    matches!(
        tokio::time::timeout(within, s.read(&mut b)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_flood_is_capped_per_source_and_timed_out() {
    let carrier = Ua::new().await;
    let text = config_text(&[(carrier.addr, "udp")], "127.0.0.0/8").replace(
        "[http]\nlisten = \"127.0.0.1:0\"\n",
        "[http]\nlisten = \"127.0.0.1:0\"\nmax_connections = 64\nmax_per_source = 8\nidle_timeout_s = 2\n",
    );
    assert!(
        text.contains("max_per_source = 8"),
        "test config: http section not found"
    );
    let gw = start(&text).await;

    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..50 {
        let mut s = connect_from("127.0.0.9", gw.http).await;
        if closed_within(&mut s, Duration::from_millis(150)).await {
            refused += 1;
        } else {
            held.push(s);
        }
    }
    assert_eq!(held.len(), 8, "max_per_source connections stay open");
    assert_eq!(refused, 42);

    // Another source still gets /metrics; SIP is still served.
    let m = metrics(gw.http).await;
    assert_eq!(
        metric_value(&m, "trunkgate_http_connections_refused_total"),
        42.0,
        "{m}"
    );
    // A trusted call is carried meanwhile: INVITE through to the carrier, its
    // 200 back to the PBX with the media anchored.
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "hg-call", "+14155550100", "z9hG4bKhg1")
        .await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    carrier.answer(gw.udp, &inv, "c1", "carrier").await;
    let ok = pbx.wait_response(200).await;
    assert!(
        String::from_utf8_lossy(ok.body()).contains("m=audio"),
        "the 200 carries the relay's SDP"
    );

    // The held idle connections are closed by the idle timeout, and their slots come back.
    for s in held.iter_mut() {
        assert!(
            closed_within(s, Duration::from_secs(6)).await,
            "idle connection not closed"
        );
    }
    let mut again = connect_from("127.0.0.9", gw.http).await;
    assert!(
        !closed_within(&mut again, Duration::from_millis(150)).await,
        "slot not given back"
    );
}
