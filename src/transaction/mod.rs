//! RFC 3261 §17 transaction state machines (with the RFC 6026 "Accepted"
//! states), sans-IO.
//!
//! Each machine takes an event and `now` and returns [`Actions`]; it never
//! opens a socket, sleeps or spawns. The owner (the per-call task) feeds it
//! received messages and timer expiries, transmits the bytes it asks to
//! send, and sleeps until [`ClientInvite::next_deadline`] (or the same method
//! on the other machines), then calls `on_timer`. Retransmissions in both
//! directions are absorbed here: the TU (the B2BUA) is handed each message
//! once ([`Action::Deliver`]), except what RFC 3261 says must reach it
//! (further 1xx, retransmitted 2xx to a client INVITE, the ACK for a 2xx).
//!
//! The machines do not parse SIP: they hold already-printed messages as
//! [`Bytes`] and look only at status codes, so this module depends on
//! nothing else in the crate.
//!
//! | machine | RFC |
//! |---|---|
//! | [`ClientInvite`] | §17.1.1, RFC 6026 §7.2 |
//! | [`ClientNonInvite`] | §17.1.2 |
//! | [`ServerInvite`] | §17.2.1, RFC 6026 §7.1 |
//! | [`ServerNonInvite`] | §17.2.2 |
//! | [`Retransmit2xx`] | §13.3.1.4 (UAS core, not a transaction) |
//!
//! Transport errors: the owner calls `on_transport_error` when a `Send` this
//! machine asked for failed; RFC 3261 (§17.1.1.2, §17.1.2.2, §17.2.1,
//! §17.2.2) says "inform the TU" and terminate. Here:
//! - `[Timeout, Terminated]` where the machine's last send still matters
//!   to the TU: client INVITE Calling/Proceeding, client non-INVITE
//!   Trying/Proceeding, server INVITE Proceeding/Completed/Accepted, server
//!   non-INVITE Proceeding/Completed, [`Retransmit2xx`];
//! - `[Terminated]` only in client INVITE Completed (the ACK failed, but the
//!   TU already has its final response and must not see a second outcome);
//! - ignored (empty) where the machine sends nothing: client INVITE
//!   Accepted, client non-INVITE Completed, server INVITE Confirmed, server
//!   non-INVITE Trying.

mod client_invite;
mod client_non_invite;
mod retransmit_2xx;
mod server_invite;
mod server_non_invite;
mod timers;

#[cfg(test)]
mod proptests;

use bytes::Bytes;

pub use client_invite::{ClientInvite, ClientInviteState};
pub use client_non_invite::{ClientNonInvite, ClientNonInviteState};
pub use retransmit_2xx::Retransmit2xx;
pub use server_invite::{ServerInvite, ServerInviteState};
pub use server_non_invite::{ServerNonInvite, ServerNonInviteState};
pub use timers::TimerConfig;

/// Whether the transport retransmits for us (RFC 3261 §17: timers A, E, G
/// run only over unreliable transports; D, I, J, K are zero over reliable ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reliability {
    /// UDP.
    Unreliable,
    /// TCP (or TLS).
    Reliable,
}

/// What the owner must do after feeding an event to a machine, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Transmit these bytes to the transaction's peer (first send,
    /// retransmission, ACK for a non-2xx final, response).
    Send(Bytes),
    /// Pass the message just fed in up to the TU (the caller holds it).
    Deliver,
    /// Timer B / F (no final response), Timer H (no ACK), 2xx-retransmit
    /// give-up, or a transport error: the TU treats it as a failure (a client
    /// synthesizes 408, RFC 3261 §8.1.3.1). [`TransactionError`] from
    /// `failure()` says which.
    Timeout,
    /// The transaction is over; the owner drops it. Emitted exactly once.
    Terminated,
}

/// The actions produced by one event; at most three in every transition.
pub type Actions = smallvec::SmallVec<[Action; 3]>;

/// Why a machine emitted [`Action::Timeout`]; `name()` is a bounded label for
/// metrics and the call log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// RFC 3261 §17.1.1.2: Timer B fired, no response to the INVITE.
    #[error("no response to INVITE before Timer B")]
    TimerB,
    /// RFC 3261 §17.1.2.2: Timer F fired, no final response to the request.
    #[error("no final response before Timer F")]
    TimerF,
    /// RFC 3261 §17.2.1: Timer H fired, no ACK for a non-2xx final response.
    #[error("no ACK before Timer H")]
    TimerH,
    /// RFC 3261 §13.3.1.4: 2xx retransmitted for 64*T1 without an ACK.
    #[error("no ACK for 2xx within 64*T1")]
    NoAckFor2xx,
    /// The transport reported an error sending one of our messages.
    #[error("transport error")]
    Transport,
}

