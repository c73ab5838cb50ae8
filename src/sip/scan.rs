//! Lexical helpers shared by the typed views (RFC 3261 §25.1): token
//! characters, trimming, quoted strings, comma lists and `;name=value`
//! parameter lists. Everything works on byte offsets and never indexes out of
//! bounds.

use super::header_name::eq_fold;
use super::swar;
use bytes::Bytes;
use std::ops::Range;

/// RFC 3261 §25.1 `token` characters, as a lookup table.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

#[inline]
pub(crate) fn is_token(c: u8) -> bool {
    TOKEN[usize::from(c)]
}

/// Linear white space as it can remain inside a header value.
#[inline]
pub(crate) fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

#[inline]
pub(crate) fn all_token(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|&c| is_token(c))
}

/// The first offset at or after `i` whose octet fails `keep` (or `b.len()`).
#[inline]
pub(crate) fn skip(b: &[u8], i: usize, keep: impl Fn(u8) -> bool) -> usize {
    match b.get(i..) {
        Some(r) => i + r.iter().position(|&c| !keep(c)).unwrap_or(r.len()),
        None => i,
    }
}

/// [`skip`] of white space, with one test for the usual case of none.
#[inline(always)]
fn skip_ws(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(&c) if is_ws(c) => skip(b, i + 1, is_ws),
        _ => i,
    }
}

/// The first offset at or after `i` whose octet is not in `class` (or
/// `b.len()`), eight octets per step while all eight are: one bounds check
/// and one branch per step rather than per octet, for the long runs
/// (branch ids, tags) of a parameter list.
#[inline]
fn skip_class(b: &[u8], mut i: usize, class: &[bool; 256]) -> usize {
    let c = |x: u8| class[usize::from(x)];
    while let Some(&[o0, o1, o2, o3, o4, o5, o6, o7]) = b.get(i..i.wrapping_add(8)) {
        if !(c(o0) & c(o1) & c(o2) & c(o3) & c(o4) & c(o5) & c(o6) & c(o7)) {
            break;
        }
        i += 8;
    }
    skip(b, i, c)
}

/// `gen-value` octets outside quoted strings: token, and host characters
/// for IPv6 (`[`, `]`, `:`), as a lookup table.
static GEN_VALUE: [bool; 256] = {
    let mut t = TOKEN;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t[b':' as usize] = true;
    t
};

/// The end of the `;`-separated segment starting at `i`: the next `;`
/// outside a quoted string, or `b.len()`.
fn segment_end(b: &[u8], mut i: usize) -> usize {
    loop {
        let Some(n) = swar::find(b, i, swar::semi_or_quote, |c| c == b';' || c == b'"') else {
            return b.len();
        };
        i = n;
        if b.get(i) == Some(&b';') {
            return i;
        }
        match quoted_end(b, i) {
            Some(e) => i = e,
            None => return b.len(),
        }
    }
}

/// Offsets of `b[r]` without leading and trailing white space.
#[inline(always)]
pub(crate) fn trim_range(b: &[u8], r: Range<usize>) -> Range<usize> {
    let (mut s, mut e) = (r.start, r.end.min(b.len()));
    while s < e && b.get(s).is_some_and(|&c| is_ws(c)) {
        s += 1;
    }
    while e > s && b.get(e - 1).is_some_and(|&c| is_ws(c)) {
        e -= 1;
    }
    s..e
}

/// `b[r]` as a shared slice; an invalid range gives an empty `Bytes`.
#[inline]
pub(crate) fn sub(b: &Bytes, r: Range<usize>) -> Bytes {
    if r.start <= r.end && r.end <= b.len() {
        b.slice(r)
    } else {
        Bytes::new()
    }
}

/// [`sub`], but a static `Bytes` when `b[r]` is `common` exactly: the same
/// octets without a reference count to bump and drop.
#[inline(always)]
pub(crate) fn sub_or_static(b: &Bytes, r: Range<usize>, common: &'static [u8]) -> Bytes {
    if b.get(r.clone()) == Some(common) {
        Bytes::from_static(common)
    } else {
        sub(b, r)
    }
}

