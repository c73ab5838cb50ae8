//! Tests of [`CallLogWriter`] (a sibling file only to keep `writer.rs` short).

use std::collections::BTreeSet;

use rusqlite::Connection;
use uuid::Uuid;

use super::*;
use crate::store::calllog::db::tests::{numbered, TempDir};
use crate::store::calllog::CallLogQuery;

fn stored_ids(store: &CallLogStore) -> BTreeSet<Uuid> {
    let mut ids = BTreeSet::new();
    let mut after = None;
    for _ in 0..100 {
        let page = store
            .query(&CallLogQuery {
                after_id: after,
                ..CallLogQuery::default()
            })
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        ids.extend(page.iter().map(|r| r.id));
    }
    ids
}

/// Holds SQLite's write lock from a second connection until dropped.
struct WriteLock(Connection);

impl WriteLock {
    fn take(store: &CallLogStore) -> WriteLock {
        let conn = Connection::open(store.path()).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        WriteLock(conn)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
}

#[test]
fn ten_thousand_records_from_several_threads_all_land() {
    let dir = TempDir::new("writer10k");
    let writer = CallLogWriter::start(CallLogStore::open(&dir.0).unwrap(), 16_384);
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let w = writer.clone();
            std::thread::spawn(move || {
                (0..1250)
                    .filter(|i| w.submit(numbered(t * 1250 + i)))
                    .count()
            })
        })
        .collect();
    let accepted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(accepted, 10_000);
    writer.shutdown();
    assert_eq!(writer.written(), 10_000);
    assert_eq!(writer.dropped(), 0);
    assert_eq!(writer.failed(), 0);
    assert_eq!(writer.queued(), 0);

    let store = CallLogStore::open(&dir.0).unwrap();
    assert_eq!(store.count().unwrap(), 10_000);
    let want: BTreeSet<Uuid> = (0..10_000).map(|n| numbered(n).id).collect();
    assert_eq!(stored_ids(&store), want);

    // Idempotent, and nothing is accepted afterwards.
    writer.shutdown();
    assert!(!writer.submit(numbered(20_000)));
    assert_eq!(writer.dropped(), 1);
    assert_eq!(store.count().unwrap(), 10_000);
}

#[test]
fn full_queue_drops_and_shutdown_flushes_the_rest() {
    let dir = TempDir::new("writerfull");
    let store = CallLogStore::open(&dir.0).unwrap();
    let lock = WriteLock::take(&store);
    let writer = CallLogWriter::start(store, 2);

    // The writer takes one batch before it blocks on the lock (what it drains
    // depends on how its drain races the submits: usually 1-3 records), and
    // the queue then holds `capacity` more: most of the 20 are dropped.
    let accepted: Vec<u32> = (0..20).filter(|&n| writer.submit(numbered(n))).collect();
    assert!(!accepted.is_empty() && accepted.len() <= 10, "{accepted:?}");
    assert_eq!(writer.dropped(), 20 - accepted.len() as u64);
    assert_eq!(writer.written(), 0);
    assert_eq!(writer.queued(), accepted.len());

    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(lock);
    });
    // Blocks until the lock is released and every accepted record is written.
    writer.shutdown();
    releaser.join().unwrap();
    assert_eq!(writer.written(), accepted.len() as u64);
    assert_eq!(writer.queued(), 0);
    assert_eq!(writer.failed(), 0);

    let store = CallLogStore::open(&dir.0).unwrap();
    let want: BTreeSet<Uuid> = accepted.iter().map(|&n| numbered(n).id).collect();
    assert_eq!(stored_ids(&store), want);
}

#[test]
fn busy_database_is_retried_not_lost() {
    let dir = TempDir::new("writerbusy");
    let store = CallLogStore::open(&dir.0).unwrap();
    store.set_busy_timeout(Duration::from_millis(20)).unwrap();
    let lock = WriteLock::take(&store);
    let writer = CallLogWriter::start(store, 64);
    for n in 0..10 {
        assert!(writer.submit(numbered(n)));
    }
    // Several 20 ms busy timeouts pass while the lock is held.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(writer.written(), 0);
    assert_eq!(writer.queued(), 10);
    drop(lock);
    writer.shutdown();
    assert_eq!(writer.written(), 10);
    assert_eq!(writer.failed(), 0);
    assert_eq!(CallLogStore::open(&dir.0).unwrap().count().unwrap(), 10);
}

#[test]
fn a_bad_record_does_not_sink_its_batch() {
    let dir = TempDir::new("writerbad");
    let store = CallLogStore::open(&dir.0).unwrap();
    let lock = WriteLock::take(&store);
    let writer = CallLogWriter::start(store, 64);
    let mut bad = numbered(1);
    bad.start_time = "not a time".into();
    // Queued behind the lock, so (mostly) written as one batch; the outcome
    // is the same however they are batched.
    assert!(writer.submit(numbered(0)));
    assert!(writer.submit(bad));
    assert!(writer.submit(numbered(2)));
    assert!(writer.submit(numbered(0))); // duplicate id
    drop(lock);
    writer.shutdown();
    assert_eq!(writer.written(), 2);
    assert_eq!(writer.failed(), 2);
    assert_eq!(writer.queued(), 0);
    let store = CallLogStore::open(&dir.0).unwrap();
    let want: BTreeSet<Uuid> = [numbered(0).id, numbered(2).id].into();
    assert_eq!(stored_ids(&store), want);
}

