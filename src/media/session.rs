//! The call task's handle on its media: it allocates the relay ports, turns
//! each SDP a leg sends into the SDP the other leg gets (our addresses and
//! ports, RFC 3264 offer/answer untouched otherwise), and steers the call's
//! media task ([`super::relay::Relay`]). The call's media component
//! (`call::actor::media::CallMedia`) owns it: every sender takes `&mut
//! self`, so the media task waiting for its first commands needs no lock.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::quality::{LiveQuality, QualityReport};
use super::relay::{Cmd, FinishQuality, Leg, Notify, Relay, MAX_STREAMS};
use super::runtime;
use super::srtp::{Sdes, SrtpPolicy};
use super::tones::Cadence;
use super::Media;
use crate::sip::sdp::Codec;
use crate::sip::sdp::{self, Rewrite};

mod error;
mod told;
pub use error::MediaError;
use told::{remote_of, Told};

/// When the first recorded packet came (set once by the media task).
pub type RecordStart = std::sync::Arc<std::sync::OnceLock<tokio::time::Instant>>;

/// Our side of one media line on one leg.
#[derive(Clone, Copy)]
struct Local {
    port: u16,
    v6: bool,
}

/// What a tone toward the caller is sent with (from the caller's offer).
#[derive(Clone, Copy)]
struct ToneFormat {
    codec: Option<(u8, Codec)>,
    telephone_event: Option<u8>,
}

/// What [`MediaSession::learn`] found for the SDP toward the other leg.
struct Learned {
    to_addr: IpAddr,
    ports: sdp::PerLine<Option<u16>>,
    sec: sdp::PerLine<Option<sdp::SecOut>>,
}

pub struct MediaSession {
    media: Arc<Media>,
    tx: mpsc::Sender<Cmd>,
    /// The media thread the call's media task runs on; its pairs come from
    /// that thread's share of the port range.
    thread: usize,
    /// The media task until its first commands: it is spawned with them, so
    /// starting it and handing it the caller's offer wake its thread once.
    unstarted: Option<Relay>,
    /// What the media task was last told (remotes, keys, hold), and
    /// whether the call is answered.
    told: Told,
    /// Per leg, per media line: the port pair we opened (inline: a call
    /// has at most [`MAX_STREAMS`] lines, 16 bytes a leg).
    local: [[Option<Local>; MAX_STREAMS]; 2],
    /// The address each leg is told to send to.
    advertise: [Option<IpAddr>; 2],
    /// o= session version of the SDP we send each leg (RFC 3264 §8: it only grows).
    version: [u64; 2],
    /// What a generated tone must use from the caller's first audio line:
    /// its first G.711 codec and its telephone-event payload type (`None`:
    /// no active audio line).
    caller_audio: Option<ToneFormat>,
    /// The caller's offer as parsed when the call started
    /// ([`Self::take_offer`]), for the INVITE toward each callee: parsed once.
    offer: Option<Box<sdp::Sdp>>,
    /// Each leg's last SDP asked for no media at all (`inactive` everywhere).
    inactive: [bool; 2],
    /// The call's running quality figures (refreshed by the media task).
    quality: LiveQuality,
    /// SDES-SRTP per leg and line (RFC 4568).
    sdes: Sdes,
}

impl MediaSession {
    /// The call's media task, started with its first command; it ends when
    /// this session is dropped.
    pub fn new(media: Arc<Media>, notify: Notify) -> MediaSession {
        let (tx, rx) = mpsc::channel(32);
        let relay = Relay::new(rx, notify, media.relay_options(), media.metrics.clone());
        let quality = relay.live_quality();
        MediaSession::with(media, tx, Some(relay), quality)
    }

    /// A session sending on `tx`, its media task `unstarted` (`None`: the
    /// receiver is someone else's, as in the tests).
    fn with(
        media: Arc<Media>,
        tx: mpsc::Sender<Cmd>,
        unstarted: Option<Relay>,
        quality: LiveQuality,
    ) -> MediaSession {
        MediaSession {
            media,
            tx,
            thread: runtime::pick(),
            unstarted,
            told: Told::default(),
            local: [[None; MAX_STREAMS]; 2],
            advertise: [None, None],
            version: [0, 0],
            caller_audio: None,
            offer: None,
            inactive: [false, false],
            quality,
            sdes: Sdes::default(),
        }
    }

