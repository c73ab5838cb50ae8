//! Live reload over real sockets: the gateway binary runs on a config file;
//! the file is edited to name another carrier and the process gets SIGHUP.
//! The next call goes to the new carrier while a call that was ringing on
//! the old one is answered through it; a file that fails validation changes
//! nothing and counts as `trunkgate_config_reloads_total{result="error"}`.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::api::Api;
use common::*;

fn file_for(
    carrier: SocketAddr,
    sip: SocketAddr,
    http: SocketAddr,
    store: &std::path::Path,
) -> String {
    on_fixed_ports(
        &config_text_in(&[(carrier, "udp")], "127.0.0.0/8", store),
        sip,
        http,
    )
}

/// `trunkgate reload --http <http>` with the API key `key`.
fn reload_cli(http: SocketAddr, key: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trunkgate"))
        .args(["reload", "--http", &http.to_string()])
        .env("TRUNKGATE_API_KEY", key)
        .output()
        .expect("trunkgate reload runs")
}

fn hup(child: &Child) {
    let ok = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success());
}

/// Runs the gateway binary on `file` (stderr to `log`; `RUST_LOG` set to
/// `rust_log`, or unset) and waits until its HTTP port accepts.
async fn run_gateway(
    file: &std::path::Path,
    log: &std::path::Path,
    rust_log: Option<&str>,
    http: SocketAddr,
) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trunkgate"));
    cmd.args(["run", "--config"])
        .arg(file)
        .env("TRUNKGATE_API_KEY", "reload-test-key")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    match rust_log {
        Some(l) => cmd.env("RUST_LOG", l),
        None => cmd.env_remove("RUST_LOG"),
    };
    let gw = Proc(cmd.spawn().expect("gateway starts"));
    wait_tcp_within(http, "gateway", Duration::from_secs(10)).await;
    gw
}

/// Call `rl-<n>@pbx` from a fresh PBX reaches `carrier`, which answers 486
/// (To tag `tag`); the PBX gets the 486.
async fn busy_call(sip: SocketAddr, carrier: &Ua, n: u32, tag: &str) {
    let pbx = Ua::new().await;
    let (call_id, branch) = (format!("rl-{n}@pbx"), format!("z9hG4bKrl{n}"));
    pbx.send_invite(sip, &call_id, DIALED, &branch).await;
    let (inv, from) = carrier.wait_request("INVITE").await;
    carrier.status(from, &inv, 486, "Busy Here", tag).await;
    pbx.wait_response(486).await;
}

