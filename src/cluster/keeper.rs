//! The one owner of this node's live leases: it releases them as calls end
//! (pending releases sent as one pipeline) and every `lease_ttl_s / 3` re-adds
//! all of them with a fresh expiry in one pipeline. While Redis is down it
//! probes once a second; the first refresh that succeeds re-asserts every live
//! lease (a restarted Redis has lost them) and marks Redis up again.
//!
//! A release that fails is not retried: the lease is no longer refreshed, so it
//! stops counting within `lease_ttl_s` anyway.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{trunk_key, Leases, Msg, OP_TIMEOUT, REFRESH, RELEASE};

/// Probe interval while Redis is down.
const DOWN_PROBE: Duration = Duration::from_secs(1);
/// Releases sent in one pipeline at most.
const MAX_BATCH: usize = 512;

pub(super) async fn run(leases: Arc<Leases>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut live: HashMap<Uuid, HashSet<Arc<str>>> = HashMap::new();
    let every = leases.ttl / 3;
    // The first refresh at once: a node that starts with Redis down says so.
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { return };
                let mut releases = Vec::new();
                apply(&mut live, &mut releases, msg);
                while releases.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(m) => apply(&mut live, &mut releases, m),
                        Err(_) => break,
                    }
                }
                if !releases.is_empty() && leases.is_up() {
                    release(&leases, &releases).await;
                }
            }
            _ = leases.went_down.notified() => {
                next = next.min(tokio::time::Instant::now() + DOWN_PROBE);
            }
            _ = tokio::time::sleep_until(next) => {
                let ok = refresh(&leases, &live).await;
                leases.set_up(ok);
                next = tokio::time::Instant::now() + if ok { every } else { DOWN_PROBE };
            }
        }
    }
}

fn apply(
    live: &mut HashMap<Uuid, HashSet<Arc<str>>>,
    releases: &mut Vec<(Uuid, Arc<str>)>,
    m: Msg,
) {
    match m {
        Msg::Held { trunk, member } => {
            live.entry(trunk).or_default().insert(member);
        }
        Msg::Release { trunk, member } => {
            if let Some(set) = live.get_mut(&trunk) {
                set.remove(&member);
                if set.is_empty() {
                    live.remove(&trunk);
                }
            }
            releases.push((trunk, member));
        }
    }
}

async fn release(leases: &Leases, batch: &[(Uuid, Arc<str>)]) {
    let mut pipe = redis::pipe();
    for (trunk, member) in batch {
        pipe.cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(trunk_key(trunk))
            .arg(&**member)
            .ignore();
    }
    let mut conn = leases.conn.clone();
    leases.metrics.trip("release", batch.len() as u64);
    let r = tokio::time::timeout(OP_TIMEOUT, pipe.query_async::<()>(&mut conn)).await;
    if !matches!(r, Ok(Ok(()))) {
        leases.set_up(false);
    }
}

/// One pipeline: the refresh script per trunk with live leases (a PING when none).
async fn refresh(leases: &Leases, live: &HashMap<Uuid, HashSet<Arc<str>>>) -> bool {
    let mut pipe = redis::pipe();
    let ttl_ms = leases.ttl.as_millis() as u64;
    for (trunk, members) in live {
        let c = pipe
            .cmd("EVAL")
            .arg(REFRESH)
            .arg(1)
            .arg(trunk_key(trunk))
            .arg(ttl_ms);
        for m in members {
            c.arg(&**m);
        }
        c.ignore();
    }
    if live.is_empty() {
        pipe.cmd("PING").ignore();
    }
    let mut conn = leases.conn.clone();
    leases.metrics.trip("refresh", 1);
    let r = tokio::time::timeout(OP_TIMEOUT, pipe.query_async::<()>(&mut conn)).await;
    matches!(r, Ok(Ok(())))
}
