//! TLS hooks of the call layer: which name a TLS peer's certificate must carry.

use std::net::SocketAddr;

use crate::resolve::{Destination, Host};

use super::core::Core;

/// RFC 5922 §4: a TLS destination named by host is verified against that host name
/// (the name before SRV, as RFC 5922 §4.2 asks), not against the address it resolved to.
pub(crate) fn expect_name(core: &Core, dest: &Destination, addr: SocketAddr) {
    let Host::Name(name) = &dest.host else { return };
    let Some(ctx) = core.transports().and_then(|t| t.tls().cloned()) else {
        return;
    };
    if let Err(e) = ctx.set_server_name(addr, name) {
        tracing::warn!(error = %e, "TLS server name not usable");
    }
}
