//! Call logs in PostgreSQL: the writer's sink ([`PgLogSink`], one batch =
//! one `INSERT … SELECT FROM UNNEST` statement, idempotent so a batch whose
//! commit was lost with the connection can be sent again) and the API's
//! reads, with the SQLite store's filters, order and paging.

use std::sync::Arc;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, NoTls};

use super::{Health, PgStore, OP_TIMEOUT};
use crate::rfc3339::parse_rfc3339_ms;
use crate::store::calllog::writer::LogSink;
use crate::store::{CallLogQuery, CallRecord, StoreError};

/// Column arrays of one batch, checked before anything is sent.
#[derive(Default)]
struct Rows {
    id: Vec<String>,
    call_id: Vec<String>,
    start_ms: Vec<i64>,
    direction: Vec<String>,
    caller_no: Vec<String>,
    api_no: Vec<String>,
    trunk_id: Vec<Option<String>>,
    status: Vec<String>,
    record: Vec<String>,
    connect_sec: Vec<i64>,
}

fn rows(recs: &[CallRecord]) -> Result<Rows, StoreError> {
    let mut r = Rows::default();
    for rec in recs {
        let start_ms = parse_rfc3339_ms(&rec.start_time).ok_or(StoreError::InvalidRecord {
            id: rec.id,
            rule: "start_time must be RFC 3339",
        })?;
        r.record.push(serde_json::to_string(rec)?);
        r.id.push(rec.id.to_string());
        r.call_id.push(rec.call_id.clone());
        r.start_ms.push(start_ms);
        r.direction.push(rec.direction.clone());
        r.caller_no.push(rec.caller_no.clone());
        r.api_no.push(rec.api_no.clone());
        r.trunk_id.push(rec.trunk_id.map(|t| t.to_string()));
        r.status.push(rec.status.as_str().to_string());
        r.connect_sec
            .push(i64::try_from(rec.connect_time_sec).unwrap_or(i64::MAX));
    }
    Ok(r)
}

/// One statement: all rows or none. A record already stored (same id: a
/// retry of a batch that committed before its connection broke) is skipped.
async fn insert_rows(c: &impl GenericClient, r: &Rows, node_id: &str) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO call_logs (id, call_id, start_ms, direction, caller_no, api_no, trunk_id, \
         status, record, connect_sec, node_id) \
         SELECT u.*, $11 FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::int8[]) AS u \
         ON CONFLICT (id) DO NOTHING",
        &[
            &r.id,
            &r.call_id,
            &r.start_ms,
            &r.direction,
            &r.caller_no,
            &r.api_no,
            &r.trunk_id,
            &r.status,
            &r.record,
            &r.connect_sec,
            &node_id,
        ],
    )
    .await?;
    Ok(())
}

fn timeout_error() -> StoreError {
    StoreError::Unavailable(format!("no answer within {} s", OP_TIMEOUT.as_secs()))
}

/// The call-log writer thread's connection to PostgreSQL: its own
/// single-threaded runtime and connection, opened on first use and again
/// after it breaks, so the thread never depends on the gateway's runtime.
pub struct PgLogSink {
    rt: tokio::runtime::Runtime,
    config: tokio_postgres::Config,
    client: Option<Client>,
    node_id: String,
    health: Arc<Health>,
}

impl PgLogSink {
    pub fn new(store: &PgStore) -> Result<PgLogSink, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("writer runtime: {e}")))?;
        Ok(PgLogSink {
            rt,
            config: tokio_postgres::Config::clone(&store.config),
            client: None,
            node_id: store.node_id.to_string(),
            health: Arc::clone(&store.health),
        })
    }

    fn run<T>(
        &mut self,
        op: impl for<'c> FnOnce(
            &'c Client,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, StoreError>> + 'c>,
        >,
    ) -> Result<T, StoreError> {
        let PgLogSink {
            rt, config, client, ..
        } = self;
        let r = rt.block_on(async {
            tokio::time::timeout(OP_TIMEOUT, async {
                if client.as_ref().is_none_or(Client::is_closed) {
                    let (c, conn) = config.connect(NoTls).await?;
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    *client = Some(c);
                }
                match client.as_ref() {
                    Some(c) => op(c).await,
                    None => Err(StoreError::Unavailable("no connection".into())),
                }
            })
            .await
            .unwrap_or_else(|_| Err(timeout_error()))
        });
        if r.as_ref().is_err_and(StoreError::is_unavailable) {
            self.client = None;
        }
        self.health.observe(&r);
        r
    }
}

/// A batch waits this long for more records: at 200 calls/s one statement
/// and one commit carry ~20 records instead of one each (measured with
/// benches/cluster-cpu.sh; README "Measured: cluster").
const LINGER: std::time::Duration = std::time::Duration::from_millis(100);

