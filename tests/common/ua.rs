//! Scripted SIP user agents (UDP, and TCP or TLS streams) playing the PBX and the carriers:
//! messages built as a UA would send them (INVITE with or without SDP,
//! responses, in-dialog requests), and the steps of a call through the
//! gateway.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use trunkgate::sip::{HeaderName, Message, ParseOptions};

use super::WAIT;

pub fn parse(data: Bytes) -> Message {
    Message::parse(data, &ParseOptions::default()).expect("gateway sent a parseable message")
}

pub fn hdr(m: &Message, name: &str) -> String {
    m.header(&HeaderName::parse(name.as_bytes()))
        .map(|v| String::from_utf8_lossy(&v).into_owned())
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
        let (sock, addr) = bind_udp(addr).await;
        Ua { sock, addr }
    }

    pub async fn send(&self, to: SocketAddr, text: &str) {
        self.sock.send_to(text.as_bytes(), to).await.expect("send");
    }

    pub async fn send_bytes(&self, to: SocketAddr, data: &[u8]) {
        self.sock.send_to(data, to).await.expect("send");
    }

    /// Sends an [`invite`] (UDP, the default [`SDP`]) from this UA to the gateway at `gw`.
    pub async fn send_invite(&self, gw: SocketAddr, call_id: &str, dialed: &str, branch: &str) {
        self.send_invite_sdp(gw, call_id, dialed, branch, SDP).await;
    }

    /// [`Ua::send_invite`] with the branch made of `call_id`
    /// (`z9hG4bK` and its letters and digits).
    pub async fn dial(&self, gw: SocketAddr, call_id: &str, dialed: &str) {
        let token: String = call_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        self.send_invite(gw, call_id, dialed, &format!("z9hG4bK{token}"))
            .await;
    }

    /// [`Ua::send_invite`] with the given SDP body.
    pub async fn send_invite_sdp(
        &self,
        gw: SocketAddr,
        call_id: &str,
        dialed: &str,
        branch: &str,
        sdp: &str,
    ) {
        self.send(
            gw,
            &invite_sdp(self.addr, gw, "UDP", call_id, dialed, branch, sdp),
        )
        .await;
    }

    /// Sends an INVITE (UDP, branch `z9hG4bK<call_id>`) from this UA to the
    /// gateway at `gw`, offering audio at `media` ([`sdp_at`] with `origin`).
    pub async fn send_offer(
        &self,
        gw: SocketAddr,
        call_id: &str,
        dialed: &str,
        media: SocketAddr,
        origin: &str,
    ) {
        let branch = format!("z9hG4bK{call_id}");
        let sdp = sdp_at(media, origin);
        self.send_invite_sdp(gw, call_id, dialed, &branch, &sdp)
            .await;
    }

    /// Waits for the 200 to this UA's INVITE (skipping provisionals) and
    /// ACKs it to the gateway at `gw`; returns the 200.
    pub async fn ack_200(&self, gw: SocketAddr) -> Message {
        let ok = self.wait_response(200).await;
        self.send(gw, &UaDialog::from_ok(&ok, self.addr).ack())
            .await;
        ok
    }

    /// Answers `req` (an INVITE) 200 OK with To tag `tag`, Contact
    /// `sip:<user>@<this UA>` and [`SDP_ANSWER`], sent to `to`.
    pub async fn answer(&self, to: SocketAddr, req: &Message, tag: &str, user: &str) {
        self.answer_with(to, req, tag, user, SDP_ANSWER).await;
    }

    /// [`Ua::answer`] with the given SDP.
    pub async fn answer_with(
        &self,
        to: SocketAddr,
        req: &Message,
        tag: &str,
        user: &str,
        sdp: &str,
    ) {
        let contact = format!("sip:{user}@{}", self.addr);
        self.send(to, &reply(req, 200, "OK", Some(tag), Some(&contact), sdp))
            .await;
    }

    /// Sends a response `code` to `req` without a body (a 180, a 486 …), To
    /// tag `tag`, to `to`.
    pub async fn status(&self, to: SocketAddr, req: &Message, code: u16, reason: &str, tag: &str) {
        self.send(to, &reply(req, code, reason, Some(tag), None, ""))
            .await;
    }

    /// Answers `req` 200 OK without a body (a BYE, say), sent to `to`.
    pub async fn ok(&self, to: SocketAddr, req: &Message) {
        self.send(to, &reply(req, 200, "OK", None, None, "")).await;
    }

    /// Next message within `within`, or None.
    pub async fn recv_within(&self, within: Duration) -> Option<(Message, SocketAddr)> {
        let mut buf = vec![0u8; 65536];
        match tokio::time::timeout(within, self.sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => Some((parse(Bytes::copy_from_slice(&buf[..n])), from)),
            _ => None,
        }
    }

    /// Whether no message arrives within `within`.
    pub async fn hears_nothing(&self, within: Duration) -> bool {
        self.recv_within(within).await.is_none()
    }

    /// How many messages arrive before `quiet` passes without one.
    pub async fn count_until_quiet(&self, quiet: Duration) -> usize {
        let mut n = 0;
        while self.recv_within(quiet).await.is_some() {
            n += 1;
        }
        n
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

    /// Next request: asserts that it is an INVITE for `number`
    /// (Request-URI `sip:<number>@…`).
    pub async fn expect_invite_for(&self, number: &str) -> (Message, SocketAddr) {
        let (inv, from) = self.expect_request("INVITE").await;
        let uri = inv.request_uri().expect("a request");
        let uri = String::from_utf8_lossy(uri);
        assert!(uri.starts_with(&format!("sip:{number}@")), "{uri}");
        (inv, from)
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
    let attrs = "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    sdp_body(
        addr,
        &format!("{origin} 1 1"),
        "audio",
        "RTP/AVP 0 8 101",
        attrs,
    )
}

