//! Overload control over real sockets (`[overload] max_setup_calls`): with two
//! calls ringing, a third INVITE is refused at once with a stateless 503 and
//! `Retry-After`, counted, never reaching the carrier; in-dialog requests of
//! the admitted calls (CANCEL, BYE) are still served, and once a call leaves
//! set-up a new INVITE is admitted again.

mod common;

use std::time::Duration;

use common::*;

/// A gateway toward `carrier` with `[overload]` set to `settings` (TOML lines).
async fn with_overload(carrier: &Ua, settings: &str) -> Gw {
    start(&format!(
        "{}\n[overload]\n{settings}",
        config_text(&[(carrier.addr, "udp")], "127.0.0.0/8")
    ))
    .await
}

/// [`with_overload`] toward a fresh carrier, and a PBX: the gateway, the
/// carrier, the PBX.
async fn overloaded(settings: &str) -> (Gw, Ua, Ua) {
    let carrier = Ua::new().await;
    let gw = with_overload(&carrier, settings).await;
    (gw, carrier, Ua::new().await)
}

/// The queue signal as a scrape shows it: INVITEs shed for their queue wait,
/// the longest wait since the last scrape (seconds), and the scrape's text.
async fn queue_signal(gw: &Gw) -> (f64, f64, String) {
    let m = metrics(gw.http).await;
    (
        metric_value(&m, "trunkgate_rejections_total{reason=\"overload_queue\"}"),
        metric_value(&m, "trunkgate_invite_queue_max_seconds"),
        m,
    )
}

