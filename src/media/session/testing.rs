//! Sessions for unit tests: the commands a session sends are read by the
//! test instead of a media task (no media task runs, no packet is sent; the
//! relay port pairs an SDP opens are bound on loopback).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Cmd, LiveQuality, MediaSession};
use crate::media::{Media, MediaMetrics, MediaSettings};

/// Port blocks handed to the tests' media engines, one each (tests run in parallel).
static NEXT_BLOCK: AtomicU16 = AtomicU16::new(0);
const BLOCK_BASE: u16 = 59400;
const BLOCK_SIZE: u16 = 20;
const BLOCKS: u16 = 20;

/// A media engine on loopback with a port block of its own (no pre-bind
/// thread); recordings go under the system's temporary directory.
pub(crate) fn media() -> Arc<Media> {
    let n = NEXT_BLOCK.fetch_add(1, Ordering::Relaxed) % BLOCKS;
    let port_min = BLOCK_BASE + n * BLOCK_SIZE;
    let recordings_dir =
        std::env::temp_dir().join(format!("trunkgate-unit-{}-{n}", std::process::id()));
    let settings = MediaSettings {
        enabled: false,
        bind_ipv4: std::net::Ipv4Addr::LOCALHOST,
        port_min,
        port_max: port_min + BLOCK_SIZE - 1,
        recordings_dir,
        ..MediaSettings::default()
    };
    Media::new(settings, MediaMetrics::register(&mut Default::default()))
}

/// A session whose media task never starts: what it sends arrives on the receiver.
pub(crate) fn detached(media: Arc<Media>) -> (MediaSession, mpsc::Receiver<Cmd>) {
    let (tx, rx) = mpsc::channel(32);
    let session = MediaSession::with(media, tx, None, LiveQuality::default());
    (session, rx)
}

/// The messages the session sent since the last call, each as its commands' names.
pub(crate) fn messages(rx: &mut mpsc::Receiver<Cmd>) -> Vec<Vec<&'static str>> {
    let mut out = Vec::new();
    while let Ok(cmd) = rx.try_recv() {
        match &cmd {
            Cmd::Batch(cmds) => out.push(cmds.iter().map(name).collect()),
            c => out.push(vec![name(c)]),
        }
    }
    out
}

/// A command's name, for assertions.
pub(crate) fn name(cmd: &Cmd) -> &'static str {
    match cmd {
        Cmd::Stream { .. } => "stream",
        Cmd::Remote { .. } => "remote",
        Cmd::Tone { .. } => "tone",
        Cmd::StopTone => "stop_tone",
        Cmd::Play { .. } => "play",
        Cmd::StopPlay => "stop_play",
        Cmd::RecordStop => "record_stop",
        Cmd::RecordPause(_) => "record_pause",
        Cmd::Srtp { .. } => "srtp",
        Cmd::Answered => "answered",
        Cmd::Hold(_) => "hold",
        Cmd::Record { .. } => "record",
        Cmd::Finish(_) => "finish",
        Cmd::Batch(_) => "batch",
    }
}
