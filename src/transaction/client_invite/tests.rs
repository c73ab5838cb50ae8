use std::cell::Cell;

use super::super::test_util::{b, fast, ms, owner_loop, run_until, send_times, Event};
use super::*;
use ClientInviteState as S;

fn udp(t0: Instant) -> ClientInvite {
    let (m, acts) = ClientInvite::new(
        b("INVITE"),
        Reliability::Unreliable,
        TimerConfig::default(),
        t0,
    );
    assert_eq!(acts.as_slice(), [Action::Send(b("INVITE"))]);
    m
}

#[test]
fn timer_a_doubles_without_cap_then_b_times_out() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    assert!(m.on_timer(t0 + ms(499)).is_empty());
    let log = run_until(&mut m, t0, ms(60_000));
    assert_eq!(send_times(&log), [500, 1500, 3500, 7500, 15_500, 31_500]);
    let (at, last) = log.last().unwrap();
    assert_eq!(*at, ms(32_000));
    assert_eq!(last.as_slice(), [Action::Timeout, Action::Terminated]);
    assert_eq!(log.len(), 7);
    assert!(log[..6]
        .iter()
        .all(|(_, a)| a.as_slice() == [Action::Send(b("INVITE"))]));
    assert_eq!(m.state(), S::Terminated);
    assert_eq!(m.failure(), Some(TransactionError::TimerB));
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn reliable_never_retransmits_but_b_fires() {
    let t0 = Instant::now();
    let (mut m, _) = ClientInvite::new(
        b("INVITE"),
        Reliability::Reliable,
        TimerConfig::default(),
        t0,
    );
    assert_eq!(m.next_deadline(), Some(t0 + ms(32_000)));
    let log = run_until(&mut m, t0, ms(60_000));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, ms(32_000));
    assert_eq!(log[0].1.as_slice(), [Action::Timeout, Action::Terminated]);
}

#[test]
fn a_and_b_at_same_instant_b_wins() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    // Owner oversleeps past every A firing and B.
    let acts = m.on_timer(t0 + ms(40_000));
    assert_eq!(acts.as_slice(), [Action::Timeout, Action::Terminated]);
    assert!(m.on_timer(t0 + ms(50_000)).is_empty());
}

#[test]
fn provisional_stops_a_and_b() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    m.on_timer(t0 + ms(500));
    let acts = m.on_response(180, t0 + ms(700), || unreachable!());
    assert_eq!(acts.as_slice(), [Action::Deliver]);
    assert_eq!(m.state(), S::Proceeding);
    assert_eq!(m.next_deadline(), None);
    assert!(m.on_timer(t0 + ms(100_000)).is_empty());
    assert_eq!(
        m.on_response(183, t0 + ms(800), || unreachable!())
            .as_slice(),
        [Action::Deliver]
    );
}

#[test]
fn non_2xx_final_builds_one_ack_and_resends_it() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    m.on_response(100, t0 + ms(100), || unreachable!());
    let calls = Cell::new(0);
    let mk = || {
        calls.set(calls.get() + 1);
        b("ACK")
    };
    let acts = m.on_response(486, t0 + ms(1000), mk);
    assert_eq!(acts.as_slice(), [Action::Send(b("ACK")), Action::Deliver]);
    assert_eq!(m.state(), S::Completed);
    for i in 0..3 {
        let acts = m.on_response(486, t0 + ms(1100 + i), || {
            calls.set(calls.get() + 1);
            b("ACK2")
        });
        assert_eq!(acts.as_slice(), [Action::Send(b("ACK"))]);
    }
    assert_eq!(calls.get(), 1);
    // A 2xx or 1xx after the final is ignored.
    assert!(m.on_response(200, t0 + ms(1200), || b("x")).is_empty());
    assert!(m.on_response(180, t0 + ms(1200), || b("x")).is_empty());
    // Timer D: 32 s after the final.
    assert_eq!(m.next_deadline(), Some(t0 + ms(33_000)));
    assert!(m.on_timer(t0 + ms(32_999)).is_empty());
    assert_eq!(m.on_timer(t0 + ms(33_000)).as_slice(), [Action::Terminated]);
    assert!(m.is_terminated());
    assert_eq!(m.failure(), None);
    assert!(m.on_response(486, t0 + ms(34_000), || b("x")).is_empty());
}

