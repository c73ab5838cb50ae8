//! TLS call set-up rate vs UDP, same run, same process (sipp on this machine has no
//! TLS build). A small bounded load client: the gateway runs in-process on loopback
//! (kernel-chosen ports) with a UDP carrier answering every INVITE at once; `workers`
//! PBX user agents each place calls back to back (INVITE / 200 / ACK / BYE / 200):
//!
//! - `udp`: each worker on its own UDP socket;
//! - `tls-reuse`: each worker on one TLS connection for all its calls (a PBX trunk);
//! - `tls-new`: a new TLS connection (full handshake) for every call.
//!
//! `cargo bench --bench tls_cps` measures (`TLS_CPS_CALLS`, default 2000 per mode,
//! `TLS_CPS_WORKERS`, default 16); under `cargo test` (no `--bench`) it runs 5 calls
//! per mode as a smoke test. Every wait is bounded (5 s); the process ends when done.
//! The client shares the CPU with the gateway: compare the ratios, not the absolutes.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use trunkgate::sip::Message;
use trunkgate::transport::TransportKind;

const DIALED: &str = "+14155550123";

#[derive(Clone, Copy, Debug)]
enum Mode {
    Udp,
    TlsReuse,
    TlsNew,
}

struct Stream<S> {
    s: S,
    buf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream<S> {
    async fn send(&mut self, t: &str) -> std::io::Result<()> {
        self.s.write_all(t.as_bytes()).await?;
        self.s.flush().await
    }

    async fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        (n.trim() == "content-length").then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    return Some(parse(self.buf.split_to(end + 4 + len).freeze()));
                }
            }
            let mut tmp = [0u8; 8192];
            match tokio::time::timeout(WAIT, self.s.read(&mut tmp)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&tmp[..n]),
                _ => return None,
            }
        }
    }
}

/// Answers every INVITE with 200 + SDP and every BYE with 200; ignores ACKs.
async fn carrier(sock: UdpSocket) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            return;
        };
        let Ok(m) = Message::parse(
            bytes::Bytes::copy_from_slice(&buf[..n]),
            &Default::default(),
        ) else {
            continue;
        };
        let out = match m.method().map(|m| m.as_str().to_string()).as_deref() {
            Some("INVITE") => {
                let me = sock.local_addr().unwrap();
                reply(
                    &m,
                    200,
                    "OK",
                    Some("c"),
                    Some(&format!("sip:c@{me}")),
                    SDP_ANSWER,
                )
            }
            Some("BYE") => reply(&m, 200, "OK", None, None, ""),
            _ => continue,
        };
        let _ = sock.send_to(out.as_bytes(), from).await;
    }
}

/// One call on an open stream: true when it completed.
async fn call_stream<S: AsyncRead + AsyncWrite + Unpin>(
    st: &mut Stream<S>,
    me: SocketAddr,
    gw: SocketAddr,
    id: &str,
) -> Option<()> {
    st.send(&invite(me, gw, "TLS", id, DIALED, &format!("z9hG4bK{id}")))
        .await
        .ok()?;
    let ok = loop {
        let m = st.recv().await?;
        match m.code() {
            Some(200) => break m,
            Some(c) if c < 200 => continue,
            _ => return None,
        }
    };
    let (c, f, t) = (contact_uri(&ok), hdr(&ok, "From"), hdr(&ok, "To"));
    let ack = in_dialog(
        "ACK",
        &c,
        me,
        "TLS",
        &f,
        &t,
        id,
        1,
        &format!("z9hG4bKa{id}"),
        "",
    );
    st.send(&ack).await.ok()?;
    let bye = in_dialog(
        "BYE",
        &c,
        me,
        "TLS",
        &f,
        &t,
        id,
        2,
        &format!("z9hG4bKb{id}"),
        "",
    );
    st.send(&bye).await.ok()?;
    loop {
        let m = st.recv().await?;
        if m.code() == Some(200) && hdr(&m, "CSeq").contains("BYE") {
            return Some(());
        }
    }
}

async fn call_udp(ua: &Ua, gw: SocketAddr, id: &str) -> Option<()> {
    let me = ua.addr;
    ua.send(
        gw,
        &invite(me, gw, "UDP", id, DIALED, &format!("z9hG4bK{id}")),
    )
    .await;
    let ok = loop {
        let (m, _) = ua.recv_within(WAIT).await?;
        match m.code() {
            Some(200) => break m,
            Some(c) if c < 200 => continue,
            _ => return None,
        }
    };
    let (c, f, t) = (contact_uri(&ok), hdr(&ok, "From"), hdr(&ok, "To"));
    let ack = in_dialog(
        "ACK",
        &c,
        me,
        "UDP",
        &f,
        &t,
        id,
        1,
        &format!("z9hG4bKa{id}"),
        "",
    );
    ua.send(gw, &ack).await;
    let bye = in_dialog(
        "BYE",
        &c,
        me,
        "UDP",
        &f,
        &t,
        id,
        2,
        &format!("z9hG4bKb{id}"),
        "",
    );
    ua.send(gw, &bye).await;
    loop {
        let (m, _) = ua.recv_within(WAIT).await?;
        if m.code() == Some(200) && hdr(&m, "CSeq").contains("BYE") {
            return Some(());
        }
    }
}