    /// The running quality figures (`None` until the first second's refresh,
    /// or with tracking off).
    pub fn live_quality(&self) -> LiveQuality {
        std::sync::Arc::clone(&self.quality)
    }

    /// Ends the call's media: `done` gets the final quality figures from the
    /// media task, which then stops. The command goes through the media
    /// thread's inbox (`runtime::post`): a busy thread takes it with other
    /// calls' within a few milliseconds instead of being woken for it. If
    /// the task cannot take the command, `done` runs without figures.
    pub fn finish(mut self, done: impl FnOnce(Option<QualityReport>) + Send + 'static) {
        let done: FinishQuality = Box::new(done);
        let Some(done) = self.start_with(vec![Cmd::Finish(done)]) else {
            return;
        };
        let tx = self.tx.clone();
        runtime::post(
            self.thread,
            Box::new(move || match tx.try_send(done) {
                Ok(()) => {}
                Err(
                    mpsc::error::TrySendError::Full(Cmd::Finish(done))
                    | mpsc::error::TrySendError::Closed(Cmd::Finish(done)),
                ) => done(None),
                Err(_) => {}
            }),
        );
    }

    /// `leg`'s SRTP policy (carrier `srtp`, trunk `media_encryption`); set
    /// before the leg's first SDP.
    pub fn set_srtp_policy(&mut self, leg: Leg, policy: SrtpPolicy) {
        self.sdes.set_policy(leg, policy);
    }

    /// The address `leg` (whose signaling peer is `peer`) should send media to.
    pub fn set_peer(&mut self, leg: Leg, peer: SocketAddr) {
        self.advertise[leg as usize] = Some(self.media.advertise_for(peer));
    }

    /// Spawns the media task with `cmds` if it has not started; otherwise
    /// gives them back as one message for its queue.
    fn start_with(&mut self, mut cmds: Vec<Cmd>) -> Option<Cmd> {
        match self.unstarted.take() {
            Some(relay) => {
                runtime::spawn_on(self.thread, relay.run(cmds));
                None
            }
            None if cmds.len() == 1 => cmds.pop(),
            None => Some(Cmd::Batch(cmds)),
        }
    }

    /// Sends one command (the media task's queue is bounded: a task that
    /// cannot keep up loses commands rather than stall the call).
    fn send(&mut self, cmd: Cmd) {
        self.flush(vec![cmd]);
    }

    /// Sends `cmds` (those of the SDP just relayed) as one message.
    fn flush(&mut self, cmds: Vec<Cmd>) {
        if cmds.is_empty() {
            return;
        }
        if let Some(cmd) = self.start_with(cmds) {
            if self.tx.try_send(cmd).is_err() {
                tracing::warn!("media task queue full or gone; command dropped");
            }
        }
    }

    /// Opens `leg`'s ports for line `idx` unless it has them (in the right family).
    fn ensure_local(
        &mut self,
        leg: Leg,
        idx: usize,
        v6: bool,
        cmds: &mut Vec<Cmd>,
    ) -> Result<u16, MediaError> {
        let slot = self.local[leg as usize]
            .get_mut(idx)
            .ok_or(MediaError::TooManyStreams)?;
        if let Some(l) = *slot {
            if l.v6 == v6 {
                return Ok(l.port);
            }
        }
        let pair = self.media.allocate(v6, self.thread)?;
        let port = pair.port();
        *slot = Some(Local { port, v6 });
        cmds.push(Cmd::Stream {
            idx,
            leg,
            pair: Box::new(pair),
        });
        Ok(port)
    }

    /// `from` sent this SDP (offer or answer): the relay learns where `from`
    /// wants media, and the SDP for the other leg comes back, pointing at us.
    pub fn relay_sdp(&mut self, from: Leg, body: &[u8]) -> Result<Bytes, MediaError> {
        self.relay_parsed(from, &sdp::parse(body)?)
    }

    /// The caller's INVITE offer `body`, when the call starts: the relay
    /// learns where the caller wants media and opens the ports, as
    /// [`Self::relay_sdp`] does, but writes no SDP yet (the callee's side is
    /// not known before routing); the parsed offer is kept for
    /// [`Self::relay_caller_offer`].
    pub fn take_offer(&mut self, body: &[u8]) -> Result<(), MediaError> {
        let parsed = Box::new(sdp::parse(body)?);
        // An offer's first commands: two port pairs, the remote, its keys
        // and the hold state per line (one allocation, no regrowth).
        let mut cmds = Vec::with_capacity(8);
        let r = self.learn(Leg::Caller, &parsed, &mut cmds);
        self.flush(cmds);
        self.offer = Some(parsed);
        r.map(|_| ())
    }

