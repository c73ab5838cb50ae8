//! A media thread's inbox: work the call tasks hand a media thread (start a
//! call's media task, end it) without waking it for each call.
//!
//! Waking a parked media thread from a signaling thread is a system call on
//! each side (tokio's reactor wakes on an eventfd) and two context switches;
//! with a media task started and ended per call that was most of what
//! anchoring added to a call's kernel time. Here a thread that is busy takes
//! its inbox every [`TICK`], so under load many calls share one timer
//! wake-up; a thread with nothing to do sleeps until a post wakes it, so an
//! idle gateway does not tick. The cost is latency: a job waits up to
//! [`TICK`] — a new media task starts a few milliseconds later (its sockets
//! are bound already, so nothing sent to them is lost), an ended one hands
//! over its figures and ports a few milliseconds later. The call's answer
//! does not come this way: it goes to the running task at once.
//!
//! When to tick: a wake-up that comes within [`TICK`] of the one before
//! starts ticking (posts are dense), each tick that finds jobs ticks again,
//! and a tick that finds none stops; sparse posts cost one wake-up each, as
//! a direct wake-up would. A poster only wakes a thread that is not ticking. Both sides order their flag and the queue with
//! sequentially consistent operations, so a job is never left behind: either
//! the ticker sees it when it looks again after clearing its flag, or the
//! poster sees the flag cleared and wakes it. The thread leaves its waker
//! in the queue's lock when it finds the queue empty, and a post takes it:
//! a post that comes before that look is taken by it, one that comes
//! after wakes the thread, and a thread that is running is not woken.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

/// How often a busy media thread takes its inbox (on the [`on_grid`] grid):
/// the longest a posted job waits.
pub const TICK: Duration = Duration::from_millis(5);

/// Where the grid of [`on_grid`] starts (any instant: only its phase counts).
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// The first instant at or after `t` on the media threads' grid of
/// [`TICK`]s. A busy thread's ticks and the calls' periodic timers
/// (`relay` housekeeping) fall on it, so tokio's timer wakes a thread once
/// for all of them instead of once per call (its wheel fires a millisecond's
/// timers together).
pub fn on_grid(t: Instant) -> Instant {
    let epoch = *EPOCH.get_or_init(Instant::now);
    if t >= epoch {
        let late = nanos(t.duration_since(epoch)) % TICK_NS;
        if late == 0 {
            t
        } else {
            t + Duration::from_nanos(TICK_NS - late)
        }
    } else {
        // Grid points before the epoch: epoch - k x TICK.
        t + Duration::from_nanos(nanos(epoch.duration_since(t)) % TICK_NS)
    }
}

/// [`TICK`] in nanoseconds.
const TICK_NS: u64 = TICK.as_nanos() as u64;

/// `d` in nanoseconds, in 64 bits (584 years; saturating): the grid's
/// remainders are taken in `u64`, not in the `u128` of
/// [`Duration::as_nanos`] (a library call per division).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Work for a media thread; it runs there, inside its runtime (a
/// `tokio::spawn` in it starts a task on that thread).
pub type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
pub struct Inbox {
    queue: Mutex<Queue>,
    /// The thread takes its jobs every [`TICK`]: a post needs no wake-up.
    ticking: AtomicBool,
    /// Jobs posted and not yet run.
    queued: AtomicUsize,
}

/// The jobs, and the waker of the thread when it sleeps waiting for one:
/// one lock for both, so a post and the thread's last look at the queue
/// before it sleeps are ordered (the post either comes before the look,
/// which takes it, or finds the waker, which it takes and wakes).
#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    waiter: Option<Waker>,
}

impl Inbox {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`; wakes the thread only if it is not ticking (and is
    /// asleep waiting for a job: a waker is taken, and so used, once).
    pub fn post(&self, job: Job) {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let waiter = {
            let mut q = self.queue();
            q.jobs.push(job);
            if self.ticking.load(Ordering::SeqCst) {
                None
            } else {
                q.waiter.take()
            }
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }

    /// Jobs posted and not yet run (a shutdown waits for them).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Runs the jobs in `spare` (taken from the queue).
    fn run(&self, spare: &mut Vec<Job>) {
        for job in spare.drain(..) {
            job();
            self.queued.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Runs the jobs queued now; how many there were.
    fn run_queued(&self, spare: &mut Vec<Job>) -> usize {
        std::mem::swap(&mut self.queue().jobs, spare);
        let n = spare.len();
        self.run(spare);
        n
    }

    /// Takes the jobs queued into `spare`, or, with none, leaves the
    /// thread's waker for the next post.
    fn poll_jobs(&self, cx: &mut Context<'_>, spare: &mut Vec<Job>) -> Poll<()> {
        let mut q = self.queue();
        if q.jobs.is_empty() {
            match &q.waiter {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => q.waiter = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        std::mem::swap(&mut q.jobs, spare);
        Poll::Ready(())
    }

    /// The thread's side, run for its whole life on the media thread.
    pub async fn serve(&self) {
        // Two vectors swapped in turn: taking the inbox allocates nothing.
        let mut spare = Vec::new();
        let mut last_wake: Option<Instant> = None;
        loop {
            self.ticking.store(false, Ordering::SeqCst);
            // Jobs posted while the flag was still up are taken at once;
            // with none, the thread sleeps until a post wakes it.
            std::future::poll_fn(|cx| self.poll_jobs(cx, &mut spare)).await;
            self.run(&mut spare);
            let now = Instant::now();
            let close = last_wake.is_some_and(|t| now.duration_since(t) < TICK);
            last_wake = Some(now);
            if !close {
                // Sparse posts: one wake-up each, no ticking.
                continue;
            }
            self.ticking.store(true, Ordering::SeqCst);
            loop {
                let next = on_grid(Instant::now() + Duration::from_nanos(1));
                tokio::time::sleep_until(next).await;
                if self.run_queued(&mut spare) == 0 {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