/// An SDP body with one media stream at `addr`: `o=<origin> IN IP4 …`,
/// `m=<media> <port> <formats>`, then the attribute lines `attrs`.
pub fn sdp_body(addr: SocketAddr, origin: &str, media: &str, formats: &str, attrs: &str) -> String {
    format!(
        "v=0\r\no={origin} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm={media} {port} {formats}\r\n{attrs}",
        ip = addr.ip(),
        port = addr.port()
    )
}

/// The first line of an SDP body that starts with `prefix` ("m=audio",
/// say), or "".
pub fn sdp_line(body: &[u8], prefix: &str) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_default()
        .to_string()
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

/// A UDP socket on `addr` and the address it got.
pub async fn bind_udp(addr: &str) -> (UdpSocket, SocketAddr) {
    let sock = UdpSocket::bind(addr).await.expect("bind udp");
    let addr = sock.local_addr().expect("addr");
    (sock, addr)
}

/// Ends a SIP message's head with its body: Content-Length 0 when empty,
/// else the SDP's type and length.
fn push_body(s: &mut String, body: &str) {
    if body.is_empty() {
        s.push_str("Content-Length: 0\r\n\r\n");
    } else {
        s.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
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
        s.push_str(&format!("Via: {}\r\n", String::from_utf8_lossy(&v)));
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
    push_body(&mut s, body);
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
    push_body(&mut s, body);
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

/// A scripted user agent on one stream (a TCP connection, or TLS over one):
/// Content-Length framing.
pub struct StreamUa<S = TcpStream> {
    pub stream: S,
    pub addr: SocketAddr,
    buf: BytesMut,
}

/// A scripted TCP user agent: one connection.
pub type TcpUa = StreamUa<TcpStream>;

impl TcpUa {
    pub async fn connect(to: SocketAddr) -> TcpUa {
        let stream = TcpStream::connect(to).await.expect("tcp connect");
        TcpUa::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> TcpUa {
        let addr = stream.local_addr().expect("addr");
        StreamUa::new(stream, addr)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> StreamUa<S> {
    /// A UA on `stream`, whose local address is `addr`.
    pub fn new(stream: S, addr: SocketAddr) -> StreamUa<S> {
        StreamUa {
            stream,
            addr,
            buf: BytesMut::new(),
        }
    }

    pub async fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// Sends an [`invite`] (the default [`SDP`]) over this stream to the
    /// gateway at `gw`, its Via naming `tp` ("TCP", "TLS").
    pub async fn send_invite(
        &mut self,
        gw: SocketAddr,
        tp: &str,
        call_id: &str,
        dialed: &str,
        branch: &str,
    ) {
        let text = invite(self.addr, gw, tp, call_id, dialed, branch);
        self.send(&text).await;
    }

    /// The next message, or None when the peer closed or failed the stream.
    pub async fn try_recv(&mut self) -> Option<Message> {
        tokio::time::timeout(WAIT, self.recv_inner())
            .await
            .expect("a message or a close within 5 s")
    }

    pub async fn recv(&mut self) -> Message {
        self.try_recv()
            .await
            .expect("gateway closed the connection")
    }

    async fn recv_inner(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
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
                    return Some(parse(self.buf.split_to(end + 4 + len).freeze()));
                }
            }
            let mut tmp = [0u8; 8192];
            match self.stream.read(&mut tmp).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }
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

/// One dialog as a UA over UDP sees it, learned from the 2xx to its INVITE:
/// it builds its own ACK, BYE and re-INVITE (the next CSeq, a fresh branch,
/// the 2xx's Contact as the target) and answers the far side's in-dialog
/// requests.
pub struct UaDialog {
    /// The remote target: the Contact of the 2xx (RFC 3261 §12.1.2).
    pub target: String,
    /// Our side, with our tag (the From of the INVITE).
    pub from: String,
    /// The far side, with its tag (the To of the 2xx).
    pub to: String,
    pub call_id: String,
    /// The CSeq number of the last request we sent in the dialog.
    pub cseq: u32,
    me: SocketAddr,
    /// The transport named in our Via ("UDP" unless [`UaDialog::over`] says otherwise).
    tp: &'static str,
}

impl UaDialog {
    /// The UAC's dialog from the 2xx its INVITE got, `me` being its address.
    pub fn from_ok(ok: &Message, me: SocketAddr) -> UaDialog {
        let cseq = hdr(ok, "CSeq");
        UaDialog {
            target: contact_uri(ok),
            from: hdr(ok, "From"),
            to: hdr(ok, "To"),
            call_id: hdr(ok, "Call-ID"),
            cseq: cseq
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a CSeq number in the 2xx"),
            me,
            tp: "UDP",
        }
    }

    /// The UAS's dialog from the INVITE it got and answered with To tag
    /// `tag`, `me` being its address: its requests go to `target` with the
    /// INVITE's To (and the tag) as From, its From as To, and CSeq numbers
    /// from 1.
    pub fn answered(inv: &Message, tag: &str, target: &str, me: SocketAddr) -> UaDialog {
        UaDialog {
            target: target.to_string(),
            from: format!("{};tag={tag}", hdr(inv, "To")),
            to: hdr(inv, "From"),
            call_id: hdr(inv, "Call-ID"),
            cseq: 0,
            me,
            tp: "UDP",
        }
    }

    /// The same dialog with its requests sent over `tp` ("TCP", "TLS").
    pub fn over(mut self, tp: &'static str) -> UaDialog {
        self.tp = tp;
        self
    }

    fn request(&self, method: &str, cseq: u32, body: &str) -> String {
        let token: String = self
            .call_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let branch = format!("z9hG4bK{token}-{method}-{cseq}");
        in_dialog(
            method,
            &self.target,
            self.me,
            self.tp,
            &self.from,
            &self.to,
            &self.call_id,
            cseq,
            &branch,
            body,
        )
    }

    /// The ACK of the 2xx (the INVITE's CSeq number, RFC 3261 §13.2.2.4).
    pub fn ack(&self) -> String {
        self.request("ACK", self.cseq, "")
    }

    /// A BYE with the next CSeq.
    pub fn bye(&mut self) -> String {
        self.next("BYE", "")
    }

    /// A re-INVITE with `sdp` and the next CSeq.
    pub fn reinvite(&mut self, sdp: &str) -> String {
        self.next("INVITE", sdp)
    }

    /// Any other in-dialog request (INFO, OPTIONS, UPDATE …) with the next
    /// CSeq; a body is sent as SDP.
    pub fn next(&mut self, method: &str, body: &str) -> String {
        self.cseq += 1;
        self.request(method, self.cseq, body)
    }

    /// Answers an in-dialog request from the far side (a BYE, say) 200 OK.
    pub fn answer(&self, req: &Message) -> String {
        reply(req, 200, "OK", None, None, "")
    }
}

/// The carrier answers the INVITE it got (`inv`) 200 OK (To tag `c`, its
/// Contact, [`SDP_ANSWER`]), sent to the gateway at `gw`.
pub async fn carrier_answers(carrier: &Ua, gw: SocketAddr, inv: &Message) {
    carrier.answer(gw, inv, "c", "c").await;
}

/// The carrier answers the next INVITE it gets `code` (no body, To tag `c`),
/// sent to the gateway at `gw`, and the PBX gets that answer relayed.
/// Returns the carrier's INVITE.
pub async fn carrier_status(
    carrier: &Ua,
    gw: SocketAddr,
    pbx: &Ua,
    code: u16,
    reason: &str,
) -> Message {
    let (inv, _) = carrier.wait_request("INVITE").await;
    carrier.status(gw, &inv, code, reason, "c").await;
    pbx.wait_response(code).await;
    inv
}

/// [`carrier_answers`], then the PBX gets the 200 and the carrier the gateway's ACK.
/// Returns the PBX's 200.
pub async fn answer_call(carrier: &Ua, gw: SocketAddr, inv: &Message, pbx: &Ua) -> Message {
    carrier_answers(carrier, gw, inv).await;
    let ok = pbx.wait_response(200).await;
    carrier.wait_request("ACK").await;
    ok
}

/// The PBX hangs up a connected call (its 200 OK was `ok`): its BYE goes
/// through the gateway, the carrier gets a BYE and answers 200, and the
/// PBX gets the 200 for its BYE.
pub async fn hang_up(pbx: &Ua, gw: SocketAddr, carrier: &Ua, ok: &Message) {
    let mut dialog = UaDialog::from_ok(ok, pbx.addr);
    pbx.send(gw, &dialog.bye()).await;
    let (bye, _) = carrier.wait_request("BYE").await;
    carrier.send(gw, &dialog.answer(&bye)).await;
    pbx.wait_response(200).await;
}
