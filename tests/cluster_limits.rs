//! Cluster-wide call limits over real sockets: a real `redis-server` started
//! here in a temp dir on a free loopback port, and two gateway processes
//! sharing it. A trunk limit of 2 holds across the nodes (the third call gets
//! 503); a SIGKILLed node's slots come back within `lease_ttl_s`; a Redis
//! restart leaves the counts right (live leases re-asserted); while Redis is
//! down `on_redis_down` decides (reject: 503; local: counted on the node).
//! Inbound, the third call is busy (486 after the busy tone). Kamailio's
//! dispatcher (the deploy/cluster example) in front of two nodes keeps calls
//! flowing when one is SIGKILLed.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const TTL_S: u64 = 3;

/// A `redis-server` without persistence: a restart loses every key.
fn redis(port: u16, dir: &Path) -> Proc {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server runs (Debian package redis-server)");
    Proc(child)
}

/// A Redis on a free loopback port, listening: its port and process.
async fn redis_running(dir: &Path) -> (u16, Proc) {
    let port = free_port();
    let proc = redis(port, dir);
    wait_tcp(format!("127.0.0.1:{port}").parse().unwrap(), "redis").await;
    (port, proc)
}

async fn wait_tcp(addr: SocketAddr, what: &str) {
    wait_tcp_within(addr, what, Duration::from_secs(15)).await;
}

struct Node {
    proc: Proc,
    sip: SocketAddr,
    http: SocketAddr,
    log: PathBuf,
}

async fn node(name: &str, carrier: SocketAddr, redis_port: u16, on_down: &str) -> Node {
    node_with(name, carrier, redis_port, on_down, "").await
}

/// An inbound trunk limited to 2 calls delivering [`DID`] to `pbx`, with calls
/// from `carrier_src`; busy tone 1 s.
fn inbound_extra(pbx: SocketAddr) -> String {
    format!(
        "\n[[trunks]]\ntrunk_id = \"{IN_TRUNK}\"\nstatus = \"active\"\ndirection = \"inbound\"\nsimultaneous_call_limit = 2\n[trunks.inbound]\ndestination = \"{pbx}\"\n\n[[numbers]]\nno = \"{DID}\"\nassigned_to = \"Trunks/{IN_TRUNK}\"\n"
    )
}

async fn node_with(
    name: &str,
    carrier: SocketAddr,
    redis_port: u16,
    on_down: &str,
    extra: &str,
) -> Node {
    for _ in 0..3 {
        if let Some(n) = try_node(name, carrier, redis_port, on_down, extra).await {
            return n;
        }
    }
    panic!("node {name} did not start in 3 tries");
}

/// 40 media ports per node from this engineer's fixed range 64500-64999,
/// outside the default media range and the kernel's ephemeral ports.
fn media_ports() -> (u16, u16) {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let slot = NEXT.fetch_add(1, Ordering::Relaxed) % 12;
    let min = 64500 + slot * 40;
    (min, min + 39)
}