#[test]
fn dropping_every_handle_still_drains_the_queue() {
    let dir = TempDir::new("writerdrop");
    let writer = CallLogWriter::start(CallLogStore::open(&dir.0).unwrap(), 64);
    for n in 0..30 {
        assert!(writer.submit(numbered(n)));
    }
    drop(writer);
    let store = CallLogStore::open(&dir.0).unwrap();
    let mut count = 0;
    for _ in 0..200 {
        count = store.count().unwrap();
        if count == 30 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(count, 30);
}

#[test]
fn drop_warnings_are_rate_limited_to_once_a_second() {
    let last = AtomicU64::new(0);
    assert!(warn_due(&last, 0));
    assert!(!warn_due(&last, 1));
    assert!(!warn_due(&last, 999));
    assert!(warn_due(&last, 1000));
    assert!(!warn_due(&last, 1500));
    assert!(warn_due(&last, 2000));
}

#[test]
fn a_refusal_flood_never_takes_a_call_records_slot() {
    let dir = TempDir::new("writerrefusals");
    let store = CallLogStore::open(&dir.0).unwrap();
    let lock = WriteLock::take(&store);
    let writer = CallLogWriter::start_with(
        store,
        WriterSettings {
            capacity: 4,
            refusals_per_s: 3,
            retention: None,
        },
    );
    // The flood: far more refusals than the sample and the calls' queue.
    let queued = (1000..3000)
        .filter(|&n| writer.submit_refusal(numbered(n)))
        .count();
    // Three a second are sampled (the loop may straddle one second boundary).
    assert!((3..=6).contains(&queued), "{queued} refusals queued");
    assert_eq!(writer.refusals_sampled(), queued as u64);
    assert_eq!(writer.refusals_unlogged(), 2000 - queued as u64);
    // Every call record still finds its slot.
    for n in 0..4 {
        assert!(writer.submit(numbered(n)), "call record {n}");
    }
    assert_eq!(writer.dropped(), 0);
    drop(lock);
    writer.shutdown();
    assert_eq!(writer.failed(), 0);
    let ids = stored_ids(&CallLogStore::open(&dir.0).unwrap());
    assert_eq!(ids.len(), 4 + queued);
    for n in 0..4 {
        assert!(ids.contains(&numbered(n).id));
    }
}

#[test]
fn retention_deletes_records_older_than_it_at_start() {
    let dir = TempDir::new("writerretention");
    let mut store = CallLogStore::open(&dir.0).unwrap();
    // numbered() records start in the past (T0); one from now is kept.
    let mut fresh = numbered(100);
    fresh.start_time = crate::rfc3339::to_rfc3339(std::time::SystemTime::now());
    store
        .insert(&[numbered(0), numbered(1), fresh.clone()])
        .unwrap();
    let writer = CallLogWriter::start_with(
        store,
        WriterSettings {
            capacity: 16,
            refusals_per_s: 0,
            retention: Some(Duration::from_secs(86_400)),
        },
    );
    for _ in 0..200 {
        if writer.pruned() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(writer.pruned(), 2);
    writer.shutdown();
    let ids = stored_ids(&CallLogStore::open(&dir.0).unwrap());
    assert_eq!(ids, [fresh.id].into());
}

/// Batch sizes a sink saw; lingers as told.
struct Batches(Arc<Mutex<Vec<usize>>>, Duration);

impl LogSink for Batches {
    fn insert(&mut self, recs: &[CallRecord]) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(recs.len());
        Ok(())
    }

    fn prune_before(&mut self, _start_ms: i64) -> Result<u64, StoreError> {
        Ok(0)
    }

    fn linger(&self) -> Duration {
        self.1
    }
}

#[test]
fn a_lingering_sink_gets_records_submitted_together_in_one_batch() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let w = CallLogWriter::start(Batches(Arc::clone(&seen), Duration::from_millis(300)), 100);
    for n in 0..3 {
        assert!(w.submit(numbered(n)));
        std::thread::sleep(Duration::from_millis(20));
    }
    w.shutdown();
    assert_eq!(*seen.lock().unwrap(), vec![3]);
    assert_eq!(w.written(), 3);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let w = CallLogWriter::start(Batches(Arc::clone(&seen), Duration::ZERO), 100);
    for n in 0..3 {
        assert!(w.submit(numbered(n)));
        std::thread::sleep(Duration::from_millis(60));
    }
    w.shutdown();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![1, 1, 1],
        "no linger: written at once"
    );
}

#[test]
fn shutdown_cuts_a_linger_short_and_writes_what_waits() {
    // An hour's linger: only the shutdown's wake-up lets the batch go (a
    // writer that slept it out would hang this test).
    let seen = Arc::new(Mutex::new(Vec::new()));
    let w = CallLogWriter::start(Batches(Arc::clone(&seen), Duration::from_secs(3600)), 100);
    for n in 0..3 {
        assert!(w.submit(numbered(n)));
    }
    w.shutdown();
    assert_eq!(w.written(), 3);
    assert_eq!(seen.lock().unwrap().iter().sum::<usize>(), 3);

    // The last handle dropped without shutdown: the thread wakes, drains, ends.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let w = CallLogWriter::start(Batches(Arc::clone(&seen), Duration::from_secs(3600)), 100);
    assert!(w.submit(numbered(7)));
    drop(w);
    while seen.lock().unwrap().iter().sum::<usize>() < 1 {
        std::thread::sleep(Duration::from_millis(10));
    }
}
