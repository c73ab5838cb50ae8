//! Where media tasks run: a few dedicated threads, each a single-threaded
//! tokio runtime with its own reactor (one per core). A call's relay task
//! lives on one of them for its whole life, so a packet's readiness event,
//! the task's wake-up and its recv/send happen on one thread — no cross-thread
//! wake-ups or work stealing on the packet path, and signaling tasks on the
//! main runtime never queue behind media. Each thread also owns the receive
//! buffers its tasks read into (`batch`), so a call holds none.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};

static THREADS: OnceLock<Vec<Handle>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn start() -> Vec<Handle> {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(16);
    (0..n)
        .filter_map(|i| {
            let rt = match Builder::new_current_thread().enable_all().build() {
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