impl LogSink for PgLogSink {
    fn linger(&self) -> std::time::Duration {
        LINGER
    }

    fn insert(&mut self, recs: &[CallRecord]) -> Result<(), StoreError> {
        if recs.is_empty() {
            return Ok(());
        }
        let r = rows(recs)?;
        let node = self.node_id.clone();
        self.run(move |c| Box::pin(async move { insert_rows(c, &r, &node).await }))
    }

    fn prune_before(&mut self, start_ms: i64) -> Result<u64, StoreError> {
        self.run(move |c| {
            Box::pin(async move {
                let mut total = 0u64;
                loop {
                    let n = c
                        .execute(
                            "DELETE FROM call_logs WHERE id IN \
                             (SELECT id FROM call_logs WHERE start_ms < $1 LIMIT 10000)",
                            &[&start_ms],
                        )
                        .await?;
                    total += n;
                    if n < 10_000 {
                        return Ok(total);
                    }
                }
            })
        })
    }
}

/// A statement being built: each `?` in a clause becomes the next `$n`.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Sql {
    fn push(&mut self, clause: &str, v: impl ToSql + Sync + Send + 'static) {
        self.args.push(Box::new(v));
        self.text
            .push_str(&clause.replace('?', &format!("${}", self.args.len())));
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

fn bound(field: &'static str, value: &str) -> Result<i64, StoreError> {
    parse_rfc3339_ms(value).ok_or_else(|| StoreError::InvalidQuery {
        field,
        value: value.to_string(),
        rule: "must be an RFC 3339 date-time",
    })
}

impl PgStore {
    /// The record of the call with this `call_id` (the one that started
    /// last if it was logged more than once).
    pub async fn get_log(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        self.run(async {
            let c = self.client().await?;
            let row = c
                .query_opt(
                    "SELECT record FROM call_logs WHERE call_id = $1 \
                     ORDER BY start_ms DESC, id DESC LIMIT 1",
                    &[&call_id],
                )
                .await?;
            match row {
                Some(r) => Ok(Some(serde_json::from_str(r.try_get::<_, &str>(0)?)?)),
                None => Ok(None),
            }
        })
        .await
    }

    /// Records matching `q`, as `CallLogStore::query` returns them.
    pub async fn query_logs(&self, q: &CallLogQuery) -> Result<Vec<CallRecord>, StoreError> {
        let mut sql = Sql {
            text: "SELECT record FROM call_logs WHERE TRUE".into(),
            args: Vec::new(),
        };
        if let Some(begin) = &q.begin {
            sql.push(" AND start_ms >= ?", bound("begin", begin)?);
        }
        if let Some(end) = &q.end {
            sql.push(" AND start_ms < ?", bound("end", end)?);
        }
        if let Some(dir) = &q.direction {
            if dir != "inbound" && dir != "outbound" {
                return Err(StoreError::InvalidQuery {
                    field: "direction",
                    value: dir.clone(),
                    rule: "must be inbound or outbound",
                });
            }
            sql.push(" AND direction = ?", dir.clone());
        }
        if let Some(v) = &q.caller_no {
            sql.push(" AND caller_no = ?", v.clone());
        }
        if let Some(v) = &q.api_no {
            sql.push(" AND api_no = ?", v.clone());
        }
        if let Some(t) = q.trunk_id {
            sql.push(" AND trunk_id = ?", t.to_string());
        }
        if let Some(n) = q.min_connect_sec.filter(|n| *n > 0) {
            sql.push(
                " AND connect_sec >= ?",
                i64::try_from(n).unwrap_or(i64::MAX),
            );
        }
        let after = q.after_id.map(|a| a.to_string());
        let limit = q.effective_limit() as i64;
        self.run(async move {
            let c = self.client().await?;
            if let Some(after) = after {
                let row = c
                    .query_opt("SELECT start_ms FROM call_logs WHERE id = $1", &[&after])
                    .await?;
                let start_ms: i64 = match row {
                    Some(r) => r.try_get(0)?,
                    None => {
                        return Err(StoreError::InvalidQuery {
                            field: "after_id",
                            value: after,
                            rule: "must name a stored call log",
                        })
                    }
                };
                sql.push(" AND (start_ms, id) > (?, ", start_ms);
                sql.push("?)", after);
            }
            sql.push(" ORDER BY start_ms, id LIMIT ?", limit);
            let mut out = Vec::new();
            for r in c.query(&sql.text, &sql.params()).await? {
                out.push(serde_json::from_str(r.try_get::<_, &str>(0)?)?);
            }
            Ok(out)
        })
        .await
    }
}
