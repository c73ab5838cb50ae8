//! SQL for the trunk and number tables (schema migration 2).

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use uuid::Uuid;

use super::{EditError, StoredNumber, StoredTrunk, TrunkSet};
use crate::config::{Assignment, Number, Trunk};
use crate::store::calllog::db::{BUSY_TIMEOUT, DB_FILE};
use crate::store::calllog::schema;
use crate::store::StoreError;

/// Opens `data_dir/trunkgate.db` like the call-log store does: creates the
/// directory, WAL, `synchronous=NORMAL`, busy timeout, migrations.
pub fn open_connection(data_dir: &Path) -> Result<(Connection, PathBuf), StoreError> {
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
        tracing::warn!(path = %path.display(), mode, "database is not in WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    schema::migrate(&mut conn)?;
    Ok((conn, path))
}

fn bad_row(what: &'static str) -> impl Fn(String) -> StoreError {
    move |value| StoreError::InvalidQuery {
        field: what,
        value,
        rule: "stored value does not parse",
    }
}

fn trunk_row(body: &str, created_ms: i64, updated_ms: i64) -> Result<StoredTrunk, StoreError> {
    Ok(StoredTrunk {
        trunk: serde_json::from_str(body)?,
        created_ms,
        updated_ms,
    })
}

pub fn load(conn: &Connection) -> Result<TrunkSet, StoreError> {
    let mut set = TrunkSet::default();
    let mut stmt = conn.prepare_cached(
        "SELECT body, created_ms, updated_ms FROM trunks ORDER BY created_ms, trunk_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (body, c, u) = row?;
        set.trunks.push(trunk_row(&body, c, u)?);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT no, assigned_to, description, created_ms, updated_ms FROM numbers ORDER BY no",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (no, a, description, created_ms, updated_ms) = row?;
        let assigned_to = a.parse::<Assignment>().map_err(bad_row("assigned_to"))?;
        set.numbers.push(StoredNumber {
            number: Number {
                no,
                assigned_to,
                description,
            },
            created_ms,
            updated_ms,
        });
    }
    Ok(set)
}

pub fn trunk(conn: &Connection, id: Uuid) -> Result<Option<StoredTrunk>, StoreError> {
    let row = conn
        .prepare_cached("SELECT body, created_ms, updated_ms FROM trunks WHERE trunk_id = ?1")?
        .query_row([id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .optional()?;
    row.map(|(b, c, u)| trunk_row(&b, c, u)).transpose()
}

pub fn seed_once(
    conn: &mut Connection,
    trunks: &[Trunk],
    numbers: &[Number],
    now: i64,
) -> Result<bool, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let seeded: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = 'seeded'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if seeded.is_some() {
        return Ok(false);
    }
    for t in trunks {
        put_trunk(&tx, t, now, now)?;
    }
    for n in numbers {
        put_number(&tx, n, now, now)?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('seeded', ?1)",
        [crate::rfc3339::format_ms(now)],
    )?;
    tx.commit()?;
    Ok(true)
}

fn put_trunk(tx: &Transaction, t: &Trunk, created: i64, updated: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO trunks (trunk_id, created_ms, updated_ms, body) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (trunk_id) DO UPDATE SET updated_ms = excluded.updated_ms, body = excluded.body",
    )?
    .execute(params![
        t.trunk_id.to_string(),
        created,
        updated,
        serde_json::to_string(t)?
    ])?;
    Ok(())
}

fn put_number(tx: &Transaction, n: &Number, created: i64, updated: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO numbers (no, assigned_to, description, created_ms, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (no) DO UPDATE SET \
         assigned_to = excluded.assigned_to, description = excluded.description, \
         updated_ms = excluded.updated_ms",
    )?
    .execute(params![
        n.no,
        n.assigned_to.to_string(),
        n.description,
        created,
        updated
    ])?;
    Ok(())
}

pub fn edit<T, E>(
    conn: &mut Connection,
    now: i64,
    change: impl FnOnce(&mut TrunkSet) -> Result<T, E>,
) -> Result<(T, TrunkSet), EditError<E>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    let before = load(&tx)?;
    let (value, after, plan) = super::plan::prepare(&before, now, change)?;
    for (t, created, updated) in &plan.put_trunks {
        put_trunk(&tx, t, *created, *updated)?;
    }
    for id in &plan.delete_trunks {
        tx.execute("DELETE FROM trunks WHERE trunk_id = ?1", [id.to_string()])
            .map_err(StoreError::from)?;
    }
    for (n, created, updated) in &plan.put_numbers {
        put_number(&tx, n, *created, *updated)?;
    }
    for no in &plan.delete_numbers {
        tx.execute("DELETE FROM numbers WHERE no = ?1", [no])
            .map_err(StoreError::from)?;
    }
    tx.commit().map_err(StoreError::from)?;
    Ok((value, after))
}
