//! Conversions between the Rust-side model ([`super::types`]) and the prost
//! types generated from `flow.proto`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::pb;
use super::types::*;
use pb::gateway_message::Event as PbEvent;
use pb::worker_message::Command as PbCommand;

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

fn from_unix_ms(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

impl From<CallOffered> for pb::CallOffered {
    fn from(o: CallOffered) -> pb::CallOffered {
        pb::CallOffered {
            call_id: o.call_id,
            direction: match o.direction {
                Direction::Inbound => pb::Direction::Inbound,
                Direction::Outbound => pb::Direction::Outbound,
            } as i32,
            caller_no: o.caller_no,
            api_no: o.api_no,
            trunk_id: o.trunk_id,
            mode: match o.mode {
                FlowMode::CallFlows => pb::FlowMode::CallFlows,
                FlowMode::ParkingLot => pb::FlowMode::ParkingLot,
            } as i32,
            reason: match o.reason {
                OfferReason::NumberAssignment => pb::OfferReason::NumberAssignment,
                OfferReason::Failover => pb::OfferReason::Failover,
            } as i32,
            source_addr: o.source.to_string(),
            headers: o
                .headers
                .into_iter()
                .map(|(name, value)| pb::SipHeader { name, value })
                .collect(),
            start_time_unix_ms: unix_ms(o.start_time),
        }
    }
}

impl TryFrom<pb::CallOffered> for CallOffered {
    type Error = InvalidCommand;
    fn try_from(o: pb::CallOffered) -> Result<CallOffered, InvalidCommand> {
        Ok(CallOffered {
            direction: match pb::Direction::try_from(o.direction) {
                Ok(pb::Direction::Outbound) => Direction::Outbound,
                _ => Direction::Inbound,
            },
            mode: match pb::FlowMode::try_from(o.mode) {
                Ok(pb::FlowMode::CallFlows) => FlowMode::CallFlows,
                Ok(pb::FlowMode::ParkingLot) => FlowMode::ParkingLot,
                _ => return Err(InvalidCommand("CallOffered.mode unspecified")),
            },
            reason: match pb::OfferReason::try_from(o.reason) {
                Ok(pb::OfferReason::Failover) => OfferReason::Failover,
                _ => OfferReason::NumberAssignment,
            },
            source: o
                .source_addr
                .parse()
                .map_err(|_| InvalidCommand("CallOffered.source_addr is not ip:port"))?,
            headers: o.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            start_time: from_unix_ms(o.start_time_unix_ms),
            call_id: o.call_id,
            caller_no: o.caller_no,
            api_no: o.api_no,
            trunk_id: o.trunk_id,
        })
    }
}

impl From<Event> for PbEvent {
    fn from(ev: Event) -> PbEvent {
        match ev {
            Event::Answered => PbEvent::Answered(pb::Answered {}),
            Event::Dtmf {
                digit,
                duration,
                source,
            } => PbEvent::Dtmf(pb::Dtmf {
                digit: digit.to_string(),
                duration_ms: u32::try_from(duration.as_millis()).unwrap_or(u32::MAX),
                source: match source {
                    DtmfSource::Rfc4733 => pb::DtmfSource::Rfc4733,
                    DtmfSource::SipInfo => pb::DtmfSource::SipInfo,
                } as i32,
            }),
            Event::PlaybackFinished {
                command_id,
                interrupted,
            } => PbEvent::PlaybackFinished(pb::PlaybackFinished {
                command_id,
                interrupted,
            }),
            Event::TransferResult {
                command_id,
                sip_code,
                ok,
            } => PbEvent::TransferResult(pb::TransferResult {
                command_id,
                sip_code: u32::from(sip_code),
                ok,
            }),
            Event::RecordingSaved { path, duration } => {
                PbEvent::RecordingSaved(pb::RecordingSaved {
                    path,
                    duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                })
            }
        }
    }
}

pub(crate) fn party_to_pb(p: Party) -> pb::Party {
    match p {
        Party::Caller => pb::Party::Caller,
        Party::Callee => pb::Party::Callee,
        Party::Gateway => pb::Party::Gateway,
        Party::Worker => pb::Party::Worker,
    }
}

pub(crate) fn ack_to_pb(command_id: &str, result: &Result<(), CommandError>) -> pb::CommandAck {
    match result {
        Ok(()) => pb::CommandAck {
            command_id: command_id.to_owned(),
            ok: true,
            error_code: pb::ErrorCode::Unspecified as i32,
            error_message: String::new(),
        },
        Err(e) => pb::CommandAck {
            command_id: command_id.to_owned(),
            ok: false,
            error_code: match e.code {
                CommandErrorCode::InvalidState => pb::ErrorCode::InvalidState,
                CommandErrorCode::InvalidArgument => pb::ErrorCode::InvalidArgument,
                CommandErrorCode::MediaUnavailable => pb::ErrorCode::MediaUnavailable,
                CommandErrorCode::Unsupported => pb::ErrorCode::Unsupported,
                CommandErrorCode::Internal => pb::ErrorCode::Internal,
            } as i32,
            error_message: e.message.clone(),
        },
    }
}

impl TryFrom<pb::WorkerMessage> for Command {
    type Error = InvalidCommand;
    fn try_from(m: pb::WorkerMessage) -> Result<Command, InvalidCommand> {
        if m.command_id.is_empty() {
            return Err(InvalidCommand("empty command_id"));
        }
        let kind = match m.command.ok_or(InvalidCommand("no command"))? {
            PbCommand::Accept(_) => CommandKind::Accept,
            PbCommand::Answer(_) => CommandKind::Answer,
            PbCommand::Reject(r) => CommandKind::Reject(match r.reason() {
                pb::RejectReason::Disconnected => RejectReason::Disconnected,
                _ => RejectReason::Busy,
            }),
            PbCommand::Play(p) => {
                let source = match p.source.ok_or(InvalidCommand("Play without source"))? {
                    pb::play::Source::WavPath(s) => PlaySource::WavPath(s),
                    pb::play::Source::Url(s) => PlaySource::Url(s),
                    pb::play::Source::DtmfDigits(s) => PlaySource::Dtmf(s),
                    pb::play::Source::Tone(t) => PlaySource::Tone(match pb::Tone::try_from(t) {
                        Ok(pb::Tone::Busy) => Tone::Busy,
                        Ok(pb::Tone::Congestion) => Tone::Congestion,
                        Ok(pb::Tone::Sit) => Tone::Sit,
                        Ok(pb::Tone::Ringback) => Tone::Ringback,
                        _ => return Err(InvalidCommand("Play.tone unspecified")),
                    }),
                };
                CommandKind::Play {
                    source,
                    loops: p.loop_count.max(1),
                }
            }
            PbCommand::StopPlay(_) => CommandKind::StopPlay,
            PbCommand::Record(r) => CommandKind::Record(match r.action() {
                pb::RecordAction::Start => RecordAction::Start,
                pb::RecordAction::Stop => RecordAction::Stop,
                pb::RecordAction::Pause => RecordAction::Pause,
                pb::RecordAction::Resume => RecordAction::Resume,
                pb::RecordAction::Unspecified => {
                    return Err(InvalidCommand("Record.action unspecified"))
                }
            }),
            PbCommand::Transfer(t) => CommandKind::Transfer {
                target: match t.target.ok_or(InvalidCommand("Transfer without target"))? {
                    pb::transfer::Target::E164(n) => TransferTarget::E164(n),
                    pb::transfer::Target::SipUri(u) => TransferTarget::SipUri(u),
                },
                caller_id_no: Some(t.caller_id_no).filter(|c| !c.is_empty()),
            },
            PbCommand::Hangup(_) => CommandKind::Hangup,
        };
        Ok(Command {
            id: m.command_id,
            kind,
        })
    }
}

impl From<CommandKind> for PbCommand {
    fn from(k: CommandKind) -> PbCommand {
        match k {
            CommandKind::Accept => PbCommand::Accept(pb::Accept {}),
            CommandKind::Answer => PbCommand::Answer(pb::Answer {}),
            CommandKind::Reject(r) => PbCommand::Reject(pb::Reject {
                reason: match r {
                    RejectReason::Busy => pb::RejectReason::Busy,
                    RejectReason::Disconnected => pb::RejectReason::Disconnected,
                } as i32,
            }),
            CommandKind::Play { source, loops } => PbCommand::Play(pb::Play {
                source: Some(match source {
                    PlaySource::WavPath(s) => pb::play::Source::WavPath(s),
                    PlaySource::Url(s) => pb::play::Source::Url(s),
                    PlaySource::Dtmf(s) => pb::play::Source::DtmfDigits(s),
                    PlaySource::Tone(t) => pb::play::Source::Tone(match t {
                        Tone::Ringback => pb::Tone::Ringback,
                        Tone::Busy => pb::Tone::Busy,
                        Tone::Congestion => pb::Tone::Congestion,
                        Tone::Sit => pb::Tone::Sit,
                    } as i32),
                }),
                loop_count: loops,
            }),
            CommandKind::StopPlay => PbCommand::StopPlay(pb::StopPlay {}),
            CommandKind::Record(a) => PbCommand::Record(pb::Record {
                action: match a {
                    RecordAction::Start => pb::RecordAction::Start,
                    RecordAction::Stop => pb::RecordAction::Stop,
                    RecordAction::Pause => pb::RecordAction::Pause,
                    RecordAction::Resume => pb::RecordAction::Resume,
                } as i32,
            }),
            CommandKind::Transfer {
                target,
                caller_id_no,
            } => PbCommand::Transfer(pb::Transfer {
                target: Some(match target {
                    TransferTarget::E164(n) => pb::transfer::Target::E164(n),
                    TransferTarget::SipUri(u) => pb::transfer::Target::SipUri(u),
                }),
                caller_id_no: caller_id_no.unwrap_or_default(),
            }),
            CommandKind::Hangup => PbCommand::Hangup(pb::Hangup {}),
        }
    }
}

impl From<Command> for pb::WorkerMessage {
    fn from(c: Command) -> pb::WorkerMessage {
        pb::WorkerMessage {
            command_id: c.id,
            command: Some(c.kind.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_through_prost() {
        let kinds = [
            CommandKind::Accept,
            CommandKind::Answer,
            CommandKind::Reject(RejectReason::Disconnected),
            CommandKind::Play {
                source: PlaySource::Tone(Tone::Sit),
                loops: 3,
            },
            CommandKind::Play {
                source: PlaySource::Dtmf("12#".into()),
                loops: 1,
            },
            CommandKind::StopPlay,
            CommandKind::Record(RecordAction::Pause),
            CommandKind::Transfer {
                target: TransferTarget::SipUri("sip:bob@example.com".into()),
                caller_id_no: Some("+3222".into()),
            },
            CommandKind::Hangup,
        ];
        for kind in kinds {
            let c = Command {
                id: "c1".into(),
                kind,
            };
            let back = Command::try_from(pb::WorkerMessage::from(c.clone())).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn empty_command_id_and_missing_command_are_rejected() {
        let m = pb::WorkerMessage {
            command_id: String::new(),
            command: Some(PbCommand::Hangup(pb::Hangup {})),
        };
        assert_eq!(
            Command::try_from(m),
            Err(InvalidCommand("empty command_id"))
        );
        let m = pb::WorkerMessage {
            command_id: "x".into(),
            command: None,
        };
        assert_eq!(Command::try_from(m), Err(InvalidCommand("no command")));
    }

    #[test]
    fn offer_round_trips_and_start_time_keeps_ms() {
        let o = CallOffered {
            call_id: "abc".into(),
            direction: Direction::Inbound,
            caller_no: "+3211".into(),
            api_no: "+3222".into(),
            trunk_id: None,
            mode: FlowMode::ParkingLot,
            reason: OfferReason::Failover,
            source: "192.0.2.1:5060".parse().unwrap(),
            headers: vec![("X-Foo".into(), "bar".into())],
            start_time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        };
        let p = pb::CallOffered::from(o.clone());
        assert_eq!(p.start_time_unix_ms, 1_700_000_000_123);
        assert_eq!(CallOffered::try_from(p).unwrap(), o);
    }
}
