use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Inbox, TICK};

fn counting(n: &Arc<AtomicUsize>) -> super::Job {
    let n = Arc::clone(n);
    Box::new(move || {
        n.fetch_add(1, Ordering::SeqCst);
    })
}

/// Lets the serving task run until it waits again (paused clock: no time passes).
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// An inbox served by a task on the test's runtime, waiting for posts.
async fn serving() -> Arc<Inbox> {
    let inbox = Arc::new(Inbox::default());
    let served = Arc::clone(&inbox);
    tokio::spawn(async move { served.serve().await });
    settle().await;
    inbox
}

#[tokio::test(start_paused = true)]
async fn a_post_to_an_idle_thread_runs_at_once_and_leaves_it_idle() {
    let inbox = serving().await;
    let n = Arc::new(AtomicUsize::new(0));
    inbox.post(counting(&n));
    assert_eq!(inbox.queued(), 1);
    settle().await;
    assert_eq!(
        n.load(Ordering::SeqCst),
        1,
        "run without waiting for a tick"
    );
    assert_eq!(inbox.queued(), 0);
    assert!(
        !inbox.ticking.load(Ordering::SeqCst),
        "one post does not start ticking"
    );
}

#[tokio::test(start_paused = true)]
async fn dense_posts_are_taken_at_the_next_tick_and_ticking_stops_when_idle() {
    let inbox = serving().await;
    let n = Arc::new(AtomicUsize::new(0));
    // Two wake-ups within TICK: the thread starts ticking.
    inbox.post(counting(&n));
    settle().await;
    inbox.post(counting(&n));
    settle().await;
    assert_eq!(n.load(Ordering::SeqCst), 2);
    assert!(inbox.ticking.load(Ordering::SeqCst));
    // While ticking, posts wait for the tick (no wake-up runs them early).
    inbox.post(counting(&n));
    inbox.post(counting(&n));
    settle().await;
    assert_eq!(
        n.load(Ordering::SeqCst),
        2,
        "taken at the tick, not at the post"
    );
    assert_eq!(inbox.queued(), 2);
    tokio::time::sleep(TICK).await;
    settle().await;
    assert_eq!(n.load(Ordering::SeqCst), 4, "taken within one tick");
    assert!(
        inbox.ticking.load(Ordering::SeqCst),
        "a tick that found work ticks again"
    );
    // A tick with nothing: idle again, and the next post wakes it at once.
    tokio::time::sleep(TICK * 2).await;
    settle().await;
    assert!(!inbox.ticking.load(Ordering::SeqCst));
    tokio::time::sleep(TICK * 4).await;
    inbox.post(counting(&n));
    settle().await;
    assert_eq!(n.load(Ordering::SeqCst), 5);
    assert_eq!(inbox.queued(), 0);
}

/// Posters on other threads racing the thread's switch between ticking and
/// idle: every job runs (none is left in a queue nobody looks at).
#[test]
fn no_job_is_lost_between_ticking_and_idle() {
    let inbox = Arc::new(Inbox::default());
    let served = Arc::clone(&inbox);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = std::thread::spawn(move || rt.block_on(served.serve()));
    let n = Arc::new(AtomicUsize::new(0));
    const PER_THREAD: usize = 2_000;
    let posters: Vec<_> = (0..4)
        .map(|t| {
            let inbox = Arc::clone(&inbox);
            let n = Arc::clone(&n);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    inbox.post(counting(&n));
                    // Mix dense bursts with gaps longer than a tick.
                    if (i + t) % 500 == 0 {
                        std::thread::sleep(TICK * 3);
                    }
                }
            })
        })
        .collect();
    for p in posters {
        p.join().expect("poster");
    }
    // Liveness bound, not a timing assertion: generous on a loaded machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while n.load(Ordering::SeqCst) < 4 * PER_THREAD && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(n.load(Ordering::SeqCst), 4 * PER_THREAD);
    assert_eq!(inbox.queued(), 0);
    drop(server);
}

#[test]
fn on_grid_rounds_up_to_a_shared_tick_boundary() {
    use super::on_grid;
    use tokio::time::Instant;
    let t0 = Instant::now();
    let g = on_grid(t0);
    assert!(g >= t0 && g < t0 + TICK);
    assert_eq!(on_grid(g), g, "a grid point is its own");
    assert_eq!(on_grid(g + std::time::Duration::from_nanos(1)), g + TICK);
    // Instants within one tick share their point: their timers fire together.
    for us in [1u64, 700, 2_500, 4_999] {
        assert_eq!(on_grid(g + std::time::Duration::from_micros(us)), g + TICK);
    }
    // Before the grid's epoch too.
    let early = t0.checked_sub(std::time::Duration::from_millis(37));
    if let Some(early) = early {
        let p = on_grid(early);
        assert!(p >= early && p < early + TICK);
        assert_eq!(on_grid(p), p);
        assert_eq!((g - p).as_nanos() % TICK.as_nanos(), 0);
    }
}
