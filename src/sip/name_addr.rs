//! `name-addr` / `addr-spec` header values: From, To, Contact, Route,
//! Record-Route, Refer-To (RFC 3261 §20.10, §25.1).

use super::error::Reject;
use super::scan::{
    self, find_param, header_params, quoted_end, trim_range, valid_token_display, ParamAt,
};
use super::swar;
use super::uri::Uri;
use bytes::Bytes;
use std::ops::Range;

/// `[display-name] <uri> *(;param)` or `addr-spec *(;param)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// The display name as written: a quoted-string keeps its quotes, a
    /// token sequence is trimmed. `None` when absent or empty.
    pub display: Option<Bytes>,
    /// The URI inside `<>`, or the addr-spec.
    pub uri: Bytes,
    /// Header parameters after `>` or after the addr-spec, raw `;tag=x;...`.
    pub params: Bytes,
    /// Where the parse found `tag` in `params` (answers [`NameAddr::tag`]
    /// without scanning them again).
    tag: ParamAt,
}

fn bad() -> Reject {
    Reject::bad("Bad Request (name-addr)")
}

impl NameAddr {
    /// Parses one value (split lists with `Message::header_values`).
    ///
    /// Rejects what RFC 4475 calls malformed: an unterminated quoted display
    /// name (§3.1.2.6), LWS inside `<...>` or inside an addr-spec (§3.1.2.14),
    /// a non-token unquoted display name (§3.1.2.15), an addr-spec holding
    /// `?` or `,` that needed `<>` (RFC 3261 §20.10, RFC 4475 §3.1.2.13),
    /// and empty parameters (§3.1.2.1). `*` (Contact wildcard) is rejected.
    pub fn parse(value: &Bytes) -> Result<NameAddr, Reject> {
        Self::parse_in(value, 0..value.len())
    }

    /// [`NameAddr::parse`] of `data[v]`; the fields are slices of `data`.
    pub(crate) fn parse_in(data: &Bytes, v: Range<usize>) -> Result<NameAddr, Reject> {
        let b: &[u8] = data.get(v.clone()).ok_or_else(bad)?;
        let p = NameAddrAt::locate(b)?;
        let at = |x: Range<usize>| scan::sub(data, v.start + x.start..v.start + x.end);
        Ok(NameAddr {
            display: p.display.map(at),
            uri: at(p.uri),
            params: at(p.params),
            tag: p.tag,
        })
    }

    pub fn tag(&self) -> Option<Bytes> {
        self.tag.get(&self.params).flatten()
    }

    /// A header parameter (not a URI parameter) by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<Option<Bytes>> {
        find_param(&self.params, name)
    }

    pub fn uri(&self) -> Result<Uri, Reject> {
        Uri::parse(&self.uri)
    }

    /// The display name without quotes and with `\` quoted-pairs resolved.
    pub fn display_unquoted(&self) -> Option<Vec<u8>> {
        let d = self.display.as_ref()?;
        let inner = match (d.first(), d.last()) {
            (Some(b'"'), Some(b'"')) if d.len() >= 2 => d.get(1..d.len() - 1)?,
            _ => return Some(d.to_vec()),
        };
        let mut out = Vec::with_capacity(inner.len());
        let mut esc = false;
        for &c in inner {
            if esc || c != b'\\' {
                out.push(c);
                esc = false;
            } else {
                esc = true;
            }
        }
        Some(out)
    }
}

/// A checked name-addr value as offsets into it: what
/// [`NameAddr::parse_in`] makes its fields from, and what
/// [`super::Message::from_tag`] / [`super::Message::to_tag`] slice the tag
/// from.
pub(crate) struct NameAddrAt {
    pub(crate) display: Option<Range<usize>>,
    pub(crate) uri: Range<usize>,
    pub(crate) params: Range<usize>,
    /// Relative to `params`.
    pub(crate) tag: ParamAt,
}

