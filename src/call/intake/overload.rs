//! Overload control: when the gateway cannot keep up, new INVITEs are refused
//! early and cheaply (a stateless 503 with Retry-After, before any routing,
//! call task, media ports or log record), so the calls already admitted and
//! every in-dialog request (ACK, BYE, CANCEL, re-INVITE) keep their CPU.
//!
//! Two signals, either sheds:
//! - **event-loop lag** (`[overload] max_lag_ms`, off by default; 20-50 ms
//!   suits a dedicated node): a
//!   monitor task asks to wake every [`TICK`] and measures how late it runs —
//!   the time a ready task waits for a worker thread, which is what every
//!   message waits too. Every [`WINDOW`] the admitted fraction of new INVITEs
//!   is cut by a quarter while the smoothed lag is over `max_lag_ms` and grows
//!   back by a tenth once it is under half of it (AIMD: quick to shed, smooth
//!   to recover, no oscillation between all and nothing). Shedding is random
//!   per INVITE, so each source loses the same share of its attempts.
//! - **calls in set-up** (`max_setup_calls`, off by default): admitted calls
//!   not yet answered or ended; at the cap new INVITEs are refused outright.
//! - **queue wait** (`max_queue_ms`, off by default): how long the INVITE
//!   itself waited in the UDP socket's receive queue (kernel timestamp).
//!   Shedding starts once the queue has *stood* over the limit for
//!   [`SEVERE`] times the limit (from the arrival of the first message of
//!   the streak over it), so a short burst that drains on its own costs no
//!   call; once started, every INVITE over the limit is shed until none has
//!   been for [`HOLD`] (CoDel's idea, good queue vs standing queue, with
//!   SIP's answer: refuse at the head instead of dropping).
//! - **pending INVITEs** (`max_pending_invites`, off by default): INVITEs sent
//!   toward callees that have had no response yet.
//!
//! Queue wait and lag spare a source sending clearly less than its fair
//! share (`fair`); the caps refuse everyone.
//!
//! The decision is a few atomic loads per INVITE; the monitor costs one timer
//! wake-up per [`TICK`].

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the lag monitor asks to run.
pub const TICK: Duration = Duration::from_millis(10);
/// How often the admitted fraction is adjusted.
pub const WINDOW: Duration = Duration::from_millis(100);
/// The admitted fraction never drops below this (per mille): some calls
/// always get through, so the signal keeps being measured with real load.
pub const MIN_ADMIT: u32 = 50;
/// A queue wait over this many times `max_queue_ms` sheds light sources too,
/// and the queue must have stood over `max_queue_ms` this many times as long
/// before queue shedding starts.
pub const SEVERE: u32 = 4;
/// Once the queue signal has shed, an INVITE over `max_queue_ms` is shed at
/// once (no new onset) until none has been shed for this long.
pub const HOLD: Duration = Duration::from_secs(1);

/// `[overload]` (validated in `config`, which owns the settings types).
pub use crate::config::OverloadSettings;

/// Why an INVITE was shed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shed {
    /// The event loop is late: `overload_lag`.
    Lag,
    /// `max_setup_calls` reached: `overload_setup`.
    Setup,
    /// `max_pending_invites` reached (callees are not answering in time):
    /// `overload_pending`.
    Pending,
    /// The INVITE waited over `max_queue_ms` in the socket's receive queue:
    /// `overload_queue`.
    Queue,
}

impl Shed {
    pub fn name(self) -> &'static str {
        match self {
            Shed::Lag => "overload_lag",
            Shed::Setup => "overload_setup",
            Shed::Queue => "overload_queue",
            Shed::Pending => "overload_pending",
        }
    }
}

/// The shared overload state (one per gateway, in `CallHub`).
#[derive(Debug)]
pub struct Overload {
    settings: arc_swap::ArcSwap<OverloadSettings>,
    /// Smoothed lag, microseconds.
    lag_us: AtomicU64,
    /// New INVITEs admitted, per mille.
    admit: AtomicU32,
    setup: Arc<AtomicU32>,
    /// INVITEs sent toward callees that have had no response yet.
    pending: Arc<AtomicU32>,
    /// Whether the last window was shedding (for one log line per change).
    shedding: AtomicBool,
    /// Longest queue wait of a new INVITE since the last scrape, microseconds.
    queue_max_us: AtomicU64,
    /// Who sends the new INVITEs (per-source fairness of the soft signals).
    fair: super::fair::FairShare,
    /// The queue signal's state, microseconds since `epoch` (0 = none).
    queue: QueueState,
}

