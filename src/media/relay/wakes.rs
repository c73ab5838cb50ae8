//! Which of the media task's wake sources fired since its last poll.
//!
//! The task waits on many things at once: its command channel, the tone and
//! housekeeping timers, and up to [`super::MAX_STREAMS`] x 2 legs x 2 sockets.
//! Polled with the task's own waker, every wake-up (one per packet) would
//! poll all of them to find the one that fired, each idle socket costing a
//! lock in tokio's reactor. Here each source is polled with a waker of its
//! own, which sets the source's bit before waking the task; a poll then looks
//! only at the sources whose bit is set — O(1) per packet, whatever the
//! number of streams. No `unsafe`: the wakers are `Arc`s through
//! [`std::task::Wake`], each made the first time its source is polled. The task's `poll_wake` lives
//! here too: it polls the sources whose bit is set and reads the sockets.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::{batch, Leg, Task, Wake as Woke, MAX_STREAMS};

/// The command channel's bit.
pub(super) const CMD: u32 = 1;
/// The tone (or clip) ticker's bit.
pub(super) const TONE: u32 = 1 << 1;
/// The housekeeping interval's bit.
pub(super) const HOUSEKEEPING: u32 = 1 << 2;
const FIRST_SOCKET: u32 = 3;
const SOURCES: u32 = FIRST_SOCKET + (MAX_STREAMS as u32) * 4;
/// Every source: what a task polls first, and after a command (which may
/// have added sockets or started a tone).
pub(super) const ALL: u32 = (1 << SOURCES) - 1;
/// The bits of the sockets (all but the channel and the timers).
pub(super) const SOCKETS: u32 = ALL & !(CMD | TONE | HOUSEKEEPING);

/// The bit of one relay socket (the inverse of [`socket_of`]).
pub(super) fn socket_bit(idx: usize, leg: Leg, rtcp: bool) -> u32 {
    let n = idx * 4 + (leg as usize) * 2 + usize::from(rtcp);
    1 << (FIRST_SOCKET as usize + n)
}

/// The socket a single bit of [`SOCKETS`] stands for: (media line, leg, rtcp).
pub(super) fn socket_of(bit: u32) -> (usize, Leg, bool) {
    let n = bit.trailing_zeros().saturating_sub(FIRST_SOCKET) as usize;
    let leg = if n & 2 == 0 { Leg::Caller } else { Leg::Callee };
    (n / 4, leg, n & 1 == 1)
}

/// What a task's source wakers share: the bits they set and the task's
/// waker they wake (one per task, not a clone of each per source).
struct Shared {
    fired: AtomicU32,
    task: Waker,
}

/// One source's waker: records its bit, then wakes the task.
struct Source {
    shared: Arc<Shared>,
    bit: u32,
}

impl Wake for Source {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.shared.fired.fetch_or(self.bit, Ordering::Release);
        self.shared.task.wake_by_ref();
    }
}

/// The per-source wakers of one task and the bits they set.
pub(super) struct Wakes {
    /// Made at the first poll, around the task's waker (tokio's stays the
    /// same for a task's life).
    shared: Option<Arc<Shared>>,
    /// One per source, by bit number, made when the source is first polled
    /// (a one-stream call uses 6 of them).
    sources: [Option<Waker>; SOURCES as usize],
}

impl Wakes {
    pub(super) fn new() -> Wakes {
        Wakes {
            shared: None,
            sources: std::array::from_fn(|_| None),
        }
    }

    /// The sources that fired since the last call; all of them on the first
    /// call, or when the task's waker changed (the sources' wakers are then
    /// dropped, made anew around it when next polled, which registers them:
    /// every source stays due until it is polled `Pending` with its new
    /// waker, so nothing a stale waker reports is missed).
    pub(super) fn take(&mut self, cx: &Context<'_>) -> u32 {
        match &self.shared {
            Some(s) if s.task.will_wake(cx.waker()) => s.fired.swap(0, Ordering::Acquire),
            _ => {
                self.shared = Some(Arc::new(Shared {
                    fired: AtomicU32::new(0),
                    task: cx.waker().clone(),
                }));
                self.sources = std::array::from_fn(|_| None);
                ALL
            }
        }
    }

