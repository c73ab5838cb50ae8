use super::*;

const MAX: Duration = Duration::from_millis(20);
const SRC: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

#[test]
fn aimd_cuts_fast_and_recovers_smoothly() {
    let mut a = 1000;
    a = next_admit(a, Duration::from_millis(50), MAX);
    assert_eq!(a, 750);
    for _ in 0..40 {
        a = next_admit(a, Duration::from_millis(50), MAX);
    }
    assert_eq!(a, MIN_ADMIT, "never below the floor");
    // Between half and the threshold: hold.
    assert_eq!(next_admit(a, Duration::from_millis(15), MAX), a);
    a = next_admit(a, Duration::from_millis(2), MAX);
    assert_eq!(a, MIN_ADMIT + 100);
    for _ in 0..20 {
        a = next_admit(a, Duration::from_millis(2), MAX);
    }
    assert_eq!(a, 1000);
    assert_eq!(
        next_admit(100, Duration::from_secs(1), Duration::ZERO),
        1000
    );
}

#[test]
fn setup_cap_refuses_and_guards_give_back_once() {
    let o = Overload::new(OverloadSettings {
        max_lag: Duration::ZERO,
        max_queue: Duration::ZERO,
        max_setup_calls: 2,
        max_pending_invites: 0,
        retry_after_s: 2,
    });
    let g1 = o.enter_setup();
    assert_eq!(o.decide(SRC, Duration::ZERO, || 999), None);
    let g2 = o.enter_setup();
    assert_eq!(o.decide(SRC, Duration::ZERO, || 0), Some(Shed::Setup));
    g1.release();
    g1.release();
    assert_eq!(o.setup_calls(), 1);
    drop(g1);
    assert_eq!(o.setup_calls(), 1, "released guards do not count twice");
    assert_eq!(o.decide(SRC, Duration::ZERO, || 0), None);
    drop(g2);
    assert_eq!(o.setup_calls(), 0);
}

#[test]
fn pending_invites_cap_refuses_until_a_callee_answers() {
    let o = Overload::new(OverloadSettings {
        max_pending_invites: 2,
        ..OverloadSettings::default()
    });
    let a = o.enter_pending();
    let b = o.enter_pending();
    assert_eq!(o.pending_invites(), 2);
    assert_eq!(o.decide(SRC, Duration::ZERO, || 0), Some(Shed::Pending));
    assert_eq!(Shed::Pending.name(), "overload_pending");
    drop(a);
    assert_eq!(o.decide(SRC, Duration::ZERO, || 0), None);
    b.release();
    drop(b);
    assert_eq!(o.pending_invites(), 0, "given back once");
    // Off: no cap whatever is pending.
    let off = Overload::new(OverloadSettings::default());
    let _held: Vec<_> = (0..5).map(|_| off.enter_pending()).collect();
    assert_eq!(off.decide(SRC, Duration::ZERO, || 0), None);
}

