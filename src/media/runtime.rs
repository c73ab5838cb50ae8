//! Where media tasks run: a few dedicated threads, each a single-threaded
//! tokio runtime with its own reactor (one per core). A call's relay task
//! lives on one of them for its whole life, so a packet's readiness event,
//! the task's wake-up and its recv/send happen on one thread — no cross-thread
//! wake-ups or work stealing on the packet path, and signaling tasks on the
//! main runtime never queue behind media. Each thread also owns the receive
//! buffers its tasks read into (`batch`), so a call holds none.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::{Builder, Handle};

static THREADS: OnceLock<Vec<Handle>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);
/// `[media] wake_coalesce_us`, read by every media thread each time it runs
/// out of work (a reload changes it in place).
static COALESCE_US: AtomicU64 = AtomicU64::new(0);

/// Sets how long a media thread with nothing to do waits before it sleeps
/// in the kernel (zero: it sleeps at once).
///
/// Why: a media thread otherwise wakes for nearly every packet and every
/// command of a call's set-up (one `epoll_wait` return, one context switch
/// each, ~0.2 per relayed packet at 50k packets/s). Waiting a little first
/// lets what arrives meanwhile be taken in one wake-up: at most one per
/// `wake_coalesce` per thread under load, at the price of up to that much
/// added delay per packet. An idle thread costs nothing either way: it waits
/// once, then sleeps until the next event. Tokio's `on_thread_park` hook is
/// the place: it runs on the media thread right before it parks, and a wake-up
/// sent meanwhile (eventfd write) makes the following park return at once,
/// so nothing is lost.
pub fn set_wake_coalesce(d: Duration) {
    COALESCE_US.store(
        u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

fn coalesce() {
    let us = COALESCE_US.load(Ordering::Relaxed);
    if us > 0 {
        std::thread::sleep(Duration::from_micros(us));
    }
}

fn start() -> Vec<Handle> {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(16);
    (0..n)
        .filter_map(|i| {
            let rt = match Builder::new_current_thread()
                .enable_all()
                .on_thread_park(coalesce)
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "media runtime could not start");
                    return None;
                }
            };
            let handle = rt.handle().clone();
            std::thread::Builder::new()
                .name(format!("trunkgate-media-{i}"))
                .spawn(move || rt.block_on(std::future::pending::<()>()))
                .ok()?;
            Some(handle)
        })
        .collect()
}

/// Runs a call's media task on the next media thread (round robin); on the
/// caller's runtime if no media thread could be started.
pub fn spawn<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let threads = THREADS.get_or_init(start);
    match threads.get(NEXT.fetch_add(1, Ordering::Relaxed) % threads.len().max(1)) {
        Some(h) => {
            h.spawn(task);
        }
        None => {
            tokio::spawn(task);
        }
    }
}
