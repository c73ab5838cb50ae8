//! Storage: what the gateway keeps beyond one call — the call logs and the
//! trunks and phone numbers the REST API manages.
//!
//! - [`calllog`]: one record per call (`service: sip_trunking`), written off
//!   the signaling path by a dedicated thread ([`CallLogWriter`]) and read by
//!   the REST API ([`CallLogStore::query`], [`CallLogStore::get`]).
//! - [`trunks`]: trunks and numbers ([`TrunkStore`], schema migration 2),
//!   seeded once from the config, then changed through the REST API; every
//!   edit writes one pure [`trunks::plan::Plan`] checked by the config's rules.
//! - [`pg`]: the same tables in a PostgreSQL shared by every node
//!   (`[store] url`): the writer feeds a [`pg::PgLogSink`] (both backends are
//!   a [`calllog::writer::LogSink`]), the API uses [`pg::PgStore`], and a
//!   follow task (LISTEN/NOTIFY) keeps each node's routing snapshot on the
//!   shared set through [`pg::Routing`], which the gateway wires to the call
//!   layer.
//!
//! ```text
//!  call task ──submit (never blocks)──► bounded queue ──► writer thread
//!                                                          │ one transaction per batch
//!                                                          ▼
//!  REST API ──query/get (own connection)──────────► data_dir/trunkgate.db (WAL)
//!                                                     or PostgreSQL ([store] url)
//! ```
//!
//! Depends on `config` (the trunk model and its rules) and the leaf
//! `rfc3339` (timestamps, re-exported here); never on `call` or `api`.

pub mod calllog;
pub mod pg;
pub mod trunks;

pub use crate::rfc3339::{now_rfc3339, to_rfc3339};
pub use calllog::{
    CallLogQuery, CallLogStore, CallLogWriter, CallRecord, CallStatus, RecordingRef, SipInfo,
    StoreError,
};
pub use trunks::{EditError, StoredNumber, StoredTrunk, TrunkSet, TrunkStore};