impl NameAddrAt {
    /// Checks a value as [`NameAddr::parse`] does and says where its parts
    /// are, making no `Bytes`.
    #[inline(always)]
    pub(crate) fn locate(b: &[u8]) -> Result<NameAddrAt, Reject> {
        let r = trim_range(b, 0..b.len());
        let (s, e) = (r.start, r.end);
        if s == e {
            return Err(bad());
        }
        let (display, lt) = if b.get(s) == Some(&b'"') {
            let q = quoted_end(b, s).filter(|&q| q <= e).ok_or_else(bad)?;
            let lt = trim_range(b, q..e).start;
            if b.get(lt) != Some(&b'<') {
                return Err(bad());
            }
            (Some(s..q), Some(lt))
        } else {
            let stop = b
                .get(s..e)
                .unwrap_or_default()
                .iter()
                .position(|&c| matches!(c, b'<' | b';' | b'"'))
                .map(|p| p + s);
            match stop {
                Some(lt) if b.get(lt) == Some(&b'<') => {
                    let d = trim_range(b, s..lt);
                    if !b.get(d.clone()).is_some_and(valid_token_display) {
                        return Err(bad());
                    }
                    ((!d.is_empty()).then_some(d), Some(lt))
                }
                _ => (None, None),
            }
        };
        match lt {
            Some(lt) => {
                let inner = lt + 1;
                // The first `>`, with no SP, control or `<` before it and not
                // right after the `<` (an empty URI): the first octet of
                // those kinds must be that `>`.
                let gt = b
                    .get(..e)
                    .and_then(|x| swar::find(x, inner, swar::uri_stop, swar::is_uri_stop))
                    .filter(|&p| p > inner && b.get(p) == Some(&b'>'))
                    .ok_or_else(bad)?;
                let pr = trim_range(b, gt + 1..e);
                let tag =
                    header_params(b.get(pr.clone()).unwrap_or_default(), b"tag").ok_or_else(bad)?;
                Ok(NameAddrAt {
                    display,
                    uri: inner..gt,
                    params: pr,
                    tag,
                })
            }
            None => {
                let semi = b
                    .get(s..e)
                    .and_then(|x| memchr::memchr(b';', x))
                    .map_or(e, |p| p + s);
                let ur = trim_range(b, s..semi);
                let uri = b.get(ur.clone()).unwrap_or_default();
                let bad_char = |c: &u8| *c <= b' ' || matches!(c, b'?' | b',' | b'<' | b'>' | b'"');
                if uri.is_empty() || uri.iter().any(bad_char) || uri == b"*" {
                    return Err(bad());
                }
                let tag =
                    header_params(b.get(semi..e).unwrap_or_default(), b"tag").ok_or_else(bad)?;
                Ok(NameAddrAt {
                    display: None,
                    uri: ur,
                    params: semi..e,
                    tag,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn na(s: &'static str) -> Result<NameAddr, Reject> {
        NameAddr::parse(&Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn forms() {
        let a = na(r#""Bell, A." <sip:a.g.bell@example.com>;tag=43"#).unwrap();
        assert_eq!(a.display.as_deref(), Some(&br#""Bell, A.""#[..]));
        assert_eq!(a.display_unquoted().unwrap(), b"Bell, A.");
        assert_eq!(a.uri, "sip:a.g.bell@example.com");
        assert_eq!(a.tag().unwrap(), "43");
        let a = na("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display.as_deref(), Some(&b"caller"[..]));
        let a = na("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(a.display, None);
        assert_eq!(a.uri, "sip:vivekg@chair-dnrc.example.com");
        assert_eq!(a.tag().unwrap(), "1918181833n");
        let a =
            na(r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#).unwrap();
        assert_eq!(a.display_unquoted().unwrap(), br#"J Rosenberg \""#);
        assert_eq!(a.tag().unwrap(), "98asjd8");
        let a = na("<sip:x@y;lr>").unwrap();
        assert_eq!(a.uri, "sip:x@y;lr");
        assert_eq!(a.params, "");
        assert_eq!(a.uri().unwrap().param("lr"), Some(None));
        let a = na("sip:+1972@gw1.example.net;unknownparam").unwrap();
        assert_eq!(a.param("unknownparam"), Some(None));
        assert_eq!(a.uri().unwrap().param("unknownparam"), None);
        assert!(na("isbn:2983792873").is_ok());
        assert!(na("token1~` token2'+_ token3*%!.- <sip:m@example.com>;p=\"\u{442}\"").is_ok());
    }

    #[test]
    fn rejects() {
        assert!(na(r#""Mr. J. User <sip:j.user@example.com>"#).is_err());
        assert!(na("< sip:t.watson@example.org >").is_err());
        assert!(na("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(na("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(na(r#""Joe" <sip:joe@example.org>;;;;"#).is_err());
        assert!(na("<sip:a@b>, <sip:c@d>").is_err());
        assert!(na("<sip:a@b").is_err());
        assert!(na("*").is_err());
        assert!(na("").is_err());
        assert!(na("\"x\" sip:a@b").is_err());
        assert!(na("sip:a @b").is_err());
    }
}
