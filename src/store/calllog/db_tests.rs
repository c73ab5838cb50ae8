//! Tests of [`CallLogStore`] (a sibling file only to keep `db.rs` short).

use super::*;
use crate::rfc3339::format_ms;
use crate::store::calllog::record::tests::{any_record, bare_record, full_record};
use crate::store::calllog::record::CallStatus;
use proptest::prelude::*;

/// A unique directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "trunkgate-store-{tag}-{}-{}",
            std::process::id(),
            Uuid::new_v4()
        ));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 2026-11-22T10:00:00.000Z.
const T0: i64 = 1_795_341_600_000;

/// A record numbered `n`, starting `n` seconds after T0, with filterable
/// fields varying by n.
pub(crate) fn numbered(n: u32) -> CallRecord {
    let mut r = bare_record();
    r.id = Uuid::from_u128(u128::from(n) + 1);
    r.call_id = format!("call-{n}");
    r.sip.call_id = r.call_id.clone();
    r.start_time = format_ms(T0 + i64::from(n) * 1000);
    r.end_time = format_ms(T0 + i64::from(n) * 1000 + 500);
    r.direction = if n.is_multiple_of(2) {
        "inbound"
    } else {
        "outbound"
    }
    .into();
    r.caller_no = format!("caller-{}", n % 3);
    r.api_no = format!("api-{}", n % 5);
    r.trunk_id = n.is_multiple_of(4).then(|| Uuid::from_u128(99));
    r
}

fn ids(recs: &[CallRecord]) -> Vec<String> {
    recs.iter().map(|r| r.call_id.clone()).collect()
}

#[test]
fn insert_get_round_trips_every_field() {
    let dir = TempDir::new("roundtrip");
    let mut store = CallLogStore::open(&dir.0).unwrap();
    assert_eq!(store.path(), dir.0.join("trunkgate.db"));
    let full = full_record();
    let bare = bare_record();
    store.insert(&[full.clone(), bare.clone()]).unwrap();

    let got = store.get(&full.call_id).unwrap().unwrap();
    assert_eq!(got.id, full.id);
    assert_eq!(got.call_id, "a84b4c76e66710@pbx.example.com");
    assert_eq!(got.parent_call_id.as_deref(), Some("parent-1@pbx"));
    assert_eq!(got.caller_no, "+14155550100");
    assert_eq!(got.api_no, "+14155550199");
    assert_eq!(got.start_time, "2026-11-22T10:00:00.123Z");
    assert_eq!(got.end_time, "2026-11-22T10:01:00.456Z");
    assert_eq!(got.direction, "outbound");
    assert_eq!(got.hangup_end.as_deref(), Some("caller"));
    assert_eq!(got.duration, 60_333);
    assert_eq!(got.status, CallStatus::Completed);
    assert_eq!(got.error.as_deref(), Some("none really"));
    assert_eq!(got.error_code, Some(487));
    assert_eq!(got.connect_time_sec, 58);
    assert_eq!(got.sip.call_id, full.sip.call_id);
    assert_eq!(got.sip.response_code, 200);
    assert_eq!(got.service, "sip_trunking");
    assert_eq!(got.trunk_id, Some(Uuid::from_u128(42)));
    assert_eq!(got.reason.as_deref(), Some("failover:sip_uri"));
    assert_eq!(got, full);

    let got = store.get("c-7").unwrap().unwrap();
    assert_eq!(got.parent_call_id, None);
    assert_eq!(got.hangup_end, None);
    assert_eq!(got.error, None);
    assert_eq!(got.error_code, None);
    assert_eq!(got.connect_time_sec, 0);
    assert_eq!(got.trunk_id, None);
    assert_eq!(got.reason, None);
    assert_eq!(got.status, CallStatus::NoAnswer);
    assert_eq!(got.sip.response_code, 480);
    assert_eq!(got, bare);

    assert_eq!(store.get("no-such-call").unwrap(), None);
    assert_eq!(store.count().unwrap(), 2);
}

