//! Property tests: no input makes the parser or a view panic, and what the
//! builder prints parses back to the same message.

use super::*;
use bytes::Bytes;
use proptest::prelude::*;

/// Runs every view and validator; results are ignored, panics are not (and
/// the tag and branch a view found while parsing are what a lookup finds).
fn exercise(data: Bytes, stream: bool) {
    let opts = ParseOptions {
        max_size: 65536,
        stream,
    };
    let Ok(m) = Message::parse(data, &opts) else {
        return;
    };
    let _ = (
        m.call_id(),
        m.cseq(),
        m.vias(),
        m.from_hdr(),
        m.to_hdr(),
        m.contact(),
    );
    // The tag / branch accessors answer what the views do.
    assert_eq!(m.via_top_branch(), m.via_top().map(|v| v.branch()));
    assert_eq!(m.from_tag(), m.from_hdr().map(|f| f.tag()));
    assert_eq!(m.to_tag(), m.to_hdr().map(|t| t.tag()));
    let _ = (
        m.routes(),
        m.record_routes(),
        m.max_forwards(),
        m.require(),
        m.supported(),
    );
    let _ = (
        m.validate_request(&["100rel"]),
        m.validate_response(),
        m.raw(),
        m.body(),
    );
    if let Ok(v) = m.via_top() {
        assert_eq!(v.branch(), v.param("branch").flatten());
        let _ = (
            v.branch(),
            v.received_ip(),
            v.rport(),
            v.has_magic_cookie(),
            v.param("x"),
        );
    }
    for h in m.headers() {
        if let Ok(n) = NameAddr::parse(&h.value) {
            assert_eq!(n.tag(), n.param("tag").flatten());
            let _ = (n.uri(), n.display_unquoted());
        }
        let _ = Via::parse(&h.value);
        if let Ok(u) = Uri::parse(&h.value) {
            let _ = (u.to_string(), u.user_unescaped(), u.param("lr"));
        }
    }
    if let Some(u) = m.request_uri() {
        let _ = Uri::parse(u).map(|u| u.to_string());
    }
    let _ = response_to(&m, 200, "OK", Some("t")).finish();
}

const TEMPLATE: &[u8] = b"INVITE sip:bob@[2001:db8::1]:5060;lr SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;received=[::1];rport, SIP/2.0/TCP h\r\n\
f: \"A \\\" B\" <sip:a%20b@example.com>;tag=1\r\n\
To: sip:bob@example.com ; tag = 2\r\n\
Call-ID: x@y\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
Contact: <sip:c@h?Route=%3C>, *\r\nRequire: 100rel\r\n\
Subject: folded\r\n value\r\nl: 5\r\n\r\nv=0\r\n";

/// Octets that matter to the grammar.
const SPECIAL: &[u8] = b":;,<>\"\\[]@%? \t\r\n=/0123456789aZ\x00\xff";

fn edit() -> impl Strategy<Value = (usize, usize, Vec<u8>)> {
    (
        0..TEMPLATE.len(),
        0usize..4,
        prop::collection::vec(prop::sample::select(SPECIAL), 0..4),
    )
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9.!%*_+`'~-]{0,12}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), stream: bool) {
        exercise(Bytes::from(data), stream);
    }

    #[test]
    fn mutated_messages_never_panic(edits in prop::collection::vec(edit(), 1..8), stream: bool) {
        let mut data = TEMPLATE.to_vec();
        for (at, remove, insert) in edits {
            let at = at.min(data.len());
            let end = (at + remove).min(data.len());
            data.splice(at..end, insert);
        }
        exercise(Bytes::from(data), stream);
    }

    #[test]
    fn grammar_soup_never_panics(
        start in prop::sample::select(vec!["INVITE sip:a@b SIP/2.0", "SIP/2.0 200 OK", "BYE x SIP/2.0"]),
        lines in prop::collection::vec(
            (prop::sample::select(vec!["Via", "v", "From", "t", "Contact", "CSeq", "l", "Route", "Max-Forwards", "X"]),
             prop::collection::vec(prop::sample::select(SPECIAL), 0..40)), 0..10),
    ) {
        let mut data = format!("{start}\r\n").into_bytes();
        for (name, value) in lines {
            data.extend_from_slice(name.as_bytes());
            data.extend_from_slice(b": ");
            data.extend_from_slice(&value);
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b"\r\n");
        exercise(Bytes::from(data), false);
    }

    #[test]
    fn builder_round_trip(
        method in prop::sample::select(vec![Method::Invite, Method::Bye, Method::Options, Method::Other(Bytes::from_static(b"X-OP"))]),
        user in "[a-z0-9+]{1,10}",
        host in "[a-z]{1,8}\\.example\\.com",
        port in 1u16..,
        headers in prop::collection::vec((token(), "[!-~]([ -~]{0,30}[!-~])?"), 0..10),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let uri = format!("sip:{user}@{host}:{port}");
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(n, _)| HeaderName::parse(n.as_bytes()) != HeaderName::ContentLength)
            .collect();
        let mut b = MessageBuilder::request(&method, uri.as_bytes());
        for (n, v) in &headers {
            b = b.header(n, v);
        }
        let data = if body.is_empty() { b.finish() } else { b.body("application/x", &body) };
        let m = Message::parse(data, &ParseOptions { max_size: 65536, stream: true }).unwrap();
        prop_assert_eq!(m.method(), Some(&method));
        prop_assert_eq!(m.request_uri().unwrap(), uri.as_str());
        let parsed = Uri::parse(m.request_uri().unwrap()).unwrap();
        prop_assert_eq!(parsed.port, Some(port));
        prop_assert_eq!(parsed.to_string(), uri);
        let extra = if body.is_empty() { 1 } else { 2 };
        prop_assert_eq!(m.headers().len(), headers.len() + extra);
        for (h, (n, v)) in m.headers().zip(&headers) {
            prop_assert_eq!(&h.name, &HeaderName::parse(n.as_bytes()));
            prop_assert_eq!(&h.value, v.as_str());
        }
        prop_assert_eq!(m.body(), &body[..]);
        prop_assert_eq!(m.framing_defect(), None);
    }
}
