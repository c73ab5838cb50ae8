use super::*;
use crate::sip::Method;

fn udp(s: &'static [u8]) -> Result<Message, ParseError> {
    Message::parse(Bytes::from_static(s), &ParseOptions::default())
}

const INVITE: &[u8] = b"\r\n\r\nINVITE sip:bob@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
i: a84b4c76e66710\r\n\
f: Alice <sip:alice@example.com>;tag=1928301774\r\n\
t: Bob <sip:bob@example.com>\r\n\
CSeq: 314159 INVITE\r\n\
Subject: folded\r\n\
 \t line\r\n\
l: 4\r\n\
\r\n\
v=0\r\nextra";

#[test]
fn request_compact_folded_and_framed() {
    let m = udp(INVITE).unwrap();
    assert!(m.is_request());
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(m.request_uri().unwrap(), "sip:bob@example.com");
    assert_eq!(m.call_id().unwrap(), "a84b4c76e66710");
    assert_eq!(m.header(&HeaderName::Subject).unwrap(), "folded line");
    assert_eq!(m.headers().len(), 7);
    assert_eq!(m.headers().next().unwrap().name, HeaderName::Via);
    assert_eq!(m.body(), "v=0\r");
    assert!(m.raw().starts_with(b"INVITE "));
    assert!(m.raw().ends_with(b"\r\n\r\nv=0\r"));
    assert_eq!(m.framing_defect(), None);
}

#[test]
fn values_are_slices_of_the_input() {
    let data = Bytes::from_static(INVITE);
    let m = Message::parse(data.clone(), &ParseOptions::default()).unwrap();
    let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
    let cid = m.call_id().unwrap();
    assert!(range.contains(&(cid.as_ptr() as usize)));
    assert!(!range.contains(&(m.header(&HeaderName::Subject).unwrap().as_ptr() as usize)));
}

#[test]
fn whitespace_around_colon_and_bare_lf() {
    let m = udp(b"OPTIONS sip:a@b SIP/2.0\nVia  :  SIP/2.0/UDP h\nCall-ID:x \n\n").unwrap();
    assert_eq!(m.header(&HeaderName::Via).unwrap(), "SIP/2.0/UDP h");
    assert_eq!(m.call_id().unwrap(), "x");
    assert!(m.body().is_empty());
}

#[test]
fn parse_errors() {
    let err = |s: &'static [u8]| udp(s).unwrap_err().name();
    assert_eq!(err(b""), "empty");
    assert_eq!(err(b"\r\n\r\n"), "empty");
    assert_eq!(err(b"INVITE sip:a@b\r\n\r\n"), "bad_start_line");
    assert_eq!(err(b"HELLO\r\n\r\n"), "bad_start_line");
    assert_eq!(err(b"INV(TE sip:a@b SIP/2.0\r\n\r\n"), "bad_start_line");
    assert_eq!(
        err(b"INVITE sip:a@b SIP/2.0\r\nFoobar roobar\r\n\r\n"),
        "bad_header_line"
    );
    assert_eq!(
        err(b"INVITE sip:a@b SIP/2.0\r\n : x\r\n\r\n"),
        "bad_header_line"
    );
    assert_eq!(
        err(b"INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n"),
        "bad_header_line"
    );
    assert_eq!(err(b"INVITE sip:a@b SIP/2.0\r\nVia: x"), "no_header_end");
    assert_eq!(err(b"INVITE sip:a@b SIP/2.0"), "no_header_end");
    let big = ParseOptions {
        max_size: 10,
        stream: false,
    };
    let e = Message::parse(Bytes::from_static(b"INVITE sip:a@b SIP/2.0\r\n\r\n"), &big);
    assert_eq!(e.unwrap_err().name(), "too_large");
}

#[test]
fn headers_only_datagram() {
    let m = udp(b"OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n").unwrap();
    assert_eq!(m.headers().len(), 1);
    let stream = ParseOptions {
        stream: true,
        ..ParseOptions::default()
    };
    let e = Message::parse(
        Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n"),
        &stream,
    );
    assert_eq!(e.unwrap_err().name(), "no_header_end");
}

#[test]
fn content_length_defects() {
    let d = |s: &'static [u8]| udp(s).unwrap().framing_defect();
    assert_eq!(
        d(b"BYE sip:a@b SIP/2.0\r\nl: 9\r\n\r\nabc"),
        Some(FramingDefect::Exceeds)
    );
    assert_eq!(
        d(b"BYE sip:a@b SIP/2.0\r\nl: -1\r\n\r\nabc"),
        Some(FramingDefect::Invalid)
    );
    assert_eq!(
        d(b"BYE sip:a@b SIP/2.0\r\nl: five\r\n\r\n"),
        Some(FramingDefect::Invalid)
    );
    assert_eq!(
        d(b"BYE sip:a@b SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n"),
        Some(FramingDefect::Invalid)
    );
    assert_eq!(
        d(b"BYE sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab"),
        Some(FramingDefect::Conflicting)
    );
    assert_eq!(d(b"BYE sip:a@b SIP/2.0\r\nl: 2\r\nl: 2\r\n\r\nab"), None);
    let m = udp(b"BYE sip:a@b SIP/2.0\r\n\r\nrest of datagram").unwrap();
    assert_eq!(m.body(), "rest of datagram");
    let stream = ParseOptions {
        stream: true,
        ..ParseOptions::default()
    };
    let m = Message::parse(Bytes::from_static(b"BYE sip:a@b SIP/2.0\r\n\r\n"), &stream).unwrap();
    assert_eq!(m.framing_defect(), Some(FramingDefect::Missing));
}

