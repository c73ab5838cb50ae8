//! SIP target resolution (RFC 3263 §4): turns a trunk's `inbound.destination`
//! ("pbx.example.com", "192.0.2.10:5070") or a failover `sip:` URI into the
//! ordered list of `(address, transport)` targets the call task tries, one
//! after the other, before it declares the destination unreachable.
//!
//! ```text
//!  parse_destination(str) ─► Destination { host, port, proto }
//!  Resolver::resolve ─► numeric IP ............................. 1 target, no DNS
//!                    ─► name + port ............................ A/AAAA
//!                    ─► name + ;transport ...................... SRV _sip._udp|_tcp, else A/AAAA
//!                    ─► name ... NAPTR (SIP+D2U/D2T) ─► SRV ─► A/AAAA
//!                                └ none: SRV _sip._udp, _sip._tcp, else A/AAAA :5060/UDP
//! ```
//!
//! Lookups go to the configured nameservers only (or a static table, no DNS
//! at all). SRV ordering ([`order_srv`]) is a pure function with an
//! injectable RNG. This module depends on nothing else in the crate; the call
//! task depends on it. `testdns` is a tiny authoritative DNS server for
//! tests, compiled only for them (`cfg(test)`, or the `test-support` feature
//! the integration tests turn on): the gateway binary does not carry it.

mod backend;
mod destination;
mod error;
mod resolver;
mod srv;
#[doc(hidden)]
#[cfg(any(test, feature = "test-support"))]
pub mod testdns;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

pub use destination::parse_destination;
pub use error::ResolveError;
pub use resolver::Resolver;
pub use srv::order_srv;

/// RFC 3261 §19.1.2: the port used when neither the destination nor SRV gives one.
pub const DEFAULT_SIP_PORT: u16 = 5060;

/// RFC 3261 §19.1.2: the default port of `sips:` / TLS.
pub const DEFAULT_SIPS_PORT: u16 = 5061;

/// Transport of a resolved target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Udp,
    Tcp,
    /// `sips:` or `;transport=tls` (RFC 3263 §4.1: `_sips._tcp`, `SIPS+D2T`).
    Tls,
}

impl Proto {
    /// RFC 3263 §4.1: the SRV service label for this transport (`_sip._udp`).
    pub fn srv_prefix(self) -> &'static str {
        match self {
            Proto::Udp => "_sip._udp",
            Proto::Tcp => "_sip._tcp",
            Proto::Tls => "_sips._tcp",
        }
    }

    /// RFC 3263 §4.1: the NAPTR service field for this transport (`SIP+D2U`).
    pub fn naptr_service(self) -> &'static str {
        match self {
            Proto::Udp => "SIP+D2U",
            Proto::Tcp => "SIP+D2T",
            Proto::Tls => "SIPS+D2T",
        }
    }

    /// The port used when neither the destination nor SRV gives one.
    pub fn default_port(self) -> u16 {
        match self {
            Proto::Tls => DEFAULT_SIPS_PORT,
            Proto::Udp | Proto::Tcp => DEFAULT_SIP_PORT,
        }
    }
}

/// One place to send the request to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    pub proto: Proto,
}

/// The host part of a destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lowercase, without a trailing dot.
    Name(String),
    Ip(IpAddr),
}

/// What to resolve, as parsed by [`parse_destination`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: Host,
    /// Explicit port; `None` means "let SRV decide, else 5060".
    pub port: Option<u16>,
    /// From a URI's `;transport=` parameter.
    pub proto: Option<Proto>,
}

/// Where DNS answers come from.
#[derive(Debug, Clone)]
pub enum ResolverConfig {
    /// The system's resolver configuration (`/etc/resolv.conf`).
    System,
    /// These nameservers only, over UDP with TCP fallback.
    Nameservers(Vec<SocketAddr>),
    /// No DNS at all: answers come from this table.
    Static(StaticTable),
}

/// Records for [`ResolverConfig::Static`] and `testdns`. Keys are domain
/// names; case and a trailing dot do not matter (`"_sip._udp.pbx.test"`).
#[derive(Debug, Clone, Default)]
pub struct StaticTable {
    pub srv: HashMap<String, Vec<SrvRecord>>,
    /// A and AAAA records, in answer order.
    pub a: HashMap<String, Vec<IpAddr>>,
    pub naptr: HashMap<String, Vec<NaptrRecord>>,
}

/// RFC 2782 SRV record data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// Target host name; `"."` means "service not available here" (RFC 2782).
    pub target: String,
}

/// RFC 3403 NAPTR record data, reduced to what RFC 3263 §4.1 uses (flags `"s"`,
/// empty regexp).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    pub order: u16,
    pub preference: u16,
    /// `"SIP+D2U"`, `"SIP+D2T"`, `"SIPS+D2T"`, …
    pub service: String,
    /// The SRV name to query next.
    pub replacement: String,
}

/// Lowercase, no trailing dot: the form names are compared in.
pub(crate) fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}
