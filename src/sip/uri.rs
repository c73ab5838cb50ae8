//! URIs (RFC 3261 §19.1, RFC 3966 `tel:`, RFC 5118 IPv6 references).

use super::error::Reject;
use super::host::{parse_v4_prefix, Host};
use super::scan::{find_param, params, sub};
use bytes::Bytes;
use memchr::{memchr, memchr2};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other scheme, as written.
    Other(Bytes),
}

impl Scheme {
    /// The scheme `data[..end]`.
    fn parse(data: &Bytes, end: usize) -> Scheme {
        let b = data.get(..end).unwrap_or_default();
        if b.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if b.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if b.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other(sub(data, 0..end))
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::Sip => f.write_str("sip"),
            Scheme::Sips => f.write_str("sips"),
            Scheme::Tel => f.write_str("tel"),
            Scheme::Other(b) => f.write_str(&String::from_utf8_lossy(b)),
        }
    }
}

/// A parsed URI. For `tel:` the number is in `user` and `host` is an empty
/// name; for other schemes everything after `scheme:` is opaque and kept in
/// `host` as a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uri {
    pub scheme: Scheme,
    /// Raw, still %-escaped.
    pub user: Option<Bytes>,
    pub password: Option<Bytes>,
    pub host: Host,
    pub port: Option<u16>,
    /// Raw `;a=b;c`, may be empty.
    pub params: Bytes,
    /// Raw `?x=y`, may be empty.
    pub headers: Bytes,
}

/// Octets no URI may hold unescaped: white space, controls, non-ASCII and
/// `<>"` (RFC 3261 §25.1).
const FORBIDDEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c <= b' ' || c >= 0x7f || c == b'<' || c == b'>' || c == b'"';
        i += 1;
    }
    t
};

fn bad_uri() -> Reject {
    Reject::bad("Bad Request (malformed URI)")
}

impl Uri {
    /// Parses `sip:user:password@host:port;params?headers`, `sips:`, `tel:`
    /// or any other `scheme:opaque`. White space, control octets and
    /// `<>"` anywhere fail (RFC 3261 §25.1 allows none of them unescaped).
    pub fn parse(b: &Bytes) -> Result<Uri, Reject> {
        // One pass over the octets: the forbidden ones and the scheme's colon.
        // Indices into `b` from here on: only the parts kept become `Bytes`.
        let mut colon = None;
        for (i, &c) in b.iter().enumerate() {
            if FORBIDDEN[usize::from(c)] {
                return Err(bad_uri());
            }
            if c == b':' && colon.is_none() {
                colon = Some(i);
            }
        }
        let colon = colon.ok_or_else(bad_uri)?;
        let scheme_b = b.get(..colon).unwrap_or_default();
        let scheme_ok = scheme_b.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme_b
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(bad_uri());
        }
        let scheme = Scheme::parse(b, colon);
        let start = colon + 1;
        if start >= b.len() {
            return Err(bad_uri());
        }
        match scheme {
            Scheme::Sip | Scheme::Sips => parse_sip(scheme, b, start),
            Scheme::Tel => {
                let rest = b.get(start..).unwrap_or_default();
                let end = start + memchr(b';', rest).unwrap_or(rest.len());
                let number = b.get(start..end).unwrap_or_default();
                if number.is_empty() || memchr2(b'?', b'@', number).is_some() {
                    return Err(bad_uri());
                }
                Ok(Uri {
                    scheme,
                    user: Some(sub(b, start..end)),
                    password: None,
                    host: Host::Name(Bytes::new()),
                    port: None,
                    params: sub(b, end..b.len()),
                    headers: Bytes::new(),
                })
            }
            Scheme::Other(_) => Ok(Uri {
                scheme,
                user: None,
                password: None,
                host: Host::Name(sub(b, start..b.len())),
                port: None,
                params: Bytes::new(),
                headers: Bytes::new(),
            }),
        }
    }

    /// A URI parameter by case-insensitive name, matching `%HH`-escaped
    /// names too (RFC 3261 §19.1.4): `None` absent, `Some(None)` without
    /// value (`;lr`), `Some(Some(v))` raw value (still escaped).
    pub fn param(&self, name: &str) -> Option<Option<Bytes>> {
        if let Some(v) = find_param(&self.params, name) {
            return Some(v);
        }
        memchr(b'%', &self.params)?;
        params(&self.params)
            .find(|p| {
                self.params
                    .get(p.name.clone())
                    .is_some_and(|n| unescape(n).eq_ignore_ascii_case(name.as_bytes()))
            })
            .map(|p| p.value.map(|v| sub(&self.params, v)))
    }

    /// The user part with `%HH` escapes decoded once (RFC 3261 §19.1.2; not
    /// recursive, `%00` kept as a 0 octet, malformed escapes kept literally).
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_ref().map(|u| unescape(u))
    }
}

