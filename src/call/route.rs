//! Where the call's B leg goes: the ordered list of hops (carriers for
//! outbound calls, the trunk's resolved destination for inbound ones) and the
//! failover steps that replace it when a destination cannot be reached.

use std::net::{IpAddr, SocketAddr};

use crate::config::{Config, Transport};
use crate::policy::carrier::carrier_order_by_health;
use crate::sip::{Host, Uri};
use crate::transport::{Target, TransportKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopKind {
    /// An upstream carrier: the next one is tried on timeout, transport error, 408, 5xx.
    Carrier,
    /// One resolved target of a trunk destination or failover URI: the next one is
    /// tried whenever this one is unreachable (RFC 3263 §4.3).
    Destination,
}

#[derive(Debug, Clone)]
pub struct Hop {
    pub target: Target,
    /// Request-URI of the B leg's INVITE.
    pub ruri: String,
    /// To header value (no tag).
    pub to: String,
    pub kind: HopKind,
}

fn host_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => crate::sip::addr_text::ip(ip),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// The transport layer's kind for a configured transport.
pub fn kind_of(t: Transport) -> TransportKind {
    match t {
        Transport::Udp => TransportKind::Udp,
        Transport::Tcp => TransportKind::Tcp,
        Transport::Tls => TransportKind::Tls,
    }
}

fn tp_param(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Tcp => ";transport=tcp",
        TransportKind::Tls => ";transport=tls",
        TransportKind::Udp => "",
    }
}

/// `sip:{user}@{addr}{tp_param}`, written without `core::fmt` for IPv4 (a
/// hop's Request-URI is built for every carrier at every call).
fn hop_ruri(user: &str, addr: &SocketAddr, kind: TransportKind) -> String {
    let tp = tp_param(kind);
    let mut s = String::with_capacity(4 + user.len() + 1 + 21 + tp.len());
    s.push_str("sip:");
    s.push_str(user);
    s.push('@');
    crate::sip::addr_text::push_socket_addr(&mut s, addr);
    s.push_str(tp);
    s
}

/// `<sip:{user}@{host_of(ip)}>`, a hop's To.
fn hop_to(user: &str, ip: IpAddr) -> String {
    let mut s = String::with_capacity(5 + user.len() + 1 + 15 + 1);
    s.push_str("<sip:");
    s.push_str(user);
    s.push('@');
    match ip {
        IpAddr::V4(v4) => crate::sip::addr_text::push_ipv4(&mut s, v4),
        IpAddr::V6(_) => s.push_str(&host_of(ip)),
    }
    s.push('>');
    s
}

/// The configured carriers for calling `number`: those `up` (health checks)
/// in priority order, then the down ones as a last resort.
pub fn carrier_hops(config: &Config, number: &str, up: impl Fn(usize) -> bool) -> Vec<Hop> {
    carrier_order_by_health(&config.carriers, up)
        .into_iter()
        .filter_map(|i| config.carriers.get(i))
        .map(|c| {
            let kind = kind_of(c.transport);
            Hop {
                target: Target {
                    kind,
                    addr: c.address,
                    conn: None,
                },
                ruri: hop_ruri(number, &c.address, kind),
                to: hop_to(number, c.address.ip()),
                kind: HopKind::Carrier,
            }
        })
        .collect()
}

/// Hops for already-resolved destination addresses, calling `did` there.
pub fn destination_hops(targets: &[(SocketAddr, TransportKind)], did: &str) -> Vec<Hop> {
    targets
        .iter()
        .map(|&(addr, kind)| Hop {
            target: Target {
                kind,
                addr,
                conn: None,
            },
            ruri: hop_ruri(did, &addr, kind),
            to: hop_to(did, addr.ip()),
            kind: HopKind::Destination,
        })
        .collect()
}

/// Hops for a failover `sip:` URI whose host is already an address: the URI is
/// kept as the Request-URI and To.
pub fn uri_hops(uri: &str, targets: &[(SocketAddr, TransportKind)]) -> Vec<Hop> {
    targets
        .iter()
        .map(|&(addr, kind)| Hop {
            target: Target {
                kind,
                addr,
                conn: None,
            },
            ruri: uri.to_string(),
            to: format!("<{uri}>"),
            kind: HopKind::Destination,
        })
        .collect()
}

/// A destination that needs no DNS: `IP`, `IP:port`, `[IPv6]:port`.
pub fn literal_destination(dest: &str) -> Option<SocketAddr> {
    dest.parse::<SocketAddr>().ok().or_else(|| {
        dest.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 5060))
    })
}

/// The host, port and transport of a failover URI (`sip:x@host:port;transport=tcp`).
pub fn uri_parts(uri: &str) -> Option<(String, Option<u16>, Option<TransportKind>)> {
    let u = Uri::parse(&bytes::Bytes::copy_from_slice(uri.as_bytes())).ok()?;
    let host = match &u.host {
        Host::Name(n) => String::from_utf8_lossy(n).into_owned(),
        Host::V4(a) => a.to_string(),
        Host::V6(a) => a.to_string(),
    };
    let tp = u.param("transport").flatten().map(|t| {
        if t.eq_ignore_ascii_case(b"tcp") {
            TransportKind::Tcp
        } else if t.eq_ignore_ascii_case(b"tls") {
            TransportKind::Tls
        } else {
            TransportKind::Udp
        }
    });
    // RFC 3261 §26.2.2: sips: is TLS whatever the transport parameter says.
    let tp = if u.scheme == crate::sip::Scheme::Sips {
        Some(TransportKind::Tls)
    } else {
        tp
    };
    Some((host, u.port, tp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_texts_are_what_format_wrote() {
        for a in [
            "127.0.0.1:5090",
            "10.0.0.254:5061",
            "[2001:db8::1]:5060",
            "[::1]:1",
        ] {
            let addr: SocketAddr = a.parse().unwrap();
            for kind in [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls] {
                assert_eq!(
                    hop_ruri("+15551234", &addr, kind),
                    format!("sip:+15551234@{addr}{}", tp_param(kind)),
                    "{a}"
                );
            }
            assert_eq!(
                hop_to("+15551234", addr.ip()),
                format!("<sip:+15551234@{}>", host_of(addr.ip())),
                "{a}"
            );
        }
        assert_eq!(
            hop_to(
                "1",
                "[2001:db8::1]:5060".parse::<SocketAddr>().unwrap().ip()
            ),
            "<sip:1@[2001:db8::1]>"
        );
    }
}
