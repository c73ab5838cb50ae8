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

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use prometheus_client::metrics::gauge::Gauge;
use smallvec::SmallVec;
use tokio::time::Instant;

use crate::sip::{Message, Method};
use crate::transport::Target;

/// One transaction of an ended call, as handed to [`Tombstone::new`]: it
/// borrows the transaction's bytes, which the tombstone copies into its one
/// buffer.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// We received the request (server) or sent it (client).
    server: bool,
    branch: &'a [u8],
    method: Method,
    /// Bytes to send again, where, and their status code (None: our ACK);
    /// `None`: a retransmission is absorbed.
    resend: Option<(&'a [u8], Option<u16>, Target)>,
}

impl<'a> Entry<'a> {
    /// A request we answered: a retransmission is absorbed, or gets
    /// `resend` (our final response, status `code`) again.
    pub fn server(
        branch: &'a [u8],
        method: Method,
        resend: Option<(&'a [u8], u16, Target)>,
    ) -> Entry<'a> {
        Entry {
            server: true,
            branch,
            method,
            resend: resend.map(|(bytes, code, target)| (bytes, Some(code), target)),
        }
    }

    /// A request we sent: a retransmitted final response gets `ack` again,
    /// anything else is absorbed.
    pub fn client(branch: &'a [u8], method: Method, ack: Option<(&'a [u8], Target)>) -> Entry<'a> {
        Entry {
            server: false,
            branch,
            method,
            resend: ack.map(|(bytes, target)| (bytes, None, target)),
        }
    }
}

/// The method's name on the wire (an unknown method's token as received).
fn method_name(m: &Method) -> &[u8] {
    match m {
        Method::Other(b) => b,
        known => known.as_str().as_bytes(),
    }
}

/// One transaction of a tombstone: its method, branch and resend bytes lie
/// back to back in the tombstone's buffer from `start`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    start: u32,
    resend_len: u32,
    branch_len: u16,
    method_len: u16,
    server: bool,
    /// Index into `targets`; meaningless when `resend_len` is 0.
    target: u16,
    code: Option<u16>,
}

/// What an ended call leaves behind until its last transaction timer: two
/// allocations (this, behind its `Arc`, and `buf`), whatever its number of
/// transactions.
#[derive(Debug)]
pub struct Tombstone {
    expires: Instant,
    /// The call's Call-IDs (set by [`Linger::bury`]), then per slot its
    /// method, branch and resend bytes.
    buf: Box<[u8]>,
    /// Length of each Call-ID at the start of `buf`.
    ids: SmallVec<[u16; 2]>,
    slots: SmallVec<[Slot; 4]>,
    targets: SmallVec<[Target; 2]>,
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
    /// `entries`, the last of them ending at `expires`. Their bytes are
    /// copied into one buffer. An entry whose pieces do not fit the compact
    /// lengths (a method or a branch of 64 KiB or more, which no message
    /// under the default size cap carries) is left out, as are entries past
    /// the 65,535th distinct target.
    pub fn new(entries: Vec<Entry<'_>>, expires: Instant) -> Tombstone {
        let mut t = Tombstone {
            expires,
            buf: Box::default(),
            ids: SmallVec::new(),
            slots: SmallVec::new(),
            targets: SmallVec::new(),
            held: None,
        };
        t.pack(&entries);
        t
    }

    /// Lays out `entries` in one exactly sized buffer.
    fn pack(&mut self, entries: &[Entry<'_>]) {
        let fits = |e: &&Entry<'_>| {
            u16::try_from(method_name(&e.method).len()).is_ok()
                && u16::try_from(e.branch.len()).is_ok()
                && e.resend
                    .as_ref()
                    .is_none_or(|(b, ..)| u32::try_from(b.len()).is_ok())
        };
        let len: usize = entries
            .iter()
            .filter(fits)
            .map(|e| {
                method_name(&e.method).len()
                    + e.branch.len()
                    + e.resend.as_ref().map_or(0, |(b, ..)| b.len())
            })
            .sum::<usize>();
        let Ok(_) = u32::try_from(len) else {
            return;
        };
        let mut buf = Vec::with_capacity(len);
        for e in entries.iter().filter(fits) {
            let target = match &e.resend {
                Some((_, _, target)) => match self.target_index(target) {
                    Some(t) => t,
                    None => continue,
                },
                None => 0,
            };
            let start = buf.len() as u32;
            let name = method_name(&e.method);
            buf.extend_from_slice(name);
            buf.extend_from_slice(e.branch);
            let (resend_len, code) = match &e.resend {
                Some((bytes, code, _)) => {
                    buf.extend_from_slice(bytes);
                    (bytes.len() as u32, *code)
                }
                None => (0, None),
            };
            self.slots.push(Slot {
                start,
                resend_len,
                branch_len: e.branch.len() as u16,
                method_len: name.len() as u16,
                server: e.server,
                target,
                code,
            });
        }
        self.buf = buf.into_boxed_slice();
    }

    fn target_index(&mut self, target: &Target) -> Option<u16> {
        let same =
            |t: &Target| t.kind == target.kind && t.addr == target.addr && t.conn == target.conn;
        match self.targets.iter().position(same) {
            Some(i) => u16::try_from(i).ok(),
            None => {
                let i = u16::try_from(self.targets.len()).ok()?;
                self.targets.push(target.clone());
                Some(i)
            }
        }
    }