    /// The bits of the sources that have a waker.
    #[cfg(test)]
    fn made(&self) -> u32 {
        (0..SOURCES)
            .filter(|&b| self.sources[b as usize].is_some())
            .fold(0, |m, b| m | 1 << b)
    }

    /// A context whose waker sets the single bit `bit`. Call [`Wakes::take`]
    /// first in the same poll.
    pub(super) fn context(&mut self, bit: u32) -> Option<Context<'_>> {
        let shared = self.shared.as_ref()?;
        let slot = self.sources.get_mut(bit.trailing_zeros() as usize)?;
        let waker = slot.get_or_insert_with(|| {
            Waker::from(Arc::new(Source {
                shared: Arc::clone(shared),
                bit,
            }))
        });
        Some(Context::from_waker(waker))
    }
}

impl Task {
    /// The next thing to do. Only the sources in `due` are polled: those
    /// whose waker fired ([`Wakes`]) and those that were ready last time
    /// (a source leaves `due` when it returns `Pending`, which registers its
    /// waker again).
    pub(super) fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Woke> {
        self.due |= self.wakes.take(cx);
        if self.due & CMD != 0 {
            if let Some(mut c) = self.wakes.context(CMD) {
                match self.rx.poll_recv(&mut c) {
                    Poll::Ready(cmd) => return Poll::Ready(Woke::Cmd(cmd)),
                    Poll::Pending => self.due &= !CMD,
                }
            }
        }
        // Only the sockets the task holds: a source's waker is made the
        // first time it is polled, and a socket that does not exist needs none.
        self.due &= !SOCKETS | self.sockets;
        while self.due & SOCKETS != 0 {
            let bit = 1 << (self.due & SOCKETS).trailing_zeros();
            if let Some(w) = self.poll_socket(bit) {
                return Poll::Ready(w);
            }
        }
        // No tone playing: nothing to poll (a `Tone` command polls again).
        if self.due & TONE != 0 && !self.playout.is_playing() {
            self.due &= !TONE;
        }
        if self.due & TONE != 0 {
            if let Some(mut c) = self.wakes.context(TONE) {
                if self.playout.poll_tick(&mut c) {
                    return Poll::Ready(Woke::ToneTick);
                }
                // Pending, or no tone playing (a `Tone` command polls again).
                self.due &= !TONE;
            }
        }
        if self.due & HOUSEKEEPING != 0 {
            if let Some(mut c) = self.wakes.context(HOUSEKEEPING) {
                match self.housekeeping.as_mut().map(|h| h.poll_tick(&mut c)) {
                    Some(Poll::Ready(_)) => return Poll::Ready(Woke::Housekeeping),
                    _ => self.due &= !HOUSEKEEPING,
                }
            }
        }
        Poll::Pending
    }

    /// Reads the socket of `bit` (one of [`SOCKETS`], in `due`) if
    /// it is readable; `None` once it is `Pending` (its bit leaves `due`).
    fn poll_socket(&mut self, bit: u32) -> Option<Woke> {
        let (idx, leg, rtcp) = socket_of(bit);
        let Some(e) = self
            .streams
            .get(idx)
            .and_then(|s| s.ends[leg as usize].as_ref())
        else {
            self.due &= !bit;
            return None;
        };
        let Some(mut c) = self.wakes.context(bit) else {
            self.due &= !bit;
            return None;
        };
        let sock = if rtcp { &e.rtcp } else { &e.rtp };
        // Readiness is tokio's (no syscall); a read that drains the queue
        // clears it, so the next poll here is Pending and registers the
        // waker (see `batch`). Bounded, as readiness that no read clears
        // (an error edge) must not spin the thread.
        for _ in 0..4 {
            match sock.poll_recv_ready(&mut c) {
                Poll::Pending => {
                    self.due &= !bit;
                    return None;
                }
                // E.g. ICMP port unreachable: reported once; poll again.
                Poll::Ready(Err(_)) => return Some(Woke::Again),
                Poll::Ready(Ok(())) => {}
            }
            match batch::with(|b| b.try_recv(sock)) {
                // Readiness cleared: the next poll_recv_ready registers.
                Ok(0) => continue,
                Ok(n) => return Some(Woke::Packets { idx, leg, rtcp, n }),
                Err(_) => return Some(Woke::Again),
            }
        }
        self.due &= !bit;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cmd, Relay, RelayOptions};
    use super::*;
    use crate::media::tones::{tone, ToneKind};
    use crate::media::MediaMetrics;
    use crate::sip::sdp::Codec;
    use std::time::Duration;
    use tokio::time::Instant;

