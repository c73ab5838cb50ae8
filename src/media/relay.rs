//! The per-call media task: it owns the call's relay sockets (a port pair per
//! leg per SDP media line) and every stream's state, and moves packets from
//! one leg to the other. The call task steers it with [`Cmd`]s and hears back
//! through a [`Notify`] callback; no locks, no shared per-stream state.
//!
//! Per packet: its share of one `recvmmsg` (which also tells us the socket's
//! queue is empty, so no read ends in `EAGAIN`, see [`super::batch`]), a
//! source check (symmetric RTP latching), an optional in-place header
//! rewrite, a non-blocking `sendto`, and for recorded calls a copy into the
//! recorder's preallocated queue. Nothing allocates; the receive buffers
//! belong to the media thread, not the call. When the call ends its sockets
//! go back to the port pool still bound ([`super::ports`]).
//! Packets that cannot be sent at once (full socket buffer) are dropped and
//! counted rather than queued: late audio is worse than lost audio.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::batch;
/// The legs and their remotes live in the leaf `leg.rs`; named here too for
/// the call layer's imports.
pub use super::leg::{Leg, Remote};
use super::ports::{PortLease, PortPair};
use super::quality::{LiveQuality, OneWay, Quality, QualityOptions, QualityReport};
use super::record::{Channel, RecordingHandle};
pub use super::rtp::PtMap;
use super::rtp::{dtmf_end, rtp_payload, Continuity};
use super::srtp::{self, EndCrypto, LegKeys};
use super::tones::{Cadence, ToneGen};
use super::MediaMetrics;
use crate::sip::sdp::Codec;

/// What the call task tells the media task.
pub enum Cmd {
    /// Sockets for `leg`'s side of media line `idx`.
    Stream {
        idx: usize,
        leg: Leg,
        pair: PortPair,
    },
    /// `leg`'s SDP for line `idx` (new or changed): re-target and re-latch.
    /// `None`: the line is disabled or on hold toward that leg.
    Remote {
        idx: usize,
        leg: Leg,
        remote: Option<Remote>,
    },
    /// Play a generated tone to the caller on line 0 instead of the callee's media.
    Tone {
        cadence: &'static Cadence,
        pt: u8,
        codec: Codec,
    },
    /// The callee's media replaces the tone, continuing its SSRC, sequence and timestamps.
    StopTone,
    /// Play prepared G.711 audio to the caller `loops` times (0 counts as 1),
    /// then report `PlaybackFinished { id }`. Replaces what was playing.
    Play {
        audio: Arc<[u8]>,
        loops: u32,
        id: u64,
        pt: u8,
        codec: Codec,
    },
    /// Stop the clip playing (reported as interrupted).
    StopPlay,
    /// Close the recording (the writer finalises the file).
    RecordStop,
    /// Pause (true) or resume the recording taps.
    RecordPause(bool),
    /// `leg`'s SRTP keys on line `idx` (`None`: plain RTP). Unchanged keys
    /// keep their contexts; see [`srtp::apply`].
    Srtp {
        idx: usize,
        leg: Leg,
        keys: Option<LegKeys>,
    },
    /// The call is answered: watch for dead media from now on.
    Answered,
    /// Pause the dead-media watch (both sides `inactive`) or resume it.
    Hold(bool),
    /// Tap every packet the caller sends and hears into this recording;
    /// `first` gets the instant of the first recorded packet.
    Record {
        handle: RecordingHandle,
        first: Arc<OnceLock<Instant>>,
    },
    /// The call is over: hand the final quality figures to this callback,
    /// then stop (sockets closed, ports freed).
    Finish(FinishQuality),
}

/// Receives a call's final quality figures (`None`: tracking is off).
pub type FinishQuality = Box<dyn FnOnce(Option<QualityReport>) + Send>;

/// What the media task reports to the call task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaEvent {
    /// No RTP from either leg for the configured time on an answered call.
    RtpTimeout,
    /// The caller pressed a key (RFC 4733 telephone-event, reported once at its end).
    Dtmf { digit: char, duration_ms: u32 },
    /// A clip given with [`Cmd::Play`] ended or was stopped.
    PlaybackFinished { id: u64, interrupted: bool },
    /// RTP has flowed one way only since the answer for `media.one_way_after_s`
    /// (reported once per call).
    OneWay(OneWay),
}

