//! Building responses to a received request and working out where they go.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::sip::{HeaderName, Message, MessageBuilder, Via};
use crate::transport::Target;

use super::hub::Arrival;

/// Extensions we support (RFC 3261 §20.37), in Supported and checked against Require.
pub const SUPPORTED: &[&str] = &["100rel", "timer", "replaces", "norefersub"];
/// Methods we accept (RFC 3261 §20.5), in Allow.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, PRACK";

/// The request's top Via as it must appear in our responses: RFC 3261 §18.2.1
/// adds `received` when the sent-by host is not the packet's source address,
/// RFC 3581 §4 fills in an empty `rport` with the source port.
/// `via` is the same value already parsed (None when it does not parse).
pub fn fixed_top_via(raw: &Bytes, via: Option<&Via>, source: SocketAddr) -> Bytes {
    let Ok(text) = std::str::from_utf8(raw) else {
        return raw.clone();
    };
    let mut out = String::with_capacity(text.len() + 40);
    let mut has_received = false;
    for (i, part) in text.split(';').enumerate() {
        if i > 0 {
            out.push(';');
        }
        let p = part.trim();
        if i > 0 && p.eq_ignore_ascii_case("rport") {
            out.push_str("rport=");
            out.push_str(&source.port().to_string());
            continue;
        }
        if i > 0 && p.len() >= 8 && p[..8].eq_ignore_ascii_case("received") {
            has_received = true;
        }
        out.push_str(part);
    }
    if !has_received {
        let host_is_source = via
            .and_then(|v| v.host.ip())
            .is_some_and(|ip| ip == source.ip());
        if !host_is_source {
            out.push_str(";received=");
            out.push_str(&source.ip().to_string());
        }
    }
    Bytes::from(out)
}

