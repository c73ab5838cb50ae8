//! The media task's interface: the commands the call task sends it, the
//! events it reports back, and its fixed settings.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use super::{Leg, LegKeys, PortPair, Remote};
use crate::media::quality::{OneWay, QualityOptions, QualityReport};
use crate::media::record::RecordingHandle;
use crate::media::tones::Cadence;
use crate::sip::sdp::Codec;

/// What the call task tells the media task.
///
/// Kept small (see [`CMD_BYTES`]): a tokio channel allocates its slots 32 at
/// a time, so each call's command channel costs 32 x `size_of::<Cmd>()`
/// from its first message. The large, once-per-leg payloads (a port pair
/// 120 bytes, a remote 196, SRTP keys and a recording 64) are boxed: 208 ->
/// 40 bytes a slot, 6.7 -> 1.3 KB per live call.
pub enum Cmd {
    /// Sockets for `leg`'s side of media line `idx`.
    Stream {
        idx: usize,
        leg: Leg,
        pair: Box<PortPair>,
    },
    /// `leg`'s SDP for line `idx` (new or changed): re-target and re-latch.
    /// `None`: the line is disabled or on hold toward that leg.
    Remote {
        idx: usize,
        leg: Leg,
        remote: Option<Box<Remote>>,
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
        keys: Option<Box<LegKeys>>,
    },
    /// The call is answered: watch for dead media from now on.
    Answered,
    /// Pause the dead-media watch (both sides `inactive`) or resume it.
    Hold(bool),
    /// Tap every packet the caller sends and hears into this recording;
    /// `first` gets the instant of the first recorded packet.
    Record {
        handle: Box<RecordingHandle>,
        first: Arc<OnceLock<Instant>>,
    },
    /// The call is over: hand the final quality figures to this callback,
    /// then stop (sockets closed, ports freed).
    Finish(FinishQuality),
    /// Several commands in one message, in order (all that one SDP changes:
    /// one wake-up of the media thread instead of one per command).
    Batch(Vec<Cmd>),
}

/// The most a [`Cmd`] may take (checked when compiling).
pub const CMD_BYTES: usize = 40;
const _: () = assert!(std::mem::size_of::<Cmd>() <= CMD_BYTES);

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
