//! Printing new messages for the other leg (RFC 3261 §7, §8.2.6): CRLF line
//! ends, Content-Length always written.

use super::header_name::HeaderName;
use super::message::Message;
use super::method::Method;
use bytes::{BufMut, Bytes, BytesMut};

/// Writes a message line by line into one buffer.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    buf: BytesMut,
}

/// Appends `v` with CR and LF replaced by SP, so a value copied from the
/// other leg can never start a new header line (header injection).
fn put_clean(buf: &mut BytesMut, v: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', v).is_none() {
        buf.put_slice(v);
        return;
    }
    buf.extend(
        v.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
}

/// The buffer a message starts with: an INVITE or a 200 OK carrying SDP is
/// ~700-1000 bytes, and growing a smaller buffer copies it (glibc serves up
/// to 1032 bytes from its per-thread cache, so this costs no more than 512).
const INITIAL_CAPACITY: usize = 1024;

/// A build buffer grown past this is not kept for the next message.
const SCRATCH_MAX: usize = 16 * 1024;

thread_local! {
    /// This thread's build buffer, reused message after message. A finished
    /// message is copied out at its exact size: the messages a call keeps
    /// while it lasts (its transactions' requests and last responses, to
    /// retransmit) then hold no unused room. Built in a buffer of their own
    /// they kept ~1 KB each, a 350-byte ACK included (~1.5 KB per live call).
    static SCRATCH: std::cell::Cell<Option<BytesMut>> = const { std::cell::Cell::new(None) };
}

/// The thread's build buffer, empty (a new one if another builder has it).
fn scratch() -> BytesMut {
    match SCRATCH.with(std::cell::Cell::take) {
        Some(mut b) => {
            b.clear();
            b
        }
        None => BytesMut::with_capacity(INITIAL_CAPACITY),
    }
}

/// The finished message at its exact size; the buffer goes back for reuse.
fn exact(buf: BytesMut) -> Bytes {
    let out = Bytes::copy_from_slice(&buf);
    if buf.capacity() <= SCRATCH_MAX {
        SCRATCH.with(|s| s.set(Some(buf)));
    }
    out
}

/// Appends `v` in decimal without going through `fmt` (`itoa`).
fn put_decimal(buf: &mut BytesMut, v: usize) {
    buf.put_slice(itoa::Buffer::new().format(v).as_bytes());
}

impl MessageBuilder {
    /// `METHOD uri SIP/2.0` (RFC 3261 §7.1).
    pub fn request(method: &Method, uri: &[u8]) -> Self {
        let mut buf = scratch();
        put_clean(&mut buf, method.as_bytes());
        buf.put_u8(b' ');
        put_clean(&mut buf, uri);
        buf.put_slice(b" SIP/2.0\r\n");
        MessageBuilder { buf }
    }

    /// `SIP/2.0 code reason` (RFC 3261 §7.2).
    pub fn response(code: u16, reason: &str) -> Self {
        let mut buf = scratch();
        buf.put_slice(b"SIP/2.0 ");
        put_decimal(&mut buf, usize::from(code));
        buf.put_u8(b' ');
        put_clean(&mut buf, reason.as_bytes());
        buf.put_slice(b"\r\n");
        MessageBuilder { buf }
    }

