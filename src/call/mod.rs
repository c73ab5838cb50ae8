//! The call layer: the dispatcher that routes every received message, and the
//! back-to-back user agent — one task per call owning both legs (A: the PBX,
//! we are its UAS; B: the carrier, we are its UAC), their transactions and
//! timers. Each leg is its own dialog; nothing of one leg's topology reaches
//! the other.
//!
//! - `dispatch`: parse, validate, stateless answers, Call-ID -> call task, new calls.
//! - `task`: the call task's loop, timers, transaction plumbing, end-of-call accounting.
//! - `invite`: the initial INVITE, carrier attempts and failover, CANCEL, ringing timeout.
//! - `relay`: in-dialog requests (BYE, re-INVITE, UPDATE, INFO, PRACK, OPTIONS) and ACK.
//! - `flow`: calls controlled by a call-flow worker (gRPC): offer, commands, events.
//! - `media`: SDP anchoring, tones (override ringback, busy), recording, T.38 policy, dead media.
//! - `dialog`, `txs`, `respond`: per-leg dialog state, owned transactions, response building.

pub mod actor;
pub mod core;
mod health;
pub mod intake;
pub mod limits;
pub mod live;
pub mod outcome;
pub mod plan;
pub mod respond;
pub mod route;
mod tls_hooks;

pub use self::core::{CallEvent, Core, RxMeta, Snapshot};
pub use health::spawn_all as spawn_carrier_health;
pub use intake::dispatch::Dispatcher;
pub use intake::overload;
