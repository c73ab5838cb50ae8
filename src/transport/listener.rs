//! One listen address: binding its socket and starting its receive (UDP) or
//! accept (TCP, TLS) loops; what a reload adds, keeps or stops.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::AbortHandle;

use super::{tcp, tls, udp, Shared, TransportConfig, TransportError, TransportKind};

/// One listen address with its socket and receive/accept tasks.
pub(super) struct Listener {
    pub(super) kind: TransportKind,
    /// The address as configured (port 0 stays 0): the key a reload matches on.
    pub(super) configured: SocketAddr,
    pub(super) local: SocketAddr,
    pub(super) udp: Option<Arc<udp::UdpEndpoint>>,
    pub(super) tasks: Vec<AbortHandle>,
}

/// A bound socket whose loops are not running yet.
pub(super) enum Bound {
    Udp(udp::UdpEndpoint),
    Stream(tokio::net::TcpListener, SocketAddr),
}

pub(super) fn bind_one(
    kind: TransportKind,
    addr: SocketAddr,
    cfg: &TransportConfig,
) -> Result<Bound, TransportError> {
    match kind {
        TransportKind::Udp => Ok(Bound::Udp(udp::bind(addr, cfg)?)),
        TransportKind::Tcp => {
            let (l, local) = tcp::bind(addr)?;
            Ok(Bound::Stream(l, local))
        }
        TransportKind::Tls => {
            if cfg.tls.is_none() {
                return Err(TransportError::Config(
                    "a TLS listener needs [tls] settings",
                ));
            }
            let (l, local) = tcp::bind(addr)?;
            Ok(Bound::Stream(l, local))
        }
    }
}

/// Starts the receive (UDP) or accept (TCP, TLS) loops of a bound socket.
pub(super) fn spawn_listener(
    shared: &Arc<Shared>,
    kind: TransportKind,
    configured: SocketAddr,
    bound: Bound,
) -> Listener {
    let mut tasks = Vec::new();
    match bound {
        Bound::Udp(ep) => {
            let ep = Arc::new(ep);
            for _ in 0..shared.cfg.udp_workers.max(1) {
                let task = tokio::spawn(udp::recv_loop(shared.clone(), ep.clone()));
                tasks.push(task.abort_handle());
            }
            Listener {
                kind,
                configured,
                local: ep.local,
                udp: Some(ep),
                tasks,
            }
        }
        Bound::Stream(listener, local) => {
            let task = match (kind, &shared.cfg.tls) {
                (TransportKind::Tls, Some(ctx)) => tokio::spawn(tls::accept_loop(
                    shared.clone(),
                    ctx.clone(),
                    listener,
                    local,
                )),
                _ => tokio::spawn(tcp::accept_loop(shared.clone(), listener, local)),
            };
            tasks.push(task.abort_handle());
            Listener {
                kind,
                configured,
                local,
                udp: None,
                tasks,
            }
        }
    }
}