/// The next INVITE reaching `carrier` that is not a retransmission of `seen`.
async fn next_invite_besides(carrier: &Ua, seen: &trunkgate::sip::Message) {
    loop {
        let (m, _) = carrier.wait_request("INVITE").await;
        if hdr(&m, "Call-ID") != hdr(seen, "Call-ID") {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_set_up_cap_new_invites_get_503_with_retry_after_and_dialogs_go_on() {
    let (gw, carrier, pbx) = overloaded("max_setup_calls = 2\nretry_after_s = 7\n").await;

    // Two calls ringing: both reach the carrier.
    let mut invites = Vec::new();
    for n in 1..=2 {
        pbx.dial(gw.udp, &format!("ovl-{n}"), DIALED).await;
        invites.push(carrier_status(&carrier, gw.udp, &pbx, 180, "Ringing").await);
    }
    assert_metric(gw.http, "trunkgate_calls_in_setup", 2.0).await;

    // The third: 503 + Retry-After at once, and the carrier sees nothing.
    pbx.dial(gw.udp, "ovl-3", DIALED).await;
    let refused = pbx.wait_response(503).await;
    assert_eq!(hdr(&refused, "Retry-After"), "7");
    assert_eq!(hdr(&refused, "Call-ID"), "ovl-3");
    assert!(
        carrier.hears_nothing(Duration::from_millis(300)).await,
        "a shed INVITE reached the carrier"
    );
    assert_metric(gw.http, &rejections("overload_setup"), 1.0).await;

    // The first call is answered and ended by the PBX: ACK and BYE are served.
    carrier.answer(gw.udp, &invites[0], "c", "carrier").await;
    let ok = pbx.wait_response(200).await;
    carrier.wait_request("ACK").await;
    let mut dialog = UaDialog::from_ok(&ok, pbx.addr);
    pbx.send(gw.udp, &dialog.ack()).await;
    // Answered: a slot is free, so a new INVITE is admitted again.
    pbx.dial(gw.udp, "ovl-4", DIALED).await;
    carrier.wait_request("INVITE").await;
    pbx.send(gw.udp, &dialog.bye()).await;
    let (bye_c, _) = carrier.wait_request("BYE").await;
    carrier.ok(gw.udp, &bye_c).await;
    pbx.wait_response(200).await;

    // Only the third INVITE was shed.
    assert_metric(gw.http, &rejections("overload_setup"), 1.0).await;
    gw.gw.shutdown().await;
}

/// `[overload] max_queue_ms`: a new INVITE that waited too long in the SIP
/// socket's receive queue is refused with 503 + Retry-After before any
/// routing once the queue has stood over the limit for 4x the limit, while an
/// in-dialog request that waited as long (a BYE) is served, and so is a new
/// INVITE from a source sending far less than the heavy one (per-source
/// fairness; its wait is under 4x the limit).
/// The backlog is made deterministic: on a current-thread runtime the test
/// blocks the only thread (the gateway's too) for 100 ms after sending the
/// heavy source's INVITEs and the BYE, then sends the light source's INVITE
/// and blocks 60 ms more, so the datagrams wait at least 160 ms and 60 ms in
/// the kernel's queue.
#[tokio::test(flavor = "current_thread")]
async fn an_invite_that_queued_too_long_is_shed_and_in_dialog_requests_are_served() {
    let (gw, carrier, pbx) = overloaded("max_queue_ms = 30\nretry_after_s = 5\n").await;

    // One call up, with no backlog: admitted.
    pbx.dial(gw.udp, "q-1", DIALED).await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    let ok = answer_call(&carrier, gw.udp, &inv, &pbx).await;
    let mut dialog = UaDialog::from_ok(&ok, pbx.addr);
    pbx.send(gw.udp, &dialog.ack()).await;

    // New INVITEs and the call's BYE queue behind a stalled gateway; the
    // light source's one INVITE comes last.
    let light = Ua::bind("127.0.0.2:0").await;
    for n in 2..=9 {
        pbx.dial(gw.udp, &format!("q-{n}"), DIALED).await;
    }
    pbx.send(gw.udp, &dialog.bye()).await;
    std::thread::sleep(Duration::from_millis(100));
    light.dial(gw.udp, "l-1", DIALED).await;
    std::thread::sleep(Duration::from_millis(60));

    for n in 2..=9 {
        let refused = pbx.wait_response(503).await;
        assert_eq!(hdr(&refused, "Call-ID"), format!("q-{n}"));
        assert_eq!(hdr(&refused, "Retry-After"), "5");
    }
    // The light source's INVITE is admitted: it reaches the carrier.
    let (spared, _) = carrier.wait_request("INVITE").await;
    // The BYE is served: relayed and answered.
    let (bye, _) = carrier.wait_request("BYE").await;
    assert_eq!(hdr(&bye, "CSeq").split_whitespace().last(), Some("BYE"));
    carrier.send(gw.udp, &dialog.answer(&bye)).await;
    // (The call's 200 may come again first: its ACK queued behind the stall too.)
    let mut bye_answered = false;
    for _ in 0..5 {
        if hdr(&pbx.wait_response(200).await, "CSeq").ends_with("BYE") {
            bye_answered = true;
            break;
        }
    }
    assert!(bye_answered, "the BYE's 200 never reached the PBX");
    let (shed, waited, m) = queue_signal(&gw).await;
    assert_eq!(shed, 8.0, "{m}");
    assert!(waited >= 0.16, "the shed INVITE waited {waited} s: {m}");

    // No backlog any more: the next INVITE is admitted.
    pbx.dial(gw.udp, "q-10", DIALED).await;
    // (The spared call's INVITE may be retransmitted meanwhile.)
    next_invite_besides(&carrier, &spared).await;
    let (shed, _, m) = queue_signal(&gw).await;
    assert_eq!(shed, 8.0, "{m}");
    gw.gw.shutdown().await;
}

/// A short burst is not overload: INVITEs that waited over `max_queue_ms`
/// behind a 60 ms stall, a queue that stood less than 4x the limit, are all
/// admitted (the queue drains on its own), and the wait is still reported.
#[tokio::test(flavor = "current_thread")]
async fn a_short_burst_over_the_queue_limit_is_admitted() {
    let (gw, carrier, pbx) = overloaded("max_queue_ms = 30\n").await;
    // The gateway settles first (its tasks run now, not between the sends
    // and the stall), so all three INVITEs queue behind the stall.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for n in 1..=3 {
        pbx.dial(gw.udp, &format!("b-{n}"), DIALED).await;
    }
    std::thread::sleep(Duration::from_millis(60));
    let mut reached = std::collections::BTreeSet::new();
    while reached.len() < 3 {
        let (inv, _) = carrier.wait_request("INVITE").await;
        reached.insert(hdr(&inv, "Call-ID"));
    }
    let (shed, waited, m) = queue_signal(&gw).await;
    assert_eq!(shed, 0.0, "{m}");
    assert!(waited >= 0.06, "the burst waited {waited} s: {m}");
    gw.gw.shutdown().await;
}

/// `[overload] max_pending_invites`: a callee that has not answered the
/// INVITEs it was sent holds them pending; at the cap new INVITEs get 503 +
/// Retry-After and the callee is sent nothing more, and its first response
/// (even a 100 Trying) frees the slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_that_does_not_answer_is_not_sent_more_than_the_pending_cap() {
    let (gw, carrier, pbx) = overloaded("max_pending_invites = 1\nretry_after_s = 3\n").await;

    pbx.dial(gw.udp, "p-1", DIALED).await;
    let (first, _) = carrier.wait_request("INVITE").await;
    let m = metrics(gw.http).await;
    assert_eq!(metric_value(&m, "trunkgate_invites_pending"), 1.0, "{m}");

    pbx.dial(gw.udp, "p-2", DIALED).await;
    let refused = pbx.wait_response(503).await;
    assert_eq!(hdr(&refused, "Call-ID"), "p-2");
    assert_eq!(hdr(&refused, "Retry-After"), "3");
    // Nothing new reaches the carrier (the first INVITE may be retransmitted).
    while let Some((m, _)) = carrier.recv_within(Duration::from_millis(300)).await {
        assert_eq!(hdr(&m, "Call-ID"), hdr(&first, "Call-ID"), "{m:?}");
    }
    assert_metric(gw.http, &rejections("overload_pending"), 1.0).await;

    // The carrier's 100 Trying: no longer pending, the next INVITE goes out.
    carrier
        .send(gw.udp, &reply(&first, 100, "Trying", None, None, ""))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while metric_value(&metrics(gw.http).await, "trunkgate_invites_pending") != 0.0 {
        assert!(std::time::Instant::now() < deadline, "still pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pbx.dial(gw.udp, "p-3", DIALED).await;
    next_invite_besides(&carrier, &first).await;
    gw.gw.shutdown().await;
}
