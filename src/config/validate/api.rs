//! `[api]` rules: key hashes, CORS origins, the request rate.

use super::Errors;
use crate::config::ApiSettings;

/// `api.key_hashes[]`: `sha256:` followed by 64 hex digits.
pub(super) fn validate_api(e: &mut Errors, raw: &crate::config::raw::RawApi) -> ApiSettings {
    let mut api = ApiSettings::default();
    for (i, h) in raw.key_hashes.iter().enumerate() {
        match parse_key_hash(h) {
            Some(d) => api.key_hashes.push(d),
            None => e.add(
                format!("api.key_hashes[{i}]"),
                "must be sha256: followed by 64 hex digits (the SHA-256 of the key, never the key)",
            ),
        }
    }
    for (i, o) in raw.cors_origins.iter().enumerate() {
        match parse_origin(o) {
            Some(o) => api.cors_origins.push(o),
            None => e.add(
                format!("api.cors_origins[{i}]"),
                "must be http://host or https://host with an optional :port (1..=65535) and no path",
            ),
        }
    }
    if let Some(n) = raw.requests_per_minute {
        if (1..=1_000_000).contains(&n) {
            api.requests_per_minute = n;
        } else {
            e.add("api.requests_per_minute", "must be 1..=1000000");
        }
    }
    api
}

/// A browser origin `http(s)://host[:port]` (host a DNS name, IPv4 or
/// bracketed IPv6), lower-cased; `None` for anything else (paths, `*`, other
/// schemes, over 253 characters).
pub fn parse_origin(s: &str) -> Option<String> {
    if s.len() > 253 + 16 {
        return None;
    }
    let s = s.to_ascii_lowercase();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        (
            addr,
            match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return None,
            },
        )
    } else {
        match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if let Some(p) = port {
        if !p.bytes().all(|b| b.is_ascii_digit()) || !matches!(p.parse::<u16>(), Ok(1..)) {
            return None;
        }
    }
    let ok_host = !host.is_empty()
        && (rest.starts_with('[')
            || host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    ok_host.then_some(s)
}

/// `sha256:<64 hex>` -> the 32-byte digest.
pub fn parse_key_hash(s: &str) -> Option<[u8; 32]> {
    let hex = s.trim().strip_prefix("sha256:")?.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