    /// The caller's offer `body` for the INVITE toward a callee (after
    /// [`Self::set_peer`] and the callee's SRTP policy): as
    /// [`Self::relay_sdp`], reusing the parse of [`Self::take_offer`] when
    /// the body is the one it took.
    pub fn relay_caller_offer(&mut self, body: &[u8]) -> Result<Bytes, MediaError> {
        match self.offer.take() {
            Some(parsed) if parsed.body().as_bytes() == body => {
                let r = self.relay_parsed(Leg::Caller, &parsed);
                self.offer = Some(parsed);
                r
            }
            _ => self.relay_sdp(Leg::Caller, body),
        }
    }

    /// A new offer (re-INVITE, UPDATE) from `from`, already parsed.
    pub fn relay_offer(&mut self, from: Leg, parsed: &sdp::Sdp) -> Result<Bytes, MediaError> {
        self.sdes.expect_offer();
        self.relay_parsed(from, parsed)
    }

    /// [`Self::relay_sdp`] for an SDP already parsed. What it tells the
    /// media task (ports, remotes, keys, hold) goes as one message, also
    /// when it fails half way (the task keeps the ports it was given).
    pub fn relay_parsed(&mut self, from: Leg, parsed: &sdp::Sdp) -> Result<Bytes, MediaError> {
        let mut cmds = Vec::new();
        let r = self.relay_inner(from, parsed, &mut cmds);
        self.flush(cmds);
        r
    }

    fn relay_inner(
        &mut self,
        from: Leg,
        parsed: &sdp::Sdp,
        cmds: &mut Vec<Cmd>,
    ) -> Result<Bytes, MediaError> {
        let Learned {
            to_addr,
            ports,
            sec,
        } = self.learn(from, parsed, cmds)?;
        let to = from.other();
        self.version[to as usize] += 1;
        Ok(parsed.rewrite(&Rewrite {
            addr: to_addr,
            ports,
            version: Some(self.version[to as usize]),
            rtcp_attr: true,
            sec,
        }))
    }

    /// What `from`'s SDP tells the relay (remotes, ports, keys, hold, the
    /// caller's audio line), and what the SDP for the other leg needs.
    fn learn(
        &mut self,
        from: Leg,
        parsed: &sdp::Sdp,
        cmds: &mut Vec<Cmd>,
    ) -> Result<Learned, MediaError> {
        let media = parsed.media();
        if media.len() > MAX_STREAMS {
            return Err(MediaError::TooManyStreams);
        }
        let to = from.other();
        let to_addr = self.advertise[to as usize].unwrap_or(self.media.default_address(false));
        // Security first: an SDP the leg's SRTP policy refuses opens no ports.
        let (sec, keys) = self.sdes.on_sdp(from, media)?;
        let mut ports = sdp::PerLine::with_capacity(media.len());
        for (idx, m) in media.iter().enumerate() {
            if m.port == 0 {
                ports.push(None);
                self.told.remote(from, idx, None, cmds);
                continue;
            }
            let from_v6 = match m.addr {
                Some(a) => a.is_ipv6(),
                None => self.advertise[from as usize].is_some_and(|a| a.is_ipv6()),
            };
            self.ensure_local(from, idx, from_v6, cmds)?;
            let out_port = self.ensure_local(to, idx, to_addr.is_ipv6(), cmds)?;
            ports.push(Some(out_port));
            self.told.remote(from, idx, remote_of(m), cmds);
        }
        for (idx, leg, keys) in keys {
            self.told.keys(leg, idx, keys, cmds);
        }
        if from == Leg::Caller {
            self.caller_audio = media
                .iter()
                .find(|m| m.kind == sdp::MediaKind::Audio && m.port != 0)
                .map(|m| ToneFormat {
                    codec: sdp::choose_g711(m),
                    telephone_event: m.telephone_event,
                });
        }
        let inactive = media
            .iter()
            .all(|m| m.port == 0 || m.direction == sdp::Direction::Inactive);
        self.inactive[from as usize] = inactive;
        let hold = self.inactive[0] && self.inactive[1];
        self.told.hold(hold, cmds);
        Ok(Learned {
            to_addr,
            ports,
            sec,
        })
    }

