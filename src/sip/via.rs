//! The Via header value (RFC 3261 §20.42, §18.2.1; RFC 3581 `rport`;
//! RFC 5118 §4.5 IPv6 `received`).

use super::error::Reject;
use super::host::{parse_v6, Host};
use super::scan::{find_param, header_params, is_token, is_ws, sub, trim_range, ParamAt};
use super::swar;
use super::uri::{parse_hostport, parse_hostport_in};
use bytes::Bytes;
use std::net::IpAddr;
use std::ops::Range;

/// RFC 3261 §8.1.1.7: branches that start with this come from RFC 3261
/// elements and are unique per transaction.
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

/// One Via value: `SIP/2.0/UDP host:port;branch=...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    /// The transport token as written (`UDP`, `TCP`, `TLS`, `SCTP`, ...).
    pub transport: Bytes,
    pub host: Host,
    pub port: Option<u16>,
    /// Raw `;a=b;c`, may be empty.
    pub params: Bytes,
    /// Where the parse found `branch` in `params` (answers [`Via::branch`]
    /// without scanning them again).
    branch: ParamAt,
}

/// A checked Via value as offsets: what [`Via::parse_in`] makes its fields
/// from, and what [`super::Message::via_top_branch`] slices the branch from.
pub(crate) struct ViaAt {
    pub(crate) transport: Range<usize>,
    pub(crate) host: Host,
    pub(crate) port: Option<u16>,
    pub(crate) params: Range<usize>,
    /// Relative to `params`.
    pub(crate) branch: ParamAt,
}

/// The transport token `data[r]`; the usual ones (RFC 3261 §20.42) as
/// static `Bytes`, so no reference count is bumped and dropped.
#[inline(always)]
fn transport(data: &Bytes, r: Range<usize>) -> Bytes {
    let common: &'static [u8] = match data.get(r.clone()) {
        Some(b"UDP") => b"UDP",
        Some(b"TCP") => b"TCP",
        Some(b"TLS") => b"TLS",
        _ => return sub(data, r),
    };
    Bytes::from_static(common)
}

fn bad() -> Reject {
    Reject::bad("Bad Request (Via)")
}

/// Reads one token after optional white space; returns its range.
#[inline(always)]
fn token_at(b: &[u8], mut i: usize) -> (usize, usize) {
    while b.get(i).is_some_and(|&c| is_ws(c)) {
        i += 1;
    }
    let s = i;
    while b.get(i).is_some_and(|&c| is_token(c)) {
        i += 1;
    }
    (s, i)
}

/// Expects `SWS "/" SWS` at `i`; returns the offset after the slash.
fn slash_at(b: &[u8], mut i: usize) -> Option<usize> {
    while b.get(i).is_some_and(|&c| is_ws(c)) {
        i += 1;
    }
    (b.get(i) == Some(&b'/')).then_some(i + 1)
}

impl Via {
    /// Parses one Via value (split lists with `Message::header_values`).
    /// The protocol must be `SIP/2.0` (the only version we speak).
    /// LWS around `/`, `:`, `;` and `=` is allowed (RFC 3261 §25.1 SLASH,
    /// COLON, SEMI, EQUAL); empty parameters (`;;`) are not.
    pub fn parse(value: &Bytes) -> Result<Via, Reject> {
        Self::parse_in(value, 0..value.len())
    }

    /// [`Via::parse`] of `data[r]`; the fields are slices of `data`.
    pub(crate) fn parse_in(data: &Bytes, r: Range<usize>) -> Result<Via, Reject> {
        let p = ViaAt::locate(data, r.clone())?;
        let at = |x: Range<usize>| sub(data, r.start + x.start..r.start + x.end);
        Ok(Via {
            transport: transport(data, r.start + p.transport.start..r.start + p.transport.end),
            host: p.host,
            port: p.port,
            params: at(p.params),
            branch: p.branch,
        })
    }
}

impl ViaAt {
    /// Checks the Via value `data[r]` as [`Via::parse`] does and says where
    /// its parts are (offsets into `data[r]`), making no `Bytes` but a host
    /// name's.
    #[inline(always)]
    pub(crate) fn locate(data: &Bytes, r: Range<usize>) -> Result<ViaAt, Reject> {
        let b: &[u8] = data.get(r.clone()).ok_or_else(bad)?;
        let at = |x: Range<usize>| sub(data, r.start + x.start..r.start + x.end);
        let (ns, ne) = token_at(b, 0);
        let name = b.get(ns..ne).unwrap_or_default();
        if !name.eq_ignore_ascii_case(b"SIP") {
            return Err(bad());
        }
        let (vs, ve) = token_at(b, slash_at(b, ne).ok_or_else(bad)?);
        let (ts, te) = token_at(b, slash_at(b, ve).ok_or_else(bad)?);
        let version_ok = b.get(vs..ve) == Some(&b"2.0"[..]);
        if !version_ok || ts == te || !b.get(te).is_some_and(|&c| is_ws(c)) {
            return Err(bad());
        }
        let semi = memchr::memchr(b';', b)
            .filter(|&s| s > te)
            .unwrap_or(b.len());
        let sent_by = trim_range(b, te..semi);
        let hp = b.get(sent_by.clone()).unwrap_or_default();
        // White space is below 0x21: only a sent-by holding such an octet
        // (LWS around the port colon, or a control that fails the host
        // check either way) takes the path that removes it.
        let (host, port) =
            if swar::find(hp, 0, |w| swar::below(w, 0x21), |c| c <= b' ').is_some() {
                let hp = compact_colon(&at(sent_by));
                if hp.iter().any(|&c| is_ws(c)) {
                    return Err(bad());
                }
                parse_hostport(&hp)
            } else {
                parse_hostport_in(data, r.start + sent_by.start..r.start + sent_by.end)
            }
            .map_err(|_| bad())?;
        let pr = trim_range(b, semi..b.len());
        let branch =
            header_params(b.get(pr.clone()).unwrap_or_default(), b"branch").ok_or_else(bad)?;
        Ok(ViaAt {
            transport: ts..te,
            host,
            port,
            params: pr,
            branch,
        })
    }
}

