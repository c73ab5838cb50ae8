//! Outbound admission: an INVITE from a PBX -> (trunk, dialed number) or a rejection.
//!
//! 1. Request-URI host equal (case-insensitively) to a trunk's
//!    `outbound.domain` -> that trunk; its authentication must admit the source
//!    (else `auth_failed`).
//! 2. Otherwise the first trunk with a null domain, in config order, whose
//!    authentication admits the source (else `no_trunk`).
//! 3. `other` entries admit by IP or CIDR (an IPv4-mapped IPv6 source is
//!    compared as IPv4); `twilio` entries need the `X-Twilio-AccountSid` value
//!    AND a source inside the Twilio signaling ranges. Any entry may admit.
//! 4. An inactive trunk refuses (`trunk_inactive`). Both refusals are 403 so a
//!    scanner cannot tell a wrong source from a missing trunk.
//! 5. The dialed number is the Request-URI user up to `;`, visual separators
//!    `-.() ` removed: `+` optional, then 1..=20 digits, else 484.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use uuid::Uuid;

use crate::config::{AuthSource, Direction, Trunk, TrunkModel, TwilioSettings};

/// The facts of one INVITE that admission looks at.
#[derive(Debug, Clone)]
pub struct OutboundFacts<'a> {
    pub ruri_host: &'a str,
    /// The Request-URI user part, unescaped.
    pub ruri_user: Option<&'a str>,
    pub source: IpAddr,
    pub twilio_account_sid: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Admitted {
    pub trunk: Arc<TrunkModel>,
    pub dialed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    NoTrunk,
    AuthFailed,
    TrunkInactive,
    NotDialable,
}

impl Rejection {
    pub fn code(&self) -> u16 {
        match self {
            Rejection::NotDialable => 484,
            _ => 403,
        }
    }

    pub fn reason_phrase(&self) -> &'static str {
        match self {
            Rejection::NotDialable => "Address Incomplete",
            _ => "Forbidden",
        }
    }

    /// Static label for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Rejection::NoTrunk => "no_trunk",
            Rejection::AuthFailed => "auth_failed",
            Rejection::TrunkInactive => "trunk_inactive",
            Rejection::NotDialable => "not_dialable",
        }
    }
}

struct Entry {
    trunk: Arc<TrunkModel>,
    nets: Vec<IpNet>,
    sids: Vec<String>,
}

/// Outbound trunks indexed for admission, built once per config snapshot.
pub struct TrunkTable {
    by_domain: HashMap<String, usize>,
    by_source: Vec<usize>,
    entries: Vec<Entry>,
    by_id: HashMap<Uuid, Arc<TrunkModel>>,
}

impl TrunkTable {
    /// Trunks that passed `validate_trunk_set`; one whose fields do not
    /// parse (only possible when validation was skipped) is left out, logged.
    pub fn new(trunks: &[Trunk]) -> TrunkTable {
        let mut t = TrunkTable {
            by_domain: HashMap::new(),
            by_source: Vec::new(),
            entries: Vec::new(),
            by_id: HashMap::new(),
        };
        for trunk in trunks {
            let arc = match TrunkModel::new(trunk.clone()) {
                Ok(m) => Arc::new(m),
                Err(errs) => {
                    for e in errs {
                        tracing::error!(trunk = %trunk.trunk_id, field = e.field, rule = %e.rule, "trunk left out of routing");
                    }
                    continue;
                }
            };
            t.by_id.insert(trunk.trunk_id, Arc::clone(&arc));
            let Some(o) = trunk
                .outbound
                .as_ref()
                .filter(|_| trunk.direction == Direction::Outbound)
            else {
                continue;
            };
            let mut nets = Vec::new();
            let mut sids = Vec::new();
            for a in &o.authentication {
                match a.source {
                    AuthSource::Other => nets.extend(crate::config::parse_net(&a.value)),
                    AuthSource::Twilio => sids.push(a.value.clone()),
                }
            }
            let idx = t.entries.len();
            t.entries.push(Entry {
                trunk: arc,
                nets,
                sids,
            });
            match &o.domain {
                Some(d) => {
                    t.by_domain.insert(d.to_ascii_lowercase(), idx);
                }
                None => t.by_source.push(idx),
            }
        }
        t
    }

    pub fn get(&self, id: &Uuid) -> Option<&Arc<TrunkModel>> {
        self.by_id.get(id)
    }

    /// A source some outbound trunk's IP/CIDR authentication admits.
    pub fn knows_source(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.entries
            .iter()
            .any(|e| e.nets.iter().any(|n| n.contains(&ip)))
    }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) compared as the IPv4 address it carries.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn admits(e: &Entry, source: IpAddr, sid: Option<&str>, twilio: &TwilioSettings) -> bool {
    if e.nets.iter().any(|n| n.contains(&source)) {
        return true;
    }
    match sid {
        Some(sid) if e.sids.iter().any(|s| s == sid) => {
            twilio.signaling_ranges.iter().any(|n| n.contains(&source))
        }
        _ => false,
    }
}

pub fn admit_outbound(
    table: &TrunkTable,
    twilio: &TwilioSettings,
    facts: &OutboundFacts,
) -> Result<Admitted, Rejection> {
    let source = canonical(facts.source);
    let host = facts.ruri_host.trim_end_matches('.').to_ascii_lowercase();
    let entry = match table.by_domain.get(&host) {
        Some(&i) => {
            let e = &table.entries[i];
            if !admits(e, source, facts.twilio_account_sid, twilio) {
                return Err(Rejection::AuthFailed);
            }
            e
        }
        None => table
            .by_source
            .iter()
            .map(|&i| &table.entries[i])
            .find(|e| admits(e, source, facts.twilio_account_sid, twilio))
            .ok_or(Rejection::NoTrunk)?,
    };
    if !entry.trunk.is_active() {
        return Err(Rejection::TrunkInactive);
    }
    let dialed = normalize_dialed(facts.ruri_user.unwrap_or("")).ok_or(Rejection::NotDialable)?;
    Ok(Admitted {
        trunk: Arc::clone(&entry.trunk),
        dialed,
    })
}

/// `+14155550100`, `14155550100`, `+1 (415) 555-0100;phone-context=x` -> the
/// dialable form (`+` kept when given, separators removed); None when not dialable.
pub fn normalize_dialed(user: &str) -> Option<String> {
    let user = user.split(';').next().unwrap_or("");
    let mut out = String::with_capacity(user.len());
    for (i, c) in user.chars().enumerate() {
        match c {
            '+' if i == 0 => out.push('+'),
            '0'..='9' => out.push(c),
            '-' | '.' | '(' | ')' | ' ' => {}
            _ => return None,
        }
    }
    let digits = out.strip_prefix('+').unwrap_or(&out).len();
    (1..=20).contains(&digits).then_some(out)
}

#[cfg(test)]
mod tests;
