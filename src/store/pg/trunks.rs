//! Trunks and numbers in PostgreSQL: the same rows as the SQLite store
//! (`store::trunks::db`), the same edit plan (`store::trunks::plan`).
//! Edits from every node serialize on an advisory transaction lock, so none
//! is based on a set another is replacing; the table triggers announce the
//! commit on [`super::CHANNEL`].

use tokio_postgres::{GenericClient, IsolationLevel};

use super::schema::EDIT_LOCK;
use super::PgStore;
use crate::config::{Assignment, Number, Trunk};
use crate::store::trunks::plan::prepare;
use crate::store::{EditError, StoreError, StoredNumber, StoredTrunk, TrunkSet};

fn bad_row(what: &'static str) -> impl Fn(String) -> StoreError {
    move |value| StoreError::InvalidQuery {
        field: what,
        value,
        rule: "stored value does not parse",
    }
}

/// Every trunk and number, in the SQLite store's order.
pub(super) async fn load(c: &impl GenericClient) -> Result<TrunkSet, StoreError> {
    let mut set = TrunkSet::default();
    for r in c
        .query(
            "SELECT body, created_ms, updated_ms FROM trunks ORDER BY created_ms, trunk_id",
            &[],
        )
        .await?
    {
        let body: String = r.try_get(0)?;
        set.trunks.push(StoredTrunk {
            trunk: serde_json::from_str(&body)?,
            created_ms: r.try_get(1)?,
            updated_ms: r.try_get(2)?,
        });
    }
    for r in c
        .query(
            "SELECT no, assigned_to, description, created_ms, updated_ms FROM numbers ORDER BY no",
            &[],
        )
        .await?
    {
        let a: String = r.try_get(1)?;
        set.numbers.push(StoredNumber {
            number: Number {
                no: r.try_get(0)?,
                assigned_to: a.parse::<Assignment>().map_err(bad_row("assigned_to"))?,
                description: r.try_get(2)?,
            },
            created_ms: r.try_get(3)?,
            updated_ms: r.try_get(4)?,
        });
    }
    Ok(set)
}

async fn put_trunk(
    c: &impl GenericClient,
    t: &Trunk,
    created: i64,
    updated: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO trunks (trunk_id, created_ms, updated_ms, body) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (trunk_id) DO UPDATE SET updated_ms = excluded.updated_ms, body = excluded.body",
        &[
            &t.trunk_id.to_string(),
            &created,
            &updated,
            &serde_json::to_string(t)?,
        ],
    )
    .await?;
    Ok(())
}

async fn put_number(
    c: &impl GenericClient,
    n: &Number,
    created: i64,
    updated: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO numbers (no, assigned_to, description, created_ms, updated_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (no) DO UPDATE SET \
         assigned_to = excluded.assigned_to, description = excluded.description, \
         updated_ms = excluded.updated_ms",
        &[
            &n.no,
            &n.assigned_to.to_string(),
            &n.description,
            &created,
            &updated,
        ],
    )
    .await?;
    Ok(())
}

/// Imports the config's trunks and numbers unless `meta` says `seeded`.
/// The caller holds the init lock.
pub(super) async fn seed_once(
    client: &mut tokio_postgres::Client,
    trunks: &[Trunk],
    numbers: &[Number],
    now: i64,
) -> Result<bool, StoreError> {
    let tx = client.transaction().await?;
    if tx
        .query_opt("SELECT value FROM meta WHERE key = 'seeded'", &[])
        .await?
        .is_some()
    {
        return Ok(false);
    }
    for t in trunks {
        put_trunk(&tx, t, now, now).await?;
    }
    for n in numbers {
        put_number(&tx, n, now, now).await?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('seeded', $1)",
        &[&crate::rfc3339::format_ms(now)],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

impl PgStore {
    /// Every trunk and number, as one consistent read.
    pub async fn load(&self) -> Result<TrunkSet, StoreError> {
        self.run(async {
            let mut c = self.client().await?;
            let tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let set = load(&*tx).await?;
            tx.commit().await?;
            Ok(set)
        })
        .await
    }

    /// Changes the set in one transaction, like `TrunkStore::edit`: the
    /// advisory lock serializes edits from every node, then load, change,
    /// validate, write the plan, commit (the trigger notifies every node).
    pub async fn edit<T, E>(
        &self,
        now: i64,
        change: impl FnOnce(&mut TrunkSet) -> Result<T, E>,
    ) -> Result<(T, TrunkSet), EditError<E>> {
        let mut refused = None;
        let r = self
            .run(async {
                let mut c = self.client().await?;
                let tx = c.transaction().await?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EDIT_LOCK])
                    .await?;
                let before = load(&*tx).await?;
                let (value, after, plan) = match prepare(&before, now, change) {
                    Ok(p) => p,
                    Err(EditError::Store(e)) => return Err(e),
                    Err(e) => {
                        refused = Some(e);
                        return Ok(None);
                    }
                };
                for (t, created, updated) in &plan.put_trunks {
                    put_trunk(&*tx, t, *created, *updated).await?;
                }
                for id in &plan.delete_trunks {
                    tx.execute("DELETE FROM trunks WHERE trunk_id = $1", &[&id.to_string()])
                        .await?;
                }
                for (n, created, updated) in &plan.put_numbers {
                    put_number(&*tx, n, *created, *updated).await?;
                }
                for no in &plan.delete_numbers {
                    tx.execute("DELETE FROM numbers WHERE no = $1", &[no])
                        .await?;
                }
                tx.commit().await?;
                Ok(Some((value, after)))
            })
            .await;
        match (r, refused) {
            (_, Some(e)) => Err(e),
            (Ok(Some(v)), None) => Ok(v),
            (Ok(None), None) => Err(EditError::Store(StoreError::Unavailable(
                "edit ended without a result".into(),
            ))),
            (Err(e), None) => Err(EditError::Store(e)),
        }
    }
}