/// Given `b[start] == '"'`, the offset just past the closing quote, honouring
/// `\` quoted-pairs (RFC 3261 §25.1). `None` when unterminated.
pub(crate) fn quoted_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start.checked_add(1)?;
    loop {
        i = swar::find(b, i, swar::quote_or_backslash, |c| c == b'"' || c == b'\\')?;
        match b.get(i) {
            Some(b'\\') => i = i.checked_add(2)?,
            _ => return i.checked_add(1),
        }
    }
}

/// Splits a header value on commas that are outside "quoted strings" and
/// `<...>`; segments are trimmed and empty ones dropped.
pub(crate) fn split_commas(b: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut seg = 0usize;
    while let Some(end) = next_comma(b, seg) {
        push_trimmed(&mut out, b, seg..end);
        seg = end + 1;
    }
    push_trimmed(&mut out, b, seg..b.len());
    out
}

/// The offset of the next top-level comma at or after `from`, jumping with
/// `memchr3` between the octets that matter.
fn next_comma(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    let mut angle = false;
    loop {
        let rest = b.get(i..)?;
        let n = if angle {
            memchr::memchr(b'>', rest)?
        } else {
            memchr::memchr3(b',', b'"', b'<', rest)?
        };
        i += n;
        match b.get(i) {
            Some(b',') => return Some(i),
            Some(b'"') => i = quoted_end(b, i)?,
            Some(b'<') => {
                angle = true;
                i += 1;
            }
            _ => {
                angle = false;
                i += 1;
            }
        }
    }
}

fn push_trimmed(out: &mut Vec<Range<usize>>, b: &[u8], r: Range<usize>) {
    let r = trim_range(b, r);
    if !r.is_empty() {
        out.push(r);
    }
}

/// One `name[=value]` of a parameter list, as trimmed offsets into the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub name: Range<usize>,
    pub value: Option<Range<usize>>,
}

/// Iterates `;a=b ; c;d="x;y"` (leading `;` optional); `;` inside a quoted
/// value does not split.
pub(crate) fn params(b: &[u8]) -> impl Iterator<Item = Param> + '_ {
    let mut pos = 0usize;
    let start = trim_range(b, 0..b.len()).start;
    if b.get(start) == Some(&b';') {
        pos = start + 1;
    }
    std::iter::from_fn(move || {
        if pos > b.len() {
            return None;
        }
        let seg_start = pos;
        let end = segment_end(b, pos);
        pos = end + 1;
        let seg = b.get(seg_start..end).unwrap_or_default();
        let eq = seg
            .iter()
            .position(|&c| c == b'=' || c == b'"')
            .filter(|&e| seg.get(e) == Some(&b'='))
            .map(|e| seg_start + e);
        Some(match eq {
            Some(e) => Param {
                name: trim_range(b, seg_start..e),
                value: Some(trim_range(b, e + 1..end)),
            },
            None => Param {
                name: trim_range(b, seg_start..end),
                value: None,
            },
        })
    })
}

/// The first comma-separated element of a header value (see
/// [`split_commas`]), without allocating.
pub(crate) fn first_comma_element(b: &[u8]) -> Option<Range<usize>> {
    let mut seg = 0usize;
    while let Some(end) = next_comma(b, seg) {
        let r = trim_range(b, seg..end);
        if !r.is_empty() {
            return Some(r);
        }
        seg = end + 1;
    }
    Some(trim_range(b, seg..b.len())).filter(|r| !r.is_empty())
}

/// Looks up a parameter by case-insensitive name: `None` absent,
/// `Some(None)` present without value, `Some(Some(v))` with its raw value.
/// The same segments as [`params`], without building each one.
pub(crate) fn find_param(raw: &Bytes, name: &str) -> Option<Option<Bytes>> {
    let b: &[u8] = raw;
    let want = name.as_bytes();
    if all_token(want) {
        return find_token_param(raw, want);
    }
    let start = trim_range(b, 0..b.len()).start;
    let mut pos = if b.get(start) == Some(&b';') {
        start + 1
    } else {
        0
    };
    while pos <= b.len() {
        let end = segment_end(b, pos);
        let seg = b.get(pos..end).unwrap_or_default();
        let eq = seg
            .iter()
            .position(|&c| c == b'=' || c == b'"')
            .filter(|&e| seg.get(e) == Some(&b'='))
            .map(|e| pos + e);
        let n = trim_range(b, pos..eq.unwrap_or(end));
        if b.get(n).is_some_and(|n| n.eq_ignore_ascii_case(want)) {
            return Some(eq.map(|e| sub(raw, trim_range(b, e + 1..end))));
        }
        pos = end + 1;
    }
    None
}