#[test]
fn get_returns_the_latest_of_a_repeated_call_id() {
    let dir = TempDir::new("repeat");
    let mut store = CallLogStore::open(&dir.0).unwrap();
    let mut a = numbered(5);
    let mut b = numbered(1);
    b.call_id = a.call_id.clone();
    b.status = CallStatus::Busy;
    a.status = CallStatus::Failed;
    store.insert(&[a, b]).unwrap();
    assert_eq!(
        store.get("call-5").unwrap().unwrap().status,
        CallStatus::Failed
    );
}

#[test]
fn insert_is_all_or_nothing() {
    let dir = TempDir::new("atomic");
    let mut store = CallLogStore::open(&dir.0).unwrap();
    let mut bad = numbered(2);
    bad.start_time = "yesterday".into();
    let err = store.insert(&[numbered(1), bad]).unwrap_err();
    assert_eq!(err.name(), "store::invalid_record");
    assert!(!err.is_transient());
    // A duplicate id fails inside the transaction: the first row rolls back too.
    let err = store
        .insert(&[numbered(3), numbered(4), numbered(4)])
        .unwrap_err();
    assert_eq!(err.name(), "store::sqlite");
    assert_eq!(store.count().unwrap(), 0);
    store.insert(&[]).unwrap();
    assert_eq!(store.count().unwrap(), 0);
    // The failed batch's transaction is closed: the next batch commits.
    store.insert(&[numbered(3), numbered(4)]).unwrap();
    assert_eq!(store.count().unwrap(), 2);
}

#[test]
fn query_filters_order_and_cap() {
    let dir = TempDir::new("query");
    let mut store = CallLogStore::open(&dir.0).unwrap();
    // Inserted out of order: the query orders by start_time.
    let mut recs: Vec<CallRecord> = (0..20).rev().map(numbered).collect();
    // Same start as call-3, written with a +02:00 offset: orders by instant, then id.
    let mut off = numbered(100);
    off.start_time = "2026-11-22T12:00:03.000+02:00".into();
    off.caller_no = "caller-x".into();
    off.api_no = "api-x".into();
    off.trunk_id = None;
    recs.push(off);
    store.insert(&recs).unwrap();

    let all = store.query(&CallLogQuery::default()).unwrap();
    assert_eq!(all.len(), 21);
    let want: Vec<String> = (0..4)
        .map(|n| format!("call-{n}"))
        .chain(["call-100".into()])
        .chain((4..20).map(|n| format!("call-{n}")))
        .collect();
    assert_eq!(ids(&all), want);

    let q = |f: &dyn Fn(&mut CallLogQuery)| {
        let mut q = CallLogQuery::default();
        f(&mut q);
        ids(&store.query(&q).unwrap())
    };
    // Half-open date range [call-5, call-8).
    let got = q(&|q| {
        q.begin = Some("2026-11-22T10:00:05Z".into());
        q.end = Some("2026-11-22T11:00:08+01:00".into());
    });
    assert_eq!(got, ["call-5", "call-6", "call-7"]);
    let got = q(&|q| q.direction = Some("outbound".into()));
    assert_eq!(got.len(), 10);
    assert!(got
        .iter()
        .all(|c| c.trim_start_matches("call-").parse::<u32>().unwrap() % 2 == 1));
    let got = q(&|q| q.caller_no = Some("caller-2".into()));
    assert_eq!(
        got,
        ["call-2", "call-5", "call-8", "call-11", "call-14", "call-17"]
    );
    let got = q(&|q| q.api_no = Some("api-3".into()));
    assert_eq!(got, ["call-3", "call-8", "call-13", "call-18"]);
    let got = q(&|q| q.trunk_id = Some(Uuid::from_u128(99)));
    assert_eq!(got, ["call-0", "call-4", "call-8", "call-12", "call-16"]);
    let got = q(&|q| {
        q.direction = Some("inbound".into());
        q.api_no = Some("api-0".into());
        q.begin = Some("2026-11-22T10:00:01Z".into());
    });
    assert_eq!(got, ["call-10"]);
    let got = q(&|q| q.caller_no = Some("nobody".into()));
    assert!(got.is_empty());

    // Paging with limit + after_id walks everything once, in order.
    let mut paged = Vec::new();
    let mut after = None;
    for _ in 0..10 {
        let page = store
            .query(&CallLogQuery {
                limit: 6,
                after_id: after,
                ..CallLogQuery::default()
            })
            .unwrap();
        assert!(page.len() <= 6);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        paged.extend(ids(&page));
    }
    assert_eq!(paged, want);
}

