//! Starting a new call: executes `admit`'s decisions — takes the trunk's
//! limit slot (a Redis lease when clustered, off the transport's thread),
//! registers the Call-ID and spawns the `actor::Call` task. A refusal is
//! handed to `dispatch.rs` `refuse`, which sends it.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::metrics::TrunkReasonLabels;
use crate::sip::{Message, Uri};

use super::admit::{self, Admission};
use super::dispatch::{Dispatcher, CALL_QUEUE};
use crate::call::actor::Call;
use crate::call::hub::{Arrival, CallEvent, CallSender, Snapshot};
use crate::call::limits::{Refusal as SlotRefusal, Slot};
use crate::call::outcome::Refused;

impl Dispatcher {
    /// An INVITE with an unknown Call-ID (`uri`: its Request-URI, parsed by
    /// the validation): admitted and started, or refused.
    pub(super) fn new_call(
        &self,
        msg: Message,
        uri: Uri,
        meta: Arrival,
        call_id: Bytes,
        queued: std::time::Duration,
    ) {
        let (snapshot, call) = match admit::plan_call(&self.hub, &msg, uri, &meta, queued) {
            Ok(a) => a,
            Err(refusal) => return self.refuse(&msg, &meta, refusal),
        };
        // simultaneous_call_limit: a slot now, released exactly once when the call ends.
        let limit = call.trunk.simultaneous_call_limit;
        if self.hub.limits.is_clustered(limit) {
            // The slot is a Redis lease: one round trip, off the transport's thread.
            // Registered first so retransmissions of this INVITE wait for the task.
            let (tx, rx) = mpsc::channel(CALL_QUEUE);
            match self.hub.calls.entry(call_id.clone()) {
                dashmap::Entry::Occupied(e) => {
                    let _ = e.get().try_send(CallEvent::Sip(Box::new((msg, meta))));
                    return;
                }
                dashmap::Entry::Vacant(v) => {
                    v.insert(tx.clone());
                }
            }
            let d = Dispatcher::new(Arc::clone(&self.hub));
            tokio::spawn(async move {
                let slot = d.hub.limits.acquire(call.trunk.trunk_id, limit).await;
                d.start(&snapshot, call, slot, msg, meta, call_id, Some((tx, rx)));
            });
            return;
        }
        let slot = self
            .hub
            .limits
            .try_acquire(call.trunk.trunk_id, limit)
            .ok_or(SlotRefusal::LimitReached);
        self.start(&snapshot, call, slot, msg, meta, call_id, None);
    }

    /// Starts the call task for an admitted call, or refuses it (`admit::settle`).
    /// `registered`: the call's channel, already in the Call-ID registry.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        snapshot: &Arc<Snapshot>,
        call: Admission,
        slot: Result<Slot, SlotRefusal>,
        msg: Message,
        meta: Arrival,
        call_id: Bytes,
        registered: Option<(CallSender, mpsc::Receiver<CallEvent>)>,
    ) {
        if matches!(slot, Err(SlotRefusal::LimitReached)) {
            self.hub
                .metrics
                .trunk_rejections
                .get_or_create(&TrunkReasonLabels {
                    trunk: call.trunk.trunk_id.to_string(),
                    direction: call.direction.as_str(),
                    reason: Refused::LimitReached.name(),
                })
                .inc();
        }
        let busy_tone = self.hub.media.enabled() && crate::call::actor::media::has_sdp(&msg);
        let (plan, slot) = match admit::settle(call, slot, busy_tone) {
            Ok(s) => s,
            Err(refusal) => {
                if registered.is_some() {
                    self.hub.calls.remove(&call_id);
                }
                return self.refuse(&msg, &meta, refusal);
            }
        };
        let (tx, rx) = match registered {
            Some(pair) => pair,
            None => {
                let (tx, rx) = mpsc::channel(CALL_QUEUE);
                // Register before the task runs so retransmissions of this INVITE find it.
                match self.hub.calls.entry(call_id) {
                    dashmap::Entry::Occupied(e) => {
                        let _ = e.get().try_send(CallEvent::Sip(Box::new((msg, meta))));
                        return;
                    }
                    dashmap::Entry::Vacant(v) => {
                        v.insert(tx.clone());
                    }
                }
                (tx, rx)
            }
        };
        let call = Call::new(
            Arc::clone(&self.hub),
            Arc::clone(snapshot),
            plan,
            slot,
            msg,
            meta,
            tx,
        );
        // Every log line of the call carries its number and the caller's Call-ID.
        let span = tracing::info_span!("call", id = call.number(), call_id = %String::from_utf8_lossy(call.call_id()));
        // Boxed: tokio's spawn path (and each poll's stage bookkeeping) then
        // moves a pointer, not the call's whole future of several KiB, ~5
        // times per call.
        let fut = tracing::Instrument::instrument(Box::pin(call.run(rx)), span);
        tokio::spawn(fut);
    }
}
