//! Call logs: the record ([`record`]), its table and migrations ([`schema`]),
//! the SQLite connection that reads and writes it ([`db`]) and the off-path
//! writer thread ([`writer`]).

pub mod db;
pub mod record;
pub mod schema;
pub mod writer;

pub use db::{CallLogQuery, CallLogStore, DB_FILE, MAX_QUERY_LIMIT};
pub use record::{CallRecord, CallStatus, RecordingRef, SipInfo, SERVICE_SIP_TRUNKING};
pub use writer::{CallLogWriter, DEFAULT_QUEUE_CAPACITY};

use std::path::PathBuf;
use uuid::Uuid;

/// Errors of the store layer. [`StoreError::name`] gives a bounded label.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored call log is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("database schema version {found} is not one this build knows (0..={known}); refusing to use it")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("invalid query parameter {field}={value:?}: {rule}")]
    InvalidQuery {
        field: &'static str,
        value: String,
        rule: &'static str,
    },
    #[error("call record {id}: {rule}")]
    InvalidRecord { id: Uuid, rule: &'static str },
    /// A PostgreSQL statement failed (the message never holds the URL).
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had in time (down, unreachable, pool exhausted).
    #[error("postgres unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// A static label for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            StoreError::CreateDir { .. } => "store::create_dir",
            StoreError::Open { .. } => "store::open",
            StoreError::Sqlite(e) if is_busy(e) => "store::busy",
            StoreError::Sqlite(_) => "store::sqlite",
            StoreError::Json(_) => "store::json",
            StoreError::SchemaTooNew { .. } => "store::schema_too_new",
            StoreError::InvalidQuery { .. } => "store::invalid_query",
            StoreError::InvalidRecord { .. } => "store::invalid_record",
            StoreError::Postgres(_) => "store::postgres",
            StoreError::Unavailable(_) => "store::unavailable",
        }
    }

    /// True when retrying later may succeed (the database is locked or busy,
    /// the disk is full); false when the same input will fail again.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sqlite(e) => {
                is_busy(e)
                    || matches!(
                        e.sqlite_error_code(),
                        Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure)
                    )
            }
            StoreError::Postgres(_) | StoreError::Unavailable(_) => self.is_unavailable(),
            _ => false,
        }
    }

    /// True when the shared store (PostgreSQL) cannot be reached right now:
    /// the API answers 503, the call-log writer keeps the records queued.
    /// A statement the server refused for its content (a constraint, bad
    /// SQL) is not: retrying it would fail again.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Postgres(e) => crate::store::pg::is_connection_error(e),
            _ => false,
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