impl TransactionError {
    /// Static label, e.g. `"transaction::timer_b"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::TimerB => "transaction::timer_b",
            Self::TimerF => "transaction::timer_f",
            Self::TimerH => "transaction::timer_h",
            Self::NoAckFor2xx => "transaction::no_ack_for_2xx",
            Self::Transport => "transaction::transport",
        }
    }
}

/// `[Timeout, Terminated]`.
fn timed_out() -> Actions {
    smallvec::smallvec![Action::Timeout, Action::Terminated]
}

/// `[a]`.
fn one(a: Action) -> Actions {
    smallvec::smallvec![a]
}

/// Shared by the machines' in-file tests: drive any machine through its
/// timers the way the owner task does.
#[cfg(test)]
pub(crate) mod test_util {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;

    pub(crate) trait Timed {
        fn deadline(&self) -> Option<Instant>;
        fn fire(&mut self, now: Instant) -> Actions;
    }

    macro_rules! timed {
        ($($t:ty),*) => {$(
            impl Timed for $t {
                fn deadline(&self) -> Option<Instant> { self.next_deadline() }
                fn fire(&mut self, now: Instant) -> Actions { self.on_timer(now) }
            }
        )*};
    }
    timed!(
        ClientInvite,
        ClientNonInvite,
        ServerInvite,
        ServerNonInvite,
        Retransmit2xx
    );

    /// Fires every deadline up to and including `t0 + until`, returning the
    /// offset from `t0` and the actions of each firing (bounded: 200 firings).
    pub(crate) fn run_until(
        m: &mut impl Timed,
        t0: Instant,
        until: Duration,
    ) -> Vec<(Duration, Actions)> {
        let mut out = Vec::new();
        for _ in 0..200 {
            match m.deadline() {
                Some(d) if d <= t0 + until => {
                    let acts = m.fire(d);
                    out.push((d - t0, acts));
                }
                _ => break,
            }
        }
        out
    }

    /// A scripted input for [`owner_loop`]: at `t0 + offset`, feed the machine.
    pub(crate) type Event<M> = (Duration, Feed<M>);

    /// Feeds one input to a machine at the given instant.
    pub(crate) type Feed<M> = fn(&mut M, Instant) -> Actions;

    /// Models the owner task: sleep on the tokio timer until the earlier of
    /// the machine's deadline and the next scripted event, then feed that
    /// one. The machine is given the instant it was scheduled for, so the log
    /// is exact even when the runtime wakes late. Returns `(offset ms,
    /// action)` for every action, until the machine is idle (bounded: 100 steps).
    pub(crate) async fn owner_loop<M: Timed>(
        m: &mut M,
        t0: Instant,
        script: &[Event<M>],
    ) -> Vec<(u128, Action)> {
        let mut log = Vec::new();
        let mut script = script.iter().peekable();
        for _ in 0..100 {
            let timer = m.deadline();
            let event = script.peek().map(|(at, f)| (t0 + *at, *f));
            let (at, feed): (Instant, Option<Feed<M>>) = match (timer, event) {
                (Some(d), Some((e, f))) if e < d => (e, Some(f)),
                (Some(d), _) => (d, None),
                (None, Some((e, f))) => (e, Some(f)),
                (None, None) => break,
            };
            tokio::time::sleep_until(at).await;
            assert!(Instant::now() >= at);
            let acts = match feed {
                Some(f) => {
                    script.next();
                    f(m, at)
                }
                None => m.fire(at),
            };
            log.extend(acts.into_iter().map(|a| ((at - t0).as_millis(), a)));
        }
        log
    }

    /// Small timers for the owner-loop tests (T1 = 10 ms, so 64*T1 = 640 ms);
    /// the tests run on tokio's paused clock (`start_paused`), so they take no
    /// wall time and the schedule is exact.
    pub(crate) fn fast() -> TimerConfig {
        TimerConfig {
            t1: ms(10),
            t2: ms(80),
            t4: ms(100),
        }
    }

    /// Offsets in milliseconds of firings whose only action is a `Send`.
    pub(crate) fn send_times(log: &[(Duration, Actions)]) -> Vec<u128> {
        log.iter()
            .filter(|(_, a)| matches!(a.as_slice(), [Action::Send(_)]))
            .map(|(d, _)| d.as_millis())
            .collect()
    }

    pub(crate) fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    pub(crate) fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_distinct_and_prefixed() {
        let all = [
            TransactionError::TimerB,
            TransactionError::TimerF,
            TransactionError::TimerH,
            TransactionError::NoAckFor2xx,
            TransactionError::Transport,
        ];
        let names: std::collections::HashSet<_> = all.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), 5);
        assert!(names.iter().all(|n| n.starts_with("transaction::")));
        assert_eq!(TransactionError::TimerB.name(), "transaction::timer_b");
    }
}
