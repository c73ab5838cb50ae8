//! Parsing a destination: `host[:port]` (a trunk's `inbound.destination`) or a
//! `sip:` URI (a failover `sip_uri`), into a [`Destination`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{normalize_name, Destination, Host, Proto, ResolveError};

/// Parses `"pbx.example.com"`, `"pbx.example.com:5070"`, `"192.0.2.10[:5070]"`,
/// `"[2001:db8::1][:5060]"` or a SIP URI (`"sip:+1415@pbx.example.com;transport=tcp"`).
///
/// RFC 3263 §4: from a URI only the host, port, `transport` and `maddr`
/// parameters matter; `maddr`, when present, replaces the host. `sips:` and
/// `;transport=tls` mean TLS; SCTP/WebSocket transports are [`ResolveError::Unsupported`].
pub fn parse_destination(s: &str) -> Result<Destination, ResolveError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(bad(s, "empty"));
    }
    if starts_with_ci(input, "sips:") {
        // RFC 3261 §26.2.2: sips: is TLS whatever the transport parameter says.
        let mut d = parse_uri(&input[5..], s)?;
        d.proto = Some(Proto::Tls);
        return Ok(d);
    }
    if starts_with_ci(input, "sip:") {
        // The prefix is ASCII, so byte 4 is a char boundary.
        return parse_uri(&input[4..], s);
    }
    let (host, port) = parse_hostport(input, s)?;
    Ok(Destination {
        host,
        port,
        proto: None,
    })
}

/// RFC 3261 §19.1.1: `sip:[userinfo@]hostport[;params][?headers]`. No `@` is
/// legal unescaped after the userinfo, so the last `@` ends it.
fn parse_uri(rest: &str, orig: &str) -> Result<Destination, ResolveError> {
    let after_user = match rest.rfind('@') {
        Some(i) => &rest[i + 1..],
        None => rest,
    };
    let without_headers = after_user.split('?').next().unwrap_or_default();
    let mut parts = without_headers.split(';');
    let hostport = parts.next().unwrap_or_default();
    let (mut host, port) = parse_hostport(hostport, orig)?;
    let mut proto = None;
    for param in parts {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        if name.eq_ignore_ascii_case("transport") {
            proto = Some(parse_transport(value, orig)?);
        } else if name.eq_ignore_ascii_case("maddr") {
            host = parse_host(value, orig)?;
        }
    }
    Ok(Destination { host, port, proto })
}

fn parse_transport(value: &str, orig: &str) -> Result<Proto, ResolveError> {
    match value.to_ascii_lowercase().as_str() {
        "udp" => Ok(Proto::Udp),
        "tcp" => Ok(Proto::Tcp),
        "tls" => Ok(Proto::Tls),
        "sctp" | "tls-sctp" | "ws" | "wss" => Err(ResolveError::Unsupported {
            input: orig.to_string(),
            what: "transport other than UDP/TCP/TLS",
        }),
        _ => Err(bad(orig, "unknown transport")),
    }
}

/// `host[:port]` where host is a name, an IPv4 address, `[IPv6]`, or a bare
/// IPv6 address (no port then).
fn parse_hostport(hp: &str, orig: &str) -> Result<(Host, Option<u16>), ResolveError> {
    if hp.is_empty() {
        return Err(bad(orig, "empty host"));
    }
    if let Some(inner) = hp.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or_else(|| bad(orig, "unclosed '['"))?;
        let ip: Ipv6Addr = v6.parse().map_err(|_| bad(orig, "bad IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(parse_port(p, orig)?),
                None => return Err(bad(orig, "junk after ']'")),
            },
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    if let Ok(ip) = hp.parse::<Ipv6Addr>() {
        return Ok((Host::Ip(IpAddr::V6(ip)), None));
    }
    match hp.rsplit_once(':') {
        Some((h, p)) => Ok((parse_host(h, orig)?, Some(parse_port(p, orig)?))),
        None => Ok((parse_host(hp, orig)?, None)),
    }
}

/// An IPv4 address or an RFC 3261 §25.1 `hostname` (labels of letters, digits
/// and inner hyphens; the top label starts with a letter).
fn parse_host(h: &str, orig: &str) -> Result<Host, ResolveError> {
    if let Ok(ip) = h.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    if let Some(v6) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let ip: Ipv6Addr = v6.parse().map_err(|_| bad(orig, "bad IPv6 address"))?;
        return Ok(Host::Ip(IpAddr::V6(ip)));
    }
    let name = h.strip_suffix('.').unwrap_or(h);
    if name.is_empty() || name.len() > 253 {
        return Err(bad(orig, "bad host name"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !name.split('.').all(label_ok) {
        return Err(bad(orig, "bad host name"));
    }
    let top_is_alpha = name
        .rsplit('.')
        .next()
        .and_then(|top| top.bytes().next())
        .is_some_and(|b| b.is_ascii_alphabetic());
    if !top_is_alpha {
        return Err(bad(orig, "bad host name"));
    }
    Ok(Host::Name(normalize_name(name)))
}

fn parse_port(p: &str, orig: &str) -> Result<u16, ResolveError> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(orig, "bad port"));
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad(orig, "bad port")),
        Ok(port) => Ok(port),
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn bad(input: &str, reason: &'static str) -> ResolveError {
    ResolveError::BadDestination {
        input: input.to_string(),
        reason,
    }
}

/// Prints `host[:port]`, or `sip:host[:port];transport=x` when a transport is
/// set: forms [`parse_destination`] reads back (for logs).
impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.proto {
            Some(Proto::Tls) => f.write_str("sips:")?,
            Some(_) => f.write_str("sip:")?,
            None => {}
        }
        match &self.host {
            Host::Name(n) => f.write_str(n)?,
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        match self.proto {
            Some(Proto::Udp) => f.write_str(";transport=udp"),
            Some(Proto::Tcp) => f.write_str(";transport=tcp"),
            Some(Proto::Tls) | None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "destination_tests.rs"]
mod tests;
