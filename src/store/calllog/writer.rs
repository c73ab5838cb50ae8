//! The off-path call-log writer: a dedicated OS thread owning a
//! [`CallLogStore`], fed by a bounded queue. Call tasks hand it a record with
//! [`CallLogWriter::submit`], which never blocks: a full queue drops the record
//! (counted, warned about at most once a second) rather than slow signaling.
//! The thread writes whatever is queued in one transaction per batch, retries
//! batches that fail for a transient reason (locked database, full disk), and
//! on [`CallLogWriter::shutdown`] flushes the queue before it stops.
//!
//! Two queues (issue 15): records of calls ([`CallLogWriter::submit`]) have
//! the bounded queue to themselves; INVITEs refused from untrusted sources
//! ([`CallLogWriter::submit_refusal`]) are sampled (at most
//! `refusals_per_s` a second) into a small side queue written after the
//! calls' records, and the rest only counted. A refusal flood therefore never
//! takes a slot a real call's record needs. With a retention set, records that
//! started more than that long ago are deleted at start and every hour.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::time::Instant;

use super::db::CallLogStore;
use super::record::CallRecord;
use super::StoreError;
use thread::run;

mod thread;

/// A queue size for production: about a minute of call ends at 100 calls/s
/// with room to spare, ~10 MB of records at worst.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;
/// The "queue full" warning is logged at most once per this many ms.
const WARN_INTERVAL_MS: u64 = 1000;
/// Sampled refusals waiting to be written (they wait behind calls' records).
pub const REFUSAL_QUEUE: usize = 1024;
/// The default sample of refused INVITEs from untrusted sources written a second.
pub const DEFAULT_REFUSALS_PER_S: u32 = 10;
/// How the writer queues, samples and prunes.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Records of calls that may wait (at least 1).
    pub capacity: usize,
    /// Refused INVITEs from untrusted sources written a second; the rest are counted.
    pub refusals_per_s: u32,
    /// Records that started longer ago than this are deleted; `None` keeps all.
    pub retention: Option<Duration>,
}

impl WriterSettings {
    pub fn new(capacity: usize) -> WriterSettings {
        WriterSettings {
            capacity,
            refusals_per_s: DEFAULT_REFUSALS_PER_S,
            retention: None,
        }
    }
}

/// Where the writer thread puts records: the SQLite [`CallLogStore`] or the
/// PostgreSQL sink. Errors for which [`StoreError::is_transient`] holds are
/// retried (the records stay queued); others are counted as failed.
pub trait LogSink: Send + 'static {
    /// Stores `recs`: all or none.
    fn insert(&mut self, recs: &[CallRecord]) -> Result<(), StoreError>;
    /// Deletes the records that started before `start_ms`; returns how many.
    fn prune_before(&mut self, start_ms: i64) -> Result<u64, StoreError>;
    /// How long the writer waits after a record for more to share its
    /// batch: zero writes at once, more trades that delay for fewer round
    /// trips and commits.
    fn linger(&self) -> Duration {
        Duration::ZERO
    }
}

/// How long the SQLite writer lets records gather before a commit. A commit
/// of one record costs ~55k instructions and ~25 syscalls (WAL pages written
/// and checksummed, file locks) on top of ~15k for the record itself; a
/// quarter second shares each commit among every call that ended in it (~2
/// at 10 calls/s, ~800 at 3200 calls/s, where batches are capped at 1000
/// records and a full batch is followed at once, without lingering). A
/// record is readable at most this long after its call ended; shutdown cuts
/// the wait short and writes everything queued.
pub const SQLITE_LINGER: Duration = Duration::from_millis(250);

impl LogSink for CallLogStore {
    fn insert(&mut self, recs: &[CallRecord]) -> Result<(), StoreError> {
        CallLogStore::insert(self, recs)
    }

    fn prune_before(&mut self, start_ms: i64) -> Result<u64, StoreError> {
        CallLogStore::prune_before(self, start_ms)
    }

    fn linger(&self) -> Duration {
        SQLITE_LINGER
    }
}