impl Via {
    pub fn param(&self, name: &str) -> Option<Option<Bytes>> {
        find_param(&self.params, name)
    }

    pub fn branch(&self) -> Option<Bytes> {
        self.branch.get(&self.params).flatten()
    }

    /// The raw `received` value (may be a bracketed IPv6 reference).
    pub fn received(&self) -> Option<Bytes> {
        self.param("received").flatten()
    }

    /// `received` as an address; accepts `[v6]` and bare v6 (RFC 5118 §4.5).
    pub fn received_ip(&self) -> Option<IpAddr> {
        let r = self.received()?;
        let inner = match (r.first(), r.last()) {
            (Some(b'['), Some(b']')) => r.get(1..r.len() - 1)?,
            _ => &r[..],
        };
        if let Some(v6) = parse_v6(inner) {
            return Some(IpAddr::V6(v6));
        }
        std::str::from_utf8(inner).ok()?.parse().ok()
    }

    /// RFC 3581: `None` absent, `Some(None)` present without (usable)
    /// value, `Some(Some(port))` filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport")
            .map(|v| v.and_then(|p| super::uri::parse_port(&p)))
    }

    /// RFC 3261 §8.1.1.7: the branch starts with `z9hG4bK` and has more.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }
}

/// Removes LWS around the port colon (`host : 5060`), which COLON allows.
fn compact_colon(hp: &Bytes) -> Bytes {
    if !hp.iter().any(|&c| is_ws(c)) {
        return hp.clone();
    }
    let Some(c) = memchr::memrchr(b':', hp) else {
        return hp.clone();
    };
    let before = trim_range(hp, 0..c);
    let after = trim_range(hp, c + 1..hp.len());
    if hp
        .get(after.clone())
        .is_some_and(|a| a.iter().all(u8::is_ascii_digit))
    {
        let mut v = hp.get(before).unwrap_or_default().to_vec();
        v.push(b':');
        v.extend_from_slice(hp.get(after).unwrap_or_default());
        Bytes::from(v)
    } else {
        hp.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn via(s: &'static str) -> Result<Via, Reject> {
        Via::parse(&Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn basic() {
        let v =
            via("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport;received=192.0.2.9").unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, Host::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.branch().unwrap(), "z9hG4bK776");
        assert!(v.has_magic_cookie());
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received().unwrap(), "192.0.2.9");
        assert_eq!(
            v.received_ip(),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)))
        );
        assert_eq!(v.params, ";branch=z9hG4bK776;rport;received=192.0.2.9");
    }

    #[test]
    fn lws_everywhere() {
        let v = via("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, "UDP");
        assert!(!v.has_magic_cookie());
        let v = via("SIP  / 2.0  / TCP     spindle.example.com   ;   branch  =   z9hG4bK9ikj8")
            .unwrap();
        assert_eq!(
            v.host,
            Host::Name(Bytes::from_static(b"spindle.example.com"))
        );
        assert_eq!(v.branch().unwrap(), "z9hG4bK9ikj8");
        let v = via("SIP/2.0/UDP host.example.com : 5070 ;rport=5071").unwrap();
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport(), Some(Some(5071)));
    }

    #[test]
    fn ipv6_and_received() {
        let v = via("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111").unwrap();
        assert_eq!(
            v.host,
            Host::V6("2001:db8::9:1".parse::<Ipv6Addr>().unwrap())
        );
        assert_eq!(v.port, Some(6050));
        let v = via("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3")
            .unwrap();
        assert_eq!(v.port, None);
        assert_eq!(v.received().unwrap(), "[2001:db8::9:255]");
        let want: IpAddr = "2001:db8::9:255".parse().unwrap();
        assert_eq!(v.received_ip(), Some(want));
        let v =
            via("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3").unwrap();
        assert_eq!(v.received_ip(), Some(want));
    }

    #[test]
    fn rejects() {
        assert!(via("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(via(";").is_err());
        assert!(via("SIP/2.0/UDP").is_err());
        assert!(via("SIP/2.0 host").is_err());
        assert!(via("SIP/2.0/UDP host extra").is_err());
        assert!(via("SIP/2.0/UDP 2001:db8::1").is_err());
        assert!(via("SIP/2.0/UDP host:99999").is_err());
        assert!(via("SIP/2.0/UDP host;branch=").is_err());
        assert!(via("HTTP/2.0/UDP host").is_err());
        assert!(via("SIP/99999.0/UDP host").is_err());
        assert!(via("SIP/2.0/UDP 10.10.10.-1").is_err());
        assert!(via("SIP/2.0/UDP -1:5060").is_err());
        assert!(via("SIP/2.0/UDP 10.10.10.256").is_err());
        assert!(!via("SIP/2.0/UDP h;branch=z9hG4bK")
            .unwrap()
            .has_magic_cookie());
    }
}
