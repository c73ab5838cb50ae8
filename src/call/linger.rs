//! Ended calls: only what answering their late retransmissions needs.
//!
//! After a call ends, its transactions still absorb retransmissions for up to
//! 64*T1 = 32 s on UDP (RFC 3261 §17.2.2 Timer J, RFC 6026 Timers L and M): a
//! retransmitted INVITE must not start a new call, a retransmitted BYE gets
//! the same 200 again, a retransmitted 2xx (or non-2xx final) from the
//! carrier gets the same ACK again. Keeping the whole call task for that kept
//! both dialogs, every request, the route plan and the task's channel alive
//! for 32 s after each call (~18 KB per call, ~1 GB at 6000 calls/s).
//!
//! So once a call has ended and every transaction it still has only absorbs
//! (nothing left that retransmits on its own), the call task hands a
//! [`Tombstone`] to this table — per transaction the branch, the method and
//! the bytes to send again, copied out of the messages — and exits. The
//! dispatcher answers from the tombstone until the last transaction timer
//! would have fired; a message matching none of its transactions is treated
//! as if the call were gone (ACK dropped, other in-dialog requests 481,
//! responses stray), which is what the ended call task did too.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use prometheus_client::metrics::gauge::Gauge;
use tokio::time::Instant;

use crate::sip::{Message, Method};
use crate::transport::Target;

/// What an ended call's transaction does when its peer retransmits.
#[derive(Debug, Clone)]
enum Answer {
    /// Nothing: the retransmission is absorbed.
    Absorb,
    /// Send these bytes again: our last response (its status code), or our
    /// ACK (`code` None).
    Resend {
        bytes: Bytes,
        target: Target,
        code: Option<u16>,
    },
}

/// One transaction of an ended call.
#[derive(Debug, Clone)]
pub struct Entry {
    /// We received the request (server) or sent it (client).
    server: bool,
    branch: Bytes,
    method: Method,
    answer: Answer,
}

impl Entry {
    /// A request we answered: a retransmission is absorbed, or gets
    /// `resend` (our final response, status `code`) again.
    pub fn server(branch: &[u8], method: Method, resend: Option<(&[u8], u16, Target)>) -> Entry {
        Entry {
            server: true,
            branch: Bytes::copy_from_slice(branch),
            method,
            answer: match resend {
                Some((bytes, code, target)) => Answer::Resend {
                    bytes: Bytes::copy_from_slice(bytes),
                    target,
                    code: Some(code),
                },
                None => Answer::Absorb,
            },
        }
    }

    /// A request we sent: a retransmitted final response gets `ack` again,
    /// anything else is absorbed.
    pub fn client(branch: &[u8], method: Method, ack: Option<(&[u8], Target)>) -> Entry {
        Entry {
            server: false,
            branch: Bytes::copy_from_slice(branch),
            method,
            answer: match ack {
                Some((bytes, target)) => Answer::Resend {
                    bytes: Bytes::copy_from_slice(bytes),
                    target,
                    code: None,
                },
                None => Answer::Absorb,
            },
        }
    }
}

/// What an ended call leaves behind until its last transaction timer.
#[derive(Debug)]
pub struct Tombstone {
    expires: Instant,
    entries: Box<[Entry]>,
    /// The table's count of ended calls held, decremented when this goes.
    held: Option<Arc<AtomicI64>>,
}