/// How the media task reports to its call (non-blocking).
pub type Notify = Box<dyn Fn(MediaEvent) + Send + Sync>;

/// Fixed settings of one media task.
#[derive(Clone, Copy)]
pub struct RelayOptions {
    /// Accept (latch) a leg's media from any address, not only its signaled IP.
    pub latch_any: bool,
    pub rtp_timeout: Option<Duration>,
    pub quality: QualityOptions,
}

struct Endpoint {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    lease: PortLease,
    remote: Option<Remote>,
    latched: [Option<SocketAddr>; 2],
    /// Rewriting of what is sent out of this endpoint (after a tone).
    out: Option<Continuity>,
    /// SRTP toward this leg (decrypt what it sends, encrypt what it gets).
    srtp: Option<EndCrypto>,
}

impl Endpoint {
    /// Closes this end: its sockets leave the reactor and go back to the
    /// port pool still bound (see `ports`). Returns its SRTP state.
    fn recycle(self) -> Option<EndCrypto> {
        let Endpoint {
            rtp,
            rtcp,
            lease,
            srtp,
            ..
        } = self;
        if let (Ok(rtp), Ok(rtcp)) = (rtp.into_std(), rtcp.into_std()) {
            lease.recycle(rtp, rtcp);
        }
        srtp
    }

    /// Sends a clear packet to this leg, encrypting it first on an SRTP leg.
    fn send(&mut self, pkt: &[u8], rtcp: bool, dst: SocketAddr) -> bool {
        let sock = if rtcp { &self.rtcp } else { &self.rtp };
        match self.srtp.as_mut() {
            Some(c) => match c.protect(pkt, rtcp) {
                Some(enc) => sock.try_send_to(&enc, dst).is_ok(),
                None => false,
            },
            None => sock.try_send_to(pkt, dst).is_ok(),
        }
    }
}

#[derive(Default)]
struct Stream {
    ends: [Option<Endpoint>; 2],
}

/// What the gateway plays to the caller.
enum Source {
    /// A tone cadence, until stopped.
    Gen(ToneGen),
    /// Prepared G.711 audio (a prompt, rendered tones, DTMF), `loops_left` more
    /// times after this pass; `id` is reported in `PlaybackFinished`.
    Clip {
        audio: Arc<[u8]>,
        pos: usize,
        loops_left: u32,
        id: u64,
    },
}

struct Tone {
    src: Source,
    pt: u8,
    codec: Codec,
    ssrc: u32,
    seq: u16,
    ts: u32,
    first: bool,
    tick: Interval,
    last_at: Instant,
}

/// Packet counts kept locally and added to the shared counters once a second.
#[derive(Default)]
struct Counts {
    relayed: u64,
    dropped_source: u64,
    dropped_no_target: u64,
    dropped_send: u64,
    /// SRTP/SRTCP authentication or replay check failed.
    dropped_srtp: u64,
    generated: u64,
}

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

pub struct Relay {
    rx: mpsc::Receiver<Cmd>,
    notify: Notify,
    opts: RelayOptions,
    metrics: MediaMetrics,
    streams: Vec<Stream>,
    tone: Option<Tone>,
    rec: Option<(RecordingHandle, Arc<OnceLock<Instant>>)>,
    answered: bool,
    hold: bool,
    timed_out: bool,
    rec_paused: bool,
    /// SSRC, next sequence number and timestamp of the stream the gateway generates.
    generated: (u32, u16, u32),
    /// RTP timestamp of the last telephone-event reported (its end packets repeat, RFC 4733 §2.5.1.4).
    last_dtmf: Option<u32>,
    last_rx: Instant,
    /// Per leg: the last RTP since the answer (or the last hold change), `None`
    /// while that leg has sent none. A leg whose stream flowed and then stopped
    /// for the RTP timeout is a dead path (a black-holed peer) even while the
    /// other leg still sends.
    last_rx_leg: [Option<Instant>; 2],
    /// Made in `run`, on the runtime the task runs on.
    housekeeping: Option<Interval>,
    counts: Counts,
    /// Loss, jitter, MOS and one-way audio of the call (`media::quality`).
    quality: Quality,
}

