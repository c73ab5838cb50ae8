//! TEMPORARY integration stub (replaced by the config branch).
use std::net::IpAddr;
use std::sync::Arc;
use crate::config::{Carrier, Trunk, TwilioSettings};
pub struct TrunkTable { trunks: Vec<Arc<Trunk>> }
impl TrunkTable { pub fn new(t: &[Trunk]) -> TrunkTable { TrunkTable { trunks: t.iter().cloned().map(Arc::new).collect() } } }
pub struct OutboundFacts<'a> { pub ruri_host: &'a str, pub ruri_user: Option<&'a str>, pub source: IpAddr, pub twilio_account_sid: Option<&'a str> }
#[derive(Debug, Clone)] pub struct Admitted { pub trunk: Arc<Trunk>, pub dialed: String }
#[derive(Debug, Clone, Copy, PartialEq, Eq)] pub enum Rejection { NoTrunk, AuthFailed, TrunkInactive, NotDialable }
impl Rejection { pub fn code(&self) -> u16 { if *self == Rejection::NotDialable { 484 } else { 403 } } pub fn reason_phrase(&self) -> &'static str { if *self == Rejection::NotDialable { "Address Incomplete" } else { "Forbidden" } } pub fn name(&self) -> &'static str { match self { Rejection::NoTrunk => "no_trunk", Rejection::AuthFailed => "auth_failed", Rejection::TrunkInactive => "trunk_inactive", Rejection::NotDialable => "not_dialable" } } }
pub fn admit_outbound(t: &TrunkTable, _tw: &TwilioSettings, f: &OutboundFacts) -> Result<Admitted, Rejection> {
    for tr in &t.trunks { if let Some(o) = &tr.outbound { for a in &o.authentication { if let Ok(n) = a.value.parse::<ipnet::IpNet>() { if n.contains(&f.source) {
        let u = f.ruri_user.unwrap_or(""); let d: String = u.split(';').next().unwrap_or("").chars().filter(|c| !"-.() ".contains(*c)).collect();
        let digits = d.strip_prefix('+').unwrap_or(&d); if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) { return Err(Rejection::NotDialable) }
        return Ok(Admitted { trunk: tr.clone(), dialed: d }) } } } } }
    Err(Rejection::NoTrunk)
}
pub fn carrier_order(c: &[Carrier]) -> Vec<usize> { let mut v: Vec<usize> = (0..c.len()).collect(); v.sort_by_key(|i| c[*i].priority); v }
#[derive(Debug, Clone, Copy, PartialEq, Eq)] pub enum AttemptOutcome { TransportError, Timeout, Final(u16) }
pub fn try_next_carrier(o: AttemptOutcome, early: bool) -> bool { if early { return false } match o { AttemptOutcome::Final(c) => c == 408 || (500..600).contains(&c), _ => true } }
