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
//! Depends only on [`super::Codec`] and a G.711 decoder.

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

use super::Codec;

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
mod tests {
    use super::*;

    /// A unique directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir()
                .join(format!("trunkgate-record-{}-{tag}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const MS: Duration = Duration::from_millis(1);

    fn encode(codec: Codec, x: i16) -> u8 {
        match codec {
            Codec::Pcmu => crate::media::g711::ulaw_encode(x),
            Codec::Pcma => crate::media::g711::alaw_encode(x),
        }
    }

    fn tone(freq: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16
            })
            .collect()
    }

    /// What the file should hold for `pcm` sent as `codec`.
    fn through(codec: Codec, pcm: &[i16]) -> Vec<i16> {
        let codes: Vec<u8> = pcm.iter().map(|&x| encode(codec, x)).collect();
        let mut out = vec![0i16; codes.len()];
        crate::media::g711::decode(codec, &codes, &mut out);
        out
    }

    #[derive(Clone)]
    struct Pkt {
        chan: Channel,
        at: Duration,
        ts: u32,
        ssrc: u32,
        codec: Codec,
        payload: Vec<u8>,
    }

    /// 20 ms packets: arrival `start + k·20 ms + jitter(k)`, timestamp `ts0 + k·160`.
    fn stream(
        chan: Channel,
        ssrc: u32,
        codec: Codec,
        start: Duration,
        ts0: u32,
        pcm: &[i16],
        jitter: fn(usize) -> Duration,
    ) -> Vec<Pkt> {
        pcm.chunks(160)
            .enumerate()
            .map(|(k, chunk)| Pkt {
                chan,
                at: start + 20 * MS * k as u32 + jitter(k),
                ts: ts0.wrapping_add(160 * k as u32),
                ssrc,
                codec,
                payload: chunk.iter().map(|&x| encode(codec, x)).collect(),
            })
            .collect()
    }

    fn no_jitter(_: usize) -> Duration {
        Duration::ZERO
    }

    /// Sends packets in arrival order, as the relay would.
    fn play(h: &RecordingHandle, base: Instant, mut pkts: Vec<Pkt>) {
        pkts.sort_by_key(|p| p.at);
        for p in pkts {
            h.frame(p.chan, base + p.at, p.ts, p.ssrc, p.codec, &p.payload);
        }
    }

    async fn finish(h: RecordingHandle) -> Result<RecordingInfo, RecordError> {
        tokio::time::timeout(Duration::from_secs(10), h.finish())
            .await
            .unwrap()
            .unwrap()
    }

    fn read_wav(path: &std::path::Path) -> (WavSpec, Vec<i16>, Vec<i16>) {
        let mut r = hound::WavReader::open(path).unwrap();
        let spec = r.spec();
        let all: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        let left = all.iter().step_by(2).copied().collect();
        let right = all.iter().skip(1).step_by(2).copied().collect();
        (spec, left, right)
    }