#[test]
fn reliable_non_2xx_terminates_at_once() {
    let t0 = Instant::now();
    let (mut m, _) = ClientInvite::new(
        b("INVITE"),
        Reliability::Reliable,
        TimerConfig::default(),
        t0,
    );
    let acts = m.on_response(503, t0 + ms(10), || b("ACK"));
    assert_eq!(
        acts.as_slice(),
        [Action::Send(b("ACK")), Action::Deliver, Action::Terminated]
    );
    assert!(m.is_terminated());
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn two_xx_goes_accepted_delivers_retransmits_then_timer_m() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    let acts = m.on_response(200, t0 + ms(2000), || unreachable!());
    assert_eq!(acts.as_slice(), [Action::Deliver]);
    assert_eq!(m.state(), S::Accepted);
    assert_eq!(m.next_deadline(), Some(t0 + ms(34_000)));
    assert_eq!(
        m.on_response(200, t0 + ms(2500), || unreachable!())
            .as_slice(),
        [Action::Deliver]
    );
    assert!(m
        .on_response(486, t0 + ms(2600), || unreachable!())
        .is_empty());
    assert!(m
        .on_response(180, t0 + ms(2600), || unreachable!())
        .is_empty());
    // No retransmission of the INVITE in Accepted, even past old Timer A.
    assert!(m.on_timer(t0 + ms(3500)).is_empty());
    assert!(m.on_transport_error().is_empty());
    assert_eq!(m.on_timer(t0 + ms(34_000)).as_slice(), [Action::Terminated]);
    assert!(m
        .on_response(200, t0 + ms(35_000), || unreachable!())
        .is_empty());
}

#[test]
fn transport_error_depends_on_state() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    assert_eq!(
        m.on_transport_error().as_slice(),
        [Action::Timeout, Action::Terminated]
    );
    assert_eq!(m.failure(), Some(TransactionError::Transport));
    assert!(m.on_transport_error().is_empty());

    let mut m = udp(t0);
    m.on_response(404, t0, || b("ACK"));
    assert_eq!(m.on_transport_error().as_slice(), [Action::Terminated]);
    assert_eq!(m.failure(), None);
}

#[test]
fn out_of_range_codes_ignored() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    assert!(m.on_response(99, t0, || unreachable!()).is_empty());
    assert!(m.on_response(700, t0, || unreachable!()).is_empty());
    assert_eq!(m.state(), S::Calling);
    assert_eq!(m.request(), &b("INVITE"));
}

#[test]
fn custom_timers_scale() {
    let cfg = TimerConfig {
        t1: ms(100),
        t2: ms(200),
        t4: ms(300),
    };
    let t0 = Instant::now();
    let (mut m, _) = ClientInvite::new(b("INVITE"), Reliability::Unreliable, cfg, t0);
    let log = run_until(&mut m, t0, ms(60_000));
    assert_eq!(send_times(&log), [100, 300, 700, 1500, 3100, 6300]);
    assert_eq!(log.last().unwrap().0, ms(6400));

    let (mut m, _) = ClientInvite::new(b("INVITE"), Reliability::Unreliable, cfg, t0);
    m.on_response(500, t0 + ms(50), || b("ACK"));
    assert_eq!(m.next_deadline(), Some(t0 + ms(6450)));
}

/// Drives the machine the way the owner task does, on the tokio timer.
#[tokio::test(start_paused = true)]
async fn owner_loop_retransmits_until_timer_b() {
    let t0 = Instant::now();
    let (mut m, _) = ClientInvite::new(b("INVITE"), Reliability::Unreliable, fast(), t0);
    let log = owner_loop(&mut m, t0, &[]).await;
    let send = || Action::Send(b("INVITE"));
    assert_eq!(
        log,
        [
            (10, send()),
            (30, send()),
            (70, send()),
            (150, send()),
            (310, send()),
            (630, send()),
            (640, Action::Timeout),
            (640, Action::Terminated),
        ]
    );
    assert!(Instant::now() - t0 >= ms(640));
}

#[tokio::test(start_paused = true)]
async fn owner_loop_final_then_timer_d() {
    let t0 = Instant::now();
    let (mut m, _) = ClientInvite::new(b("INVITE"), Reliability::Unreliable, fast(), t0);
    let script: [Event<ClientInvite>; 3] = [
        (ms(20), |m, now| m.on_response(180, now, || b("never"))),
        (ms(50), |m, now| m.on_response(486, now, || b("ACK"))),
        (ms(60), |m, now| m.on_response(486, now, || b("never"))),
    ];
    let log = owner_loop(&mut m, t0, &script).await;
    assert_eq!(
        log,
        [
            (10, Action::Send(b("INVITE"))),
            (20, Action::Deliver),
            (50, Action::Send(b("ACK"))),
            (50, Action::Deliver),
            (60, Action::Send(b("ACK"))),
            (690, Action::Terminated),
        ]
    );
}
