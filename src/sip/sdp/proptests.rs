//! Property tests: no input makes [`parse`] or [`Sdp::rewrite`] panic, and a
//! rewritten body parses again with the planned ports and address.

use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    ]
}

fn any_plan() -> impl Strategy<Value = Rewrite> {
    (
        any_ip(),
        prop::collection::vec(prop::option::of(any::<u16>()), 0..8),
        prop::option::of(any::<u64>()),
        any::<bool>(),
    )
        .prop_map(|(addr, ports, version, rtcp_attr)| Rewrite {
            addr,
            ports: ports.into(),
            version,
            rtcp_attr,
            sec: PerLine::new(),
        })
}

/// Lines that look like SDP, so parsing gets past the first line.
fn sdp_ish() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop::sample::select(vec![
        "v=0",
        "v=",
        "o=- 1 2 IN IP4 1.2.3.4",
        "o=",
        "s=-",
        "s=",
        "c=IN IP4 ",
        "c=IN IP6 ",
        "c=",
        "t=0 0",
        "m=audio ",
        "m=image ",
        "m=",
        "a=rtpmap:",
        "a=rtcp:",
        "a=candidate:",
        "a=sendonly",
        "a=rtcp-mux",
        "a=",
        "b=",
        "x",
        "",
    ]);
    let line = (prefix, "[ -~]{0,24}").prop_map(|(p, r)| format!("{p}{r}"));
    let eol = prop::sample::select(vec!["\n", "\r\n", "\r", ""]);
    prop::collection::vec((line, eol), 0..24).prop_map(|ls| {
        let mut s = String::from("v=0\no=- 1 2 IN IP4 1.2.3.4\ns=-\n");
        for (l, e) in ls {
            s.push_str(&l);
            s.push_str(e);
        }
        s.into_bytes()
    })
}

/// One generated m= section of a valid body.
#[derive(Clone, Debug)]
struct Gen {
    kind: &'static str,
    proto: &'static str,
    port: u16,
    addr: Option<IpAddr>,
    rtcp: Option<u16>,
    mux: bool,
    dir: Option<&'static str>,
    ice: bool,
}

fn gen_media() -> impl Strategy<Value = Gen> {
    (
        prop::sample::select(vec![
            ("audio", "RTP/AVP"),
            ("audio", "RTP/SAVPF"),
            ("image", "udptl"),
            ("video", "RTP/AVP"),
        ]),
        prop_oneof![Just(0u16), any::<u16>()],
        prop::option::of(prop_oneof![
            any_ip(),
            Just(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        ]),
        prop::option::of(any::<u16>()),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![
            "sendrecv", "sendonly", "recvonly", "inactive",
        ])),
        any::<bool>(),
    )
        .prop_map(|((kind, proto), port, addr, rtcp, mux, dir, ice)| Gen {
            kind,
            proto,
            port,
            addr,
            rtcp,
            mux,
            dir,
            ice,
        })
}

fn c_line(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => format!("c=IN IP4 {a}\r\n"),
        IpAddr::V6(a) => format!("c=IN IP6 {a}\r\n"),
    }
}

fn render(session: Option<IpAddr>, media: &[Gen]) -> String {
    let mut s = String::from("v=0\r\no=- 7 9 IN IP4 192.0.2.1\r\ns=-\r\n");
    if let Some(a) = session {
        s.push_str(&c_line(a));
    }
    s.push_str("t=0 0\r\na=ice-ufrag:abcd\r\n");
    for m in media {
        let fmts = if m.proto == "udptl" { "t38" } else { "0 8 101" };
        s.push_str(&format!("m={} {} {} {fmts}\r\n", m.kind, m.port, m.proto));
        if let Some(a) = m.addr {
            s.push_str(&c_line(a));
        }
        if m.ice {
            s.push_str("a=candidate:1 1 udp 1 192.0.2.1 9 typ host\r\na=ice-pwd:p\r\n");
        }
        if m.proto != "udptl" {
            s.push_str("a=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n");
        }
        if let Some(r) = m.rtcp {
            s.push_str(&format!("a=rtcp:{r}\r\n"));
        }
        if m.mux {
            s.push_str("a=rtcp-mux\r\n");
        }
        if let Some(d) = m.dir {
            s.push_str(&format!("a={d}\r\n"));
        }
    }
    s
}