/// Whether the receive queue stands over `max_queue_ms`: when the streak of
/// new INVITEs read over the limit began (the first one's arrival), and when
/// one was last shed for it. Atomics: every dispatcher thread decides;
/// races only move an onset by one message.
#[derive(Debug)]
struct QueueState {
    epoch: tokio::time::Instant,
    standing_since_us: AtomicU64,
    last_shed_us: AtomicU64,
}

impl QueueState {
    fn new() -> QueueState {
        QueueState {
            epoch: tokio::time::Instant::now(),
            standing_since_us: AtomicU64::new(0),
            last_shed_us: AtomicU64::new(0),
        }
    }

    /// Whether a heavy source's INVITE that waited `queued` (over `max`) is
    /// shed at `now`: the queue has stood over `max` for `SEVERE x max`, or
    /// the signal shed within [`HOLD`].
    fn over(&self, queued: Duration, max: Duration, now: tokio::time::Instant) -> bool {
        let now_us = micros(now.saturating_duration_since(self.epoch)).max(1);
        // The queue has stood over the limit since the earliest arrival of
        // the streak's messages (never 0: that means "none").
        let arrived = now_us.saturating_sub(micros(queued)).max(1);
        let since = match self.standing_since_us.load(Ordering::Relaxed) {
            0 => arrived,
            since => since.min(arrived),
        };
        self.standing_since_us.store(since, Ordering::Relaxed);
        let last = self.last_shed_us.load(Ordering::Relaxed);
        let held = last != 0 && now_us.saturating_sub(last) < micros(HOLD);
        let stood = now_us.saturating_sub(since) >= micros(max * SEVERE);
        if held || stood {
            self.last_shed_us.store(now_us, Ordering::Relaxed);
        }
        held || stood
    }

