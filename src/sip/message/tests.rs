use super::*;

fn msg(s: &'static [u8]) -> Message {
    Message::parse(Bytes::from_static(s), &ParseOptions::default()).unwrap()
}

#[test]
fn header_values_split_and_order() {
    let m = msg(b"INVITE sip:a@b SIP/2.0\r\n\
Route: <sip:p1;lr>, <sip:p2;lr>\r\n\
Record-Route: <sip:r1;lr>\r\n\
Route: \"x, y\" <sip:p3,x@h;lr>\r\n\
Supported: 100rel, timer,, replaces\r\n\
Require: 100rel\r\n\
Proxy-Require: foo\r\n\
c: application/sdp\r\n\
m: <sip:c1@h>;q=1, sip:c2@h\r\n\r\n");
    assert_eq!(
        m.routes(),
        ["<sip:p1;lr>", "<sip:p2;lr>", "\"x, y\" <sip:p3,x@h;lr>"]
    );
    assert_eq!(m.record_routes(), ["<sip:r1;lr>"]);
    assert_eq!(m.supported(), ["100rel", "timer", "replaces"]);
    assert_eq!(m.require(), ["100rel"]);
    assert_eq!(m.proxy_require(), ["foo"]);
    assert_eq!(m.content_type().unwrap(), "application/sdp");
    assert_eq!(m.header_all(&HeaderName::Route).count(), 2);
    assert_eq!(m.header_count(&HeaderName::Route), 2);
    let c = m.contact().unwrap().unwrap();
    assert_eq!(c.uri, "sip:c1@h");
    assert_eq!(c.param("q").unwrap().unwrap(), "1");
    assert!(m.header(&HeaderName::Via).is_none());
    assert_eq!(m.via_top().unwrap_err().code, 400);
}

