//! `[dns]` rules: nameservers and static names (A and SRV records).

use std::net::{IpAddr, SocketAddr};

use super::{is_dns_name, Errors};
use crate::config::{DnsSettings, StaticName};

pub(super) fn validate_dns(e: &mut Errors, raw: &crate::config::raw::RawDns) -> DnsSettings {
    let mut d = DnsSettings::default();
    for (i, ns) in raw.nameservers.iter().enumerate() {
        let parsed = ns
            .parse::<SocketAddr>()
            .ok()
            .or_else(|| ns.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)));
        match parsed {
            Some(a) => d.nameservers.push(a),
            None => e.add(
                format!("dns.nameservers[{i}]"),
                format!("must be an IP or IP:port (got {ns:?})"),
            ),
        }
    }
    for (i, s) in raw.r#static.iter().enumerate() {
        let name = s.name.trim().trim_end_matches('.').to_ascii_lowercase();
        // SRV owner names have `_service._proto.` labels.
        if !is_dns_name(&name.replace('_', "x")) {
            e.add(
                format!("dns.static[{i}].name"),
                format!("must be a DNS name (got {:?})", s.name),
            );
        }
        let mut st = StaticName {
            name,
            a: Vec::new(),
            srv: Vec::new(),
        };
        for (j, a) in s.a.iter().enumerate() {
            match a.parse::<IpAddr>() {
                Ok(ip) => st.a.push(ip),
                Err(_) => e.add(
                    format!("dns.static[{i}].a[{j}]"),
                    format!("must be an IP address (got {a:?})"),
                ),
            }
        }
        for (j, r) in s.srv.iter().enumerate() {
            let f: Vec<&str> = r.split_whitespace().collect();
            let parsed = match f.as_slice() {
                [p, w, port, t] => match (p.parse(), w.parse(), port.parse()) {
                    (Ok(p), Ok(w), Ok(port)) => {
                        Some((p, w, port, t.trim_end_matches('.').to_ascii_lowercase()))
                    }
                    _ => None,
                },
                _ => None,
            };
            match parsed {
                Some(x) => st.srv.push(x),
                None => e.add(
                    format!("dns.static[{i}].srv[{j}]"),
                    format!("must be \"priority weight port target\" (got {r:?})"),
                ),
            }
        }
        d.static_names.push(st);
    }
    d
}
