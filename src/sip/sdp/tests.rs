//! Unit tests: real-world offers parsed field by field, rewrites compared byte
//! for byte, malformed bodies rejected with the right error.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn crlf(s: &str) -> String {
    s.lines().map(|l| format!("{l}\r\n")).collect()
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn plan(addr: IpAddr, ports: &[Option<u16>], version: Option<u64>, rtcp: bool) -> Rewrite {
    Rewrite {
        addr,
        ports: ports.into(),
        version,
        rtcp_attr: rtcp,
        sec: PerLine::new(),
    }
}

fn text(b: bytes::Bytes) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

const ASTERISK: &str = "v=0
o=- 1234567890 1234567891 IN IP4 192.0.2.10
s=Asterisk
c=IN IP4 192.0.2.10
t=0 0
m=audio 10000 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=maxptime:150
a=rtcp:10001
a=sendrecv
";

#[test]
fn pbx_offer_field_by_field() {
    let sdp = parse(crlf(ASTERISK).as_bytes()).unwrap();
    assert_eq!(sdp.version(), Some(1234567891));
    assert!(!sdp.has_t38());
    let want = MediaDesc {
        kind: MediaKind::Audio,
        port: 10000,
        transport: Transport::new("RTP/AVP", ["0", "8", "101"].into_iter()),
        addr: Some(v4(192, 0, 2, 10)),
        rtcp_port: Some(10001),
        rtcp_mux: false,
        direction: Direction::SendRecv,
        codecs: SmallVec::from_slice(&[(0, Codec::Pcmu), (8, Codec::Pcma)]),
        clocks: SmallVec::from_slice(&[(0, 8000), (8, 8000), (101, 8000)]),
        telephone_event: Some(101),
        crypto: Vec::new(),
    };
    assert_eq!(sdp.media(), &[want]);
    assert!(!sdp.media()[0].is_hold_address());
    assert!(!sdp.media()[0].is_t38());
    assert_eq!(choose_g711(&sdp.media()[0]), Some((0, Codec::Pcmu)));
}

#[test]
fn pbx_offer_rewrite() {
    let sdp = parse(crlf(ASTERISK).as_bytes()).unwrap();
    let out = sdp.rewrite(&plan(v4(203, 0, 113, 1), &[Some(30000)], Some(7), true));
    let want = ASTERISK
        .replace(
            "o=- 1234567890 1234567891 IN IP4 192.0.2.10",
            "o=- 1234567890 7 IN IP4 203.0.113.1",
        )
        .replace("c=IN IP4 192.0.2.10", "c=IN IP4 203.0.113.1")
        .replace("m=audio 10000", "m=audio 30000")
        .replace("a=rtcp:10001", "a=rtcp:30001 IN IP4 203.0.113.1");
    assert_eq!(text(out), crlf(&want));
}

const WEBRTC: &str = "v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=ice-options:trickle
a=ice-lite
a=msid-semantic: WMS stream
m=audio 54400 UDP/TLS/RTP/SAVPF 111 0 8 126
c=IN IP4 198.51.100.7
a=rtcp:54401 IN IP4 198.51.100.7
a=candidate:1 1 udp 2113937151 192.168.1.5 54400 typ host generation 0
a=candidate:2 1 udp 1845501695 198.51.100.7 54400 typ srflx raddr 192.168.1.5 rport 54400
a=ice-ufrag:F7gI
a=ice-pwd:x9cml/YzichV2+XlhiMu8g
a=ice-mismatch
a=remote-candidates:1 198.51.100.7 54400
a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B
a=setup:actpass
a=mid:0
a=sendrecv
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:126 telephone-event/8000
a=ssrc:1 cname:x
a=end-of-candidates
";

#[test]
fn webrtc_offer_rewrite_removes_ice_only() {
    let sdp = parse(WEBRTC.as_bytes()).unwrap();
    let m = &sdp.media()[0];
    assert_eq!(m.codecs.as_slice(), [(0, Codec::Pcmu), (8, Codec::Pcma)]);
    assert_eq!(m.telephone_event, Some(126));
    assert!(m.rtcp_mux);
    assert_eq!(m.rtcp_port, Some(54401));
    assert_eq!(m.addr, Some(v4(198, 51, 100, 7)));
    assert_eq!(sdp.version(), Some(2));

    let out = text(sdp.rewrite(&plan(v4(203, 0, 113, 1), &[Some(30000)], Some(3), true)));
    let want = "v=0
o=- 4611731400430051336 3 IN IP4 203.0.113.1
s=-
t=0 0
a=group:BUNDLE 0
a=msid-semantic: WMS stream
m=audio 30000 UDP/TLS/RTP/SAVPF 111 0 8 126
c=IN IP4 203.0.113.1
a=rtcp:30001 IN IP4 203.0.113.1
a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B
a=setup:actpass
a=mid:0
a=sendrecv
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:126 telephone-event/8000
a=ssrc:1 cname:x
";
    assert_eq!(out, crlf(want));
    assert!(!out.contains("ice") && !out.contains("candidate"));
}

