//! Chaos on a real network path: the PBX and the carrier run in a network
//! namespace this test makes (`ip netns` + a veth pair), the gateway in the
//! test's own namespace on the veth's other end, so every SIP and RTP packet
//! between them crosses a link the test can break with iptables inside the
//! namespace.
//!
//! - 10 % of the packets lost in each direction on both legs (the PBX leg on
//!   the veth, the carrier leg on loopback by the carrier's port): 100 sipp
//!   calls all complete, by the retransmissions of sipp, of the gateway's
//!   transactions and of an RFC 3261 carrier (the drop rules' counters prove
//!   the loss happened).
//! - The carrier black-holed mid-call while the PBX keeps sending: the RTP
//!   timeout of the carrier's leg ends the call, both legs get BYE, the slot
//!   comes back.
//!
//! Jitter (`tc netem delay`) is not part of it: this kernel has no `sch_netem`
//! ("Specified qdisc kind is unknown"), and iptables can only drop.
//!
//! Needs root, iproute2, iptables and sipp (`.ci/run` runs as root and installs
//! them); without them the tests fail and say so. The namespace and its veth
//! pair are deleted on drop, every sipp is killed by PID.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::sipp::{Scratch, Sipp};
use common::*;

/// A network namespace with one veth pair to this one: `host_ip` here,
/// `ns_ip` in the namespace, a /30 of 10.250.0.0/16 nothing else uses.
struct Netns {
    name: String,
    veth: String,
    host_ip: String,
    ns_ip: String,
    /// Rules added to this namespace's INPUT chain (for the veth only), deleted on drop.
    host_rules: Vec<Vec<String>>,
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {cmd}: {e} (the chaos tests need root, iproute2 and iptables; .ci/run installs them)")
    });
    assert!(
        out.status.success(),
        "{cmd} {}: {}{} (the chaos tests need root, iproute2 and iptables)",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Netns {
    fn new(tag: &str) -> Netns {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let pid = std::process::id();
        let nth = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Pick a /30 whose addresses no interface of this host has.
        let used = run("ip", &["-o", "-4", "addr", "show"]);
        let (mut a, mut b) = (0u32, 0u32);
        for i in 0..1000u32 {
            let k = pid
                .wrapping_mul(7919)
                .wrapping_add((i * 8 + nth).wrapping_mul(104_729))
                % (250 * 62);
            (a, b) = (k / 62, (k % 62) * 4);
            if !used.contains(&format!("inet 10.250.{a}.{}/", b + 1)) {
                break;
            }
        }
        let id = format!("{}{tag}", pid % 100_000);
        let n = Netns {
            name: format!("tgchaos{id}"),
            veth: format!("tgc{id}"),
            host_ip: format!("10.250.{a}.{}", b + 1),
            ns_ip: format!("10.250.{a}.{}", b + 2),
            host_rules: Vec::new(),
        };
        let peer = format!("{}n", n.veth);
        run("ip", &["netns", "add", &n.name]);
        run(
            "ip",
            &[
                "link", "add", &n.veth, "type", "veth", "peer", "name", &peer, "netns", &n.name,
            ],
        );
        run(
            "ip",
            &["addr", "add", &format!("{}/30", n.host_ip), "dev", &n.veth],
        );
        run("ip", &["link", "set", &n.veth, "up"]);
        run("ip", &["-n", &n.name, "link", "set", "lo", "up"]);
        run(
            "ip",
            &[
                "-n",
                &n.name,
                "addr",
                "add",
                &format!("{}/30", n.ns_ip),
                "dev",
                &peer,
            ],
        );
        run("ip", &["-n", &n.name, "link", "set", &peer, "up"]);
        n
    }

    /// `iptables ARGS` inside the namespace.
    fn iptables(&self, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.name, "iptables"];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Drops what arrives over the link, in both directions: inside the
    /// namespace (INPUT) and here (INPUT from the veth only). A DROP in an
    /// OUTPUT chain would fail the sender's `sendto` with EPERM instead of
    /// losing the packet on the wire. `matcher` e.g. `-m statistic …`.
    fn drop_arriving(&mut self, matcher: &[&str]) {
        let mut inside = vec!["-A", "INPUT"];
        inside.extend_from_slice(matcher);
        inside.extend_from_slice(&["-j", "DROP"]);
        self.iptables(&inside);
        let veth = self.veth.clone();
        let mut here = vec!["-i", veth.as_str()];
        here.extend_from_slice(matcher);
        self.drop_here(&here);
    }

    /// `iptables -A INPUT RULE -j DROP` here, marked with a comment naming
    /// the namespace, deleted on drop.
    fn drop_here(&mut self, rule: &[&str]) {
        let mut here: Vec<String> = vec!["INPUT".to_string()];
        here.extend(rule.iter().map(|s| s.to_string()));
        here.extend(
            ["-m", "comment", "--comment", &self.name, "-j", "DROP"]
                .iter()
                .map(|s| s.to_string()),
        );
        let mut add = vec!["-A"];
        add.extend(here.iter().map(String::as_str));
        run("iptables", &add);
        self.host_rules.push(here);
    }

    /// Packets dropped by the DROP rules so far, on both ends.
    fn dropped(&self) -> u64 {
        let count = |table: String, only: Option<&str>| -> u64 {
            table
                .lines()
                .filter(|l| l.contains("DROP") && !l.starts_with("Chain"))
                .filter(|l| only.is_none_or(|v| l.contains(v)))
                .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
                .sum()
        };
        count(self.iptables(&["-L", "-v", "-x", "-n"]), None)
            + count(
                run("iptables", &["-L", "INPUT", "-v", "-x", "-n"]),
                Some(&format!("/* {} */", self.name)),
            )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for rule in &self.host_rules {
            let _ = Command::new("iptables").arg("-D").args(rule).output();
        }
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .output();
    }
}

/// A gateway whose UDP listener is on the veth's host end, its carrier the
/// sipp UAS at `carrier`, its PBX trunk admitting `pbx_ip`; `rfc_timers`:
/// RFC 3261's T1 = 500 ms (and T2, T4) instead of the harness's fast 50 ms.
async fn gateway(
    ns: &Netns,
    carrier: SocketAddr,
    pbx_ip: &str,
    rfc_timers: bool,
    extra: &str,
) -> Gw {
    let mut text = config_text(&[(carrier, "udp")], &format!("{pbx_ip}/32")).replacen(
        r#"{ transport = "udp", address = "127.0.0.1:0" }"#,
        &format!(r#"{{ transport = "udp", address = "{}:0" }}"#, ns.host_ip),
        1,
    );
    if rfc_timers {
        text = text
            .replace("t1_ms = 50", "t1_ms = 500")
            .replace("t2_ms = 400", "t2_ms = 4000")
            .replace("t4_ms = 500", "t4_ms = 5000");
    }
    start(&format!("{text}{extra}")).await
}

/// Polls the gateway's metrics (bounded) until `completed` calls completed and none is active.
async fn wait_calls_done(gw: &Gw, completed: f64, within: Duration) -> String {
    let key = format!(
        "trunkgate_calls_total{{trunk=\"{DEMO_TRUNK}\",direction=\"outbound\",status=\"completed\"}}"
    );
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let text = metrics(gw.http).await;
        let done = metric_value(&text, &key);
        let active = metric_value(&text, "trunkgate_calls_active");
        if done == completed && active == 0.0 {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after {within:?}: completed {done} (want {completed}), active {active} (want 0)\n{}",
            text.lines()
                .filter(|l| l.starts_with("trunkgate_calls_total") || l.contains("reason"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A carrier that answers every INVITE with 200 at once and keeps its RFC 3261
/// UAS duties over a lossy link, which sipp's built-in UAS does not (it
/// aborts a call on a retransmitted INVITE after its 200): the 200 is sent
/// again for each INVITE retransmission and retransmitted from T1 doubling to
/// T2 until the ACK (for at most 64 x T1), every BYE gets 200. Runs until `stop`.
async fn rfc_carrier(ua: Ua, stop: tokio::sync::watch::Receiver<bool>) {
    use std::collections::HashMap;
    const T1: Duration = Duration::from_millis(500);
    const T2: Duration = Duration::from_secs(4);
    struct Pending {
        ok: String,
        to: SocketAddr,
        next: tokio::time::Instant,
        every: Duration,
        until: tokio::time::Instant,
        acked: bool,
    }
    let mut calls: HashMap<String, Pending> = HashMap::new();
    let mut n = 0u32;
    while !*stop.borrow() {
        if let Some((m, from)) = ua.recv_within(Duration::from_millis(20)).await {
            let id = hdr(&m, "Call-ID");
            match m.method().map(|x| x.as_str().to_string()).as_deref() {
                Some("INVITE") => {
                    let now = tokio::time::Instant::now();
                    let p = calls.entry(id).or_insert_with(|| {
                        n += 1;
                        let contact = format!("sip:carrier@{}", ua.addr);
                        Pending {
                            ok: reply(
                                &m,
                                200,
                                "OK",
                                Some(&format!("car{n}")),
                                Some(&contact),
                                &sdp_at(ua.addr, "car"),
                            ),
                            to: from,
                            next: now + T1,
                            every: T1,
                            until: now + T1 * 64,
                            acked: false,
                        }
                    });
                    let ok = p.ok.clone();
                    ua.send(from, &ok).await;
                }
                Some("ACK") => {
                    if let Some(p) = calls.get_mut(&id) {
                        p.acked = true;
                    }
                }
                Some("BYE") => ua.ok(from, &m).await,
                _ => {}
            }
        }
        let now = tokio::time::Instant::now();
        for p in calls.values_mut() {
            if !p.acked && now >= p.next && now < p.until {
                ua.send(p.to, &p.ok).await;
                p.every = (p.every * 2).min(T2);
                p.next = now + p.every;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_loss_on_both_legs_still_completes_100_calls() {
    const CALLS: u32 = 100;
    let mut ns = Netns::new("l");
    let scratch = Scratch::new("chaos-loss");
    let dir = scratch.0.as_path();
    // The carrier: here, on loopback; the PBX (sipp) in the namespace.
    let carrier = Ua::new().await;
    let carrier_addr = carrier.addr;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let carrier_task = tokio::spawn(rfc_carrier(carrier, stop_rx));
    // RFC timers as sipp has them: with the harness's T1 = 50 ms a server
    // transaction would forget a BYE (Timer J = 64 x T1 = 3.2 s) before sipp's
    // fourth retransmission of it (3.5 s) and answer 481.
    let gw = gateway(&ns, carrier_addr, &ns.ns_ip, true, "").await;

    // 10 % of the packets lost each way on both legs: PBX leg on the veth
    // (both ends' INPUT), carrier leg on loopback by the carrier's port.
    let loss = [
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        "0.1",
    ];
    let mut pbx_leg = vec!["-p", "udp"];
    pbx_leg.extend_from_slice(&loss);
    ns.drop_arriving(&pbx_leg);
    let port = carrier_addr.port().to_string();
    for dir_match in ["--dport", "--sport"] {
        let mut rule = vec!["-i", "lo", "-p", "udp", dir_match, port.as_str()];
        rule.extend_from_slice(&loss);
        ns.drop_here(&rule);
    }

    let target = gw.udp.to_string();
    let calls = CALLS.to_string();
    // sipp gives up a transaction after this many retransmissions (default 5-7):
    // with 10 % loss each way a round trip fails 19 % of the time.
    // sipp's uac with responses matched by transaction (tests/data/chaos-uac.xml):
    // the built-in one takes a retransmitted 200 to the INVITE for the BYE's 200,
    // and its call "succeeds" though neither its lost ACK nor its lost BYE ever
    // reached the gateway.
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/chaos-uac.xml");
    #[rustfmt::skip]
    let uac_args = [
        "-sf", scenario, "-s", DIALED, &target, "-p", "5070", "-t", "u1",
        "-m", &calls, "-r", "10", "-d", "200",
        "-max_invite_retrans", "12", "-max_non_invite_retrans", "12",
    ];
    let mut uac = Sipp::spawn_at(
        "uac",
        dir,
        Some(&ns.name),
        &ns.ns_ip,
        9001,
        9200,
        150,
        &uac_args,
    );
    let status = uac.wait(Duration::from_secs(160)).await;
    assert_eq!(
        (uac.stat("SuccessfulCall(C)"), uac.stat("FailedCall(C)")),
        (u64::from(CALLS), 0),
        "sipp uac (exit {status:?}):\n{}",
        uac.screen()
    );
    let dropped = ns.dropped();
    assert!(
        dropped >= 50,
        "only {dropped} packets dropped: the links were not lossy"
    );
    // Every call completed on the gateway too, and none is left holding a slot.
    wait_calls_done(&gw, f64::from(CALLS), Duration::from_secs(40)).await;
    eprintln!("{CALLS} calls completed over 10 % lossy links; {dropped} packets dropped");
    let _ = stop_tx.send(true);
    let _ = carrier_task.await;
    gw.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_black_holed_mid_call_is_torn_down_by_the_rtp_timeout() {
    let mut ns = Netns::new("b");
    let scratch = Scratch::new("chaos-blackhole");
    let dir = scratch.0.as_path();
    let carrier: SocketAddr = format!("{}:5060", ns.ns_ip).parse().unwrap();
    // The carrier answers and echoes the RTP it gets (`-rtp_echo` on port 9100).
    let _uas = Sipp::spawn_at(
        "uas",
        dir,
        Some(&ns.name),
        &ns.ns_ip,
        9000,
        9100,
        60,
        &["-sn", "uas", "-p", "5060", "-t", "u1", "-aa", "-rtp_echo"],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let gw = gateway(
        &ns,
        carrier,
        &ns.host_ip,
        false,
        "\n[media]\nrtp_timeout_s = 2\n",
    )
    .await;

    // The PBX: on the host end of the veth, beside the gateway.
    let pbx = Ua::bind(&format!("{}:0", ns.host_ip)).await;
    let pbx_rtp = RtpPeer::bind(&format!("{}:0", ns.host_ip)).await;
    let id = "chaos-blackhole";
    let offer = sdp_at(pbx_rtp.addr, "pbx");
    pbx.send_invite_sdp(gw.udp, id, DIALED, "z9hG4bKbh1", &offer)
        .await;
    let ok = pbx.ack_200(gw.udp).await;
    let relay = sdp_target(ok.body());

    // Media flows: the carrier echoes what the PBX sends.
    let mut seq = 1u16;
    let mut echoed = 0;
    for _ in 0..30 {
        pbx_rtp
            .send(relay, 0, seq, u32::from(seq) * 160, 7, &[0x55; 160])
            .await;
        seq += 1;
        if pbx_rtp
            .recv_within(Duration::from_millis(50))
            .await
            .is_some()
        {
            echoed += 1;
        }
    }
    assert!(
        echoed >= 10,
        "only {echoed} of 30 packets came back before the black hole"
    );

    // The carrier vanishes: everything to and from it is dropped.
    ns.drop_arriving(&[]);
    // The PBX keeps talking; the carrier's leg is silent: BYE within the timeout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    let bye = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no BYE to the PBX 8 s after the carrier went dark (rtp_timeout_s = 2)"
        );
        pbx_rtp
            .send(relay, 0, seq, u32::from(seq) * 160, 7, &[0x55; 160])
            .await;
        seq += 1;
        if let Some((m, _)) = pbx.recv_within(Duration::from_millis(50)).await {
            if m.method().map(|x| x.as_str()) == Some("BYE") {
                break m;
            }
        }
    };
    pbx.ok(gw.udp, &bye).await;
    // The BYE toward the carrier goes unanswered; the call still ends and
    // frees its slot (that BYE gives up after 64 x T1).
    let text = wait_calls_done(&gw, 1.0, Duration::from_secs(10)).await;
    assert_eq!(
        metric_value(&text, "trunkgate_media_rtp_timeouts_total"),
        1.0
    );
    assert!(ns.dropped() > 0, "the black hole dropped nothing");
    gw.gw.shutdown().await;
}
