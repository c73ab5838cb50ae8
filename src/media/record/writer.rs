//! The writer thread ("trunkgate-rec"): it owns every open recording, places
//! the frames it is handed on each file's timeline and writes the WAV files,
//! checkpointing their headers once a second.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use hound::{SampleFormat, WavSpec, WavWriter};
use tokio::time::Instant;

use super::timeline::Timeline;
use super::{
    FrameMsg, Msg, RecordError, RecordingInfo, FLUSH_EVERY, LAG, MAX_FRAMES, MAX_PAYLOAD, RATE,
};

pub(super) fn writer_loop(rx: Receiver<Msg>) {
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
        crate::media::g711::decode(f.codec, &f.payload[..n], &mut pcm[..n]);
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