    /// `name: value`.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        put_clean(&mut self.buf, name.as_bytes());
        self.buf.put_slice(b": ");
        put_clean(&mut self.buf, value.as_ref());
        self.buf.put_slice(b"\r\n");
        self
    }

    /// `name: value` with the value written as the concatenation of `parts`
    /// (no intermediate `String`).
    pub fn header_parts(mut self, name: &str, parts: &[&[u8]]) -> Self {
        put_clean(&mut self.buf, name.as_bytes());
        self.buf.put_slice(b": ");
        for p in parts {
            put_clean(&mut self.buf, p);
        }
        self.buf.put_slice(b"\r\n");
        self
    }

    /// `name: value` with the canonical long form of `name`.
    pub fn header_name(self, name: &HeaderName, value: impl AsRef<[u8]>) -> Self {
        self.header(name.as_str(), value)
    }

    /// Adds Content-Type, Content-Length, the blank line and the body.
    pub fn body(self, content_type: &str, body: &[u8]) -> Bytes {
        let mut b = self.header("Content-Type", content_type).buf;
        b.put_slice(b"Content-Length: ");
        put_decimal(&mut b, body.len());
        b.put_slice(b"\r\n\r\n");
        b.put_slice(body);
        exact(b)
    }

    /// Adds `Content-Length: 0` and the blank line.
    pub fn finish(self) -> Bytes {
        let mut b = self.header("Content-Length", "0").buf;
        b.put_slice(b"\r\n");
        exact(b)
    }
}

/// RFC 3261 §8.2.6.2: a response copying every Via (in order), From, To
/// (adding `;tag=to_tag` when the To has none and a tag is given), Call-ID
/// and CSeq, plus Timestamp for a 100 (§8.2.6.1).
pub fn response_to(req: &Message, code: u16, reason: &str, to_tag: Option<&str>) -> MessageBuilder {
    let mut b = MessageBuilder::response(code, reason);
    for v in req.header_all(&HeaderName::Via) {
        b = b.header_name(&HeaderName::Via, v);
    }
    if let Some(f) = req.header(&HeaderName::From) {
        b = b.header_name(&HeaderName::From, f);
    }
    if let Some(t) = req.header(&HeaderName::To) {
        let has_tag = req.to_hdr().is_ok_and(|n| n.tag().is_some());
        match to_tag {
            Some(tag) if !has_tag => {
                let mut v = t.to_vec();
                v.extend_from_slice(b";tag=");
                v.extend_from_slice(tag.as_bytes());
                b = b.header_name(&HeaderName::To, v);
            }
            _ => b = b.header_name(&HeaderName::To, t),
        }
    }
    for name in [HeaderName::CallId, HeaderName::CSeq] {
        if let Some(v) = req.header(&name) {
            b = b.header_name(&name, v);
        }
    }
    if code == 100 {
        if let Some(ts) = req.header(&HeaderName::Timestamp) {
            b = b.header_name(&HeaderName::Timestamp, ts);
        }
    }
    b
}

