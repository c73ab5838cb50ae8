//! [`Message::parse`]: start line, header index and Content-Length framing
//! (RFC 3261 §7, §18.3). One pass with `memchr` (SSE2) over the header
//! lines: each line is checked (`name SWS ":"`), its name resolved to an id
//! and its value recorded as u32 offsets; Content-Length is read as its line
//! completes.

use super::error::ParseError;
use super::header_name::{HeaderName, ID_OTHER};
use super::message::{FramingDefect, Message, ParseOptions, Slot};
use super::start_line::parse_start_line;

use super::scan::{all_token, sub, trim_range};
use super::swar;

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
        let ends = LineEnds::new();
        let (line, next) = next_line(&ends, b, pos).ok_or(ParseError::NoHeaderEnd)?;
        let (start, line_defect) = parse_start_line(&data, line)?;
        pos = next;

        // Offsets are kept as u32 relative to the message start.
        // (the input is at most `u32::MAX` octets, checked above).
        let rel = |i: usize| (i - msg_start) as u32;
        let mut slots: Vec<Slot> = Vec::with_capacity(16);
        let mut framing = Framing::default();
        let mut folded = false;
        let mut line_no = 1usize;
        let body_start = loop {
            let Some((line, next)) = next_line(&ends, b, pos) else {
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
        let body = sub(&data, body_start..body_end);
        // The usual datagram is exactly the message: keep its `Bytes`
        // rather than bump the reference count for a slice of it all.
        let raw = if msg_start == 0 && body_end == data.len() {
            data
        } else {
            sub(&data, msg_start..body_end)
        };
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
            body,
            framing: framing.defect,
            line_defect,
        })
    }
}

/// Finds the LF that ends a line. On x86_64 it is `memchr`'s SSE2 searcher
/// (SSE2 is part of x86_64), built once per message and called directly:
/// on lines of tens of octets the run-time dispatch of `memchr::memchr`
/// (and its AVX2 set-up) on every call costs more than the search itself.
struct LineEnds {
    #[cfg(target_arch = "x86_64")]
    sse2: Option<memchr::arch::x86_64::sse2::memchr::One>,
}

impl LineEnds {
    #[inline]
    fn new() -> LineEnds {
        LineEnds {
            #[cfg(target_arch = "x86_64")]
            sse2: memchr::arch::x86_64::sse2::memchr::One::new(b'\n'),
        }
    }

    #[inline]
    fn find(&self, h: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.sse2 {
            return one.find(h);
        }
        memchr(b'\n', h)
    }
}

/// The line starting at `pos` without its CR LF, and the offset after it.
fn next_line(lf: &LineEnds, b: &[u8], pos: usize) -> Option<(Range<usize>, usize)> {
    let n = lf.find(b.get(pos..)?)?;
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
///
/// No token octet is a colon, so the name is what precedes the first colon,
/// less trailing SP / HT. A name that resolves to a known id spells a known
/// name (letters and `-`), so only `Other` names are checked octet by octet.
#[inline]
fn header_line(
    b: &[u8],
    line: Range<usize>,
    line_no: usize,
    base: usize,
) -> Result<Slot, ParseError> {
    let bad = ParseError::BadHeaderLine { line: line_no };
    let l = b.get(line.clone()).unwrap_or_default();
    let Some(colon) = swar::find(l, 0, swar::colon, |c| c == b':') else {
        return Err(bad);
    };
    let mut name_end = colon;
    while name_end > 0 && matches!(l.get(name_end - 1), Some(b' ' | b'\t')) {
        name_end -= 1;
    }
    let name = l.get(..name_end).unwrap_or_default();
    let id = HeaderName::id_of(name);
    if name.is_empty() || (id == ID_OTHER && !all_token(name)) {
        return Err(bad);
    }
    let value = trim_range(l, colon + 1..l.len());
    // `Message::parse` refused input longer than `u32::MAX` octets.
    let at = |o: usize| (line.start + o - base) as u32;
    Ok(Slot {
        id,
        unfolded: false,
        name_start: at(0),
        name_end: at(name_end),
        start: at(value.start),
        end: at(value.end),
    })
}

/// A header line is complete: Content-Length is read from its raw value
/// (a folded one included, which is then invalid).
#[inline(always)]
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
mod tests;
