//! The shared PostgreSQL store over real sockets: a real PostgreSQL started
//! here (initdb in a temp dir, unprivileged when the tests run as root, a
//! free loopback port in 61000-62999) and two gateway processes sharing it.
//! Two nodes starting at once migrate it once; a trunk created through node
//! A's API carries a call on node B within about a second; call-log records
//! of both nodes are read through either; PostgreSQL stopped mid-load:
//! calls keep routing, the API answers 503 with the spec's error body,
//! `/health/ready` says the store is down, and once it is back every call's
//! record is stored.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

const KEY: &str = "pg-store-test-key";

/// The newest PostgreSQL server binaries (Debian package postgresql).
fn pg_bin(name: &str) -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let p = e.path().join("bin").join(name);
            p.exists().then_some((v, p))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, p)) => p,
        None => panic!(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/{name}): \
             install the Debian package postgresql (.ci/run does)"
        ),
    }
}

/// (uid, gid) to run PostgreSQL as: `nobody` when we are root (initdb and
/// postgres refuse root), else none (ourselves).
fn unprivileged() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self").expect("/proc/self").uid();
    if me != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("a user nobody to run postgres as");
    let f: Vec<&str> = line.split(':').collect();
    Some((f[2].parse().expect("uid"), f[3].parse().expect("gid")))
}

fn as_user(cmd: &mut Command, user: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
}

fn chown_all(path: &Path, user: Option<(u32, u32)>) {
    let Some((uid, gid)) = user else { return };
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    if path.is_dir() {
        for e in std::fs::read_dir(path).expect("read_dir").flatten() {
            chown_all(&e.path(), Some((uid, gid)));
        }
    }
}