#[test]
fn rtcp_attr_added_after_last_line_even_if_it_was_ice() {
    let body = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n\
m=audio 4000 RTP/AVP 8\na=sendrecv\na=candidate:1 1 udp 1 192.0.2.1 4000 typ host\n\
m=audio 4002 RTP/AVP 0\na=rtcp-mux\n\
m=audio 4004 RTP/AVP 0\n";
    let sdp = parse(body.as_bytes()).unwrap();
    let out = text(sdp.rewrite(&plan(
        v4(203, 0, 113, 1),
        &[Some(20000), Some(20002), None],
        None,
        true,
    )));
    let want = "v=0\no=- 1 1 IN IP4 203.0.113.1\ns=-\nc=IN IP4 203.0.113.1\nt=0 0\n\
m=audio 20000 RTP/AVP 8\na=sendrecv\na=rtcp:20001 IN IP4 203.0.113.1\n\
m=audio 20002 RTP/AVP 0\na=rtcp-mux\n\
m=audio 4004 RTP/AVP 0\n";
    assert_eq!(out, crlf(want));
    // Without rtcp_attr no a=rtcp appears.
    let out = text(sdp.rewrite(&plan(v4(203, 0, 113, 1), &[Some(20000)], None, false)));
    assert!(!out.contains("a=rtcp:"), "{out}");
}

#[test]
fn hold_offer_keeps_direction_and_hold_address() {
    let body = "v=0\r\no=- 5 6 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
m=audio 10000 RTP/AVP 8\r\na=sendonly\r\n";
    let sdp = parse(body.as_bytes()).unwrap();
    let m = &sdp.media()[0];
    assert_eq!(m.direction, Direction::SendOnly);
    assert_eq!(m.addr, Some(v4(0, 0, 0, 0)));
    assert!(m.is_hold_address());
    let out = text(sdp.rewrite(&plan(v4(203, 0, 113, 1), &[Some(30000)], Some(7), false)));
    assert_eq!(
        out,
        "v=0\r\no=- 5 7 IN IP4 203.0.113.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 8\r\na=sendonly\r\n"
    );
    let again = parse(out.as_bytes()).unwrap();
    assert!(again.media()[0].is_hold_address());
    assert_eq!(again.media()[0].direction, Direction::SendOnly);
}

#[test]
fn direction_media_level_overrides_session_level() {
    let body = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP6 ::\nt=0 0\na=inactive\n\
m=audio 1000 RTP/AVP 0\nm=audio 1002 RTP/AVP 0\na=recvonly\n";
    let sdp = parse(body.as_bytes()).unwrap();
    assert_eq!(sdp.media()[0].direction, Direction::Inactive);
    assert_eq!(sdp.media()[1].direction, Direction::RecvOnly);
    assert!(sdp.media()[0].is_hold_address());
    let no_c = parse(b"v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nm=audio 1 RTP/AVP 0\n").unwrap();
    assert_eq!(no_c.media()[0].addr, None);
    assert!(!no_c.media()[0].is_hold_address());
    assert_eq!(no_c.media()[0].direction, Direction::SendRecv);
}

const T38: &str = "v=0
o=- 1 2 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=image 40000 udptl t38
a=T38FaxVersion:0
a=T38MaxBitRate:14400
a=T38FaxRateManagement:transferredTCF
a=T38FaxMaxBuffer:262
a=T38FaxMaxDatagram:176
a=T38FaxUdpEC:t38UDPRedundancy
";

#[test]
fn t38_reinvite() {
    let sdp = parse(T38.as_bytes()).unwrap();
    let m = &sdp.media()[0];
    assert_eq!(m.kind, MediaKind::Image);
    assert_eq!((m.port, m.proto()), (40000, "udptl"));
    assert!(m.is_t38());
    assert!(m.codecs.is_empty());
    assert!(sdp.has_t38());
    // T.38 attributes survive the rewrite; no a=rtcp on a non-RTP line.
    let out = text(sdp.rewrite(&plan(v4(203, 0, 113, 1), &[Some(32000)], None, true)));
    let want = T38
        .replace("IN IP4 192.0.2.10", "IN IP4 203.0.113.1")
        .replace("m=image 40000", "m=image 32000");
    assert_eq!(out, crlf(&want));
    let upper = parse(T38.replace("udptl t38", "UDPTL T38").as_bytes()).unwrap();
    assert!(upper.has_t38());
    let disabled = parse(T38.replace("40000", "0").as_bytes()).unwrap();
    assert!(disabled.media()[0].is_t38());
    assert!(!disabled.has_t38());
}