pub(crate) fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `sip:`/`sips:` with `b[start..]` the part after the scheme's colon.
fn parse_sip(scheme: Scheme, b: &Bytes, start: usize) -> Result<Uri, Reject> {
    let rest = b.get(start..).unwrap_or_default();
    let (user, password, hp_start) = match memchr(b'@', rest) {
        Some(at) => {
            let at = start + at;
            let userinfo = b.get(start..at).unwrap_or_default();
            let user_end = start + memchr(b':', userinfo).unwrap_or(userinfo.len());
            if user_end == start {
                return Err(bad_uri());
            }
            let password = (user_end < at).then(|| sub(b, user_end + 1..at));
            (Some(sub(b, start..user_end)), password, at + 1)
        }
        None => (None, None, start),
    };
    let tail = b.get(hp_start..).unwrap_or_default();
    // The host ends at the first `;` or `?`; the headers start at the first `?`.
    let hp_end = hp_start + memchr2(b';', b'?', tail).unwrap_or(tail.len());
    let q = match b.get(hp_end) {
        Some(b'?') => hp_end,
        _ => {
            let after = b.get(hp_end..).unwrap_or_default();
            hp_end + memchr(b'?', after).unwrap_or(after.len())
        }
    };
    let (host, port) = parse_hostport_in(b, hp_start..hp_end)?;
    Ok(Uri {
        scheme,
        user,
        password,
        host,
        port,
        params: sub(b, hp_end..q),
        headers: sub(b, q..b.len()),
    })
}

/// `host[:port]` with `[v6]` references. More than one colon outside
/// brackets is an unbracketed IPv6 address: RFC 5118 §4.2 says reject.
pub(crate) fn parse_hostport(hp: &Bytes) -> Result<(Host, Option<u16>), Reject> {
    parse_hostport_in(hp, 0..hp.len())
}

/// [`parse_hostport`] of `data[r]`; a host name is a slice of `data`.
pub(crate) fn parse_hostport_in(
    data: &Bytes,
    r: std::ops::Range<usize>,
) -> Result<(Host, Option<u16>), Reject> {
    let hp = data.get(r.clone()).ok_or_else(bad_uri)?;
    match v4_hostport(hp) {
        Some(v4) => Ok(v4),
        None => hostport_general(data, r),
    }
}

