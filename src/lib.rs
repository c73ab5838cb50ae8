//! trunkgate — a SIP-trunk edge gateway (session border controller).
//!
//! What happens when a PBX sends an INVITE, top to bottom:
//!
//! ```text
//!  socket ─► transport (UDP datagram / TCP/TLS stream framing)  transport/
//!         ─► sip::Message::parse + validate (400/420/505/…)     sip/
//!         ─► dispatcher: Call-ID -> call task, or new call       call/intake/dispatch.rs
//!         ─► policy: which trunk, is the source admitted          policy/
//!         ─► call task (B2BUA), one per call, owns both legs:     call/actor/
//!              A leg: server INVITE transaction toward the PBX    transaction/
//!              B leg: client INVITE transaction toward a carrier  resolve/ (DNS)
//!              carrier failover, CANCEL, BYE, re-INVITE …
//!              media: SDP rewritten, a relay task per call        media/, sip/sdp
//!              call flows: commands from a gRPC worker            flow/
//!         ─► call-log record + metrics when the call ends        store/, metrics.rs
//! ```
//!
//! The layers, each importing only those below it (no import circle and no
//! import back up anywhere in the crate):
//!
//! ```text
//!  main.rs ─► gateway.rs          wiring: start, reload, shut down
//!             api/                REST API (openapi.rs on top, schema.rs a leaf)
//!             reload.rs           a re-read config applied to the running hub
//!             call/               intake (dispatcher, admission), one actor task per call, the call hub
//!             policy/ cluster/ store/ process_metrics.rs
//!             config/ metrics.rs  the validated model; the metric families
//!             media/ http.rs      RTP relay per call; the /metrics listener
//!             transaction/ transport/ sip/ resolve/ flow/
//!             rfc3339.rs metric_labels.rs logging.rs http_guard.rs  (leaves)
//! ```
//!
//! `sip` has no I/O; `transaction` holds sans-IO state machines; `policy`
//! holds pure decisions (facts in, decision out) that `call` executes;
//! `config` builds the validated model everything reads; `store` keeps call
//! logs, trunks and numbers (SQLite, or PostgreSQL shared by a cluster, whose
//! changes it follows); `cluster` holds trunk call limits cluster-wide in
//! Redis behind `call::limits`; `flow` is the gRPC contract with call-flow
//! workers (the reference worker is the workspace crate `flow-worker/`).
//! The walk of one INVITE and one RTP packet, who owns which state and where
//! to add a feature: `docs/ARCHITECTURE.md`.
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
pub mod metric_labels;
pub mod metrics;
pub mod policy;
pub mod process_metrics;
pub mod reload;
pub mod resolve;
pub mod rfc3339;
pub mod sip;
pub mod store;
pub mod transaction;
pub mod transport;
