//! Call-flow client metrics, registered on a registry passed in.
//! Labels are bounded: `result` is a static reason, `worker` is a configured URL.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: String,
}

#[derive(Clone, Debug, Default)]
pub struct FlowMetrics {
    offers: Family<ResultLabels, Counter>,
    worker_up: Family<WorkerLabels, Gauge>,
    /// The configured workers: only they have a `worker_up` series (a pool
    /// replaced by a reload may still report on a removed worker).
    current: Arc<Mutex<Vec<String>>>,
}

impl FlowMetrics {
    pub fn register(registry: &mut Registry) -> FlowMetrics {
        let m = FlowMetrics::default();
        registry.register(
            "trunkgate_flow_offers",
            "Calls offered to call-flow workers, by result (ok or a flow:* reason)",
            m.offers.clone(),
        );
        registry.register(
            "trunkgate_flow_worker_up",
            "1 when the call-flow worker answered its last health check",
            m.worker_up.clone(),
        );
        m
    }

    pub(crate) fn offer(&self, result: &'static str) {
        self.offers.get_or_create(&ResultLabels { result }).inc();
    }

    /// The configured workers from now on: the series of the others go.
    pub(crate) fn set_workers(&self, urls: Vec<String>) {
        let mut cur = match self.current.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for old in cur.iter().filter(|u| !urls.contains(u)) {
            self.worker_up.remove(&WorkerLabels {
                worker: old.clone(),
            });
        }
        *cur = urls;
    }

    pub(crate) fn worker_up(&self, worker: &str, up: bool) {
        let known = match self.current.lock() {
            Ok(g) => g.iter().any(|u| u == worker),
            Err(p) => p.into_inner().iter().any(|u| u == worker),
        };
        if !known {
            return;
        }
        self.worker_up
            .get_or_create(&WorkerLabels {
                worker: worker.to_owned(),
            })
            .set(i64::from(up));
    }
}