/// [`parse_hostport_in`] for any host: `[v6]`, name or IPv4.
fn hostport_general(
    data: &Bytes,
    r: std::ops::Range<usize>,
) -> Result<(Host, Option<u16>), Reject> {
    let hp = data.get(r.clone()).ok_or_else(bad_uri)?;
    let (host_end, port_at) = if hp.first() == Some(&b'[') {
        let close = memchr(b']', hp).ok_or_else(bad_uri)?;
        match hp.get(close + 1) {
            None => (close + 1, None),
            Some(b':') => (close + 1, Some(close + 2)),
            Some(_) => return Err(bad_uri()),
        }
    } else {
        // Host and port are short: a plain scan beats a SIMD call here.
        let colon = |b: &[u8]| b.iter().position(|&c| c == b':');
        match colon(hp) {
            None => (hp.len(), None),
            Some(c) if colon(hp.get(c + 1..).unwrap_or_default()).is_none() => (c, Some(c + 1)),
            Some(_) => return Err(Reject::bad("Bad Request (IPv6 address without [])")),
        }
    };
    let host = Host::parse_in(data, r.start..r.start + host_end).map_err(|_| bad_uri())?;
    let port = match port_at {
        None => None,
        Some(p) => Some(parse_port(hp.get(p..).unwrap_or_default()).ok_or_else(bad_uri)?),
    };
    Ok((host, port))
}

/// The usual sent-by and URI host, a dotted quad with or without a port,
/// in one pass: `Some` only when the general path of
/// [`parse_hostport_in`] would give the same (a lone colon, a valid
/// address and port); anything else is left to that path, errors included.
#[inline(always)]
fn v4_hostport(hp: &[u8]) -> Option<(Host, Option<u16>)> {
    let (a, n) = parse_v4_prefix(hp)?;
    match hp.get(n..)? {
        [] => Some((Host::V4(a), None)),
        [b':', port @ ..] => Some((Host::V4(a), Some(parse_port(port)?))),
        _ => None,
    }
}

