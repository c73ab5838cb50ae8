//! Reference call-flow worker (binary `trunkgate-flow-worker`): a tonic
//! `CallFlow` server that runs a Twilio/Plivo-like Call Flow Loop driven by
//! HTTP callbacks. It is both a usable product piece and the test double
//! for the gRPC contract.
//!
//! # Per call
//! 1. `CallOffered` arrives -> the worker answers at once with `Accept` (so
//!    the gateway's `offer_timeout` measures the worker, not the web app).
//! 2. POST `init_call` to the number's `callback_url` (else the default).
//! 3. Run the returned `actions` in order; COLLECT and REDIRECT POST an
//!    `action_result` and the answer replaces the remaining actions (the
//!    loop). When the actions run out the call is hung up.
//! 4. When the call ends (`HungUp`, or the stream closes) POST `end_call`.
//!
//! # Callback request (JSON body of every POST)
//! ```json
//! { "service": "call_flows" | "parking_lot",
//!   "type": "init_call" | "action_result" | "end_call",
//!   "call_id": "…", "direction": "inbound" | "outbound",
//!   "caller_no": "+3211…", "api_no": "+3222…", "trunk_id": "…"?,
//!   "reason": "number_assignment" | "failover",
//!   "start_time": "2026-05-01T10:00:00.000Z",
//!   "status": "ringing" | "in-progress" | "completed" | "transferred"
//!             | "rejected" | "canceled" | "failed",
//!   "digits": "123"?,            // action_result after COLLECT
//!   "recording_url": "…"?,       // end_call, when a recording was saved
//!   "hangup_by": "caller" | "callee" | "gateway" | "worker"?,  // end_call
//!   "sip_code": 200? }           // end_call
//! ```
//! `init_call` uses status `ringing`, `action_result` uses `in-progress`.
//!
//! # Callback response
//! `{"actions": [...]}` (an empty 2xx body means no actions). Entries with an
//! unknown `action` are skipped and logged.
//! ```json
//! {"action":"PLAY", "url":"http://…/a.wav" | "/var/prompts/a.wav",
//!                   "digits":"12#", "tone":"ringback|busy|congestion|sit", "loop":1}
//! {"action":"PAUSE", "length":1.5}
//! {"action":"COLLECT", "num_digits":4, "finish_on_key":"#", "timeout":5, "callback_url":"…"?}
//! {"action":"REJECT", "reason":"busy" | "disconnected"}     // 486 / 404 + tone
//! {"action":"HANGUP"}
//! {"action":"TRANSFER", "number":"+3222…" | "sip_uri":"sip:…", "caller_id_no":"…"?}
//! {"action":"RECORD", "mode":"start" | "stop" | "pause" | "resume"}
//! {"action":"REDIRECT", "url":"http://…"}
//! {"action":"SAY", "text":"…"}                 // needs espeak-ng, else skipped
//! ```
//! PLAY, COLLECT and SAY answer the call first. PLAY waits for the end of the
//! playback. COLLECT ends at `num_digits`, at `finish_on_key` (not included;
//! default `#`, `""` disables) or after `timeout` seconds without a digit
//! (default 5); digits typed earlier count. REJECT after answer hangs up.
//! TRANSFER waits for the result: bridged -> the flow is done (end_call
//! when the call ends), failed -> the next action runs. RECORD continues at
//! once; the saved path is reported as `recording_url`.
//!
//! # callback_failover
//! Any callback (init_call, action_result, REDIRECT, end_call) that answers
//! non-2xx, times out (`callback_timeout_ms`), cannot connect or returns a
//! body that is not an actions document is sent once more, unchanged, to the
//! number's `callback_failover_url` (else `default_callback_failover_url`).
//! If that fails too, the default action applies: hang up (before answer the
//! gateway treats a worker `Hangup` like a worker failure: 503, or the
//! failover fails). end_call failures are only logged.
//!
//! Configuration: [`WorkerConfig`] (TOML) or [`WorkerConfig::simple`].

mod callback;
mod config;
mod exec;
pub mod say;
mod session;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

pub use callback::{parse_actions, Action, CallbackError, CallbackRequest, RecordMode, RejectJson};
pub use config::{CallbackTarget, WorkerConfig};

use callback::Callbacks;
use session::Session;
use trunkgate::flow::pb::call_flow_server::{CallFlow, CallFlowServer};
use trunkgate::flow::pb::{self, gateway_message::Event as PbEvent};
use trunkgate::flow::CallOffered;

/// Commands queued toward the gateway per call.
const OUT_QUEUE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{file}: {key}: {detail}")]
    Config {
        file: String,
        key: String,
        detail: String,
    },
    #[error("cannot listen: {0}")]
    Bind(#[from] std::io::Error),
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

impl WorkerError {
    pub fn name(&self) -> &'static str {
        match self {
            WorkerError::Config { .. } => "worker:config",
            WorkerError::Bind(_) => "worker:bind",
            WorkerError::Serve(_) => "worker:serve",
        }
    }
}

/// The `CallFlow` service. Clone-cheap.
#[derive(Clone)]
pub struct FlowWorker {
    cfg: Arc<WorkerConfig>,
    http: Callbacks,
    active: Arc<AtomicU32>,
}

impl FlowWorker {
    pub fn new(cfg: WorkerConfig) -> FlowWorker {
        FlowWorker {
            http: Callbacks::new(cfg.callback_timeout),
            cfg: Arc::new(cfg),
            active: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Calls whose flow is running.
    pub fn active_calls(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }

    pub fn into_service(self) -> CallFlowServer<FlowWorker> {
        CallFlowServer::new(self)
    }
}

/// Serves the worker on `listener` until `shutdown` resolves.
pub async fn serve(
    cfg: WorkerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), WorkerError> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(FlowWorker::new(cfg).into_service())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

struct ActiveGuard(Arc<AtomicU32>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[tonic::async_trait]
impl CallFlow for FlowWorker {
    type ControlStream = ReceiverStream<Result<pb::WorkerMessage, Status>>;

    async fn control(
        &self,
        request: Request<Streaming<pb::GatewayMessage>>,
    ) -> Result<Response<Self::ControlStream>, Status> {
        let mut inbound = request.into_inner();
        let (out, rx) = mpsc::channel(OUT_QUEUE);
        let worker = self.clone();
        tokio::spawn(async move {
            let first = tokio::time::timeout(worker.cfg.command_timeout, inbound.message()).await;
            let offer = match first {
                Ok(Ok(Some(pb::GatewayMessage {
                    event: Some(PbEvent::CallOffered(o)),
                }))) => CallOffered::try_from(o),
                _ => {
                    let _ = out
                        .send(Err(Status::invalid_argument(
                            "the first message must be CallOffered",
                        )))
                        .await;
                    return;
                }
            };
            let offer = match offer {
                Ok(o) => o,
                Err(e) => {
                    let _ = out.send(Err(Status::invalid_argument(e.to_string()))).await;
                    return;
                }
            };
            worker.active.fetch_add(1, Ordering::Relaxed);
            let _guard = ActiveGuard(worker.active.clone());
            tracing::info!(call_id = %offer.call_id, api_no = %offer.api_no, "call offered");
            Session::new(worker.cfg.clone(), worker.http.clone(), out, inbound, offer)
                .run()
                .await;
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn health(
        &self,
        _request: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthReply>, Status> {
        Ok(Response::new(pb::HealthReply {
            serving: true,
            active_calls: self.active_calls(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }))
    }
}