    /// A new INVITE read within the limit: the queue is short again.
    fn short(&self) {
        self.standing_since_us.store(0, Ordering::Relaxed);
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Overload {
    pub fn new(settings: OverloadSettings) -> Overload {
        Overload {
            settings: arc_swap::ArcSwap::from_pointee(settings),
            lag_us: AtomicU64::new(0),
            admit: AtomicU32::new(1000),
            setup: Arc::new(AtomicU32::new(0)),
            pending: Arc::new(AtomicU32::new(0)),
            shedding: AtomicBool::new(false),
            queue_max_us: AtomicU64::new(0),
            fair: super::fair::FairShare::default(),
            queue: QueueState::new(),
        }
    }

    /// A reload's new `[overload]`.
    pub fn update(&self, settings: OverloadSettings) {
        self.settings.store(Arc::new(settings));
        if settings.max_lag.is_zero() {
            self.admit.store(1000, Ordering::Relaxed);
        }
    }

    pub fn settings(&self) -> OverloadSettings {
        **self.settings.load()
    }

    /// Whether a new INVITE from `source` that waited `queued` in the
    /// socket's receive queue is refused now, and why. `roll` gives a uniform
    /// random number in 0..1000; it is only drawn while lag shedding is on.
    ///
    /// The hard caps (set-up calls, pending INVITEs) refuse everyone. The
    /// soft signals spare a clearly light source (`fair`): the queue wait up
    /// to [`SEVERE`] times `max_queue_ms`, the lag always. The queue signal
    /// sheds once the queue has stood over the limit (see [`QueueState`]):
    /// while a backlog stands every new INVITE reaching the head of the queue
    /// over the limit is refused cheaply, which drains it; once it is short
    /// again they are admitted.
    pub fn decide(
        &self,
        source: IpAddr,
        queued: Duration,
        roll: impl FnOnce() -> u32,
    ) -> Option<Shed> {
        self.decide_at(source, queued, tokio::time::Instant::now(), roll)
    }

    /// [`Overload::decide`] at `now` (the tests' clock).
    fn decide_at(
        &self,
        source: IpAddr,
        queued: Duration,
        now: tokio::time::Instant,
        roll: impl FnOnce() -> u32,
    ) -> Option<Shed> {
        let s = self.settings.load();
        self.queue_max_us
            .fetch_max(micros(queued), Ordering::Relaxed);
        if s.max_setup_calls > 0 && self.setup.load(Ordering::Relaxed) >= s.max_setup_calls {
            return Some(Shed::Setup);
        }
        if s.max_pending_invites > 0
            && self.pending.load(Ordering::Relaxed) >= s.max_pending_invites
        {
            return Some(Shed::Pending);
        }
        // Every new INVITE is counted while a soft signal is configured, so
        // the history is there when shedding starts.
        let light =
            (!s.max_queue.is_zero() || !s.max_lag.is_zero()) && self.fair.arrive(source, now);
        if !s.max_queue.is_zero() {
            if queued <= s.max_queue {
                self.queue.short();
            } else if !(light && queued <= s.max_queue * SEVERE)
                && self.queue.over(queued, s.max_queue, now)
            {
                return Some(Shed::Queue);
            }
        }
        let admit = self.admit.load(Ordering::Relaxed);
        (admit < 1000 && !light && roll() >= admit).then_some(Shed::Lag)
    }

    /// The longest a new INVITE waited in the receive queue since the last
    /// call (read and reset by the metrics scrape).
    pub fn take_queue_max(&self) -> Duration {
        Duration::from_micros(self.queue_max_us.swap(0, Ordering::Relaxed))
    }

    /// Counts a call in set-up until the guard is released or dropped.
    pub fn enter_setup(&self) -> HeldCount {
        HeldCount::hold(&self.setup)
    }

    /// Calls in set-up now.
    pub fn setup_calls(&self) -> u32 {
        self.setup.load(Ordering::Relaxed)
    }

    /// Counts an INVITE sent toward a callee until its first response (the
    /// guard is released or dropped). A callee that falls behind holds these
    /// up, and `max_pending_invites` then stops sending it more: the B2BUA's
    /// own queue may be short while the carrier's is not.
    pub fn enter_pending(&self) -> HeldCount {
        HeldCount::hold(&self.pending)
    }

    /// INVITEs toward callees with no response yet.
    pub fn pending_invites(&self) -> u32 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Smoothed event-loop lag.
    pub fn lag(&self) -> Duration {
        Duration::from_micros(self.lag_us.load(Ordering::Relaxed))
    }

    /// Fraction of new INVITEs admitted (0..=1).
    pub fn admit_ratio(&self) -> f64 {
        f64::from(self.admit.load(Ordering::Relaxed)) / 1000.0
    }

    /// One lag sample: exponential smoothing over ~8 samples.
    fn sample(&self, lag: Duration) {
        let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        let old = self.lag_us.load(Ordering::Relaxed);
        let new = old - old / 8 + us / 8;
        self.lag_us.store(new, Ordering::Relaxed);
    }

    /// End of a window: adjusts the admitted fraction from the smoothed lag.
    fn adjust(&self) {
        let max = self.settings.load().max_lag;
        let admit = self.admit.load(Ordering::Relaxed);
        let next = next_admit(admit, self.lag(), max);
        self.admit.store(next, Ordering::Relaxed);
        let shedding = next < 1000;
        if self.shedding.swap(shedding, Ordering::Relaxed) != shedding {
            if shedding {
                tracing::warn!(
                    lag_ms = self.lag().as_millis() as u64,
                    admit_per_mille = next,
                    "overload: shedding new INVITEs with 503 + Retry-After"
                );
            } else {
                tracing::warn!("overload over: every new INVITE admitted again");
            }
        }
    }
}

/// The AIMD step: over `max` cut by a quarter (not below [`MIN_ADMIT`]),
/// under half of it grow by a tenth of the whole (up to all); in between
/// hold. `max` zero: admit all.
pub fn next_admit(admit: u32, lag: Duration, max: Duration) -> u32 {
    if max.is_zero() {
        return 1000;
    }
    if lag > max {
        (admit - admit / 4).max(MIN_ADMIT)
    } else if lag < max / 2 {
        (admit + 100).min(1000)
    } else {
        admit
    }
}

/// One count held in an overload counter (a call in set-up, an INVITE
/// awaiting its first response); given back once, on release or drop.
#[derive(Debug)]
pub struct HeldCount {
    counter: Arc<AtomicU32>,
    released: AtomicBool,
}

impl HeldCount {
    fn hold(counter: &Arc<AtomicU32>) -> HeldCount {
        counter.fetch_add(1, Ordering::Relaxed);
        HeldCount {
            counter: Arc::clone(counter),
            released: AtomicBool::new(false),
        }
    }

    /// The call left set-up (answered or ended). Idempotent.
    pub fn release(&self) {
        if !self.released.swap(true, Ordering::Relaxed) {
            self.counter.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for HeldCount {
    fn drop(&mut self) {
        self.release();
    }
}

/// The lag monitor; ends when the `Overload` is dropped.
pub async fn monitor(overload: std::sync::Weak<Overload>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut window_end = tokio::time::Instant::now() + WINDOW;
    loop {
        let due = tick.tick().await;
        let now = tokio::time::Instant::now();
        let Some(o) = overload.upgrade() else {
            return;
        };
        if o.settings.load().max_lag.is_zero() {
            // Off: look again once a second (a reload may turn it on)
            // instead of waking every tick.
            drop(o);
            tokio::time::sleep(Duration::from_secs(1)).await;
            tick.reset();
            continue;
        }
        o.sample(now.saturating_duration_since(due));
        if now >= window_end {
            o.adjust();
            window_end = now + WINDOW;
        }
    }
}

#[cfg(test)]
mod tests;
