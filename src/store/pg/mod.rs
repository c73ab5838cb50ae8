//! The shared PostgreSQL store (`[store] url`): the same tables and
//! migrations as the SQLite file, for several nodes at once.
//!
//! ```text
//!  start ── one connection: pg_advisory_lock ─► migrate ─► seed once ─► unlock
//!  REST API ── pool (deadpool) ──► edit: advisory xact lock, load, change,
//!                                  validate, write the plan, commit
//!                                    └─ trigger: NOTIFY trunkgate_routing
//!  every node ── follow task: LISTEN trunkgate_routing ─► load ─► routing snapshot
//!                (and a full reload every 30 s, and after every reconnect)
//!  call-log writer thread ── own connection, own runtime ──► INSERT … UNNEST
//! ```
//!
//! While PostgreSQL cannot be reached, calls route on the last snapshot, the
//! writer keeps its records queued (retrying) and the API answers 503; the
//! [`Health`] flag (`trunkgate_store_up`, `/health/ready`) says so. The URL
//! may hold a password: it is never logged (see [`describe`]).

mod calllog;
mod follow;
mod schema;
mod trunks;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use prometheus_client::metrics::gauge::Gauge;
use tokio_postgres::NoTls;

use super::StoreError;

pub use calllog::PgLogSink;
pub use follow::{follow, Routing};
pub use schema::MIGRATIONS;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an API request waits for a pooled connection, and for its
/// statements, before it answers 503.
pub const OP_TIMEOUT: Duration = Duration::from_secs(5);
/// Pooled connections per node (the API's; the writer and the follow task
/// have their own).
const POOL_SIZE: usize = 8;
/// The channel every trunk or number change is announced on (by a trigger).
pub const CHANNEL: &str = "trunkgate_routing";

/// Whether the store answers: `trunkgate_store_up` and `/health/ready`.
/// One log line per change of state.
#[derive(Debug, Default)]
pub struct Health {
    up: AtomicBool,
    gauge: Gauge,
}

impl Health {
    /// Up until an operation says otherwise: the gateway starts only after
    /// the store answered (migrations, seed, first load).
    pub fn new(gauge: Gauge) -> Arc<Health> {
        gauge.set(1);
        Arc::new(Health {
            up: AtomicBool::new(true),
            gauge,
        })
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Records the outcome of a store operation: success is up, an
    /// unavailable store is down, any other error says nothing.
    pub fn observe<T>(&self, r: &Result<T, StoreError>) {
        match r {
            Ok(_) => self.set(true),
            Err(e) if e.is_unavailable() => self.set(false),
            Err(_) => {}
        }
    }

    pub fn set(&self, up: bool) {
        self.gauge.set(i64::from(up));
        if self.up.swap(up, Ordering::AcqRel) != up {
            if up {
                tracing::warn!("postgres store reachable again");
            } else {
                tracing::warn!("postgres store unreachable: routing on the last snapshot, call logs queued, API answers 503");
            }
        }
    }
}

/// A handle to the shared store: the API's connection pool and the node's
/// id. Cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    config: Arc<tokio_postgres::Config>,
    node_id: Arc<str>,
    health: Arc<Health>,
    /// Held from a load to the snapshot swap (API writes and the follow
    /// task), so a node never swaps in a set older than one it already has.
    routing_gate: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("server", &describe(&self.config))
            .field("node_id", &self.node_id)
            .finish()
    }
}

/// `host:port/dbname` of a URL's config, for logs: no user, no password.
pub fn describe(c: &tokio_postgres::Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_default();
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", c.get_dbname().unwrap_or(""))
}

/// Parses a `postgres://` URL (validated with the config) and sets the
/// connect timeout and the application name.
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut c: tokio_postgres::Config = url
        .parse()
        .map_err(|_| StoreError::Unavailable("store.url is not a valid postgres URL".into()))?;
    c.connect_timeout(CONNECT_TIMEOUT)
        .application_name("trunkgate")
        .keepalives_idle(Duration::from_secs(30));
    Ok(c)
}

