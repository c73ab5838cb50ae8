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

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::sip::sdp::Codec;

mod timeline;
mod writer;

use writer::writer_loop;

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
        release: mpsc::Receiver<()>,
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

#[cfg(test)]
mod tests;
