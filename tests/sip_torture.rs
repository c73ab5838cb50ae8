//! RFC 4475 torture messages and RFC 5118 IPv6 messages: every file in the
//! vector directories has an exact expected outcome here.

use bytes::Bytes;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use trunkgate::sip::*;

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Request that parses and validates.
    Valid,
    /// Request rejected by validate_request with this code and a reason
    /// containing this text.
    Reject(u16, &'static str),
    /// Response accepted by validate_response.
    RespOk,
    /// Response dropped by validate_response.
    RespDrop,
    /// Message::parse fails with this error name.
    ParseErr(&'static str),
}

use Expect::*;

const EXTENSIONS: &[&str] = &["100rel", "timer", "replaces"];

const RFC4475: &[(&str, Expect)] = &[
    ("wsinv.dat", Valid),
    ("intmeth.dat", Valid),
    ("esc01.dat", Valid),
    ("escnull.dat", Valid),
    ("esc02.dat", Valid),
    ("lwsdisp.dat", Valid),
    ("longreq.dat", Valid),
    ("dblreq.dat", Valid),
    ("semiuri.dat", Valid),
    ("transports.dat", Valid),
    ("mpart01.dat", Valid),
    ("unreason.dat", RespOk),
    ("noreason.dat", RespOk),
    ("badinv01.dat", Reject(400, "Via")),
    ("clerr.dat", Reject(400, "Content-Length")),
    ("ncl.dat", Reject(400, "Content-Length")),
    ("scalar02.dat", Reject(400, "CSeq")),
    ("scalarlg.dat", RespDrop),
    ("quotbal.dat", Reject(400, "To")),
    ("ltgtruri.dat", Reject(400, "<>")),
    ("lwsruri.dat", Reject(400, "whitespace")),
    ("lwsstart.dat", Reject(400, "whitespace")),
    ("trws.dat", Reject(400, "whitespace")),
    ("escruri.dat", Reject(400, "headers in Request-URI")),
    ("baddate.dat", Valid),
    ("regbadct.dat", Reject(400, "Contact")),
    ("badaspec.dat", Reject(400, "To")),
    ("baddn.dat", Reject(400, "From")),
    ("badvers.dat", Reject(505, "Version Not Supported")),
    ("mismatch01.dat", Reject(400, "CSeq method mismatch")),
    ("mismatch02.dat", Reject(400, "CSeq method mismatch")),
    ("bigcode.dat", RespDrop),
    ("badbranch.dat", Valid),
    ("insuf.dat", Reject(400, "missing")),
    ("unkscm.dat", Reject(416, "Unsupported URI Scheme")),
    ("novelsc.dat", Reject(416, "Unsupported URI Scheme")),
    ("unksm2.dat", Valid),
    ("bext01.dat", Reject(420, "Bad Extension")),
    ("invut.dat", Valid),
    ("regaut01.dat", Valid),
    ("multi01.dat", Reject(400, "multiple")),
    ("mcl01.dat", Reject(400, "Content-Length")),
    ("bcast.dat", RespOk),
    ("zeromf.dat", Valid),
    ("cparam01.dat", Valid),
    ("cparam02.dat", Valid),
    ("regescrt.dat", Valid),
    ("sdp01.dat", Valid),
    ("inv2543.dat", Valid),
    ("test.dat", ParseErr("bad_start_line")),
];

/// The RFC 5118 copies have CRLF line ends but LF-counted Content-Length;
/// the test rewrites Content-Length to the real body size before validating.
const RFC5118: &[(&str, Expect)] = &[
    ("ipv6-good.dat", Valid),
    ("ipv6-bad.dat", Reject(400, "IPv6")),
    ("port-ambiguous.dat", Valid),
    ("port-unambiguous.dat", Valid),
    ("via-received-param-with-delim.dat", Valid),
    ("via-received-param-no-delim.dat", Valid),
    ("ipv6-in-sdp.dat", Valid),
    ("mult-ip-in-header.dat", Valid),
    ("mult-ip-in-sdp.dat", Valid),
    ("ipv4-mapped-ipv6.dat", Valid),
    ("ipv6-bug-abnf-3-colons.dat", Valid),
    ("ipv6-correct-abnf-2-colons.dat", Valid),
];

fn dir(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/testdata").join(name);
    if shared.is_dir() {
        shared
    } else {
        root.join("tests/data").join(name)
    }
}

fn read(dirname: &str, file: &str) -> Bytes {
    Bytes::from(std::fs::read(dir(dirname).join(file)).unwrap())
}

fn udp() -> ParseOptions {
    ParseOptions::default()
}

fn check(file: &str, data: Bytes, expect: Expect) {
    let parsed = Message::parse(data, &udp());
    let msg = match (expect, parsed) {
        (ParseErr(name), Err(e)) => {
            assert_eq!(e.name(), name, "{file}");
            return;
        }
        (ParseErr(_), Ok(_)) => panic!("{file}: parsed but should not"),
        (_, Err(e)) => panic!("{file}: parse failed: {e}"),
        (_, Ok(m)) => m,
    };
    exercise_views(&msg);
    match expect {
        Valid => {
            assert!(msg.is_request(), "{file}");
            assert_eq!(msg.validate_request(EXTENSIONS), Ok(()), "{file}");
        }
        Reject(code, text) => {
            let r = msg.validate_request(EXTENSIONS).expect_err(file);
            assert_eq!(r.code, code, "{file}: {r:?}");
            assert!(r.reason.contains(text), "{file}: {r:?}");
        }
        RespOk => assert_eq!(msg.validate_response(), Ok(()), "{file}"),
        RespDrop => assert!(msg.validate_response().is_err(), "{file}"),
        ParseErr(_) => unreachable!(),
    }
}

/// Every typed view must return without panicking.
fn exercise_views(m: &Message) {
    let _ = (
        m.call_id(),
        m.cseq(),
        m.via_top(),
        m.vias(),
        m.from_hdr(),
        m.to_hdr(),
    );
    // The tag / branch accessors answer what the views do.
    assert_eq!(m.via_top_branch(), m.via_top().map(|v| v.branch()));
    assert_eq!(m.from_tag(), m.from_hdr().map(|f| f.tag()));
    assert_eq!(m.to_tag(), m.to_hdr().map(|t| t.tag()));
    let _ = (m.contact(), m.routes(), m.record_routes(), m.max_forwards());
    let _ = (
        m.content_type(),
        m.require(),
        m.proxy_require(),
        m.supported(),
    );
    if let Some(u) = m.request_uri() {
        if let Ok(u) = Uri::parse(u) {
            let _ = (u.to_string(), u.user_unescaped(), u.param("transport"));
        }
    }
}

fn dat_files(dirname: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir(dirname))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dat"))
        .collect()
}