#[test]
fn audio_disabled_plus_image_ports_per_line() {
    let body = "v=0\no=- 1 2 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n\
m=audio 0 RTP/AVP 0\nm=image 40000 udptl t38\na=T38FaxVersion:0\n";
    let sdp = parse(body.as_bytes()).unwrap();
    let ports: Vec<u16> = sdp.media().iter().map(|m| m.port).collect();
    assert_eq!(ports, vec![0, 40000]);
    assert!(sdp.has_t38());
    let out = sdp.rewrite(&plan(v4(203, 0, 113, 1), &[None, Some(31000)], None, true));
    let again = parse(&out).unwrap();
    let ports: Vec<u16> = again.media().iter().map(|m| m.port).collect();
    assert_eq!(ports, vec![0, 31000]);
    assert_eq!(again.media()[0].rtcp_port, None);
    assert_eq!(again.media()[1].addr, Some(v4(203, 0, 113, 1)));
}

#[test]
fn ipv6_parse_and_rewrites() {
    let v6 = "v=0\no=- 1 1 IN IP6 ::1\ns=-\nc=IN IP6 ::1\nt=0 0\nm=audio 5000 RTP/AVP 0\n";
    let sdp = parse(v6.as_bytes()).unwrap();
    assert_eq!(sdp.media()[0].addr, Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    let to6: IpAddr = "2001:db8::1".parse().unwrap();
    let out = text(sdp.rewrite(&plan(to6, &[Some(6000)], None, false)));
    assert_eq!(
        out,
        crlf("v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nc=IN IP6 2001:db8::1\nt=0 0\nm=audio 6000 RTP/AVP 0\n")
    );
    // v6 -> v4
    let out = text(sdp.rewrite(&plan(v4(192, 0, 2, 9), &[Some(6000)], None, false)));
    assert!(out.contains("\r\nc=IN IP4 192.0.2.9\r\n"), "{out}");
    assert!(out.contains("o=- 1 1 IN IP4 192.0.2.9\r\n"), "{out}");
    // v4 -> v6, with a=rtcp following the address family.
    let sdp = parse(crlf(ASTERISK).as_bytes()).unwrap();
    let out = text(sdp.rewrite(&plan(to6, &[Some(6000)], None, false)));
    assert!(
        out.contains("o=- 1234567890 1234567891 IN IP6 2001:db8::1\r\n"),
        "{out}"
    );
    assert!(out.contains("\r\nc=IN IP6 2001:db8::1\r\n"), "{out}");
    assert!(
        out.contains("\r\na=rtcp:6001 IN IP6 2001:db8::1\r\n"),
        "{out}"
    );
    assert!(!out.contains("IP4"), "{out}");
    assert_eq!(parse(out.as_bytes()).unwrap().media()[0].addr, Some(to6));
}

#[test]
fn session_c_only_vs_media_override() {
    let body = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n\
m=audio 1000 RTP/AVP 0\nm=audio 2000 RTP/AVP 8\nc=IN IP4 192.0.2.2/127\n";
    let sdp = parse(body.as_bytes()).unwrap();
    assert_eq!(sdp.media()[0].addr, Some(v4(192, 0, 2, 1)));
    assert_eq!(sdp.media()[1].addr, Some(v4(192, 0, 2, 2)));
    let out = text(sdp.rewrite(&plan(v4(10, 0, 0, 1), &[Some(1), Some(3)], None, false)));
    assert_eq!(out.matches("c=IN IP4 10.0.0.1\r\n").count(), 2, "{out}");
    assert_eq!(out.matches("c=").count(), 2);
}

#[test]
fn bare_lf_in_crlf_out() {
    let body = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 1000 RTP/AVP 0\na=x-unknown:  keep  me \nz=odd\n";
    let sdp = parse(body.as_bytes()).unwrap();
    let out = text(sdp.rewrite(&plan(v4(192, 0, 2, 1), &[], None, false)));
    assert_eq!(out, body.replace('\n', "\r\n"));
    // Mixed endings and no final newline.
    let mixed = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\ns=-\r\nt=0 0";
    let out = text(parse(mixed.as_bytes()).unwrap().rewrite(&plan(
        v4(192, 0, 2, 1),
        &[],
        None,
        false,
    )));
    assert_eq!(out, "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n");
}

/// Lines copied as they are go out in runs of the body: the runs must break
/// at a bare LF, a blank line, a dropped ICE line and every rebuilt line.
#[test]
fn verbatim_runs_break_where_the_body_does() {
    let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 1000 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\na=x-one\n\r\n  \r\na=x-two\r\n\
a=candidate:1 1 UDP 1 192.0.2.1 1000 typ host\r\na=x-three\r\r\na=sendonly\r\n\
m=video 1002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=recvonly\r\nz=last";
    let sdp = parse(body.as_bytes()).unwrap();
    let [audio, video] = sdp.media() else {
        panic!("two sections: {:?}", sdp.media());
    };
    // Each section its own direction and its own payload type 96.
    assert_eq!(audio.direction, Direction::SendOnly);
    assert_eq!(video.direction, Direction::RecvOnly);
    assert_eq!(audio.clocks.as_slice(), [(96, 48000)]);
    assert_eq!(video.clocks.as_slice(), [(96, 90000)]);
    let out = text(sdp.rewrite(&plan(
        v4(10, 0, 0, 1),
        &[Some(2000), Some(2002)],
        Some(7),
        true,
    )));
    assert_eq!(
        out,
        "v=0\r\no=- 1 7 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 2000 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\na=x-one\r\na=x-two\r\n\
a=x-three\r\r\na=sendonly\r\na=rtcp:2001 IN IP4 10.0.0.1\r\n\
m=video 2002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=recvonly\r\nz=last\r\n\
a=rtcp:2003 IN IP4 10.0.0.1\r\n"
    );
}

#[test]
fn dynamic_payload_types_from_rtpmap() {
    let body = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n\
m=audio 5000 RTP/AVP 18 101 96 0 8 97\na=rtpmap:101 PCMA/8000\na=rtpmap:96 telephone-event/8000\n\
a=rtpmap:97 pcmu/16000\na=rtpmap:8 G729/8000\na=rtpmap:18 G729/8000\na=rtpmap:98 PCMU/8000\n";
    let m = parse(body.as_bytes()).unwrap().media()[0].clone();
    // 97 is 16 kHz, 8 is remapped to G729, 98 is not in the m= line.
    assert_eq!(m.codecs.as_slice(), [(101, Codec::Pcma), (0, Codec::Pcmu)]);
    assert_eq!(m.telephone_event, Some(96));
    assert_eq!(choose_g711(&m), Some((101, Codec::Pcma)));
}

fn err(body: &[u8]) -> SdpError {
    parse(body).unwrap_err()
}

#[test]
fn malformed_inputs_are_errors() {
    let ok = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\n";
    assert_eq!(err(b""), SdpError::MissingVersion);
    assert_eq!(
        err(b"o=- 1 1 IN IP4 192.0.2.1\ns=-\n"),
        SdpError::MissingVersion
    );
    assert_eq!(
        err(b"v=1\no=- 1 1 IN IP4 192.0.2.1\ns=-\n"),
        SdpError::BadVersion
    );
    assert_eq!(err(b"v=0\ns=-\n"), SdpError::MissingOrigin);
    assert_eq!(
        err(b"v=0\no=- 1 1 IN IP4 192.0.2.1\n"),
        SdpError::MissingSessionName
    );
    assert_eq!(
        err(b"v=0\no=- 1 IN IP4 192.0.2.1\ns=-\n"),
        SdpError::BadOrigin { line: 2 }
    );
    let bad_port = format!("{ok}m=audio 70000 RTP/AVP 0\n");
    assert_eq!(err(bad_port.as_bytes()), SdpError::BadMedia { line: 5 });
    let no_fmt = format!("{ok}m=audio 7000 RTP/AVP\n");
    assert_eq!(err(no_fmt.as_bytes()), SdpError::BadMedia { line: 5 });
    assert!(parse(format!("{ok}m=audio 0 RTP/AVP\n").as_bytes()).is_ok());
    let bad_c = format!("{ok}c=IN IP4 999.1.1.1\n");
    assert_eq!(err(bad_c.as_bytes()), SdpError::BadConnection { line: 5 });
    let host_c = format!("{ok}c=IN IP4 host.example\n");
    assert_eq!(err(host_c.as_bytes()), SdpError::BadConnection { line: 5 });
    let fam_c = format!("{ok}c=IN IP6 192.0.2.1\n");
    assert_eq!(err(fam_c.as_bytes()), SdpError::BadConnection { line: 5 });
    let bad_map = format!("{ok}m=audio 1 RTP/AVP 0\na=rtpmap:abc PCMU/8000\n");
    assert_eq!(err(bad_map.as_bytes()), SdpError::BadAttribute { line: 6 });
    let bad_rtcp = format!("{ok}m=audio 1 RTP/AVP 0\na=rtcp:x\n");
    assert_eq!(err(bad_rtcp.as_bytes()), SdpError::BadAttribute { line: 6 });
    let mut non_utf8 = ok.as_bytes().to_vec();
    non_utf8.extend_from_slice(b"s=\xff\xfe\n");
    assert_eq!(err(&non_utf8), SdpError::NotUtf8);
    assert_eq!(err(b"hello world\n"), SdpError::BadLine { line: 1 });
    assert_eq!(err(b"v=0\n\x00garbage"), SdpError::BadLine { line: 2 });
    assert_eq!(err(b"V=0\n"), SdpError::BadLine { line: 1 });
    let many = format!("{ok}{}", "m=audio 1 RTP/AVP 0\n".repeat(65));
    assert_eq!(err(many.as_bytes()), SdpError::TooManyMedia { max: 64 });
    let sixty_four = format!("{ok}{}", "m=audio 1 RTP/AVP 0\n".repeat(64));
    assert_eq!(parse(sixty_four.as_bytes()).unwrap().media().len(), 64);
    let big = format!("{ok}{}", "a=x:0123456789\n".repeat(5000));
    assert_eq!(
        err(big.as_bytes()),
        SdpError::TooLarge {
            size: big.len(),
            max: MAX_BODY
        }
    );
    assert_eq!(err(big.as_bytes()).name(), "sdp_too_large");
    assert_eq!(SdpError::BadMedia { line: 1 }.name(), "sdp_bad_media");
}

#[test]
fn build_answer_parses_back() {
    let addr = v4(203, 0, 113, 5);
    let body = build_answer(addr, 40002, (8, Codec::Pcma), Some(101), 42, 43, None);
    let sdp = parse(&body).unwrap();
    assert_eq!(sdp.version(), Some(43));
    let m = &sdp.media()[0];
    assert_eq!(sdp.media().len(), 1);
    assert_eq!(
        (m.kind, m.port, m.addr),
        (MediaKind::Audio, 40002, Some(addr))
    );
    assert_eq!(m.codecs.as_slice(), [(8, Codec::Pcma)]);
    assert_eq!(m.telephone_event, Some(101));
    assert_eq!(m.direction, Direction::SendRecv);
    assert!(text(body).starts_with("v=0\r\no=- 42 43 IN IP4 203.0.113.5\r\n"));

    let to6: IpAddr = "2001:db8::5".parse().unwrap();
    let body = build_answer(to6, 40004, (0, Codec::Pcmu), None, 1, 1, None);
    let sdp = parse(&body).unwrap();
    let m = &sdp.media()[0];
    assert_eq!(
        (m.port, m.addr, m.fmts().collect::<Vec<_>>()),
        (40004, Some(to6), vec!["0"])
    );
    assert_eq!(
        (m.codecs.as_slice(), m.telephone_event),
        (&[(0, Codec::Pcmu)][..], None)
    );
}

/// `o=` has exactly six fields between runs of any ASCII whitespace; its
/// third is the session version (None when it is not a u64).
#[test]
fn origin_fields_and_version() {
    let origin =
        |o: &str| parse(format!("v=0\r\no={o}\r\ns=-\r\n").as_bytes()).map(|s| s.version());
    assert_eq!(origin("- 1 2 IN IP4 192.0.2.1"), Ok(Some(2)));
    assert_eq!(origin("  -\t1 \x0c 42  IN IP4\t192.0.2.1  "), Ok(Some(42)));
    assert_eq!(origin("- 1 x IN IP4 192.0.2.1"), Ok(None));
    assert_eq!(
        origin("- 1 18446744073709551616 IN IP4 192.0.2.1"),
        Ok(None)
    );
    assert_eq!(origin("- 1 2 IN IP4"), Err(SdpError::BadOrigin { line: 2 }));
    assert_eq!(
        origin("- 1 2 IN IP4 192.0.2.1 x"),
        Err(SdpError::BadOrigin { line: 2 })
    );
    assert_eq!(origin("- 1"), Err(SdpError::BadOrigin { line: 2 }));
}