/// A loopback TCP port free now in 61000-62999 (outside the kernel's
/// ephemeral range and the other tests' fixed ranges).
/// Each call starts probing elsewhere, so tests of one process starting
/// servers at the same moment do not pick the same port.
fn free_pg_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let start = (std::process::id().wrapping_mul(37) + n * 211) % 2000;
    for i in 0..2000u32 {
        let p = 61000 + ((start + i * 7) % 2000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no free port in 61000-62999");
}

/// A PostgreSQL cluster in a temp dir; its server is stopped (fast
/// shutdown, then SIGKILL) when dropped.
struct Postgres {
    dir: PathBuf,
    port: u16,
    user: Option<(u32, u32)>,
    server: Option<std::process::Child>,
}

impl Postgres {
    fn start() -> Postgres {
        let dir = temp_dir("pg");
        let user = unprivileged();
        chown_all(&dir, user);
        let mut init = Command::new(pg_bin("initdb"));
        init.arg("-D")
            .arg(dir.join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("initdb.log")).expect("log"));
        as_user(&mut init, user);
        let ok = init.status().expect("initdb runs");
        assert!(
            ok.success(),
            "initdb failed:\n{}",
            std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default()
        );
        let mut pg = Postgres {
            dir,
            port: free_pg_port(),
            user,
            server: None,
        };
        // A port taken between the probe and the bind: try another.
        for _ in 0..5 {
            if pg.try_run() {
                return pg;
            }
            pg.port = free_pg_port();
        }
        panic!(
            "postgres did not start on 5 ports:\n{}",
            std::fs::read_to_string(pg.dir.join("postgres.log")).unwrap_or_default()
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server again on the same data dir and port.
    fn run(&mut self) {
        assert!(
            self.try_run(),
            "postgres did not restart on port {}:\n{}",
            self.port,
            std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
        );
    }

    /// Starts the server on the data dir and port; true once it is ready
    /// (its `postmaster.pid` names our child and says `ready`: a listener on
    /// the port could be someone else's), false if it exited (port taken).
    fn try_run(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .expect("log");
        let mut cmd = Command::new(pg_bin("postgres"));
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-k")
            .arg(&self.dir)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-c", "fsync=off", "-c", "max_connections=60"])
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        as_user(&mut cmd, self.user);
        let mut child = cmd.spawn().expect("postgres starts");
        let pid = child.id().to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let status =
                std::fs::read_to_string(self.dir.join("data/postmaster.pid")).unwrap_or_default();
            let lines: Vec<&str> = status.lines().map(str::trim).collect();
            let ours_ready = lines.first() == Some(&pid.as_str())
                && lines.get(7) == Some(&"ready")
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if ours_ready {
                self.server = Some(child);
                return true;
            }
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            assert!(std::time::Instant::now() < deadline, "postgres not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fast shutdown (SIGINT to the postmaster, by its PID): clients are
    /// disconnected at once. Waits for it to exit (10 s, then SIGKILL).
    fn stop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    async fn client(&self) -> tokio_postgres::Client {
        let (c, conn) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("test connects to postgres");
        tokio::spawn(conn);
        c
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        // The cluster is ~40 MB; the logs stay for a failed test's reader.
        let _ = std::fs::remove_dir_all(self.dir.join("data"));
    }
}

struct Node {
    proc: Proc,
    sip: SocketAddr,
    http: SocketAddr,
    log: PathBuf,
}

/// 40 media ports per node from 63000-63479 (no other test uses them).
fn media_ports() -> (u16, u16) {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let slot = NEXT.fetch_add(1, Ordering::Relaxed) % 12;
    let min = 63000 + slot * 40;
    (min, min + 39)
}

/// Spawns a gateway process on the shared store, seeded with no trunk
/// (the config's demo trunk is left out). The store URL and the API key
/// come from the environment.
fn spawn_node(name: &str, carrier: SocketAddr, pg: &Postgres) -> Node {
    let dir = temp_dir(&format!("pg-{name}"));
    let sip: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (pmin, pmax) = media_ports();
    let full = config_text_in(&[(carrier, "udp")], "127.0.0.1/32", &dir);
    let no_trunk = full.split("\n[[trunks]]").next().unwrap_or_default();
    let mut text = on_fixed_ports(no_trunk, sip, http);
    text.push_str(&format!(
        "\n[media]\nport_min = {pmin}\nport_max = {pmax}\n\n[cluster]\nnode_id = \"{name}\"\n"
    ));
    let file = dir.join("trunkgate.toml");
    std::fs::write(&file, text).unwrap();
    let log = dir.join("gateway.log");
    let envs = [
        ("TRUNKGATE_STORE_URL", pg.url()),
        ("TRUNKGATE_API_KEY", KEY.to_string()),
    ];
    Node {
        proc: spawn_gateway(env!("CARGO_BIN_EXE_trunkgate"), &file, &log, &envs),
        sip,
        http,
        log,
    }
}

async fn wait_listening(n: &mut Node, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(n.http).await.is_err() {
        if let Ok(Some(st)) = n.proc.0.try_wait() {
            panic!(
                "node {name} exited ({st}):\n{}",
                std::fs::read_to_string(&n.log).unwrap_or_default()
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node {name} not listening"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two nodes started at the same moment on one store.
async fn two_nodes(carrier: SocketAddr, pg: &Postgres) -> (Node, Node) {
    let mut a = spawn_node("sbc-a", carrier, pg);
    let mut b = spawn_node("sbc-b", carrier, pg);
    wait_listening(&mut a, "sbc-a").await;
    wait_listening(&mut b, "sbc-b").await;
    (a, b)
}

async fn api(
    method: reqwest::Method,
    n: &Node,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut rb = reqwest::Client::new()
        .request(method, format!("http://{}{path}", n.http))
        .header("X-API-Key", KEY)
        .timeout(Duration::from_secs(15));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("api request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap_or(Value::Null), headers)
}

async fn ready(n: &Node) -> (u16, Value) {
    let r = reqwest::get(format!("http://{}/health/ready", n.http))
        .await
        .expect("ready");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// A call from a fresh PBX through `node`: the gateway's final answer when
/// it refuses the call itself, or 486 when the call reached the carrier
/// (which answers every INVITE busy).
async fn call(node: &Node, carrier: &Ua, id: &str) -> u16 {
    match call_through(node.sip, carrier, id, DIALED, 486, "Busy Here").await {
        Ok(_) => 486,
        Err(c) => c,
    }
}

/// Every call-log record's call_id through `n`'s API, paging.
async fn logged_call_ids(n: &Node) -> Vec<String> {
    common::api::logged_call_ids(|path| async move {
        let (s, v, _) = api(reqwest::Method::GET, n, &path, None).await;
        (s, v)
    })
    .await
}

/// `count` calls alternating between the nodes, each reaching the carrier.
async fn load(a: &Node, b: &Node, carrier: &Ua, phase: &str, count: usize, ids: &mut Vec<String>) {
    for i in 0..count {
        let (n, name) = if i.is_multiple_of(2) {
            (a, "a")
        } else {
            (b, "b")
        };
        let id = format!("load-{phase}-{name}-{i}");
        assert_eq!(call(n, carrier, &id).await, 486, "{id} routed");
        ids.push(id);
    }
}

fn trunk_body() -> Value {
    json!({
        "direction": "outbound",
        "description": "created on node A",
        "outbound": {
            "authentication": [ { "source": "other", "value": "127.0.0.1/32" } ],
            "fax_support": "disabled"
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trunk_created_on_one_node_carries_calls_on_the_other_and_logs_are_shared() {
    let pg = Postgres::start();
    let carrier = Ua::new().await;
    // Both nodes start at once: one migrates and seeds, the other waits on
    // the advisory lock and finds the schema current.
    let (a, b) = two_nodes(carrier.addr, &pg).await;
    let c = pg.client().await;
    let versions: Vec<i64> = c
        .query("SELECT version FROM trunkgate_schema", &[])
        .await
        .expect("schema table")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![4], "one schema row at the latest version");
    let seeded: i64 = c
        .query_one("SELECT COUNT(*) FROM meta WHERE key = 'seeded'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seeded, 1);
    for n in [&a, &b] {
        let (s, v) = ready(n).await;
        assert_eq!(
            (s, &v["store"], &v["store_backend"]),
            (200, &json!("up"), &json!("postgres")),
            "{v}"
        );
    }

    // No trunk yet: node B refuses the PBX.
    assert_eq!(call(&b, &carrier, "pg-before").await, 403);
    let (s, v, _) = api(reqwest::Method::POST, &a, "/v1/Trunks", Some(trunk_body())).await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let created = std::time::Instant::now();
    let mut routed = None;
    for i in 0..40 {
        if call(&b, &carrier, &format!("pg-b-{i}")).await == 486 {
            routed = Some(created.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let routed = routed.expect("node B never routed on the trunk created on node A");
    eprintln!("trunk created on A carried a call on B after {routed:?}");
    assert!(
        routed < Duration::from_millis(1500),
        "node B took {routed:?} to see the trunk"
    );

    // Calls on both nodes; each node's API shows every record.
    let mut ids = Vec::new();
    for i in 0..3 {
        for (n, name) in [(&a, "a"), (&b, "b")] {
            let id = format!("pg-log-{name}-{i}");
            assert_eq!(call(n, &carrier, &id).await, 486);
            ids.push(id);
        }
    }
    for n in [&a, &b] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let got = logged_call_ids(n).await;
            if ids.iter().all(|id| got.contains(id)) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "records missing on {}: want {ids:?}, got {got:?}",
                n.http
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (s, v, _) = api(
            reqwest::Method::GET,
            n,
            "/v1/History/Logs/Calls/pg-log-a-0",
            None,
        )
        .await;
        assert_eq!((s, v["call_id"].as_str()), (200, Some("pg-log-a-0")), "{v}");
    }
    let by_node: Vec<(Option<String>, i64)> = c
        .query(
            "SELECT node_id, COUNT(*) FROM call_logs WHERE call_id LIKE 'pg-log-%' GROUP BY node_id ORDER BY node_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        by_node,
        vec![(Some("sbc-a".into()), 3), (Some("sbc-b".into()), 3)]
    );
    let log = std::fs::read_to_string(&a.log).unwrap_or_default();
    assert!(
        !log.contains(&pg.url()),
        "the store URL is never logged:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_load_loses_no_call_log_record() {
    let mut pg = Postgres::start();
    let carrier = Ua::new().await;
    let (a, b) = two_nodes(carrier.addr, &pg).await;
    let (s, v, _) = api(reqwest::Method::POST, &a, "/v1/Trunks", Some(trunk_body())).await;
    assert!(s == 200 || s == 201, "{s} {v}");
    // Both nodes route on it before the outage.
    for n in [&a, &b] {
        let mut ok = false;
        for i in 0..40 {
            if call(n, &carrier, &format!("warm-{}-{i}", n.http.port())).await == 486 {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ok, "{} never routed on the new trunk", n.http);
    }

    let mut ids = Vec::new();
    load(&a, &b, &carrier, "before", 10, &mut ids).await;
    pg.stop();
    let stopped = tokio::time::Instant::now();
    // Calls keep routing on the last snapshot while the store is down,
    // spread over 3 s (the writer backs off to its 2 s retry meanwhile).
    for i in 0..6 {
        load(
            &a,
            &b,
            &carrier,
            ["d0", "d1", "d2", "d3", "d4", "d5"][i],
            4,
            &mut ids,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(stopped.elapsed() >= Duration::from_secs(2));
    for n in [&a, &b] {
        let (s, v) = ready(n).await;
        assert_eq!((s, &v["store"]), (503, &json!("down")), "{v}");
        let text = metrics(n.http).await;
        assert_eq!(metric_value(&text, "trunkgate_store_up"), 0.0, "{text}");
        assert!(
            metric_value(&text, "trunkgate_call_log_queued") >= 1.0,
            "records wait in the queue:\n{text}"
        );
        for (method, path, body) in [
            (reqwest::Method::GET, "/v1/Trunks", None),
            (reqwest::Method::POST, "/v1/Trunks", Some(trunk_body())),
            (reqwest::Method::GET, "/v1/History/Logs/Calls", None),
        ] {
            let (s, v, h) = api(method, n, path, body).await;
            assert_eq!(s, 503, "{path}: {v}");
            assert_eq!(v["status"], 503, "{v}");
            assert_eq!(v["code"], 503001, "{v}");
            for k in ["ref_id", "message", "help", "user_message"] {
                assert!(v[k].as_str().is_some_and(|s| !s.is_empty()), "{k} in {v}");
            }
            assert!(h.contains_key("retry-after"), "{h:?}");
        }
    }
    pg.run();
    let restarted = tokio::time::Instant::now();
    load(&a, &b, &carrier, "after", 10, &mut ids).await;

    // Every record arrives once the store is back.
    let c = pg.client().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let n: i64 = c
            .query_one(
                "SELECT COUNT(DISTINCT call_id) FROM call_logs WHERE call_id = ANY($1)",
                &[&ids],
            )
            .await
            .unwrap()
            .get(0);
        if n as usize == ids.len() {
            eprintln!(
                "{} records stored, the last {:?} after postgres came back",
                ids.len(),
                restarted.elapsed()
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} of {} records stored",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for n in [&a, &b] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (s, v) = ready(n).await;
            if s == 200 && v["store"] == "up" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The queue gauge drops once the writer has counted its last batch.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let text = loop {
            let text = metrics(n.http).await;
            if metric_value(&text, "trunkgate_call_log_queued") == 0.0 {
                break text;
            }
            assert!(tokio::time::Instant::now() < deadline, "{text}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(metric_value(&text, "trunkgate_store_up"), 1.0, "{text}");
        assert_eq!(
            metric_value(&text, "trunkgate_call_log_dropped_total"),
            0.0,
            "{text}"
        );
        let got = logged_call_ids(n).await;
        let missing: Vec<&String> = ids.iter().filter(|id| !got.contains(id)).collect();
        assert!(
            missing.is_empty(),
            "missing through {}: {missing:?}",
            n.http
        );
    }
}

/// Record n of the parity set: 40 records a second apart from 2026-11-22
/// 10:00 UTC, with directions, numbers, trunks, connected seconds and a
/// repeated Call-ID spread over them; mixed time offsets in `start_time`.
fn record(n: u32) -> trunkgate::store::CallRecord {
    use trunkgate::store::{CallRecord, CallStatus, SipInfo};
    let t0 = 1_795_341_600_000i64; // 2026-11-22T10:00:00Z
    let start = t0 + i64::from(n) * 1000;
    let call_id = if n == 7 {
        "call-3".to_string()
    } else {
        format!("call-{n}")
    };
    let mut start_time = trunkgate::rfc3339::format_ms(start);
    if n.is_multiple_of(5) {
        // The same instant written with an offset: order and filters use the instant.
        let hour = &start_time[11..13];
        let h: u32 = hour.parse().unwrap();
        start_time = format!(
            "{}{:02}{}+02:00",
            &start_time[..11],
            h + 2,
            &start_time[13..start_time.len() - 1]
        );
    }
    CallRecord {
        id: uuid::Uuid::from_u128(u128::from(n) * 7919 % 1000 + 1),
        call_id: call_id.clone(),
        parent_call_id: None,
        caller_no: format!("caller-{}", n % 3),
        api_no: format!("api-{}", n % 5),
        start_time,
        end_time: trunkgate::rfc3339::format_ms(start + 500),
        direction: if n.is_multiple_of(2) {
            "inbound"
        } else {
            "outbound"
        }
        .into(),
        hangup_end: Some("caller".into()),
        duration: 500 + u64::from(n) * 1000,
        status: if n.is_multiple_of(3) {
            CallStatus::Completed
        } else {
            CallStatus::Busy
        },
        error: None,
        error_code: None,
        connect_time_sec: u64::from(n % 4) * 30,
        sip: SipInfo {
            call_id,
            response_code: 200,
        },
        service: "sip_trunking".into(),
        trunk_id: n.is_multiple_of(4).then(|| uuid::Uuid::from_u128(99)),
        reason: None,
        recording: None,
        quality: None,
    }
}

/// The call-log reads of the PostgreSQL store return exactly what the
/// SQLite store returns for the same records: every filter, the order, the
/// paging cursor, the latest record of a repeated Call-ID, the same
/// refusals of bad input.
#[test]
fn postgres_call_log_queries_match_sqlite() {
    use trunkgate::store::pg::{Health, PgLogSink, PgStore};
    use trunkgate::store::{calllog::writer::LogSink, CallLogQuery, CallLogStore};

    let pg = Postgres::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = PgStore::new(
        &pg.url(),
        "parity",
        Health::new(prometheus_client::metrics::gauge::Gauge::default()),
    )
    .unwrap();
    assert!(
        rt.block_on(store.init(&[], &[])).unwrap(),
        "first init seeds"
    );
    assert!(
        !rt.block_on(store.init(&[], &[])).unwrap(),
        "the second does not"
    );
    let dir = temp_dir("pg-parity");
    let mut lite = CallLogStore::open(&dir).unwrap();
    let mut sink = PgLogSink::new(&store).unwrap();
    let recs: Vec<_> = (0..40).map(record).collect();
    for chunk in recs.chunks(15) {
        lite.insert(chunk).unwrap();
        LogSink::insert(&mut sink, chunk).unwrap();
    }
    // A batch sent again (its commit lost with the connection) changes nothing.
    LogSink::insert(&mut sink, &recs[..15]).unwrap();

    let ts = |n: i64| trunkgate::rfc3339::format_ms(1_795_341_600_000 + n * 1000);
    // A query with the fields `set` sets, the rest default.
    let query = |set: &dyn Fn(&mut CallLogQuery)| {
        let mut q = CallLogQuery::default();
        set(&mut q);
        q
    };
    let queries = vec![
        CallLogQuery::default(),
        query(&|q| (q.begin, q.end) = (Some(ts(5)), Some(ts(25)))),
        query(&|q| q.begin = Some("2026-11-22T12:00:10+02:00".into())),
        query(&|q| q.direction = Some("inbound".into())),
        query(&|q| (q.caller_no, q.api_no) = (Some("caller-1".into()), Some("api-2".into()))),
        query(&|q| q.trunk_id = Some(uuid::Uuid::from_u128(99))),
        query(&|q| (q.min_connect_sec, q.direction) = (Some(60), Some("outbound".into()))),
        query(&|q| q.limit = 7),
    ];
    for q in &queries {
        let want = lite.query(q).unwrap();
        let got = rt.block_on(store.query_logs(q)).unwrap();
        assert!(!want.is_empty(), "{q:?} selects something");
        assert_eq!(got, want, "{q:?}");
    }
    // Paging with the cursor walks every record once, in the same order.
    let mut after = None;
    let mut pages = Vec::new();
    for _ in 0..20 {
        let q = CallLogQuery {
            limit: 6,
            after_id: after,
            ..Default::default()
        };
        let want = lite.query(&q).unwrap();
        let got = rt.block_on(store.query_logs(&q)).unwrap();
        assert_eq!(got, want);
        let Some(last) = got.last() else { break };
        after = Some(last.id);
        pages.extend(got);
    }
    assert_eq!(pages.len(), 40);
    assert_eq!(
        rt.block_on(store.get_log("call-3")).unwrap(),
        lite.get("call-3").unwrap()
    );
    assert_eq!(
        rt.block_on(store.get_log("call-3")).unwrap().map(|r| r.id),
        Some(recs[7].id),
        "the record that started last"
    );
    assert_eq!(rt.block_on(store.get_log("nope")).unwrap(), None);
    for bad in [
        query(&|q| q.direction = Some("sideways".into())),
        query(&|q| q.after_id = Some(uuid::Uuid::from_u128(123_456))),
        query(&|q| q.begin = Some("yesterday".into())),
    ] {
        let l = lite.query(&bad).unwrap_err();
        let p = rt.block_on(store.query_logs(&bad)).unwrap_err();
        assert_eq!((p.name(), p.is_unavailable()), (l.name(), false), "{bad:?}");
    }
    let written: i64 = rt.block_on(async {
        pg.client()
            .await
            .query_one(
                "SELECT COUNT(*) FROM call_logs WHERE node_id = 'parity'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    });
    assert_eq!(written, 40);
    // Pruning deletes the same records on both.
    assert_eq!(
        LogSink::prune_before(&mut sink, 1_795_341_600_000 + 10_000).unwrap(),
        lite.prune_before(1_795_341_600_000 + 10_000).unwrap()
    );
    drop(sink);
    drop(rt);
}

/// A node cannot start without its store (it needs the schema and a first
/// snapshot): it says why, quickly, without the URL's password.
#[tokio::test]
async fn a_node_whose_postgres_is_unreachable_does_not_start_and_keeps_the_password_out() {
    let dir = temp_dir("pg-down");
    let port = free_pg_port();
    let text = config_text_in(&[], "127.0.0.1/32", &dir)
        .split("\n[[trunks]]")
        .next()
        .unwrap_or_default()
        .replace(
            &format!("data_dir = \"{}\"\n", dir.display()),
            &format!(
                "data_dir = \"{}\"\nurl = \"postgres://trunkgate:hunter2@127.0.0.1:{port}/trunkgate\"\n",
                dir.display()
            ),
        );
    let cfg = trunkgate::config::parse_str(&text, "test.toml").expect("valid config");
    assert!(cfg.store.url.is_some(), "{text}");
    let started = std::time::Instant::now();
    let err = match trunkgate::gateway::Gateway::start(cfg).await {
        Ok(_) => panic!("started without its store"),
        Err(e) => e.to_string(),
    };
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains("postgres"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(
        !dir.join("trunkgate.db").exists(),
        "no SQLite file beside a PostgreSQL store"
    );
}
