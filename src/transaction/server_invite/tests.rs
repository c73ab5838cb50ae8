use super::super::test_util::{b, fast, ms, owner_loop, run_until, send_times, Event};
use super::*;
use ServerInviteState as S;

fn udp(t0: Instant) -> ServerInvite {
    ServerInvite::new(Reliability::Unreliable, TimerConfig::default(), t0)
}

#[test]
fn retransmitted_invite_resends_last_provisional() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    assert!(m.on_request_retransmit(t0).is_empty());
    assert_eq!(
        m.send_provisional(b("100")).as_slice(),
        [Action::Send(b("100"))]
    );
    assert_eq!(
        m.on_request_retransmit(t0 + ms(500)).as_slice(),
        [Action::Send(b("100"))]
    );
    m.send_provisional(b("180"));
    assert_eq!(
        m.on_request_retransmit(t0 + ms(1500)).as_slice(),
        [Action::Send(b("180"))]
    );
    assert_eq!(m.next_deadline(), None);
    assert_eq!(m.state(), S::Proceeding);
}

#[test]
fn timer_g_capped_at_t2_then_h_times_out() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    assert_eq!(
        m.send_final(486, b("486"), t0).as_slice(),
        [Action::Send(b("486"))]
    );
    assert_eq!(m.state(), S::Completed);
    assert_eq!(m.final_code(), Some(486));
    assert!(m.on_timer(t0 + ms(499)).is_empty());
    let log = run_until(&mut m, t0, ms(60_000));
    // Intervals 0.5, 1, 2, 4, 4, 4, ...
    assert_eq!(
        send_times(&log),
        [500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]
    );
    assert!(log[..10]
        .iter()
        .all(|(_, a)| a.as_slice() == [Action::Send(b("486"))]));
    assert_eq!(log.len(), 11);
    assert_eq!(log[10].0, ms(32_000));
    assert_eq!(log[10].1.as_slice(), [Action::Timeout, Action::Terminated]);
    assert_eq!(m.failure(), Some(TransactionError::TimerH));
}

#[test]
fn retransmitted_invite_in_completed_resends_final() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    m.send_provisional(b("180"));
    m.send_final(404, b("404"), t0);
    assert_eq!(
        m.on_request_retransmit(t0 + ms(10)).as_slice(),
        [Action::Send(b("404"))]
    );
    // The provisional is not sent any more.
    assert!(m.send_provisional(b("183")).is_empty());
}

#[test]
fn ack_confirms_then_timer_i() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    m.send_final(603, b("603"), t0);
    m.on_timer(t0 + ms(500));
    assert!(m.on_ack(t0 + ms(1000)).is_empty());
    assert_eq!(m.state(), S::Confirmed);
    assert_eq!(m.next_deadline(), Some(t0 + ms(6000)));
    // G no longer fires, retransmitted INVITE and ACK are absorbed.
    assert!(m.on_timer(t0 + ms(1500)).is_empty());
    assert!(m.on_ack(t0 + ms(1600)).is_empty());
    assert!(m.on_request_retransmit(t0 + ms(1600)).is_empty());
    assert!(m.on_transport_error().is_empty());
    assert!(m.on_timer(t0 + ms(5999)).is_empty());
    assert_eq!(m.on_timer(t0 + ms(6000)).as_slice(), [Action::Terminated]);
    assert!(m.is_terminated());
}

#[test]
fn reliable_no_g_and_ack_terminates_at_once() {
    let t0 = Instant::now();
    let mut m = ServerInvite::new(Reliability::Reliable, TimerConfig::default(), t0);
    m.send_final(480, b("480"), t0);
    assert_eq!(m.next_deadline(), Some(t0 + ms(32_000)));
    assert_eq!(m.on_ack(t0 + ms(100)).as_slice(), [Action::Terminated]);

    let mut m = ServerInvite::new(Reliability::Reliable, TimerConfig::default(), t0);
    m.send_final(480, b("480"), t0);
    let log = run_until(&mut m, t0, ms(60_000));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].1.as_slice(), [Action::Timeout, Action::Terminated]);
}

