//! Pre-connect call recordings: one stereo WAV per recorded call, written off the
//! packet path.
//!
//! The media relay taps every G.711 packet of a recorded call: left channel = what
//! the caller sends, right channel = what the caller hears (callee media or the
//! gateway's generated tones). One writer thread ("trunkgate-rec") owns every open
//! file. The relay hands it fixed-size messages over a bounded, preallocated
//! `std::sync::mpsc::sync_channel` with `try_send`: no allocation, no lock held, no
//! blocking per packet. When the disk is slow the queue fills and frames are dropped
//! and counted (`trunkgate_recording_frames_dropped_total`) rather than slowing the
//! relay.
//!
//! Placement: the timeline is in samples at 8 kHz, sample 0 = arrival of the first
//! frame of either channel. Each (channel, SSRC) stream is anchored at its first
//! packet's arrival and then placed by its RTP timestamp (RFC 3550 §5.1: the
//! timestamp is the sampling instant of the first octet; RFC 3551 §4.5.14: G.711
//! clock rate 8000 Hz), so network jitter does not move audio and DTX / silence
//! suppression gaps become silence. A jump of more than 2 s against the arrival
//! clock re-anchors the stream at its arrival time.
//!
//! Depends only on [`Codec`] and a G.711 decoder.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use hound::{SampleFormat, WavSpec, WavWriter};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::sip::sdp::Codec;

/// G.711 sample rate (RFC 3551 §4.5.14).
const RATE: u32 = 8000;
/// Largest payload copied per frame: 40 ms of G.711. Longer payloads are cut.
pub const MAX_PAYLOAD: usize = 320;
/// In-memory window per recording, in sample frames (4 s of stereo).
const WINDOW: u64 = 4 * RATE as u64;
/// Samples are written once they are this far behind the newest position (1 s).
const LAG: u64 = RATE as u64;
/// A stream whose timestamp-derived position is further than this (2 s) from its
/// arrival-derived position is re-anchored at its arrival time.
const REANCHOR: i64 = 2 * RATE as i64;
/// WAV header checkpoint interval, so a crash leaves a readable file.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// (channel, SSRC) anchors remembered per recording; the least recent is reused.
const STREAMS: usize = 8;
/// WAV sizes are u32: 4 bytes per stereo frame, minus header room (~37 h).
const MAX_FRAMES: u64 = (u32::MAX as u64 - 1024) / 4;
/// Longest file stem taken from a call id.
const MAX_NAME: usize = 100;

/// Which side of the call a frame belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// What the caller sends: the left channel.
    Caller,
    /// What the caller hears (callee media or generated tones): the right channel.
    Callee,
}

impl Channel {
    fn index(self) -> usize {
        match self {
            Channel::Caller => 0,
            Channel::Callee => 1,
        }
    }
}

/// A finished recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingInfo {
    pub path: PathBuf,
    /// `samples / 8000` seconds.
    pub duration: Duration,
    /// Stereo sample frames in the file.
    pub samples: u64,
}

/// Why a recording failed. Other recordings are unaffected.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot create recording {}: {source}", path.display())]
    Create { path: PathBuf, source: hound::Error },
    #[error("writing recording {}: {source}", path.display())]
    Write { path: PathBuf, source: hound::Error },
    #[error("the recording writer thread is gone")]
    WriterGone,
}

impl RecordError {
    /// Static label for metrics and the call log.
    pub fn name(&self) -> &'static str {
        match self {
            RecordError::Create { .. } => "record::create",
            RecordError::Write { .. } => "record::write",
            RecordError::WriterGone => "record::writer_gone",
        }
    }
}

type Reply = oneshot::Sender<Result<RecordingInfo, RecordError>>;

struct FrameMsg {
    id: u64,
    chan: Channel,
    arrival: Instant,
    rtp_ts: u32,
    ssrc: u32,
    codec: Codec,
    len: u16,
    payload: [u8; MAX_PAYLOAD],
}

// Frames are big on purpose: boxing them would allocate per packet, while the
// channel's slots are allocated once when it is created.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Open {
        id: u64,
        path: PathBuf,
    },
    Frame(FrameMsg),
    Close {
        id: u64,
        reply: Option<Reply>,
    },
    /// Test hook: park the writer until released (bounded at 10 s).
    #[cfg(test)]
    Stall {
        parked: mpsc::Sender<()>,
        release: Receiver<()>,
    },
}

/// Cloneable handle to the one recording writer thread.
#[derive(Clone)]
pub struct Recorder {
    tx: SyncSender<Msg>,
    dir: Arc<PathBuf>,
    next_id: Arc<AtomicU64>,
    dropped: Counter,
}

