//! The per-call media task: it owns the call's relay sockets (a port pair per
//! leg per SDP media line) and every stream's state, and moves packets from
//! one leg to the other. The call task steers it with [`Cmd`]s and hears back
//! through a [`Notify`] callback; no locks, no shared per-stream state.
//!
//! Per packet: a wake-up that polls only the socket whose waker fired, not
//! the call's other sockets, channel and timers (each source has a waker of
//! its own, see [`wakes`]), its share of one `recvmmsg` (which also tells
//! us the socket's queue is empty, so no read ends in `EAGAIN`, see
//! [`super::batch`]), a source check (symmetric RTP latching), an optional
//! in-place header rewrite, a non-blocking `sendto`, and for recorded calls
//! a copy into the recorder's preallocated queue. Nothing allocates; the receive buffers
//! belong to the media thread, not the call. When the call ends its sockets
//! go back to the port pool still bound ([`super::ports`]).
//! Packets that cannot be sent at once (full socket buffer) are dropped and
//! counted rather than queued: late audio is worse than lost audio.

mod cmd;
mod counts;
mod endpoint;
mod playout;
mod tap;
mod wakes;
mod watch;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};

pub use cmd::{Cmd, FinishQuality, MediaEvent, Notify, RelayOptions};
use counts::Counts;
use endpoint::{Endpoint, Stream};
use playout::Playout;
use tap::Tap;
use wakes::Wakes;
use watch::Watch;

use super::batch;
/// The legs and their remotes live in the leaf `leg.rs`; named here too for
/// the call layer's imports.
pub use super::leg::{Leg, Remote};
use super::ports::PortPair;
use super::quality::{LiveQuality, Quality};
use super::rtp::dtmf_end;
pub use super::rtp::PtMap;
use super::runtime;
use super::srtp::{self, LegKeys};
use super::MediaMetrics;

/// What woke the task (`wakes`' `poll_wake`), handled in turn by `run`.
enum Wake {
    Cmd(Option<Cmd>),
    /// `n` datagrams are waiting in this thread's [`batch`] buffers.
    Packets {
        idx: usize,
        leg: Leg,
        rtcp: bool,
        n: usize,
    },
    /// A socket reported an error (e.g. ICMP port unreachable); poll again.
    Again,
    ToneTick,
    Housekeeping,
}

/// A call's media task before it runs: its state, boxed once here so that
/// starting it (into the media thread's inbox, then into tokio's task
/// cell) moves a pointer, not the whole state; the session holding it
/// unstarted stays small too.
pub struct Relay(Box<Task>);

/// The media task's state (see [`Relay`]).
struct Task {
    rx: mpsc::Receiver<Cmd>,
    notify: Notify,
    opts: RelayOptions,
    metrics: MediaMetrics,
    streams: Vec<Stream>,
    /// The tone or clip played to the caller.
    playout: Playout,
    tap: Tap,
    /// RTP timestamp of the last telephone-event reported (its end packets repeat, RFC 4733 §2.5.1.4).
    last_dtmf: Option<u32>,
    watch: Watch,
    /// Made in `run`, on the runtime the task runs on.
    housekeeping: Option<Interval>,
    counts: Counts,
    /// Loss, jitter, MOS and one-way audio of the call (`media::quality`).
    quality: Quality,
    /// Per-source wakers, and the sources to poll (bits of [`wakes`]).
    wakes: Wakes,
    due: u32,
    /// The bits of the sockets the task holds (of [`wakes::SOCKETS`]).
    sockets: u32,
}

/// How often a task flushes its counts, checks the RTP timeout and
/// publishes its quality figures.
const HOUSEKEEPING: Duration = Duration::from_secs(1);

/// Media lines per call we relay (bounds the sockets one SDP can make us open).
pub const MAX_STREAMS: usize = 4;

impl Relay {
    pub fn new(
        rx: mpsc::Receiver<Cmd>,
        notify: Notify,
        opts: RelayOptions,
        metrics: MediaMetrics,
    ) -> Relay {
        let now = Instant::now();
        Relay(Box::new(Task {
            rx,
            notify,
            opts,
            metrics,
            streams: Vec::new(),
            playout: Playout::new(),
            tap: Tap::default(),
            last_dtmf: None,
            watch: Watch::new(now),
            housekeeping: None,
            counts: Counts::default(),
            quality: Quality::new_at(opts.quality, now),
            wakes: Wakes::new(),
            due: wakes::ALL,
            sockets: 0,
        }))
    }

