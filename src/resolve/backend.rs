//! Where records come from: hickory-resolver talking to the configured
//! nameservers, or a static table. Each lookup answers `Ok(vec![])` for "no
//! such records" (NXDOMAIN / NODATA) and an error only for real failures.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts,
    ResolverConfig as HickoryConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;

use super::{normalize_name, NaptrRecord, ResolveError, ResolverConfig, SrvRecord, StaticTable};

pub(super) enum Backend {
    Dns(TokioResolver),
    /// Keys normalized with [`normalize_name`].
    Static(StaticTable),
}

impl Backend {
    /// `query_timeout` bounds one DNS query; the caller bounds the whole resolve.
    pub(super) fn new(cfg: &ResolverConfig, query_timeout: Duration) -> Result<Self, ResolveError> {
        let config_err = |e: NetError| ResolveError::Config {
            message: e.to_string(),
        };
        let builder = match cfg {
            ResolverConfig::Static(table) => return Ok(Backend::Static(normalize_table(table))),
            ResolverConfig::System => TokioResolver::builder_tokio().map_err(config_err)?,
            ResolverConfig::Nameservers(servers) => {
                if servers.is_empty() {
                    return Err(ResolveError::Config {
                        message: "no nameservers configured".to_string(),
                    });
                }
                let name_servers = servers.iter().map(name_server).collect();
                let mut b = TokioResolver::builder_with_config(
                    HickoryConfig::from_name_servers(name_servers),
                    TokioRuntimeProvider::default(),
                );
                // Only the configured servers answer: not /etc/hosts either.
                b.options_mut().use_hosts_file = ResolveHosts::Never;
                b
            }
        };
        let mut builder = builder;
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = query_timeout;
        opts.attempts = 1;
        // Try IPv4 addresses before IPv6 ones: a host without IPv6 routing then
        // still reaches the PBX on the first target.
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        builder.build().map(Backend::Dns).map_err(config_err)
    }

    /// RFC 3263 §4.1: NAPTR records of `name` whose flags are `"s"` (the
    /// replacement is an SRV name).
    pub(super) async fn naptr(&self, name: &str) -> Result<Vec<NaptrRecord>, ResolveError> {
        let resolver = match self {
            Backend::Static(t) => return Ok(get(&t.naptr, name)),
            Backend::Dns(r) => r,
        };
        let lookup = match resolver.lookup(fqdn(name)?, RecordType::NAPTR).await {
            Ok(l) => l,
            Err(e) => return empty_or_err(e, name),
        };
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::NAPTR(n) if n.flags.eq_ignore_ascii_case(b"s") => Some(NaptrRecord {
                    order: n.order,
                    preference: n.preference,
                    service: String::from_utf8_lossy(&n.services).into_owned(),
                    replacement: normalize_name(&n.replacement.to_ascii()),
                }),
                _ => None,
            })
            .collect())
    }

    /// SRV records of `name` (e.g. `_sip._udp.pbx.example.com`), in answer order.
    pub(super) async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>, ResolveError> {
        let resolver = match self {
            Backend::Static(t) => return Ok(get(&t.srv, name)),
            Backend::Dns(r) => r,
        };
        let lookup = match resolver.lookup(fqdn(name)?, RecordType::SRV).await {
            Ok(l) => l,
            Err(e) => return empty_or_err(e, name),
        };
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(s) => Some(SrvRecord {
                    priority: s.priority,
                    weight: s.weight,
                    port: s.port,
                    target: match normalize_name(&s.target.to_ascii()) {
                        root if root.is_empty() => ".".to_string(),
                        target => target,
                    },
                }),
                _ => None,
            })
            .collect())
    }

    /// A and AAAA addresses of `name`, IPv4 first.
    pub(super) async fn ips(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let resolver = match self {
            Backend::Static(t) => return Ok(get(&t.a, name)),
            Backend::Dns(r) => r,
        };
        match resolver.lookup_ip(fqdn(name)?).await {
            Ok(l) => Ok(l.iter().collect()),
            Err(e) => empty_or_err(e, name),
        }
    }
}

/// UDP and TCP to `addr` (RFC 1035 §4.2: TCP when a UDP answer is truncated).
fn name_server(addr: &SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

/// Absolute name, so no search domain from resolv.conf is appended.
fn fqdn(name: &str) -> Result<Name, ResolveError> {
    Name::from_ascii(format!("{}.", normalize_name(name))).map_err(|e| ResolveError::Dns {
        name: name.to_string(),
        message: e.to_string(),
    })
}

fn empty_or_err<T>(e: NetError, name: &str) -> Result<Vec<T>, ResolveError> {
    if e.is_no_records_found() {
        return Ok(Vec::new());
    }
    Err(match e {
        NetError::Timeout => ResolveError::Timeout {
            name: name.to_string(),
        },
        e => ResolveError::Dns {
            name: name.to_string(),
            message: e.to_string(),
        },
    })
}

fn get<T: Clone>(map: &HashMap<String, Vec<T>>, name: &str) -> Vec<T> {
    map.get(&normalize_name(name)).cloned().unwrap_or_default()
}

fn normalize_table(t: &StaticTable) -> StaticTable {
    fn norm<T: Clone>(m: &HashMap<String, Vec<T>>) -> HashMap<String, Vec<T>> {
        let mut out: HashMap<String, Vec<T>> = HashMap::new();
        for (k, v) in m {
            out.entry(normalize_name(k))
                .or_default()
                .extend(v.iter().cloned());
        }
        out
    }
    StaticTable {
        srv: norm(&t.srv),
        a: norm(&t.a),
        naptr: norm(&t.naptr),
    }
}