/// Media lines per call we relay (bounds the sockets one SDP can make us open).
pub const MAX_STREAMS: usize = 4;

impl Relay {
    pub fn new(
        rx: mpsc::Receiver<Cmd>,
        notify: Notify,
        opts: RelayOptions,
        metrics: MediaMetrics,
    ) -> Relay {
        Relay {
            rx,
            notify,
            opts,
            metrics,
            streams: Vec::new(),
            tone: None,
            rec: None,
            answered: false,
            hold: false,
            timed_out: false,
            last_dtmf: None,
            generated: (rand::random(), rand::random(), rand::random()),
            rec_paused: false,
            last_rx: Instant::now(),
            last_rx_leg: [None; 2],
            housekeeping: None,
            counts: Counts::default(),
            quality: Quality::new(opts.quality),
        }
    }

    /// Where the task publishes the call's running quality figures.
    pub fn live_quality(&self) -> LiveQuality {
        self.quality.live()
    }

    /// Runs until the call task drops its sender; then the sockets close and
    /// their ports go back to the pool, and the recording is finalised.
    pub async fn run(mut self) {
        self.metrics.sessions_active.inc();
        let mut hk = tokio::time::interval(Duration::from_secs(1));
        hk.set_missed_tick_behavior(MissedTickBehavior::Skip);
        self.housekeeping = Some(hk);
        self.last_rx = Instant::now();
        loop {
            let wake = std::future::poll_fn(|cx| self.poll_wake(cx)).await;
            match wake {
                Wake::Cmd(None) => break,
                Wake::Cmd(Some(Cmd::Finish(done))) => {
                    done(self.quality.report(Instant::now()));
                    break;
                }
                Wake::Cmd(Some(cmd)) => self.on_cmd(cmd),
                // Same thread and same poll as the read that filled the buffers.
                Wake::Packets { idx, leg, rtcp, n } => batch::with(|b| {
                    for i in 0..n {
                        if let Some((pkt, src)) = b.packet(i) {
                            self.on_packet(idx, leg, rtcp, pkt, src);
                        }
                    }
                }),
                Wake::Again => {}
                Wake::ToneTick => self.send_tone(),
                Wake::Housekeeping => self.housekeeping(),
            }
        }
        self.flush_counts();
        for s in self.streams.drain(..) {
            for e in s.ends.into_iter().flatten() {
                e.recycle();
            }
        }
        self.metrics.sessions_active.dec();
    }

    fn poll_wake(&mut self, cx: &mut Context<'_>) -> Poll<Wake> {
        if let Poll::Ready(c) = self.rx.poll_recv(cx) {
            return Poll::Ready(Wake::Cmd(c));
        }
        for (idx, s) in self.streams.iter().enumerate() {
            for (li, end) in s.ends.iter().enumerate() {
                let Some(e) = end else { continue };
                let leg = if li == 0 { Leg::Caller } else { Leg::Callee };
                for (rtcp, sock) in [(false, &e.rtp), (true, &e.rtcp)] {
                    // Readiness is tokio's (no syscall); a read that drains
                    // the queue clears it, so the next poll here is Pending
                    // and registers the waker (see `batch`).
                    for _ in 0..4 {
                        match sock.poll_recv_ready(cx) {
                            Poll::Pending => break,
                            Poll::Ready(Err(_)) => return Poll::Ready(Wake::Again),
                            Poll::Ready(Ok(())) => {}
                        }
                        match batch::with(|b| b.try_recv(sock)) {
                            Ok(0) => continue,
                            Ok(n) => {
                                return Poll::Ready(Wake::Packets { idx, leg, rtcp, n });
                            }
                            // E.g. ICMP port unreachable: reported once; poll again.
                            Err(_) => return Poll::Ready(Wake::Again),
                        }
                    }
                }
            }
        }
        if let Some(t) = self.tone.as_mut() {
            if t.tick.poll_tick(cx).is_ready() {
                return Poll::Ready(Wake::ToneTick);
            }
        }
        if self
            .housekeeping
            .as_mut()
            .is_some_and(|h| h.poll_tick(cx).is_ready())
        {
            return Poll::Ready(Wake::Housekeeping);
        }
        Poll::Pending
    }

