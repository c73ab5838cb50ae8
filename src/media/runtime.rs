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
//!
//! Starting and ending a call's media task go through the thread's
//! [`inbox`]: a busy media thread takes them every few milliseconds instead
//! of being woken for each call.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use std::sync::Arc;

use tokio::runtime::Builder;

mod inbox;
use inbox::Inbox;
pub use inbox::{on_grid, Job, TICK};

static THREADS: OnceLock<Vec<Arc<Inbox>>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The index of the media thread this is, if it is one.
    static CURRENT: Cell<Option<usize>> = const { Cell::new(None) };
}

fn start() -> Vec<Arc<Inbox>> {
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
        let inbox = Arc::new(Inbox::default());
        let served = Arc::clone(&inbox);
        // Indices stay dense: a thread that fails to start takes none.
        let i = handles.len();
        let spawned = std::thread::Builder::new()
            .name(format!("trunkgate-media-{i}"))
            .spawn(move || {
                CURRENT.set(Some(i));
                rt.block_on(served.serve())
            });
        if spawned.is_ok() {
            handles.push(inbox);
        }
    }
    handles
}

fn threads() -> &'static [Arc<Inbox>] {
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

/// Runs a call's media task on media thread `thread` (from [`pick`]),
/// started from its inbox (within [`TICK`]); on the caller's runtime, at
/// once, if no media thread could be started.
pub fn spawn_on<F>(thread: usize, task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match threads().get(thread) {
        Some(inbox) => inbox.post(Box::new(move || {
            tokio::spawn(task);
        })),
        None => {
            tokio::spawn(task);
        }
    }
}

/// Runs `job` on media thread `thread` from its inbox (within [`TICK`]);
/// here, at once, if no media thread could be started.
pub fn post(thread: usize, job: Job) {
    match threads().get(thread) {
        Some(inbox) => inbox.post(job),
        None => job(),
    }
}

/// Jobs posted to the media threads and not yet run: a shutdown waits for
/// them (an ended call's log record waits for its media task's figures).
pub fn queued() -> usize {
    THREADS
        .get()
        .map_or(0, |t| t.iter().map(|i| i.queued()).sum())
}
