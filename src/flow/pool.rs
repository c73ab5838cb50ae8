//! The gateway's pool of call-flow workers: one lazily connected tonic
//! `Channel` per configured worker (HTTP/2 multiplexes every call's stream
//! over it), a background health check, and [`FlowPool::offer`] which hands
//! a call to the first worker that takes it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

use super::call::{FlowCall, EVENT_QUEUE};
use super::metrics::FlowMetrics;
use super::pb::call_flow_client::CallFlowClient;
use super::pb::{self, gateway_message::Event as PbEvent};
use super::{CallOffered, FlowError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerEndpoint {
    /// `http://host:port` of the worker's gRPC listener.
    pub url: String,
}

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Tried in this order (healthy ones first).
    pub workers: Vec<WorkerEndpoint>,
    /// TCP + HTTP/2 set-up and the response headers of `Control`.
    pub connect_timeout: Duration,
    /// From the stream being open to the worker's first command.
    pub offer_timeout: Duration,
    /// Period of the `Health` probe; zero disables the probe.
    pub health_interval: Duration,
}

impl Default for WorkerSettings {
    fn default() -> WorkerSettings {
        WorkerSettings {
            workers: Vec::new(),
            connect_timeout: Duration::from_secs(1),
            offer_timeout: Duration::from_secs(2),
            health_interval: Duration::from_secs(5),
        }
    }
}

struct Worker {
    url: String,
    channel: Channel,
    up: AtomicBool,
}

struct Inner {
    workers: Vec<Worker>,
    connect_timeout: Duration,
    offer_timeout: Duration,
    metrics: Option<FlowMetrics>,
}

/// Cheap to clone; the health task ends once every clone is dropped.
#[derive(Clone)]
pub struct FlowPool {
    inner: Arc<Inner>,
}

impl FlowPool {
    /// Must be called inside a tokio runtime (channels and the health task
    /// are spawned on it). Nothing connects until the first offer or probe.
    pub fn new(
        settings: WorkerSettings,
        metrics: Option<FlowMetrics>,
    ) -> Result<FlowPool, FlowError> {
        let mut workers = Vec::with_capacity(settings.workers.len());
        for w in &settings.workers {
            let endpoint = Endpoint::from_shared(w.url.clone())
                .map_err(|e| FlowError::InvalidEndpoint {
                    url: w.url.clone(),
                    detail: e.to_string(),
                })?
                .connect_timeout(settings.connect_timeout)
                .tcp_nodelay(true);
            workers.push(Worker {
                url: w.url.clone(),
                channel: endpoint.connect_lazy(),
                up: AtomicBool::new(true),
            });
        }
        if let Some(m) = &metrics {
            m.set_workers(workers.iter().map(|w| w.url.clone()).collect());
        }
        let inner = Arc::new(Inner {
            workers,
            connect_timeout: settings.connect_timeout,
            offer_timeout: settings.offer_timeout,
            metrics,
        });
        if !settings.health_interval.is_zero() && !inner.workers.is_empty() {
            tokio::spawn(health_loop(
                Arc::downgrade(&inner),
                settings.health_interval,
            ));
        }
        Ok(FlowPool { inner })
    }

    /// Health of each worker, in configuration order.
    pub fn health(&self) -> Vec<(String, bool)> {
        self.inner
            .workers
            .iter()
            .map(|w| (w.url.clone(), w.up.load(Ordering::Relaxed)))
            .collect()
    }

    /// Probes every worker once (the health task does this periodically).
    pub async fn check_health(&self) {
        check_all(&self.inner).await;
    }

    /// Offers the call to healthy workers in configuration order, then to
    /// unhealthy ones as a last resort. A worker owns the call once its
    /// first command arrives; that command is returned first by
    /// [`FlowCall::next_command`]. On failure the error of the last worker
    /// tried is returned (503 for the call, or a failed failover).
    pub async fn offer(&self, offered: CallOffered) -> Result<FlowCall, FlowError> {
        let result = self.offer_inner(offered).await;
        if let Some(m) = &self.inner.metrics {
            m.offer(match &result {
                Ok(_) => "ok",
                Err(e) => e.name(),
            });
        }
        result
    }