/// A handle to the writer thread. Cheap to clone; every clone feeds the same
/// queue. Dropping the last handle without [`shutdown`](Self::shutdown) lets
/// the thread drain the queue and exit on its own (nothing waits for it).
#[derive(Clone)]
pub struct CallLogWriter {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` once shutdown has begun: no new records are accepted.
    tx: RwLock<Option<SyncSender<CallRecord>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<Stats>,
    clock_base: Instant,
    /// ms since `clock_base` of the last "queue full" warning, plus one (0: never).
    last_warn: AtomicU64,
    dropped_since_warn: AtomicU64,
    refusals_per_s: u32,
    /// (second since `clock_base`, refusals sampled in it).
    sample_window: Mutex<(u64, u32)>,
}

#[derive(Default)]
struct Stats {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    /// Sampled refusals waiting for the thread (bounded by [`REFUSAL_QUEUE`]).
    refusals: Mutex<VecDeque<CallRecord>>,
    refusals_sampled: AtomicU64,
    refusals_unlogged: AtomicU64,
    pruned: AtomicU64,
    /// Accepted and not yet written or failed (includes the batch in flight).
    queued: AtomicUsize,
    stopping: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: the sender drops with us, the thread
        // drains what is queued and must not retry forever.
        self.stats.stopping.store(true, Ordering::Release);
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = thread.as_ref() {
            handle.thread().unpark();
        }
    }
}

impl std::fmt::Debug for CallLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLogWriter")
            .field("queued", &self.queued())
            .field("written", &self.written())
            .field("dropped", &self.dropped())
            .field("failed", &self.failed())
            .finish()
    }
}

impl CallLogWriter {
    /// Starts the writer thread with a queue of `capacity` records (at least 1).
    pub fn start(store: impl LogSink, capacity: usize) -> CallLogWriter {
        Self::start_with(store, WriterSettings::new(capacity))
    }

    /// Starts the writer thread with refusal sampling and retention as given.
    pub fn start_with(store: impl LogSink, settings: WriterSettings) -> CallLogWriter {
        let (tx, rx) = sync_channel(settings.capacity.max(1));
        let stats = Arc::new(Stats::default());
        let thread_stats = Arc::clone(&stats);
        let retention = settings.retention;
        let thread = std::thread::Builder::new()
            .name("calllog-writer".into())
            .spawn(move || run(store, rx, &thread_stats, retention));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                // The receiver went down with the closure: every submit fails
                // and is counted as dropped.
                tracing::error!(error = %e, "cannot start the call-log writer thread");
                None
            }
        };
        CallLogWriter {
            inner: Arc::new(Inner {
                tx: RwLock::new(Some(tx)),
                thread: Mutex::new(thread),
                stats,
                clock_base: Instant::now(),
                last_warn: AtomicU64::new(0),
                dropped_since_warn: AtomicU64::new(0),
                refusals_per_s: settings.refusals_per_s,
                sample_window: Mutex::new((0, 0)),
            }),
        }
    }

    /// Queues the record of an INVITE refused from an untrusted source, if it
    /// is within this second's sample and the side queue has room; otherwise
    /// only counts it ([`refusals_unlogged`](Self::refusals_unlogged)). Never
    /// touches the calls' queue. Returns whether it was queued.
    pub fn submit_refusal(&self, rec: CallRecord) -> bool {
        let inner = &*self.inner;
        let open = inner
            .tx
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        let second = inner.clock_base.elapsed().as_secs();
        let sampled = open && {
            let mut w = inner
                .sample_window
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if w.0 != second {
                *w = (second, 0);
            }
            w.1 < inner.refusals_per_s && {
                w.1 += 1;
                true
            }
        };
        let queued = sampled && {
            let mut q = inner
                .stats
                .refusals
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            q.len() < REFUSAL_QUEUE && {
                q.push_back(rec);
                true
            }
        };
        let counter = if queued {
            &inner.stats.refusals_sampled
        } else {
            &inner.stats.refusals_unlogged
        };
        counter.fetch_add(1, Ordering::AcqRel);
        queued
    }

    /// Refusals from untrusted sources queued for writing (the sample).
    pub fn refusals_sampled(&self) -> u64 {
        self.inner.stats.refusals_sampled.load(Ordering::Acquire)
    }

    /// Refusals from untrusted sources only counted, not written.
    pub fn refusals_unlogged(&self) -> u64 {
        self.inner.stats.refusals_unlogged.load(Ordering::Acquire)
    }

    /// Records deleted by retention pruning.
    pub fn pruned(&self) -> u64 {
        self.inner.stats.pruned.load(Ordering::Acquire)
    }

    /// Queues `rec` for writing. Never blocks: returns false, counts the record
    /// in [`dropped`](Self::dropped) and warns (at most once a second) when the
    /// queue is full or the writer has shut down.
    pub fn submit(&self, rec: CallRecord) -> bool {
        let inner = &*self.inner;
        let guard = inner.tx.read().unwrap_or_else(PoisonError::into_inner);
        let Some(tx) = guard.as_ref() else {
            drop(guard);
            return self.reject(&rec.call_id, "writer shut down");
        };
        // Counted before the send so the writer's decrement cannot underflow.
        inner.stats.queued.fetch_add(1, Ordering::AcqRel);
        match tx.try_send(rec) {
            Ok(()) => true,
            Err(TrySendError::Full(rec)) => {
                inner.stats.queued.fetch_sub(1, Ordering::AcqRel);
                drop(guard);
                self.reject(&rec.call_id, "queue full")
            }
            Err(TrySendError::Disconnected(rec)) => {
                inner.stats.queued.fetch_sub(1, Ordering::AcqRel);
                drop(guard);
                self.reject(&rec.call_id, "writer thread gone")
            }
        }
    }

    fn reject(&self, call_id: &str, why: &'static str) -> bool {
        let inner = &*self.inner;
        let total = inner.stats.dropped.fetch_add(1, Ordering::AcqRel) + 1;
        inner.dropped_since_warn.fetch_add(1, Ordering::AcqRel);
        let now = u64::try_from(inner.clock_base.elapsed().as_millis()).unwrap_or(u64::MAX);
        if warn_due(&inner.last_warn, now) {
            let dropped = inner.dropped_since_warn.swap(0, Ordering::AcqRel);
            tracing::warn!(
                call_id,
                why,
                dropped,
                dropped_total = total,
                "call-log record dropped"
            );
        }
        false
    }

    /// Records dropped by [`submit`](Self::submit) (queue full or shut down).
    pub fn dropped(&self) -> u64 {
        self.inner.stats.dropped.load(Ordering::Acquire)
    }

    /// Records committed to the database.
    pub fn written(&self) -> u64 {
        self.inner.stats.written.load(Ordering::Acquire)
    }

    /// Records accepted but lost at write time: rejected by the database
    /// (e.g. a duplicate id, a `start_time` that is not RFC 3339), or still
    /// failing when the shutdown retry budget ran out.
    pub fn failed(&self) -> u64 {
        self.inner.stats.failed.load(Ordering::Acquire)
    }

    /// Records accepted and not yet written (or failed), the batch being
    /// written included.
    pub fn queued(&self) -> usize {
        self.inner.stats.queued.load(Ordering::Acquire)
    }

    /// Stops accepting records, writes everything queued, and joins the
    /// thread. Idempotent; a concurrent second call waits for the first.
    /// Blocking: call it from `spawn_blocking` in async code.
    pub fn shutdown(&self) {
        let inner = &*self.inner;
        inner.stats.stopping.store(true, Ordering::Release);
        // Dropping the only sender: the thread sees the end of the queue
        // once it has received everything sent before.
        drop(
            inner
                .tx
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let mut thread = inner.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = thread.take() {
            // Ends a linger now: what is queued is written at once.
            handle.thread().unpark();
            if handle.join().is_err() {
                tracing::error!("call-log writer thread panicked");
            }
        }
    }
}

/// True when a warning is due at `now_ms` (and claims it): the first one, or
/// one [`WARN_INTERVAL_MS`] after the last.
fn warn_due(last_warn: &AtomicU64, now_ms: u64) -> bool {
    let stamp = now_ms.saturating_add(1);
    let last = last_warn.load(Ordering::Acquire);
    if last != 0 && stamp < last.saturating_add(WARN_INTERVAL_MS) {
        return false;
    }
    last_warn
        .compare_exchange(last, stamp, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