async fn wait_reloads(http: SocketAddr, result: &str, want: f64) {
    let series = format!("trunkgate_config_reloads_total{{result=\"{result}\"}}");
    wait_metric(http, &series, want, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_switches_carriers_for_new_calls_while_live_calls_continue() {
    let dir = temp_dir("reload");
    let (a, b) = (Ua::new().await, Ua::new().await);
    // UDP and TCP ports are separate spaces: a free TCP port is a good guess for UDP too.
    let sip: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let file = dir.join("trunkgate.toml");
    std::fs::write(&file, file_for(a.addr, sip, http, &dir)).unwrap();
    let gw = run_gateway(&file, &dir.join("gateway.log"), Some("warn"), http).await;
    wait_reloads(http, "ok", 0.0).await;

    // Call 1 rings on carrier A.
    let pbx = Ua::new().await;
    pbx.send_invite(sip, "rl-1@pbx", DIALED, "z9hG4bKrl1").await;
    let (inv1, from1) = a.wait_request("INVITE").await;
    a.status(from1, &inv1, 180, "Ringing", "a1").await;
    pbx.wait_response(180).await;

    // The file now names carrier B; SIGHUP.
    std::fs::write(&file, file_for(b.addr, sip, http, &dir)).unwrap();
    hup(&gw.0);
    wait_reloads(http, "ok", 1.0).await;

    // The ringing call is answered through A, as it started.
    let contact = format!("<sip:a@{}>", a.addr);
    a.send(
        from1,
        &reply(
            &inv1,
            200,
            "OK",
            Some("a1"),
            Some(&contact),
            &sdp_at(a.addr, "carrier"),
        ),
    )
    .await;
    pbx.wait_response(200).await;

    // Call 2 goes to B.
    busy_call(sip, &b, 2, "b2").await;

    // An invalid file changes nothing.
    std::fs::write(
        &file,
        file_for(a.addr, sip, http, &dir).replace("t1_ms = 50", "t1_ms = 1"),
    )
    .unwrap();
    hup(&gw.0);
    wait_reloads(http, "error", 1.0).await;
    busy_call(sip, &b, 3, "b3").await;
    let log = std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default();
    assert!(
        log.contains("config reload refused") && log.contains("sip.t1_ms"),
        "the refused reload is logged with its errors:\n{log}"
    );

    // The same through the API (an addition): POST /v1/Admin/Reload, key required.
    let reload = |key| async move {
        let api = Api::at(http, key);
        api.send(reqwest::Method::POST, "/v1/Admin/Reload", None)
            .await
    };
    assert_eq!(reload(None).await.0, 401, "no key, no reload");
    let (s, body) = reload(Some("reload-test-key")).await;
    assert_eq!(s, 400, "the file is still invalid");
    assert_eq!(body["code"], 400001, "{body}");
    assert!(body.to_string().contains("sip.t1_ms"), "{body}");
    wait_reloads(http, "error", 2.0).await;
    std::fs::write(&file, file_for(a.addr, sip, http, &dir)).unwrap();
    assert_eq!(reload(Some("reload-test-key")).await.0, 200);
    wait_reloads(http, "ok", 2.0).await;
    // The CLI verb does the same: `trunkgate reload --http ADDR`.
    let out = reload_cli(http, "reload-test-key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_reloads(http, "ok", 3.0).await;
    let out = reload_cli(http, "wrong-key");
    assert_eq!(out.status.code(), Some(1), "a wrong key fails");
    // Back on carrier A.
    busy_call(sip, &a, 4, "a4").await;
    drop(gw);
}

/// A reload that changes `[flow] workers` builds a new worker pool: the new
/// worker is probed (its `trunkgate_flow_worker_up` series appears) and the
/// removed one's series goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_rebuilds_the_flow_worker_pool() {
    let carrier = Ua::new().await;
    let (w1, w2) = (free_port(), free_port());
    let text_for = |port: u16| {
        format!(
            "{}\n[flow]\nworkers = [\"http://127.0.0.1:{port}\"]\nhealth_interval_s = 1\nconnect_timeout_ms = 200\n",
            config_text(&[(carrier.addr, "udp")], "127.0.0.0/8")
        )
    };
    let gw = start(&text_for(w1)).await;
    let series =
        |port: u16| format!("trunkgate_flow_worker_up{{worker=\"http://127.0.0.1:{port}\"}}");
    let seen = |text: &str, port: u16| {
        without_node_id(text)
            .lines()
            .any(|l| l.starts_with(&series(port)))
    };
    let within = Duration::from_secs(10);
    wait_metrics(gw.http, within, "first worker never probed", |t| {
        seen(t, w1)
    })
    .await;
    assert!(!seen(&metrics(gw.http).await, w2));
    gw.gw
        .reload(trunkgate::config::parse_str(&text_for(w2), "reload.toml").expect("valid"));
    let what = "new worker never probed after reload";
    wait_metrics(gw.http, within, what, |t| seen(t, w2)).await;
    // Two more probe periods: the old worker's series stays gone.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let text = metrics(gw.http).await;
    assert!(!seen(&text, w1), "removed worker still reported:\n{text}");
}

fn options(transport: &str, from: SocketAddr, gw: SocketAddr, n: u32) -> String {
    format!(
        "OPTIONS sip:{gw} SIP/2.0\r\nVia: SIP/2.0/{transport} {from};branch=z9hG4bKlsn{n}\r\nMax-Forwards: 70\r\nFrom: <sip:mon@{from}>;tag=l{n}\r\nTo: <sip:{gw}>\r\nCall-ID: lsn-{n}@mon\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// SIGHUP applies `[sip] listen` and `[log] level`: a TCP listener added to
/// the file answers after the reload while the UDP one keeps its socket; a
/// listener removed from the file stops answering; the log filter goes from
/// `warn` to `info` (the reload's own info line appears only under the new
/// filter). RUST_LOG is unset, so the file's level rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_opens_and_closes_listeners_and_changes_the_log_level() {
    let dir = temp_dir("reload-listen");
    let carrier = Ua::new().await;
    let sip: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let tcp: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let base = file_for(carrier.addr, sip, http, &dir);
    let udp_only = format!(r#"listen = [ {{ transport = "udp", address = "{sip}" }} ]"#);
    let with_tcp = format!(
        r#"listen = [ {{ transport = "udp", address = "{sip}" }}, {{ transport = "tcp", address = "{tcp}" }} ]"#
    );
    let tcp_only = format!(r#"listen = [ {{ transport = "tcp", address = "{tcp}" }} ]"#);
    assert!(base.contains(&udp_only), "{base}");
    let file = dir.join("trunkgate.toml");
    // The base file with `listen` replaced and a `[log] level`.
    let write = |listen: &str, level: &str| {
        let text = base.replace(&udp_only, listen);
        std::fs::write(&file, format!("{text}\n[log]\nlevel = \"{level}\"\n")).unwrap();
    };
    write(&udp_only, "warn");
    let log = dir.join("gateway.log");
    let gw = run_gateway(&file, &log, None, http).await;
    let mon = Ua::new().await;
    mon.send(sip, &options("UDP", mon.addr, sip, 1)).await;
    mon.expect_response(200).await;
    assert!(
        tokio::net::TcpStream::connect(tcp).await.is_err(),
        "no TCP listener before the reload"
    );
    let before = std::fs::read_to_string(&log).unwrap();
    assert!(
        !before.contains(" INFO "),
        "warn filter logs no info:\n{before}"
    );

    // Add a TCP listener and lower the filter to info.
    write(&with_tcp, "info");
    hup(&gw.0);
    wait_reloads(http, "ok", 1.0).await;
    let mut t = TcpUa::connect(tcp).await;
    let me = t.addr;
    t.send(&options("TCP", me, tcp, 2)).await;
    assert_eq!(t.recv().await.code(), Some(200));
    // The UDP listener kept its socket.
    mon.send(sip, &options("UDP", mon.addr, sip, 3)).await;
    mon.expect_response(200).await;
    let after = std::fs::read_to_string(&log).unwrap();
    assert!(
        after.contains("log filter changed") && after.contains("SIP listening (reload)"),
        "info lines under the new filter:\n{after}"
    );

    // Remove the UDP listener: it stops answering; TCP carries on.
    write(&tcp_only, "info");
    hup(&gw.0);
    wait_reloads(http, "ok", 2.0).await;
    mon.send(sip, &options("UDP", mon.addr, sip, 4)).await;
    assert!(
        mon.hears_nothing(Duration::from_millis(1500)).await,
        "a removed UDP listener still answers"
    );
    t.send(&options("TCP", me, tcp, 5)).await;
    assert_eq!(t.recv().await.code(), Some(200));
    let mut t2 = TcpUa::connect(tcp).await;
    let me2 = t2.addr;
    t2.send(&options("TCP", me2, tcp, 6)).await;
    assert_eq!(t2.recv().await.code(), Some(200));
    drop(gw);
}