#[test]
fn query_rejects_bad_parameters() {
    let dir = TempDir::new("badq");
    let store = CallLogStore::open(&dir.0).unwrap();
    let cases = [
        (
            CallLogQuery {
                begin: Some("2026-11-22".into()),
                ..CallLogQuery::default()
            },
            "begin",
        ),
        (
            CallLogQuery {
                end: Some("soon".into()),
                ..CallLogQuery::default()
            },
            "end",
        ),
        (
            CallLogQuery {
                direction: Some("sideways".into()),
                ..CallLogQuery::default()
            },
            "direction",
        ),
        (
            CallLogQuery {
                after_id: Some(Uuid::from_u128(5)),
                ..CallLogQuery::default()
            },
            "after_id",
        ),
    ];
    for (q, want) in cases {
        match store.query(&q) {
            Err(e @ StoreError::InvalidQuery { field, .. }) => {
                assert_eq!(field, want);
                assert_eq!(e.name(), "store::invalid_query");
            }
            other => panic!("{want}: {other:?}"),
        }
    }
}

#[test]
fn query_caps_at_1000() {
    let dir = TempDir::new("cap");
    let mut store = CallLogStore::open(&dir.0).unwrap();
    let recs: Vec<CallRecord> = (0..1005).map(numbered).collect();
    store.insert(&recs).unwrap();
    assert_eq!(store.count().unwrap(), 1005);
    for (limit, want) in [(0, 1000), (5000, 1000), (1000, 1000), (999, 999), (3, 3)] {
        let got = store
            .query(&CallLogQuery {
                limit,
                ..CallLogQuery::default()
            })
            .unwrap();
        assert_eq!(got.len(), want, "limit {limit}");
        assert_eq!(got[0].call_id, "call-0");
        assert_eq!(got[want - 1].call_id, format!("call-{}", want - 1));
    }
}

#[test]
fn reopen_keeps_records_and_does_not_rerun_migrations() {
    let dir = TempDir::new("reopen");
    let recs: Vec<CallRecord> = (0..50).map(numbered).collect();
    {
        let mut store = CallLogStore::open(&dir.0).unwrap();
        assert_eq!(store.schema_version().unwrap(), schema::latest_version());
        store.insert(&recs).unwrap();
    }
    // Migration 1 is a plain CREATE TABLE: running it again would fail the open.
    let store = CallLogStore::open(&dir.0).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::latest_version());
    assert_eq!(store.count().unwrap(), 50);
    assert_eq!(store.query(&CallLogQuery::default()).unwrap(), recs);
    let mode: String = store
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(store);

    // Proof that the version gates the migration: forget it, and the
    // re-run CREATE TABLE fails.
    let conn = Connection::open(dir.0.join(DB_FILE)).unwrap();
    conn.execute_batch("PRAGMA user_version = 0").unwrap();
    drop(conn);
    let err = CallLogStore::open(&dir.0).unwrap_err();
    assert_eq!(err.name(), "store::sqlite", "{err}");
}

#[test]
fn connect_time_filter_keeps_records_connected_at_least_n_seconds() {
    let dir = TempDir::new("connect");
    let mut store = CallLogStore::open(&dir.0).unwrap();
    let recs: Vec<CallRecord> = (0..10)
        .map(|n| {
            let mut r = numbered(n);
            r.connect_time_sec = u64::from(n);
            r
        })
        .collect();
    store.insert(&recs).unwrap();
    let q = |n| CallLogQuery {
        min_connect_sec: Some(n),
        ..Default::default()
    };
    assert_eq!(store.query(&q(0)).unwrap().len(), 10);
    assert_eq!(ids(&store.query(&q(8)).unwrap()), ["call-8", "call-9"]);
    assert!(store.query(&q(u64::MAX)).unwrap().is_empty());
}

