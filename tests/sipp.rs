//! The basic call driven by sipp, a real third-party SIP user agent, over UDP
//! and over TCP: a sipp UAS plays the carrier, a sipp UAC plays the PBX, and
//! the gateway runs in-process between them.
//!
//! sipp's built-in scenarios are B2BUA-safe: the UAC sends ACK and BYE to the
//! gateway's address (the gateway routes them by Call-ID) and the UAS only
//! copies Via/From/To/Call-ID/CSeq from the request it answers. sipp exits 0
//! only when every call it placed or answered succeeded.
//!
//! sipp must be on PATH (`apt-get install sip-tester`; `.ci/run` installs it).
//! Every sipp process is killed by PID when its guard drops, on every path.

mod common;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::time::Duration;

use common::sipp::{Scratch, Sipp};
use common::*;

const CALLS: u32 = 20;
/// Upper bound for one sipp run: 20 calls at 10/s with a 200 ms hold take ~2.5 s;
/// the UAS then lingers in its built-in 4 s `timewait` after the last BYE.
const SIPP_DEADLINE: Duration = Duration::from_secs(40);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tp {
    Udp,
    Tcp,
}

impl Tp {
    /// sipp's transport mode: one socket for every call.
    fn sipp_flag(self) -> &'static str {
        match self {
            Tp::Udp => "u1",
            Tp::Tcp => "t1",
        }
    }

    fn config_name(self) -> &'static str {
        match self {
            Tp::Udp => "udp",
            Tp::Tcp => "tcp",
        }
    }
}

/// A loopback port the kernel just handed out for `tp` (bound, read, released).
fn free_port(tp: Tp) -> u16 {
    match tp {
        Tp::Udp => UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
        Tp::Tcp => TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port(),
    }
}

/// Runs `CALLS` calls sipp UAC -> gateway -> sipp UAS over `tp` and checks all three views of them.
async fn sipp_calls(tp: Tp) {
    let scratch = Scratch::new(tp.config_name());
    let dir = scratch.0.as_path();
    let calls = CALLS.to_string();

    let uas_port = free_port(tp);
    let uas_addr: SocketAddr = format!("127.0.0.1:{uas_port}").parse().unwrap();
    let uas_port = uas_port.to_string();
    let uas_args = [
        "-sn",
        "uas",
        "-p",
        &uas_port,
        "-t",
        tp.sipp_flag(),
        "-m",
        &calls,
        "-aa",
    ];
    let mut uas = Sipp::spawn("uas", dir, &uas_args);
    // The UAS must be listening before the first INVITE reaches it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        uas.child.try_wait().unwrap().is_none(),
        "sipp uas exited at start:\n{}",
        uas.screen()
    );

    let gw = start(&config_text(&[(uas_addr, tp.config_name())], "127.0.0.0/8")).await;
    let gw_addr = match tp {
        Tp::Udp => gw.udp,
        Tp::Tcp => gw.tcp,
    }
    .to_string();

    let uac_port = free_port(tp).to_string();
    #[rustfmt::skip]
    let uac_args = [
        "-sn", "uac", "-s", DIALED, &gw_addr, "-p", &uac_port, "-t", tp.sipp_flag(),
        "-m", &calls, "-r", "10", "-d", "200",
    ];
    let mut uac = Sipp::spawn("uac", dir, &uac_args);

    uac.assert_all_succeeded(SIPP_DEADLINE, CALLS).await;
    uas.assert_all_succeeded(SIPP_DEADLINE, CALLS).await;
    assert_eq!(
        uas.stat("OutOfCallMsgs(C)"),
        0,
        "uas got messages for no call"
    );

    // The gateway's view: every call completed, none left active (the last call
    // task may still be winding down its transactions: poll up to 5 s).
    let completed =
        format!("trunkgate_calls_total{{trunk=\"{DEMO_TRUNK}\",direction=\"outbound\",status=\"completed\"}}");
    let what = format!("{completed} != {CALLS} or trunkgate_calls_active != 0");
    wait_metrics(gw.http, WAIT, &what, |text| {
        metric_value(text, &completed) == f64::from(CALLS)
            && metric_value(text, "trunkgate_calls_active") == 0.0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_calls_over_udp() {
    sipp_calls(Tp::Udp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_calls_over_tcp() {
    sipp_calls(Tp::Tcp).await;
}