#[test]
fn queue_wait_over_the_limit_sheds_once_the_queue_stands_and_is_reported_once() {
    let o = Overload::new(OverloadSettings {
        max_queue: Duration::from_millis(10),
        ..OverloadSettings::default()
    });
    let t0 = tokio::time::Instant::now() + Duration::from_secs(5);
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let q = Duration::from_millis;
    assert_eq!(o.decide_at(SRC, q(10), at(0), || 0), None);
    // A short burst: over the limit, but the queue has stood over it for
    // less than SEVERE x 10 ms, and drains.
    assert_eq!(o.decide_at(SRC, q(11), at(1), || 0), None);
    assert_eq!(o.decide_at(SRC, q(25), at(5), || 0), None);
    assert_eq!(o.decide_at(SRC, q(3), at(6), || 0), None, "short again");
    // A streak starts again at 11 ms queued (arrived at 89), and the
    // queue still stands 40 ms after that arrival: shed from then on.
    assert_eq!(o.decide_at(SRC, q(11), at(100), || 0), None);
    assert_eq!(o.decide_at(SRC, q(20), at(120), || 0), None);
    assert_eq!(o.decide_at(SRC, q(30), at(129), || 0), Some(Shed::Queue));
    assert_eq!(o.decide_at(SRC, q(12), at(130), || 0), Some(Shed::Queue));
    // Within the limit: admitted, but the signal holds: the next INVITE
    // over the limit within HOLD is shed with no new onset.
    assert_eq!(o.decide_at(SRC, q(2), at(140), || 0), None);
    assert_eq!(o.decide_at(SRC, q(11), at(900), || 0), Some(Shed::Queue));
    // Quiet for longer than HOLD after the last shed: onset needed again.
    assert_eq!(o.decide_at(SRC, q(2), at(1000), || 0), None);
    assert_eq!(o.decide_at(SRC, q(11), at(2000), || 0), None);
    // One INVITE that waited SEVERE x the limit proves a standing queue.
    assert_eq!(o.decide_at(SRC, q(41), at(2001), || 0), Some(Shed::Queue));
    assert_eq!(o.take_queue_max(), q(41));
    assert_eq!(o.take_queue_max(), Duration::ZERO, "reset by the read");
    let off = Overload::new(OverloadSettings::default());
    assert_eq!(off.decide(SRC, Duration::from_secs(5), || 0), None);
}

/// While the queue wait sheds, a source sending far less than the others
/// is let through (up to SEVERE x the limit); the heavy one is not.
#[test]
fn a_light_source_is_spared_the_soft_signals_but_not_a_severe_backlog() {
    let o = Overload::new(OverloadSettings {
        max_queue: Duration::from_millis(10),
        ..OverloadSettings::default()
    });
    let heavy = SRC;
    let light = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));
    let late = Duration::from_millis(20);
    let t0 = tokio::time::Instant::now() + Duration::from_secs(5);
    // The queue has stood since t0 - 20 ms; 100 heavy INVITEs over the
    // next 50 ms: shed once it has stood 40 ms.
    let mut shed = 0;
    for i in 0..100u64 {
        let now = t0 + Duration::from_micros(i * 500);
        shed += usize::from(o.decide_at(heavy, late, now, || 0).is_some());
    }
    assert_eq!(shed, 60, "the heavy source shed from t0 + 20 ms on");
    let now = t0 + Duration::from_millis(50);
    assert_eq!(o.decide_at(light, late, now, || 0), None, "light spared");
    assert_eq!(o.decide_at(heavy, late, now, || 0), Some(Shed::Queue));
    assert_eq!(
        o.decide_at(light, Duration::from_millis(41), now, || 0),
        Some(Shed::Queue),
        "a severe backlog sheds everyone"
    );
}

#[test]
fn lag_smoothing_and_shedding_by_roll() {
    let o = Overload::new(OverloadSettings {
        max_lag: MAX,
        ..OverloadSettings::default()
    });
    for _ in 0..64 {
        o.sample(Duration::from_millis(80));
    }
    assert!(o.lag() > Duration::from_millis(70), "{:?}", o.lag());
    o.adjust();
    assert_eq!(o.admit_ratio(), 0.75);
    assert_eq!(o.decide(SRC, Duration::ZERO, || 749), None);
    assert_eq!(o.decide(SRC, Duration::ZERO, || 750), Some(Shed::Lag));
}

/// A runtime thread kept busy (blocking sleeps between yields) is seen
/// as lag by the monitor and sheds; idle again, everything is admitted.
#[tokio::test(flavor = "current_thread")]
async fn the_monitor_sees_a_busy_runtime_and_recovers() {
    let o = Arc::new(Overload::new(OverloadSettings {
        max_lag: MAX,
        ..OverloadSettings::default()
    }));
    tokio::spawn(monitor(Arc::downgrade(&o)));
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        std::thread::sleep(Duration::from_millis(60));
    }
    assert!(o.lag() > Duration::from_millis(20), "{:?}", o.lag());
    assert!(o.admit_ratio() < 1.0, "{}", o.admit_ratio());
    // Idle: the lag decays and the admitted fraction grows back (bounded wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while o.admit_ratio() < 1.0 {
        assert!(std::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