fn assert_table_covers(dirname: &str, table: &[(&str, Expect)]) {
    let listed: BTreeSet<String> = table.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(listed.len(), table.len(), "duplicate entries for {dirname}");
    assert_eq!(
        dat_files(dirname),
        listed,
        "table for {dirname} out of date"
    );
}

#[test]
fn rfc4475_every_file() {
    assert_table_covers("rfc4475", RFC4475);
    for (file, expect) in RFC4475 {
        check(file, read("rfc4475", file), *expect);
    }
}

fn fix_content_length(data: &Bytes) -> Bytes {
    let s = String::from_utf8(data.to_vec()).unwrap();
    let (head, body) = s.split_once("\r\n\r\n").unwrap();
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            if l.starts_with("Content-Length:") {
                format!("Content-Length: {}", body.len())
            } else {
                l.to_string()
            }
        })
        .collect();
    Bytes::from(format!("{}\r\n\r\n{}", head.join("\r\n"), body))
}

#[test]
fn rfc5118_every_file() {
    assert_table_covers("rfc5118", RFC5118);
    for (file, expect) in RFC5118 {
        check(file, fix_content_length(&read("rfc5118", file)), *expect);
    }
}

fn parse(dirname: &str, file: &str) -> Message {
    let data = read(dirname, file);
    let data = if dirname == "rfc5118" {
        fix_content_length(&data)
    } else {
        data
    };
    Message::parse(data, &udp()).unwrap()
}

