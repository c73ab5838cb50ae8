//! The writer thread's body: it gathers what is queued into batches, writes
//! each in one transaction (retrying transient failures with backoff) and
//! prunes past the retention.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::PoisonError;
use std::time::Duration;

use tokio::time::Instant;

use super::{LogSink, Stats};
use crate::store::calllog::record::CallRecord;

/// At most this many records per transaction.
const MAX_BATCH: usize = 1000;
/// Backoff between retries of a batch that failed for a transient reason.
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// Once shutdown has begun, transient failures are retried for this long in
/// total; past it the remaining records are counted as failed so shutdown ends.
const SHUTDOWN_RETRY_BUDGET: Duration = Duration::from_secs(10);
/// How often the thread wakes with no call record to write: writes sampled
/// refusals, prunes when due.
const TICK: Duration = Duration::from_millis(200);
/// Retention pruning runs at start and this often.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Lets more records queue behind the first for `linger`, so that they
/// share its batch (one transaction, one commit); the caller then takes
/// what queued, up to [`MAX_BATCH`]. One sleep per batch, not a wake-up per
/// record; shutdown ([`Stats::stopping`], then an unpark) ends it early.
fn gather(linger: Duration, stats: &Stats) {
    let until = std::time::Instant::now() + linger;
    while !stats.stopping.load(Ordering::Acquire) {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::park_timeout(left);
    }
}

/// The thread body: batch what is queued (calls' records first, then sampled
/// refusals), write it, prune when due, until every sender is gone.
pub(super) fn run<S: LogSink>(
    mut store: S,
    rx: Receiver<CallRecord>,
    stats: &Stats,
    retention: Option<Duration>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut give_up_at = None;
    let mut next_prune = Instant::now();
    let linger = store.linger();
    // A full batch means records are arriving faster than one batch per
    // linger: the next one is taken at once, or the queue would overflow.
    let mut behind = false;
    loop {
        let open = match rx.recv_timeout(TICK) {
            Ok(first) => {
                batch.push(first);
                if !behind {
                    gather(linger, stats);
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        };
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(rec) => batch.push(rec),
                Err(_) => break,
            }
        }
        let calls = batch.len();
        behind = calls == MAX_BATCH;
        {
            let mut q = stats
                .refusals
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let room = MAX_BATCH.saturating_sub(calls).min(q.len());
            batch.extend(q.drain(..room));
        }
        if !batch.is_empty() {
            write_batch(&mut store, &batch, stats, &mut give_up_at);
            stats.queued.fetch_sub(calls, Ordering::AcqRel);
            batch.clear();
        }
        if let Some(keep) = retention.filter(|_| Instant::now() >= next_prune) {
            prune(&mut store, keep, stats);
            next_prune = Instant::now() + PRUNE_EVERY;
        }
        let refusals_left = !stats
            .refusals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        if !open && !refusals_left {
            break;
        }
    }
    tracing::debug!(
        written = stats.written.load(Ordering::Acquire),
        "call-log writer stopped"
    );
}

/// Deletes the records that started more than `keep` ago.
fn prune(store: &mut impl LogSink, keep: Duration, stats: &Stats) {
    let cutoff = std::time::SystemTime::now()
        .checked_sub(keep)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    match store.prune_before(cutoff) {
        Ok(0) => {}
        Ok(n) => {
            stats.pruned.fetch_add(n, Ordering::AcqRel);
            tracing::info!(
                records = n,
                retention_days = keep.as_secs() / 86_400,
                "call-log records past the retention deleted"
            );
        }
        Err(e) => tracing::warn!(error = %e, kind = e.name(), "call-log pruning failed"),
    }
}

/// Writes `batch` in one transaction, retrying transient failures with
/// backoff; a permanent failure is retried record by record so one bad record
/// cannot take the rest of its batch down.
fn write_batch(
    store: &mut impl LogSink,
    batch: &[CallRecord],
    stats: &Stats,
    give_up_at: &mut Option<Instant>,
) {
    let n = batch.len() as u64;
    let mut delay = RETRY_MIN;
    loop {
        let err = match store.insert(batch) {
            Ok(()) => {
                stats.written.fetch_add(n, Ordering::AcqRel);
                return;
            }
            Err(e) => e,
        };
        if !err.is_transient() {
            if let [rec] = batch {
                stats.failed.fetch_add(1, Ordering::AcqRel);
                tracing::error!(call_id = %rec.call_id, error = %err, kind = err.name(), "call-log record rejected");
            } else {
                for rec in batch {
                    write_batch(store, std::slice::from_ref(rec), stats, give_up_at);
                }
            }
            return;
        }
        if stats.stopping.load(Ordering::Acquire) {
            let deadline =
                *give_up_at.get_or_insert_with(|| Instant::now() + SHUTDOWN_RETRY_BUDGET);
            if Instant::now() >= deadline {
                stats.failed.fetch_add(n, Ordering::AcqRel);
                tracing::error!(records = n, error = %err, kind = err.name(), "call-log records lost at shutdown");
                return;
            }
        }
        tracing::warn!(records = n, error = %err, kind = err.name(), retry_ms = delay.as_millis() as u64, "call-log batch not written; retrying");
        std::thread::sleep(delay);
        delay = (delay * 2).min(RETRY_MAX);
    }
}