/// One start: `None` when the process exited before listening (a port taken
/// between choosing and binding it); the caller tries new ports.
async fn try_node(
    name: &str,
    carrier: SocketAddr,
    redis_port: u16,
    on_down: &str,
    extra: &str,
) -> Option<Node> {
    let dir = temp_dir(&format!("cluster-{name}"));
    let sip: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (pmin, pmax) = media_ports();
    let text = config_text_in(&[(carrier, "udp")], "127.0.0.0/8", &dir);
    let mut text = on_fixed_ports(&text, sip, http)
        .replace(
            "description = \"test trunk\"",
            "description = \"test trunk\"\nsimultaneous_call_limit = 2",
        )
        .replace(
            "priority = 10\n",
            &format!("priority = 10\ninbound_sources = [\"{carrier}\"]\n"),
        );
    text.push_str(extra);
    text.push_str(&format!(
        "\n[media]\nport_min = {pmin}\nport_max = {pmax}\nbusy_tone_s = 1\n"
    ));
    text.push_str(&format!(
        "\n[cluster]\nnode_id = \"{name}\"\nlease_ttl_s = {TTL_S}\non_redis_down = \"{on_down}\"\n"
    ));
    let file = dir.join("trunkgate.toml");
    std::fs::write(&file, text).unwrap();
    let log = dir.join("gateway.log");
    // The URL comes from the environment, as a secret would.
    let url = format!("redis://127.0.0.1:{redis_port}/0");
    let proc = spawn_gateway(
        env!("CARGO_BIN_EXE_trunkgate"),
        &file,
        &log,
        &[("TRUNKGATE_REDIS_URL", url)],
    );
    let mut n = Node {
        proc,
        sip,
        http,
        log,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(http).await.is_err() {
        if let Ok(Some(_)) = n.proc.0.try_wait() {
            let l = std::fs::read_to_string(&n.log).unwrap_or_default();
            eprintln!("node {name} exited at start, retrying:\n{l}");
            return None;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gateway not listening"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(n)
}

/// An INVITE from a fresh PBX to `node`: `true` when admitted (100 Trying, the
/// carrier rings), `false` on 503.
async fn call(node: &Node, carrier: &Ua, id: &str) -> (bool, Option<Ua>) {
    match call_through(node.sip, carrier, id, DIALED, 180, "Ringing").await {
        Ok(pbx) => (true, Some(pbx)),
        Err(503) => (false, None),
        Err(c) => panic!("{id}: {c}, not 100 or 503"),
    }
}

async fn zcard(redis_port: u16) -> Option<i64> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{redis_port}/0")).ok()?;
    let mut c = client.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("ZCARD")
        .arg(format!("trunkgate:calls:{DEMO_TRUNK}"))
        .query_async(&mut c)
        .await
        .ok()
}

async fn wait_zcard(redis_port: u16, want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = zcard(redis_port).await;
        if got == Some(want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "leases in redis {got:?}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_redis_up(http: SocketAddr, want: f64) {
    let within = Duration::from_secs(20);
    wait_metric(http, "trunkgate_cluster_redis_up", want, within).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_of_two_holds_across_nodes_and_a_killed_node_frees_its_slots() {
    let dir = temp_dir("cluster-redis");
    let (rport, _redis) = redis_running(&dir).await;
    let carrier = Ua::new().await;
    let mut a = node("sbc-a", carrier.addr, rport, "local").await;
    let b = node("sbc-b", carrier.addr, rport, "local").await;

    let (ok1, _p1) = call(&a, &carrier, "cl-1").await;
    let (ok2, _p2) = call(&a, &carrier, "cl-2").await;
    assert!(ok1 && ok2, "two calls fit the limit");
    assert_eq!(zcard(rport).await, Some(2));
    // The third call is refused on either node: the limit is cluster-wide.
    let (ok3, _) = call(&b, &carrier, "cl-3").await;
    assert!(!ok3, "third call on node B refused");
    let (ok4, _) = call(&a, &carrier, "cl-4").await;
    assert!(!ok4, "third call on node A refused");
    // Every series carries the node's id.
    let text = metrics(b.http).await;
    assert!(
        text.contains("trunkgate_build_info{node_id=\"sbc-b\",version=\"0.1.0\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("trunkgate_cluster_redis_up{node_id=\"sbc-b\"} 1"),
        "{text}"
    );
    for line in text.lines().filter(|l| l.starts_with("trunkgate_")) {
        assert!(line.contains("node_id=\"sbc-b\""), "{line}");
    }
    assert_eq!(metric_value(&text, "trunkgate_cluster_redis_up"), 1.0);

    // Node A dies with both calls up: its leases stop counting within the TTL.
    a.proc.0.kill().expect("SIGKILL node A");
    let _ = a.proc.0.wait();
    let killed = std::time::Instant::now();
    let mut admitted = false;
    for i in 0..60 {
        let (ok, _p) = call(&b, &carrier, &format!("cl-after-{i}")).await;
        if ok {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted, "node B never got node A's slots back");
    // A figure for the README, not an assertion.
    eprintln!(
        "slots back after SIGKILL: {:?} (lease_ttl_s = {TTL_S})",
        killed.elapsed()
    );
    let log = std::fs::read_to_string(&b.log).unwrap_or_default();
    assert!(
        !log.contains(&format!("127.0.0.1:{rport}")),
        "the redis URL is never logged:\n{log}"
    );
}

/// Inbound: the third call on a trunk limited to 2 is busy (486 after the busy
/// tone) whichever node it reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_third_call_is_busy_across_nodes() {
    let dir = temp_dir("cluster-redis");
    let (rport, _redis) = redis_running(&dir).await;
    let carrier = Ua::new().await;
    let pbx = Ua::new().await;
    let extra = inbound_extra(pbx.addr);
    let a = node_with("sbc-a", carrier.addr, rport, "local", &extra).await;
    let b = node_with("sbc-b", carrier.addr, rport, "local", &extra).await;
    for (n, id) in [(&a, "in-1"), (&b, "in-2")] {
        carrier
            .send_invite(n.sip, id, DID, &format!("z9hG4bK{id}"))
            .await;
        answer_next_invite(&pbx, 180, "Ringing").await;
        let r = carrier.wait_response(180).await;
        assert_eq!(hdr(&r, "Call-ID"), id);
    }
    carrier.send_invite(b.sip, "in-3", DID, "z9hG4bKin-3").await;
    let r = carrier.wait_response(486).await;
    assert_eq!(hdr(&r, "Call-ID"), "in-3", "the third inbound call is busy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_mid_calls_leaves_the_counts_right() {
    let dir = temp_dir("cluster-redis");
    let rport = free_port();
    let mut redis_proc = redis(rport, &dir);
    let raddr: SocketAddr = format!("127.0.0.1:{rport}").parse().unwrap();
    wait_tcp(raddr, "redis").await;
    let carrier = Ua::new().await;
    let a = node("sbc-a", carrier.addr, rport, "local").await;
    let b = node("sbc-b", carrier.addr, rport, "local").await;
    let (ok1, _p1) = call(&a, &carrier, "rr-1").await;
    let (ok2, _p2) = call(&b, &carrier, "rr-2").await;
    assert!(ok1 && ok2);
    wait_zcard(rport, 2).await;

    // Redis restarts empty; each node re-asserts its live lease.
    drop(redis_proc);
    redis_proc = redis(rport, &dir);
    wait_tcp(raddr, "redis").await;
    wait_zcard(rport, 2).await;
    wait_redis_up(a.http, 1.0).await;
    wait_redis_up(b.http, 1.0).await;
    let (ok3, _) = call(&a, &carrier, "rr-3").await;
    assert!(!ok3, "the limit still holds after the restart");
    let (ok4, _) = call(&b, &carrier, "rr-4").await;
    assert!(!ok4, "the limit still holds after the restart");
    drop(redis_proc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_follows_on_redis_down_with_one_log_line_per_change() {
    let dir = temp_dir("cluster-redis");
    let rport = free_port();
    let redis_proc = redis(rport, &dir);
    let raddr: SocketAddr = format!("127.0.0.1:{rport}").parse().unwrap();
    wait_tcp(raddr, "redis").await;
    let carrier = Ua::new().await;
    let strict = node("sbc-strict", carrier.addr, rport, "reject").await;
    let lenient = node("sbc-lenient", carrier.addr, rport, "local").await;
    drop(redis_proc);
    wait_redis_up(strict.http, 0.0).await;
    wait_redis_up(lenient.http, 0.0).await;

    let ready = |n: SocketAddr| async move {
        let r = reqwest::get(format!("http://{n}/health/ready"))
            .await
            .unwrap();
        let code = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        (code, body)
    };
    let (code, body) = ready(strict.http).await;
    assert_eq!(
        (code, &body["redis"]),
        (503, &serde_json::json!("down")),
        "{body}"
    );
    let (code, body) = ready(lenient.http).await;
    assert_eq!(
        (code, &body["redis"]),
        (200, &serde_json::json!("down")),
        "{body}"
    );
    assert_eq!(body["node_id"], "sbc-lenient");
    for i in 0..2 {
        let (ok, _) = call(&strict, &carrier, &format!("rd-s{i}")).await;
        assert!(!ok, "reject: 503 while redis is down");
    }
    // local: this node's own calls count against the limit of 2.
    let (ok1, _p1) = call(&lenient, &carrier, "rd-l1").await;
    let (ok2, _p2) = call(&lenient, &carrier, "rd-l2").await;
    let (ok3, _) = call(&lenient, &carrier, "rd-l3").await;
    assert!(ok1 && ok2 && !ok3, "local counting: {ok1} {ok2} {ok3}");
    let text = metrics(strict.http).await;
    assert_eq!(
        metric_value(
            &text,
            "trunkgate_cluster_down_admissions_total{result=\"rejected\"}"
        ),
        2.0,
        "{text}"
    );

    // Redis is back: the lenient node's two local calls are leases there now.
    let _redis = redis(rport, &dir);
    wait_tcp(raddr, "redis").await;
    wait_redis_up(strict.http, 1.0).await;
    wait_redis_up(lenient.http, 1.0).await;
    wait_zcard(rport, 2).await;
    let (code, body) = ready(strict.http).await;
    assert_eq!(
        (code, &body["redis"]),
        (200, &serde_json::json!("up")),
        "{body}"
    );
    let (ok, _) = call(&strict, &carrier, "rd-s9").await;
    assert!(!ok, "the lenient node's calls count cluster-wide");
    let log = std::fs::read_to_string(&strict.log).unwrap_or_default();
    assert_eq!(
        log.matches("redis unreachable").count(),
        1,
        "one line per change:\n{log}"
    );
    assert_eq!(
        log.matches("redis reachable again").count(),
        1,
        "one line per change:\n{log}"
    );
}

/// The deployment example: both node configs validate, and Kamailio accepts
/// its dispatcher config (`kamailio -c`).
#[test]
fn deploy_example_configs_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/cluster");
    for n in ["sbc-a.toml", "sbc-b.toml"] {
        let cfg = trunkgate::config::load_file(&dir.join(n))
            .unwrap_or_else(|e| panic!("{n} invalid:\n{e}"));
        assert!(cfg.cluster.redis_url.is_some(), "{n} shares a Redis");
        assert_eq!(cfg.trunks[0].simultaneous_call_limit, Some(10));
    }
    let list = dir.join("dispatcher.list");
    let out = Command::new("kamailio")
        .arg("-c")
        .arg("-f")
        .arg(dir.join("kamailio.cfg"))
        .arg("-A")
        .arg(format!("DS_LIST=\"{}\"", list.display()))
        .output()
        .expect("kamailio runs (Debian package kamailio)");
    assert!(
        out.status.success(),
        "kamailio -c: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The deployment example running: Kamailio (deploy/cluster/kamailio.cfg, its
/// dispatcher probing both nodes with OPTIONS) in front of two nodes, sipp
/// placing calls through it to a sipp carrier. Node A is SIGKILLed mid-run:
/// at most the calls it held fail, and every later call is carried by node B
/// (an INVITE Kamailio sends to the dead node fails over after `fr_timer`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kamailio_dispatcher_keeps_calls_flowing_when_a_node_is_killed() {
    use common::sipp::{Scratch, Sipp};
    const CALLS: u64 = 40;
    let dir = temp_dir("cluster-kamailio");
    let (rport, _redis) = redis_running(&dir).await;
    let scratch = Scratch::new("cluster-kamailio");
    let sdir = scratch.0.as_path();

    // The carrier: sipp's UAS.
    let uas_port = free_udp_port();
    let carrier: SocketAddr = format!("127.0.0.1:{uas_port}").parse().unwrap();
    let uas_port = uas_port.to_string();
    let _uas = Sipp::spawn(
        "uas",
        sdir,
        &["-sn", "uas", "-p", &uas_port, "-t", "u1", "-aa"],
    );
    let mut a = node("sbc-a", carrier, rport, "local").await;
    let b = node("sbc-b", carrier, rport, "local").await;

    // Kamailio with the shipped config and a dispatcher list of the two nodes.
    let list = dir.join("dispatcher.list");
    std::fs::write(
        &list,
        format!(
            "1 sip:{} 0 0 duid=sbc-a\n1 sip:{} 0 0 duid=sbc-b\n",
            a.sip, b.sip
        ),
    )
    .unwrap();
    let kport = free_udp_port();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/cluster/kamailio.cfg");
    let kam_log = dir.join("kamailio.log");
    let _kamailio = Kamailio(
        Command::new("kamailio")
            .args(["-DD", "-E", "-f"])
            .arg(&cfg)
            .arg("-A")
            .arg(format!("LISTEN=udp:127.0.0.1:{kport}"))
            .arg("-A")
            .arg(format!("DS_LIST=\"{}\"", list.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&kam_log).unwrap())
            .spawn()
            .expect("kamailio runs (Debian package kamailio)"),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 40 calls at 2 a second through Kamailio, each held 100 ms.
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/uac-record-route.xml"
    );
    let target = format!("127.0.0.1:{kport}");
    let uac_port = free_udp_port().to_string();
    let calls = CALLS.to_string();
    #[rustfmt::skip]
    let mut uac = Sipp::spawn(
        "uac",
        sdir,
        &[
            "-sf", scenario, "-s", DIALED, &target, "-p", &uac_port, "-t", "u1",
            "-m", &calls, "-r", "2", "-d", "100",
        ],
    );
    let completed = "trunkgate_calls_total{trunk=\"6f1c2b1e-8a51-4d2b-9c3e-1a2b3c4d5e6f\",direction=\"outbound\",status=\"completed\"}";
    // Both nodes carry calls before the kill.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (na, nb) = (
            metric_value(&metrics(a.http).await, completed),
            metric_value(&metrics(b.http).await, completed),
        );
        if na >= 3.0 && nb >= 3.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "calls not spread over both nodes: A {na}, B {nb}\nkamailio:\n{}",
            std::fs::read_to_string(&kam_log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let a_before = metric_value(&metrics(a.http).await, completed);
    a.proc.0.kill().expect("SIGKILL node A");
    let _ = a.proc.0.wait();
    let b_before = metric_value(&metrics(b.http).await, completed);

    let status = uac.wait(Duration::from_secs(90)).await;
    let (ok, failed) = (uac.stat("SuccessfulCall(C)"), uac.stat("FailedCall(C)"));
    // A call held by node A when it died (held 100 ms at 2 calls a second:
    // at most one, plus one in set-up) is lost; nothing else.
    assert!(
        ok + failed == CALLS && failed <= 2,
        "{ok} ok, {failed} failed (exit {status:?}):\n{}",
        uac.screen()
    );
    // Every call sipp saw succeed was completed by a node: A's before the
    // kill (two may complete between that reading and the kill), B's all run.
    let b_after = metric_value(&metrics(b.http).await, completed);
    assert!(
        a_before + b_after + 2.0 >= ok as f64 && b_after > b_before,
        "sipp {ok} ok; node A completed {a_before} before the kill, node B {b_before} then {b_after}"
    );
    eprintln!(
        "through Kamailio: {ok} ok, {failed} failed; node B carried {} calls after node A was killed",
        b_after - b_before
    );
}

/// No drift: two nodes' lease holders (the gateway's own `Leases`, on a real
/// Redis) ask for 1,000,000 leases on one trunk limited to 10, 32 at a time,
/// each dropped as soon as it is granted. Redis never grants more than the
/// limit (counted here from the grants), and once every lease is dropped the
/// trunk's set is empty again. Most asks find the trunk full: a release
/// is sent by the node's keeper a moment later, while the other asks are in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_leases_leave_no_drift() {
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use std::sync::Arc;
    use trunkgate::cluster::{Acquired, ClusterMetrics, Leases};
    use trunkgate::config::{ClusterSettings, OnRedisDown};
    const TOTAL: u64 = 1_000_000;
    const LIMIT: u32 = 10;
    let dir = temp_dir("cluster-drift");
    let (rport, _redis) = redis_running(&dir).await;
    let trunk: uuid::Uuid = DEMO_TRUNK.parse().unwrap();
    let nodes: Vec<Arc<Leases>> = ["drift-a", "drift-b"]
        .iter()
        .map(|id| {
            let mut registry = prometheus_client::registry::Registry::default();
            Leases::start(
                &ClusterSettings {
                    node_id: id.to_string(),
                    redis_url: Some(format!("redis://127.0.0.1:{rport}/0")),
                    lease_ttl: Duration::from_secs(30),
                    on_redis_down: OnRedisDown::Reject,
                },
                ClusterMetrics::register(&mut registry),
            )
            .expect("redis url")
            .expect("leases")
        })
        .collect();
    let live = Arc::new(AtomicU32::new(0));
    let (granted, full, peak) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU32::new(0)),
    );
    let next = Arc::new(AtomicU64::new(0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let mut workers = Vec::new();
    for w in 0..32 {
        let node = Arc::clone(&nodes[w % 2]);
        let (live, granted, full, peak, next) = (
            Arc::clone(&live),
            Arc::clone(&granted),
            Arc::clone(&full),
            Arc::clone(&peak),
            Arc::clone(&next),
        );
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < TOTAL {
                assert!(tokio::time::Instant::now() < deadline, "too slow");
                match node.acquire(trunk, LIMIT).await {
                    Acquired::Granted(lease) => {
                        let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::Relaxed);
                        granted.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                        // Counted down before the release is sent: Redis may
                        // lag behind (refuse more), never run ahead.
                        live.fetch_sub(1, Ordering::SeqCst);
                        drop(lease);
                    }
                    Acquired::Full => {
                        full.fetch_add(1, Ordering::Relaxed);
                    }
                    Acquired::Down => panic!("redis down"),
                }
            }
        }));
    }
    for w in workers {
        w.await.expect("worker");
    }
    let (g, f) = (
        granted.load(Ordering::Relaxed),
        full.load(Ordering::Relaxed),
    );
    assert_eq!(g + f, TOTAL);
    assert!(g > TOTAL / 50, "only {g} of {TOTAL} granted");
    assert!(peak.load(Ordering::Relaxed) <= LIMIT);
    // Every lease dropped: the set drains to empty (releases are pipelined
    // by each node's keeper).
    wait_zcard(rport, 0).await;
    eprintln!("{TOTAL} leases: {g} granted, {f} refused at the limit, none left over");
}

/// Kamailio's main process, stopped with SIGTERM on drop so that it stops the
/// children it forked (SIGKILL would leave them running), then reaped.
struct Kamailio(std::process::Child);

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