/// A database at schema 2 (seconds to answer as a float, null when
/// unanswered) is rewritten by migration 3 to connected whole seconds.
#[test]
fn migration_3_rewrites_seconds_to_answer_as_connected_seconds() {
    let dir = TempDir::new("m3");
    std::fs::create_dir_all(&dir.0).unwrap();
    {
        let mut conn = Connection::open(dir.0.join(DB_FILE)).unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &schema::MIGRATIONS[..2] {
            tx.execute_batch(sql).unwrap();
        }
        tx.execute_batch("PRAGMA user_version = 2").unwrap();
        tx.commit().unwrap();
        for (n, answer) in [(1u32, serde_json::json!(2.5)), (2, serde_json::json!(null))] {
            let mut v = serde_json::to_value(numbered(n)).unwrap();
            v["duration"] = serde_json::json!(60_400);
            v["connect_time_sec"] = answer;
            conn.execute(
                "INSERT INTO call_logs (id, call_id, start_ms, direction, caller_no, api_no, \
                 trunk_id, status, record) VALUES (?1, ?2, ?3, 'inbound', '', '', NULL, 'completed', ?4)",
                params![
                    Uuid::from_u128(u128::from(n)).to_string(),
                    format!("call-{n}"),
                    T0 + i64::from(n),
                    v.to_string()
                ],
            )
            .unwrap();
        }
    }
    let store = CallLogStore::open(&dir.0).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::latest_version());
    assert_eq!(store.get("call-1").unwrap().unwrap().connect_time_sec, 57);
    assert_eq!(store.get("call-2").unwrap().unwrap().connect_time_sec, 0);
    let q = CallLogQuery {
        min_connect_sec: Some(57),
        ..Default::default()
    };
    assert_eq!(ids(&store.query(&q).unwrap()), ["call-1"]);
}

#[test]
fn refuses_a_newer_schema() {
    let dir = TempDir::new("newer");
    drop(CallLogStore::open(&dir.0).unwrap());
    let conn = Connection::open(dir.0.join(DB_FILE)).unwrap();
    conn.execute_batch("PRAGMA user_version = 7").unwrap();
    drop(conn);
    match CallLogStore::open(&dir.0) {
        Err(StoreError::SchemaTooNew { found, known }) => {
            assert_eq!((found, known), (7, schema::latest_version()))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn open_fails_cleanly_when_the_data_dir_is_a_file() {
    let dir = TempDir::new("notadir");
    std::fs::write(&dir.0, b"x").unwrap();
    let err = CallLogStore::open(&dir.0).unwrap_err();
    assert_eq!(err.name(), "store::create_dir");
    std::fs::remove_file(&dir.0).unwrap();
}

#[test]
fn readers_are_not_blocked_by_a_writer_holding_the_lock() {
    let dir = TempDir::new("walread");
    let mut store = CallLogStore::open(&dir.0).unwrap();
    store.insert(&[numbered(1), numbered(2)]).unwrap();
    let writer = Connection::open(store.path()).unwrap();
    writer
        .execute_batch("BEGIN EXCLUSIVE; DELETE FROM call_logs;")
        .unwrap();
    store.set_busy_timeout(Duration::from_millis(10)).unwrap();
    // WAL: the reader sees the last committed state, at once.
    assert_eq!(store.count().unwrap(), 2);
    assert_eq!(store.get("call-2").unwrap().unwrap().call_id, "call-2");
    // A second writer is refused with a transient error.
    let err = store.insert(&[numbered(3)]).unwrap_err();
    assert_eq!(err.name(), "store::busy");
    assert!(err.is_transient());
    writer.execute_batch("COMMIT").unwrap();
    assert_eq!(store.count().unwrap(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any batch of records comes back from the database exactly, in
    /// (start_time, id) order.
    #[test]
    fn any_records_round_trip_through_the_database(
        recs in prop::collection::vec(any_record(), 1..8),
    ) {
        let dir = TempDir::new("prop");
        let mut store = CallLogStore::open(&dir.0).unwrap();
        let mut recs = recs;
        recs.sort_by_key(|r| r.id);
        recs.dedup_by_key(|r| r.id);
        store.insert(&recs).unwrap();
        let mut want = recs.clone();
        want.sort_by_key(|r| (parse_rfc3339_ms(&r.start_time), r.id.to_string()));
        prop_assert_eq!(store.query(&CallLogQuery::default()).unwrap(), want);
        for r in &recs {
            let got = store.get(&r.call_id).unwrap().unwrap();
            prop_assert_eq!(&got.call_id, &r.call_id);
        }
    }
}
