//! Trunks and phone numbers: the REST API's resources, kept in the same
//! SQLite file as the call logs (`data_dir/trunkgate.db`, schema migration 2).
//!
//! Every change is an [`TrunkStore::edit`]: one `BEGIN IMMEDIATE` transaction
//! that reads the whole set, lets the caller change it in memory, checks the
//! result with [`validate_trunk_set`] (the same rules as the config file) and
//! writes back what differs. IMMEDIATE takes the write lock before the read,
//! so two writers (two API requests, two processes) serialize: neither can
//! base its change on a state the other is replacing, and no update is lost.
//!
//! Seeding: the config file's trunks and numbers are imported once, on the
//! first start ([`TrunkStore::seed_once`], flag `seeded` in `meta`); after
//! that the store is the source of truth.
//!
//! A [`TrunkStore`] is one connection: `Send`, not `Sync`.

mod db;
pub mod plan;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use uuid::Uuid;

use crate::config::{validate_trunk_set, FieldError, Number, Trunk};

use super::StoreError;

pub use db::open_connection;

/// A trunk with its timestamps (milliseconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTrunk {
    pub trunk: Trunk,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A phone number with its timestamps (milliseconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNumber {
    pub number: Number,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Every trunk and number, as one consistent read. Trunks in creation order,
/// numbers by number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrunkSet {
    pub trunks: Vec<StoredTrunk>,
    pub numbers: Vec<StoredNumber>,
}

impl TrunkSet {
    pub fn trunk(&self, id: Uuid) -> Option<&StoredTrunk> {
        self.trunks.iter().find(|t| t.trunk.trunk_id == id)
    }

    pub fn trunk_mut(&mut self, id: Uuid) -> Option<&mut StoredTrunk> {
        self.trunks.iter_mut().find(|t| t.trunk.trunk_id == id)
    }

    pub fn number_mut(&mut self, no: &str) -> Option<&mut StoredNumber> {
        self.numbers.iter_mut().find(|n| n.number.no == no)
    }

    /// The routing tables' inputs: plain trunks and numbers.
    pub fn routing(&self) -> (Vec<Trunk>, Vec<Number>) {
        (
            self.trunks.iter().map(|t| t.trunk.clone()).collect(),
            self.numbers.iter().map(|n| n.number.clone()).collect(),
        )
    }

    /// Checks the whole set with the config's rules, normalising in place.
    /// Field keys are `trunks[i]…` / `numbers[i]…` in this set's order.
    pub fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut trunks: Vec<Trunk> = self.trunks.iter().map(|t| t.trunk.clone()).collect();
        let numbers: Vec<Number> = self.numbers.iter().map(|n| n.number.clone()).collect();
        validate_trunk_set(&mut trunks, &numbers)?;
        for (s, t) in self.trunks.iter_mut().zip(trunks) {
            s.trunk = t;
        }
        Ok(())
    }
}

/// Why an [`TrunkStore::edit`] did not commit.
#[derive(Debug, thiserror::Error)]
pub enum EditError<E> {
    /// The caller's closure refused the change.
    #[error("change refused")]
    Refused(E),
    /// The changed set breaks a rule (the store's own last check).
    #[error("invalid trunk set: {}", .0.first().map(|f| format!("{}: {}", f.field, f.rule)).unwrap_or_default())]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One SQLite connection to the trunk and number tables.
pub struct TrunkStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for TrunkStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrunkStore")
            .field("path", &self.path)
            .finish()
    }
}

impl TrunkStore {
    /// Opens (or creates) `data_dir/trunkgate.db` in WAL mode and brings the
    /// schema up to date (the same migrations as the call-log store).
    pub fn open(data_dir: &Path) -> Result<TrunkStore, StoreError> {
        let (conn, path) = open_connection(data_dir)?;
        Ok(TrunkStore { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Imports `trunks` and `numbers` if this database has never been seeded,
    /// then marks it seeded. Returns true when it imported. The caller has
    /// validated them (they come from a validated config).
    pub fn seed_once(&mut self, trunks: &[Trunk], numbers: &[Number]) -> Result<bool, StoreError> {
        db::seed_once(&mut self.conn, trunks, numbers, now_ms())
    }

    /// Every trunk and number.
    pub fn load(&self) -> Result<TrunkSet, StoreError> {
        db::load(&self.conn)
    }

    /// One trunk.
    pub fn trunk(&self, id: Uuid) -> Result<Option<StoredTrunk>, StoreError> {
        db::trunk(&self.conn, id)
    }

    /// Changes the set in one IMMEDIATE transaction: reads it, runs `change`,
    /// validates the result, writes what differs (new/changed rows get
    /// `updated_ms` = now; `created_ms` is kept) and commits. Returns the
    /// closure's value and the committed set.
    pub fn edit<T, E>(
        &mut self,
        change: impl FnOnce(&mut TrunkSet) -> Result<T, E>,
    ) -> Result<(T, TrunkSet), EditError<E>> {
        db::edit(&mut self.conn, now_ms(), change)
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    crate::rfc3339::system_time_ms(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests;
