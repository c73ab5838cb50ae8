//! [`Message::parse`]: start line, header index and Content-Length framing
//! (RFC 3261 §7, §18.3). One pass with `memchr` over the input; header values
//! are slices of it.

use super::error::ParseError;
use super::header_name::HeaderName;
use super::message::{FramingDefect, Header, Message, ParseOptions};
use super::start_line::parse_start_line;

use super::scan::{is_token, sub, trim_range};
use bytes::{BufMut, Bytes, BytesMut};
use memchr::memchr;
use std::ops::Range;

/// A header whose value may still grow by continuation lines.
struct Pending {
    name: Range<usize>,
    value: Range<usize>,
    folded: bool,
}

/// Content-Length bookkeeping across header lines.
#[derive(Default)]
struct Framing {
    length: Option<usize>,
    defect: Option<FramingDefect>,
}

impl Framing {
    fn see(&mut self, v: &[u8]) {
        let v = v.get(trim_range(v, 0..v.len())).unwrap_or_default();
        let parsed = parse_usize(v);
        match (parsed, self.length) {
            (None, _) => self.flag(FramingDefect::Invalid),
            (Some(n), Some(old)) if n != old => self.flag(FramingDefect::Conflicting),
            (Some(n), _) => self.length = Some(n),
        }
    }

    fn flag(&mut self, d: FramingDefect) {
        self.defect.get_or_insert(d);
    }
}

/// Decimal digits only, no sign, no overflow.
pub(crate) fn parse_usize(v: &[u8]) -> Option<usize> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0usize, |acc, &c| {
        if !c.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(usize::from(c - b'0'))
    })
}

impl Message {
    /// Parses one UDP datagram or one stream frame.
    ///
    /// Fails only when the input is over `max_size`, the start line is not
    /// recognisable, a header line has no colon (or a bad name), or the
    /// header section does not end. Leading CRLFs are skipped (RFC 3261
    /// §7.5). Bare LF line ends are tolerated. Over UDP a datagram that ends
    /// right after a header line's CRLF, without the blank line, is accepted
    /// as a message with no body (RFC 4475 `baddn` arrives that way); over a
    /// stream the blank line is required.
    ///
    /// Request-line anomalies (extra or trailing SP, `<...>` or LWS in the
    /// Request-URI) and Content-Length defects do not fail the parse; they
    /// are recorded for [`Message::validate_request`].
    pub fn parse(data: Bytes, opts: &ParseOptions) -> Result<Message, ParseError> {
        if data.len() > opts.max_size {
            return Err(ParseError::TooLarge {
                size: data.len(),
                max: opts.max_size,
            });
        }
        let b: &[u8] = &data;
        let mut pos = 0usize;
        loop {
            match b.get(pos..) {
                Some([b'\r', b'\n', ..]) => pos += 2,
                Some([b'\n', ..]) => pos += 1,
                _ => break,
            }
        }
        if pos >= b.len() {
            return Err(ParseError::Empty);
        }
        let msg_start = pos;
        let (line, next) = next_line(b, pos).ok_or(ParseError::NoHeaderEnd)?;
        let (start, line_defect) = parse_start_line(&data, line)?;
        pos = next;

        let mut headers: Vec<Header> = Vec::with_capacity(16);
        let mut framing = Framing::default();
        let mut pending: Option<Pending> = None;
        let mut line_no = 1usize;
        let body_start = loop {
            let Some((line, next)) = next_line(b, pos) else {
                if pos == b.len() && !opts.stream {
                    break pos;
                }
                return Err(ParseError::NoHeaderEnd);
            };
            line_no += 1;
            if line.is_empty() {
                break next;
            }
            let first = b.get(line.start).copied().unwrap_or(b' ');
            if first == b' ' || first == b'\t' {
                let p = pending
                    .as_mut()
                    .ok_or(ParseError::BadHeaderLine { line: line_no })?;
                p.value.end = line.end;
                p.folded = true;
            } else {
                if let Some(p) = pending.take() {
                    finish(&data, p, &mut headers, &mut framing);
                }
                pending = Some(header_line(&data, line, line_no)?);
            }
            pos = next;
        };
        if let Some(p) = pending.take() {
            finish(&data, p, &mut headers, &mut framing);
        }

        let rest = b.len().saturating_sub(body_start);
        let body_end = match (framing.length, framing.defect) {
            (Some(n), None) if n <= rest => body_start + n,
            (Some(_), None) => {
                framing.flag(FramingDefect::Exceeds);
                b.len()
            }
            (None, None) => {
                if opts.stream {
                    framing.flag(FramingDefect::Missing);
                }
                b.len()
            }
            (_, Some(_)) => b.len(),
        };
        Ok(Message {
            raw: sub(&data, msg_start..body_end),
            start,
            headers,
            body: sub(&data, body_start..body_end),
            framing: framing.defect,
            line_defect,
        })
    }
}

/// The line starting at `pos` without its CR LF, and the offset after it.
fn next_line(b: &[u8], pos: usize) -> Option<(Range<usize>, usize)> {
    let n = memchr(b'\n', b.get(pos..)?)?;
    let lf = pos + n;
    let end = if lf > pos && b.get(lf - 1) == Some(&b'\r') {
        lf - 1
    } else {
        lf
    };
    Some((pos..end, lf + 1))
}

/// `name SWS ":" value`; the name must be a token (RFC 3261 §7.3.1).
fn header_line(data: &Bytes, line: Range<usize>, line_no: usize) -> Result<Pending, ParseError> {
    let b = data.get(line.clone()).unwrap_or_default();
    let mut i = 0usize;
    while b.get(i).copied().is_some_and(is_token) {
        i += 1;
    }
    let name_end = i;
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if name_end == 0 || b.get(i) != Some(&b':') {
        return Err(ParseError::BadHeaderLine { line: line_no });
    }
    let value = trim_range(b, i + 1..b.len());
    Ok(Pending {
        name: line.start..line.start + name_end,
        value: line.start + value.start..line.start + value.end,
        folded: false,
    })
}

#[inline]
fn finish(data: &Bytes, p: Pending, headers: &mut Vec<Header>, framing: &mut Framing) {
    let name = HeaderName::from_range(data, p.name);
    if matches!(name, HeaderName::ContentLength) {
        framing.see(data.get(p.value.clone()).unwrap_or_default());
    }
    let value = if p.folded {
        unfold(data.get(p.value).unwrap_or_default())
    } else {
        sub(data, p.value)
    };
    headers.push(Header { name, value });
}

/// RFC 3261 §7.3.1: each continuation line's leading white space and the
/// preceding line end become one SP.
fn unfold(region: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(region.len());
    for piece in region.split(|&c| c == b'\n') {
        let r = trim_range(piece, 0..piece.len());
        let Some(t) = piece.get(r) else { continue };
        if t.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.put_u8(b' ');
        }
        out.put_slice(t);
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
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
        assert_eq!(m.headers()[0].name, HeaderName::Via);
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
        let m =
            Message::parse(Bytes::from_static(b"BYE sip:a@b SIP/2.0\r\n\r\n"), &stream).unwrap();
        assert_eq!(m.framing_defect(), Some(FramingDefect::Missing));
    }

    #[test]
    fn unfold_joins_with_one_space() {
        assert_eq!(unfold(b"a  \r\n   b\r\n\tc"), "a b c");
        assert_eq!(unfold(b"\r\n sip:x ;\r\n  tag=1"), "sip:x ; tag=1");
    }
}
