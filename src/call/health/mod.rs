//! Carrier health checks: one task per carrier with `health_interval_s > 0`
//! sends an out-of-dialog OPTIONS every interval over the carrier's
//! transport and waits up to one interval for any response (any status means
//! the carrier's SIP stack is alive). [`Health`] turns the results into
//! up/down with hysteresis; the state is published in `CallHub::carrier_up`
//! (read by `route::carrier_hops`, which puts down carriers last) and in
//! `trunkgate_carrier_up{carrier}`, and each change is logged once.
//!
//! The ping's response reaches the task like any response reaches a call:
//! through the Call-ID registry (`CallHub::calls`), registered for the ping's
//! lifetime only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

pub(crate) mod board;
pub use board::Board;

use super::hub::{new_branch, random_hex, CallEvent, CallHub, Outgoing};
use super::route::kind_of;
use crate::config::Carrier;
use crate::policy::carrier::{Health, HealthSettings};
use crate::sip::{MessageBuilder, Method};
use crate::transport::{Target, TransportKind};

/// Starts the health task of every carrier of the current config that has
/// health checks, replacing (and stopping) those of an earlier config.
pub fn spawn_all(hub: &Arc<CallHub>) {
    let config = Arc::clone(&hub.snapshot.load().config);
    hub.metrics.carrier_up.clear();
    let mut board = Board {
        up: config
            .carriers
            .iter()
            .map(|c| (c.name.clone(), AtomicBool::new(true)))
            .collect(),
        tasks: Vec::new(),
    };
    for c in &config.carriers {
        hub.publish_carrier_up(&c.name, true);
        if let Some(settings) = c.health {
            let hub = Arc::clone(hub);
            let c = c.clone();
            let h = tokio::spawn(async move { run(hub, c, settings).await });
            board.tasks.push(h.abort_handle());
        }
    }
    hub.carrier_health.store(Arc::new(board));
}

async fn run(hub: Arc<CallHub>, carrier: Carrier, settings: HealthSettings) {
    let mut health = Health::default();
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + settings.interval,
        settings.interval,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let answered = ping(&hub, &carrier, settings.interval).await;
        if let Some(up) = health.observe(answered, &settings) {
            if up {
                tracing::info!(carrier = %carrier.name, address = %carrier.address, "carrier up: answers OPTIONS again");
            } else {
                tracing::warn!(carrier = %carrier.name, address = %carrier.address, "carrier down: OPTIONS unanswered; calls go to other carriers first");
            }
            hub.publish_carrier_up(&carrier.name, up);
        }
    }
}

/// One OPTIONS to the carrier: true when any response came back within `wait`.
async fn ping(hub: &Arc<CallHub>, carrier: &Carrier, wait: std::time::Duration) -> bool {
    let kind = kind_of(carrier.transport);
    let target = Target {
        kind,
        addr: carrier.address,
        conn: None,
    };
    let call_id = Bytes::from(format!("ping-{}", random_hex(12)));
    let (tx, mut rx) = mpsc::channel::<CallEvent>(4);
    hub.calls.insert(call_id.clone(), tx.clone());
    let proto = match kind {
        TransportKind::Udp => "UDP",
        TransportKind::Tcp => "TCP",
        TransportKind::Tls => "TLS",
    };
    let sent_by = hub.sent_by(kind, &carrier.address);
    let scheme = if kind == TransportKind::Tls {
        "sips"
    } else {
        "sip"
    };
    let uri = format!("{scheme}:{}", carrier.address);
    let msg = MessageBuilder::request(&Method::Options, uri.as_bytes())
        .header(
            "Via",
            format!("SIP/2.0/{proto} {sent_by};branch={};rport", new_branch()),
        )
        .header("Max-Forwards", "70")
        .header(
            "From",
            format!("<{scheme}:trunkgate@{sent_by}>;tag={}", random_hex(6)),
        )
        .header("To", format!("<{uri}>"))
        .header("Call-ID", &call_id)
        .header("CSeq", "1 OPTIONS")
        .header("User-Agent", &hub.snapshot.load().config.sip.user_agent)
        .header("Content-Length", "0")
        .finish();
    let answered = if hub
        .send(&target, msg, Outgoing::Request(&Method::Options))
        .await
    {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(CallEvent::Sip(m))) if !m.0.is_request() => break true,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break false,
            }
        }
    } else {
        false
    };
    hub.unregister(&call_id, &tx);
    answered
}

impl CallHub {
    /// Whether the carrier named `name` is up; unknown (e.g. removed by a reload) = up.
    pub fn carrier_up(&self, name: &str) -> bool {
        self.carrier_health
            .load()
            .up
            .iter()
            .find(|(n, _)| n == name)
            .is_none_or(|(_, u)| u.load(Ordering::Relaxed))
    }

    fn publish_carrier_up(&self, name: &str, up: bool) {
        if let Some((_, u)) = self
            .carrier_health
            .load()
            .up
            .iter()
            .find(|(n, _)| n == name)
        {
            u.store(up, Ordering::Relaxed);
        }
        self.metrics
            .carrier_up
            .get_or_create(&crate::metrics::CarrierLabels {
                carrier: name.to_string(),
            })
            .set(i64::from(up));
    }
}