pub(crate) fn parse_port(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 5 {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    u16::try_from(v).ok()
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lossy = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
        write!(f, "{}:", self.scheme)?;
        match self.scheme {
            Scheme::Sip | Scheme::Sips => {
                if let Some(u) = &self.user {
                    f.write_str(&lossy(u))?;
                    if let Some(p) = &self.password {
                        write!(f, ":{}", lossy(p))?;
                    }
                    f.write_str("@")?;
                }
                write!(f, "{}", self.host)?;
                if let Some(p) = self.port {
                    write!(f, ":{p}")?;
                }
            }
            Scheme::Tel => f.write_str(&self.user.as_ref().map(lossy).unwrap_or_default())?,
            Scheme::Other(_) => write!(f, "{}", self.host)?,
        }
        write!(f, "{}{}", lossy(&self.params), lossy(&self.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &'static str) -> Result<Uri, Reject> {
        Uri::parse(&Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn sip_uri_parts() {
        let u =
            uri("sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=x").unwrap();
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.user.clone().unwrap(), "alice");
        assert_eq!(u.password.clone().unwrap(), "secret");
        assert_eq!(
            u.host,
            Host::Name(Bytes::from_static(b"atlanta.example.com"))
        );
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.params, ";transport=tcp;lr");
        assert_eq!(u.headers, "?subject=x");
        assert_eq!(u.param("TRANSPORT").unwrap().unwrap(), "tcp");
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.param("maddr"), None);
        assert_eq!(
            u.to_string(),
            "sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=x"
        );
        let u = uri("SIP:192.0.2.4").unwrap();
        assert_eq!(
            (u.scheme.clone(), u.user.clone(), u.host.ip()),
            (Scheme::Sip, None, Some("192.0.2.4".parse().unwrap()))
        );
        assert_eq!(u.to_string(), "sip:192.0.2.4");
    }

    #[test]
    fn ipv6_references() {
        let u = uri("sip:user@[2001:db8::1]:5070;transport=udp").unwrap();
        assert_eq!(u.host, Host::V6("2001:db8::1".parse().unwrap()));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.to_string(), "sip:user@[2001:db8::1]:5070;transport=udp");
        let u = uri("sip:[2001:db8::10:5070]").unwrap();
        assert_eq!(
            (u.host, u.port),
            (Host::V6("2001:db8::10:5070".parse().unwrap()), None)
        );
        let u = uri("sip:[2001:db8:::192.0.2.1]").unwrap();
        assert_eq!(u.host, Host::V6("2001:db8::192.0.2.1".parse().unwrap()));
        let e = uri("sip:2001:db8::10").unwrap_err();
        assert!(e.reason.contains("IPv6"));
        assert!(uri("sip:[2001:db8::1").is_err());
        assert!(uri("sip:[2001:db8::1]x").is_err());
        assert!(uri("sip:[not-v6]").is_err());
    }

    #[test]
    fn tel_and_other_schemes() {
        let u = uri("tel:+1-415-555-0100;phone-context=example.com").unwrap();
        assert_eq!(u.scheme, Scheme::Tel);
        assert_eq!(u.user.clone().unwrap(), "+1-415-555-0100");
        assert_eq!(u.host, Host::Name(Bytes::new()));
        assert_eq!(u.param("phone-context").unwrap().unwrap(), "example.com");
        assert_eq!(
            u.to_string(),
            "tel:+1-415-555-0100;phone-context=example.com"
        );
        let u = uri("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme, Scheme::Other(Bytes::from_static(b"soap.beep")));
        assert_eq!(
            u.host,
            Host::Name(Bytes::from_static(b"//192.0.2.103:3002"))
        );
        assert_eq!(u.to_string(), "soap.beep://192.0.2.103:3002");
        assert!(uri("isbn:2983792873").is_ok());
    }

    #[test]
    fn escapes_unescaped_once() {
        let u = uri("sip:null-%00-null@example.com").unwrap();
        assert_eq!(u.user_unescaped().unwrap(), b"null-\0-null");
        let u = uri("sip:%2541@example.com").unwrap();
        assert_eq!(u.user_unescaped().unwrap(), b"%41");
        let u = uri("sip:a%zz%4@example.com").unwrap();
        assert_eq!(u.user_unescaped().unwrap(), b"a%zz%4");
        let u = uri("sip:x@h;n%61me=v").unwrap();
        assert_eq!(u.param("name").unwrap().unwrap(), "v");
    }

    /// The one-pass dotted-quad path answers only where the general path
    /// gives the same answer.
    #[test]
    fn v4_fast_path_agrees_with_the_general_path() {
        for s in [
            "192.0.2.1",
            "192.0.2.1:5060",
            "192.0.2.1:65535",
            "192.0.2.1:65536",
            "192.0.2.1:",
            "192.0.2.1:5060:1",
            "192.0.2.1:50a",
            "192.0.2.1:000005",
            "192.0.2.1:0",
            "192.0.2.256:5060",
            "192.0.2.01",
            "192.0.2:5060",
            "192.0.2.1.5",
            "192.0.2.1a",
            "192.0.2.1a:5060",
            "192.0.2.1.example.com",
            "1.2.3.4 :5060",
            "1.2.3.4;x",
            "10.10.10.-1",
            "",
            ":5060",
        ] {
            let b = Bytes::from(s);
            let general = hostport_general(&b, 0..b.len());
            match v4_hostport(&b) {
                Some(fast) => assert_eq!(general.ok(), Some(fast), "{s:?}"),
                None => assert!(
                    general
                        .as_ref()
                        .map_or(true, |(h, _)| !matches!(h, Host::V4(_))),
                    "{s:?} {general:?}"
                ),
            }
            assert_eq!(
                parse_hostport(&b).ok(),
                hostport_general(&b, 0..b.len()).ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "sip:",
            "sip",
            ":x",
            "1sip:a@b",
            "sip:a@b c",
            "sip:@host",
            "sip:a@",
            "sip:a@h:",
            "sip:a@h:70000",
            "sip:a@h:5x",
            "sip:a@-h",
            "sip:a@h.1",
            "sip:a@1.2.3",
            "sip:<a@b>",
            "sip:a@b\0",
            "tel:",
            "tel:12@x",
        ] {
            assert!(Uri::parse(&Bytes::from(bad)).is_err(), "{bad:?}");
        }
    }
}
