//! Carrier health checks over real sockets: carriers are in-process UDP UAs
//! that answer OPTIONS or stay silent; the gateway pings every second
//! (`health_interval_s = 1`), marks a silent carrier down after two misses
//! (`trunkgate_carrier_up` 0), sends calls to the carriers that are up
//! without trying the down one, tries down carriers as a last resort when
//! all are down, and marks a carrier up again once it answers.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::sync::mpsc;
use trunkgate::sip::Message;

/// A carrier: answers OPTIONS with 200 while `answer` is set, hands every
/// other message to the test. Ends when the test drops the receiver (bounded: 60 s).
fn carrier(ua: Arc<Ua>, answer: Arc<AtomicBool>) -> mpsc::UnboundedReceiver<(Message, SocketAddr)> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let end = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < end && !tx.is_closed() {
            let Some((m, from)) = ua.recv_within(Duration::from_millis(100)).await else {
                continue;
            };
            let is_options = m.is_request() && m.method().is_some_and(|x| x.as_str() == "OPTIONS");
            if is_options {
                if answer.load(Ordering::Relaxed) {
                    ua.status(from, &m, 200, "OK", "hc").await;
                }
                continue;
            }
            let _ = tx.send((m, from));
        }
    });
    rx
}

fn health_config(a: SocketAddr, b: SocketAddr) -> String {
    config_text(&[(a, "udp"), (b, "udp")], "127.0.0.0/8").replace(
        "health_interval_s = 0\n",
        "health_interval_s = 1\nhealth_down_after = 2\nhealth_up_after = 1\n",
    )
}

fn up_series(i: usize) -> String {
    format!("trunkgate_carrier_up{{carrier=\"carrier{i}\"}}")
}

/// Polls /metrics (bounded) until carrier `i`'s up gauge is `want`.
async fn wait_up(gw: &Gw, i: usize, want: f64) {
    wait_metric(gw.http, &up_series(i), want, Duration::from_secs(15)).await;
}

/// The next request a carrier task handed over (within 5 s): an INVITE;
/// `what` says which carrier should have got it, and why.
async fn invite_at(
    rx: &mut mpsc::UnboundedReceiver<(Message, SocketAddr)>,
    what: &str,
) -> (Message, SocketAddr) {
    let (inv, from) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}"))
        .expect("carrier task alive");
    assert_eq!(
        inv.method().map(|m| m.as_str().to_string()).as_deref(),
        Some("INVITE")
    );
    (inv, from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_carrier_is_marked_down_skipped_and_comes_back() {
    let a = Arc::new(Ua::new().await);
    let b = Arc::new(Ua::new().await);
    let a_answers = Arc::new(AtomicBool::new(false));
    let mut a_rx = carrier(Arc::clone(&a), Arc::clone(&a_answers));
    let mut b_rx = carrier(Arc::clone(&b), Arc::new(AtomicBool::new(true)));
    let gw = start(&health_config(a.addr, b.addr)).await;

    // Both start up; A misses two pings -> down, B stays up.
    let text = metrics(gw.http).await;
    assert_eq!(metric_value(&text, &up_series(0)), 1.0, "{text}");
    wait_up(&gw, 0, 0.0).await;
    assert_eq!(metric_value(&metrics(gw.http).await, &up_series(1)), 1.0);

    // A call goes to B first (A has the better priority, but is down).
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "hc-1@pbx", DIALED, "z9hG4bKhc1")
        .await;
    let (inv, from) = invite_at(&mut b_rx, "the INVITE reaches carrier B").await;
    assert!(
        a_rx.try_recv().is_err(),
        "the down carrier A got a request other than OPTIONS"
    );
    b.status(from, &inv, 486, "Busy Here", "b1").await;
    pbx.wait_response(486).await;

    // A answers again: up after one answered ping.
    a_answers.store(true, Ordering::Relaxed);
    wait_up(&gw, 0, 1.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_carrier_is_down_they_are_tried_in_priority_order() {
    let a = Arc::new(Ua::new().await);
    let b = Arc::new(Ua::new().await);
    let mut a_rx = carrier(Arc::clone(&a), Arc::new(AtomicBool::new(false)));
    let _b_rx = carrier(Arc::clone(&b), Arc::new(AtomicBool::new(false)));
    let gw = start(&health_config(a.addr, b.addr)).await;
    wait_up(&gw, 0, 0.0).await;
    wait_up(&gw, 1, 0.0).await;

    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "hc-2@pbx", DIALED, "z9hG4bKhc2")
        .await;
    let (inv, from) = invite_at(
        &mut a_rx,
        "the INVITE reaches carrier A, the first by priority, as a last resort",
    )
    .await;
    a.status(from, &inv, 486, "Busy Here", "a1").await;
    pbx.wait_response(486).await;
}
