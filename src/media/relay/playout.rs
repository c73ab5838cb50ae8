//! What the gateway plays to the caller on line 0 (a tone cadence or a
//! prepared G.711 clip) and the one RTP stream it is sent in: every source
//! continues the same SSRC, sequence and timestamps, so the caller's jitter
//! buffer sees no jumps.

use std::sync::Arc;
use std::task::Context;
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::media::rtp::Continuity;
use crate::media::tones::{Cadence, ToneGen};
use crate::sip::sdp::Codec;

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

/// One generated 20 ms RTP packet (RFC 3551: 160 G.711 samples after the
/// 12-octet header) and what the recording needs of it.
pub(super) struct Generated {
    pub(super) pkt: [u8; 12 + 160],
    pub(super) ts: u32,
    pub(super) ssrc: u32,
    pub(super) codec: Codec,
    /// The clip that this packet ended (reported as not interrupted).
    pub(super) finished: Option<u64>,
}

impl Generated {
    pub(super) fn frame(&self) -> &[u8] {
        &self.pkt[12..]
    }
}

/// The playout and the generated stream's position between sources.
pub(super) struct Playout {
    tone: Option<Tone>,
    /// SSRC, next sequence number and timestamp of the stream the gateway generates.
    generated: (u32, u16, u32),
}

impl Playout {
    pub(super) fn new() -> Playout {
        Playout {
            tone: None,
            generated: (rand::random(), rand::random(), rand::random()),
        }
    }

    /// Whether something plays to the caller (the callee's early media on
    /// line 0 then goes nowhere).
    #[inline]
    pub(super) fn is_playing(&self) -> bool {
        self.tone.is_some()
    }

    /// Whether the next 20 ms packet is due.
    pub(super) fn poll_tick(&mut self, cx: &mut Context<'_>) -> bool {
        self.tone
            .as_mut()
            .is_some_and(|t| t.tick.poll_tick(cx).is_ready())
    }

    /// Starts a tone cadence, until stopped.
    pub(super) fn tone(&mut self, cadence: &'static Cadence, pt: u8, codec: Codec) {
        self.start(Source::Gen(ToneGen::new(cadence, codec)), pt, codec);
    }

    /// Starts a clip, `loops` times (0 counts as 1). The caller has stopped
    /// the clip playing before (`stop_clip`).
    pub(super) fn clip(&mut self, audio: Arc<[u8]>, loops: u32, id: u64, pt: u8, codec: Codec) {
        let src = Source::Clip {
            audio,
            pos: 0,
            loops_left: loops.saturating_sub(1),
            id,
        };
        self.start(src, pt, codec);
    }

    /// Starts playing `src` to the caller, continuing the generated stream.
    fn start(&mut self, src: Source, pt: u8, codec: Codec) {
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

    /// Ends a playing clip (a tone plays on); gives its id to report.
    pub(super) fn stop_clip(&mut self) -> Option<u64> {
        if let Some(Tone {
            src: Source::Clip { id, .. },
            ..
        }) = &self.tone
        {
            let id = *id;
            if let Some(t) = self.tone.take() {
                self.generated = (t.ssrc, t.seq, t.ts);
            }
            return Some(id);
        }
        None
    }

    /// Ends whatever plays. Gives the rewriting that lets the callee's media
    /// continue the generated stream toward the caller (`None`: nothing
    /// played) and the id of a clip stopped (to report as interrupted).
    pub(super) fn stop(&mut self) -> (Option<Continuity>, Option<u64>) {
        let clip = match &self.tone {
            Some(Tone {
                src: Source::Clip { id, .. },
                ..
            }) => Some(*id),
            _ => None,
        };
        let out = self.tone.take().map(|t| {
            self.generated = (t.ssrc, t.seq, t.ts);
            Continuity {
                ssrc: t.ssrc,
                last_seq: t.seq.wrapping_sub(1),
                last_ts: t.ts.wrapping_sub(160),
                last_at: t.last_at,
                mapping: None,
            }
        });
        (out, clip)
    }

    /// The next 20 ms packet to the caller; `None` when nothing plays.
    pub(super) fn next(&mut self, now: Instant) -> Option<Generated> {
        let t = self.tone.as_mut()?;
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
        let finished = if ended { self.stop_clip() } else { None };
        Some(Generated {
            pkt,
            ts,
            ssrc,
            codec,
            finished,
        })
    }
}
