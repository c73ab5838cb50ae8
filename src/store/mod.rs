//! Storage: what the gateway keeps beyond one call. Today that is the call log
//! (one record per call, `service: sip_trunking`) in an embedded SQLite
//! database under the data directory, written off the signaling path by a
//! dedicated thread ([`CallLogWriter`]) and read by the REST API
//! ([`CallLogStore::query`], [`CallLogStore::get`]).
//!
//! ```text
//!  call task ──submit (never blocks)──► bounded queue ──► writer thread
//!                                                          │ one transaction per batch
//!                                                          ▼
//!  REST API ──query/get (own connection)──────────► data_dir/trunkgate.db (WAL)
//! ```
//!
//! Trunks and phone numbers live in the same file ([`TrunkStore`], schema
//! migration 2): seeded once from the config, then changed through the REST
//! API. That part depends on `config` for the trunk model and its rules.
//!
//! With `[store] url` the same tables live in a PostgreSQL shared by every
//! node ([`pg`]): the writer thread feeds a [`pg::PgLogSink`] instead (both
//! are a [`calllog::writer::LogSink`]), the API uses [`pg::PgStore`], and
//! a follow task keeps each node's routing snapshot on the shared set
//! (LISTEN/NOTIFY). Edits on both backends write one pure
//! [`trunks::plan::Plan`].

pub mod calllog;
pub mod pg;
pub mod trunks;

pub use crate::rfc3339::{now_rfc3339, to_rfc3339};
pub use calllog::{
    CallLogQuery, CallLogStore, CallLogWriter, CallRecord, CallStatus, RecordingRef, SipInfo,
    StoreError,
};
pub use trunks::{EditError, StoredNumber, StoredTrunk, TrunkSet, TrunkStore};
