//! The rules a set of trunks and numbers obeys, shared by the config file
//! (seed data) and the REST API.
//!
//! Trunk rules (spec, DESIGN.md "The trunk model"):
//! - `trunk_id` unique; `direction` outbound needs `outbound`, inbound needs
//!   `inbound` with a `destination` or a `failover`.
//! - `simultaneous_call_limit` ≥ 1 when set (absent = unlimited).
//! - `description`: at most 255 characters, no control characters.
//! - `outbound.domain`: a DNS name (labels of letters, digits, `-`), stored
//!   lowercased, unique across trunks.
//! - `outbound.authentication[]`: `other` = IP or CIDR (v4/v6); `twilio` =
//!   Account SID (`AC` + 32 hex). An outbound trunk needs at least one entry.
//! - `outbound.max_post_dial_delay`: 7..=30 seconds.
//! - `outbound.override_early_media`: `to_country`, `from_country` or an ISO
//!   3166 alpha-2 code (two uppercase letters).
//! - `inbound.failover.value` by source: `trunk_id` = another existing
//!   inbound trunk's id; `phone_number` = E.164 (`+` and 8..=15 digits, the first not 0); `sip_uri` = `sip:`/`sips:`
//!   URI; `api` = `CallFlows` or `ParkingLot`.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use super::parse_net;
use crate::config::trunk::{AuthSource, Direction, EarlyMediaOverride, FailoverTarget, Trunk};
use crate::config::{Assignment, Number};

/// One broken rule in a set of trunks and numbers: the field
/// (`trunks[2].outbound.domain`, `numbers[0].assigned_to`) and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub rule: String,
}

/// Collects [`FieldError`]s.
pub(super) struct Rules(pub(super) Vec<FieldError>);

impl Rules {
    fn add(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            rule: rule.into(),
        });
    }
}

/// The rules a set of trunks and numbers must satisfy together, shared by the
/// config file (seed data) and the REST API: each trunk's own rules (module
/// docs), unique ids and domains, failover targets that exist, numbers in
/// E.164, unique, and assigned to an existing inbound trunk, `CallFlows` or
/// `ParkingLot`. Domains are normalised (trimmed, lowercased) in place. When
/// two trunks share a domain, the later one is reported.
pub fn validate_trunk_set(trunks: &mut [Trunk], numbers: &[Number]) -> Result<(), Vec<FieldError>> {
    let mut r = Rules(Vec::new());
    check_trunks(&mut r, trunks);
    check_numbers(&mut r, numbers, trunks, &|i| format!("numbers[{i}]"));
    if r.0.is_empty() {
        Ok(())
    } else {
        Err(r.0)
    }
}