    async fn offer_inner(&self, offered: CallOffered) -> Result<FlowCall, FlowError> {
        let workers = &self.inner.workers;
        let healthy = workers.iter().filter(|w| w.up.load(Ordering::Relaxed));
        let unhealthy = workers.iter().filter(|w| !w.up.load(Ordering::Relaxed));
        let order: Vec<&Worker> = healthy.chain(unhealthy).collect();
        let call_id = offered.call_id.clone();
        let offer = pb::CallOffered::from(offered);
        let mut last = FlowError::NoWorker;
        for w in order {
            match self.try_worker(w, &call_id, offer.clone()).await {
                Ok(call) => {
                    self.set_up(w, true);
                    return Ok(call);
                }
                Err(e) => {
                    tracing::warn!(call_id = %call_id, worker = %w.url, reason = e.name(), "call-flow offer failed: {e}");
                    if matches!(e, FlowError::Unreachable { .. }) {
                        self.set_up(w, false);
                    }
                    last = e;
                }
            }
        }
        Err(last)
    }

    async fn try_worker(
        &self,
        w: &Worker,
        call_id: &str,
        offer: pb::CallOffered,
    ) -> Result<FlowCall, FlowError> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let first = pb::GatewayMessage {
            event: Some(PbEvent::CallOffered(offer)),
        };
        // The queue is new and empty: this cannot fail.
        let _ = tx.try_send(first);
        let mut client = CallFlowClient::new(w.channel.clone());
        let unreachable = |detail: String| FlowError::Unreachable {
            worker: w.url.clone(),
            detail,
        };
        let response = tokio::time::timeout(
            self.inner.connect_timeout,
            client.control(ReceiverStream::new(rx)),
        )
        .await
        .map_err(|_| {
            unreachable(format!(
                "no response within {:?}",
                self.inner.connect_timeout
            ))
        })?
        .map_err(|s| status_error(s, &w.url))?;
        let mut stream = response.into_inner();
        let first = tokio::time::timeout(self.inner.offer_timeout, stream.message())
            .await
            .map_err(|_| FlowError::OfferTimeout {
                worker: w.url.clone(),
                timeout: self.inner.offer_timeout,
            })?
            .map_err(|s| status_error(s, &w.url))?
            .ok_or_else(|| {
                FlowError::StreamBroken("worker closed the stream before its first command".into())
            })?;
        Ok(FlowCall::new(
            call_id.to_owned(),
            w.url.clone(),
            tx,
            stream,
            first,
        ))
    }

    fn set_up(&self, w: &Worker, up: bool) {
        w.up.store(up, Ordering::Relaxed);
        if let Some(m) = &self.inner.metrics {
            m.worker_up(&w.url, up);
        }
    }
}

/// UNAVAILABLE (connection refused/reset, worker draining) means "try the
/// next worker"; any other status is a broken stream.
fn status_error(s: tonic::Status, worker: &str) -> FlowError {
    if s.code() == tonic::Code::Unavailable {
        FlowError::Unreachable {
            worker: worker.to_owned(),
            detail: s.message().to_owned(),
        }
    } else {
        FlowError::StreamBroken(format!("{}: {}", s.code(), s.message()))
    }
}

async fn check_all(inner: &Inner) {
    for w in &inner.workers {
        let mut client = CallFlowClient::new(w.channel.clone());
        let deadline = inner.connect_timeout + inner.offer_timeout;
        let up = matches!(
            tokio::time::timeout(deadline, client.health(pb::HealthRequest {})).await,
            Ok(Ok(reply)) if reply.get_ref().serving
        );
        if w.up.swap(up, Ordering::Relaxed) != up {
            tracing::info!(worker = %w.url, up, "call-flow worker health changed");
        }
        if let Some(m) = &inner.metrics {
            m.worker_up(&w.url, up);
        }
    }
}

async fn health_loop(pool: Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = pool.upgrade() else {
            return;
        };
        check_all(&inner).await;
    }
}
