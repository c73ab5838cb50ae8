//! Lexical helpers shared by the typed views (RFC 3261 §25.1): token
//! characters, trimming, quoted strings, comma lists and `;name=value`
//! parameter lists. Everything works on byte offsets and never indexes out of
//! bounds.

use bytes::Bytes;
use std::ops::Range;

/// RFC 3261 §25.1 `token` characters.
pub(crate) fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// Linear white space as it can remain inside a header value.
pub(crate) fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

pub(crate) fn all_token(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|&c| is_token(c))
}

/// Offsets of `b[r]` without leading and trailing white space.
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

pub(crate) fn trim(b: &[u8]) -> &[u8] {
    let r = trim_range(b, 0..b.len());
    b.get(r).unwrap_or_default()
}

/// `b[r]` as a shared slice; an invalid range gives an empty `Bytes`.
pub(crate) fn sub(b: &Bytes, r: Range<usize>) -> Bytes {
    if r.start <= r.end && r.end <= b.len() {
        b.slice(r)
    } else {
        Bytes::new()
    }
}

/// Given `b[start] == '"'`, the offset just past the closing quote, honouring
/// `\` quoted-pairs (RFC 3261 §25.1). `None` when unterminated.
pub(crate) fn quoted_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start.checked_add(1)?;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i = i.checked_add(2)?,
            b'"' => return i.checked_add(1),
            _ => i += 1,
        }
    }
    None
}

/// Splits a header value on commas that are outside "quoted strings" and
/// `<...>`; segments are trimmed and empty ones dropped.
pub(crate) fn split_commas(b: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut i, mut seg) = (0usize, 0usize);
    let mut angle = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' if !angle => {
                i = quoted_end(b, i).unwrap_or(b.len());
                continue;
            }
            b'<' => angle = true,
            b'>' => angle = false,
            b',' if !angle => {
                push_trimmed(&mut out, b, seg..i);
                seg = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push_trimmed(&mut out, b, seg..b.len());
    out
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
        let mut i = pos;
        let mut eq = None;
        while let Some(&c) = b.get(i) {
            match c {
                b'"' => {
                    i = quoted_end(b, i).unwrap_or(b.len());
                    continue;
                }
                b'=' if eq.is_none() => eq = Some(i),
                b';' => break,
                _ => {}
            }
            i += 1;
        }
        pos = i + 1;
        let p = match eq {
            Some(e) => Param {
                name: trim_range(b, seg_start..e),
                value: Some(trim_range(b, e + 1..i)),
            },
            None => Param {
                name: trim_range(b, seg_start..i),
                value: None,
            },
        };
        Some(p)
    })
}

/// Looks up a parameter by case-insensitive name: `None` absent,
/// `Some(None)` present without value, `Some(Some(v))` with its raw value.
pub(crate) fn find_param(raw: &Bytes, name: &str) -> Option<Option<Bytes>> {
    params(raw)
        .find(|p| {
            raw.get(p.name.clone())
                .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        })
        .map(|p| p.value.map(|v| sub(raw, v)))
}

/// RFC 3261 §25.1 `generic-param` list check (`*( SEMI generic-param )`):
/// every name a token, every value a token, host (IPv4/IPv6, bracketed or
/// not) or quoted-string. Empty names (`;;`) fail.
pub(crate) fn valid_header_params(b: &[u8]) -> bool {
    let t = trim(b);
    if t.is_empty() {
        return true;
    }
    if t.first() != Some(&b';') {
        return false;
    }
    params(t).all(|p| {
        let name_ok = t.get(p.name.clone()).is_some_and(all_token);
        let value_ok = match p.value {
            None => true,
            Some(v) => t.get(v).is_some_and(valid_gen_value),
        };
        name_ok && value_ok
    })
}

fn valid_gen_value(v: &[u8]) -> bool {
    if v.first() == Some(&b'"') {
        return quoted_end(v, 0) == Some(v.len());
    }
    !v.is_empty()
        && v.iter()
            .all(|&c| is_token(c) || matches!(c, b'[' | b']' | b':'))
}

/// RFC 3261 §25.1 `display-name` without quotes: `*(token LWS)`.
pub(crate) fn valid_token_display(b: &[u8]) -> bool {
    b.iter().all(|&c| is_token(c) || is_ws(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<&str> {
        split_commas(s.as_bytes())
            .into_iter()
            .map(|r| &s[r])
            .collect()
    }

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        assert_eq!(split("a, b ,c"), vec!["a", "b", "c"]);
        assert_eq!(
            split(r#""Bell, A." <sip:a@b>;tag=1, <sip:x,y@z>"#),
            vec![r#""Bell, A." <sip:a@b>;tag=1"#, "<sip:x,y@z>"]
        );
        assert_eq!(
            split(r#""a \", b" <sip:a>, c"#),
            vec![r#""a \", b" <sip:a>"#, "c"]
        );
        assert_eq!(split(";;,;,,"), vec![";;", ";"]);
        assert_eq!(split(r#""unterminated, x"#), vec![r#""unterminated, x"#]);
        assert!(split(" , ,").is_empty());
    }

    #[test]
    fn params_lookup() {
        let raw = Bytes::from_static(b" ;  tag  = 98asjd8 ; lr;x=\"a;b\";Q=0.3");
        assert_eq!(
            find_param(&raw, "tag"),
            Some(Some(Bytes::from_static(b"98asjd8")))
        );
        assert_eq!(find_param(&raw, "LR"), Some(None));
        assert_eq!(
            find_param(&raw, "x"),
            Some(Some(Bytes::from_static(b"\"a;b\"")))
        );
        assert_eq!(
            find_param(&raw, "q"),
            Some(Some(Bytes::from_static(b"0.3")))
        );
        assert_eq!(find_param(&raw, "b\""), None);
        assert_eq!(find_param(&Bytes::new(), "tag"), None);
    }

    #[test]
    fn header_param_validation() {
        assert!(valid_header_params(b""));
        assert!(valid_header_params(b";tag=1;lr;received=[2001:db8::1]"));
        assert!(valid_header_params(b";received=2001:db8::9:255"));
        assert!(valid_header_params(
            b" ; newparam = newvalue ; secondparam ; q = 0.33"
        ));
        assert!(valid_header_params(b";p=\"quoted ; value\""));
        assert!(!valid_header_params(b";;"));
        assert!(!valid_header_params(b";;;;"));
        assert!(!valid_header_params(b";a="));
        assert!(!valid_header_params(b";a=b c"));
        assert!(!valid_header_params(b"a=b"));
        assert!(!valid_header_params(b";a=\"open"));
    }

    #[test]
    fn quoted_and_trim() {
        assert_eq!(quoted_end(b"\"ab\\\"c\" x", 0), Some(7));
        assert_eq!(quoted_end(b"\"ab\\", 0), None);
        assert_eq!(trim(b" \t a b \r\n"), b"a b");
        assert_eq!(trim(b"   "), b"");
        assert_eq!(sub(&Bytes::from_static(b"abc"), 2..9), Bytes::new());
    }
}