#[test]
fn two_xx_accepted_ack_delivered_once_then_timer_l() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    m.send_provisional(b("180"));
    assert_eq!(
        m.send_final(200, b("200"), t0 + ms(1000)).as_slice(),
        [Action::Send(b("200"))]
    );
    assert_eq!(m.state(), S::Accepted);
    assert_eq!(m.next_deadline(), Some(t0 + ms(33_000)));
    // INVITE retransmissions absorbed, not answered (the TU retransmits 2xx).
    assert!(m.on_request_retransmit(t0 + ms(1200)).is_empty());
    // No G in Accepted.
    assert!(m.on_timer(t0 + ms(1500)).is_empty());
    assert_eq!(m.on_ack(t0 + ms(1300)).as_slice(), [Action::Deliver]);
    assert!(m.on_ack(t0 + ms(1400)).is_empty());
    assert_eq!(m.state(), S::Accepted);
    assert_eq!(m.on_timer(t0 + ms(33_000)).as_slice(), [Action::Terminated]);
}

#[test]
fn second_final_and_bad_codes_refused() {
    let t0 = Instant::now();
    let mut m = udp(t0);
    assert!(m.send_final(180, b("180"), t0).is_empty());
    assert!(m.send_final(700, b("700"), t0).is_empty());
    assert_eq!(m.state(), S::Proceeding);
    m.send_final(200, b("200"), t0);
    assert!(m.send_final(500, b("500"), t0).is_empty());
    assert!(m.send_final(200, b("200bis"), t0).is_empty());
    assert_eq!(m.final_code(), Some(200));
    assert_eq!(m.state(), S::Accepted);
}

#[test]
fn transport_error_informs_tu() {
    let t0 = Instant::now();
    for final_code in [None, Some(200), Some(500)] {
        let mut m = udp(t0);
        if let Some(c) = final_code {
            m.send_final(c, b("resp"), t0);
        }
        assert_eq!(
            m.on_transport_error().as_slice(),
            [Action::Timeout, Action::Terminated]
        );
        assert_eq!(m.failure(), Some(TransactionError::Transport));
        assert_eq!(m.next_deadline(), None);
    }
}

#[test]
fn custom_timers_scale() {
    let cfg = TimerConfig {
        t1: ms(100),
        t2: ms(300),
        t4: ms(1000),
    };
    let t0 = Instant::now();
    let mut m = ServerInvite::new(Reliability::Unreliable, cfg, t0);
    m.send_final(500, b("500"), t0);
    let log = run_until(&mut m, t0, ms(60_000));
    let sends = send_times(&log);
    assert_eq!(sends[..6], [100, 300, 600, 900, 1200, 1500]);
    assert_eq!(sends.last(), Some(&6300));
    assert_eq!(log.last().unwrap().0, ms(6400));

    let mut m = ServerInvite::new(Reliability::Unreliable, cfg, t0);
    m.send_final(500, b("500"), t0);
    m.on_ack(t0 + ms(150));
    assert_eq!(m.next_deadline(), Some(t0 + ms(1150)));
}

#[tokio::test(start_paused = true)]
async fn owner_loop_g_until_ack_then_timer_i() {
    let t0 = Instant::now();
    let mut m = ServerInvite::new(Reliability::Unreliable, fast(), t0);
    m.send_provisional(b("100"));
    let script: [Event<ServerInvite>; 4] = [
        (ms(5), |m, now| m.send_final(486, b("486"), now)),
        (ms(50), |m, now| m.on_request_retransmit(now)),
        (ms(100), |m, now| m.on_ack(now)),
        (ms(110), |m, now| m.on_ack(now)),
    ];
    let log = owner_loop(&mut m, t0, &script).await;
    let send = || Action::Send(b("486"));
    assert_eq!(
        log,
        [
            (5, send()),
            (15, send()),
            (35, send()),
            (50, send()),
            (75, send()),
            (200, Action::Terminated),
        ]
    );
    assert_eq!(m.failure(), None);
}
