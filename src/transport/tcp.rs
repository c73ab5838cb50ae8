//! TCP transport (RFC 3261 §18.1.1, §18.2.2, §18.3): listeners with connection caps,
//! and sending over the right connection, connecting when there is none.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, warn};

use super::conn::{self, Admit, Origin};
use super::stats::inc;
use super::{canonical, Shared, Target, TransportError, TransportKind};

const BACKLOG: i32 = 1024;

/// Creates a listener with SO_REUSEADDR (quick restarts) and IPV6_V6ONLY for IPv6.
pub(crate) fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), TransportError> {
    let bind_err = |source: io::Error| TransportError::Bind {
        kind: TransportKind::Tcp,
        addr,
        source,
    };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(bind_err)?;
    socket.set_reuse_address(true).map_err(bind_err)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(bind_err)?;
    }
    socket.set_nonblocking(true).map_err(bind_err)?;
    socket.bind(&SockAddr::from(addr)).map_err(bind_err)?;
    socket.listen(BACKLOG).map_err(bind_err)?;
    let listener = TcpListener::from_std(socket.into()).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    Ok((listener, local))
}

/// Accepts connections; one over `tcp_max_connections` or `tcp_max_per_source` is
/// closed at once (dropping the stream), so a flood from one source cannot starve others.
pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, local: SocketAddr) {
    let c = &shared.counters;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE/ENFILE and friends: wait for descriptors to free up.
                warn!(%local, error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if shared.shut.load(Ordering::SeqCst) {
            return;
        }
        let peer = canonical(peer);
        let Some(origin) = admit(&shared, peer) else {
            continue;
        };
        inc(&c.tcp_accepted);
        conn::spawn(&shared, stream, peer, origin);
    }
}

/// Takes a pool slot for an accepted connection from `peer` (TCP and TLS), or counts
/// the refusal and says no (the caller drops the stream, closing it at once).
pub(crate) fn admit(shared: &Shared, peer: SocketAddr) -> Option<Origin> {
    let c = &shared.counters;
    let trusted = shared.cfg.trust.as_ref().is_none_or(|t| t.is_trusted(peer));
    match shared.conns.admit(peer.ip(), trusted, &shared.cfg) {
        Admit::Yes => Some(Origin::Accepted { trusted }),
        Admit::TooManyTotal => {
            inc(&c.tcp_rejected_max_connections);
            debug!(%peer, "rejecting TCP connection: tcp_max_connections reached");
            None
        }
        Admit::TooManyFromSource => {
            inc(&c.tcp_rejected_max_per_source);
            debug!(%peer, "rejecting TCP connection: tcp_max_per_source reached");
            None
        }
        Admit::ReservedForTrusted => {
            inc(&c.tcp_rejected_reserved);
            debug!(%peer, "rejecting TCP connection: the rest of the pool is reserved for trusted sources");
            None
        }
    }
}

/// RFC 3261 §18.2.2: a response goes back over the connection the request came on; if
/// it is gone, the server opens a new one to the sent-by address. Requests (§18.1.1)
/// reuse an open connection to the target when there is one.
pub(crate) async fn send(
    shared: &Arc<Shared>,
    target: &Target,
    data: Bytes,
) -> Result<(), TransportError> {
    let addr = canonical(target.addr);
    if let Some(id) = target.conn {
        match shared.conns.try_send(id, data.clone(), &shared.counters) {
            Err(TransportError::ConnectionClosed) => {}
            done => return done,
        }
    }
    if let Some(id) = shared.conns.by_addr(TransportKind::Tcp, addr) {
        match shared.conns.try_send(id, data.clone(), &shared.counters) {
            Err(TransportError::ConnectionClosed) => {}
            done => return done,
        }
    }
    if shared.shut.load(Ordering::SeqCst) {
        return Err(TransportError::Shutdown);
    }
    let stream = match tokio::time::timeout(
        shared.cfg.tcp_connect_timeout,
        TcpStream::connect(addr),
    )
    .await
    {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            inc(&shared.counters.tcp_connect_failed);
            debug!(%addr, error = %e, "TCP connect failed");
            return Err(e.into());
        }
        Err(_) => {
            inc(&shared.counters.tcp_connect_failed);
            return Err(TransportError::ConnectTimeout);
        }
    };
    // Another sender may have connected meanwhile: use that and drop this one.
    if let Some(id) = shared.conns.by_addr(TransportKind::Tcp, addr) {
        if let Ok(()) = shared.conns.try_send(id, data.clone(), &shared.counters) {
            return Ok(());
        }
    }
    inc(&shared.counters.tcp_connected_out);
    shared.conns.count_outbound();
    let id = conn::spawn(shared, stream, addr, Origin::Outbound);
    shared.conns.try_send(id, data, &shared.counters)
}
