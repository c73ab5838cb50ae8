//! `[cluster]`: node id, the Redis URL (file or `TRUNKGATE_REDIS_URL`), lease TTL
//! and what calls on limited trunks get while Redis is down.

use std::time::Duration;

use super::super::raw::RawCluster;
use super::super::{ClusterSettings, OnRedisDown};
use super::Errors;

/// Default `lease_ttl_s`: a dead node's calls stop counting after this.
pub const DEFAULT_LEASE_TTL_S: u64 = 15;
const MAX_NODE_ID: usize = 64;
const MAX_URL: usize = 2048;

/// `env_url` is `TRUNKGATE_REDIS_URL`; it wins over the file's `redis_url`.
pub(super) fn validate_cluster(
    e: &mut Errors,
    raw: &RawCluster,
    env_url: Option<String>,
) -> ClusterSettings {
    let node_id = match &raw.node_id {
        Some(n) => {
            if n.is_empty()
                || n.len() > MAX_NODE_ID
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                e.add(
                    "cluster.node_id",
                    "must be 1 to 64 characters from A-Z a-z 0-9 - _ .",
                );
            }
            n.clone()
        }
        None => default_node_id(),
    };
    let (redis_url, key) = match env_url.filter(|u| !u.is_empty()) {
        Some(u) => (Some(u), "TRUNKGATE_REDIS_URL"),
        None => (raw.redis_url.clone(), "cluster.redis_url"),
    };
    if let Some(u) = &redis_url {
        // The URL may hold a password: the error never repeats it.
        let scheme_ok = u.starts_with("redis://") || u.starts_with("redis+unix://");
        if u.len() > MAX_URL || !scheme_ok || redis::Client::open(u.as_str()).is_err() {
            e.add(
                key,
                "must be a redis:// (or redis+unix://) URL of at most 2048 characters",
            );
        }
    }
    let ttl = raw.lease_ttl_s.unwrap_or(DEFAULT_LEASE_TTL_S);
    e.range("cluster.lease_ttl_s", ttl, 3, 3600);
    let on_redis_down = match raw.on_redis_down.as_deref() {
        None | Some("local") => OnRedisDown::Local,
        Some("reject") => OnRedisDown::Reject,
        Some(other) => {
            e.add(
                "cluster.on_redis_down",
                format!(
                    "must be \"local\" or \"reject\" (got {:?})",
                    other.chars().take(32).collect::<String>()
                ),
            );
            OnRedisDown::Local
        }
    };
    ClusterSettings {
        node_id,
        redis_url,
        lease_ttl: Duration::from_secs(ttl),
        on_redis_down,
    }
}

/// `[store] url`, or `TRUNKGATE_STORE_URL` (`env_url`), which wins: a
/// `postgres://` / `postgresql://` URL tokio-postgres accepts. The URL may hold
/// a password: an error never repeats it.
pub(super) fn validate_store_url(
    e: &mut Errors,
    file_url: Option<&str>,
    env_url: Option<String>,
) -> Option<String> {
    let (url, key) = match env_url.filter(|u| !u.is_empty()) {
        Some(u) => (u, "TRUNKGATE_STORE_URL"),
        None => (file_url?.to_string(), "store.url"),
    };
    let scheme_ok = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if url.len() > MAX_URL || !scheme_ok || url.parse::<tokio_postgres::Config>().is_err() {
        e.add(
            key,
            "must be a postgres:// (or postgresql://) URL of at most 2048 characters",
        );
    }
    Some(url)
}

/// The host name (trimmed to a valid node id), else `trunkgate`.
fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let id: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .take(MAX_NODE_ID)
        .collect();
    if id.is_empty() {
        "trunkgate".into()
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(raw: RawCluster, env: Option<&str>) -> (ClusterSettings, Vec<String>) {
        let mut e = Errors {
            file: "t.toml",
            list: Vec::new(),
        };
        let c = validate_cluster(&mut e, &raw, env.map(str::to_string));
        (c, e.list.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn defaults_count_locally() {
        let (c, errs) = run(RawCluster::default(), None);
        assert!(errs.is_empty(), "{errs:?}");
        assert!(c.redis_url.is_none());
        assert_eq!(c.lease_ttl, Duration::from_secs(15));
        assert_eq!(c.on_redis_down, OnRedisDown::Local);
        assert!(!c.node_id.is_empty());
    }

    #[test]
    fn env_url_wins_and_errors_never_show_the_secret() {
        let raw = RawCluster {
            redis_url: Some("redis://127.0.0.1:1/0".into()),
            ..Default::default()
        };
        let (c, _) = run(raw, Some("redis://:pw@127.0.0.1:2/0"));
        assert_eq!(c.redis_url.as_deref(), Some("redis://:pw@127.0.0.1:2/0"));
        assert!(!format!("{c:?}").contains("pw"));
        let raw = RawCluster {
            redis_url: Some("http://user:hunter2@x".into()),
            node_id: Some("bad id!".into()),
            lease_ttl_s: Some(1),
            on_redis_down: Some("maybe".into()),
        };
        let (_, errs) = run(raw, None);
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs.iter().all(|e| !e.contains("hunter2")), "{errs:?}");
    }

    #[test]
    fn store_url_from_env_wins_and_errors_never_show_the_secret() {
        let mut e = Errors {
            file: "t.toml",
            list: Vec::new(),
        };
        assert_eq!(validate_store_url(&mut e, None, None), None);
        let got = validate_store_url(
            &mut e,
            Some("postgres://a@127.0.0.1:1/x"),
            Some("postgresql://u:pw@127.0.0.1:2/db".into()),
        );
        assert_eq!(got.as_deref(), Some("postgresql://u:pw@127.0.0.1:2/db"));
        assert!(e.list.is_empty());
        validate_store_url(&mut e, Some("mysql://u:hunter2@h/db"), None);
        validate_store_url(
            &mut e,
            None,
            Some("postgres://u:hunter2@h:notaport/db".into()),
        );
        let errs: Vec<String> = e.list.iter().map(|x| x.to_string()).collect();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("store.url"), "{errs:?}");
        assert!(errs[1].contains("TRUNKGATE_STORE_URL"), "{errs:?}");
        assert!(errs.iter().all(|e| !e.contains("hunter2")), "{errs:?}");
    }
}
