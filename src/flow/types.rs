//! Rust-side model of the call-flow contract: what the call task sends
//! ([`CallOffered`], [`Event`]) and receives ([`Command`]). The mapping to and
//! from the prost types is in `convert.rs`, so the call task never touches prost.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Which product the number is assigned to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowMode {
    CallFlows,
    ParkingLot,
}

/// Why the call reached the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferReason {
    /// The dialled number is assigned to `CallFlows` / `ParkingLot`.
    NumberAssignment,
    /// Inbound failover with source `api`.
    Failover,
}

/// The first message of every call's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOffered {
    pub call_id: String,
    pub direction: Direction,
    pub caller_no: String,
    pub api_no: String,
    pub trunk_id: Option<String>,
    pub mode: FlowMode,
    pub reason: OfferReason,
    /// Where the INVITE came from.
    pub source: SocketAddr,
    /// Selected SIP headers (name, value), in message order.
    pub headers: Vec<(String, String)>,
    /// When the INVITE arrived (wall clock, for the callback's `start_time`).
    pub start_time: SystemTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtmfSource {
    /// RFC 4733 §2.3 telephone-event payload.
    Rfc4733,
    /// SIP INFO with `application/dtmf-relay`.
    SipInfo,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    Caller,
    Callee,
    Gateway,
    Worker,
}

/// Events the gateway reports on a call after [`CallOffered`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// 200 OK sent and ACKed: media is up.
    Answered,
    Dtmf {
        digit: char,
        duration: Duration,
        source: DtmfSource,
    },
    PlaybackFinished {
        command_id: String,
        interrupted: bool,
    },
    TransferResult {
        command_id: String,
        sip_code: u16,
        ok: bool,
    },
    RecordingSaved {
        path: String,
        duration: Duration,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// 486 Busy Here.
    Busy,
    /// 404-style "number disconnected", with a SIT tone if early media is up.
    Disconnected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Ringback,
    Busy,
    Congestion,
    Sit,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlaySource {
    WavPath(String),
    Url(String),
    Tone(Tone),
    /// Sent as RFC 4733 events.
    Dtmf(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordAction {
    Start,
    Stop,
    Pause,
    Resume,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferTarget {
    /// Routed through the carriers.
    E164(String),
    SipUri(String),
}

/// What a worker asks the gateway to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandKind {
    /// The worker took the call and will decide later (no SIP action; 180 allowed).
    Accept,
    Answer,
    Reject(RejectReason),
    /// `loops`: how many times (at least 1).
    Play {
        source: PlaySource,
        loops: u32,
    },
    StopPlay,
    Record(RecordAction),
    Transfer {
        target: TransferTarget,
        caller_id_no: Option<String>,
    },
    Hangup,
}

/// One command with its idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub id: String,
    pub kind: CommandKind,
}

/// Why a command failed, as sent back in `CommandAck`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandErrorCode {
    InvalidState,
    InvalidArgument,
    MediaUnavailable,
    Unsupported,
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct CommandError {
    pub code: CommandErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: CommandErrorCode, message: impl Into<String>) -> CommandError {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

/// A worker message that cannot be turned into a [`Command`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid command: {0}")]
pub struct InvalidCommand(pub &'static str);
