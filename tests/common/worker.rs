//! The call-flow side of the tests: the hand-driven worker (a test double
//! of the gRPC contract: every `Control` stream the gateway opens is handed
//! to the test, which reads the gateway's events and sends commands itself,
//! or stays silent), the reference worker started in-process, and the
//! customer's web app it calls back ([`Hook`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status, Streaming};
use trunkgate::flow::pb::call_flow_server::{CallFlow, CallFlowServer};
use trunkgate::flow::pb::{self, gateway_message::Event as PbEvent};
use trunkgate_flow_worker::{serve, WorkerConfig};

use super::WAIT;

/// One stream as the test holds it: the gateway's events, and the sender of
/// the worker's commands.
pub type Handle = (
    Streaming<pb::GatewayMessage>,
    mpsc::Sender<Result<pb::WorkerMessage, Status>>,
);

/// A worker whose streams the test drives by hand (or leaves silent).
pub struct Manual(pub mpsc::UnboundedSender<Handle>);

#[tonic::async_trait]
impl CallFlow for Manual {
    type ControlStream = ReceiverStream<Result<pb::WorkerMessage, Status>>;
    async fn control(
        &self,
        request: Request<Streaming<pb::GatewayMessage>>,
    ) -> Result<tonic::Response<Self::ControlStream>, Status> {
        let (tx, rx) = mpsc::channel(16);
        let _ = self.0.send((request.into_inner(), tx));
        Ok(tonic::Response::new(ReceiverStream::new(rx)))
    }
    async fn health(
        &self,
        _: Request<pb::HealthRequest>,
    ) -> Result<tonic::Response<pb::HealthReply>, Status> {
        Ok(tonic::Response::new(pb::HealthReply {
            serving: true,
            active_calls: 0,
            version: "manual".into(),
        }))
    }
}

/// Serves a [`Manual`] worker on `listener` (TCP_NODELAY, as the gateway's
/// side sets it); the streams arrive on the returned receiver.
pub fn serve_manual(listener: TcpListener) -> mpsc::UnboundedReceiver<Handle> {
    let (tx, rx) = mpsc::unbounded_channel();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CallFlowServer::new(Manual(tx)))
            .serve_with_incoming(incoming),
    );
    rx
}

/// A [`Manual`] worker on a fresh loopback port.
pub async fn start_manual() -> (SocketAddr, mpsc::UnboundedReceiver<Handle>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind worker");
    let addr = listener.local_addr().expect("worker address");
    (addr, serve_manual(listener))
}

/// A worker command with its id.
pub fn cmd(id: &str, c: pb::worker_message::Command) -> Result<pb::WorkerMessage, Status> {
    Ok(pb::WorkerMessage {
        command_id: id.into(),
        command: Some(c),
    })
}

/// The next event the gateway sends on a stream (within [`WAIT`]).
pub async fn recv_gw(s: &mut Streaming<pb::GatewayMessage>) -> PbEvent {
    timeout(WAIT, s.message())
        .await
        .expect("gateway message in time")
        .expect("a stream message")
        .expect("the stream open")
        .event
        .expect("an event")
}

/// What the web app answers a callback: (path, body) -> (status, body).
type Script = dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync;

#[derive(Clone)]
struct HookState {
    seen: mpsc::UnboundedSender<(String, Value)>,
    script: Arc<Script>,
}

async fn hook_handler(State(s): State<HookState>, uri: Uri, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = s.seen.send((uri.path().to_owned(), v.clone()));
    let (code, reply) = (s.script)(uri.path(), &v);
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        reply.to_string(),
    )
        .into_response()
}

/// The customer's web app on a loopback port: records every callback (path
/// and JSON) and answers it as its script says.
pub struct Hook {
    pub base: String,
    seen: mpsc::UnboundedReceiver<(String, Value)>,
}

impl Hook {
    pub async fn start(
        script: impl Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static,
    ) -> Hook {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = HookState {
            seen: tx,
            script: Arc::new(script),
        };
        let app = axum::Router::new().fallback(hook_handler).with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind hook");
        let addr = listener.local_addr().expect("hook address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hook {
            base: format!("http://{addr}"),
            seen: rx,
        }
    }

    /// The next callback: (path, body), within [`WAIT`].
    pub async fn next(&mut self) -> (String, Value) {
        timeout(WAIT, self.seen.recv())
            .await
            .expect("callback in time")
            .expect("hook alive")
    }

    /// The next callback (within [`WAIT`]): asserts it is `end_call`.
    pub async fn end_call(&mut self) -> Value {
        let (_, end) = self.next().await;
        assert_eq!(end["type"], "end_call", "{end}");
        end
    }

    /// The next callback of `kind` within 10 s, others skipped.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let (_, v) = timeout(Duration::from_secs(10), self.seen.recv())
                .await
                .unwrap_or_else(|_| panic!("no {kind} callback"))
                .expect("hook alive");
            if v["type"] == kind {
                return v;
            }
        }
    }
}

/// A 200 with these actions.
pub fn actions(a: Value) -> (u16, Value) {
    (200, json!({ "actions": a }))
}

/// A script: init_call -> `first`; action_result -> `then`; anything else -> {}.
pub fn by_type(first: Value, then: Value) -> impl Fn(&str, &Value) -> (u16, Value) + Send + Sync {
    move |_, v| match v["type"].as_str() {
        Some("init_call") => actions(first.clone()),
        Some("action_result") => actions(then.clone()),
        _ => (200, json!({})),
    }
}

/// The reference worker on a loopback port, configured by `toml` (its
/// `listen` is replaced by the port bound here).
pub async fn start_worker(toml: &str) -> SocketAddr {
    let cfg = WorkerConfig::from_toml(toml, "worker.toml").expect("worker config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind worker");
    let addr = listener.local_addr().expect("worker address");
    tokio::spawn(serve(cfg, listener, std::future::pending()));
    addr
}