#[test]
fn typed_views() {
    let m = msg(b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK2\r\n\
Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3\r\n\
From: \"A\" <sip:a@example.com>;tag=fa\r\n\
To: <sip:b@example.com>;tag=tb\r\n\
Call-ID: cid@h\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(m.via_top().unwrap().branch().unwrap(), "z9hG4bK1");
    let hosts: Vec<String> = m
        .vias()
        .unwrap()
        .iter()
        .map(|v| v.host.to_string())
        .collect();
    assert_eq!(hosts, ["a.example.com", "[2001:db8::1]", "c.example.com"]);
    assert_eq!(m.from_hdr().unwrap().tag().unwrap(), "fa");
    assert_eq!(m.to_hdr().unwrap().tag().unwrap(), "tb");
    assert_eq!(m.code(), Some(200));
    assert_eq!(m.request_uri(), None);
    assert!(m.contact().is_none());
    assert_eq!(m.max_forwards(), Ok(None));
}

#[test]
fn lookups_by_id_and_by_other_text() {
    let m = msg(b"OPTIONS sip:a@b SIP/2.0\r\n\
u: refer\r\n\
X-Custom: one\r\n\
x-CUSTOM: two\r\n\
Allow-Events: dialog\r\n\
Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
i: cid\r\n\r\n");
    let ae = HeaderName::Other(Bytes::from_static(b"allow-events"));
    assert_eq!(m.header_all(&ae).collect::<Vec<_>>(), ["refer", "dialog"]);
    let u = HeaderName::Other(Bytes::from_static(b"u"));
    assert_eq!(m.header(&u), None);
    let xc = HeaderName::parse(b"X-CUSTOM");
    assert_eq!(m.header(&xc).unwrap(), "one");
    assert_eq!(m.header_count(&xc), 2);
    // An `Other` spelled like a variant is not that variant (as before).
    assert_eq!(
        m.header(&HeaderName::Other(Bytes::from_static(b"Via"))),
        None
    );
    assert_eq!(m.call_id().unwrap(), "cid");
    let names: Vec<String> = m.headers().map(|h| h.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "Allow-Events",
            "X-Custom",
            "x-CUSTOM",
            "Allow-Events",
            "Via",
            "Call-ID"
        ]
    );
    assert_eq!(m.headers().len(), 6);
    let copy = m.clone();
    assert_eq!(copy, m);
    assert!(format!("{m:?}").contains("x-CUSTOM"));
}

#[test]
fn folded_values_live_beside_the_message() {
    let m = msg(b"INVITE sip:a@b SIP/2.0\r\n\
Via: SIP/2.0/UDP h1;branch=z9hG4bK1,\r\n SIP/2.0/UDP h2;branch=z9hG4bK2\r\n\
f: <sip:a@b>\r\n\t;tag=ft\r\n\
t: <sip:c@d>\r\n\
Subject: a\r\n \r\n  b\r\n\r\n");
    assert_eq!(
        m.header(&HeaderName::Via).unwrap(),
        "SIP/2.0/UDP h1;branch=z9hG4bK1, SIP/2.0/UDP h2;branch=z9hG4bK2"
    );
    assert_eq!(m.via_top().unwrap().branch().unwrap(), "z9hG4bK1");
    assert_eq!(m.vias().unwrap().len(), 2);
    assert_eq!(m.from_hdr().unwrap().tag().unwrap(), "ft");
    assert_eq!(m.to_hdr().unwrap().uri, "sip:c@d");
    assert_eq!(m.header(&HeaderName::Subject).unwrap(), "a b");
    let m2 = msg(b"INVITE sip:a@b SIP/2.0\r\nSubject: x\r\n y\r\n\r\n");
    assert_ne!(m, m2);
}

#[test]
fn typed_views_of_a_message_match_the_value_parsers() {
    let m = msg(b"INVITE sip:a@b SIP/2.0\r\n\
Via: SIP/2.0/UDP [2001:db8::1]:5070 ;branch=z9hG4bKx;rport, SIP/2.0/TCP h\r\n\
From: \"A b\" <sip:a@b;lr>;tag=1\r\n\
To: sip:c@d ; tag = 2\r\n\
Contact: <sip:c@h>;q=1, <sip:d@h>\r\n\
CSeq: 7 INFO\r\n\r\n");
    let via = m.header_values(&HeaderName::Via);
    assert_eq!(m.via_top(), Via::parse(&via[0]));
    let v = |n: &HeaderName| m.header(n).unwrap();
    assert_eq!(m.from_hdr(), NameAddr::parse(&v(&HeaderName::From)));
    assert_eq!(m.to_hdr(), NameAddr::parse(&v(&HeaderName::To)));
    let c = m.header_values(&HeaderName::Contact);
    assert_eq!(m.contact().unwrap(), NameAddr::parse(&c[0]));
    assert_eq!(m.cseq().unwrap().method, Method::Info);
    assert_eq!(m.cseq().unwrap().seq, 7);
}

#[test]
fn malformed_views_stay_errors() {
    let m = msg(b"INVITE sip:a@b SIP/2.0\r\n\
Via: SIP/2.0/UDP h;;\r\n\
From: \"open <sip:a@b>\r\n\
To: < sip:c@d >\r\n\
Contact: *\r\n\
CSeq: 7\r\n\r\n");
    assert_eq!(m.via_top().unwrap_err().reason, "Bad Request (Via)");
    assert_eq!(m.from_hdr().unwrap_err().reason, "Bad Request (From)");
    assert_eq!(m.to_hdr().unwrap_err().reason, "Bad Request (To)");
    assert!(m.contact().unwrap().is_err());
    assert_eq!(m.cseq().unwrap_err().reason, "Bad Request (CSeq method)");
    let m = msg(b"INVITE sip:a@b SIP/2.0\r\nVia: ,\r\nCSeq: x INVITE\r\n\r\n");
    assert_eq!(m.via_top().unwrap_err().reason, "Bad Request (Via)");
    assert_eq!(m.cseq().unwrap_err().reason, "Bad Request (CSeq number)");
    assert_eq!(
        m.from_hdr().unwrap_err().reason,
        "Bad Request (missing From)"
    );
}

/// `via_top_branch`, `from_tag` and `to_tag` answer what the views do:
/// values, a bare `tag`, none, errors and missing headers.
#[test]
fn tag_and_branch_accessors_match_the_views() {
    let m = msg(b"INVITE sip:a@b SIP/2.0\r\n\
Via: SIP/2.0/UDP [2001:db8::1]:5070 ;branch= z9hG4bKx ;rport, SIP/2.0/TCP h\r\n\
From: \"A, b\" <sip:a@b;tag=no>;x=\"y;tag=z\";tag=1\r\n\
To: sip:c@d ; tag\r\n\r\n");
    assert_eq!(m.via_top_branch().unwrap().unwrap(), "z9hG4bKx");
    assert_eq!(m.from_tag().unwrap().unwrap(), "1");
    assert_eq!(m.to_tag(), Ok(None));
    assert_eq!(m.to_tag(), m.to_hdr().map(|t| t.tag()));
    let m = msg(b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;rport\r\nTo: <sip:c@d>\r\n\r\n");
    assert_eq!(m.via_top_branch(), Ok(None));
    assert_eq!(m.to_tag(), Ok(None));
    assert_eq!(
        m.from_tag().unwrap_err().reason,
        "Bad Request (missing From)"
    );
    let m = msg(b"INVITE sip:a@b SIP/2.0\r\n\
Via: SIP/2.0/UDP h;;\r\n\
From: \"open <sip:a@b>\r\n\
To: < sip:c@d >;tag=2\r\n\r\n");
    assert_eq!(m.via_top_branch(), m.via_top().map(|v| v.branch()));
    assert_eq!(m.from_tag().unwrap_err().reason, "Bad Request (From)");
    assert_eq!(m.to_tag().unwrap_err().reason, "Bad Request (To)");
    assert!(m.via_top_branch().is_err());
    let m = msg(b"INVITE sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n");
    assert_eq!(
        m.via_top_branch().unwrap_err().reason,
        "Bad Request (missing Via)"
    );
}