impl Drop for Tombstone {
    fn drop(&mut self) {
        if let Some(h) = &self.held {
            h.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// What the dispatcher should do with a message for an ended call.
#[derive(Debug)]
pub enum Reply {
    /// A retransmission: nothing to send.
    Absorbed,
    /// A retransmission: send these bytes again — our response with this
    /// status code, or our ACK (`code` None).
    Resend {
        bytes: Bytes,
        target: Target,
        code: Option<u16>,
    },
    /// Not one of the ended call's transactions.
    Unknown,
}

impl Tombstone {
    /// The tombstone of an ended call whose remaining transactions are
    /// `entries`, the last of them ending at `expires`.
    pub fn new(entries: Vec<Entry>, expires: Instant) -> Tombstone {
        Tombstone {
            expires,
            entries: entries.into_boxed_slice(),
            held: None,
        }
    }

    /// How the ended call answers `msg`.
    pub fn reply(&self, msg: &Message) -> Reply {
        let Some(branch) = msg.via_top().ok().and_then(|v| v.branch()) else {
            return Reply::Unknown;
        };
        let server = msg.is_request();
        let Some(method) = (if server {
            msg.method().cloned()
        } else {
            msg.cseq().ok().map(|c| c.method)
        }) else {
            return Reply::Unknown;
        };
        let Some(e) = self
            .entries
            .iter()
            .find(|e| e.server == server && e.method == method && e.branch == branch)
        else {
            return Reply::Unknown;
        };
        match &e.answer {
            // Our ACK goes again for a retransmitted final response only.
            Answer::Resend { .. } if !server && msg.code().is_none_or(|c| c < 200) => {
                Reply::Absorbed
            }
            Answer::Resend {
                bytes,
                target,
                code,
            } => Reply::Resend {
                bytes: bytes.clone(),
                target: target.clone(),
                code: *code,
            },
            Answer::Absorb => Reply::Absorbed,
        }
    }

    /// Heap bytes this tombstone holds (for the memory figures).
    pub fn heap_bytes(&self) -> usize {
        self.entries.len() * std::mem::size_of::<Entry>()
            + self
                .entries
                .iter()
                .map(|e| {
                    e.branch.len()
                        + match &e.answer {
                            Answer::Resend { bytes, .. } => bytes.len(),
                            Answer::Absorb => 0,
                        }
                })
                .sum::<usize>()
    }
}

/// Ended calls by Call-ID (each leg's), until their tombstones expire.
#[derive(Default)]
pub struct Linger {
    map: DashMap<Bytes, Arc<Tombstone>>,
    /// Tombstones alive (one per ended call, whatever its number of Call-IDs).
    held: Arc<AtomicI64>,
    /// `trunkgate_calls_lingering`, set at each sweep.
    gauge: Gauge,
}

impl Linger {
    pub fn new(gauge: Gauge) -> Linger {
        Linger {
            gauge,
            ..Default::default()
        }
    }

    /// Keeps `stone` under each of the call's Call-IDs (copied: a key sliced
    /// from a received message would keep the whole message alive).
    pub fn bury(&self, call_ids: &[Bytes], mut stone: Tombstone) {
        if call_ids.is_empty() {
            return;
        }
        self.held.fetch_add(1, Ordering::Relaxed);
        stone.held = Some(Arc::clone(&self.held));
        let stone = Arc::new(stone);
        for id in call_ids {
            self.map
                .insert(Bytes::copy_from_slice(id), Arc::clone(&stone));
        }
    }

    /// The ended call with this Call-ID, if its tombstone is still valid.
    pub fn get(&self, call_id: &[u8], now: Instant) -> Option<Arc<Tombstone>> {
        let t = self.map.get(call_id).map(|e| Arc::clone(e.value()))?;
        (t.expires > now).then_some(t)
    }

    /// Drops expired tombstones and updates the gauge.
    pub fn sweep(&self, now: Instant) {
        self.map.retain(|_, t| t.expires > now);
        self.gauge.set(self.len());
    }

    /// Ended calls held.
    pub fn len(&self) -> i64 {
        self.held.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How often expired tombstones are dropped.
pub const SWEEP: Duration = Duration::from_secs(1);

/// Drops expired tombstones every [`SWEEP`] until the table is gone.
pub async fn sweeper(linger: Weak<Linger>) {
    let mut tick = tokio::time::interval(SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(linger) = linger.upgrade() else {
            return;
        };
        linger.sweep(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stone(expires: Instant) -> Tombstone {
        Tombstone {
            expires,
            entries: Box::new([]),
            held: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn held_once_per_call_until_swept() {
        let l = Linger::default();
        let now = Instant::now();
        let ids = [Bytes::from_static(b"a-leg"), Bytes::from_static(b"b-leg")];
        l.bury(&ids, stone(now + Duration::from_secs(32)));
        l.bury(&ids[..1], stone(now + Duration::from_secs(1)));
        // The second call reused a-leg's Call-ID: the first keeps only b-leg.
        assert_eq!(l.len(), 2);
        assert!(l.get(b"a-leg", now).is_some());
        assert!(l.get(b"nope", now).is_none());
        let later = now + Duration::from_secs(2);
        assert!(l.get(b"a-leg", later).is_none(), "expired, even unswept");
        l.sweep(later);
        assert_eq!(l.len(), 1);
        assert!(l.get(b"b-leg", later).is_some());
        l.sweep(now + Duration::from_secs(33));
        assert_eq!(l.len(), 0);
        assert!(l.is_empty());
        l.bury(&[], stone(now));
        assert!(l.is_empty(), "a call without Call-IDs leaves nothing");
    }

    fn bye(branch: &'static str) -> Message {
        let text = format!(
            "BYE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(text), &Default::default()).expect("parses")
    }

    #[test]
    fn retransmissions_matched_by_branch_and_method() {
        let target = Target {
            kind: crate::transport::TransportKind::Udp,
            addr: "127.0.0.1:5070".parse().expect("addr"),
            conn: None,
        };
        let ok = b"SIP/2.0 200 OK\r\n\r\n";
        let t = Tombstone::new(
            vec![
                Entry::server(b"z9hG4bKbye", Method::Bye, Some((ok, 200, target.clone()))),
                Entry::server(b"z9hG4bKinv", Method::Invite, None),
            ],
            Instant::now(),
        );
        match t.reply(&bye("z9hG4bKbye")) {
            Reply::Resend { bytes, code, .. } => {
                assert_eq!(&bytes[..], ok);
                assert_eq!(code, Some(200));
            }
            other => panic!("expected the 200 again, got {other:?}"),
        }
        assert!(matches!(t.reply(&bye("z9hG4bKother")), Reply::Unknown));
        // Same branch, other method: not that transaction.
        assert!(matches!(t.reply(&bye("z9hG4bKinv")), Reply::Unknown));
    }
}
