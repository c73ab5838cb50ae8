//! The SQLite connection holding call logs: open (WAL, migrations), batch
//! insert, and the reads the REST API needs (`GET /v1/History/Logs/Calls` and
//! `GET /v1/History/Logs/Calls/{call_id}`).
//!
//! A [`CallLogStore`] is one connection: `Send`, not `Sync`. The writer thread
//! owns one; readers open their own (WAL lets them read while it writes).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, TransactionBehavior};
use uuid::Uuid;

use super::record::CallRecord;
use super::{schema, StoreError};
use crate::rfc3339::parse_rfc3339_ms;

/// The database file inside the data directory.
pub const DB_FILE: &str = "trunkgate.db";
/// At most this many records per query (the API's page size cap).
pub const MAX_QUERY_LIMIT: usize = 1000;
/// How long a statement waits for another connection's lock before failing
/// with `SQLITE_BUSY` (the writer then retries the batch).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Filters for listing call logs; every filter set must match.
#[derive(Debug, Clone, Default)]
pub struct CallLogQuery {
    /// RFC 3339; records with `start_time >= begin`.
    pub begin: Option<String>,
    /// RFC 3339; records with `start_time < end` (half-open, so adjacent
    /// windows neither overlap nor leave a gap).
    pub end: Option<String>,
    /// `"inbound"` or `"outbound"`.
    pub direction: Option<String>,
    /// Exact match on the From user.
    pub caller_no: Option<String>,
    /// Exact match on our side's number.
    pub api_no: Option<String>,
    pub trunk_id: Option<Uuid>,
    /// Records connected at least this many whole seconds
    /// (`connect_time_sec >= n`; the API's `connect_time`).
    pub min_connect_sec: Option<u64>,
    /// 0 means [`MAX_QUERY_LIMIT`]; larger values are capped to it.
    pub limit: usize,
    /// Paging: only records after this one in (start_time, id) order.
    pub after_id: Option<Uuid>,
}

impl CallLogQuery {
    /// The number of records the query returns at most.
    pub fn effective_limit(&self) -> usize {
        match self.limit {
            0 => MAX_QUERY_LIMIT,
            n => n.min(MAX_QUERY_LIMIT),
        }
    }
}

/// One SQLite connection to `data_dir/trunkgate.db`.
pub struct CallLogStore {
    conn: Connection,
    path: PathBuf,
    /// Written in each record's `node_id` column.
    node_id: Option<String>,
}

impl std::fmt::Debug for CallLogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLogStore")
            .field("path", &self.path)
            .finish()
    }
}

