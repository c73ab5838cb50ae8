//! `X-API-Key` authentication. Keys are known only as SHA-256 digests
//! (`[api] key_hashes`, plus the digest of the `TRUNKGATE_API_KEY`
//! environment variable taken at start); the presented key is hashed and
//! compared with every digest in constant time, so neither a match position
//! nor a common prefix shows in the response time. Keys are never logged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::{ApiError, ApiState};

/// The environment variable holding one more accepted key (in clear, for automation).
pub const ENV_KEY: &str = "TRUNKGATE_API_KEY";

/// The accepted key digests.
#[derive(Clone, Default)]
pub struct Keys(Vec<[u8; 32]>);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({} digests)", self.0.len())
    }
}

impl Keys {
    /// The configured digests plus the digest of `env_key` when it is non-empty.
    pub fn new(configured: &[[u8; 32]], env_key: Option<&str>) -> Keys {
        let mut v = configured.to_vec();
        if let Some(k) = env_key.filter(|k| !k.is_empty()) {
            v.push(digest(k.as_bytes()));
        }
        Keys(v)
    }

    /// [`Keys::new`] with the key from [`ENV_KEY`].
    pub fn from_env(configured: &[[u8; 32]]) -> Keys {
        Keys::new(configured, std::env::var(ENV_KEY).ok().as_deref())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `presented` hashes to one of the digests. Every digest is
    /// compared (no early exit).
    pub fn accepts(&self, presented: &[u8]) -> bool {
        self.position(presented).is_some()
    }

    /// Which digest `presented` hashes to. Every digest is compared (no
    /// early exit); the index selects the key's request budget.
    pub fn position(&self, presented: &[u8]) -> Option<usize> {
        let d = digest(presented);
        let mut found = subtle::Choice::from(0u8);
        let mut index = 0u64;
        for (i, k) in self.0.iter().enumerate() {
            let eq = k.ct_eq(&d);
            index = u64::conditional_select(&index, &(i as u64), eq);
            found |= eq;
        }
        bool::from(found).then_some(index as usize)
    }
}

/// SHA-256 of a key.
pub fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// `sha256:<hex>` for a key: what goes into `[api] key_hashes`.
pub fn key_hash_string(key: &str) -> String {
    let mut s = String::from("sha256:");
    for b in digest(key.as_bytes()) {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Middleware: 429 (400429) when the source is over its failed-
/// authentication budget, 401001 unless `X-API-Key` is accepted (spending
/// from the source's budget; 429 instead once it is spent), 429 when the
/// key is over its request budget (`limit.rs`).
pub async fn require_key(State(st): State<ApiState>, req: Request, next: Next) -> Response {
    let now = std::time::Instant::now();
    // Without the peer address (a router served without connect info, as
    // in unit tests) every caller shares one source budget.
    let source = super::limit::source_key(
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
    );
    let limits = &st.inner.limits;
    let limited = |reason: &'static str| {
        st.inner
            .hub
            .metrics
            .api_rate_limited
            .get_or_create(&crate::metric_labels::ReasonLabels { reason })
            .inc();
    };
    if let Some(wait) = limits.failed_auth.blocked(&source, now) {
        limited("failed_auth");
        return ApiError::RateLimited(super::limit::retry_after_secs(wait)).into_response();
    }
    let key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| st.inner.keys.position(v.as_bytes()));
    let Some(key) = key else {
        return match limits.failed_auth.spend(&source, now) {
            Ok(()) => ApiError::Unauthorized.into_response(),
            Err(wait) => {
                limited("failed_auth");
                tracing::warn!(%source, "API: failed-authentication limit reached for a source");
                ApiError::RateLimited(super::limit::retry_after_secs(wait)).into_response()
            }
        };
    };
    match limits.per_key.spend(&key, now) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            limited("key");
            ApiError::RateLimited(super::limit::retry_after_secs(wait)).into_response()
        }
    }
}

/// The two request budgets (`[api] requests_per_minute`).
#[derive(Debug)]
pub struct Limits {
    /// Requests per accepted key (by its index in [`Keys`]).
    pub per_key: super::limit::Limiter<usize>,
    /// Failed authentications per source address.
    pub failed_auth: super::limit::Limiter<IpAddr>,
}

impl Limits {
    pub fn new(requests_per_minute: u32) -> Limits {
        Limits {
            per_key: super::limit::Limiter::new(requests_per_minute),
            failed_auth: super::limit::Limiter::new(requests_per_minute),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_and_env_keys_accepted_others_not() {
        let configured = [digest(b"k1-secret")];
        let keys = Keys::new(&configured, Some("env-secret"));
        assert!(keys.accepts(b"k1-secret"));
        assert!(keys.accepts(b"env-secret"));
        assert!(!keys.accepts(b"k1-secre"));
        assert!(!keys.accepts(b""));
        assert!(!Keys::new(&[], Some("")).accepts(b""));
        assert_eq!(keys.position(b"k1-secret"), Some(0));
        assert_eq!(keys.position(b"env-secret"), Some(1));
        assert_eq!(keys.position(b"nope"), None);
    }

    #[test]
    fn hash_string_is_sha256_hex() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            key_hash_string("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
