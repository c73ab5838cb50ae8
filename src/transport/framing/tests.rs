use super::*;
use proptest::prelude::*;

const MAX: usize = 65536;

fn msg(body: &str) -> Vec<u8> {
    format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP pbx;branch=z9hG4bK1\r\n\
         Content-Length: {}\r\n\r\n{}",
        body.len(),
        body
    )
    .into_bytes()
}

#[test]
fn complete_message_without_body() {
    let m = msg("");
    assert_eq!(next_frame(&m, MAX), Ok(Frame::Message(m.len())));
}

#[test]
fn complete_message_with_body_and_trailing_bytes() {
    let mut m = msg("v=0\r\n");
    let len = m.len();
    m.extend_from_slice(b"SIP/2.0 200");
    assert_eq!(next_frame(&m, MAX), Ok(Frame::Message(len)));
}

#[test]
fn headers_split_anywhere_are_incomplete() {
    let m = msg("hello");
    let head_end = m.len() - 5;
    for cut in 1..head_end {
        assert_eq!(
            next_frame(&m[..cut], MAX),
            Ok(Frame::Incomplete),
            "cut {cut}"
        );
    }
}

#[test]
fn body_split_is_incomplete_until_last_byte() {
    let m = msg("hello world");
    for cut in m.len() - 11..m.len() {
        assert_eq!(next_frame(&m[..cut], MAX), Ok(Frame::Incomplete));
    }
    assert_eq!(next_frame(&m, MAX), Ok(Frame::Message(m.len())));
}

#[test]
fn incremental_framer_matches_stateless_on_every_prefix() {
    let m = msg("0123456789");
    let mut framer = Framer::new();
    for cut in 1..m.len() {
        assert_eq!(
            framer.next(&m[..cut], MAX),
            Ok(Frame::Incomplete),
            "cut {cut}"
        );
    }
    assert_eq!(framer.next(&m, MAX), Ok(Frame::Message(m.len())));
}

#[test]
fn two_messages_in_one_buffer() {
    let a = msg("abc");
    let b = msg("defgh");
    let mut buf = a.clone();
    buf.extend_from_slice(&b);
    assert_eq!(next_frame(&buf, MAX), Ok(Frame::Message(a.len())));
    assert_eq!(
        next_frame(&buf[a.len()..], MAX),
        Ok(Frame::Message(b.len()))
    );
}

#[test]
fn leading_crlf_are_keepalives() {
    let mut buf = b"\r\n\r\n".to_vec();
    buf.extend_from_slice(&msg(""));
    assert_eq!(next_frame(&buf, MAX), Ok(Frame::KeepAlive(4)));
    assert_eq!(
        next_frame(&buf[4..], MAX),
        Ok(Frame::Message(buf.len() - 4))
    );
    assert_eq!(next_frame(b"\r\n", MAX), Ok(Frame::KeepAlive(2)));
    assert_eq!(next_frame(b"", MAX), Ok(Frame::Incomplete));
}

#[test]
fn compact_form_and_spacing() {
    let m = b"SIP/2.0 200 OK\r\nCall-ID: x\r\nl : 3\r\n\r\nabc";
    assert_eq!(next_frame(m, MAX), Ok(Frame::Message(m.len())));
    let m = b"SIP/2.0 200 OK\r\ncOnTeNt-LeNgTh:\t2 \r\n\r\nab";
    assert_eq!(next_frame(m, MAX), Ok(Frame::Message(m.len())));
}

#[test]
fn bare_lf_line_ends() {
    let m = b"SIP/2.0 200 OK\nContent-Length: 2\n\nab";
    assert_eq!(next_frame(m, MAX), Ok(Frame::Message(m.len())));
}

#[test]
fn folded_line_is_not_a_header_start() {
    let m = b"SIP/2.0 200 OK\r\nSubject: x\r\n Content-Length: 9\r\nContent-Length: 1\r\n\r\na";
    assert_eq!(next_frame(m, MAX), Ok(Frame::Message(m.len())));
}

#[test]
fn header_name_must_be_at_line_start() {
    let m = b"SIP/2.0 200 OK\r\nX-Content-Length: 5\r\n\r\n";
    assert_eq!(next_frame(m, MAX), Err(FramingError::NoContentLength));
}

#[test]
fn missing_content_length() {
    let m = b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n";
    assert_eq!(next_frame(m, MAX), Err(FramingError::NoContentLength));
}