    fn on_cmd(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Stream { idx, leg, pair } => {
                if idx >= MAX_STREAMS {
                    return;
                }
                let (Ok(rtp), Ok(rtcp)) = (
                    UdpSocket::from_std(pair.rtp),
                    UdpSocket::from_std(pair.rtcp),
                ) else {
                    return;
                };
                while self.streams.len() <= idx {
                    self.streams.push(Stream::default());
                }
                let old = self.streams[idx].ends[leg as usize].take();
                let old_remote = old.as_ref().and_then(|e| e.remote);
                let old_srtp = old.and_then(Endpoint::recycle);
                self.streams[idx].ends[leg as usize] = Some(Endpoint {
                    rtp,
                    rtcp,
                    lease: pair.lease,
                    remote: old_remote,
                    latched: [None, None],
                    out: None,
                    srtp: old_srtp,
                });
            }
            Cmd::Remote { idx, leg, remote } => {
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
                self.start_source(Source::Gen(ToneGen::new(cadence, codec)), pt, codec);
            }
            Cmd::Play {
                audio,
                loops,
                id,
                pt,
                codec,
            } => {
                self.stop_clip(true);
                let src = Source::Clip {
                    audio,
                    pos: 0,
                    loops_left: loops.saturating_sub(1),
                    id,
                };
                self.start_source(src, pt, codec);
            }
            Cmd::StopPlay => {
                self.stop_clip(true);
            }
            Cmd::RecordStop => self.rec = None,
            Cmd::RecordPause(p) => self.rec_paused = p,
            Cmd::StopTone => {
                let clip = match &self.tone {
                    Some(Tone {
                        src: Source::Clip { id, .. },
                        ..
                    }) => Some(*id),
                    _ => None,
                };
                if let Some(t) = self.tone.take() {
                    self.generated = (t.ssrc, t.seq, t.ts);
                    if let Some(e) = self
                        .streams
                        .get_mut(0)
                        .and_then(|s| s.ends[Leg::Caller as usize].as_mut())
                    {
                        e.out = Some(Continuity {
                            ssrc: t.ssrc,
                            last_seq: t.seq.wrapping_sub(1),
                            last_ts: t.ts.wrapping_sub(160),
                            last_at: t.last_at,
                            mapping: None,
                        });
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
                    srtp::apply(&mut e.srtp, keys);
                }
            }
            Cmd::Answered => {
                self.answered = true;
                self.last_rx = Instant::now();
                self.last_rx_leg = [None; 2];
                self.quality.answered(self.last_rx);
            }
            Cmd::Hold(on) => {
                self.hold = on;
                self.last_rx = Instant::now();
                self.last_rx_leg = [None; 2];
                self.quality.hold(on, self.last_rx);
            }
            Cmd::Record { handle, first } => self.rec = Some((handle, first)),
            // Handled in `run` (it ends the task).
            Cmd::Finish(_) => {}
        }
    }

