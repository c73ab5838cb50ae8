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
fn queue_wait_over_the_limit_sheds_and_is_reported_once() {
    let o = Overload::new(OverloadSettings {
        max_queue: Duration::from_millis(10),
        ..OverloadSettings::default()
    });
    assert_eq!(o.decide(SRC, Duration::from_millis(10), || 0), None);
    assert_eq!(
        o.decide(SRC, Duration::from_millis(11), || 0),
        Some(Shed::Queue)
    );
    assert_eq!(o.decide(SRC, Duration::from_millis(3), || 0), None);
    assert_eq!(o.take_queue_max(), Duration::from_millis(11));
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
    for _ in 0..100 {
        assert_eq!(o.decide(heavy, late, || 0), Some(Shed::Queue));
    }
    assert_eq!(o.decide(light, late, || 0), None, "light source spared");
    assert_eq!(o.decide(heavy, late, || 0), Some(Shed::Queue));
    assert_eq!(
        o.decide(light, Duration::from_millis(41), || 0),
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
