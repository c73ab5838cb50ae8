//! One call's control stream, gateway side. The call task owns a [`FlowCall`]
//! and loops over `next_command()` alongside its SIP and media events.
//!
//! Idempotency lives here: a command id seen before is never returned again;
//! if it was already acknowledged the same result is sent again.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::sync::mpsc;

use super::convert::{ack_to_pb, party_to_pb};
use super::pb::{self, gateway_message::Event as PbEvent};
use super::{Command, CommandError, CommandErrorCode, Event, FlowError, Party};

/// Events and acks queued toward the worker before `event()` starts dropping.
pub(crate) const EVENT_QUEUE: usize = 64;
/// Command ids remembered for idempotency (oldest forgotten first).
const SEEN_IDS: usize = 1024;
/// How long a hung-up call keeps its stream to let the worker read `HungUp`.
const LINGER: Duration = Duration::from_secs(2);

type AckResult = Option<Result<(), CommandError>>;

pub struct FlowCall {
    call_id: String,
    worker: String,
    tx: mpsc::Sender<pb::GatewayMessage>,
    rx: tonic::Streaming<pb::WorkerMessage>,
    first: Option<pb::WorkerMessage>,
    /// id -> None while executing, Some(result) once acked.
    seen: HashMap<String, AckResult>,
    order: VecDeque<String>,
}

impl FlowCall {
    pub(crate) fn new(
        call_id: String,
        worker: String,
        tx: mpsc::Sender<pb::GatewayMessage>,
        rx: tonic::Streaming<pb::WorkerMessage>,
        first: pb::WorkerMessage,
    ) -> FlowCall {
        FlowCall {
            call_id,
            worker,
            tx,
            rx,
            first: Some(first),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// URL of the worker that took the call.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The next new command. `Ok(None)`: the worker ended the stream cleanly
    /// (the flow is over). `Err(StreamBroken)`: the stream failed; the call
    /// task ends the call unless it is already transferred.
    /// Cancel-safe only between messages (do not drop it mid-`select!` if a
    /// message must not be lost: the pending message stays in the stream).
    pub async fn next_command(&mut self) -> Result<Option<Command>, FlowError> {
        loop {
            let msg = match self.first.take() {
                Some(m) => m,
                None => match self.rx.message().await {
                    Ok(Some(m)) => m,
                    Ok(None) => return Ok(None),
                    Err(s) => {
                        return Err(FlowError::StreamBroken(format!(
                            "{}: {}",
                            s.code(),
                            s.message()
                        )))
                    }
                },
            };
            if let Some(prev) = self.seen.get(&msg.command_id) {
                if let Some(result) = prev {
                    let ack = ack_to_pb(&msg.command_id, result);
                    self.send(PbEvent::CommandAck(ack));
                }
                tracing::debug!(call_id = %self.call_id, command_id = %msg.command_id, "repeated command id: not executed again");
                continue;
            }
            let id = msg.command_id.clone();
            match Command::try_from(msg) {
                Ok(cmd) => {
                    self.remember(id, None);
                    return Ok(Some(cmd));
                }
                Err(e) => {
                    tracing::warn!(call_id = %self.call_id, command_id = %id, "{e}");
                    if !id.is_empty() {
                        let err = Err(CommandError::new(
                            CommandErrorCode::InvalidArgument,
                            e.to_string(),
                        ));
                        self.send(PbEvent::CommandAck(ack_to_pb(&id, &err)));
                        self.remember(id, Some(err));
                    }
                }
            }
        }
    }

    /// Reports a command's outcome. Non-blocking.
    pub fn ack(&mut self, command_id: &str, result: Result<(), CommandError>) {
        self.send(PbEvent::CommandAck(ack_to_pb(command_id, &result)));
        if let Some(slot) = self.seen.get_mut(command_id) {
            *slot = Some(result);
        } else {
            self.remember(command_id.to_owned(), Some(result));
        }
    }

    /// Reports an event. Non-blocking: returns false (and the event is lost)
    /// when the worker is not reading and the queue of [`EVENT_QUEUE`] is full.
    pub fn event(&self, ev: Event) -> bool {
        self.send(ev.into())
    }

    /// Ends the call: sends `HungUp` and closes the stream. The stream is kept
    /// in a background task for up to 2 s so the worker reads `HungUp` before
    /// the stream is cancelled.
    pub fn hung_up(self, who: Party, sip_code: u16, reason: &str) {
        let msg = pb::GatewayMessage {
            event: Some(PbEvent::HungUp(pb::HungUp {
                who: party_to_pb(who) as i32,
                sip_code: u32::from(sip_code),
                reason: reason.to_owned(),
            })),
        };
        let FlowCall { tx, mut rx, .. } = self;
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            let _ = tx.try_send(msg);
            return;
        };
        rt.spawn(async move {
            let _ = tokio::time::timeout(LINGER, async move {
                if tx.send(msg).await.is_err() {
                    return;
                }
                drop(tx);
                // Bounded by LINGER; each turn consumes one message.
                while let Ok(Some(_)) = rx.message().await {}
            })
            .await;
        });
    }

    fn send(&self, ev: PbEvent) -> bool {
        let msg = pb::GatewayMessage { event: Some(ev) };
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, "call-flow event dropped: {e}");
                false
            }
        }
    }

    fn remember(&mut self, id: String, result: AckResult) {
        if self.order.len() >= SEEN_IDS {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.order.push_back(id.clone());
        self.seen.insert(id, result);
    }
}
