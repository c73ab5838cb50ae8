//! Property tests over random event sequences for every machine: the
//! owner-facing contract (one `Terminated`, silence afterwards, `Timeout`
//! only as `[Timeout, Terminated]`, `on_timer` safe to call early, at most
//! one ACK built, no duplicate non-2xx final delivered).

use std::cell::Cell;
use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;

use super::test_util::b;
use super::*;

#[derive(Clone, Debug)]
enum Ev {
    Response(u16),
    Timer,
    EarlyTimer,
    Retransmit,
    Ack,
    TransportError,
    Provisional,
    Final(u16),
}

fn ev() -> impl Strategy<Value = Ev> {
    let code = prop_oneof![
        3 => 100u16..200,
        3 => 200u16..300,
        3 => 300u16..700,
        1 => 0u16..100,
        1 => 700u16..1000,
    ];
    prop_oneof![
        3 => code.clone().prop_map(Ev::Response),
        3 => Just(Ev::Timer),
        1 => Just(Ev::EarlyTimer),
        2 => Just(Ev::Retransmit),
        3 => Just(Ev::Ack),
        1 => Just(Ev::TransportError),
        1 => Just(Ev::Provisional),
        3 => code.prop_map(Ev::Final),
    ]
}

/// Reliability, then (milliseconds since the previous event, event).
fn script() -> impl Strategy<Value = (bool, Vec<(u64, Ev)>)> {
    (
        any::<bool>(),
        prop::collection::vec((0u64..3_000, ev()), 0..40),
    )
}

fn rel(reliable: bool) -> Reliability {
    if reliable {
        Reliability::Reliable
    } else {
        Reliability::Unreliable
    }
}

/// Checks the shared contract on one step's actions; returns whether the
/// machine terminated in this step.
fn check_step(acts: &Actions, was_terminated: bool, is_terminated: bool) -> bool {
    if was_terminated {
        assert!(acts.is_empty(), "actions after termination: {acts:?}");
        return false;
    }
    let terms = acts.iter().filter(|a| **a == Action::Terminated).count();
    assert!(terms <= 1);
    assert_eq!(
        terms == 1,
        is_terminated,
        "Terminated emitted iff terminated: {acts:?}"
    );
    if terms == 1 {
        assert_eq!(acts.last(), Some(&Action::Terminated));
    }
    if acts.contains(&Action::Timeout) {
        assert_eq!(acts.as_slice(), [Action::Timeout, Action::Terminated]);
    }
    terms == 1
}

/// Advances time, then applies `Timer` at the deadline or `EarlyTimer`
/// just before it; other events go to `apply`.
fn drive<M: test_util::Timed>(
    m: &mut M,
    t0: Instant,
    steps: &[(u64, Ev)],
    is_terminated: impl Fn(&M) -> bool,
    mut apply: impl FnMut(&mut M, &Ev, Instant) -> Actions,
) {
    let mut now = t0;
    let mut done = is_terminated(m);
    for (dt, e) in steps {
        now += Duration::from_millis(*dt);
        let acts = match e {
            Ev::Timer => match m.deadline() {
                Some(d) => {
                    now = now.max(d);
                    m.fire(now)
                }
                None => m.fire(now),
            },
            Ev::EarlyTimer => match m.deadline() {
                Some(d) if d > now => {
                    let early = m.fire(d - Duration::from_millis(1));
                    assert!(early.is_empty(), "early on_timer acted: {early:?}");
                    early
                }
                _ => Actions::new(),
            },
            other => apply(m, other, now),
        };
        let t = is_terminated(m);
        if check_step(&acts, done, t) {
            done = true;
        }
        assert_eq!(done, t);
        if done {
            assert_eq!(m.deadline(), None);
        }
        if matches!(e, Ev::Timer) {
            // One on_timer call handles every timer expired at `now`.
            assert!(m.deadline().is_none_or(|d| d > now), "timer left due");
        }
    }
}

