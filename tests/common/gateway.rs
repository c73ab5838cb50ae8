//! The gateway under test: config text for it (TOML snippets with loopback
//! ports the kernel chooses and fast timers), starting and stopping it
//! in-process, reading its metrics, and child processes that die with the
//! test.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use trunkgate::config;
use trunkgate::gateway::Gateway;
use trunkgate::transport::TransportKind;

/// The outbound trunk of [`config_text`] (and of the tests' own outbound trunks).
pub const DEMO_TRUNK: &str = "6f1c2b1e-8a51-4d2b-9c3e-1a2b3c4d5e6f";
/// The inbound trunk the tests assign their DIDs to.
pub const IN_TRUNK: &str = "0b7f7d0e-3c1a-4f7e-9a55-2d5c3e9b1a10";
/// The number the PBX dials out, and the DID carriers deliver in.
pub const DIALED: &str = "+14155550100";
pub const DID: &str = "+14155550199";
/// The Twilio account SID the trunks' "twilio" authentication names.
pub const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const WAIT: Duration = Duration::from_secs(5);

pub struct Gw {
    pub gw: Gateway,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
}

/// The SIP timers of a test gateway: T1 = 50 ms (so Timer B = 3.2 s), T2 = 400 ms, T4 = 500 ms.
pub const FAST_TIMERS: &str = "t1_ms = 50\nt2_ms = 400\nt4_ms = 500\n";

/// A test gateway's config text, built from the snippets the tests share:
/// `[sip]` on 127.0.0.1:0 (UDP and TCP, TLS on request) with
/// [`FAST_TIMERS`], `[http]` on 127.0.0.1:0, `[store]` in a directory of the
/// test's, then the sections added in order.
pub struct Toml {
    tls: bool,
    timers: &'static str,
    http: String,
    store: std::path::PathBuf,
    rest: String,
}

impl Toml {
    /// The base sections with the call-log store in `store`.
    pub fn new(store: &std::path::Path) -> Toml {
        Toml {
            tls: false,
            timers: FAST_TIMERS,
            http: String::new(),
            store: store.to_path_buf(),
            rest: String::new(),
        }
    }

    /// Other `[sip]` timer lines (`""`: the defaults).
    pub fn timers(mut self, lines: &'static str) -> Toml {
        self.timers = lines;
        self
    }

    /// Lines added to the `[http]` section (its caps, say).
    pub fn http(mut self, lines: &str) -> Toml {
        self.http.push_str(lines);
        self.http.push('\n');
        self
    }

    /// A TLS listener on 127.0.0.1:0 besides UDP and TCP.
    pub fn tls(mut self) -> Toml {
        self.tls = true;
        self
    }

    /// An `[api]` section admitting the given keys, then `extra` lines in it.
    pub fn api(self, keys: &[&str], extra: &str) -> Toml {
        let hashes: Vec<String> = keys
            .iter()
            .map(|k| format!("\"{}\"", trunkgate::api::auth::key_hash_string(k)))
            .collect();
        self.with(&format!(
            "[api]\nkey_hashes = [{}]\n{extra}\n",
            hashes.join(", ")
        ))
    }

    /// A `[[carriers]]` entry (no health checks) with `extra` lines in it.
    pub fn carrier(
        self,
        name: &str,
        address: SocketAddr,
        transport: &str,
        priority: u32,
        extra: &str,
    ) -> Toml {
        self.with(&format!(
            "[[carriers]]\nhealth_interval_s = 0\nname = \"{name}\"\naddress = \"{address}\"\ntransport = \"{transport}\"\npriority = {priority}\n{extra}\n"
        ))
    }

    /// The carrier `c1` (UDP, priority 10) delivering inbound calls from `sources`.
    pub fn inbound_carrier(self, address: SocketAddr, sources: &str) -> Toml {
        let sources = format!("inbound_sources = [\"{sources}\"]");
        self.carrier("c1", address, "udp", 10, &sources)
    }

    /// An active outbound `[[trunks]]` entry with `extra` lines in
    /// `[trunks.outbound]`, admitting `allow` (source "other").
    pub fn outbound_trunk(self, id: &str, allow: &str, extra: &str) -> Toml {
        self.with(&format!(
            r#"[[trunks]]
trunk_id = "{id}"
status = "active"
direction = "outbound"
description = "test trunk"

[trunks.outbound]
authentication = [ {{ source = "other", value = "{allow}" }} ]
fax_support = "disabled"
{extra}
"#
        ))
    }

