//! RFC 4475 torture messages sent to the running gateway over UDP: each gets
//! the answer its MANIFEST names (or is dropped), and the gateway keeps
//! answering afterwards. PROTOS c07-sip cases are replayed too (robustness:
//! the gateway must keep answering the valid case).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

fn testdata(dir: &str) -> PathBuf {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata")
        .join(dir);
    if shared.is_dir() {
        return shared;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(dir)
}

/// What the gateway must do with each file: Some(code) = answer with it, None = drop.
fn expected(file: &str) -> Option<Option<u16>> {
    Some(match file {
        // invalid (RFC 4475 §3.1.2, §3.3): 400 with a reason
        "badinv01.dat" | "clerr.dat" | "ncl.dat" | "scalar02.dat" | "quotbal.dat"
        | "ltgtruri.dat" | "lwsruri.dat" | "lwsstart.dat" | "trws.dat" | "escruri.dat"
        | "regbadct.dat" | "badaspec.dat" | "baddn.dat" | "mismatch01.dat" | "mismatch02.dat"
        | "insuf.dat" | "multi01.dat" | "mcl01.dat" => Some(400),
        "badvers.dat" => Some(505),
        "unkscm.dat" | "novelsc.dat" => Some(416),
        "bext01.dat" => Some(420),
        "zeromf.dat" => Some(483),
        // responses nobody asked for, overlarge codes, and garbage: dropped
        "bcast.dat" | "bigcode.dat" | "scalarlg.dat" | "unreason.dat" | "noreason.dat"
        | "test.dat" => None,
        // application layer: we are not a registrar, unknown methods are not implemented
        "cparam01.dat" | "cparam02.dat" | "regescrt.dat" | "regaut01.dat" | "dblreq.dat"
        | "escnull.dat" | "unksm2.dat" | "mpart01.dat" => Some(405),
        "intmeth.dat" | "esc02.dat" => Some(501),
        "invut.dat" => Some(415),
        "sdp01.dat" => Some(406),
        // valid INVITEs to a user name, not a number: the trunk needs a dialable number
        // wsinv carries a To tag: a mid-dialog request for a dialog we don't have (RFC 3261 §12.2.2)
        "wsinv.dat" => Some(481),
        "esc01.dat" | "longreq.dat" | "baddate.dat" | "inv2543.dat" => Some(484),
        // valid OPTIONS to the gateway: answered
        "lwsdisp.dat" | "semiuri.dat" | "transports.dat" | "badbranch.dat" => Some(200),
        _ => return None,
    })
}

/// The torture files' Vias name made-up hosts with port 5060 (5050 for quotbal,
/// rport for mpart01). The gateway answers to the packet's source IP (what
/// `received` says, RFC 3261 §18.2.2) at the Via's port, so the test sends from
/// a private loopback address bound on those ports and the answers come back to it.
const TEST_IP: &str = "127.44.75.1";

#[tokio::test]
async fn rfc4475_messages_get_the_manifest_answer() {
    let carrier = Ua::new().await;
    let gw = start(&config_text(&[(carrier.addr, "udp")], "127.0.0.0/8")).await;
    let ua = Ua::bind(&format!("{TEST_IP}:5060")).await;
    let ua5050 = Ua::bind(&format!("{TEST_IP}:5050")).await;
    let mut files: Vec<_> = std::fs::read_dir(testdata("rfc4475"))
        .expect("rfc4475 dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dat"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 50, "all 50 RFC 4475 files present");
    let mut failures = Vec::new();
    for f in &files {
        let want = expected(f).unwrap_or_else(|| panic!("{f} has no expectation in this test"));
        let data = std::fs::read(testdata("rfc4475").join(f)).unwrap();
        let sock = if f == "quotbal.dat" { &ua5050 } else { &ua };
        sock.send_bytes(gw.udp, &data).await;
        let wait = if want.is_some() {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(300)
        };
        let mut got = None;
        // Skip a 100 Trying (none expected here, but harmless) and take the final answer.
        while let Some((m, _)) = sock.recv_within(wait).await {
            if m.code() != Some(100) {
                got = m.code();
                break;
            }
        }
        if got != want {
            failures.push(format!("{f}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "RFC 4475 mismatches:\n{}",
        failures.join("\n")
    );
    // Still alive and answering.
    let opt = format!(
        "OPTIONS sip:{gw} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKalive;rport\r\nMax-Forwards: 70\r\nFrom: <sip:m@{me}>;tag=a\r\nTo: <sip:{gw}>\r\nCall-ID: alive@t\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        gw = gw.udp, me = ua.addr
    );
    ua.send(gw.udp, &opt).await;
    ua.expect_response(200).await;
    // The carrier never saw any of it.
    assert!(carrier.hears_nothing(Duration::from_millis(100)).await);
}
