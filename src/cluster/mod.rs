//! Cluster-wide simultaneous call limits held in Redis.
//!
//! Each live call on a limited trunk holds a lease: a member `node_id:lease-uuid`
//! in the trunk's sorted set `trunkgate:calls:{trunk_id}`, scored with its expiry
//! (Redis server time, so node clocks do not matter). One Lua script takes a
//! lease (drops expired ones, counts, adds: atomic), one releases it; so a call
//! costs two Redis round trips. The [`keeper`] task owns this node's live leases:
//! it releases them and re-adds all of them with a fresh expiry every
//! `lease_ttl_s / 3` in one pipeline, which also re-asserts them after a Redis
//! restart. A node that dies stops refreshing: its leases stop counting within
//! `lease_ttl_s`.
//!
//! While Redis cannot be reached, `on_redis_down` decides: `local` counts this
//! node's calls against the limit, `reject` refuses with 503. The state is the
//! gauge `trunkgate_cluster_redis_up` and one log line per change.
//!
//! Depends on `config` and `metrics` only; `call::limits` calls it.

mod keeper;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::config::{ClusterSettings, OnRedisDown};
use crate::metrics::ResultLabels;

/// Takes a lease when fewer than ARGV[2] unexpired ones are held.
/// KEYS[1] trunk set; ARGV[1] ttl ms, ARGV[2] limit, ARGV[3] member.
const ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
";

/// KEYS[1] trunk set; ARGV[1] member.
const RELEASE: &str = r"
return redis.call('ZREM', KEYS[1], ARGV[1])
";

/// Re-adds this node's members with a fresh expiry (a refresh, and after a
/// Redis restart a re-assertion). KEYS[1] trunk set; ARGV[1] ttl ms, ARGV[2..] members.
const REFRESH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return #ARGV - 1
";

/// A call's Redis round trip never waits longer than this; then Redis counts as down.
const OP_TIMEOUT: Duration = Duration::from_millis(500);

/// The sorted set holding a trunk's leases.
pub fn trunk_key(trunk: &Uuid) -> String {
    format!("trunkgate:calls:{trunk}")
}

#[derive(Clone, Default)]
pub struct ClusterMetrics {
    pub redis_up: Gauge,
    /// Redis round trips by `op` (acquire, release, refresh).
    pub round_trips: Family<OpLabels, Counter>,
    /// Calls on limited trunks decided while Redis was down (`result`: local, rejected).
    pub down_admissions: Family<ResultLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct OpLabels {
    pub op: &'static str,
}

impl ClusterMetrics {
    pub fn register(registry: &mut Registry) -> ClusterMetrics {
        let m = ClusterMetrics::default();
        registry.register(
            "trunkgate_cluster_redis_up",
            "1 while the Redis holding call-limit leases answers, 0 while it does not",
            m.redis_up.clone(),
        );
        registry.register(
            "trunkgate_cluster_redis_round_trips",
            "Redis round trips for call-limit leases, by op (acquire, release, refresh)",
            m.round_trips.clone(),
        );
        registry.register(
            "trunkgate_cluster_down_admissions",
            "Calls on limited trunks decided while Redis was down (local, rejected)",
            m.down_admissions.clone(),
        );
        m
    }

    fn trip(&self, op: &'static str, n: u64) {
        self.round_trips.get_or_create(&OpLabels { op }).inc_by(n);
    }
}

enum Msg {
    Held { trunk: Uuid, member: Arc<str> },
    Release { trunk: Uuid, member: Arc<str> },
}

/// A live call's claim on one of its trunk's slots; released when dropped.
#[derive(Debug)]
pub struct Lease {
    trunk: Uuid,
    member: Arc<str>,
    tx: mpsc::UnboundedSender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("lease message")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Release {
            trunk: self.trunk,
            member: Arc::clone(&self.member),
        });
    }
}

/// What Redis said about a new call.
pub enum Acquired {
    Granted(Lease),
    /// The trunk's limit is reached cluster-wide.
    Full,
    /// Redis did not answer: apply `on_redis_down`.
    Down,
}