/// [`find_param`] for a token `want` (every name asked for in practice).
/// A segment carries it when, after white space, it starts with `want`
/// followed by white space and then `=`, `;` or the end: a token holds no
/// `=`, `"`, `;` or white space, so that is the general rule's match. Only
/// the segments that do not carry it are scanned to their end.
fn find_token_param(raw: &Bytes, want: &[u8]) -> Option<Option<Bytes>> {
    let b: &[u8] = raw;
    let start = skip(b, 0, is_ws);
    let mut pos = if b.get(start) == Some(&b';') {
        start + 1
    } else {
        0
    };
    while pos <= b.len() {
        let s = skip(b, pos, is_ws);
        let t = s + want.len();
        if b.get(s..t).is_some_and(|n| n.eq_ignore_ascii_case(want)) {
            let t = skip(b, t, is_ws);
            match b.get(t) {
                None | Some(b';') => return Some(None),
                Some(b'=') => {
                    let end = segment_end(b, t + 1);
                    return Some(Some(sub(raw, trim_range(b, t + 1..end))));
                }
                Some(_) => {}
            }
        }
        pos = segment_end(b, s) + 1;
    }
    None
}

/// Where [`header_params`] found the parameter it was asked for, as offsets
/// into the list it checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ParamAt {
    Absent,
    /// Present without `=value`.
    Bare,
    /// `name=value`: the value's offsets (a quoted string keeps its quotes).
    Value(usize, usize),
}

impl ParamAt {
    /// The value as [`find_param`] gives it: a slice of `list`, the bytes
    /// [`header_params`] checked.
    pub(crate) fn get(self, list: &Bytes) -> Option<Option<Bytes>> {
        match self {
            ParamAt::Absent => None,
            ParamAt::Bare => Some(None),
            ParamAt::Value(s, e) => Some(Some(sub(list, s..e))),
        }
    }

    /// The value as a slice of `data`, for a list that starts at `base`
    /// there (`None` also when present without a value, as the views'
    /// `tag()` and `branch()` answer).
    #[inline]
    pub(crate) fn value_in(self, data: &Bytes, base: usize) -> Option<Bytes> {
        match self {
            ParamAt::Value(s, e) => Some(sub(data, base + s..base + e)),
            ParamAt::Absent | ParamAt::Bare => None,
        }
    }
}

/// RFC 3261 §25.1 `generic-param` list check (`*( SEMI generic-param )`):
/// every name a token, every value a token, host (IPv4/IPv6, bracketed or
/// not) or quoted-string; empty names (`;;`) fail, and then this is `None`.
/// On the way it finds the first parameter named `want` (lowercase letters,
/// digits and `-`, compared case-insensitively; `b""` finds none): on a
/// valid list that is where [`find_param`] finds it, so a view can answer
/// `tag` or `branch` without scanning its parameters again.
pub(crate) fn header_params(b: &[u8], want: &[u8]) -> Option<ParamAt> {
    debug_assert!(want
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-'));
    let mut found = ParamAt::Absent;
    let mut i = skip_ws(b, 0);
    while i < b.len() {
        if b.get(i) != Some(&b';') {
            return None;
        }
        let name = skip_ws(b, i + 1);
        i = skip(b, name, is_token);
        if i == name {
            return None;
        }
        let wanted = found == ParamAt::Absent && b.get(name..i).is_some_and(|n| eq_fold(n, want));
        i = skip_ws(b, i);
        if b.get(i) == Some(&b'=') {
            let value = skip_ws(b, i + 1);
            i = if b.get(value) == Some(&b'"') {
                quoted_end(b, value)?
            } else {
                skip_class(b, value, &GEN_VALUE)
            };
            if i == value {
                return None;
            }
            if wanted {
                found = ParamAt::Value(value, i);
            }
            i = skip_ws(b, i);
        } else if wanted {
            found = ParamAt::Bare;
        }
    }
    Some(found)
}

/// RFC 3261 §25.1 `display-name` without quotes: `*(token LWS)`.
pub(crate) fn valid_token_display(b: &[u8]) -> bool {
    b.iter().all(|&c| is_token(c) || is_ws(c))
}

#[cfg(test)]
mod tests;