fn v6(s: &str) -> Host {
    Host::V6(s.parse::<Ipv6Addr>().unwrap())
}

#[test]
fn rfc5118_hosts_and_ports() {
    let ruri = |f: &str| Uri::parse(parse("rfc5118", f).request_uri().unwrap()).unwrap();
    let u = ruri("ipv6-good.dat");
    assert_eq!((u.host, u.port), (v6("2001:db8::10"), None));
    let u = ruri("port-ambiguous.dat");
    assert_eq!((u.host, u.port), (v6("2001:db8::10:5070"), None));
    let u = ruri("port-unambiguous.dat");
    assert_eq!((u.host, u.port), (v6("2001:db8::10"), Some(5070)));
    let u = ruri("ipv6-bug-abnf-3-colons.dat");
    assert_eq!(u.host, v6("2001:db8::192.0.2.1"));
    let u = ruri("ipv6-correct-abnf-2-colons.dat");
    assert_eq!(u.host, v6("2001:db8::192.0.2.1"));
    assert_eq!(u.user.unwrap(), "user");

    let m = parse("rfc5118", "ipv6-good.dat");
    let via = m.via_top().unwrap();
    assert_eq!((via.host, via.port), (v6("2001:db8::9:1"), None));
    assert_eq!(
        m.contact().unwrap().unwrap().uri().unwrap().host,
        v6("2001:db8::1")
    );

    let m = parse("rfc5118", "mult-ip-in-header.dat");
    let vias = m.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].host.clone(), vias[0].port),
        (v6("2001:db8::9:1"), Some(6050))
    );
    assert_eq!(vias[1].host.ip(), Some("192.0.2.1".parse().unwrap()));
    assert_eq!(vias[2].host, v6("2001:db8::9:255"));
    assert_eq!(vias[2].transport, "TCP");
    assert_eq!(vias[2].received().unwrap(), "192.0.2.200");

    let want: IpAddr = "2001:db8::9:255".parse().unwrap();
    for f in [
        "via-received-param-with-delim.dat",
        "via-received-param-no-delim.dat",
    ] {
        let via = parse("rfc5118", f).via_top().unwrap();
        assert_eq!(via.received_ip(), Some(want), "{f}");
        assert_eq!(via.branch().unwrap().get(..7), Some(&b"z9hG4bK"[..]));
    }

    let m = parse("rfc5118", "ipv4-mapped-ipv6.dat");
    let vias = m.vias().unwrap();
    assert_eq!(
        (vias[0].host.clone(), vias[0].port),
        (v6("::ffff:192.0.2.10"), Some(19823))
    );
    assert_eq!(
        (vias[1].host.clone(), vias[1].port),
        (v6("::ffff:192.0.2.2"), None)
    );
    let c = m.contact().unwrap().unwrap();
    assert_eq!(c.display.clone().unwrap(), "\"T. desk phone\"");
    assert_eq!(c.uri().unwrap().host.to_string(), "[::ffff:192.0.2.2]");

    let m = parse("rfc5118", "ipv6-in-sdp.dat");
    assert!(m.body().starts_with(b"v=0\r\n"));
    assert_eq!(
        Uri::parse(&m.to_hdr().unwrap().uri).unwrap().host,
        v6("2001:db8::10")
    );

    let bad = parse("rfc5118", "ipv6-bad.dat");
    assert!(Uri::parse(bad.request_uri().unwrap()).is_err());
}

