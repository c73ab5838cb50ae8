//! `X-API-Key` authentication. Keys are known only as SHA-256 digests
//! (`[api] key_hashes`, plus the digest of the `TRUNKGATE_API_KEY`
//! environment variable taken at start); the presented key is hashed and
//! compared with every digest in constant time, so neither a match position
//! nor a common prefix shows in the response time. Keys are never logged.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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
        let d = digest(presented);
        let mut ok = subtle::Choice::from(0u8);
        for k in &self.0 {
            ok |= k.ct_eq(&d);
        }
        bool::from(ok)
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

/// Middleware: 401001 unless `X-API-Key` is accepted.
pub async fn require_key(State(st): State<ApiState>, req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get("x-api-key")
        .is_some_and(|v| st.inner.keys.accepts(v.as_bytes()));
    if ok {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
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