    /// Where the task publishes the call's running quality figures.
    pub fn live_quality(&self) -> LiveQuality {
        self.0.quality.live()
    }

    /// Handles `first` (the commands it was started with), then runs until
    /// the call task drops its sender or sends [`Cmd::Finish`]; then the
    /// sockets go back to the port pool and the recording is finalised.
    pub fn run(self, first: Vec<Cmd>) -> impl std::future::Future<Output = ()> + Send {
        self.0.run(first)
    }
}

impl Task {
    /// [`Relay::run`]: the future holds the box, not the state.
    async fn run(mut self: Box<Self>, first: Vec<Cmd>) {
        self.metrics.sessions_active.inc();
        // On the media threads' grid: one timer wake-up serves every call
        // whose second is up in the same few milliseconds. The first a
        // second from now: at the start there is nothing to count, time out
        // or publish (the live figures appear at the first second's refresh).
        let now = Instant::now();
        let mut hk = tokio::time::interval_at(runtime::on_grid(now + HOUSEKEEPING), HOUSEKEEPING);
        hk.set_missed_tick_behavior(MissedTickBehavior::Skip);
        self.housekeeping = Some(hk);
        self.watch.start(now);
        let mut open = first.into_iter().all(|cmd| self.handle(cmd));
        while open {
            let wake = std::future::poll_fn(|cx| self.poll_wake(cx)).await;
            match wake {
                Wake::Cmd(None) => open = false,
                // A command that adds sockets or starts a tone marks them
                // due (`on_cmd`); the channel stays due until it is Pending.
                Wake::Cmd(Some(cmd)) => open = self.handle(cmd),
                // Same thread and same poll as the read that filled the buffers.
                // One clock read for the batch: its datagrams were queued
                // together and are read in the same microsecond.
                Wake::Packets { idx, leg, rtcp, n } => batch::with(|b| {
                    let now = Instant::now();
                    for i in 0..n {
                        if let Some((pkt, src)) = b.packet(i) {
                            self.on_packet(idx, leg, rtcp, pkt, src, now);
                        }
                    }
                }),
                Wake::Again => {}
                Wake::ToneTick => self.send_tone(),
                Wake::Housekeeping => self.housekeeping(),
            }
        }
        self.flush_counts();
        for s in &mut self.streams {
            for end in &mut s.ends {
                Endpoint::close(end);
            }
        }
        self.metrics.sessions_active.dec();
    }

