//! Where samples go on a recording's timeline (see the module above: each
//! stream anchored at its first arrival, then placed by RTP timestamp); no I/O.

use tokio::time::Instant;

use super::{Channel, REANCHOR, STREAMS, WINDOW};

#[derive(Clone, Copy)]
struct Stream {
    chan: usize,
    ssrc: u32,
    anchor_pos: i64,
    anchor_ts: u32,
    last_pos: i64,
}

/// Where samples go on the recording's timeline; no I/O.
pub(super) struct Timeline {
    t0: Option<Instant>,
    streams: [Option<Stream>; STREAMS],
    /// Stereo frames for positions `written .. written + WINDOW`, at `pos % WINDOW`.
    ring: Box<[[i16; 2]]>,
    /// Everything before this position has been handed to the sink.
    pub(super) written: u64,
    /// End of the newest sample seen on either channel.
    pub(super) max_pos: u64,
    /// Frames beyond this are not written (WAV size limit).
    pub(super) limit: u64,
}

impl Timeline {
    pub(super) fn new(limit: u64) -> Timeline {
        Timeline {
            t0: None,
            streams: [None; STREAMS],
            ring: vec![[0i16; 2]; WINDOW as usize].into_boxed_slice(),
            written: 0,
            max_pos: 0,
            limit,
        }
    }

    /// Start position of a packet of `n` samples; advances `max_pos`.
    pub(super) fn place(
        &mut self,
        chan: Channel,
        arrival: Instant,
        rtp_ts: u32,
        ssrc: u32,
        n: usize,
    ) -> i64 {
        let t0 = *self.t0.get_or_insert(arrival);
        let nanos = arrival.saturating_duration_since(t0).as_nanos();
        let arrival_pos = i64::try_from(nanos / 125_000).unwrap_or(i64::MAX / 2);
        let c = chan.index();
        let found = self
            .streams
            .iter()
            .position(|s| matches!(s, Some(s) if s.chan == c && s.ssrc == ssrc));
        let slot = found.unwrap_or_else(|| {
            // An empty slot, else the stream heard from least recently.
            (0..STREAMS)
                .min_by_key(|&i| self.streams[i].map_or(i64::MIN, |s| s.last_pos))
                .unwrap_or(0)
        });
        let fresh = Stream {
            chan: c,
            ssrc,
            anchor_pos: arrival_pos,
            anchor_ts: rtp_ts,
            last_pos: arrival_pos,
        };
        let s = match (found, &mut self.streams[slot]) {
            (Some(_), Some(s)) => s,
            (_, entry) => entry.insert(fresh),
        };
        let mut pos = s.anchor_pos + i64::from(rtp_ts.wrapping_sub(s.anchor_ts) as i32);
        if (pos - arrival_pos).abs() > REANCHOR {
            *s = fresh;
            pos = arrival_pos;
        }
        s.last_pos = pos;
        let end = pos + n as i64;
        if end > 0 {
            self.max_pos = self.max_pos.max(end as u64);
        }
        pos
    }

    /// Puts samples into the window; those already written are dropped.
    pub(super) fn store(&mut self, chan: Channel, start: i64, pcm: &[i16]) {
        let c = chan.index();
        for (k, &sample) in pcm.iter().enumerate() {
            let Ok(p) = u64::try_from(start + k as i64) else {
                continue;
            };
            if p < self.written {
                continue;
            }
            if p >= self.written + WINDOW {
                break;
            }
            self.ring[(p % WINDOW) as usize][c] = sample;
        }
    }

    /// Hands every frame before `target` to `sink` (silence where nothing came).
    pub(super) fn drain<E>(
        &mut self,
        target: u64,
        mut sink: impl FnMut([i16; 2]) -> Result<(), E>,
    ) -> Result<(), E> {
        while self.written < target {
            if self.written >= self.limit {
                self.ring.fill([0; 2]);
                self.written = target;
                break;
            }
            let frame = std::mem::take(&mut self.ring[(self.written % WINDOW) as usize]);
            self.written += 1;
            sink(frame)?;
        }
        Ok(())
    }
}
