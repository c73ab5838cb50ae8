//! The hand-driven call-flow worker (a test double of the gRPC contract):
//! every `Control` stream the gateway opens is handed to the test, which
//! reads the gateway's events and sends commands itself (or stays silent).

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status, Streaming};
use trunkgate::flow::pb::call_flow_server::{CallFlow, CallFlowServer};
use trunkgate::flow::pb::{self, gateway_message::Event as PbEvent};

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