/// Standard reason phrases (RFC 3261 §21 and extensions); an unknown code
/// gets the phrase of its class's x00 code (RFC 3261 §8.1.3.2 treats it so).
pub fn default_reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        417 => "Unknown Resource-Priority",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        428 => "Use Identity Header",
        429 => "Provide Referrer Identity",
        433 => "Anonymity Disallowed",
        436 => "Bad Identity-Info",
        437 => "Unsupported Certificate",
        438 => "Invalid Identity Header",
        439 => "First Hop Lacks Outbound Support",
        440 => "Max-Breadth Exceeded",
        469 => "Bad Info Package",
        470 => "Consent Needed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        494 => "Security Agreement Required",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        580 => "Precondition Failure",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        607 => "Unwanted",
        608 => "Rejected",
        _ => match code / 100 {
            1 => "Trying",
            2 => "OK",
            3 => "Multiple Choices",
            4 => "Bad Request",
            5 => "Server Internal Error",
            _ => "Busy Everywhere",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::ParseOptions;

    #[test]
    fn request_byte_exact() {
        let b = MessageBuilder::request(&Method::Invite, b"sip:bob@example.com")
            .header("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1")
            .header_name(&HeaderName::CallId, b"abc")
            .header_name(&HeaderName::MaxForwards, "70")
            .body("application/sdp", b"v=0\r\n");
        assert_eq!(
            &b[..],
            &b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
Call-ID: abc\r\n\
Max-Forwards: 70\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 5\r\n\
\r\n\
v=0\r\n"[..]
        );
    }

    /// A finished message holds exactly its bytes (it is copied out of the
    /// thread's build buffer), whether or not another builder is open.
    #[test]
    fn finished_messages_hold_no_unused_room() {
        let open = MessageBuilder::response(100, "Trying");
        for _ in 0..2 {
            let ack = MessageBuilder::request(&Method::Ack, b"sip:bob@example.com")
                .header_name(&HeaderName::CallId, b"abc")
                .finish();
            let len = ack.len();
            assert_eq!(Vec::from(ack).capacity(), len);
            let ok = MessageBuilder::response(200, "OK").body("application/sdp", b"v=0\r\n");
            let len = ok.len();
            assert_eq!(Vec::from(ok).capacity(), len);
        }
        let trying = open.finish();
        assert!(trying.starts_with(b"SIP/2.0 100 Trying\r\n"));
    }

    #[test]
    fn response_byte_exact_and_no_injection() {
        let b = MessageBuilder::response(486, default_reason(486))
            .header("Subject", "a\r\nVia: evil")
            .finish();
        assert_eq!(
            &b[..],
            &b"SIP/2.0 486 Busy Here\r\nSubject: a  Via: evil\r\nContent-Length: 0\r\n\r\n"[..]
        );
    }

    const REQ: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1, SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2\r\n\
Max-Forwards: 70\r\n\
v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKuac;received=192.0.2.1\r\n\
f: Alice <sip:alice@example.com>;tag=1928301774\r\n\
t: Bob <sip:bob@example.com>\r\n\
i: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Timestamp: 54\r\n\
l: 0\r\n\r\n";

    #[test]
    fn response_to_copies_vias_in_order_and_adds_tag() {
        let req = Message::parse(Bytes::from_static(REQ), &ParseOptions::default()).unwrap();
        let b = response_to(&req, 100, "Trying", None).finish();
        assert_eq!(
            &b[..],
            &b"SIP/2.0 100 Trying\r\n\
Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1, SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2\r\n\
Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKuac;received=192.0.2.1\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
To: Bob <sip:bob@example.com>\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Timestamp: 54\r\n\
Content-Length: 0\r\n\r\n"[..]
        );
        let resp = Message::parse(
            response_to(&req, 180, "Ringing", Some("xyz")).finish(),
            &ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(resp.to_hdr().unwrap().tag().unwrap(), "xyz");
        assert!(resp.header(&HeaderName::Timestamp).is_none());
        let branches: Vec<Bytes> = resp
            .vias()
            .unwrap()
            .iter()
            .filter_map(|v| v.branch())
            .collect();
        assert_eq!(branches, ["z9hG4bKp1", "z9hG4bKp2", "z9hG4bKuac"]);
        assert_eq!(resp.validate_response(), Ok(()));
        // A To that already has a tag keeps it.
        let again = Message::parse(
            response_to(&resp, 200, "OK", Some("other")).finish(),
            &ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(again.to_hdr().unwrap().tag().unwrap(), "xyz");
    }

    #[test]
    fn numbers_written_in_decimal() {
        let r = MessageBuilder::response(100, "Trying").finish();
        assert!(r.starts_with(b"SIP/2.0 100 Trying\r\n"));
        let big = vec![b'x'; 1234];
        let b = MessageBuilder::request(&Method::Info, b"sip:a@b").body("text/plain", &big);
        let text = String::from_utf8_lossy(&b);
        assert!(
            text.contains("\r\nContent-Length: 1234\r\n\r\nxxx"),
            "{text}"
        );
        let b = MessageBuilder::request(&Method::Info, b"sip:a@b").body("text/plain", b"");
        assert!(String::from_utf8_lossy(&b).ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn reasons() {
        assert_eq!(default_reason(200), "OK");
        assert_eq!(default_reason(183), "Session Progress");
        assert_eq!(default_reason(420), "Bad Extension");
        assert_eq!(default_reason(483), "Too Many Hops");
        assert_eq!(default_reason(499), "Bad Request");
        assert_eq!(default_reason(555), "Server Internal Error");
        assert_eq!(default_reason(699), "Busy Everywhere");
    }
}
