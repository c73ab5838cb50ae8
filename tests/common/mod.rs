//! Shared harness for the integration tests: a gateway started in-process on
//! loopback ports chosen by the kernel, and scripted SIP user agents (UDP and
//! TCP) playing the PBX and the carriers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use trunkgate::config;
use trunkgate::gateway::Gateway;
use trunkgate::sip::{HeaderName, Message, ParseOptions};
use trunkgate::transport::TransportKind;

pub mod sipp;

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

pub fn parse(data: Bytes) -> Message {
    Message::parse(data, &ParseOptions::default()).expect("gateway sent a parseable message")
}

pub fn hdr(m: &Message, name: &str) -> String {
    m.header(&HeaderName::parse(name.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// A scripted UDP user agent on 127.0.0.1.
pub struct Ua {
    pub sock: UdpSocket,
    pub addr: SocketAddr,
}

impl Ua {
    pub async fn new() -> Ua {
        Self::bind("127.0.0.1:0").await
    }

    pub async fn bind(addr: &str) -> Ua {
        let sock = UdpSocket::bind(addr).await.expect("bind ua");
        let addr = sock.local_addr().expect("addr");
        Ua { sock, addr }
    }

    pub async fn send(&self, to: SocketAddr, text: &str) {
        self.sock.send_to(text.as_bytes(), to).await.expect("send");
    }

    pub async fn send_bytes(&self, to: SocketAddr, data: &[u8]) {
        self.sock.send_to(data, to).await.expect("send");
    }

    /// Next message within `within`, or None.
    pub async fn recv_within(&self, within: Duration) -> Option<(Message, SocketAddr)> {
        let mut buf = vec![0u8; 65536];
        match tokio::time::timeout(within, self.sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => Some((parse(Bytes::copy_from_slice(&buf[..n])), from)),
            _ => None,
        }
    }

    pub async fn recv(&self) -> (Message, SocketAddr) {
        self.recv_within(WAIT).await.expect("a message within 5 s")
    }

    /// Next response, skipping none: asserts its code.
    pub async fn expect_response(&self, code: u16) -> Message {
        let (m, _) = self.recv().await;
        assert_eq!(
            m.code(),
            Some(code),
            "expected {code}, got:\n{}",
            String::from_utf8_lossy(m.raw())
        );
        m
    }

    /// Next request: asserts its method.
    pub async fn expect_request(&self, method: &str) -> (Message, SocketAddr) {
        let (m, from) = self.recv().await;
        assert_eq!(
            m.method().map(|x| x.as_str().to_string()).as_deref(),
            Some(method),
            "expected {method}, got:\n{}",
            String::from_utf8_lossy(m.raw())
        );
        (m, from)
    }

    /// Skips messages until a request with `method` arrives (e.g. past absorbed retransmissions).
    pub async fn wait_request(&self, method: &str) -> (Message, SocketAddr) {
        for _ in 0..50 {
            let (m, from) = self.recv().await;
            if m.method().map(|x| x.as_str()) == Some(method) {
                return (m, from);
            }
        }
        panic!("no {method} within 50 messages");
    }

    /// Skips responses until one with `code` arrives.
    pub async fn wait_response(&self, code: u16) -> Message {
        for _ in 0..50 {
            let (m, _) = self.recv().await;
            if m.code() == Some(code) {
                return m;
            }
        }
        panic!("no {code} within 50 messages");
    }
}

pub const SDP: &str = "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n";
pub const SDP_ANSWER: &str = "v=0\r\no=carrier 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 50000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// An INVITE from a PBX at `from` (transport `tp`) to the gateway for `dialed`.
pub fn invite(
    from: SocketAddr,
    gw: SocketAddr,
    tp: &str,
    call_id: &str,
    dialed: &str,
    branch: &str,
) -> String {
    invite_sdp(from, gw, tp, call_id, dialed, branch, SDP)
}

/// [`invite`] with the given SDP body.
pub fn invite_sdp(
    from: SocketAddr,
    gw: SocketAddr,
    tp: &str,
    call_id: &str,
    dialed: &str,
    branch: &str,
    sdp: &str,
) -> String {
    format!(
        "INVITE sip:{dialed}@{gw} SIP/2.0\r\n\
         Via: SIP/2.0/{tp} {from};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Alice\" <sip:+14155550001@{from}>;tag=pbx1\r\n\
         To: <sip:{dialed}@{gw}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{from};transport={tpl}>\r\n\
         User-Agent: test-pbx\r\n\
         X-Internal-Secret: leak-me-not\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {len}\r\n\r\n{sdp}",
        tpl = tp.to_lowercase(),
        len = sdp.len()
    )
}

/// An SDP offer/answer for audio at `addr` (PCMU, PCMA, telephone-event).
pub fn sdp_at(addr: SocketAddr, origin: &str) -> String {
    format!(
        "v=0\r\no={origin} 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        ip = addr.ip(),
        port = addr.port()
    )
}

/// Where an SDP body says media should go (first c= and m=audio).
pub fn sdp_target(body: &[u8]) -> SocketAddr {
    let text = String::from_utf8_lossy(body);
    let ip = text
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 ").or(l.strip_prefix("c=IN IP6 ")))
        .expect("c= line")
        .trim()
        .parse::<std::net::IpAddr>()
        .expect("c= address");
    let port = text
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .expect("m=audio line")
        .parse::<u16>()
        .expect("m= port");
    SocketAddr::new(ip, port)
}

/// One RTP packet as a test peer sees it.
#[derive(Debug, Clone)]
pub struct RtpPkt {
    pub marker: bool,
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
    pub from: SocketAddr,
    pub at: tokio::time::Instant,
}

/// An in-process RTP endpoint on loopback.
pub struct RtpPeer {
    pub sock: UdpSocket,
    pub addr: SocketAddr,
}

impl RtpPeer {
    pub async fn new() -> RtpPeer {
        Self::bind("127.0.0.1:0").await
    }

    pub async fn bind(addr: &str) -> RtpPeer {
        let sock = UdpSocket::bind(addr).await.expect("bind rtp");
        let addr = sock.local_addr().expect("addr");
        RtpPeer { sock, addr }
    }

    /// Sends one RTP packet (version 2, no CSRC/extension).
    pub async fn send(&self, to: SocketAddr, pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) {
        let mut p = vec![0x80, pt & 0x7f];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.sock.send_to(&p, to).await.expect("rtp send");
    }

    /// The next RTP packet within `within`.
    pub async fn recv_within(&self, within: Duration) -> Option<RtpPkt> {
        let mut buf = [0u8; 2048];
        let (n, from) = tokio::time::timeout(within, self.sock.recv_from(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n < 12 {
            return None;
        }
        Some(RtpPkt {
            marker: buf[1] & 0x80 != 0,
            pt: buf[1] & 0x7f,
            seq: u16::from_be_bytes([buf[2], buf[3]]),
            ts: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
            ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
            payload: buf[12..n].to_vec(),
            from,
            at: tokio::time::Instant::now(),
        })
    }

    /// Every packet until `quiet` passes without one (at most `max`).
    pub async fn drain(&self, quiet: Duration, max: usize) -> Vec<RtpPkt> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.recv_within(quiet).await {
                Some(p) => out.push(p),
                None => break,
            }
        }
        out
    }
}

/// Goertzel power of `freq` Hz in 8 kHz PCM, normalised by length.
pub fn goertzel(pcm: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    p / (pcm.len() as f64).powi(2)
}

/// 20 ms of a sine at `freq` Hz (amplitude 8000) starting at sample `start`, as PCMU.
pub fn pcmu_sine(freq: f64, start: u64) -> Vec<u8> {
    (0..160u64)
        .map(|i| {
            let t = (start + i) as f64 / 8000.0;
            let s = (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16;
            trunkgate::media::g711::ulaw_encode(s)
        })
        .collect()
}

/// A response to `req` (copies Via, From, To (+tag), Call-ID, CSeq), as a UAS would send it.
pub fn reply(
    req: &Message,
    code: u16,
    reason: &str,
    to_tag: Option<&str>,
    contact: Option<&str>,
    body: &str,
) -> String {
    let mut s = format!("SIP/2.0 {code} {reason}\r\n");
    for v in req.header_all(&HeaderName::Via) {
        s.push_str(&format!("Via: {}\r\n", String::from_utf8_lossy(v)));
    }
    s.push_str(&format!("From: {}\r\n", hdr(req, "From")));
    let to = hdr(req, "To");
    match to_tag {
        Some(t) if !to.contains("tag=") => s.push_str(&format!("To: {to};tag={t}\r\n")),
        _ => s.push_str(&format!("To: {to}\r\n")),
    }
    s.push_str(&format!(
        "Call-ID: {}\r\nCSeq: {}\r\n",
        hdr(req, "Call-ID"),
        hdr(req, "CSeq")
    ));
    if let Some(c) = contact {
        s.push_str(&format!("Contact: <{c}>\r\n"));
    }
    if body.is_empty() {
        s.push_str("Content-Length: 0\r\n\r\n");
    } else {
        s.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    s
}

/// An in-dialog request from a UA, built from the dialog facts it learned.
#[allow(clippy::too_many_arguments)]
pub fn in_dialog(
    method: &str,
    ruri: &str,
    me: SocketAddr,
    tp: &str,
    from: &str,
    to: &str,
    call_id: &str,
    cseq: u32,
    branch: &str,
    body: &str,
) -> String {
    let mut s = format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/{tp} {me};branch={branch}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
    );
    if method == "INVITE" {
        s.push_str(&format!("Contact: <sip:ua@{me}>\r\n"));
    }
    if body.is_empty() {
        s.push_str("Content-Length: 0\r\n\r\n");
    } else {
        s.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    s
}

/// The URI inside a Contact header value.
pub fn contact_uri(m: &Message) -> String {
    let c = hdr(m, "Contact");
    match (c.find('<'), c.find('>')) {
        (Some(a), Some(b)) if b > a => c[a + 1..b].to_string(),
        _ => c,
    }
}

/// A scripted TCP user agent: one connection, Content-Length framing.
pub struct TcpUa {
    pub stream: TcpStream,
    pub addr: SocketAddr,
    buf: BytesMut,
}

impl TcpUa {
    pub async fn connect(to: SocketAddr) -> TcpUa {
        let stream = TcpStream::connect(to).await.expect("tcp connect");
        let addr = stream.local_addr().expect("addr");
        TcpUa {
            stream,
            addr,
            buf: BytesMut::new(),
        }
    }

    pub fn from_stream(stream: TcpStream) -> TcpUa {
        let addr = stream.local_addr().expect("addr");
        TcpUa {
            stream,
            addr,
            buf: BytesMut::new(),
        }
    }

    pub async fn send(&mut self, text: &str) {
        self.stream
            .write_all(text.as_bytes())
            .await
            .expect("tcp write");
    }

    pub async fn recv(&mut self) -> Message {
        tokio::time::timeout(WAIT, self.recv_inner())
            .await
            .expect("tcp message within 5 s")
    }

    async fn recv_inner(&mut self) -> Message {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        let n = n.trim();
                        (n == "content-length" || n == "l")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    let frame = self.buf.split_to(end + 4 + len).freeze();
                    return parse(frame);
                }
            }
            let mut tmp = [0u8; 8192];
            let n = self.stream.read(&mut tmp).await.expect("tcp read");
            assert!(n > 0, "gateway closed the connection");
            self.buf.extend_from_slice(&tmp[..n]);
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
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

/// Answers `code` to INVITEs on `ua` until one of a call not seen before
/// arrives (retransmissions of earlier calls' INVITEs, sent before their
/// answer arrived, are answered again and skipped).
pub async fn answer_next_invite(ua: &Ua, code: u16, reason: &str) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..20 {
        let (inv, from) = ua.wait_request("INVITE").await;
        ua.send(from, &reply(&inv, code, reason, Some("c1"), None, ""))
            .await;
        let id = hdr(&inv, "Call-ID");
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.contains(&id) {
            seen.push(id);
            return;
        }
    }
    panic!("no new INVITE");
}

/// An INVITE from a fresh PBX to the gateway at `gw` for `dialed`: when the
/// gateway takes it (100 Trying), the carrier answers `code` and the PBX gets
/// it relayed: `Ok(pbx)`; when the gateway refuses it itself, `Err(its code)`.
pub async fn call_through(
    gw: SocketAddr,
    carrier: &Ua,
    id: &str,
    dialed: &str,
    code: u16,
    reason: &str,
) -> Result<Ua, u16> {
    let pbx = Ua::new().await;
    let branch = format!("z9hG4bK{id}");
    pbx.send(gw, &invite(pbx.addr, gw, "UDP", id, dialed, &branch))
        .await;
    for _ in 0..20 {
        let Some((m, _)) = pbx.recv_within(WAIT).await else {
            break;
        };
        match m.code() {
            Some(100) => {
                answer_next_invite(carrier, code, reason).await;
                pbx.wait_response(code).await;
                return Ok(pbx);
            }
            Some(c) if c >= 200 => return Err(c),
            _ => {}
        }
    }
    panic!("no 100 or final answer for {id}");
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