#[test]
fn unfold_joins_with_one_space() {
    let unfold = |r: &[u8]| {
        let mut out = BytesMut::new();
        unfold_into(r, &mut out);
        out.freeze()
    };
    assert_eq!(unfold(b"a  \r\n   b\r\n\tc"), "a b c");
    assert_eq!(unfold(b"\r\n sip:x ;\r\n  tag=1"), "sip:x ; tag=1");
}

#[test]
fn header_lines_are_checked_in_the_index_pass() {
    let err = |s: &'static [u8]| udp(s).unwrap_err();
    // A continuation line before any header line.
    assert_eq!(
        err(b"INVITE sip:a@b SIP/2.0\r\n folded\r\nVia: x\r\n\r\n"),
        ParseError::BadHeaderLine { line: 2 }
    );
    // A bad line after good ones names its own line number.
    assert_eq!(
        err(b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\ni: y\r\nNo colon\r\n\r\n"),
        ParseError::BadHeaderLine { line: 4 }
    );
    assert_eq!(
        err(b"INVITE sip:a@b SIP/2.0\r\nVi@: x\r\n\r\n"),
        ParseError::BadHeaderLine { line: 2 }
    );
    assert_eq!(
        err(b"INVITE sip:a@b SIP/2.0\r\n:x\r\n\r\n"),
        ParseError::BadHeaderLine { line: 2 }
    );
    assert_eq!(
        err(b"INVITE sip:a@b SIP/2.0\r\nVia\r\n\r\n"),
        ParseError::BadHeaderLine { line: 2 }
    );
}

#[test]
fn content_length_read_once_per_line_and_folding() {
    let d = |s: &'static [u8]| udp(s).unwrap().framing_defect();
    // A folded Content-Length is not a number.
    assert_eq!(
        d(b"BYE sip:a@b SIP/2.0\r\nl: 1\r\n 2\r\n\r\nab"),
        Some(FramingDefect::Invalid)
    );
    // The first defect wins: invalid before conflicting.
    assert_eq!(
        d(b"BYE sip:a@b SIP/2.0\r\nl: x\r\nl: 1\r\nl: 2\r\n\r\nab"),
        Some(FramingDefect::Invalid)
    );
    // The last header line's Content-Length counts too.
    let m = udp(b"BYE sip:a@b SIP/2.0\r\nVia: v\r\nContent-Length: 2\r\n\r\nabcd").unwrap();
    assert_eq!(m.body(), "ab");
    assert!(m.raw().ends_with(b"\r\n\r\nab"));
    // Folded values of several headers each get their own unfolded range.
    let m = udp(b"BYE sip:a@b SIP/2.0\r\nA: 1\r\n 2\r\nB: x\r\nC: 3\r\n\t4\r\n\r\n").unwrap();
    let values: Vec<Bytes> = m.headers().map(|h| h.value).collect();
    assert_eq!(values, ["1 2", "x", "3 4"]);
}

#[test]
fn leading_crlfs_shift_offsets() {
    let m = udp(b"\r\n\n\r\nSIP/2.0 200 OK\r\nCall-ID: c\r\nv: SIP/2.0/UDP h\r\n\r\n").unwrap();
    assert_eq!(m.call_id().unwrap(), "c");
    assert_eq!(m.header(&HeaderName::Via).unwrap(), "SIP/2.0/UDP h");
    assert!(m.raw().starts_with(b"SIP/2.0 200"));
}

/// The parser bench's messages (`benches/data/`, read by `examples/parse_loop`
/// with LF turned into CRLF) declare exactly the body they carry: a longer
/// body would be cut to Content-Length on UDP and the bench would time a
/// truncation instead of the message it names.
#[test]
fn bench_messages_frame_exactly() {
    for (name, text) in [
        (
            "invite_sdp",
            include_str!("../../../benches/data/invite_sdp.txt"),
        ),
        (
            "ok_200_sdp",
            include_str!("../../../benches/data/ok_200_sdp.txt"),
        ),
        (
            "ringing_180",
            include_str!("../../../benches/data/ringing_180.txt"),
        ),
    ] {
        let wire = text.replace('\n', "\r\n");
        let body_on_wire = wire.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
        let m = Message::parse(Bytes::from(wire), &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(m.body().len(), body_on_wire, "{name}: Content-Length");
    }
}
