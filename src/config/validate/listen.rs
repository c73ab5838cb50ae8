//! `sip.listen[]` and `http.listen`: entries that would fight over one socket.

use std::net::SocketAddr;

use super::Errors;
use crate::config::Listen;

/// Listen entries that would fight over one socket: the same transport and
/// address twice, TCP and TLS on one address (both are TCP ports), and the
/// HTTP listener on a SIP address. Port 0 (kernel-chosen) never conflicts.
pub(super) fn listen_conflicts(e: &mut Errors, listen: &[Listen], http: Option<SocketAddr>) {
    use crate::config::Transport::{Tcp, Tls};
    let same = |a: SocketAddr, b: SocketAddr| {
        a.port() != 0
            && a.port() == b.port()
            && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
    };
    for (j, l) in listen.iter().enumerate() {
        for (i, k) in listen[..j].iter().enumerate() {
            let both_tcp = matches!((k.transport, l.transport), (Tcp, Tls) | (Tls, Tcp));
            if same(k.address, l.address) && (k.transport == l.transport || both_tcp) {
                let rule = if k.transport == l.transport {
                    format!("duplicate of sip.listen[{i}] ({})", k.address)
                } else {
                    format!(
                        "TCP and TLS cannot share one port: sip.listen[{i}] is {}",
                        k.address
                    )
                };
                e.add(format!("sip.listen[{j}].address"), rule);
            }
        }
        if let Some(h) = http {
            if same(h, l.address) {
                e.add(
                    "http.listen",
                    format!("must differ from sip.listen[{j}].address ({})", l.address),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