    /// A `[[numbers]]` entry: `no` assigned to `assigned_to` ("Trunks/<id>", say).
    pub fn number(self, no: &str, assigned_to: &str) -> Toml {
        self.with(&format!(
            "[[numbers]]\nno = \"{no}\"\nassigned_to = \"{assigned_to}\"\n"
        ))
    }

    /// Any other sections, as written.
    pub fn with(mut self, text: &str) -> Toml {
        self.rest.push('\n');
        self.rest.push_str(text);
        self
    }

    pub fn text(&self) -> String {
        let tls = if self.tls {
            ", { transport = \"tls\", address = \"127.0.0.1:0\" }"
        } else {
            ""
        };
        format!(
            "\n[sip]\nlisten = [ {{ transport = \"udp\", address = \"127.0.0.1:0\" }}, {{ transport = \"tcp\", address = \"127.0.0.1:0\" }}{tls} ]\n{}\n[http]\nlisten = \"127.0.0.1:0\"\n{}\n[store]\ndata_dir = \"{}\"\n{}",
            self.timers,
            self.http,
            self.store.display(),
            self.rest
        )
    }
}

/// Config text for a test gateway: UDP+TCP on 127.0.0.1:0, fast timers (T1 = 50 ms,
/// so Timer B = 3.2 s), the given carriers (address, transport) in priority order,
/// and one outbound trunk with a null domain admitting `allow`.
pub fn config_text(carriers: &[(SocketAddr, &str)], allow: &str) -> String {
    config_text_in(carriers, allow, &temp_dir("store"))
}

/// [`config_text`] with the call-log store in `store_dir`.
pub fn config_text_in(
    carriers: &[(SocketAddr, &str)],
    allow: &str,
    store_dir: &std::path::Path,
) -> String {
    demo_config(carriers, allow, store_dir).text()
}

/// [`config_text_in`] as a [`Toml`], to add sections to.
pub fn demo_config(
    carriers: &[(SocketAddr, &str)],
    allow: &str,
    store_dir: &std::path::Path,
) -> Toml {
    let mut t = Toml::new(store_dir);
    for (i, (addr, tp)) in carriers.iter().enumerate() {
        let priority = (i as u32 + 1) * 10;
        t = t.carrier(&format!("carrier{i}"), *addr, tp, priority, "");
    }
    t.outbound_trunk(DEMO_TRUNK, allow, "")
}

/// A `[media]` section on 127.0.0.1 with `extra` lines, and a port range
/// of its own for each gateway of a test binary: the `counter`-th (modulo
/// `slots`) block of `size` ports from `base`.
pub fn media_section_in(
    counter: &std::sync::atomic::AtomicU16,
    base: u16,
    size: u16,
    slots: u16,
    extra: &str,
) -> String {
    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % slots;
    let min = base + n * size;
    format!(
        "\n[media]\nbind_ipv4 = \"127.0.0.1\"\nport_min = {min}\nport_max = {}\n{extra}\n",
        min + size - 1
    )
}

/// The call-log record of call `id` in the store at `store` (the gateway
/// stopped, or its writer done with the call).
pub fn call_record(store: &std::path::Path, id: &str) -> trunkgate::store::CallRecord {
    trunkgate::store::CallLogStore::open(store)
        .expect("store opens")
        .get(id)
        .expect("store readable")
        .unwrap_or_else(|| panic!("no record of {id}"))
}

/// A fresh directory under the system temp dir for one test.
pub fn temp_dir(what: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "trunkgate-test-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub async fn start(text: &str) -> Gw {
    let cfg = config::parse_str(text, "test.toml")
        .unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
    let gw = Gateway::start(cfg).await.expect("gateway starts");
    let udp = gw.sip_addr(TransportKind::Udp).expect("udp bound");
    let tcp = gw.sip_addr(TransportKind::Tcp).expect("tcp bound");
    let http = gw.http_addr();
    Gw { gw, udp, tcp, http }
}

