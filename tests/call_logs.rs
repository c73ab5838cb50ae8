//! One call-log record per call, checked field by field after real calls,
//! and still there after a restart.

mod common;

use std::time::Duration;

use common::*;
use trunkgate::store::{CallLogStore, CallStatus};

#[tokio::test]
async fn completed_busy_and_failed_calls_are_logged_and_survive_a_restart() {
    let dir = temp_dir("calllog");
    let carrier = Ua::new().await;
    let gw = start(&config_text_in(
        &[(carrier.addr, "udp")],
        "127.0.0.1/32",
        &dir,
    ))
    .await;
    let pbx = Ua::new().await;

    // Completed: answered, the caller hangs up after a moment.
    pbx.send_invite(gw.udp, "log-ok", DIALED, "z9hG4bKlog1")
        .await;
    pbx.expect_response(100).await;
    let (inv, _) = carrier.expect_request("INVITE").await;
    carrier_answers(&carrier, gw.udp, &inv).await;
    let ok = pbx.expect_response(200).await;
    carrier.expect_request("ACK").await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    hang_up(&pbx, gw.udp, &carrier, &ok).await;

    // Busy.
    pbx.send_invite(gw.udp, "log-busy", DIALED, "z9hG4bKlog2")
        .await;
    pbx.wait_response(100).await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    carrier.status(gw.udp, &inv, 486, "Busy Here", "c").await;
    pbx.wait_response(486).await;

    // Failed: the only carrier answers 503.
    pbx.send_invite(gw.udp, "log-fail", DIALED, "z9hG4bKlog3")
        .await;
    pbx.wait_response(100).await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    carrier
        .status(gw.udp, &inv, 503, "Service Unavailable", "c")
        .await;
    pbx.wait_response(503).await;

    // Refused by policy: a source the trunk does not admit.
    let stranger = Ua::bind("127.0.0.5:0").await;
    stranger
        .send_invite(gw.udp, "log-403", DIALED, "z9hG4bKlog4")
        .await;
    stranger.expect_response(403).await;

    // Graceful shutdown flushes the writer; a new store handle is a restart.
    gw.gw.shutdown().await;
    let store = CallLogStore::open(&dir).expect("store reopens");

    let r = store.get("log-ok").unwrap().expect("completed call logged");
    assert_eq!(r.call_id, "log-ok");
    assert_eq!(r.caller_no, "+14155550001");
    assert_eq!(r.api_no, DIALED);
    assert_eq!(r.direction, "outbound");
    assert_eq!(r.status, CallStatus::Completed);
    assert_eq!(r.hangup_end.as_deref(), Some("caller"));
    assert_eq!(r.sip.call_id, "log-ok");
    assert_eq!(r.sip.response_code, 200);
    assert_eq!(r.service, "sip_trunking");
    assert_eq!(
        r.trunk_id.map(|t| t.to_string()).as_deref(),
        Some(DEMO_TRUNK)
    );
    assert_eq!(r.error, None);
    assert_eq!(r.error_code, None);
    assert!(r.duration >= 100, "duration {} ms", r.duration);
    // Connected whole seconds: never more than the call lasted.
    assert!(
        r.connect_time_sec * 1000 <= r.duration,
        "connect_time_sec {} of a {} ms call",
        r.connect_time_sec,
        r.duration
    );
    assert!(
        r.start_time.ends_with('Z') && r.start_time < r.end_time,
        "{} .. {}",
        r.start_time,
        r.end_time
    );

    let r = store.get("log-busy").unwrap().expect("busy call logged");
    assert_eq!(r.status, CallStatus::Busy);
    assert_eq!(r.error_code, Some(486));
    assert_eq!(r.sip.response_code, 486);
    assert_eq!(r.hangup_end.as_deref(), Some("api"));
    assert_eq!(r.connect_time_sec, 0);

    let r = store.get("log-fail").unwrap().expect("failed call logged");
    assert_eq!(r.status, CallStatus::Failed);
    assert_eq!(r.error_code, Some(503));
    assert!(r.error.is_some());

    let r = store.get("log-403").unwrap().expect("refused call logged");
    assert_eq!(r.status, CallStatus::Restricted);
    assert_eq!(r.reason.as_deref(), Some("no_trunk"));
    assert_eq!(r.error_code, Some(403));
    assert_eq!(r.trunk_id, None);
    assert_eq!(store.count().unwrap(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}
