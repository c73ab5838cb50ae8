//! Errors of the transport layer (RFC 3261 §18). Each has a static label for metrics.

use std::io;

use super::framing::FramingError;
use super::TransportKind;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    #[error("binding {addr} ({kind:?}): {source}")]
    Bind {
        kind: TransportKind,
        addr: std::net::SocketAddr,
        source: io::Error,
    },
    /// Nothing is listening on this transport for the target's address family.
    #[error("no {} listener for IPv{}", kind.as_str(), if *ipv6 { 6 } else { 4 })]
    NoListener { kind: TransportKind, ipv6: bool },
    /// The connection is gone and a new one could not be used.
    #[error("connection closed")]
    ConnectionClosed,
    /// The connection's send queue is full: the peer is not reading.
    #[error("connection send queue full")]
    QueueFull,
    /// RFC 3261 §18.1.1 / §18.2.2: a failed connect is a transport error to the caller.
    #[error("connect timed out")]
    ConnectTimeout,
    #[error("message larger than the configured maximum")]
    TooLarge,
    #[error("framing: {0}")]
    Framing(#[from] FramingError),
    /// TLS connect or handshake failed (certificate not valid for the peer, …).
    #[error("TLS: {0}")]
    Tls(String),
    #[error("transports are shut down")]
    Shutdown,
    #[error("invalid transport configuration: {0}")]
    Config(&'static str),
}

impl TransportError {
    /// Static label for metrics and logs.
    pub fn name(&self) -> &'static str {
        match self {
            TransportError::Io(_) => "transport::io",
            TransportError::Bind { .. } => "transport::bind",
            TransportError::NoListener { .. } => "transport::no_listener",
            TransportError::ConnectionClosed => "transport::connection_closed",
            TransportError::QueueFull => "transport::queue_full",
            TransportError::ConnectTimeout => "transport::connect_timeout",
            TransportError::TooLarge => "transport::too_large",
            TransportError::Framing(e) => e.name(),
            TransportError::Tls(_) => "transport::tls",
            TransportError::Shutdown => "transport::shutdown",
            TransportError::Config(_) => "transport::config",
        }
    }
}
