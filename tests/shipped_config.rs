//! The shipped default config (`config/trunkgate.toml`) trusts exactly the
//! demo PBX (127.0.0.1): another loopback source is untrusted, so a scanner
//! on 127.0.0.2 is rate limited like any stranger while the demo PBX is not.

mod common;

use std::time::Duration;

use common::*;

fn options(from: std::net::SocketAddr, gw: std::net::SocketAddr, n: u32) -> String {
    format!(
        "OPTIONS sip:{gw} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKship{n};rport\r\nMax-Forwards: 70\r\nFrom: <sip:x@{from}>;tag=s{n}\r\nTo: <sip:{gw}>\r\nCall-ID: ship{n}@scan\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

async fn answers(ua: &Ua) -> usize {
    ua.count_until_quiet(Duration::from_millis(300)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_config_trusts_only_the_demo_pbx() {
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/trunkgate.toml"
    ))
    .expect("shipped config");
    let dir = temp_dir("shipped");
    let text = shipped
        .replace("127.0.0.1:5060", "127.0.0.1:0")
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "data_dir = \"data\"",
            &format!("data_dir = \"{}\"", dir.display()),
        );
    assert_ne!(
        text, shipped,
        "the shipped config's addresses changed: update this test"
    );
    let gw = start(&text).await;

    let scanner = Ua::bind("127.0.0.2:0").await;
    for n in 0..30 {
        scanner
            .send(gw.udp, &options(scanner.addr, gw.udp, n))
            .await;
    }
    assert_eq!(
        answers(&scanner).await,
        16,
        "127.0.0.2 is untrusted: flood-limited"
    );

    let pbx = Ua::bind("127.0.0.1:0").await;
    for n in 100..130 {
        pbx.send(gw.udp, &options(pbx.addr, gw.udp, n)).await;
    }
    assert_eq!(
        answers(&pbx).await,
        30,
        "the demo PBX (127.0.0.1) is trusted"
    );
    gw.gw.shutdown().await;
}
