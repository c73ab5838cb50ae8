//! The call layer: every received SIP message enters at `intake`, and each
//! call is one `actor` task (a back-to-back user agent) owning both legs
//! (caller: we are its UAS; callee: we are its UAC), their transactions and
//! timers. Each leg is its own dialog; nothing of one leg's topology reaches
//! the other. Map and walk-through: `docs/ARCHITECTURE.md`.
//!
//! - `intake/`: `dispatch` (stateless answers and refusals, Call-ID -> call
//!   task), `admit` (a new call's plan or a typed refusal; sends nothing),
//!   `start` (limit slot, then the call task), `flood` (untrusted-source
//!   guard), `overload` and `fair` (503 shedding that spares light sources),
//!   `recent_rejects`.
//! - `actor/`: `mod` (the `Call` struct, its loop and deadlines), `phase`
//!   (set-up / answered / ended, set-up timers), `chain` (`FailoverChain`: the
//!   route and its failover), `transactions`, `attempt` (one callee attempt),
//!   `callee_invite` (the callee's INVITE, built by a pure function),
//!   `failover` (moving along the chain), `caller_leg` (our answers to the
//!   caller, CANCEL, Timer C), `relay` (in-dialog requests), `media`, `flow`
//!   and `transfer` (call-flow worker), `dialog`, `calllog`, `quality`.
//! - Leaves, importing neither `intake` nor `actor`: `hub` (the call hub: the
//!   Call-ID registry, what every call shares, sends), `plan` (what intake
//!   decided), `outcome` (how a call ended, typed), `respond` (response
//!   building), `route` (hops), `limits`, `live`, `linger` (ended calls'
//!   tombstones), `health`, `tls_hooks`.

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