    /// A task as `run` starts it, with no sockets yet, and its channel.
    fn task() -> (Box<Task>, tokio::sync::mpsc::Sender<Cmd>) {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let opts = RelayOptions {
            latch_any: false,
            rtp_timeout: None,
            quality: Default::default(),
        };
        let Relay(mut task) = Relay::new(rx, Box::new(|_| {}), opts, MediaMetrics::default());
        let second = Duration::from_secs(1);
        task.housekeeping = Some(tokio::time::interval_at(Instant::now() + second, second));
        (task, tx)
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_makes_wakers_only_for_the_sources_it_has() {
        let (mut task, _tx) = task();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(task.poll_wake(&mut cx).is_pending());
        // No socket and no tone: the channel's and the housekeeping's only.
        assert_eq!(task.wakes.made(), CMD | HOUSEKEEPING);
        assert_eq!(task.due, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tone_command_marks_the_ticker_due_and_nothing_else() {
        let (mut task, tx) = task();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(task.poll_wake(&mut cx).is_pending());
        let cadence = tone(None, ToneKind::Ringback);
        let cmd = Cmd::Tone {
            cadence,
            pt: 0,
            codec: Codec::Pcmu,
        };
        assert!(tx.try_send(cmd).is_ok());
        // The noop waker records nothing: the channel's bit is set by hand,
        // as its waker would.
        task.due |= CMD;
        let Poll::Ready(Woke::Cmd(Some(cmd))) = task.poll_wake(&mut cx) else {
            panic!("the command is not read");
        };
        // What the command itself marks (`take` may mark every source when
        // it cannot tell the task's waker is the same: `Waker::will_wake`
        // is best effort, and the noop waker's clone may carry another copy
        // of its vtable).
        task.due = 0;
        assert!(task.handle(cmd));
        assert_eq!(task.due, TONE);
        // The ticker's first tick is due at once: a tone packet.
        assert!(matches!(
            task.poll_wake(&mut cx),
            Poll::Ready(Woke::ToneTick)
        ));
        let made = task.wakes.made();
        assert_eq!(made & TONE, TONE, "the ticker has its waker");
        assert_eq!(made & SOCKETS, 0, "no waker for sockets the task lacks");
    }

    #[test]
    fn socket_bits_are_distinct_and_map_back() {
        let mut seen = 0u32;
        for idx in 0..MAX_STREAMS {
            for leg in [Leg::Caller, Leg::Callee] {
                for rtcp in [false, true] {
                    let b = socket_bit(idx, leg, rtcp);
                    assert_eq!(b.count_ones(), 1);
                    assert_eq!(seen & b, 0);
                    assert_eq!(b & SOCKETS, b);
                    seen |= b;
                    assert_eq!(socket_of(b), (idx, leg, rtcp));
                }
            }
        }
        assert_eq!(seen, SOCKETS);
    }

    #[test]
    fn a_source_waker_sets_only_its_bit_and_wakes_the_task() {
        struct Count(AtomicU32);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let count = Arc::new(Count(AtomicU32::new(0)));
        let task = Waker::from(Arc::clone(&count));
        let cx = Context::from_waker(&task);
        let mut w = Wakes::new();
        assert_eq!(w.take(&cx), ALL);
        assert_eq!(w.take(&cx), 0);
        let bit = socket_bit(1, Leg::Callee, false);
        w.context(bit).unwrap().waker().wake_by_ref();
        // Woken by value, as tokio's reactor does with the waker it holds.
        let held: Waker = w.context(TONE).unwrap().waker().clone();
        held.wake();
        assert_eq!(count.0.load(Ordering::Relaxed), 2);
        assert_eq!(w.take(&cx), bit | TONE);
        assert_eq!(w.take(&cx), 0);
    }
}