proptest! {
    #[test]
    fn client_invite_contract((reliable, steps) in script()) {
        let t0 = Instant::now();
        let (mut m, _) = ClientInvite::new(b("INVITE"), rel(reliable), TimerConfig::default(), t0);
        let acks = Cell::new(0);
        let mut finals_delivered = 0;
        drive(&mut m, t0, &steps, ClientInvite::is_terminated, |m, e, now| match e {
            Ev::Response(c) => {
                let acts = m.on_response(*c, now, || { acks.set(acks.get() + 1); b("ACK") });
                if (300..700).contains(c) && acts.contains(&Action::Deliver) {
                    finals_delivered += 1;
                }
                acts
            }
            Ev::TransportError => m.on_transport_error(),
            _ => Actions::new(),
        });
        prop_assert!(acks.get() <= 1);
        prop_assert!(finals_delivered <= 1);
    }

    #[test]
    fn client_non_invite_contract((reliable, steps) in script()) {
        let t0 = Instant::now();
        let (mut m, _) = ClientNonInvite::new(b("BYE"), rel(reliable), TimerConfig::default(), t0);
        let mut finals_delivered = 0;
        drive(&mut m, t0, &steps, ClientNonInvite::is_terminated, |m, e, now| match e {
            Ev::Response(c) => {
                let acts = m.on_response(*c, now);
                if *c >= 200 && acts.contains(&Action::Deliver) {
                    finals_delivered += 1;
                }
                acts
            }
            Ev::TransportError => m.on_transport_error(),
            _ => Actions::new(),
        });
        prop_assert!(finals_delivered <= 1);
    }

    #[test]
    fn server_invite_contract((reliable, steps) in script()) {
        let t0 = Instant::now();
        let mut m = ServerInvite::new(rel(reliable), TimerConfig::default(), t0);
        let mut acks_delivered = 0;
        drive(&mut m, t0, &steps, ServerInvite::is_terminated, |m, e, now| match e {
            Ev::Provisional => m.send_provisional(b("180")),
            Ev::Final(c) => {
                let before = m.final_code();
                let acts = m.send_final(*c, b("final"), now);
                if before.is_some() {
                    assert!(acts.is_empty(), "second final accepted");
                    assert_eq!(m.final_code(), before);
                }
                acts
            }
            Ev::Retransmit => m.on_request_retransmit(now),
            Ev::Ack => {
                let acts = m.on_ack(now);
                acks_delivered += acts.iter().filter(|a| **a == Action::Deliver).count();
                acts
            }
            Ev::TransportError => m.on_transport_error(),
            _ => Actions::new(),
        });
        prop_assert!(acks_delivered <= 1);
    }

    #[test]
    fn server_non_invite_contract((reliable, steps) in script()) {
        let t0 = Instant::now();
        let mut m = ServerNonInvite::new(rel(reliable), TimerConfig::default(), t0);
        drive(&mut m, t0, &steps, ServerNonInvite::is_terminated, |m, e, now| match e {
            Ev::Final(c) | Ev::Response(c) => {
                let before = m.final_code();
                let acts = m.send_response(*c, b("resp"), now);
                if before.is_some() {
                    assert!(acts.is_empty(), "response after final accepted");
                }
                acts
            }
            Ev::Retransmit => m.on_request_retransmit(now),
            Ev::TransportError => m.on_transport_error(),
            _ => Actions::new(),
        });
    }

    #[test]
    fn retransmit_2xx_contract((reliable, steps) in script()) {
        let t0 = Instant::now();
        let mut m = Retransmit2xx::new(b("200"), rel(reliable), TimerConfig::default(), t0);
        let mut sends = 0;
        drive(&mut m, t0, &steps, Retransmit2xx::is_terminated, |m, e, _| match e {
            Ev::Ack => m.on_ack(),
            Ev::TransportError => m.on_transport_error(),
            _ => Actions::new(),
        });
        // Full schedule with the default timers: 10 sends at most.
        for _ in 0..50 {
            match m.next_deadline() {
                Some(d) => sends += m.on_timer(d).iter().filter(|a| matches!(a, Action::Send(_))).count(),
                None => break,
            }
        }
        prop_assert!(sends <= 10);
        prop_assert!(m.is_terminated());
    }
}