impl CallLogStore {
    /// Creates `data_dir` if needed, opens (or creates) `data_dir/trunkgate.db`
    /// in WAL mode with a busy timeout, and brings the schema up to date.
    ///
    /// `synchronous=NORMAL`: in WAL mode a committed batch survives a process
    /// crash; only a power loss can drop the last commits, an acceptable
    /// trade for logs written once per call.
    pub fn open(data_dir: &Path) -> Result<CallLogStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "call-log database is not in WAL mode");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        schema::migrate(&mut conn)?;
        Ok(CallLogStore {
            conn,
            path,
            node_id: None,
        })
    }

    /// Marks every record this connection writes with `node_id`.
    pub fn with_node_id(mut self, node_id: &str) -> CallLogStore {
        self.node_id = Some(node_id.to_string());
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes how long statements wait for a lock (default [`BUSY_TIMEOUT`]).
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        Ok(self.conn.busy_timeout(timeout)?)
    }

    /// The schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::user_version(&self.conn)
    }

    /// Inserts `recs` in one transaction: all or none. Every record is checked
    /// (`start_time` RFC 3339) before anything is written.
    pub fn insert(&mut self, recs: &[CallRecord]) -> Result<(), StoreError> {
        if recs.is_empty() {
            return Ok(());
        }
        let starts = recs
            .iter()
            .map(|r| {
                parse_rfc3339_ms(&r.start_time).ok_or(StoreError::InvalidRecord {
                    id: r.id,
                    rule: "start_time must be RFC 3339",
                })
            })
            .collect::<Result<Vec<i64>, StoreError>>()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO call_logs (id, call_id, start_ms, direction, caller_no, api_no, \
                 trunk_id, status, record, connect_sec, node_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            // One buffer for every record's JSON (SQLite copies what is
            // bound): a record with media quality is ~1.2 KB, which a fresh
            // String reaches through nine reallocations and copies.
            let mut json = Vec::with_capacity(2048);
            let (mut id, mut trunk) = ([0u8; 36], [0u8; 36]);
            for (r, start_ms) in recs.iter().zip(starts) {
                json.clear();
                serde_json::to_writer(&mut json, r)?;
                let json = std::str::from_utf8(&json).map_err(|_| StoreError::InvalidRecord {
                    id: r.id,
                    rule: "record must serialize to UTF-8",
                })?;
                stmt.execute(params![
                    &*r.id.hyphenated().encode_lower(&mut id),
                    r.call_id,
                    start_ms,
                    r.direction,
                    r.caller_no,
                    r.api_no,
                    r.trunk_id
                        .map(|t| &*t.hyphenated().encode_lower(&mut trunk)),
                    r.status.as_str(),
                    json,
                    // SQLite integers are i64; nobody is connected 2^63 s.
                    i64::try_from(r.connect_time_sec).unwrap_or(i64::MAX),
                    self.node_id,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes the records that started before `start_ms` (ms since the Unix
    /// epoch), in chunks of 10,000 so a big first prune never holds the write
    /// lock long. Returns how many were deleted.
    pub fn prune_before(&mut self, start_ms: i64) -> Result<u64, StoreError> {
        let mut total = 0u64;
        loop {
            let n = self.conn.execute(
                "DELETE FROM call_logs WHERE id IN \
                 (SELECT id FROM call_logs WHERE start_ms < ?1 LIMIT 10000)",
                params![start_ms],
            )?;
            total += n as u64;
            if n < 10_000 {
                return Ok(total);
            }
        }
    }

    /// The record of the call with this `call_id`; if a Call-ID was logged
    /// more than once, the one that started last.
    pub fn get(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let json: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT record FROM call_logs WHERE call_id = ?1 \
                 ORDER BY start_ms DESC, id DESC LIMIT 1",
            )?
            .query_row([call_id], |r| r.get(0))
            .optional()?;
        Ok(json.map(|j| serde_json::from_str(&j)).transpose()?)
    }

    /// Records matching `q`, oldest first (by start_time, then id), at most
    /// [`CallLogQuery::effective_limit`]. Invalid bounds, an unknown
    /// direction or an `after_id` that names no record are
    /// [`StoreError::InvalidQuery`].
    pub fn query(&self, q: &CallLogQuery) -> Result<Vec<CallRecord>, StoreError> {
        let mut sql = String::from("SELECT record FROM call_logs WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(begin) = &q.begin {
            sql.push_str(" AND start_ms >= ?");
            args.push(Value::Integer(bound("begin", begin)?));
        }
        if let Some(end) = &q.end {
            sql.push_str(" AND start_ms < ?");
            args.push(Value::Integer(bound("end", end)?));
        }
        if let Some(dir) = &q.direction {
            if dir != "inbound" && dir != "outbound" {
                return Err(StoreError::InvalidQuery {
                    field: "direction",
                    value: dir.clone(),
                    rule: "must be inbound or outbound",
                });
            }
            sql.push_str(" AND direction = ?");
            args.push(Value::Text(dir.clone()));
        }
        for (col, val) in [("caller_no", &q.caller_no), ("api_no", &q.api_no)] {
            if let Some(v) = val {
                sql.push_str(&format!(" AND {col} = ?"));
                args.push(Value::Text(v.clone()));
            }
        }
        if let Some(trunk) = q.trunk_id {
            sql.push_str(" AND trunk_id = ?");
            args.push(Value::Text(trunk.to_string()));
        }
        if let Some(n) = q.min_connect_sec.filter(|n| *n > 0) {
            sql.push_str(" AND connect_sec >= ?");
            args.push(Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)));
        }
        if let Some(after) = q.after_id {
            let start_ms: Option<i64> = self
                .conn
                .prepare_cached("SELECT start_ms FROM call_logs WHERE id = ?1")?
                .query_row([after.to_string()], |r| r.get(0))
                .optional()?;
            let start_ms = start_ms.ok_or_else(|| StoreError::InvalidQuery {
                field: "after_id",
                value: after.to_string(),
                rule: "must name a stored call log",
            })?;
            sql.push_str(" AND (start_ms, id) > (?, ?)");
            args.push(Value::Integer(start_ms));
            args.push(Value::Text(after.to_string()));
        }
        sql.push_str(" ORDER BY start_ms, id LIMIT ?");
        args.push(Value::Integer(q.effective_limit() as i64));
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            out.push(serde_json::from_str(&json?)?);
        }
        Ok(out)
    }

    /// How many records are stored.
    pub fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM call_logs", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn bound(field: &'static str, value: &str) -> Result<i64, StoreError> {
    parse_rfc3339_ms(value).ok_or_else(|| StoreError::InvalidQuery {
        field,
        value: value.to_string(),
        rule: "must be an RFC 3339 date-time",
    })
}

#[cfg(test)]
#[path = "db_tests.rs"]
pub(crate) mod tests;