    /// Share of the window's energy at `freq` (1.0 for a pure tone with whole cycles).
    fn goertzel(x: &[i16], freq: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
        let (mut s1, mut s2) = (0.0, 0.0);
        for &v in x {
            let s = f64::from(v) + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        let energy: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
        if energy == 0.0 {
            return 0.0;
        }
        power / (energy * x.len() as f64 / 2.0)
    }

    fn counter() -> Counter {
        Counter::default()
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitise("a1b2@host.example"), "a1b2_host.example");
        assert_eq!(sanitise("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(sanitise(".."), "_.");
        assert_eq!(sanitise(""), "recording");
        assert_eq!(sanitise("ü-x_y"), "_-x_y");
        assert_eq!(sanitise(&"x".repeat(300)).len(), 100);
    }

    #[test]
    fn handle_is_send() {
        fn send<T: Send>() {}
        send::<RecordingHandle>();
        send::<Recorder>();
    }

    #[test]
    fn timeline_stops_at_the_size_limit() {
        let mut t = Timeline::new(100);
        let t0 = Instant::now();
        t.place(Channel::Caller, t0, 0, 1, 160);
        t.store(Channel::Caller, 0, &[7; 160]);
        let mut out = Vec::new();
        t.drain::<()>(1000, |f| {
            out.push(f);
            Ok(())
        })
        .unwrap();
        assert_eq!(out.len(), 100);
        assert_eq!(out[99], [7, 0]);
        assert_eq!(t.written, 1000);
    }

    #[tokio::test]
    async fn stereo_file_has_caller_left_and_callee_right() {
        let dir = TempDir::new("stereo");
        let rec = Recorder::start(dir.0.clone(), 1024, counter()).unwrap();
        let h = rec.open("call-1");
        let base = Instant::now();
        let caller = tone(1000.0, 8000);
        let callee = tone(400.0, 8000);
        let mut pkts = stream(
            Channel::Caller,
            11,
            Codec::Pcmu,
            Duration::ZERO,
            1000,
            &caller,
            no_jitter,
        );
        pkts.extend(stream(
            Channel::Callee,
            22,
            Codec::Pcma,
            500 * MS,
            0x8000_0000,
            &callee,
            no_jitter,
        ));
        play(&h, base, pkts);
        let info = finish(h).await.unwrap();
        assert_eq!(info.path, dir.0.join("call-1.wav"));
        assert_eq!(info.samples, 12_000);
        assert_eq!(info.duration, Duration::from_millis(1500));

        let (spec, left, right) = read_wav(&info.path);
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (2, 8000, 16)
        );
        assert_eq!(spec.sample_format, SampleFormat::Int);
        assert_eq!((left.len(), right.len()), (12_000, 12_000));
        for w in 0..10 {
            let win = &left[w * 800..(w + 1) * 800];
            assert!(goertzel(win, 1000.0) > 0.9, "left window {w}");
            assert!(goertzel(win, 400.0) < 0.05, "left window {w}");
        }
        assert_eq!(&left[..8000], &through(Codec::Pcmu, &caller)[..]);
        assert!(left[8000..].iter().all(|&s| s == 0));
        assert!(right[..4000].iter().all(|&s| s == 0));
        for w in 5..15 {
            let win = &right[w * 800..(w + 1) * 800];
            assert!(goertzel(win, 400.0) > 0.9, "right window {w}");
            assert!(goertzel(win, 1000.0) < 0.05, "right window {w}");
        }
        assert_eq!(&right[4000..], &through(Codec::Pcma, &callee)[..]);
    }

    #[tokio::test]
    async fn timestamp_gap_is_silence_and_later_audio_keeps_its_offset() {
        let dir = TempDir::new("gap");
        let rec = Recorder::start(dir.0.clone(), 1024, counter()).unwrap();
        let h = rec.open("gap");
        let base = Instant::now();
        let audio = tone(1000.0, 8000);
        // 0.5 s, then 200 ms without packets (DTX), then 0.5 s; arrivals jitter by
        // up to 7 ms but the RTP timestamps are exact.
        let jitter: fn(usize) -> Duration =
            |k| MS * (k % 4 * 2) as u32 + MS * u32::from(k % 3 == 1);
        let mut pkts = stream(
            Channel::Caller,
            5,
            Codec::Pcmu,
            Duration::ZERO,
            77,
            &audio[..4000],
            no_jitter,
        );
        pkts.extend(stream(
            Channel::Caller,
            5,
            Codec::Pcmu,
            700 * MS,
            77 + 4000 + 1600,
            &audio[4000..],
            jitter,
        ));
        // The callee is continuous, so the file is 1.2 s long.
        let beep = tone(400.0, 9600);
        pkts.extend(stream(
            Channel::Callee,
            6,
            Codec::Pcmu,
            Duration::ZERO,
            9,
            &beep,
            no_jitter,
        ));
        play(&h, base, pkts);
        let info = finish(h).await.unwrap();
        assert_eq!(info.samples, 9600);
        let (_, left, right) = read_wav(&info.path);
        let want = through(Codec::Pcmu, &audio);
        assert_eq!(&left[..4000], &want[..4000]);
        assert!(left[4000..5600].iter().all(|&s| s == 0));
        assert_eq!(&left[5600..9600], &want[4000..]);
        assert_eq!(right, through(Codec::Pcmu, &beep));
    }

    #[tokio::test]
    async fn new_ssrc_and_timestamp_jumps_follow_arrival_time() {
        let dir = TempDir::new("ssrc");
        let rec = Recorder::start(dir.0.clone(), 1024, counter()).unwrap();
        let h = rec.open("ssrc");
        let base = Instant::now();
        let a = tone(1000.0, 4000);
        let b = tone(400.0, 4000);
        let c = tone(600.0, 4000);
        let random_base = rand::random::<u32>();
        // Caller: a generated tone, then the carrier's media with its own SSRC and a
        // base just below the u32 wrap, then that SSRC jumping forward by 125 s.
        let mut pkts = stream(
            Channel::Caller,
            1,
            Codec::Pcmu,
            Duration::ZERO,
            random_base,
            &a,
            no_jitter,
        );
        pkts.extend(stream(
            Channel::Caller,
            2,
            Codec::Pcmu,
            500 * MS,
            0xffff_fe00,
            &b,
            no_jitter,
        ));
        pkts.extend(stream(
            Channel::Caller,
            2,
            Codec::Pcmu,
            1000 * MS,
            0xffff_fe00u32.wrapping_add(1_004_000),
            &c,
            no_jitter,
        ));
        // Callee: a timestamp jump 10 s backwards at 0.5 s.
        let d = tone(1000.0, 8000);
        pkts.extend(stream(
            Channel::Callee,
            3,
            Codec::Pcma,
            Duration::ZERO,
            500_000,
            &d[..4000],
            no_jitter,
        ));
        pkts.extend(stream(
            Channel::Callee,
            3,
            Codec::Pcma,
            500 * MS,
            500_000 - 80_000,
            &d[4000..],
            no_jitter,
        ));
        play(&h, base, pkts);
        let info = finish(h).await.unwrap();
        assert_eq!(info.samples, 12_000);
        let (_, left, right) = read_wav(&info.path);
        assert_eq!(&left[..4000], &through(Codec::Pcmu, &a)[..]);
        assert_eq!(&left[4000..8000], &through(Codec::Pcmu, &b)[..]);
        assert_eq!(&left[8000..], &through(Codec::Pcmu, &c)[..]);
        assert_eq!(&right[..8000], &through(Codec::Pcma, &d)[..]);
        assert!(right[8000..].iter().all(|&s| s == 0));
    }

    #[tokio::test]
    async fn late_packets_are_dropped_and_duplicates_are_harmless() {
        let dir = TempDir::new("late");
        let rec = Recorder::start(dir.0.clone(), 1024, counter()).unwrap();
        let h = rec.open("late");
        let base = Instant::now();
        let audio = tone(1000.0, 24_000);
        let mut pkts = stream(
            Channel::Caller,
            1,
            Codec::Pcmu,
            Duration::ZERO,
            0,
            &audio,
            no_jitter,
        );
        // Every packet twice.
        let dups = pkts.clone();
        pkts.extend(dups);
        // 1.5 s late (inside the re-anchor tolerance) for a stretch already written.
        pkts.push(Pkt {
            chan: Channel::Caller,
            at: 2500 * MS,
            ts: 8000,
            ssrc: 1,
            codec: Codec::Pcmu,
            payload: vec![0x00; 160],
        });
        // The callee goes on to 6 s while the caller is silent after 3 s: nothing
        // of the late packet may surface anywhere.
        let beep = tone(400.0, 48_000);
        pkts.extend(stream(
            Channel::Callee,
            2,
            Codec::Pcmu,
            Duration::ZERO,
            0,
            &beep,
            no_jitter,
        ));
        play(&h, base, pkts);
        let info = finish(h).await.unwrap();
        assert_eq!(info.samples, 48_000);
        let (_, left, right) = read_wav(&info.path);
        assert_eq!(&left[..24_000], &through(Codec::Pcmu, &audio)[..]);
        assert!(left[24_000..].iter().all(|&s| s == 0));
        assert_eq!(right, through(Codec::Pcmu, &beep));
    }

    #[tokio::test]
    async fn dropped_handle_still_leaves_a_valid_wav() {
        let dir = TempDir::new("drop");
        let rec = Recorder::start(dir.0.clone(), 1024, counter()).unwrap();
        let h = rec.open("abandoned");
        let audio = tone(1000.0, 4000);
        let pkts = stream(
            Channel::Callee,
            1,
            Codec::Pcmu,
            Duration::ZERO,
            3,
            &audio,
            no_jitter,
        );
        play(&h, Instant::now(), pkts);
        drop(h);
        // One writer thread, in order: once this one is finished, so is the first.
        let info = finish(rec.open("after")).await.unwrap();
        assert_eq!(info.samples, 0);
        let (spec, left, right) = read_wav(&dir.0.join("abandoned.wav"));
        assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
        assert_eq!(right, through(Codec::Pcmu, &audio));
        assert_eq!(left, vec![0; 4000]);
        assert_eq!(read_wav(&info.path).1.len(), 0);
    }

    #[tokio::test]
    async fn full_queue_drops_and_counts_frames_without_blocking() {
        let dir = TempDir::new("full");
        let dropped = counter();
        let rec = Recorder::start(dir.0.clone(), 4, dropped.clone()).unwrap();
        let h = rec.open("slow");
        let (parked_tx, parked) = mpsc::channel();
        let (release, release_rx) = mpsc::channel();
        rec.tx
            .send(Msg::Stall {
                parked: parked_tx,
                release: release_rx,
            })
            .unwrap();
        parked.recv_timeout(Duration::from_secs(10)).unwrap();
        // The writer is stuck: 4 frames fit in the queue, the other 96 are dropped.
        let audio = tone(1000.0, 16_000);
        let pkts = stream(
            Channel::Caller,
            1,
            Codec::Pcmu,
            Duration::ZERO,
            0,
            &audio,
            no_jitter,
        );
        let started = Instant::now();
        play(&h, Instant::now(), pkts);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(dropped.get(), 96);
        release.send(()).unwrap();
        let info = finish(h).await.unwrap();
        assert_eq!(info.samples, 640);
        let (_, left, _) = read_wav(&info.path);
        assert_eq!(left, through(Codec::Pcmu, &audio[..640]));
    }

    #[tokio::test]
    async fn unwritable_dir_fails_that_recording_only() {
        let dir = TempDir::new("unwritable");
        let rec = Recorder::start(dir.0.clone(), 1024, counter()).unwrap();
        std::fs::remove_dir_all(&dir.0).unwrap();
        let bad = rec.open("bad");
        let audio = tone(1000.0, 1600);
        let base = Instant::now();
        play(
            &bad,
            base,
            stream(
                Channel::Caller,
                1,
                Codec::Pcmu,
                Duration::ZERO,
                0,
                &audio,
                no_jitter,
            ),
        );
        let err = finish(bad).await.unwrap_err();
        assert_eq!(err.name(), "record::create");
        assert!(err.to_string().contains("bad.wav"), "{err}");

        std::fs::create_dir_all(&dir.0).unwrap();
        let good = rec.open("good");
        play(
            &good,
            base,
            stream(
                Channel::Caller,
                1,
                Codec::Pcmu,
                Duration::ZERO,
                0,
                &audio,
                no_jitter,
            ),
        );
        let info = finish(good).await.unwrap();
        assert_eq!(info.samples, 1600);
        assert_eq!(read_wav(&info.path).1, through(Codec::Pcmu, &audio));
    }

    #[tokio::test]
    async fn finish_after_the_writer_is_gone_reports_it() {
        let (tx, rx) = mpsc::sync_channel(1);
        drop(rx);
        let h = RecordingHandle {
            tx,
            id: 0,
            dropped: counter(),
            closed: false,
            path: PathBuf::from("gone.wav"),
        };
        let dropped = h.dropped.clone();
        h.frame(
            Channel::Caller,
            Instant::now(),
            0,
            1,
            Codec::Pcmu,
            &[0xff; 160],
        );
        assert_eq!(dropped.get(), 1);
        assert_eq!(finish(h).await.unwrap_err().name(), "record::writer_gone");
    }

    #[tokio::test]
    async fn header_is_checkpointed_while_recording() {
        let dir = TempDir::new("checkpoint");
        let rec = Recorder::start(dir.0.clone(), 1024, counter()).unwrap();
        let h = rec.open("live");
        // Once a later recording is done, "live" has been created: valid, empty.
        finish(rec.open("sync")).await.unwrap();
        let path = dir.0.join("live.wav");
        assert_eq!(hound::WavReader::open(&path).unwrap().len(), 0);
        let audio = tone(1000.0, 24_000);
        let pkts = stream(
            Channel::Caller,
            1,
            Codec::Pcmu,
            Duration::ZERO,
            0,
            &audio,
            no_jitter,
        );
        play(&h, Instant::now(), pkts);
        // 3 s sent, 2 s of it more than 1 s behind: written and, within about a
        // second, covered by the header while the file is still open.
        let mut seen = 0;
        for _ in 0..100 {
            // Readable from the moment the writer has created it.
            if let Ok(r) = hound::WavReader::open(&path) {
                seen = r.len() / 2;
                if seen > 0 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(seen, 16_000);
        assert_eq!(finish(h).await.unwrap().samples, 24_000);
    }
}