impl Recorder {
    /// Creates `dir` and starts the writer thread with a queue of `queue` messages
    /// (at least 1), preallocated. `dropped` counts frames lost to a full queue.
    /// The thread ends when the last `Recorder` and `RecordingHandle` are gone.
    pub fn start(dir: PathBuf, queue: usize, dropped: Counter) -> std::io::Result<Recorder> {
        std::fs::create_dir_all(&dir)?;
        let (tx, rx) = mpsc::sync_channel(queue.max(1));
        std::thread::Builder::new()
            .name("trunkgate-rec".into())
            .spawn(move || writer_loop(rx))?;
        Ok(Recorder {
            tx,
            dir: Arc::new(dir),
            next_id: Arc::new(AtomicU64::new(0)),
            dropped,
        })
    }

    /// Starts recording to `{dir}/{name}.wav`, `name` (the call id) reduced to
    /// `[A-Za-z0-9._-]`, at most 100 characters. Call setup only: this may block
    /// while the queue is full. Failures surface from [`RecordingHandle::finish`].
    pub fn open(&self, name: &str) -> RecordingHandle {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{}.wav", sanitise(name)));
        if self
            .tx
            .send(Msg::Open {
                id,
                path: path.clone(),
            })
            .is_err()
        {
            tracing::error!("recording writer thread is gone");
        }
        RecordingHandle {
            tx: self.tx.clone(),
            id,
            dropped: self.dropped.clone(),
            closed: false,
            path,
        }
    }
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("dir", &self.dir).finish()
    }
}

fn sanitise(name: &str) -> String {
    let mut s: String = name
        .chars()
        .take(MAX_NAME)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with('.') {
        // No hidden files, no "." / ".." stems.
        s.replace_range(..1, "_");
    }
    if s.is_empty() {
        s.push_str("recording");
    }
    s
}

/// One open recording. Dropping it without [`finish`](Self::finish) still closes
/// the file properly.
pub struct RecordingHandle {
    tx: SyncSender<Msg>,
    id: u64,
    dropped: Counter,
    closed: bool,
    path: PathBuf,
}

impl RecordingHandle {
    /// The file this recording is written to.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Taps one G.711 RTP payload (RFC 3550 §5.1 timestamp and SSRC). Packet path:
    /// never blocks, never allocates; copies at most [`MAX_PAYLOAD`] bytes. When the
    /// writer's queue is full the frame is dropped and counted.
    pub fn frame(
        &self,
        chan: Channel,
        arrival: Instant,
        rtp_ts: u32,
        ssrc: u32,
        codec: Codec,
        payload: &[u8],
    ) {
        let len = payload.len().min(MAX_PAYLOAD);
        if len == 0 {
            return;
        }
        let mut buf = [0u8; MAX_PAYLOAD];
        buf[..len].copy_from_slice(&payload[..len]);
        let msg = Msg::Frame(FrameMsg {
            id: self.id,
            chan,
            arrival,
            rtp_ts,
            ssrc,
            codec,
            len: len as u16,
            payload: buf,
        });
        if self.tx.try_send(msg).is_err() {
            self.dropped.inc();
        }
    }

    /// Writes out everything buffered, finalises the WAV header and reports.
    pub fn finish(mut self) -> oneshot::Receiver<Result<RecordingInfo, RecordError>> {
        self.closed = true;
        let (reply, rx) = oneshot::channel();
        let close = Msg::Close {
            id: self.id,
            reply: Some(reply),
        };
        if let Err(mpsc::SendError(Msg::Close {
            reply: Some(reply), ..
        })) = self.tx.send(close)
        {
            let _ = reply.send(Err(RecordError::WriterGone));
        }
        rx
    }
}

impl std::fmt::Debug for RecordingHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingHandle")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for RecordingHandle {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.tx.send(Msg::Close {
                id: self.id,
                reply: None,
            });
        }
    }
}

fn writer_loop(rx: Receiver<Msg>) {
    let mut open: HashMap<u64, Recording> = HashMap::new();
    let mut last_flush = Instant::now();
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(msg) => handle(&mut open, msg),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_flush.elapsed() >= FLUSH_EVERY {
            open.values_mut().for_each(Recording::checkpoint);
            last_flush = Instant::now();
        }
    }
    for (_, rec) in open.drain() {
        let _ = rec.close();
    }
}

