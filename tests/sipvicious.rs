//! Issue 15: SIPVicious (Debian `sipvicious`) against the gateway on loopback,
//! from an untrusted address (127.0.0.3), while the trusted PBX (127.0.0.1, the
//! trunk's CIDR) places calls:
//! - `svmap` finds no SIP device and learns no User-Agent/Server string;
//! - `svwar` (INVITE and REGISTER extension scans) finds no extension;
//! - the scanner's requests are dropped unanswered (`scanner`) and its address is
//!   banned: a later request with an innocent User-Agent from it gets nothing
//!   (`rate_limited`), the same request from another address is answered;
//! - a call from the PBX placed after the scans is carried.
//!
//! Skipped (with a message) when the tools are not installed; CI installs them.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::process::Command;

const SCANNER: &str = "127.0.0.3";

fn have(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs a SIPVicious tool (at most 120 s) and returns stdout + stderr.
async fn run(tool: &str, args: &[&str]) -> String {
    let child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} starts: {e}"));
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{tool} finished within 120 s"))
        .expect("output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One call from a fresh PBX socket on 127.0.0.1, answered by the carrier.
async fn pbx_call(gw: &Gw, carrier: &Ua, call_id: &str) {
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, call_id, DIALED, &format!("z9hG4bK{call_id}"))
        .await;
    let (inv, from) = carrier.wait_request("INVITE").await;
    carrier_answers(carrier, from, &inv).await;
    let ok = pbx.wait_response(200).await;
    assert_eq!(hdr(&ok, "Call-ID"), call_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svmap_and_svwar_learn_nothing_and_trusted_calls_continue() {
    if !have("svmap") || !have("svwar") {
        eprintln!("SKIPPED: sipvicious (svmap, svwar) not installed; .ci/run installs it");
        return;
    }
    let carrier = Ua::new().await;
    let gw = start(&config_text(&[(carrier.addr, "udp")], "127.0.0.1/32")).await;
    let port = gw.udp.port().to_string();
    pbx_call(&gw, &carrier, "before-scan").await;

    let map = run(
        "svmap",
        &["-b", SCANNER, "-p", &port, "-t", "0.05", "127.0.0.1"],
    )
    .await;
    eprintln!("svmap:\n{map}");
    assert!(
        !map.contains(&format!("127.0.0.1:{port}")),
        "svmap found the gateway:\n{map}"
    );
    assert!(!map.to_lowercase().contains("trunkgate"), "{map}");

    for method in ["INVITE", "REGISTER", "OPTIONS"] {
        let war = run(
            "svwar",
            &[
                "-b",
                SCANNER,
                "-p",
                &port,
                "-m",
                method,
                "-e",
                "100-400",
                "-t",
                "0.02",
                "--force",
                "127.0.0.1",
            ],
        )
        .await;
        eprintln!("svwar -m {method}:\n{war}");
        assert!(
            !war.contains("| reqauth") && !war.contains("| noauth") && !war.contains("| weird"),
            "svwar -m {method} found extensions:\n{war}"
        );
    }

    let m = metrics(gw.http).await;
    let scanner = metric_value(&m, "trunkgate_sip_dropped_total{reason=\"scanner\"}");
    assert!(
        scanner >= 4.0,
        "each scan's requests were dropped unanswered ({scanner})"
    );
    // The scanner's address is banned: a request with an innocent User-Agent from it
    // gets nothing, while the same request from another address is answered.
    let options = |from: std::net::SocketAddr, cid: &str| {
        format!(
            "OPTIONS sip:{gw} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bK{cid}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:probe@{from}>;tag=p\r\nTo: <sip:{gw}>\r\n\
             Call-ID: {cid}\r\nCSeq: 1 OPTIONS\r\nUser-Agent: innocent/1.0\r\nContent-Length: 0\r\n\r\n",
            gw = gw.udp
        )
    };
    let banned = Ua::bind(&format!("{SCANNER}:0")).await;
    banned
        .send(gw.udp, &options(banned.addr, "probe-banned"))
        .await;
    assert!(
        banned.hears_nothing(Duration::from_secs(1)).await,
        "the banned scanner address got an answer"
    );
    let other = Ua::bind("127.0.0.4:0").await;
    other
        .send(gw.udp, &options(other.addr, "probe-other"))
        .await;
    let (r, _) = other.recv_within(WAIT).await.expect("an answer");
    assert_eq!(r.code(), Some(200));
    let m = metrics(gw.http).await;
    assert!(metric_value(&m, "trunkgate_sip_dropped_total{reason=\"rate_limited\"}") >= 1.0);
    // The trusted PBX is not affected.
    pbx_call(&gw, &carrier, "after-scan").await;
}