    /// One command; `false` once the task is to stop ([`Cmd::Finish`]).
    fn handle(&mut self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Finish(done) => {
                done(self.quality.report(Instant::now()));
                false
            }
            Cmd::Batch(cmds) => cmds.into_iter().all(|c| self.handle(c)),
            cmd => {
                self.on_cmd(cmd);
                true
            }
        }
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Stream { idx, leg, pair } => {
                if idx >= MAX_STREAMS {
                    return;
                }
                let PortPair { socks, lease } = *pair;
                let home = lease.thread();
                let Ok((rtp, rtcp)) = socks.into_tokio(runtime::current(), home) else {
                    return;
                };
                if self.streams.len() <= idx {
                    self.streams.resize_with(idx + 1, Stream::default);
                }
                // Polled next (which registers their wakers).
                let bits = wakes::socket_bit(idx, leg, false) | wakes::socket_bit(idx, leg, true);
                self.sockets |= bits;
                self.due |= bits;
                // In place: an endpoint is ~1 KB (its SRTP state), not moved.
                match &mut self.streams[idx].ends[leg as usize] {
                    Some(e) => e.new_sockets(rtp, rtcp, lease),
                    slot @ None => *slot = Some(Endpoint::new(rtp, rtcp, lease)),
                }
            }
            Cmd::Remote { idx, leg, remote } => {
                let remote = remote.map(|r| *r);
                if leg == Leg::Callee && remote.is_some() {
                    self.quality.bridged();
                }
                if let Some(e) = self
                    .streams
                    .get_mut(idx)
                    .and_then(|s| s.ends[leg as usize].as_mut())
                {
                    let moved = match (e.remote, remote) {
                        (Some(a), Some(b)) => a.rtp != b.rtp || a.rtcp != b.rtcp,
                        _ => true,
                    };
                    e.remote = remote;
                    if moved {
                        e.latched = [None, None];
                    }
                }
            }
            Cmd::Tone { cadence, pt, codec } => {
                self.playout.tone(cadence, pt, codec);
                self.due |= wakes::TONE;
            }
            Cmd::Play {
                audio,
                loops,
                id,
                pt,
                codec,
            } => {
                self.stop_clip(true);
                self.playout.clip(audio, loops, id, pt, codec);
                self.due |= wakes::TONE;
            }
            Cmd::StopPlay => {
                self.stop_clip(true);
            }
            Cmd::RecordStop => self.tap.stop(),
            Cmd::RecordPause(p) => self.tap.pause(p),
            Cmd::StopTone => {
                let (out, clip) = self.playout.stop();
                if let Some(out) = out {
                    if let Some(e) = self
                        .streams
                        .get_mut(0)
                        .and_then(|s| s.ends[Leg::Caller as usize].as_mut())
                    {
                        e.out = Some(out);
                    }
                }
                if let Some(id) = clip {
                    (self.notify)(MediaEvent::PlaybackFinished {
                        id,
                        interrupted: true,
                    });
                }
            }
            Cmd::Srtp { idx, leg, keys } => {
                while self.streams.len() <= idx && idx < MAX_STREAMS {
                    self.streams.push(Stream::default());
                }
                if let Some(e) = self
                    .streams
                    .get_mut(idx)
                    .and_then(|s| s.ends[leg as usize].as_mut())
                {
                    srtp::apply(&mut e.srtp, keys.map(|k| *k));
                }
            }
            Cmd::Answered => {
                let now = Instant::now();
                self.watch.answered(now);
                self.quality.answered(now);
            }
            Cmd::Hold(on) => {
                let now = Instant::now();
                self.watch.hold(on, now);
                self.quality.hold(on, now);
            }
            Cmd::Record { handle, first } => self.tap.start(*handle, first),
            // Handled in `handle`.
            Cmd::Finish(_) | Cmd::Batch(_) => {}
        }
    }

    fn on_packet(
        &mut self,
        idx: usize,
        leg: Leg,
        rtcp: bool,
        pkt: &mut [u8],
        src: SocketAddr,
        now: Instant,
    ) {
        let latch_any = self.opts.latch_any;
        let tone_on = self.playout.is_playing();
        let Some(stream) = self.streams.get_mut(idx) else {
            return;
        };
        let [caller, callee] = &mut stream.ends;
        let (inp, outp) = match leg {
            Leg::Caller => (caller, callee),
            Leg::Callee => (callee, caller),
        };
        let Some(inp) = inp.as_mut() else { return };
        // Symmetric RTP (RFC 4961): the leg's real address is where its packets come from.
        let k = usize::from(rtcp);
        if inp.latched[k] != Some(src) {
            let allowed = match &inp.remote {
                Some(r) => latch_any || r.rtp.ip() == src.ip(),
                None => latch_any,
            };
            if !allowed {
                self.counts.dropped_source += 1;
                self.quality.latch_failed(leg);
                return;
            }
        }
        // RFC 5761 §4: RTCP multiplexed on the RTP port has packet type 192..=223.
        let rtcp = rtcp || (inp.srtp.is_some() && pkt.len() > 1 && (192..=223).contains(&pkt[1]));
        // SRTP leg: everything below sees the clear packet; a packet that fails
        // authentication or the replay check is dropped and does not latch.
        let pkt = match inp.srtp.as_mut() {
            Some(c) => match c.unprotect(pkt, rtcp) {
                Some(n) => &mut pkt[..n],
                None => {
                    self.counts.dropped_srtp += 1;
                    return;
                }
            },
            None => pkt,
        };
        inp.latched[k] = Some(src);
        if rtcp {
            self.quality.rtcp(idx, leg, pkt);
            if let Some(o) = outp.as_mut() {
                if let Some(dst) = o.latched[1].or(o.remote.map(|r| r.rtcp)) {
                    if !o.send(pkt, true, dst) {
                        self.counts.dropped_send += 1;
                    }
                }
            }
            return;
        }
        self.watch.rx(leg, now);
        if inp.remote.is_some_and(|r| r.raw) {
            if let Some(o) = outp.as_mut() {
                if let Some(dst) = o.latched[0].or(o.remote.map(|r| r.rtp)) {
                    if o.send(pkt, false, dst) {
                        self.counts.relayed += 1;
                    } else {
                        self.counts.dropped_send += 1;
                    }
                }
            }
            return;
        }
        if pkt.len() < 12 || pkt[0] >> 6 != 2 {
            self.counts.dropped_source += 1;
            return;
        }
        if let Some(ow) = self.quality.rtp(idx, leg, pkt, inp.remote.as_ref(), now) {
            (self.notify)(MediaEvent::OneWay(ow));
        }
        // While the caller hears our tone, the callee's early media goes nowhere.
        if leg == Leg::Callee && idx == 0 && tone_on {
            return;
        }
        let pt = pkt[1] & 0x7f;
        if leg == Leg::Caller && inp.remote.and_then(|r| r.telephone_event) == Some(pt) {
            if let Some((digit, duration_ms, ts)) = dtmf_end(pkt) {
                if self.last_dtmf != Some(ts) {
                    self.last_dtmf = Some(ts);
                    (self.notify)(MediaEvent::Dtmf { digit, duration_ms });
                }
            }
        }
        if self.tap.is_on() {
            let codec = inp.remote.and_then(|r| r.pts.get(pt)).or_else(|| {
                outp.as_ref()
                    .and_then(|o| o.remote)
                    .and_then(|r| r.pts.get(pt))
            });
            if let Some(codec) = codec {
                self.tap.rtp(leg, codec, pkt, now);
            }
        }
        let Some(o) = outp.as_mut() else {
            self.counts.dropped_no_target += 1;
            return;
        };
        let Some(dst) = o.latched[0].or(o.remote.map(|r| r.rtp)) else {
            self.counts.dropped_no_target += 1;
            return;
        };
        if dst.ip().is_unspecified() {
            self.counts.dropped_no_target += 1;
            return;
        }
        if let Some(c) = o.out.as_mut() {
            c.apply(pkt, now);
        }
        if o.send(pkt, false, dst) {
            self.counts.relayed += 1;
        } else {
            self.counts.dropped_send += 1;
        }
    }

    /// Ends a playing clip, reporting it (`interrupted`: stopped before its end).
    fn stop_clip(&mut self, interrupted: bool) {
        if let Some(id) = self.playout.stop_clip() {
            (self.notify)(MediaEvent::PlaybackFinished { id, interrupted });
        }
    }

    /// One 20 ms tone packet to the caller (RFC 3551: 160 G.711 samples).
    fn send_tone(&mut self) {
        let now = Instant::now();
        let Some(g) = self.playout.next(now) else {
            return;
        };
        if let Some(id) = g.finished {
            (self.notify)(MediaEvent::PlaybackFinished {
                id,
                interrupted: false,
            });
        }
        self.tap.generated(now, g.ts, g.ssrc, g.codec, g.frame());
        let Some(e) = self
            .streams
            .get_mut(0)
            .and_then(|s| s.ends[Leg::Caller as usize].as_mut())
        else {
            return;
        };
        let Some(dst) = e.latched[0].or(e.remote.map(|r| r.rtp)) else {
            return;
        };
        if dst.ip().is_unspecified() {
            return;
        }
        self.quality.generated(now);
        if e.send(&g.pkt, false, dst) {
            self.counts.generated += 1;
        } else {
            self.counts.dropped_send += 1;
        }
    }

    fn housekeeping(&mut self) {
        self.flush_counts();
        self.quality.tick(Instant::now());
        let Some(limit) = self.opts.rtp_timeout else {
            return;
        };
        if self.watch.timed_out(limit) {
            self.metrics.rtp_timeouts.inc();
            (self.notify)(MediaEvent::RtpTimeout);
        }
    }

    fn flush_counts(&mut self) {
        self.counts.flush(&self.metrics);
    }
}
