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

pub const DEMO_TRUNK: &str = "6f1c2b1e-8a51-4d2b-9c3e-1a2b3c4d5e6f";
pub const WAIT: Duration = Duration::from_secs(5);

pub struct Gw {
    pub gw: Gateway,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
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
    let mut s = String::from(
        r#"
[sip]
listen = [ { transport = "udp", address = "127.0.0.1:0" }, { transport = "tcp", address = "127.0.0.1:0" } ]
t1_ms = 50
t2_ms = 400
t4_ms = 500

[http]
listen = "127.0.0.1:0"
"#,
    );
    s.push_str(&format!(
        "\n[store]\ndata_dir = \"{}\"\n",
        store_dir.display()
    ));
    for (i, (addr, tp)) in carriers.iter().enumerate() {
        s.push_str(&format!(
            "\n[[carriers]]\nhealth_interval_s = 0\nname = \"carrier{i}\"\naddress = \"{addr}\"\ntransport = \"{tp}\"\npriority = {}\n",
            (i + 1) * 10
        ));
    }
    s.push_str(&format!(
        r#"
[[trunks]]
trunk_id = "{DEMO_TRUNK}"
status = "active"
direction = "outbound"
description = "test trunk"

[trunks.outbound]
authentication = [ {{ source = "other", value = "{allow}" }} ]
fax_support = "disabled"
"#
    ));
    s
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

/// A child process (gateway, Redis, Prometheus …) killed and reaped when dropped.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback TCP port free now (for configs that need a fixed port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
