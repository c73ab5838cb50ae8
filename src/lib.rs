//! trunkgate — a SIP-trunk edge gateway (session border controller).
//!
//! What happens when a PBX sends an INVITE, top to bottom:
//!
//! ```text
//!  socket ─► transport (UDP datagram / TCP stream framing)      transport/
//!         ─► sip::Message::parse + validate (400/420/505/…)     sip/
//!         ─► dispatcher: Call-ID -> call task, or new call       call/intake/dispatch.rs
//!         ─► policy: which trunk, is the source admitted          policy/
//!         ─► call task (B2BUA), one per call, owns both legs:     call/actor/
//!              A leg: server INVITE transaction toward the PBX    transaction/
//!              B leg: client INVITE transaction toward a carrier
//!              carrier failover, CANCEL, BYE, re-INVITE …
//!         ─► metrics + one log line when the call ends           metrics.rs
//! ```
//!
//! Dependencies point one way: `sip` (no I/O) ← `transport` ← `transaction`
//! (sans-IO state machines) ← `call`. `policy` holds pure decisions (facts in,
//! decision out) and is called by `call`; `config` builds the validated model
//! both read. `http` serves `/metrics`; `api` is the management REST API
//! (trunks, numbers, call logs) on the same listener, writing through
//! `store` and swapping the routing snapshot the dispatcher reads. `cluster`
//! holds trunk call limits cluster-wide in Redis behind `call::limits`;
//! `store::pg` shares trunks, numbers and call logs between nodes in
//! PostgreSQL (`[store] url`) and follows other nodes' changes.
#![forbid(unsafe_code)]

pub mod api;
pub mod call;
pub mod cluster;
pub mod config;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
pub mod http;
pub mod http_guard;
pub mod logging;
pub mod media;
pub mod metrics;
pub mod policy;
pub mod process_metrics;
pub mod reload;
pub mod resolve;
pub mod sip;
pub mod store;
pub mod transaction;
pub mod transport;
