//! The PostgreSQL schema: the SQLite migrations (`calllog::schema`) in
//! PostgreSQL's dialect, index for index, so version N means the same tables
//! in both. The version lives in `trunkgate_schema` (PostgreSQL has no
//! `user_version`); migrations run under `pg_advisory_lock(INIT_LOCK)`, each
//! in its own transaction with its version bump.

use tokio_postgres::Client;

use crate::store::calllog::schema as sqlite;
use crate::store::StoreError;

/// The advisory lock key held while migrating and seeding ("tgat" in ASCII).
pub const INIT_LOCK: i64 = 0x7467_6174;
/// The advisory transaction lock serializing trunk/number edits across nodes.
pub const EDIT_LOCK: i64 = 0x7467_6175;

/// Migration 1. `id` compares bytewise (`COLLATE "C"`) like SQLite's TEXT,
/// so the paging order (start_ms, id) is the same on both stores whatever
/// the database's locale.
const M1_CALL_LOGS: &str = "
CREATE TABLE call_logs (
    id         TEXT   COLLATE \"C\" NOT NULL PRIMARY KEY,
    call_id    TEXT   NOT NULL,
    start_ms   BIGINT NOT NULL,
    direction  TEXT   NOT NULL,
    caller_no  TEXT   NOT NULL,
    api_no     TEXT   NOT NULL,
    trunk_id   TEXT,
    status     TEXT   NOT NULL,
    record     TEXT   NOT NULL
);
CREATE INDEX call_logs_start_time ON call_logs (start_ms, id);
CREATE INDEX call_logs_call_id    ON call_logs (call_id);
CREATE INDEX call_logs_direction  ON call_logs (direction, start_ms, id);
";

/// Migration 2, plus what only PostgreSQL has: a statement trigger on both
/// tables that announces every change on [`super::CHANNEL`] (at commit; a
/// transaction's identical notifications are delivered once). Any writer,
/// a node's API or an operator's SQL, reaches every node's snapshot.
const M2_TRUNKS_NUMBERS: &str = "
CREATE TABLE trunks (
    trunk_id   TEXT   NOT NULL PRIMARY KEY,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    body       TEXT   NOT NULL
);
CREATE TABLE numbers (
    no          TEXT   NOT NULL PRIMARY KEY,
    assigned_to TEXT   NOT NULL,
    description TEXT,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX numbers_assigned_to ON numbers (assigned_to, no);
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE FUNCTION trunkgate_routing_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trunkgate_routing', '');
    RETURN NULL;
END $$;
CREATE TRIGGER trunks_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON trunks
    FOR EACH STATEMENT EXECUTE FUNCTION trunkgate_routing_changed();
CREATE TRIGGER numbers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON numbers
    FOR EACH STATEMENT EXECUTE FUNCTION trunkgate_routing_changed();
";

/// Migration 3: the `connect_sec` column. SQLite's migration 3 also rewrote
/// records written before it; no PostgreSQL store predates it (this store
/// was introduced at schema 4), so there is nothing to rewrite.
const M3_CONNECT_SECONDS: &str = "
ALTER TABLE call_logs ADD COLUMN connect_sec BIGINT NOT NULL DEFAULT 0;
CREATE INDEX call_logs_connect_sec ON call_logs (connect_sec, start_ms, id);
";

/// Migration 4: the node that wrote each call-log record (`[cluster] node_id`).
const M4_NODE_ID: &str = "ALTER TABLE call_logs ADD COLUMN node_id TEXT;";

/// Every migration, in order, aligned with the SQLite list.
pub const MIGRATIONS: &[&str] = &[
    M1_CALL_LOGS,
    M2_TRUNKS_NUMBERS,
    M3_CONNECT_SECONDS,
    M4_NODE_ID,
];

/// Applies what the database has not seen. The caller holds [`INIT_LOCK`].
pub async fn migrate(client: &mut Client) -> Result<i64, StoreError> {
    let known = sqlite::latest_version();
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS trunkgate_schema (version BIGINT NOT NULL)")
        .await?;
    loop {
        let tx = client.transaction().await?;
        let found: i64 = match tx
            .query_opt("SELECT version FROM trunkgate_schema", &[])
            .await?
        {
            Some(row) => row.try_get(0)?,
            None => {
                tx.execute("INSERT INTO trunkgate_schema (version) VALUES (0)", &[])
                    .await?;
                0
            }
        };
        if !(0..=known).contains(&found) {
            return Err(StoreError::SchemaTooNew { found, known });
        }
        let Some(sql) = usize::try_from(found).ok().and_then(|i| MIGRATIONS.get(i)) else {
            return Ok(found);
        };
        tx.batch_execute(sql).await?;
        tx.execute("UPDATE trunkgate_schema SET version = $1", &[&(found + 1)])
            .await?;
        tx.commit().await?;
        tracing::info!(version = found + 1, "postgres store schema migrated");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_postgres_migration_per_sqlite_migration() {
        assert_eq!(super::MIGRATIONS.len(), super::sqlite::MIGRATIONS.len());
    }
}
