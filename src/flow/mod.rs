//! Call-flow control over gRPC: calls for numbers assigned to `CallFlows` or
//! `ParkingLot`, and inbound failover with source `api`, are decided by an
//! external worker while the gateway keeps SIP signalling and media.
//!
//! ```text
//!  call task ──offer()──► FlowPool ── one HTTP/2 conn per worker ──► worker
//!      ▲                     │  Control stream per call:
//!      │                     │   gateway → CallOffered, Answered, Dtmf, …, CommandAck
//!      └── FlowCall ◄────────┘   worker  → Accept, Answer, Reject, Play, …, Hangup
//! ```
//!
//! Contract: `proto/trunkgate/flow/v1/flow.proto` (compiled by `build.rs` with
//! protox, no system protoc). One bidirectional stream **per call**, all of a
//! worker's calls multiplexed over one HTTP/2 connection: a stream costs one
//! HEADERS frame, each call gets its own flow control and cancellation
//! (RST_STREAM ends exactly one call), and messages need no call-id routing.
//! A single multiplexed stream per worker would save nothing measurable on
//! the wire and would make one slow call's backlog block every other call.
//! Measured (debug build, loopback, 2 cores; `measure_stream_per_call` in
//! `tests/flow_worker.rs`): offer → first command 0.7 ms per call; 3 000
//! concurrent offers in 0.39 s while 3 000 other calls' streams stayed open,
//! all on one TCP connection. Two conditions: both ends set TCP_NODELAY
//! (without it each round trip costs ~40 ms of delayed ACK), and both ends
//! keep reading their streams — unread messages hold the connection's
//! HTTP/2 flow-control window and stall the other calls.
//!
//! Rules the call task follows (see [`FlowCall`]):
//! - [`FlowPool::offer`] fails → the call gets 503 (a failover fails) with
//!   [`FlowError::name`] as the call-log reason.
//! - Every [`Command`] is executed once and answered with [`FlowCall::ack`];
//!   repeated ids are filtered and re-acked by this module.
//! - `Accept` needs no SIP action (180 Ringing allowed); `Hangup` before
//!   `Answer` ends the call like a worker failure (503).
//! - `next_command()` → `Err(StreamBroken)` or `Ok(None)`: end the call
//!   (BYE / 503) unless it is already transferred, then drop the `FlowCall`.
//! - When SIP ends the call, [`FlowCall::hung_up`] tells the worker.
//! - Keep polling `next_command()` for the whole call (see above).
//!
//! The reference worker (binary `trunkgate-flow-worker`) is its own crate in
//! the workspace, `flow-worker/`: the gateway library does not carry it.

pub mod pb {
    //! prost/tonic code generated from `flow.proto`.
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("trunkgate.flow.v1");
}

mod call;
mod convert;
mod error;
mod metrics;
mod pool;
mod types;

pub use call::FlowCall;
pub use error::FlowError;
pub use metrics::FlowMetrics;
pub use pool::{FlowPool, WorkerEndpoint, WorkerSettings};
pub use types::{
    CallOffered, Command, CommandError, CommandErrorCode, CommandKind, Direction, DtmfSource,
    Event, FlowMode, InvalidCommand, OfferReason, Party, PlaySource, RecordAction, RejectReason,
    Tone, TransferTarget,
};
