//! [`Message::parse`]: start line, header index and Content-Length framing
//! (RFC 3261 §7, §18.3). One pass with `memchr` over the header lines: each
//! line is checked (`name SWS ":"`), its name resolved to an id and its value
//! recorded as u32 offsets; Content-Length is read as its line completes.

use super::error::ParseError;
use super::header_name::HeaderName;
use super::message::{FramingDefect, Message, ParseOptions, Slot};
use super::start_line::parse_start_line;

use super::scan::{is_token, sub, trim_range};

/// The id of Content-Length (see [`HeaderName::id_of`]).
const CONTENT_LENGTH: u8 = 7;
use bytes::{BufMut, Bytes, BytesMut};
use memchr::memchr;
use std::ops::Range;

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
        // Offsets into the message are kept as u32.
        if data.len() > opts.max_size || u32::try_from(data.len()).is_err() {
            return Err(ParseError::TooLarge {
                size: data.len(),
                max: opts.max_size.min(u32::MAX as usize),
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

        // Offsets are kept as u32 relative to the message start.
        let rel = |i: usize| u32::try_from(i - msg_start).unwrap_or(u32::MAX);
        let mut slots: Vec<Slot> = Vec::with_capacity(16);
        let mut framing = Framing::default();
        let mut folded = false;
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
                // A continuation line: the value grows to its end.
                let s = slots
                    .last_mut()
                    .ok_or(ParseError::BadHeaderLine { line: line_no })?;
                s.end = rel(line.end);
                s.unfolded = true;
                folded = true;
            } else {
                if let Some(s) = slots.last() {
                    finish(b, msg_start, s, &mut framing);
                }
                slots.push(header_line(b, line, line_no, msg_start)?);
            }
            pos = next;
        };
        if let Some(s) = slots.last() {
            finish(b, msg_start, s, &mut framing);
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
        let raw = sub(&data, msg_start..body_end);
        let unfolded = if folded {
            unfold_slots(&raw, &mut slots)
        } else {
            Bytes::new()
        };
        Ok(Message {
            raw,
            start,
            slots,
            unfolded,
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
/// Offsets in the slot are relative to `base`, the message start.
#[inline]
fn header_line(
    b: &[u8],
    line: Range<usize>,
    line_no: usize,
    base: usize,
) -> Result<Slot, ParseError> {
    let l = b.get(line.clone()).unwrap_or_default();
    let mut i = 0usize;
    while l.get(i).copied().is_some_and(is_token) {
        i += 1;
    }
    let name_end = i;
    while matches!(l.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if name_end == 0 || l.get(i) != Some(&b':') {
        return Err(ParseError::BadHeaderLine { line: line_no });
    }
    let value = trim_range(l, i + 1..l.len());
    let at = |o: usize| u32::try_from(line.start + o - base).unwrap_or(u32::MAX);
    Ok(Slot {
        id: HeaderName::id_of(l.get(..name_end).unwrap_or_default()),
        unfolded: false,
        name_start: at(0),
        name_end: at(name_end),
        start: at(value.start),
        end: at(value.end),
    })
}

/// A header line is complete: Content-Length is read from its raw value
/// (a folded one included, which is then invalid).
#[inline]
fn finish(b: &[u8], base: usize, s: &Slot, framing: &mut Framing) {
    if s.id == CONTENT_LENGTH {
        let r = base + s.start as usize..base + s.end as usize;
        framing.see(b.get(r).unwrap_or_default());
    }
}

/// Moves the values of folded slots (still offsets into `raw`, up to the
/// last continuation line's end) into one buffer, unfolded; their offsets
/// then point into it.
fn unfold_slots(raw: &Bytes, slots: &mut [Slot]) -> Bytes {
    let mut out = BytesMut::new();
    for s in slots.iter_mut().filter(|s| s.unfolded) {
        let start = out.len();
        unfold_into(raw.get(s.value_range()).unwrap_or_default(), &mut out);
        s.start = u32::try_from(start).unwrap_or(u32::MAX);
        s.end = u32::try_from(out.len()).unwrap_or(u32::MAX);
    }
    out.freeze()
}

/// RFC 3261 §7.3.1: each continuation line's leading white space and the
/// preceding line end become one SP.
fn unfold_into(region: &[u8], out: &mut BytesMut) {
    let start = out.len();
    for piece in region.split(|&c| c == b'\n') {
        let r = trim_range(piece, 0..piece.len());
        let Some(t) = piece.get(r) else { continue };
        if t.is_empty() {
            continue;
        }
        if out.len() > start {
            out.put_u8(b' ');
        }
        out.put_slice(t);
    }
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
        let m =
            Message::parse(Bytes::from_static(b"BYE sip:a@b SIP/2.0\r\n\r\n"), &stream).unwrap();
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
}
