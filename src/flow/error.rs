//! Errors of the gateway-side call-flow client. Each has a static
//! [`FlowError::name`] used as the call-log reason and metric label.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The configuration lists no worker.
    #[error("no call-flow worker configured")]
    NoWorker,
    /// A worker URL cannot be parsed into a gRPC endpoint.
    #[error("invalid worker endpoint {url:?}: {detail}")]
    InvalidEndpoint { url: String, detail: String },
    /// Connection refused / reset / not established within `connect_timeout`,
    /// or the worker said UNAVAILABLE.
    #[error("worker {worker} unreachable: {detail}")]
    Unreachable { worker: String, detail: String },
    /// The stream opened but no first command came within `offer_timeout`.
    #[error("worker {worker} did not answer CallOffered within {timeout:?}")]
    OfferTimeout { worker: String, timeout: Duration },
    /// The control stream failed (transport error, RST_STREAM, non-OK status),
    /// or the worker closed it before its first command.
    #[error("control stream broken: {0}")]
    StreamBroken(String),
}

impl FlowError {
    /// Static call-log reason / metric label.
    pub fn name(&self) -> &'static str {
        match self {
            FlowError::NoWorker => "flow:no_worker",
            FlowError::InvalidEndpoint { .. } => "flow:invalid_endpoint",
            FlowError::Unreachable { .. } => "flow:unreachable",
            FlowError::OfferTimeout { .. } => "flow:offer_timeout",
            FlowError::StreamBroken(_) => "flow:stream_broken",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_call_log_reasons() {
        assert_eq!(FlowError::NoWorker.name(), "flow:no_worker");
        let e = FlowError::OfferTimeout {
            worker: "http://127.0.0.1:1".into(),
            timeout: Duration::from_millis(5),
        };
        assert_eq!(e.name(), "flow:offer_timeout");
        assert_eq!(
            FlowError::StreamBroken("x".into()).name(),
            "flow:stream_broken"
        );
    }
}
