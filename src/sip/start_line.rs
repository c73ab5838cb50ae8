//! Start lines (RFC 3261 §7.1 Request-Line, §7.2 Status-Line). Liberal on
//! shape, but request-line anomalies are recorded for validation (RFC 4475
//! §3.1.2.7 - §3.1.2.10).

use super::error::ParseError;
use super::message::{RequestLine, StartLine, StatusLine};
use super::method::Method;
use super::scan::{all_token, sub, sub_or_static, trim_range};
use super::swar;
use bytes::Bytes;
use memchr::memchr2;
use std::ops::Range;

/// The first SP: it ends a method or a version, a few octets in, where a
/// word-at-a-time search beats a `memchr` call's set-up.
#[inline]
fn first_sp(b: &[u8]) -> Option<usize> {
    swar::find(b, 0, |w| swar::eq(w, b' '), |c| c == b' ')
}

#[inline(always)]
fn starts_with_ci(b: &[u8], prefix: &[u8]) -> bool {
    b.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// The version every message we accept carries, kept as a static `Bytes`.
const SIP_2_0: &[u8] = b"SIP/2.0";

pub(crate) type StartResult = Result<(StartLine, Option<&'static str>), ParseError>;

pub(crate) fn parse_start_line(data: &Bytes, line: Range<usize>) -> StartResult {
    let b = data.get(line.clone()).unwrap_or_default();
    let at = |r: Range<usize>| sub(data, line.start + r.start..line.start + r.end);
    if starts_with_ci(b, b"SIP/") {
        let version = |r: Range<usize>| {
            sub_or_static(data, line.start + r.start..line.start + r.end, SIP_2_0)
        };
        return parse_status_line(b, at, version);
    }
    let sp = first_sp(b).ok_or(ParseError::BadStartLine)?;
    let method = b.get(..sp).unwrap_or_default();
    if !all_token(method) {
        return Err(ParseError::BadStartLine);
    }
    let mut defect = None;
    let mut end = b.len();
    while end > sp && matches!(b.get(end - 1), Some(b' ' | b'\t')) {
        end -= 1;
        defect = Some("Bad Request (trailing whitespace in Request-Line)");
    }
    // The version (`SIP/2.0`) is short: a plain backward scan finds its SP.
    let last_sp = b
        .get(..end)
        .and_then(|r| r.iter().rposition(|&c| c == b' '))
        .ok_or(ParseError::BadStartLine)?;
    let version = last_sp + 1..end;
    if last_sp <= sp || !starts_with_ci(b.get(version.clone()).unwrap_or_default(), b"SIP/") {
        return Err(ParseError::BadStartLine);
    }
    let uri = trim_range(b, sp + 1..last_sp);
    if uri.is_empty() {
        return Err(ParseError::BadStartLine);
    }
    if uri.start != sp + 1 || uri.end != last_sp {
        defect = Some("Bad Request (extra whitespace in Request-Line)");
    }
    let u = b.get(uri.clone()).unwrap_or_default();
    if memchr2(b' ', b'\t', u).is_some() {
        defect = Some("Bad Request (whitespace in Request-URI)");
    } else if u.first() == Some(&b'<') {
        defect = Some("Bad Request (Request-URI enclosed in <>)");
    }
    let rl = RequestLine {
        method: Method::from_range(data, line.start..line.start + sp),
        uri: at(uri),
        version: sub_or_static(
            data,
            line.start + version.start..line.start + version.end,
            SIP_2_0,
        ),
    };
    Ok((StartLine::Request(rl), defect))
}

fn parse_status_line(
    b: &[u8],
    at: impl Fn(Range<usize>) -> Bytes,
    version: impl Fn(Range<usize>) -> Bytes,
) -> StartResult {
    let sp = first_sp(b).ok_or(ParseError::BadStartLine)?;
    let mut i = sp;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let digits_start = i;
    let mut code: u32 = 0;
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        code = code.saturating_mul(10).saturating_add(u32::from(c - b'0'));
        i += 1;
    }
    let ndigits = i - digits_start;
    if ndigits == 0 || !matches!(b.get(i), None | Some(b' ' | b'\t')) {
        return Err(ParseError::BadStartLine);
    }
    let defect = (ndigits != 3).then_some("Bad Status-Line (status code is not 3 digits)");
    let st = StatusLine {
        version: version(0..sp),
        code: u16::try_from(code).unwrap_or(u16::MAX),
        reason: at(trim_range(b, i..b.len())),
    };
    Ok((StartLine::Response(st), defect))
}

#[cfg(test)]
mod tests {
    use crate::sip::{Message, ParseError, ParseOptions, StartLine};
    use bytes::Bytes;

    fn udp(s: &'static [u8]) -> Result<Message, ParseError> {
        Message::parse(Bytes::from_static(s), &ParseOptions::default())
    }

    #[test]
    fn response_lines() {
        let m = udp(b"SIP/2.0 180 Ringing\r\nl: 0\r\n\r\n").unwrap();
        assert_eq!(m.code(), Some(180));
        assert_eq!(m.method(), None);
        let m = udp(b"SIP/2.0 100\r\n\r\n").unwrap();
        assert_eq!(m.code(), Some(100));
        let StartLine::Response(st) = m.start() else {
            panic!()
        };
        assert!(st.reason.is_empty());
        let m = udp(b"SIP/2.0 4294967301 big\r\n\r\n").unwrap();
        assert_eq!(m.code(), Some(u16::MAX));
        assert!(m.line_defect.is_some());
        assert_eq!(
            udp(b"SIP/2.0 abc x\r\n\r\n").unwrap_err().name(),
            "bad_start_line"
        );
        assert_eq!(
            udp(b"SIP/2.0 200OK\r\n\r\n").unwrap_err().name(),
            "bad_start_line"
        );
    }

    #[test]
    fn request_line_anomalies_are_recorded() {
        let cases: &[(&[u8], &str)] = &[
            (b"INVITE  sip:a@b  SIP/2.0\r\n\r\n", "extra whitespace"),
            (b"INVITE sip:a@b SIP/2.0  \r\n\r\n", "trailing whitespace"),
            (
                b"INVITE sip:a@b; lr SIP/2.0\r\n\r\n",
                "whitespace in Request-URI",
            ),
            (b"INVITE <sip:a@b> SIP/2.0\r\n\r\n", "<>"),
        ];
        for (input, want) in cases {
            let m = Message::parse(Bytes::from_static(input), &ParseOptions::default()).unwrap();
            assert!(m.line_defect.unwrap().contains(want), "{want}");
        }
        assert_eq!(
            udp(b"INVITE sip:a@b SIP/2.0\r\n\r\n").unwrap().line_defect,
            None
        );
    }
}
