//! Anchored calls against a descriptor limit: the media port pool keeps its
//! sockets within what the SIP/TCP and HTTP connection caps and the reserve
//! leave, so a flood of anchored calls is refused with 503 (counted as
//! `trunkgate_media_ports_exhausted_total`) while SIP over TCP and the HTTP
//! API keep their descriptors. The gateway runs as a child process whose
//! `RLIMIT_NOFILE` is lowered to 320 (`sh -c "ulimit -n 320 && exec ..."`),
//! over real loopback sockets.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use trunkgate::sip::Message;

/// The gateway's descriptor limit in this test.
const NOFILE: usize = 320;
/// `[sip] tcp_max_connections` and `[http] max_connections` here.
const CONN_CAP: usize = 16;

/// A gateway on `sip` (UDP and TCP) and `http`, limited to [`NOFILE`]
/// descriptors, its media range 61400-61799 (200 pairs: more than the
/// descriptors allow; no other test uses these ports).
fn spawn(carrier: SocketAddr, sip: SocketAddr, http: SocketAddr) -> (Proc, std::path::PathBuf) {
    let dir = temp_dir("fd-budget");
    let text = config_text_in(&[(carrier, "udp")], "127.0.0.0/8", &dir)
        .replace(
            r#"listen = [ { transport = "udp", address = "127.0.0.1:0" }, { transport = "tcp", address = "127.0.0.1:0" } ]"#,
            &format!(
                "listen = [ {{ transport = \"udp\", address = \"{sip}\" }}, {{ transport = \"tcp\", address = \"{sip}\" }} ]\ntcp_max_connections = {CONN_CAP}\ntcp_max_per_source = {CONN_CAP}"
            ),
        )
        .replace(
            r#"listen = "127.0.0.1:0""#,
            &format!("listen = \"{http}\"\nmax_connections = {CONN_CAP}\nmax_per_source = {CONN_CAP}"),
        )
        + "\n[media]\nbind_ipv4 = \"127.0.0.1\"\nport_min = 61400\nport_max = 61799\n";
    let file = dir.join("trunkgate.toml");
    std::fs::write(&file, text).expect("config written");
    let log = dir.join("gateway.log");
    let limit = format!("ulimit -n {NOFILE} && exec \"$@\"");
    let gw = spawn_gateway_under(
        &["sh", "-c", &limit, "sh"],
        env!("CARGO_BIN_EXE_trunkgate"),
        &file,
        &log,
        &[],
    );
    (gw, log)
}

/// [`spawn`] on free loopback ports, once it serves HTTP: the process, its
/// log, its SIP and HTTP addresses. A port taken between choosing and
/// binding it makes the process exit: then new ports, three tries.
async fn start(carrier: SocketAddr) -> (Proc, std::path::PathBuf, SocketAddr, SocketAddr) {
    for _ in 0..3 {
        let sip: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let (mut gw, log) = spawn(carrier, sip, http);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if tokio::net::TcpStream::connect(http).await.is_ok() {
                return (gw, log, sip, http);
            }
            if let Ok(Some(_)) = gw.0.try_wait() {
                eprintln!(
                    "gateway exited at start, retrying:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gateway HTTP not listening"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("the gateway did not start in 3 tries");
}

/// A call from a fresh PBX through the gateway at `sip` to `carrier`,
/// answered with media when the carrier gets it: the PBX and its 200 while
/// the call is up, `None` when it was refused with 503 before any carrier
/// heard of it.
async fn call(carrier: &Ua, sip: SocketAddr, id: &str) -> Option<(Ua, Message)> {
    let media: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let pbx = Ua::new().await;
    pbx.send_offer(sip, id, DIALED, media, "pbx").await;
    pbx.expect_response(100).await;
    tokio::select! {
        (m, _) = pbx.recv() => {
            assert_eq!(m.code(), Some(503), "{id}: {}", String::from_utf8_lossy(m.raw()));
            None
        }
        (inv, _) = carrier.recv() => {
            assert_eq!(inv.method().map(|m| m.as_str().to_string()).as_deref(), Some("INVITE"));
            carrier
                .answer_with(sip, &inv, "car", "carrier", &sdp_at(media, "car"))
                .await;
            let ok = pbx.ack_200(sip).await;
            carrier.expect_request("ACK").await;
            Some((pbx, ok))
        }
    }
}

#[tokio::test]
async fn anchored_calls_stop_at_the_descriptor_budget_and_leave_sip_tcp_and_http_theirs() {
    let carrier = Ua::new().await;
    let (_gw, log, sip, http) = start(carrier.addr).await;

    // 320 descriptors, 16 + 16 + 256 reserved: the pool may hold half of
    // them (160 sockets, 80 pairs), and an anchored call holds two pairs.
    let mut calls = Vec::new();
    let refused = loop {
        let id = format!("fd-{}", calls.len());
        assert!(
            calls.len() < 200,
            "200 anchored calls up under {NOFILE} descriptors"
        );
        match call(&carrier, sip, &id).await {
            Some(up) => calls.push(up),
            None => break id,
        }
    };
    let up = calls.len();
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        (30..=40).contains(&up),
        "{up} calls up before {refused} was refused:\n{}",
        log_text()
    );

    // The refusal was the pool's budget, not a failed bind (EMFILE).
    let m = metrics(http).await;
    assert_eq!(
        metric_value(&m, "trunkgate_media_ports_exhausted_total"),
        1.0,
        "{m}"
    );
    assert!(
        !log_text().contains("Too many open files"),
        "{}",
        log_text()
    );
    // The connection caps' descriptors are still free ...
    let open = metric_value(&m, "process_open_fds");
    let max = metric_value(&m, "process_max_fds");
    assert_eq!(max, NOFILE as f64, "{m}");
    eprintln!("{up} anchored calls up, {open} of {max} descriptors open");
    assert!(
        max - open >= (2 * CONN_CAP) as f64,
        "{open} of {max} descriptors open with {up} calls up"
    );
    // ... and used: half the HTTP connections the cap allows held open (the
    // earlier scrapes' may still be closing) while one more is served, and a
    // PBX on SIP over TCP is answered.
    let mut conns = Vec::new();
    for _ in 0..CONN_CAP / 2 {
        conns.push(
            tokio::net::TcpStream::connect(http)
                .await
                .expect("http connect"),
        );
    }
    let m = metrics(http).await;
    assert!(m.contains("trunkgate_media_port_pairs_available"), "{m}");
    let mut tcp = TcpUa::connect(sip).await;
    let me = tcp.addr;
    tcp.send(&format!(
        "OPTIONS sip:{sip} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bKfdopt\r\n\
         Max-Forwards: 70\r\nFrom: <sip:pbx@{me}>;tag=o1\r\nTo: <sip:{sip}>\r\n\
         Call-ID: fd-opt@pbx\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ))
    .await;
    assert_eq!(tcp.recv().await.code(), Some(200));
    drop(conns);

    // A call that ends gives its pairs back: the next set-up is admitted.
    let pairs = "trunkgate_media_port_pairs_available";
    let free = metric_value(&metrics(http).await, pairs);
    let (pbx, ok) = &calls[0];
    hang_up(pbx, sip, &carrier, ok).await;
    wait_metrics(http, Duration::from_secs(5), "the call's pairs back", |t| {
        metric_value(t, pairs) >= free + 2.0
    })
    .await;
    assert!(
        call(&carrier, sip, "fd-after").await.is_some(),
        "refused after a call ended:\n{}",
        log_text()
    );
}