async fn connect(
    gw: SocketAddr,
    cfg: &Arc<ClientConfig>,
) -> Option<(Stream<impl AsyncRead + AsyncWrite + Unpin>, SocketAddr)> {
    let tcp = TcpStream::connect(gw).await.ok()?;
    let me = tcp.local_addr().ok()?;
    // As a PBX would: no Nagle delay between the ACK and the BYE.
    tcp.set_nodelay(true).ok()?;
    let sn = ServerName::try_from("localhost").ok()?;
    let s = tokio::time::timeout(WAIT, TlsConnector::from(cfg.clone()).connect(sn, tcp))
        .await
        .ok()?
        .ok()?;
    Some((
        Stream {
            s,
            buf: BytesMut::new(),
        },
        me,
    ))
}

/// Runs `calls` calls over `workers` workers; returns (completed, failed, seconds).
async fn run(
    mode: Mode,
    gw: SocketAddr,
    cfg: Arc<ClientConfig>,
    calls: usize,
    workers: usize,
) -> (usize, usize, f64) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let n = calls / workers + usize::from(w < calls % workers);
        let cfg = cfg.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut bad) = (0, 0);
            let ua = Ua::new().await;
            let mut conn = None;
            for i in 0..n {
                let id = format!("{mode:?}-{w}-{i}");
                let done = match mode {
                    Mode::Udp => call_udp(&ua, gw, &id).await,
                    Mode::TlsReuse | Mode::TlsNew => {
                        if conn.is_none() || matches!(mode, Mode::TlsNew) {
                            conn = connect(gw, &cfg).await;
                        }
                        match conn.as_mut() {
                            Some((st, me)) => call_stream(st, *me, gw, &id).await,
                            None => None,
                        }
                    }
                };
                if done.is_some() {
                    ok += 1;
                } else {
                    bad += 1;
                    conn = None;
                }
            }
            (ok, bad)
        }));
    }
    let (mut ok, mut bad) = (0, 0);
    for t in tasks {
        if let Ok((o, b)) = t.await {
            ok += o;
            bad += b;
        }
    }
    (ok, bad, start.elapsed().as_secs_f64())
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (calls, workers) = if bench {
        (
            env("TLS_CPS_CALLS", 2000),
            env("TLS_CPS_WORKERS", 16).max(1),
        )
    } else {
        (5, 1)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let dir = temp_dir("tls-cps");
        std::fs::write(dir.join("c.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("k.pem"), key.serialize_pem()).unwrap();
        let carrier_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let caddr = carrier_sock.local_addr().unwrap();
        tokio::spawn(carrier(carrier_sock));
        let text = config_text(&[(caddr, "udp")], "127.0.0.0/8")
            .replacen(
                r#"{ transport = "tcp", address = "127.0.0.1:0" } ]"#,
                r#"{ transport = "tcp", address = "127.0.0.1:0" }, { transport = "tls", address = "127.0.0.1:0" } ]"#,
                1,
            )
            .replacen("t1_ms = 50", "t1_ms = 500", 1)
            .replacen("t2_ms = 400", "t2_ms = 4000", 1)
            .replacen("t4_ms = 500", "t4_ms = 5000\ntcp_max_per_source = 4096", 1)
            + &format!(
                "\n[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
                dir.join("c.pem").display(),
                dir.join("k.pem").display()
            );
        let gw = start(&text).await;
        let tls = gw
            .gw
            .sip_addrs()
            .into_iter()
            .find(|(k, _)| *k == TransportKind::Tls)
            .map(|(_, a)| a)
            .expect("tls listener");
        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        );
        let mut udp_cps = 0.0;
        for (mode, addr) in [(Mode::Udp, gw.udp), (Mode::TlsReuse, tls), (Mode::TlsNew, tls)] {
            let (ok, bad, secs) = run(mode, addr, cfg.clone(), calls, workers).await;
            let cps = ok as f64 / secs;
            if matches!(mode, Mode::Udp) {
                udp_cps = cps;
            }
            println!(
                "tls_cps {mode:?}: {ok} calls ok, {bad} failed, {secs:.2} s, {cps:.0} calls/s, {:.2} x UDP",
                cps / udp_cps.max(1e-9)
            );
            assert_eq!(bad, 0, "{mode:?}: every call must complete");
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}