/// True when `e` says the server could not be reached or dropped the
/// connection (SQLSTATE classes 08 connection, 57P operator intervention,
/// 53 insufficient resources; serialization failures and deadlocks) rather
/// than that it refused the statement.
pub fn is_connection_error(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08")
            || c.starts_with("57P")
            || c.starts_with("53")
            || c == "40001"
            || c == "40P01";
    }
    let text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    text.starts_with("error connecting to server")
        || text.starts_with("error communicating with the server")
        || text.starts_with("timeout waiting for server")
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

impl PgStore {
    /// Builds the pool (connections are opened on first use) for `url`.
    pub fn new(url: &str, node_id: &str, health: Arc<Health>) -> Result<PgStore, StoreError> {
        let config = parse_url(url)?;
        let mgr = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(OP_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("postgres pool: {e}")))?;
        Ok(PgStore {
            pool,
            config: Arc::new(config),
            node_id: node_id.into(),
            health,
            routing_gate: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The gate held from a load (or a commit) to the snapshot swap.
    pub fn routing_gate(&self) -> &tokio::sync::Mutex<()> {
        &self.routing_gate
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Runs `op` with at most [`OP_TIMEOUT`] and records the outcome in
    /// [`Health`].
    async fn run<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let r = match tokio::time::timeout(OP_TIMEOUT, op).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {} s",
                OP_TIMEOUT.as_secs()
            ))),
        };
        self.health.observe(&r);
        r
    }

    /// Brings the schema up to date and imports the config's trunks and
    /// numbers if the store was never seeded, on one connection holding
    /// `pg_advisory_lock` (so nodes starting together take turns; the lock
    /// goes with the connection, whatever happens). Returns whether it seeded.
    pub async fn init(
        &self,
        trunks: &[crate::config::Trunk],
        numbers: &[crate::config::Number],
    ) -> Result<bool, StoreError> {
        let (mut client, conn) = self.config.connect(NoTls).await?;
        let task = tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "postgres init connection ended");
            }
        });
        let r = async {
            client
                .execute("SELECT pg_advisory_lock($1)", &[&schema::INIT_LOCK])
                .await?;
            schema::migrate(&mut client).await?;
            trunks::seed_once(&mut client, trunks, numbers, super::trunks::now_ms()).await
        }
        .await;
        drop(client);
        let _ = task.await;
        self.health.observe(&r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_of_a_url_never_holds_its_credentials() {
        let c = parse_url("postgres://trunkgate:hunter2@db.example:6543/calls").unwrap();
        let d = describe(&c);
        assert_eq!(d, "db.example:6543/calls");
        let store = PgStore::new(
            "postgresql://u:hunter2@127.0.0.1/x",
            "sbc-a",
            Health::new(Gauge::default()),
        )
        .unwrap();
        assert!(!format!("{store:?}").contains("hunter2"));
        assert!(matches!(
            parse_url("not a url"),
            Err(StoreError::Unavailable(_))
        ));
    }

    #[test]
    fn health_follows_outcomes_and_ignores_refused_statements() {
        let gauge = Gauge::default();
        let h = Health::new(gauge.clone());
        assert!(h.is_up());
        assert_eq!(gauge.get(), 1);
        h.observe::<()>(&Err(StoreError::Unavailable("down".into())));
        assert!(!h.is_up());
        assert_eq!(gauge.get(), 0);
        h.observe::<()>(&Err(StoreError::InvalidQuery {
            field: "f",
            value: String::new(),
            rule: "r",
        }));
        assert!(
            !h.is_up(),
            "a refused statement says nothing about reachability"
        );
        h.observe(&Ok(()));
        assert!(h.is_up());
        assert_eq!(gauge.get(), 1);
    }
}