#[test]
fn rfc4475_details() {
    // 3.1.1.1: folding, compact forms, LWS around colons.
    let m = parse("rfc4475", "wsinv.dat");
    assert_eq!(
        m.cseq().unwrap(),
        CSeq {
            seq: 9,
            method: Method::Invite
        }
    );
    assert_eq!(m.max_forwards().unwrap(), Some(68));
    assert_eq!(m.to_hdr().unwrap().tag().unwrap(), "1918181833n");
    assert_eq!(m.from_hdr().unwrap().tag().unwrap(), "98asjd8");
    let vias = m.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch().unwrap(), "390skdjuw");
    assert_eq!(vias[1].host.to_string(), "spindle.example.com");
    assert_eq!(vias[2].branch().unwrap(), "z9hG4bK30239");
    assert_eq!(
        m.header(&HeaderName::Other(Bytes::from_static(b"newfangledheader")))
            .unwrap(),
        "newfangled value continued newfangled value"
    );
    assert_eq!(m.header(&HeaderName::Subject).unwrap(), "");
    assert_eq!(m.body().len(), 150);
    assert_eq!(
        m.contact().unwrap().unwrap().param("q"),
        Some(Some(Bytes::from_static(b"0.33")))
    );

    // 3.1.1.3 / 3.1.1.4: escapes decoded once, %00 kept.
    let m = parse("rfc4475", "esc01.dat");
    let to = m.to_hdr().unwrap().uri().unwrap();
    assert_eq!(to.user_unescaped().unwrap(), b"user");
    let c = m.contact().unwrap().unwrap().uri().unwrap();
    assert_eq!(c.param("name").unwrap().unwrap(), "v%61lue%25%34%31");
    let m = parse("rfc4475", "escnull.dat");
    let users: Vec<Vec<u8>> = m
        .header_values(&HeaderName::Contact)
        .iter()
        .map(|c| {
            NameAddr::parse(c)
                .unwrap()
                .uri()
                .unwrap()
                .user_unescaped()
                .unwrap()
        })
        .collect();
    assert_eq!(users, vec![vec![0u8], vec![0u8, 0u8]]);
    let to = m.to_hdr().unwrap().uri().unwrap();
    assert_eq!(to.user_unescaped().unwrap(), b"null-\0-null");

    // 3.1.1.5: unknown method, two Contacts (C%6Fntact is another header).
    let m = parse("rfc4475", "esc02.dat");
    assert_eq!(
        m.method(),
        Some(&Method::Other(Bytes::from_static(b"RE%47IST%45R")))
    );
    assert_eq!(m.header_values(&HeaderName::Contact).len(), 2);

    // 3.1.1.2: unusual method and URI.
    let m = parse("rfc4475", "intmeth.dat");
    let u = Uri::parse(m.request_uri().unwrap()).unwrap();
    assert_eq!(
        u.user.unwrap(),
        "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    );
    assert_eq!(
        u.password.unwrap(),
        "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    );
    assert_eq!(u.host.to_string(), "example.com");

    // 3.1.1.7: 34 Via values across case variants and compact forms.
    let m = parse("rfc4475", "longreq.dat");
    assert_eq!(m.vias().unwrap().len(), 34);
    assert_eq!(m.body().len(), 150);

    // 3.1.1.8: the trailing INVITE octets are not part of the REGISTER.
    let data = read("rfc4475", "dblreq.dat");
    let m = Message::parse(data.clone(), &udp()).unwrap();
    assert_eq!(m.method(), Some(&Method::Register));
    assert!(m.body().is_empty());
    assert!(m.raw().ends_with(b"Content-Length: 0\r\n\r\n"));
    assert!(!m.raw().windows(6).any(|w| w == b"INVITE"));
    assert_eq!(
        m.call_id().unwrap(),
        "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    );

    // 3.1.1.9: user part with ';'.
    let m = parse("rfc4475", "semiuri.dat");
    let u = Uri::parse(m.request_uri().unwrap()).unwrap();
    assert_eq!(u.user.clone().unwrap(), "user;par=u%40example.net");
    assert_eq!(u.user_unescaped().unwrap(), b"user;par=u@example.net");
    assert_eq!(u.params, "");
    assert_eq!(m.header_values(&HeaderName::Accept).len(), 6);

    // 3.1.1.10: transports as written.
    let m = parse("rfc4475", "transports.dat");
    let t: Vec<Bytes> = m.vias().unwrap().into_iter().map(|v| v.transport).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

    // 3.1.1.11: binary body framed by Content-Length.
    let m = parse("rfc4475", "mpart01.dat");
    assert_eq!(m.body().len(), 553);
    assert!(m.body().contains(&0u8));

    // 3.1.1.12 / 3.1.1.13: reason phrases.
    let m = parse("rfc4475", "noreason.dat");
    assert_eq!(m.code(), Some(100));
    let StartLine::Response(st) = m.start() else {
        panic!()
    };
    assert!(st.reason.is_empty());

    // 3.1.2.4: Max-Forwards 300 is as if absent; the CSeq is the error.
    let m = parse("rfc4475", "scalar02.dat");
    assert_eq!(m.max_forwards(), Ok(None));
    assert!(m.cseq().is_err());

    // 3.1.2.19: overlarge code saturates and is dropped.
    assert_eq!(parse("rfc4475", "bigcode.dat").code(), Some(u16::MAX));

    // 3.3.5: 420 lists both header's tags.
    let r = parse("rfc4475", "bext01.dat")
        .validate_request(EXTENSIONS)
        .unwrap_err();
    assert_eq!(
        r.unsupported,
        [
            "nothingSupportsThis",
            "nothingSupportsThisEither",
            "noProxiesSupportThis",
            "norDoAnyProxiesSupportThis"
        ]
    );

    // 3.3.11: Max-Forwards 0 is valid here.
    assert_eq!(parse("rfc4475", "zeromf.dat").max_forwards(), Ok(Some(0)));

    // 3.3.12 / 3.3.13: contact-param vs url-param.
    let c = parse("rfc4475", "cparam01.dat").contact().unwrap().unwrap();
    assert_eq!(
        (
            c.param("unknownparam"),
            c.uri().unwrap().param("unknownparam")
        ),
        (Some(None), None)
    );
    let c = parse("rfc4475", "cparam02.dat").contact().unwrap().unwrap();
    assert_eq!(
        (
            c.param("unknownparam"),
            c.uri().unwrap().param("unknownparam")
        ),
        (None, Some(None))
    );

    // 3.3.14: escaped Route header kept in the contact URI.
    let c = parse("rfc4475", "regescrt.dat").contact().unwrap().unwrap();
    assert_eq!(c.uri().unwrap().headers, "?Route=%3Csip:sip.example.com%3E");

    // 3.4.1: no Content-Length over UDP: body = rest of datagram.
    let data = read("rfc4475", "inv2543.dat");
    let m = Message::parse(data.clone(), &udp()).unwrap();
    assert!(m.body().starts_with(b"v=0\r\n"));
    assert!(data.ends_with(m.body()));
    assert_eq!(m.raw().len(), data.len());
    // ... but over a stream it is a framing defect.
    let m = Message::parse(
        data,
        &ParseOptions {
            stream: true,
            ..udp()
        },
    )
    .unwrap();
    assert_eq!(m.framing_defect(), Some(FramingDefect::Missing));
    assert_eq!(m.validate_request(EXTENSIONS).unwrap_err().code, 400);

    // 3.1.2.15 arrives without a final blank line: headers only.
    let m = parse("rfc4475", "baddn.dat");
    assert!(m.body().is_empty());
    assert_eq!(m.headers().len(), 8);
}
