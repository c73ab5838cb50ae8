use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;

fn name(n: &str, port: Option<u16>, proto: Option<Proto>) -> Destination {
    Destination {
        host: Host::Name(n.to_string()),
        port,
        proto,
    }
}

fn ip(ip: IpAddr, port: Option<u16>, proto: Option<Proto>) -> Destination {
    Destination {
        host: Host::Ip(ip),
        port,
        proto,
    }
}

const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));

#[test]
fn plain_forms() {
    let cases = [
        ("pbx.example.com", name("pbx.example.com", None, None)),
        ("PBX.Example.COM.", name("pbx.example.com", None, None)),
        (
            "pbx.example.com:5070",
            name("pbx.example.com", Some(5070), None),
        ),
        ("  localhost  ", name("localhost", None, None)),
        ("192.0.2.10", ip(V4, None, None)),
        ("192.0.2.10:5070", ip(V4, Some(5070), None)),
        ("[2001:db8::1]:5060", ip(V6, Some(5060), None)),
        ("[2001:db8::1]", ip(V6, None, None)),
        ("2001:db8::1", ip(V6, None, None)),
        (
            "pbx-1.a9.example.com:65535",
            name("pbx-1.a9.example.com", Some(65535), None),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_destination(input), Ok(want), "{input}");
    }
}

#[test]
fn sip_uri_forms() {
    let cases = [
        (
            "sip:+1415@pbx.example.com;transport=tcp",
            name("pbx.example.com", None, Some(Proto::Tcp)),
        ),
        (
            "SIP:+1415@pbx.example.com:5070;transport=UDP",
            name("pbx.example.com", Some(5070), Some(Proto::Udp)),
        ),
        ("sip:pbx.example.com", name("pbx.example.com", None, None)),
        (
            "sip:alice;npdi@pbx.example.com;lr?subject=x",
            name("pbx.example.com", None, None),
        ),
        ("sip:bob@192.0.2.10:5080", ip(V4, Some(5080), None)),
        (
            "sip:bob@[2001:db8::1]:5062;transport=tcp",
            ip(V6, Some(5062), Some(Proto::Tcp)),
        ),
        (
            "sip:bob@pbx.example.com;maddr=192.0.2.10",
            ip(V4, None, None),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_destination(input), Ok(want), "{input}");
    }
}

#[test]
fn tls_forms() {
    for (input, port) in [
        ("sips:bob@pbx.example.com", None),
        ("SIPS:pbx.example.com:5061", Some(5061)),
        ("sip:bob@pbx.example.com;transport=tls", None),
        ("sips:bob@pbx.example.com:5071;transport=tcp", Some(5071)),
    ] {
        let d = parse_destination(input).unwrap();
        assert_eq!(d.proto, Some(Proto::Tls), "{input}");
        assert_eq!(d.port, port, "{input}");
        assert_eq!(d.host, Host::Name("pbx.example.com".into()), "{input}");
    }
    assert_eq!(Proto::Tls.srv_prefix(), "_sips._tcp");
    assert_eq!(Proto::Tls.default_port(), 5061);
}

#[test]
fn unsupported_forms() {
    for input in [
        "sip:bob@pbx.example.com;transport=sctp",
        "sip:bob@pbx.example.com;transport=ws",
    ] {
        let err = parse_destination(input).unwrap_err();
        assert_eq!(err.name(), "unsupported", "{input}: {err}");
    }
}

#[test]
fn bad_forms() {
    let cases = [
        ("", "empty"),
        ("   ", "empty"),
        ("host:99999", "bad port"),
        ("host:0", "bad port"),
        ("host:", "bad port"),
        ("host:abc", "bad port"),
        ("host:+50", "bad port"),
        ("sip:", "empty host"),
        ("sip:bob@", "empty host"),
        (":5060", "bad host name"),
        ("pbx example.com", "bad host name"),
        ("!!garbage!!", "bad host name"),
        ("@@@", "bad host name"),
        ("bob@pbx.example.com", "bad host name"),
        ("pbx..example.com", "bad host name"),
        ("-pbx.example.com", "bad host name"),
        ("256.1.1.1", "bad host name"),
        ("1.2.3", "bad host name"),
        ("[2001:db8::1", "unclosed '['"),
        ("[zz::1]:5060", "bad IPv6 address"),
        ("[2001:db8::1]5060", "junk after ']'"),
        (
            "sip:pbx.example.com;transport=carrier-pigeon",
            "unknown transport",
        ),
        ("sip:pbx.example.com;maddr=-x-", "bad host name"),
    ];
    for (input, reason) in cases {
        assert_eq!(
            parse_destination(input),
            Err(ResolveError::BadDestination {
                input: input.to_string(),
                reason
            }),
            "{input}"
        );
    }
}

#[test]
fn display_reads_back() {
    let d = parse_destination("sip:x@[2001:db8::1]:5062;transport=tcp").unwrap();
    assert_eq!(d.to_string(), "sip:[2001:db8::1]:5062;transport=tcp");
    assert_eq!(
        parse_destination("PBX.example.com:5070")
            .unwrap()
            .to_string(),
        "pbx.example.com:5070"
    );
}

fn arb_destination() -> impl Strategy<Value = Destination> {
    let host = prop_oneof![
        "[a-z][a-z0-9-]{0,10}[a-z0-9](\\.[a-z][a-z0-9]{0,8}){0,3}".prop_map(Host::Name),
        any::<Ipv4Addr>().prop_map(|a| Host::Ip(IpAddr::V4(a))),
        any::<Ipv6Addr>().prop_map(|a| Host::Ip(IpAddr::V6(a))),
    ];
    let proto = prop_oneof![Just(None), Just(Some(Proto::Udp)), Just(Some(Proto::Tcp))];
    (host, proptest::option::of(1u16..), proto).prop_map(|(host, port, proto)| Destination {
        host,
        port,
        proto,
    })
}

proptest! {
    #[test]
    fn display_parse_round_trip(d in arb_destination()) {
        prop_assert_eq!(parse_destination(&d.to_string()), Ok(d));
    }

    #[test]
    fn never_panics(s in "\\PC{0,40}") {
        let _ = parse_destination(&s);
        let _ = parse_destination(&format!("sip:{s}"));
    }
}