#[test]
fn bad_content_length_values() {
    for v in ["-1", "abc", "", "1 2", "+3", "99999999999999999999999999"] {
        let m = format!("SIP/2.0 200 OK\r\nContent-Length: {v}\r\n\r\n");
        assert_eq!(
            next_frame(m.as_bytes(), MAX),
            Err(FramingError::BadContentLength),
            "{v:?}"
        );
    }
}

#[test]
fn conflicting_and_repeated_content_length() {
    let m = b"SIP/2.0 200 OK\r\nContent-Length: 1\r\nl: 2\r\n\r\nab";
    assert_eq!(
        next_frame(m, MAX),
        Err(FramingError::ConflictingContentLength)
    );
    let m = b"SIP/2.0 200 OK\r\nContent-Length: 2\r\nl: 2\r\n\r\nab";
    assert_eq!(next_frame(m, MAX), Ok(Frame::Message(m.len())));
}

#[test]
fn too_large() {
    let m = msg(&"x".repeat(100));
    assert_eq!(next_frame(&m, m.len()), Ok(Frame::Message(m.len())));
    assert_eq!(next_frame(&m, m.len() - 1), Err(FramingError::TooLarge));
    // Declared body too big: rejected before the body arrives.
    let m = b"SIP/2.0 200 OK\r\nContent-Length: 1000\r\n\r\n";
    assert_eq!(next_frame(m, 500), Err(FramingError::TooLarge));
    // Endless headers.
    let m = format!("SIP/2.0 200 OK\r\nX: {}", "y".repeat(600));
    assert_eq!(next_frame(m.as_bytes(), 500), Err(FramingError::TooLarge));
    assert_eq!(next_frame(&m.as_bytes()[..400], 500), Ok(Frame::Incomplete));
}

#[test]
fn non_sip_start_line() {
    let m = b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(next_frame(m, MAX), Err(FramingError::BadStartLine));
}

#[test]
fn error_names_are_static_labels() {
    assert_eq!(FramingError::TooLarge.name(), "framing::too_large");
    assert_eq!(
        FramingError::NoContentLength.name(),
        "framing::no_content_length"
    );
}

fn arb_message() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec!["INVITE sip:a@b SIP/2.0", "SIP/2.0 180 Ringing"]),
        prop::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,30}"), 0..5),
        prop::sample::select(vec!["Content-Length", "l", "content-length"]),
        prop::collection::vec(any::<u8>(), 0..200),
        any::<bool>(),
    )
        .prop_map(|(start, headers, cl, body, lf_only)| {
            let eol = if lf_only { "\n" } else { "\r\n" };
            let mut head = format!("{start}{eol}");
            for (name, value) in headers {
                let name = name.trim_start_matches('-');
                if name.is_empty() || name.eq_ignore_ascii_case("l") {
                    continue;
                }
                if name.eq_ignore_ascii_case("content-length") {
                    continue;
                }
                head.push_str(&format!("{name}: {}{eol}", value.trim()));
            }
            head.push_str(&format!("{cl}: {}{eol}{eol}", body.len()));
            let mut out = head.into_bytes();
            out.extend_from_slice(&body);
            out
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), max in 0usize..600) {
        let mut framer = Framer::new();
        for cut in [data.len() / 3, data.len() / 2, data.len()] {
            let _ = framer.next(&data[..cut], max);
        }
        if let Ok(Frame::Message(n) | Frame::KeepAlive(n)) = next_frame(&data, max) {
            prop_assert!(n <= data.len() && n > 0);
        }
    }

    #[test]
    fn concatenated_messages_split_back_exactly(
        msgs in prop::collection::vec(arb_message(), 1..6),
        pings in prop::collection::vec(0usize..3, 6),
        chunk in 1usize..97,
    ) {
        let mut stream = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            stream.extend(std::iter::repeat_n(b"\r\n", pings[i]).flatten());
            stream.extend_from_slice(m);
        }
        // Feed the stream in `chunk`-byte pieces through one Framer, like a reader does.
        let mut framer = Framer::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut out: Vec<Vec<u8>> = Vec::new();
        for piece in stream.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match framer.next(&buf, MAX).unwrap() {
                    Frame::Message(n) => out.push(buf.drain(..n).collect()),
                    Frame::KeepAlive(n) => { buf.drain(..n); }
                    Frame::Incomplete => break,
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, msgs);
    }
}