proptest! {
    #[test]
    fn parse_never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&data);
    }

    #[test]
    fn accepted_input_rewrites_to_accepted_output(data in sdp_ish(), plan in any_plan()) {
        if let Ok(sdp) = parse(&data) {
            let out = sdp.rewrite(&plan);
            let again = parse(&out);
            prop_assert!(again.is_ok(), "{:?} from {:?}", again, String::from_utf8_lossy(&out));
            let again = again.unwrap();
            prop_assert_eq!(again.media().len(), sdp.media().len());
            for (i, (a, b)) in sdp.media().iter().zip(again.media()).enumerate() {
                let want = plan.ports.get(i).copied().flatten().unwrap_or(a.port);
                prop_assert_eq!(b.port, want);
                prop_assert_eq!(&b.codecs, &a.codecs);
                prop_assert_eq!(b.direction, a.direction);
            }
        }
    }

    #[test]
    fn valid_sdp_rewrite_round_trips(
        session in prop::option::of(any_ip()),
        media in prop::collection::vec(gen_media(), 1..6),
        plan in any_plan(),
    ) {
        let body = render(session, &media);
        let sdp = parse(body.as_bytes()).unwrap();
        prop_assert_eq!(sdp.media().len(), media.len());
        prop_assert_eq!(sdp.version(), Some(9));
        let out = sdp.rewrite(&plan);
        let text = String::from_utf8(out.to_vec()).unwrap();
        prop_assert!(!text.contains("ice-") && !text.contains("candidate"), "{}", text);
        prop_assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'));
        let again = parse(&out).unwrap();
        prop_assert_eq!(again.version(), Some(plan.version.unwrap_or(9)));
        for (i, (g, (a, b))) in media.iter().zip(sdp.media().iter().zip(again.media())).enumerate() {
            let planned = plan.ports.get(i).copied().flatten();
            prop_assert_eq!(b.port, planned.unwrap_or(g.port));
            prop_assert_eq!(a.port, g.port);
            let orig = g.addr.or(session);
            prop_assert_eq!(a.addr, orig);
            let want_addr = match orig {
                Some(o) if o.is_unspecified() => Some(o),
                Some(_) => Some(plan.addr),
                None => None,
            };
            prop_assert_eq!(b.addr, want_addr);
            prop_assert_eq!(&b.codecs, &a.codecs);
            prop_assert_eq!(b.telephone_event, a.telephone_event);
            prop_assert_eq!(b.direction, a.direction);
            prop_assert_eq!(b.is_t38(), g.proto == "udptl");
            let rtp = g.proto.contains("RTP/");
            let adds = g.rtcp.is_some() || (plan.rtcp_attr && rtp && !g.mux);
            let want_rtcp = match planned {
                Some(p) if adds && p != 0 && p != u16::MAX => Some(p + 1),
                _ => g.rtcp,
            };
            prop_assert_eq!(b.rtcp_port, want_rtcp);
        }
    }
}

/// Keeps `accepted_input_rewrites_to_accepted_output` from passing vacuously:
/// a fair share of the generated SDP-like bodies must parse.
#[test]
fn sdp_ish_bodies_are_often_accepted() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = sdp_ish();
    let accepted = (0..500)
        .filter(|_| {
            let body = strategy.new_tree(&mut runner).unwrap().current();
            parse(&body).is_ok()
        })
        .count();
    assert!(accepted >= 50, "only {accepted} of 500 accepted");
}
