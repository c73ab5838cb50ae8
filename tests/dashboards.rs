//! The Grafana dashboard (`dashboards/trunkgate.json`) and the alert rules
//! (`dashboards/alerts.yml`) proven against a real Prometheus: the Debian
//! `prometheus` scrapes a running gateway every second while sipp calls go
//! through it (some completed after a carrier failover, some refused at the
//! trunk's limit, one refused for its source, one garbage datagram dropped,
//! one with RTP from the caller for the media quality series), then every panel expression
//! and every alert expression is evaluated through Prometheus's HTTP API.
//! A panel expression must return at least one series; an alert expression
//! must parse and the value it compares (the part before its last top-level
//! comparison) must return at least one series. `promtool check rules`
//! must pass. `prometheus`, `promtool` and `sipp` must be on PATH (`.ci/run`
//! installs them); every process is killed by PID when the test ends.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
        .unwrap_or_else(|| {
            panic!("{name} not found on PATH: install Debian's prometheus and sip-tester (.ci/run does)")
        })
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_udp() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free udp port")
}

fn free_tcp() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free tcp port")
}

/// A child process killed (by its PID, through the handle) and reaped on drop.
fn spawn(bin: &Path, args: &[&str], dir: &Path, log: &str) -> Proc {
    let out = std::fs::File::create(dir.join(log)).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    Proc(child)
}

/// Every `expr` of the dashboard's panel targets, with the template variables
/// replaced as Grafana would with "All" selected.
fn panel_exprs() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(repo().join("dashboards/trunkgate.json")).expect("dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let vars: Vec<&str> = dash["templating"]["list"]
        .as_array()
        .expect("templating list")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(vars, ["datasource", "node", "trunk"], "template variables");
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"]
                .as_str()
                .expect("expr")
                .replace("$node", ".*")
                .replace("$trunk", ".*");
            out.push((p["title"].as_str().unwrap_or("?").to_string(), expr));
        }
    }
    out
}

/// `(alert, expr)` of every rule in alerts.yml (one-line `expr:` values).
fn alert_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("dashboards/alerts.yml")).expect("alerts.yml");
    let mut out = Vec::new();
    let mut name = String::new();
    for line in text.lines() {
        let l = line.trim_start();
        if let Some(n) = l.strip_prefix("- alert: ") {
            name = n.trim().to_string();
        } else if let Some(e) = l.strip_prefix("expr: ") {
            out.push((name.clone(), e.trim().to_string()));
        }
    }
    out
}

/// The part of a PromQL expression before its last comparison outside
/// parentheses, braces, brackets and strings (`a > 5` -> `a`).
fn compared_value(expr: &str) -> &str {
    let b = expr.as_bytes();
    let (mut depth, mut quote, mut cut) = (0i32, false, None);
    for i in 0..b.len() {
        match b[i] {
            b'"' => quote = !quote,
            _ if quote => {}
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => depth -= 1,
            b'>' | b'<' if depth == 0 => cut = Some(i),
            b'=' if depth == 0 && i + 1 < b.len() && b[i + 1] == b'=' => cut = Some(i),
            b'!' if depth == 0 && i + 1 < b.len() && b[i + 1] == b'=' => cut = Some(i),
            _ => {}
        }
    }
    match cut {
        Some(i) => expr[..i].trim_end_matches(['>', '<', '=', '!', ' ']),
        None => expr,
    }
}