    /// Puts the call's Call-IDs in front of the buffer (one new exactly
    /// sized allocation; the slots move up by their length).
    fn set_ids(&mut self, ids: &[Bytes]) {
        let ids: SmallVec<[&Bytes; 2]> = ids
            .iter()
            .filter(|id| u16::try_from(id.len()).is_ok())
            .collect();
        let front: usize = ids.iter().map(|id| id.len()).sum();
        let Ok(shift) = u32::try_from(front) else {
            return;
        };
        if u32::try_from(front + self.buf.len()).is_err() {
            return;
        }
        let mut buf = Vec::with_capacity(front + self.buf.len());
        for id in &ids {
            buf.extend_from_slice(id);
        }
        buf.extend_from_slice(&self.buf);
        self.buf = buf.into_boxed_slice();
        self.ids = ids.iter().map(|id| id.len() as u16).collect();
        for s in &mut self.slots {
            s.start += shift;
        }
    }

    /// A slot's method name, branch and resend bytes.
    fn pieces(&self, s: &Slot) -> (&[u8], &[u8], &[u8]) {
        let m = s.start as usize;
        let b = m + usize::from(s.method_len);
        let r = b + usize::from(s.branch_len);
        let end = r + s.resend_len as usize;
        (
            self.buf.get(m..b).unwrap_or_default(),
            self.buf.get(b..r).unwrap_or_default(),
            self.buf.get(r..end).unwrap_or_default(),
        )
    }

    /// True when `call_id` is one of the call's Call-IDs.
    fn has_call_id(&self, call_id: &[u8]) -> bool {
        let mut at = 0usize;
        self.ids.iter().any(|&n| {
            let id = self.buf.get(at..at + usize::from(n));
            at += usize::from(n);
            id == Some(call_id)
        })
    }

    /// How the ended call answers `msg`.
    pub fn reply(&self, msg: &Message) -> Reply {
        let Some(branch) = msg.via_top_branch().ok().flatten() else {
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
        let name = method_name(&method);
        let Some((s, resend)) = self.slots.iter().find_map(|s| {
            let (m, b, r) = self.pieces(s);
            (s.server == server && m == name && b == &branch[..]).then_some((s, r))
        }) else {
            return Reply::Unknown;
        };
        if s.resend_len == 0 {
            return Reply::Absorbed;
        }
        // Our ACK goes again for a retransmitted final response only.
        if !server && msg.code().is_none_or(|c| c < 200) {
            return Reply::Absorbed;
        }
        match self.targets.get(usize::from(s.target)) {
            Some(target) => Reply::Resend {
                bytes: Bytes::copy_from_slice(resend),
                target: target.clone(),
                code: s.code,
            },
            None => Reply::Absorbed,
        }
    }

    /// Bytes this tombstone holds on the heap: its `Arc` allocation (whose
    /// inline vectors hold up to four transactions and two targets) and its
    /// buffer, plus what spilled vectors hold.
    pub fn heap_bytes(&self) -> usize {
        let spilled = |on_heap: bool, bytes: usize| if on_heap { bytes } else { 0 };
        2 * std::mem::size_of::<usize>()
            + std::mem::size_of::<Tombstone>()
            + self.buf.len()
            + spilled(self.ids.spilled(), self.ids.capacity() * 2)
            + spilled(
                self.slots.spilled(),
                self.slots.capacity() * std::mem::size_of::<Slot>(),
            )
            + spilled(
                self.targets.spilled(),
                self.targets.capacity() * std::mem::size_of::<Target>(),
            )
    }
}

/// A Call-ID's key in the table: a keyed hash of it (SipHash with a key
/// drawn at start, so peers cannot aim collisions). The tombstone holds the
/// Call-IDs themselves, so a colliding Call-ID never matches; two Call-IDs
/// with the same key would only make the older tombstone unreachable under
/// that key (odds 2^-64 per pair).
type Key = u64;

/// Passes the already keyed hash through to the table.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Ended calls by Call-ID (each leg's), until their tombstones expire. One
/// table slot per Call-ID: its 8-octet key and the tombstone's `Arc`.
pub struct Linger {
    map: DashMap<Key, Arc<Tombstone>, BuildHasherDefault<KeyHasher>>,
    keys: std::collections::hash_map::RandomState,
    /// Tombstones alive (one per ended call, whatever its number of Call-IDs).
    held: Arc<AtomicI64>,
    /// `trunkgate_calls_lingering`, set at each sweep.
    gauge: Gauge,
}

impl Default for Linger {
    fn default() -> Self {
        Linger::new(Gauge::default())
    }
}

impl Linger {
    pub fn new(gauge: Gauge) -> Linger {
        Linger {
            map: DashMap::default(),
            keys: Default::default(),
            held: Arc::default(),
            gauge,
        }
    }

    fn key(&self, call_id: &[u8]) -> Key {
        self.keys.hash_one(call_id)
    }

    /// Table bytes per Call-ID held (key, value; the table's control octet
    /// and spare capacity not counted).
    pub const SLOT_BYTES: usize = std::mem::size_of::<(Key, Arc<Tombstone>)>();

    /// Keeps `stone` under each of the call's Call-IDs (copied into its
    /// buffer: a key sliced from a received message would keep the whole
    /// message alive).
    pub fn bury(&self, call_ids: &[Bytes], mut stone: Tombstone) {
        if call_ids.is_empty() {
            return;
        }
        stone.set_ids(call_ids);
        self.held.fetch_add(1, Ordering::Relaxed);
        stone.held = Some(Arc::clone(&self.held));
        let stone = Arc::new(stone);
        for id in call_ids {
            self.map.insert(self.key(id), Arc::clone(&stone));
        }
    }

    /// The ended call with this Call-ID, if its tombstone is still valid.
    pub fn get(&self, call_id: &[u8], now: Instant) -> Option<Arc<Tombstone>> {
        let t = self
            .map
            .get(&self.key(call_id))
            .map(|e| Arc::clone(e.value()))?;
        (t.expires > now && t.has_call_id(call_id)).then_some(t)
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
mod tests;