fn handle(open: &mut HashMap<u64, Recording>, msg: Msg) {
    match msg {
        Msg::Open { id, path } => {
            open.insert(id, Recording::create(path));
        }
        Msg::Frame(f) => {
            if let Some(rec) = open.get_mut(&f.id) {
                rec.frame(&f);
            }
        }
        Msg::Close { id, reply } => {
            let result = match open.remove(&id) {
                Some(rec) => rec.close(),
                None => Err(RecordError::WriterGone),
            };
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
        #[cfg(test)]
        Msg::Stall { parked, release } => {
            let _ = parked.send(());
            let _ = release.recv_timeout(Duration::from_secs(10));
        }
    }
}

enum Sink {
    Wav(WavWriter<BufWriter<File>>),
    Failed(RecordError),
}

struct Recording {
    path: PathBuf,
    sink: Sink,
    timeline: Timeline,
    dirty: bool,
}

impl Recording {
    fn create(path: PathBuf) -> Recording {
        let spec = WavSpec {
            channels: 2,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let sink = match File::create(&path)
            .map_err(hound::Error::from)
            .and_then(|f| WavWriter::new(BufWriter::with_capacity(64 * 1024, f), spec))
            .and_then(|mut w| {
                // The header reaches the disk now: a valid (empty) WAV from the start.
                w.flush()?;
                Ok(w)
            }) {
            Ok(w) => Sink::Wav(w),
            Err(source) => {
                tracing::warn!(path = %path.display(), error = %source, "cannot create recording");
                Sink::Failed(RecordError::Create {
                    path: path.clone(),
                    source,
                })
            }
        };
        Recording {
            path,
            sink,
            timeline: Timeline::new(MAX_FRAMES),
            dirty: false,
        }
    }

    fn frame(&mut self, f: &FrameMsg) {
        if matches!(self.sink, Sink::Failed(_)) {
            return;
        }
        let n = usize::from(f.len).min(MAX_PAYLOAD);
        let mut pcm = [0i16; MAX_PAYLOAD];
        super::g711::decode(f.codec, &f.payload[..n], &mut pcm[..n]);
        let start = self.timeline.place(f.chan, f.arrival, f.rtp_ts, f.ssrc, n);
        self.write_to(self.timeline.max_pos.saturating_sub(LAG));
        self.timeline.store(f.chan, start, &pcm[..n]);
    }

    fn write_to(&mut self, target: u64) {
        let Sink::Wav(wav) = &mut self.sink else {
            return;
        };
        let mut wrote = false;
        let result = self.timeline.drain(target, |[l, r]| {
            wrote = true;
            wav.write_sample(l)?;
            wav.write_sample(r)
        });
        self.dirty |= wrote;
        if let Err(source) = result {
            self.fail(source);
        }
    }

    /// Rewrites the header so the file is valid up to here even if we die.
    fn checkpoint(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        if let Sink::Wav(wav) = &mut self.sink {
            if let Err(source) = wav.flush() {
                self.fail(source);
            }
        }
    }

    fn fail(&mut self, source: hound::Error) {
        tracing::warn!(path = %self.path.display(), error = %source, "recording failed");
        self.sink = Sink::Failed(RecordError::Write {
            path: self.path.clone(),
            source,
        });
    }

    fn close(mut self) -> Result<RecordingInfo, RecordError> {
        self.write_to(self.timeline.max_pos);
        let samples = self.timeline.written.min(self.timeline.limit);
        if self.timeline.written > self.timeline.limit {
            tracing::warn!(path = %self.path.display(), "recording cut at the WAV size limit");
        }
        match std::mem::replace(&mut self.sink, Sink::Failed(RecordError::WriterGone)) {
            Sink::Failed(e) => Err(e),
            Sink::Wav(wav) => match wav.finalize() {
                Ok(()) => Ok(RecordingInfo {
                    path: self.path,
                    duration: Duration::from_nanos(samples * 125_000),
                    samples,
                }),
                Err(source) => Err(RecordError::Write {
                    path: self.path,
                    source,
                }),
            },
        }
    }
}

#[derive(Clone, Copy)]
struct Stream {
    chan: usize,
    ssrc: u32,
    anchor_pos: i64,
    anchor_ts: u32,
    last_pos: i64,
}

/// Where samples go on the recording's timeline; no I/O.
struct Timeline {
    t0: Option<Instant>,
    streams: [Option<Stream>; STREAMS],
    /// Stereo frames for positions `written .. written + WINDOW`, at `pos % WINDOW`.
    ring: Box<[[i16; 2]]>,
    /// Everything before this position has been handed to the sink.
    written: u64,
    /// End of the newest sample seen on either channel.
    max_pos: u64,
    /// Frames beyond this are not written (WAV size limit).
    limit: u64,
}

impl Timeline {
    fn new(limit: u64) -> Timeline {
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
    fn place(&mut self, chan: Channel, arrival: Instant, rtp_ts: u32, ssrc: u32, n: usize) -> i64 {
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
    fn store(&mut self, chan: Channel, start: i64, pcm: &[i16]) {
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
    fn drain<E>(
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

#[cfg(test)]
mod tests;