pub(super) fn check_trunks(e: &mut Rules, trunks: &mut [Trunk]) {
    let ids: Vec<_> = trunks.iter().map(|t| t.trunk_id).collect();
    let inbound_ids: Vec<_> = trunks
        .iter()
        .filter(|t| t.direction == Direction::Inbound)
        .map(|t| t.trunk_id)
        .collect();
    let mut seen = HashSet::new();
    let mut domains = HashSet::new();
    for (i, t) in trunks.iter_mut().enumerate() {
        let k = format!("trunks[{i}]");
        if !seen.insert(t.trunk_id) {
            e.add(
                format!("{k}.trunk_id"),
                format!("duplicate trunk_id {}", t.trunk_id),
            );
        }
        if let Some(d) = &t.description {
            if d.chars().count() > 255 || d.chars().any(char::is_control) {
                e.add(
                    format!("{k}.description"),
                    "must be at most 255 characters without control characters",
                );
            }
        }
        if t.simultaneous_call_limit == Some(0) {
            e.add(
                format!("{k}.simultaneous_call_limit"),
                "must be at least 1 (omit it for unlimited)",
            );
        }
        match t.direction {
            Direction::Outbound if t.outbound.is_none() => e.add(
                format!("{k}.outbound"),
                "required when direction is outbound",
            ),
            Direction::Inbound => {
                match &t.inbound {
                    None => e.add(format!("{k}.inbound"), "required when direction is inbound"),
                    Some(i) if i.destination.is_none() && i.failover.is_none() => {
                        e.add(format!("{k}.inbound"), "needs a destination or a failover")
                    }
                    Some(i) => {
                        if let Some(d) = &i.destination {
                            if !is_destination(d) {
                                e.add(format!("{k}.inbound.destination"), format!("must be a DNS name or IP, with an optional :port (got {d:?})"));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(o) = t.outbound.as_mut() {
            if let Some(d) = o.domain.as_mut() {
                *d = d.trim().to_ascii_lowercase();
                if !is_dns_name(d) {
                    e.add(
                        format!("{k}.outbound.domain"),
                        format!("must be a DNS name (got {d:?})"),
                    );
                } else if !domains.insert(d.clone()) {
                    e.add(
                        format!("{k}.outbound.domain"),
                        format!("domain {d:?} is used by another trunk"),
                    );
                }
            }
            if t.direction == Direction::Outbound && o.authentication.is_empty() {
                e.add(
                    format!("{k}.outbound.authentication"),
                    "at least one entry is required",
                );
            }
            for (j, a) in o.authentication.iter().enumerate() {
                let key = format!("{k}.outbound.authentication[{j}].value");
                match a.source {
                    AuthSource::Other if parse_net(&a.value).is_none() => e.add(
                        key,
                        format!("must be an IP address or CIDR (got {:?})", a.value),
                    ),
                    AuthSource::Twilio if !is_account_sid(&a.value) => e.add(
                        key,
                        "must be a Twilio Account SID (AC followed by 32 hex digits)",
                    ),
                    _ => {}
                }
            }
            if let Some(p) = o.max_post_dial_delay {
                if !(7..=30).contains(&p) {
                    e.add(
                        format!("{k}.outbound.max_post_dial_delay"),
                        format!("must be between 7 and 30 seconds (got {p})"),
                    );
                }
            }
            if let Some(Err(rule)) = o
                .override_early_media
                .as_deref()
                .map(EarlyMediaOverride::parse)
            {
                e.add(format!("{k}.outbound.override_early_media"), rule);
            }
        }
        if let Some(f) = t.inbound.as_ref().and_then(|i| i.failover.as_ref()) {
            let key = format!("{k}.inbound.failover.value");
            match FailoverTarget::parse(f) {
                Ok(FailoverTarget::Trunk(id)) if id == t.trunk_id => {
                    e.add(key, "must not be the trunk itself")
                }
                Ok(FailoverTarget::Trunk(id)) if !ids.contains(&id) => {
                    e.add(key, format!("no trunk with id {id}"))
                }
                Ok(FailoverTarget::Trunk(id)) if !inbound_ids.contains(&id) => {
                    e.add(key, format!("trunk {id} is not an inbound trunk"))
                }
                Ok(_) => {}
                Err(rule) => e.add(key, rule),
            }
        }
    }
}

/// `host`, `host:port`, `IPv4[:port]`, `[IPv6]:port` or a bare IPv6 address.
pub fn is_destination(s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() {
        return true;
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return a.port() > 0;
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
        && (is_dns_name(host) || host.parse::<IpAddr>().is_ok())
}

pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

pub fn is_account_sid(s: &str) -> bool {
    s.len() == 34 && s.starts_with("AC") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| {
        (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

pub(super) fn e164_rule(no: &str) -> String {
    format!("must be an E.164 number (+ and 8 to 15 digits, the first not 0) (got {no:?})")
}

pub(super) fn check_numbers(
    e: &mut Rules,
    numbers: &[Number],
    trunks: &[Trunk],
    key: &dyn Fn(usize) -> String,
) {
    let mut seen = HashSet::new();
    for (i, n) in numbers.iter().enumerate() {
        let k = key(i);
        if !is_e164(&n.no) {
            e.add(format!("{k}.no"), e164_rule(&n.no));
        } else if !seen.insert(n.no.as_str()) {
            e.add(format!("{k}.no"), format!("duplicate number {}", n.no));
        }
        if let Some(d) = &n.description {
            if d.chars().count() > 255 || d.chars().any(char::is_control) {
                e.add(
                    format!("{k}.description"),
                    "must be at most 255 characters without control characters",
                );
            }
        }
        if let Assignment::Trunk(id) = n.assigned_to {
            match trunks.iter().find(|t| t.trunk_id == id) {
                None => e.add(format!("{k}.assigned_to"), format!("no trunk with id {id}")),
                Some(t) if t.direction != Direction::Inbound => e.add(
                    format!("{k}.assigned_to"),
                    format!("trunk {id} is not an inbound trunk"),
                ),
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod spec_rule_tests {
    use super::*;

    #[test]
    fn e164_first_digit_is_not_zero() {
        assert!(is_e164("+14155550100"));
        assert!(!is_e164("+04155550100"));
        assert!(!is_e164("14155550100"));
    }

    #[test]
    fn destination_port_is_1_to_65535() {
        for good in [
            "pbx.example.com",
            "pbx.example.com:5070",
            "192.0.2.1:1",
            "[2001:db8::1]:65535",
            "2001:db8::1",
        ] {
            assert!(is_destination(good), "{good}");
        }
        for bad in [
            "192.0.2.1:0",
            "[2001:db8::1]:0",
            "pbx.example.com:0",
            "pbx.example.com:65536",
            "pbx.example.com:",
        ] {
            assert!(!is_destination(bad), "{bad}");
        }
    }
}
