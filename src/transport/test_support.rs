//! Shared helpers for the socket tests: a collecting handler and bounded waits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::{Handler, Received, TransportConfig, TransportKind, Transports};

pub const WAIT: Duration = Duration::from_secs(3);

pub struct Collect(mpsc::UnboundedSender<Received>);

impl Handler for Collect {
    fn on_message(&self, msg: Received) {
        let _ = self.0.send(msg);
    }
}

pub fn cfg(listen: &[(TransportKind, &str)]) -> TransportConfig {
    TransportConfig {
        listen: listen
            .iter()
            .map(|(k, a)| (*k, a.parse().unwrap()))
            .collect(),
        udp_recv_buffer: 1 << 20,
        udp_send_buffer: 1 << 20,
        tcp_idle_timeout: Duration::from_secs(30),
        tcp_message_timeout: Duration::from_secs(10),
        tcp_connect_timeout: Duration::from_secs(1),
        ..TransportConfig::default()
    }
}

pub async fn start(cfg: TransportConfig) -> (Arc<Transports>, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let t = Transports::bind(cfg, Arc::new(Collect(tx))).await.unwrap();
    (t, rx)
}

/// Binds `cfg`, or returns None (printing a note) when the host has no IPv6 loopback.
pub async fn start_v6(
    cfg: TransportConfig,
) -> Option<(Arc<Transports>, mpsc::UnboundedReceiver<Received>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    match Transports::bind(cfg, Arc::new(Collect(tx))).await {
        Ok(t) => Some((t, rx)),
        Err(super::TransportError::Bind { source, .. })
            if source.kind() == std::io::ErrorKind::AddrNotAvailable =>
        {
            eprintln!("NOTE: skipping IPv6 test: cannot bind ::1 ({source})");
            None
        }
        Err(e) => panic!("bind failed: {e}"),
    }
}

pub async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    timeout(WAIT, rx.recv())
        .await
        .expect("timed out waiting for a message")
        .expect("handler channel closed")
}

pub async fn assert_quiet(rx: &mut mpsc::UnboundedReceiver<Received>, dur: Duration) {
    if let Ok(Some(m)) = timeout(dur, rx.recv()).await {
        panic!("unexpected message: {:?}", m.data);
    }
}

pub fn sip(method: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP pbx;branch=z9hG4bK{}\r\n\
         Call-ID: c1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len(),
        body.len()
    )
    .into_bytes()
}

/// Reads until the peer closes; panics if it stays open longer than `within`.
pub async fn expect_closed(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "connection still open after {within:?}");
    got
}

/// Reads exactly `n` bytes within the default wait.
pub async fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("timed out reading")
        .expect("read failed");
    buf
}

/// Polls `cond` every 10 ms until it holds; panics after the default wait.
pub async fn wait_for(mut cond: impl FnMut() -> bool) {
    let ok = timeout(WAIT, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "condition not reached in time");
}

pub fn addr(t: &Transports, kind: TransportKind, ipv6: bool) -> SocketAddr {
    t.local_addr(kind, ipv6).unwrap()
}