#[test]
fn compared_value_cuts_at_the_last_top_level_comparison() {
    assert_eq!(compared_value(r#"up{job="x"} == 0"#), r#"up{job="x"}"#);
    assert_eq!(compared_value("sum(rate(a[5m])) > 0.2"), "sum(rate(a[5m]))");
    assert_eq!(
        compared_value("max by (t) (a) >= on (t) max by (t) (b)"),
        "max by (t) (a)"
    );
    assert_eq!(compared_value(r#"a{b!="c"} < 3"#), r#"a{b!="c"}"#);
    assert_eq!(compared_value("rate(a[1m])"), "rate(a[1m])");
}

async fn query(http: &reqwest::Client, prom: SocketAddr, expr: &str) -> Result<usize, String> {
    let resp = http
        .get(format!("http://{prom}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .map_err(|e| format!("query failed: {e}"))?;
    let body: serde_json::Value = resp.json().await.map_err(|e| format!("not JSON: {e}"))?;
    if body["status"] != "success" {
        return Err(format!("{}: {}", body["errorType"], body["error"]));
    }
    Ok(body["data"]["result"].as_array().map_or(0, |r| r.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_and_alert_expression_returns_series_in_prometheus() {
    let prometheus = tool("prometheus");
    let promtool = tool("promtool");
    let sipp = tool("sipp");
    let dir = temp_dir("dashboards");

    let check = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(repo().join("dashboards/alerts.yml"))
        .output()
        .expect("promtool runs");
    assert!(
        check.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    // The carrier: a sipp UAS. Before it, a carrier nobody answers (a failover
    // per call); a flow worker nobody runs (worker_up = 0).
    let uas_addr = free_udp();
    let uas_port = uas_addr.port().to_string();
    let _uas = spawn(
        &sipp,
        &[
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &uas_port,
            "-t",
            "u1",
            "-nostdin",
            "-timeout",
            "60s",
            "-aa",
        ],
        &dir,
        "uas.log",
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dead_carrier = free_udp();
    let dead_worker = free_tcp();
    let mut cfg = config_text(&[(dead_carrier, "udp"), (uas_addr, "udp")], "127.0.0.1/32");
    cfg = cfg.replace(
        "description = \"test trunk\"\n",
        "description = \"test trunk\"\nsimultaneous_call_limit = 3\n",
    );
    cfg.push_str(&format!(
        "\n[flow]\nworkers = [\"http://{dead_worker}\"]\nhealth_interval_s = 1\nconnect_timeout_ms = 200\n"
    ));
    let gw = start(&cfg).await;

    let prom_addr = free_tcp();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: trunkgate\n    static_configs:\n      - targets: ['{}']\n",
            gw.http
        ),
    )
    .expect("prometheus.yml");
    let listen = format!("--web.listen-address={prom_addr}");
    let _prom = spawn(
        &prometheus,
        &[
            "--config.file=prometheus.yml",
            "--storage.tsdb.path=data",
            &listen,
            "--log.level=warn",
        ],
        &dir,
        "prometheus.log",
    );

    // Calls: 8 at 4/s held 1 s, each first tried on the dead carrier (Timer B,
    // 3.2 s) — more than 3 at once, so some are refused at the trunk's limit.
    let gw_addr = gw.udp.to_string();
    let uac_port = free_udp().port().to_string();
    let mut uac = spawn(
        &sipp,
        &[
            "-sn",
            "uac",
            "-s",
            DIALED,
            &gw_addr,
            "-i",
            "127.0.0.1",
            "-p",
            &uac_port,
            "-t",
            "u1",
            "-m",
            "8",
            "-r",
            "4",
            "-d",
            "1000",
            "-nostdin",
            "-timeout",
            "40s",
            "-timeout_error",
        ],
        &dir,
        "uac.log",
    );
    // A PBX nobody configured: 403 (rejections_total{reason}).
    let stranger = Ua::bind("127.0.0.3:0").await;
    stranger
        .send_invite(gw.udp, "dash-stranger-1", DIALED, "z9hG4bKdash1")
        .await;
    stranger.expect_response(403).await;
    // A datagram that is no SIP: dropped (sip_dropped_total{reason}).
    stranger
        .send_bytes(gw.udp, b"\x00\x01 not sip at all\r\n\r\n")
        .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    while uac.0.try_wait().expect("uac status").is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sipp uac did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = metrics(gw.http).await;
    let completed = text
        .lines()
        .filter(|l| l.starts_with("trunkgate_calls_total{") && l.contains("status=\"completed\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    assert!(
        completed >= 1.0,
        "no call completed through the gateway:\n{text}"
    );
    assert!(
        text.contains("reason=\"limit_reached\""),
        "no call was refused at the trunk's limit:\n{text}"
    );

    // One call with RTP from the PBX (sipp's UAS sends none): the media
    // quality series per trunk and carrier (MOS, jitter, received/lost).
    // First tried on the dead carrier (Timer B), then answered by sipp.
    let pbx = Ua::new().await;
    let pbx_rtp = RtpPeer::new().await;
    let offer = sdp_at(pbx_rtp.addr, "pbx");
    pbx.send_invite_sdp(gw.udp, "dash-rtp-1", DIALED, "z9hG4bKdashrtp1", &offer)
        .await;
    let ok = pbx.ack_200(gw.udp).await;
    let a_relay = sdp_target(ok.body());
    for i in 0..50u16 {
        pbx_rtp
            .send(a_relay, 0, i, u32::from(i) * 160, 0xDA5, &[0xff; 160])
            .await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bye = UaDialog::from_ok(&ok, pbx.addr).bye();
    pbx.send(gw.udp, &bye).await;
    pbx.wait_response(200).await;

    // Every expression against Prometheus; retried while the scrapes accumulate
    // (rate() needs two samples), bounded.
    let http = reqwest::Client::new();
    let mut pending: Vec<(String, String, String)> = panel_exprs()
        .into_iter()
        .map(|(t, e)| (format!("panel {t:?}"), e.clone(), e))
        .chain(
            alert_exprs()
                .into_iter()
                .map(|(n, e)| (format!("alert {n}"), compared_value(&e).to_string(), e)),
        )
        .collect();
    assert!(
        pending.len() >= 40,
        "expected every panel and alert, got {}",
        pending.len()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last_errors = Vec::new();
    loop {
        last_errors.clear();
        let mut still = Vec::new();
        for (what, value, full) in pending {
            // The full expression must parse and evaluate.
            if let Err(e) = query(&http, prom_addr, &full).await {
                last_errors.push(format!("{what}: {full}: {e}"));
                still.push((what, value, full));
                continue;
            }
            match query(&http, prom_addr, &value).await {
                Ok(n) if n > 0 => {}
                Ok(_) => {
                    last_errors.push(format!("{what}: no series for {value}"));
                    still.push((what, value, full));
                }
                Err(e) => {
                    last_errors.push(format!("{what}: {value}: {e}"));
                    still.push((what, value, full));
                }
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!(
                "expressions without series after 60 s:\n{}\nprometheus log:\n{log}\ngateway metrics:\n{}",
                last_errors.join("\n"),
                metrics(gw.http).await
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
