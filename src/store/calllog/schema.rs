//! The database schema, versioned in code: migration N brings the database
//! from `PRAGMA user_version` N-1 to N. Migrations are append-only; a shipped
//! migration is never edited. A database newer than this build is refused
//! rather than written with an older idea of its shape.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Migration 1: the call log. The filterable fields are columns; `record` is
/// the full JSON so the API shape round-trips exactly. `start_ms` (milliseconds
/// since the Unix epoch) orders and filters by time whatever offset the
/// RFC 3339 string was written with; `id` breaks ties for paging.
const M1_CALL_LOGS: &str = "
CREATE TABLE call_logs (
    id         TEXT    NOT NULL PRIMARY KEY,
    call_id    TEXT    NOT NULL,
    start_ms   INTEGER NOT NULL,
    direction  TEXT    NOT NULL,
    caller_no  TEXT    NOT NULL,
    api_no     TEXT    NOT NULL,
    trunk_id   TEXT,
    status     TEXT    NOT NULL,
    record     TEXT    NOT NULL
);
CREATE INDEX call_logs_start_time ON call_logs (start_ms, id);
CREATE INDEX call_logs_call_id    ON call_logs (call_id);
CREATE INDEX call_logs_direction  ON call_logs (direction, start_ms, id);
";

/// Migration 2: trunks and numbers (the REST API's resources, see
/// `store::trunks`). A trunk is stored as its JSON (`config::Trunk`, the API
/// shape) with its id and timestamps as columns; `meta` holds one-time flags
/// such as `seeded` (the config's trunks/numbers were imported once).
const M2_TRUNKS_NUMBERS: &str = "
CREATE TABLE trunks (
    trunk_id   TEXT    NOT NULL PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    body       TEXT    NOT NULL
);
CREATE TABLE numbers (
    no          TEXT    NOT NULL PRIMARY KEY,
    assigned_to TEXT    NOT NULL,
    description TEXT,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX numbers_assigned_to ON numbers (assigned_to, no);
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Migration 3: `connect_time_sec` becomes the spec's "number of seconds the
/// call was connected" (an integer; 0 when never answered). Records before
/// it held seconds from start to answer (a float, or null when unanswered):
/// each is rewritten as `duration / 1000 - that` (whole seconds, at least 0;
/// null becomes 0). `connect_sec` carries it as a column for the API's
/// `connect_time` filter (records with at least that many seconds).
const M3_CONNECT_SECONDS: &str = "
ALTER TABLE call_logs ADD COLUMN connect_sec INTEGER NOT NULL DEFAULT 0;
UPDATE call_logs SET record = json_set(record, '$.connect_time_sec',
    CASE WHEN json_type(record, '$.connect_time_sec') IN ('integer', 'real')
         THEN max(0, CAST(json_extract(record, '$.duration') / 1000.0
                          - json_extract(record, '$.connect_time_sec') AS INTEGER))
         ELSE 0 END);
UPDATE call_logs SET connect_sec = json_extract(record, '$.connect_time_sec');
CREATE INDEX call_logs_connect_sec ON call_logs (connect_sec, start_ms, id);
";

/// Migration 4: the node that wrote each record (`[cluster] node_id`; with
/// the shared PostgreSQL store, records of every node share the table).
/// Null for records written before it.
const M4_NODE_ID: &str = "ALTER TABLE call_logs ADD COLUMN node_id TEXT;";

/// Every migration, in order; index i brings `user_version` from i to i+1.
/// `store::pg::schema` holds the same list in PostgreSQL's dialect.
pub const MIGRATIONS: &[&str] = &[
    M1_CALL_LOGS,
    M2_TRUNKS_NUMBERS,
    M3_CONNECT_SECONDS,
    M4_NODE_ID,
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// The database's `PRAGMA user_version`.
pub fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Applies every migration the database has not seen, each in its own
/// IMMEDIATE transaction (so two processes opening the same file at once
/// cannot both apply one: the second waits, then sees the new version).
pub fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    let known = latest_version();
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = user_version(&tx)?;
        if !(0..=known).contains(&found) {
            return Err(StoreError::SchemaTooNew { found, known });
        }
        let Some(sql) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            return Ok(found);
        };
        tx.execute_batch(sql)?;
        // PRAGMA takes no bound parameters; `found + 1` is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", found + 1))?;
        tx.commit()?;
        tracing::info!(version = found + 1, "store schema migrated");
    }
}
