//! Hosts in URIs and Via (RFC 3261 §25.1 `host`, RFC 5118 IPv6 references).

use super::error::Reject;
use bytes::Bytes;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A host: a name, or an IP address (IPv6 given as an RFC 3261 `IPv6reference`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(Bytes),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host {
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Name(_) => None,
            Host::V4(a) => Some(IpAddr::V4(*a)),
            Host::V6(a) => Some(IpAddr::V6(*a)),
        }
    }

    /// Parses the host without port in `data[r]`: `[v6]`, dotted IPv4 or a
    /// host name (a slice of `data`).
    pub(crate) fn parse_in(data: &Bytes, r: std::ops::Range<usize>) -> Result<Host, Reject> {
        let bad = || Reject::bad("Bad Request (host)");
        let b = data.get(r.clone()).ok_or_else(bad)?;
        if b.first() == Some(&b'[') {
            let inner = b.get(1..b.len().saturating_sub(1)).ok_or_else(bad)?;
            if b.last() != Some(&b']') {
                return Err(bad());
            }
            return parse_v6(inner).map(Host::V6).ok_or_else(bad);
        }
        if b.first().is_some_and(u8::is_ascii_digit) {
            if let Some(a) = parse_v4(b) {
                return Ok(Host::V4(a));
            }
            if b.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
                return Err(bad());
            }
        }
        if !valid_hostname(b) {
            return Err(bad());
        }
        Ok(Host::Name(super::scan::sub(data, r)))
    }
}

/// Dotted-quad IPv4 with the rules of `std`'s `Ipv4Addr::from_str`: four
/// decimal octets of one to three digits, none above 255, no leading zero.
pub(crate) fn parse_v4(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    parse_v4_prefix(b)
        .filter(|&(_, n)| n == b.len())
        .map(|(a, _)| a)
}

/// [`parse_v4`] of the longest prefix of `b` made of digits and dots: the
/// address and that prefix's length (`b[len]`, if any, is neither). `None`
/// when the prefix is not a dotted quad.
#[inline(always)]
pub(crate) fn parse_v4_prefix(b: &[u8]) -> Option<(std::net::Ipv4Addr, usize)> {
    let digit = |j: usize| {
        b.get(j)
            .filter(|c| c.is_ascii_digit())
            .map(|&c| u16::from(c - b'0'))
    };
    let mut octets = [0u8; 4];
    let mut i = 0usize;
    for (k, o) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        // One to three digits; a leading 0 is the whole octet.
        let mut v = digit(i)?;
        i += 1;
        if v != 0 {
            if let Some(d) = digit(i) {
                v = v * 10 + d;
                i += 1;
                if let Some(d) = digit(i) {
                    v = v * 10 + d;
                    i += 1;
                }
            }
        }
        *o = u8::try_from(v).ok()?;
    }
    // A digit or dot right after the fourth octet: a fourth digit, a digit
    // after a leading zero, or a fifth part.
    match b.get(i) {
        Some(&c) if c.is_ascii_digit() || c == b'.' => None,
        _ => Some((std::net::Ipv4Addr::from(octets), i)),
    }
}

/// RFC 3261 §25.1 `hostname`: dot-separated labels of alphanumerics with
/// inner `-` (and, leniently, `_`), a top label starting with a letter, an
/// optional final dot.
fn valid_hostname(b: &[u8]) -> bool {
    let b = b.strip_suffix(b".").unwrap_or(b);
    let label_ok = |l: &[u8]| {
        l.first().is_some_and(u8::is_ascii_alphanumeric)
            && l.last().is_some_and(u8::is_ascii_alphanumeric)
            && l.iter()
                .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    };
    let top_ok = b
        .rsplit(|&c| c == b'.')
        .next()
        .and_then(|l| l.first())
        .is_some_and(u8::is_ascii_alphabetic);
    top_ok && b.split(|&c| c == b'.').all(label_ok)
}

/// An IPv6 address. RFC 5118 §4.10: a stray third colon
/// (`2001:db8:::192.0.2.1`) is tolerated by ignoring it.
pub(crate) fn parse_v6(b: &[u8]) -> Option<Ipv6Addr> {
    let s = std::str::from_utf8(b).ok()?;
    s.parse().ok().or_else(|| {
        if s.contains(":::") {
            s.replacen(":::", "::", 1).parse().ok()
        } else {
            None
        }
    })
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(&String::from_utf8_lossy(n)),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written dotted quad agrees with `std` on valid and invalid input.
    #[test]
    fn v4_like_std() {
        for s in [
            "192.0.2.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "1.2.3.",
            ".1.2.3",
            "1.2.3.0004",
            "1.2.3.00",
            "1.2.3.0",
            "999.1.1.1",
            "",
            "1.2.3.4a",
            "10.10.10.-1",
            "1.2.3.255",
            "1.2.3.260",
            "0.0.0.00",
            "00.0.0.0",
            "1.2.3.4.",
            "1.2.3.4:",
            "255.255.255.2555",
            "1.2..3",
            "1.2.3. 4",
        ] {
            assert_eq!(parse_v4(s.as_bytes()), s.parse().ok(), "{s:?}");
        }
    }
}