/// This node's side of the cluster-wide limits.
pub struct Leases {
    node_id: String,
    conn: ConnectionManager,
    ttl: Duration,
    pub on_down: OnRedisDown,
    up: AtomicBool,
    /// Wakes the keeper to probe soon after a call saw Redis fail.
    went_down: tokio::sync::Notify,
    tx: mpsc::UnboundedSender<Msg>,
    pub metrics: ClusterMetrics,
    acquire: redis::Script,
}

impl Leases {
    /// Connects lazily (a node starts while Redis is down) and starts the keeper.
    /// `None` when `[cluster]` names no Redis. Must run inside the runtime.
    pub fn start(
        settings: &ClusterSettings,
        metrics: ClusterMetrics,
    ) -> Result<Option<Arc<Leases>>, redis::RedisError> {
        let Some(url) = &settings.redis_url else {
            return Ok(None);
        };
        let client = redis::Client::open(url.as_str())?;
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, cfg)?;
        let (tx, rx) = mpsc::unbounded_channel();
        // Counted up until the first failure says otherwise (the keeper checks at once).
        metrics.redis_up.set(1);
        let leases = Arc::new(Leases {
            node_id: settings.node_id.clone(),
            conn,
            ttl: settings.lease_ttl,
            on_down: settings.on_redis_down,
            up: AtomicBool::new(true),
            went_down: tokio::sync::Notify::new(),
            tx,
            metrics,
            acquire: redis::Script::new(ACQUIRE),
        });
        tokio::spawn(keeper::run(Arc::clone(&leases), rx));
        Ok(Some(leases))
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Records a state change: the gauge and one log line per change.
    fn set_up(&self, up: bool) {
        if self.up.swap(up, Ordering::AcqRel) != up {
            self.metrics.redis_up.set(i64::from(up));
            if up {
                tracing::warn!(
                    node_id = %self.node_id,
                    "redis reachable again: call limits are cluster-wide (live leases re-asserted)"
                );
            } else {
                self.went_down.notify_one();
                tracing::warn!(
                    node_id = %self.node_id,
                    on_redis_down = ?self.on_down,
                    "redis unreachable: call limits follow on_redis_down"
                );
            }
        }
    }

    fn new_member(&self) -> Arc<str> {
        format!("{}:{}", self.node_id, Uuid::new_v4()).into()
    }

    /// One round trip: a lease on `trunk` unless `limit` unexpired ones are held.
    /// While Redis is known down this does not wait for it (the keeper probes).
    pub async fn acquire(&self, trunk: Uuid, limit: u32) -> Acquired {
        if !self.is_up() {
            return Acquired::Down;
        }
        let member = self.new_member();
        let mut conn = self.conn.clone();
        let mut inv = self.acquire.prepare_invoke();
        inv.key(trunk_key(&trunk))
            .arg(self.ttl.as_millis() as u64)
            .arg(limit)
            .arg(&*member);
        self.metrics.trip("acquire", 1);
        let r: Result<redis::RedisResult<i64>, _> =
            tokio::time::timeout(OP_TIMEOUT, inv.invoke_async(&mut conn)).await;
        match r {
            Ok(Ok(1)) => Acquired::Granted(self.hold(trunk, member)),
            Ok(Ok(_)) => Acquired::Full,
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "lease acquire failed");
                self.set_up(false);
                Acquired::Down
            }
            Err(_) => {
                self.set_up(false);
                Acquired::Down
            }
        }
    }

    /// A lease for a call admitted locally while Redis was down: the keeper
    /// adds it to Redis when Redis answers again.
    pub fn hold_local(&self, trunk: Uuid) -> Lease {
        let member = self.new_member();
        self.hold(trunk, member)
    }

    fn hold(&self, trunk: Uuid, member: Arc<str>) -> Lease {
        let _ = self.tx.send(Msg::Held {
            trunk,
            member: Arc::clone(&member),
        });
        Lease {
            trunk,
            member,
            tx: self.tx.clone(),
        }
    }
}
