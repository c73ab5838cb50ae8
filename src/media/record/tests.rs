//! The recorder's tests: real WAV files in unique temp directories.

use hound::{SampleFormat, WavSpec};

use super::timeline::Timeline;
use super::*;

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("trunkgate-record-{}-{tag}-{n}", std::process::id()));
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
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
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
    let jitter: fn(usize) -> Duration = |k| MS * (k % 4 * 2) as u32 + MS * u32::from(k % 3 == 1);
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