    fn on_packet(&mut self, idx: usize, leg: Leg, rtcp: bool, pkt: &mut [u8], src: SocketAddr) {
        let now = Instant::now();
        let latch_any = self.opts.latch_any;
        let tone_on = self.tone.is_some();
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
        self.last_rx = now;
        if self.answered {
            self.last_rx_leg[leg as usize] = Some(now);
        }
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
        if let Some((rec, first)) = self.rec.as_ref().filter(|_| !self.rec_paused) {
            let codec = inp.remote.and_then(|r| r.pts.get(pt)).or_else(|| {
                outp.as_ref()
                    .and_then(|o| o.remote)
                    .and_then(|r| r.pts.get(pt))
            });
            if let Some(codec) = codec {
                let chan = match leg {
                    Leg::Caller => Channel::Caller,
                    Leg::Callee => Channel::Callee,
                };
                let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
                let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
                if let Some(payload) = rtp_payload(pkt) {
                    let _ = first.get_or_init(|| now);
                    rec.frame(chan, now, ts, ssrc, codec, payload);
                }
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

    /// Starts playing `src` to the caller. Every source the gateway plays in a
    /// call continues one RTP stream (same SSRC, sequence and timestamps
    /// following on), so the caller's jitter buffer sees no jumps.
    fn start_source(&mut self, src: Source, pt: u8, codec: Codec) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let (ssrc, seq, ts) = self.generated;
        self.tone = Some(Tone {
            src,
            pt,
            codec,
            ssrc,
            seq,
            ts,
            first: true,
            tick,
            last_at: Instant::now(),
        });
    }

    /// Ends a playing clip, reporting it (`interrupted`: stopped before its end).
    fn stop_clip(&mut self, interrupted: bool) {
        if let Some(Tone {
            src: Source::Clip { id, .. },
            ..
        }) = &self.tone
        {
            let id = *id;
            if let Some(t) = self.tone.take() {
                self.generated = (t.ssrc, t.seq, t.ts);
            }
            (self.notify)(MediaEvent::PlaybackFinished { id, interrupted });
        }
    }

    /// One 20 ms tone packet to the caller (RFC 3551: 160 G.711 samples).
    fn send_tone(&mut self) {
        let now = Instant::now();
        let Some(t) = self.tone.as_mut() else { return };
        let mut pkt = [0u8; 12 + 160];
        pkt[0] = 0x80;
        pkt[1] = t.pt | if t.first { 0x80 } else { 0 };
        pkt[2..4].copy_from_slice(&t.seq.to_be_bytes());
        pkt[4..8].copy_from_slice(&t.ts.to_be_bytes());
        pkt[8..12].copy_from_slice(&t.ssrc.to_be_bytes());
        let mut frame = [0u8; 160];
        let mut ended = false;
        match &mut t.src {
            Source::Gen(g) => g.next_frame(&mut frame),
            Source::Clip {
                audio,
                pos,
                loops_left,
                ..
            } => {
                // Silence pads the last frame (G.711 codes of 0).
                frame.fill(match t.codec {
                    Codec::Pcmu => 0xff,
                    Codec::Pcma => 0xd5,
                });
                let n = audio.len().saturating_sub(*pos).min(160);
                frame[..n].copy_from_slice(&audio[*pos..*pos + n]);
                *pos += n;
                if *pos >= audio.len() {
                    if *loops_left > 0 {
                        *loops_left -= 1;
                        *pos = 0;
                    } else {
                        ended = true;
                    }
                }
            }
        }
        pkt[12..].copy_from_slice(&frame);
        let (seq, ts, ssrc, codec) = (t.seq, t.ts, t.ssrc, t.codec);
        t.first = false;
        t.seq = seq.wrapping_add(1);
        t.ts = ts.wrapping_add(160);
        t.last_at = now;
        if ended {
            self.stop_clip(false);
        }
        if let Some((rec, first)) = self.rec.as_ref().filter(|_| !self.rec_paused) {
            let _ = first.get_or_init(|| now);
            rec.frame(Channel::Callee, now, ts, ssrc, codec, &frame);
        }
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
        if e.send(&pkt, false, dst) {
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
        let leg_stopped = self
            .last_rx_leg
            .iter()
            .any(|t| t.is_some_and(|t| t.elapsed() >= limit));
        if self.answered
            && !self.hold
            && !self.timed_out
            && (self.last_rx.elapsed() >= limit || leg_stopped)
        {
            self.timed_out = true;
            self.metrics.rtp_timeouts.inc();
            (self.notify)(MediaEvent::RtpTimeout);
        }
    }

    fn flush_counts(&mut self) {
        let c = std::mem::take(&mut self.counts);
        let m = &self.metrics;
        if c.relayed > 0 {
            m.packets_relayed.inc_by(c.relayed);
        }
        if c.generated > 0 {
            m.packets_generated.inc_by(c.generated);
        }
        for (n, reason) in [
            (c.dropped_source, 0),
            (c.dropped_no_target, 1),
            (c.dropped_send, 2),
            (c.dropped_srtp, 3),
        ] {
            if n > 0 {
                m.packets_dropped[reason].inc_by(n);
            }
        }
    }
}
