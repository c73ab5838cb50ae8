//! The call layer: every received SIP message enters at `intake`, and each
//! call is one `actor` task (a back-to-back user agent) owning both legs
//! (caller: we are its UAS; callee: we are its UAC), their transactions and
//! timers. Each leg is its own dialog; nothing of one leg's topology reaches
//! the other. Map and walk-through: `docs/ARCHITECTURE.md`.
//!
//! - `intake/`: `dispatch` (stateless answers, Call-ID -> call task), `admit`
//!   (new calls: plan, limit slot, call task or refusal), `flood` (untrusted-source guard), `overload` (503 shedding),
//!   `recent_rejects`.
//! - `actor/`: `mod` (the `Call` struct, its loop and deadlines), `phase`
//!   (set-up / answered / ended, set-up timers), `transactions`, `attempt` (one
//!   callee attempt), `failover` (the chain of attempts), `caller_leg` (our
//!   answers to the caller, CANCEL, Timer C), `relay` (in-dialog requests),
//!   `media`, `flow` (call-flow worker), `dialog`, `calllog`, `quality`.
//! - Leaves, importing neither `intake` nor `actor`: `hub` (shared registry and
//!   sends), `plan` (what intake decided), `outcome` (how a call ended, typed),
//!   `respond` (response building), `route` (hops), `limits`, `live`, `health`,
//!   `tls_hooks`.

pub mod actor;
mod health;
pub mod hub;
pub mod intake;
pub mod limits;
pub mod linger;
pub mod live;
pub mod outcome;
pub mod plan;
pub mod respond;
pub mod route;
mod tls_hooks;

pub use self::hub::{Arrival, CallEvent, CallHub, Snapshot};
pub use health::spawn_all as spawn_carrier_health;
pub use intake::dispatch::Dispatcher;
pub use intake::overload;