/// The request's top Via value (first of a comma-joined line), raw.
pub fn top_via_raw(req: &Message) -> Bytes {
    req.header_values(&HeaderName::Via)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// RFC 3261 §18.2.2 / RFC 3581: where a response to this request goes.
/// Stream transports: back on the connection it came on. UDP: the source IP
/// (what `received` says), and the source port when the client asked for
/// `rport`, else the Via's sent-by port (default 5060). `maddr` (multicast) is
/// not supported.
pub fn response_target(via: Option<&Via>, rx: &Arrival) -> Target {
    if rx.kind.is_reliable() {
        return rx.flow();
    }
    let port = match via {
        Some(v) if v.rport().is_some() => rx.source.port(),
        Some(v) => v.port.unwrap_or(5060),
        None => rx.source.port(),
    };
    Target {
        kind: rx.kind,
        addr: SocketAddr::new(rx.source.ip(), port),
        conn: None,
    }
}

/// RFC 3261 §8.2.6.2: start a response that copies the request's Vias (top one
/// already fixed up), From, To (adding our tag when it has none), Call-ID and CSeq.
pub fn response(
    req: &Message,
    top_via: &Bytes,
    code: u16,
    reason: &str,
    to_tag: Option<&[u8]>,
) -> MessageBuilder {
    let mut b = MessageBuilder::response(code, reason).header("Via", top_via);
    let mut vias = req.header_values(&HeaderName::Via).into_iter();
    vias.next();
    for v in vias {
        b = b.header("Via", v);
    }
    if let Some(f) = req.header(&HeaderName::From) {
        b = b.header("From", f);
    }
    if let Some(t) = req.header(&HeaderName::To) {
        // The To is parsed only when a tag may have to be added.
        let add_tag = to_tag
            .filter(|_| code > 100 && !req.to_hdr().map(|n| n.tag().is_some()).unwrap_or(false));
        match add_tag {
            Some(tag) => {
                let mut v = Vec::with_capacity(t.len() + tag.len() + 5);
                v.extend_from_slice(&t);
                v.extend_from_slice(b";tag=");
                v.extend_from_slice(tag);
                b = b.header("To", v);
            }
            _ => b = b.header("To", t),
        }
    }
    if let Some(c) = req.header(&HeaderName::CallId) {
        b = b.header("Call-ID", c);
    }
    if let Some(c) = req.header(&HeaderName::CSeq) {
        b = b.header("CSeq", c);
    }
    if code == 100 {
        if let Some(ts) = req.header(&HeaderName::Timestamp) {
            b = b.header("Timestamp", ts);
        }
    }
    b
}

/// Headers of a response passed back to the other leg.
pub const PASS_RESPONSE: &[&str] = &[
    "Require",
    "RSeq",
    "Supported",
    "Session-Expires",
    "P-Asserted-Identity",
    "Privacy",
    "Remote-Party-ID",
    "Reason",
    "Warning",
    "Retry-After",
    "Unsupported",
    "Min-SE",
    "Content-Disposition",
    "Accept",
];

pub fn copy_headers(
    from: &Message,
    names: &[&str],
    max_value: usize,
    mut b: crate::sip::MessageBuilder,
) -> crate::sip::MessageBuilder {
    for h in from.headers() {
        let n = h.name.as_str();
        // `[sip] max_copied_header`: an over-long value is not carried to the other leg.
        if h.value.len() <= max_value && names.iter().any(|p| p.eq_ignore_ascii_case(n)) {
            b = b.header(n, &h.value);
        }
    }
    b
}

/// The first `max` characters of a display name (on a character boundary).
pub fn bounded_display(d: String, max: usize) -> String {
    let mut d = match d.char_indices().nth(max) {
        Some((i, _)) => d[..i].to_string(),
        None => d,
    };
    // A cut must not leave a dangling escape before our closing quote.
    let trailing = d.len() - d.trim_end_matches('\\').len();
    if trailing % 2 == 1 {
        d.pop();
    }
    d
}

/// Finishes a builder with the message's body (and its Content-Type) if it has one.
pub fn with_body(b: crate::sip::MessageBuilder, from: &Message) -> Bytes {
    if from.body().is_empty() {
        return b.finish();
    }
    let ct = from
        .content_type()
        .map(|c| String::from_utf8_lossy(&c).into_owned());
    b.body(ct.as_deref().unwrap_or("application/sdp"), from.body())
}

pub fn reason_of(resp: &Message) -> String {
    match resp.start() {
        crate::sip::StartLine::Response(s) => match std::str::from_utf8(&s.reason) {
            Ok(r) if !r.is_empty() && !r.contains(['\r', '\n']) => r.to_string(),
            _ => crate::sip::default_reason(s.code).to_string(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportKind;

    #[test]
    fn rport_filled_and_received_added() {
        let src: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        let v = fixed_top_via(
            &Bytes::from_static(b"SIP/2.0/UDP pbx.example.com:5060;branch=z9hG4bKa;rport"),
            Via::parse(&Bytes::from_static(
                b"SIP/2.0/UDP pbx.example.com:5060;branch=z9hG4bKa;rport",
            ))
            .ok()
            .as_ref(),
            src,
        );
        assert_eq!(
            &v[..],
            b"SIP/2.0/UDP pbx.example.com:5060;branch=z9hG4bKa;rport=40000;received=192.0.2.7"
        );
    }

    #[test]
    fn no_received_when_host_is_source() {
        let src: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        let v = fixed_top_via(
            &Bytes::from_static(b"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKa"),
            Via::parse(&Bytes::from_static(
                b"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKa",
            ))
            .ok()
            .as_ref(),
            src,
        );
        assert_eq!(&v[..], b"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKa");
    }

    #[test]
    fn udp_target_uses_via_port_without_rport() {
        let rx = Arrival {
            source: "127.0.0.1:40000".parse().unwrap(),
            local: "127.0.0.1:5060".parse().unwrap(),
            kind: TransportKind::Udp,
            conn: None,
        };
        let via = Via::parse(&Bytes::from_static(
            b"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKa",
        ))
        .unwrap();
        assert_eq!(
            response_target(Some(&via), &rx).addr,
            "127.0.0.1:5061".parse().unwrap()
        );
        let via = Via::parse(&Bytes::from_static(
            b"SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bKa;rport",
        ))
        .unwrap();
        assert_eq!(
            response_target(Some(&via), &rx).addr,
            "127.0.0.1:40000".parse().unwrap()
        );
    }
}
