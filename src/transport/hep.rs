//! HEP v3 (Homer Encapsulation Protocol) export of every SIP message the
//! transports receive or send, to a Homer / heplify-server collector over
//! UDP. Off unless `[hep] address` is set.
//!
//! The call path never waits for it: a message is encoded into a bounded
//! queue with `try_send` (a full queue drops the copy and counts it in
//! `dropped`), and one task sends the queue's datagrams from its own socket.
//! The encoding is a few length-prefixed chunks (HEP3 spec: vendor 0x0000,
//! chunk types 1-15 and 17); written here because no maintained crate
//! encodes HEP.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::mpsc;

use super::{Handler, Received, TransportKind};

/// Where and as whom to send captures (`[hep]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HepSettings {
    pub address: SocketAddr,
    /// HEP capture agent id (chunk 0x000c).
    pub node_id: u32,
    /// Sent as the HEP auth key (chunk 0x000e) when set.
    pub password: Option<String>,
}

/// Copies queued for the sender task; beyond it copies are dropped.
const QUEUE: usize = 8192;

/// The capture point shared by the transports.
pub struct Capture {
    settings: HepSettings,
    tx: mpsc::Sender<Bytes>,
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("address", &self.settings.address)
            .finish()
    }
}

impl Capture {
    /// Starts the sender task (inside a runtime). `None` when no socket can be bound.
    pub fn start(settings: HepSettings) -> Option<Arc<Capture>> {
        let bind: SocketAddr = if settings.address.is_ipv6() {
            "[::]:0".parse().ok()?
        } else {
            "0.0.0.0:0".parse().ok()?
        };
        let sock = match std::net::UdpSocket::bind(bind)
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .and_then(tokio::net::UdpSocket::from_std)
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "HEP capture: cannot bind a socket; capture off");
                return None;
            }
        };
        let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE);
        let to = settings.address;
        let capture = Arc::new(Capture {
            settings,
            tx,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&capture);
        tokio::spawn(async move {
            while let Some(d) = rx.recv().await {
                let ok = sock.send_to(&d, to).await.is_ok();
                if let Some(c) = weak.upgrade() {
                    let n = if ok { &c.sent } else { &c.dropped };
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Some(capture)
    }

    /// Queues one message's copy (never waits).
    pub fn capture(&self, kind: TransportKind, src: SocketAddr, dst: SocketAddr, msg: &[u8]) {
        let d = encode(&self.settings, kind, src, dst, SystemTime::now(), msg);
        if self.tx.try_send(d).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A [`Handler`] that captures every received message, then hands it on.
pub struct CapturingHandler {
    pub inner: Arc<dyn Handler>,
    pub capture: Arc<Capture>,
}

impl Handler for CapturingHandler {
    fn on_message(&self, msg: Received) {
        self.capture
            .capture(msg.kind, msg.source, msg.local, &msg.data);
        self.inner.on_message(msg);
    }
}

fn chunk(b: &mut BytesMut, kind: u16, payload: &[u8]) {
    b.put_u16(0); // vendor: generic
    b.put_u16(kind);
    b.put_u16((payload.len() + 6).min(usize::from(u16::MAX)) as u16);
    b.put_slice(payload);
}

/// The Call-ID of a SIP message (for the correlation chunk), if it has one.
fn call_id(msg: &[u8]) -> Option<&[u8]> {
    let head_end = memchr::memmem::find(msg, b"\r\n\r\n").unwrap_or(msg.len());
    msg[..head_end].split(|&c| c == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&c| c == b':')?;
        let name = line[..colon].trim_ascii();
        (name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i"))
            .then(|| line[colon + 1..].trim_ascii())
    })
}

/// One HEP v3 packet.
pub fn encode(
    s: &HepSettings,
    kind: TransportKind,
    src: SocketAddr,
    dst: SocketAddr,
    at: SystemTime,
    msg: &[u8],
) -> Bytes {
    let mut b = BytesMut::with_capacity(msg.len() + 128);
    b.put_slice(b"HEP3");
    b.put_u16(0); // total length, set below
    let v6 = src.is_ipv6() || dst.is_ipv6();
    chunk(&mut b, 0x0001, &[if v6 { 10 } else { 2 }]);
    chunk(
        &mut b,
        0x0002,
        &[if kind == TransportKind::Udp { 17 } else { 6 }],
    );
    let ip = |a: IpAddr| match a {
        IpAddr::V4(v4) if !v6 => v4.octets().to_vec(),
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets().to_vec(),
        IpAddr::V6(x) => x.octets().to_vec(),
    };
    let (src_t, dst_t) = if v6 {
        (0x0005, 0x0006)
    } else {
        (0x0003, 0x0004)
    };
    chunk(&mut b, src_t, &ip(src.ip()));
    chunk(&mut b, dst_t, &ip(dst.ip()));
    chunk(&mut b, 0x0007, &src.port().to_be_bytes());
    chunk(&mut b, 0x0008, &dst.port().to_be_bytes());
    let t = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    chunk(&mut b, 0x0009, &(t.as_secs() as u32).to_be_bytes());
    chunk(&mut b, 0x000a, &t.subsec_micros().to_be_bytes());
    chunk(&mut b, 0x000b, &[1]); // SIP
    chunk(&mut b, 0x000c, &s.node_id.to_be_bytes());
    if let Some(p) = &s.password {
        chunk(&mut b, 0x000e, p.as_bytes());
    }
    if let Some(id) = call_id(msg) {
        chunk(&mut b, 0x0011, id);
    }
    // A SIP message is at most max_message_size (<= 1 MiB): a chunk holds 65529 bytes.
    chunk(
        &mut b,
        0x000f,
        &msg[..msg.len().min(usize::from(u16::MAX) - 6)],
    );
    let total = b.len().min(usize::from(u16::MAX)) as u16;
    b[4..6].copy_from_slice(&total.to_be_bytes());
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_chunks_heplify_reads() {
        let s = HepSettings {
            address: "127.0.0.1:9060".parse().unwrap(),
            node_id: 2001,
            password: Some("pw".into()),
        };
        let msg = b"OPTIONS sip:a SIP/2.0\r\nCall-ID: abc@x\r\nContent-Length: 0\r\n\r\n";
        let at = UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456);
        let d = encode(
            &s,
            TransportKind::Udp,
            "10.0.0.1:5060".parse().unwrap(),
            "10.0.0.2:5070".parse().unwrap(),
            at,
            msg,
        );
        assert_eq!(&d[..4], b"HEP3");
        assert_eq!(usize::from(u16::from_be_bytes([d[4], d[5]])), d.len());
        let mut chunks = std::collections::HashMap::new();
        let mut i = 6;
        while i < d.len() {
            let t = u16::from_be_bytes([d[i + 2], d[i + 3]]);
            let l = usize::from(u16::from_be_bytes([d[i + 4], d[i + 5]]));
            chunks.insert(t, d[i + 6..i + l].to_vec());
            i += l;
        }
        assert_eq!(chunks[&1], [2]);
        assert_eq!(chunks[&2], [17]);
        assert_eq!(chunks[&3], [10, 0, 0, 1]);
        assert_eq!(chunks[&4], [10, 0, 0, 2]);
        assert_eq!(chunks[&7], 5060u16.to_be_bytes());
        assert_eq!(chunks[&8], 5070u16.to_be_bytes());
        assert_eq!(chunks[&9], 1_700_000_000u32.to_be_bytes());
        assert_eq!(chunks[&10], 123_456u32.to_be_bytes());
        assert_eq!(chunks[&11], [1]);
        assert_eq!(chunks[&12], 2001u32.to_be_bytes());
        assert_eq!(chunks[&14], b"pw");
        assert_eq!(chunks[&17], b"abc@x");
        assert_eq!(chunks[&15], msg);
    }
}