/// Fetches /metrics text from the gateway.
pub async fn metrics(http: SocketAddr) -> String {
    let mut s = TcpStream::connect(http).await.expect("http connect");
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("metrics in time")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

/// Polls /metrics every 100 ms until `done` holds for its text; fails with
/// `what` and the last text after `within`. Returns that text.
pub async fn wait_metrics(
    http: SocketAddr,
    within: Duration,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let text = metrics(http).await;
        if done(&text) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} after {within:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`wait_metrics`] until the series `series` reads `want`.
pub async fn wait_metric(http: SocketAddr, series: &str, want: f64, within: Duration) {
    wait_metrics(http, within, &format!("{series} != {want}"), |text| {
        metric_value(text, series) == want
    })
    .await;
}

/// Asserts that the series `series` (as [`metric_value`] names it) reads
/// `want` on the gateway's /metrics now.
pub async fn assert_metric(http: SocketAddr, series: &str, want: f64) {
    let text = metrics(http).await;
    assert_eq!(metric_value(&text, series), want, "{series}:\n{text}");
}

/// The series counting INVITEs the gateway refused for `reason`.
pub fn rejections(reason: &str) -> String {
    format!("trunkgate_rejections_total{{reason=\"{reason}\"}}")
}

/// The value of one exact metric line (`name{labels}`), or 0.
pub fn metric_value(text: &str, series: &str) -> f64 {
    without_node_id(text)
        .lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|r| r.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

/// The metrics text with the `node_id` label every series carries taken out
/// (`a{node_id="x",b="1"} 2` -> `a{b="1"} 2`, `a{node_id="x"} 2` -> `a 2`),
/// so tests name series as one node sees them.
pub fn without_node_id(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        match line.find("{node_id=\"") {
            Some(i) if !line.starts_with('#') => {
                let rest = &line[i + 10..];
                let end = rest.find('"').map_or(rest.len(), |e| e + 1);
                let after = &rest[end..];
                out.push_str(&line[..i]);
                match after.strip_prefix(',') {
                    Some(more) => {
                        out.push('{');
                        out.push_str(more);
                    }
                    None => out.push_str(after.strip_prefix('}').unwrap_or(after)),
                }
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Config `text` (from [`Toml`]) with SIP on `sip` (UDP only) and HTTP on
/// `http`: fixed ports, for a gateway run as a child process.
pub fn on_fixed_ports(text: &str, sip: SocketAddr, http: SocketAddr) -> String {
    text.replace(
        r#"listen = [ { transport = "udp", address = "127.0.0.1:0" }, { transport = "tcp", address = "127.0.0.1:0" } ]"#,
        &format!(r#"listen = [ {{ transport = "udp", address = "{sip}" }} ]"#),
    )
    .replace(r#"listen = "127.0.0.1:0""#, &format!(r#"listen = "{http}""#))
}

/// The gateway binary `bin` (a test's `env!("CARGO_BIN_EXE_trunkgate")`)
/// run on `file` (`RUST_LOG=warn`, stderr to `log`) with `envs` set, as a
/// child process.
pub fn spawn_gateway(
    bin: &str,
    file: &std::path::Path,
    log: &std::path::Path,
    envs: &[(&str, String)],
) -> Proc {
    spawn_gateway_under(&[], bin, file, log, envs)
}

/// [`spawn_gateway`] started through `wrapper` (a program and its
/// arguments, the gateway's command line appended: e.g. `sh -c 'ulimit -n
/// 320 && exec "$@"' sh` to run it under a lower descriptor limit).
pub fn spawn_gateway_under(
    wrapper: &[&str],
    bin: &str,
    file: &std::path::Path,
    log: &std::path::Path,
    envs: &[(&str, String)],
) -> Proc {
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = std::process::Command::new(program);
            c.args(args).arg(bin);
            c
        }
        None => std::process::Command::new(bin),
    };
    cmd.args(["run", "--config"])
        .arg(file)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).expect("gateway log"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Proc(cmd.spawn().expect("gateway starts"))
}

/// A child process (gateway, Redis, Prometheus …) killed and reaped when dropped.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (polling every 50 ms, at most `within`) until `addr` accepts TCP
/// connections; fails naming `what`.
pub async fn wait_tcp_within(addr: SocketAddr, what: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} not listening"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback TCP port free now (for configs that need a fixed port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A loopback port free now for both UDP and TCP (a SIP listener on both).
pub fn free_udp_port() -> u16 {
    for _ in 0..20 {
        let p = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("free udp port");
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no port free for both UDP and TCP");
}