    /// The codec a generated tone toward the caller uses: the first G.711
    /// codec of the caller's offer. `None`: the caller offered no G.711.
    pub fn tone_codec(&self) -> Option<(u8, Codec)> {
        self.caller_audio.and_then(|a| a.codec)
    }

    /// Our own SDP answer for the caller when the gateway is the media source
    /// (tones): the caller's line 0 port, the one codec we generate.
    pub fn tone_sdp(&mut self, codec: (u8, Codec)) -> Option<Bytes> {
        let port = self.local[Leg::Caller as usize]
            .first()
            .copied()
            .flatten()?
            .port;
        let addr = self.advertise[Leg::Caller as usize]?;
        self.version[Leg::Caller as usize] += 1;
        let te = self.caller_audio.and_then(|a| a.telephone_event);
        let sec = self.sdes.current(Leg::Caller, 0);
        Some(sdp::build_answer(
            addr,
            port,
            codec,
            te,
            self.media.session_id(),
            self.version[Leg::Caller as usize],
            Some(&sec),
        ))
    }

    /// The caller hears `cadence` (our ringback/busy tone) instead of the callee.
    pub fn start_tone(&mut self, cadence: &'static Cadence, codec: (u8, Codec)) {
        self.send(Cmd::Tone {
            cadence,
            pt: codec.0,
            codec: codec.1,
        });
    }

    /// The callee's media takes over from the tone (continuous stream).
    pub fn stop_tone(&mut self) {
        self.send(Cmd::StopTone);
    }

    /// The gateway answered the caller itself (no callee SDP to relay): the
    /// dead-media watch starts.
    pub fn answered(&mut self) {
        self.told.answered = true;
        self.send(Cmd::Answered);
    }

    /// The callee answered with `sdp` (`None`: its answer carries none to
    /// relay): the SDP's commands, the end of our tone (`stop_tone`) and the
    /// start of the dead-media watch reach the media task as one message,
    /// one wake-up of its thread per answer. An answer whose SRTP is
    /// refused ([`MediaError::Srtp`]) answers nothing: the call fails.
    pub fn answer(
        &mut self,
        from: Leg,
        sdp: Option<&[u8]>,
        stop_tone: bool,
    ) -> Result<Option<Bytes>, MediaError> {
        // Answered: no further callee gets the caller's offer.
        self.offer = None;
        // The answer's remote, keys and hold, the tone's end and the
        // answer itself: one allocation, no regrowth.
        let mut cmds = Vec::with_capacity(if sdp.is_some() { 8 } else { 2 });
        let r = sdp
            .map(|body| {
                let parsed = sdp::parse(body)?;
                self.relay_inner(from, &parsed, &mut cmds)
            })
            .transpose();
        if !matches!(r, Err(MediaError::Srtp(_))) {
            if stop_tone {
                cmds.push(Cmd::StopTone);
            }
            self.told.answered = true;
            cmds.push(Cmd::Answered);
        }
        self.flush(cmds);
        r
    }

    /// Plays prepared G.711 audio to the caller (see [`Cmd::Play`]).
    pub fn play(&mut self, audio: std::sync::Arc<[u8]>, loops: u32, id: u64, codec: (u8, Codec)) {
        self.send(Cmd::Play {
            audio,
            loops,
            id,
            pt: codec.0,
            codec: codec.1,
        });
    }

    pub fn stop_play(&mut self) {
        self.send(Cmd::StopPlay);
    }

    pub fn stop_record(&mut self) {
        self.send(Cmd::RecordStop);
    }

    pub fn pause_record(&mut self, paused: bool) {
        self.send(Cmd::RecordPause(paused));
    }

    /// Records the call from now on into `{recordings_dir}/{name}.wav`.
    /// Returns the path and the cell that gets the first recorded packet's
    /// instant (for the call log's duration).
    pub fn record(&mut self, name: &str) -> Option<(std::path::PathBuf, RecordStart)> {
        let rec = self.media.recorder()?;
        let handle = rec.open(name);
        let path = handle.path().to_path_buf();
        let first = RecordStart::default();
        self.send(Cmd::Record {
            handle: Box::new(handle),
            first: std::sync::Arc::clone(&first),
        });
        Some((path, first))
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
