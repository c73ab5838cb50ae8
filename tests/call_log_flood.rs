//! Issue 15 item 3, the attacks on the call log:
//! - a refused-INVITE flood from many untrusted sources, each under the flood
//!   limit, while the trusted PBX places calls: every PBX call's record is in
//!   the call log, the refusals are sampled (`[store] call_log_refusals_per_s`)
//!   and the rest only counted (`trunkgate_call_log_refusals_total{logged}`),
//!   no record is dropped;
//! - retention (`[store] call_log_retention_days`): records older than it,
//!   put in the store before the start, are gone from the API after the start.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use trunkgate::store::{CallLogStore, CallRecord};

const KEY: &str = "flood-test-key";
/// Untrusted sources 127.0.1.1 ..= 127.0.1.SOURCES, each sending PER_SOURCE INVITEs
/// (under the 16 requests / 2 s flood limit, so none is banned).
const SOURCES: u8 = 100;
const PER_SOURCE: usize = 10;
const PBX_CALLS: usize = 20;
const SAMPLE_PER_S: u32 = 5;

fn config(carrier: std::net::SocketAddr, dir: &Path, extra_store: &str) -> String {
    let text = config_text_in(&[(carrier, "udp")], "127.0.0.1/32", dir);
    format!(
        "{}\n[api]\nkey_hashes = [\"{}\"]\n",
        text.replace(
            &format!("data_dir = \"{}\"\n", dir.display()),
            &format!("data_dir = \"{}\"\n{extra_store}\n", dir.display())
        ),
        trunkgate::api::auth::key_hash_string(KEY)
    )
}

async fn api_get(gw: &Gw, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("http://{}{path}", gw.http))
        .header("X-API-Key", KEY)
        .timeout(WAIT)
        .send()
        .await
        .expect("api request");
    let status = r.status().as_u16();
    let v = r.json().await.unwrap_or(Value::Null);
    (status, v)
}

/// Every call-log record's call_id, paging through the API.
async fn logged_call_ids(gw: &Gw) -> Vec<String> {
    common::api::logged_call_ids(|path| async move { api_get(gw, &path).await }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_flood_is_sampled_and_every_real_call_is_logged() {
    let dir = temp_dir("logflood");
    let carrier = Ua::new().await;
    let gw = start(&config(
        carrier.addr,
        &dir,
        &format!("call_log_queue = 100\ncall_log_refusals_per_s = {SAMPLE_PER_S}"),
    ))
    .await;
    let mut attackers = Vec::new();
    for i in 1..=SOURCES {
        attackers.push(Ua::bind(&format!("127.0.1.{i}:0")).await);
    }
    let pbx = Ua::new().await;
    let started = tokio::time::Instant::now();
    let mut pbx_ids = HashSet::new();
    for round in 0..PER_SOURCE {
        for (i, a) in attackers.iter().enumerate() {
            let cid = format!("flood-{i}-{round}");
            let branch = format!("z9hG4bKfl{i}x{round}");
            a.send_invite(gw.udp, &cid, DIALED, &branch).await;
        }
        // Two PBX calls per round, refused by the carrier with 486 (a real call's record).
        for k in 0..PBX_CALLS / PER_SOURCE {
            let cid = format!("pbx-{round}-{k}");
            pbx.send_invite(gw.udp, &cid, DIALED, &format!("z9hG4bKp{round}k{k}"))
                .await;
            carrier_status(&carrier, gw.udp, &pbx, 486, "Busy Here").await;
            pbx_ids.insert(cid);
        }
    }
    let elapsed_s = started.elapsed().as_secs();
    // Each attacker sees its refusals (403): the gateway answered, none was banned.
    let mut refused = 0usize;
    for a in &attackers {
        for _ in 0..PER_SOURCE {
            match a.recv_within(Duration::from_secs(2)).await {
                Some((m, _)) if m.code() == Some(403) => refused += 1,
                Some(_) => {}
                None => break,
            }
        }
    }
    assert!(
        refused >= SOURCES as usize * PER_SOURCE * 9 / 10,
        "{refused} refusals seen"
    );

    // Every PBX call's record is logged.
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids = logged_call_ids(&gw).await;
        if pbx_ids.iter().all(|p| ids.contains(p)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for p in &pbx_ids {
        assert!(ids.contains(p), "record of {p} missing");
    }
    // The refusals: a sample logged, the rest counted; together every refusal.
    let m = metrics(gw.http).await;
    let yes = metric_value(&m, "trunkgate_call_log_refusals_total{logged=\"yes\"}");
    let no = metric_value(&m, "trunkgate_call_log_refusals_total{logged=\"no\"}");
    assert!(
        (yes + no) as usize >= refused,
        "yes {yes} + no {no} < {refused}"
    );
    let flood_logged = ids.iter().filter(|c| c.starts_with("flood-")).count();
    assert_eq!(flood_logged as f64, yes, "the sample is what the log holds");
    assert!(
        yes <= f64::from(SAMPLE_PER_S) * (elapsed_s as f64 + 4.0),
        "{yes} refusals logged in {elapsed_s} s"
    );
    assert!(no > 0.0);
    assert_eq!(metric_value(&m, "trunkgate_call_log_dropped_total"), 0.0);
}

fn record(call_id: &str, start: std::time::SystemTime) -> CallRecord {
    let t = trunkgate::store::to_rfc3339(start);
    serde_json::from_value(json!({
        "id": uuid::Uuid::new_v4(),
        "call_id": call_id,
        "caller_no": "+14155550001",
        "api_no": DIALED,
        "start_time": t,
        "end_time": t,
        "direction": "outbound",
        "duration": 0,
        "status": "completed",
        "sip": { "call_id": call_id, "response_code": 200 },
        "service": "sip_trunking",
        "connect_time_sec": 0,
    }))
    .expect("a call record")
}

#[tokio::test]
async fn records_past_the_retention_are_pruned() {
    let dir = temp_dir("logretention");
    let day = Duration::from_secs(86_400);
    let now = std::time::SystemTime::now();
    {
        let mut store = CallLogStore::open(&dir).expect("store");
        store
            .insert(&[
                record("old-200d", now - day * 200),
                record("old-31d", now - day * 31),
                record("kept-29d", now - day * 29),
                record("kept-today", now),
            ])
            .expect("insert");
    }
    let carrier = Ua::new().await;
    let gw = start(&config(carrier.addr, &dir, "call_log_retention_days = 30")).await;
    let mut status = 0;
    for _ in 0..100 {
        status = api_get(&gw, "/v1/History/Logs/Calls/old-31d").await.0;
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 404, "a 31-day-old record is pruned");
    assert_eq!(api_get(&gw, "/v1/History/Logs/Calls/old-200d").await.0, 404);
    for kept in ["kept-29d", "kept-today"] {
        let (s, v) = api_get(&gw, &format!("/v1/History/Logs/Calls/{kept}")).await;
        assert_eq!(s, 200, "{kept}: {v}");
        assert_eq!(v["call_id"], kept);
    }
}
