//! Where media tasks run: a few dedicated threads, each a single-threaded
//! tokio runtime with its own reactor (one per core). A call's relay task
//! lives on one of them for its whole life, so a packet's readiness event,
//! the task's wake-up and its recv/send happen on one thread — no cross-thread
//! wake-ups or work stealing on the packet path, and signaling tasks on the
//! main runtime never queue behind media. Each thread also owns the receive
//! buffers its tasks read into (`batch`), so a call holds none.
//!
//! A call picks its thread ([`pick`]) before it takes any port pair: each
//! thread has its own share of the port range, whose sockets stay registered
//! with that thread's reactor from one call to the next (see `ports`).

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle};

static THREADS: OnceLock<Vec<Handle>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The index of the media thread this is, if it is one.
    static CURRENT: Cell<Option<usize>> = const { Cell::new(None) };
}

fn start() -> Vec<Handle> {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(16);
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        let rt = match Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "media runtime could not start");
                continue;
            }
        };
        let handle = rt.handle().clone();
        // Indices stay dense: a thread that fails to start takes none.
        let i = handles.len();
        let spawned = std::thread::Builder::new()
            .name(format!("trunkgate-media-{i}"))
            .spawn(move || {
                CURRENT.set(Some(i));
                rt.block_on(std::future::pending::<()>())
            });
        if spawned.is_ok() {
            handles.push(handle);
        }
    }
    handles
}

fn threads() -> &'static [Handle] {
    THREADS.get_or_init(start)
}

/// How many media threads run (at least 1: with none, index 0 stands for
/// the caller's runtime).
pub fn count() -> usize {
    threads().len().max(1)
}

/// The media thread for a new call (round robin), in `0..count()`.
pub fn pick() -> usize {
    NEXT.fetch_add(1, Ordering::Relaxed) % count()
}

/// The media thread running the current task, if any.
pub fn current() -> Option<usize> {
    CURRENT.get()
}

/// Runs a call's media task on media thread `thread` (from [`pick`]); on
/// the caller's runtime if no media thread could be started.
pub fn spawn_on<F>(thread: usize, task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match threads().get(thread) {
        Some(h) => {
            h.spawn(task);
        }
        None => {
            tokio::spawn(task);
        }
    }
}
