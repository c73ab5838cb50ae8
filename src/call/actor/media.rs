//! The call's media component, [`CallMedia`]: it owns the call's media
//! session (`media::session`), the recording under way and the SDP of our
//! own tone, and decides what each SDP and each call event means for the
//! media: every SDP that crosses the gateway is rewritten to point at our
//! relay, the early-media override and the busy tone put the gateway's own
//! tone in front of the caller, T.38 offers are refused where the trunk has
//! fax off, the answer starts the dead-media watch. It sends nothing on the
//! SIP side; the call (`Call`, in `media/steer.rs`) gives it the facts it
//! needs (SRTP policies, tone cadences) and sends what it returns.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;

use crate::call::hub::{CallEvent, CallHub, CallSender};
use crate::flow::RecordAction;
use crate::media::quality::LiveQuality;
use crate::media::relay::{Leg, MediaEvent};
use crate::media::session::{MediaError, MediaSession, RecordStart};
use crate::media::srtp::SrtpPolicy;
use crate::media::tones::Cadence;
use crate::sip::sdp::Codec;
use crate::sip::{HeaderName, Message};

mod steer;

/// The message carries an SDP body (RFC 3264) that we must anchor.
pub(crate) fn has_sdp(msg: &Message) -> bool {
    !msg.body().is_empty()
        && msg.header_slice(&HeaderName::ContentType).is_none_or(|ct| {
            ct.get(..15)
                .is_some_and(|ct| ct.eq_ignore_ascii_case(b"application/sdp"))
        })
}

/// The body of `msg` when it is an SDP.
fn sdp_of(msg: &Message) -> Option<&[u8]> {
    has_sdp(msg).then(|| msg.body().as_ref())
}

/// A recording of the call: its file and when its first packet came.
pub(super) type Recording = (PathBuf, RecordStart);

/// Why a worker's record command cannot be carried out.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RecordRefused {
    /// The call has no media anchored.
    NoMedia,
    /// The recorder could not start.
    NoRecorder,
}

/// The call's media: the session (`None`: media anchoring off, or the call
/// has ended), what is recorded, our tone's SDP.
pub(super) struct CallMedia {
    /// The call's media relay. Taken when the call ends.
    session: Option<MediaSession>,
    /// Pre-connect or worker recording: kept after the end for the call log.
    recording: Option<Recording>,
    /// The SDP of our own media toward the caller (override ringback, busy
    /// tone, a worker's prompts and answer): once made, the caller's view of
    /// us never changes.
    tone_sdp: Option<Bytes>,
}

impl CallMedia {
    pub(super) fn new(session: Option<MediaSession>) -> CallMedia {
        CallMedia {
            session,
            recording: None,
            tone_sdp: None,
        }
    }

    /// The media of a new call from `caller`, anchored when media anchoring
    /// is on; the media task reports to the call through `me`.
    pub(super) fn open(hub: &CallHub, me: &CallSender, caller: std::net::SocketAddr) -> CallMedia {
        if !hub.media.enabled() {
            return CallMedia::new(None);
        }
        let tx = me.clone();
        let notify = Box::new(move |ev: MediaEvent| {
            let _ = tx.try_send(CallEvent::Media(ev));
        });
        let mut s = MediaSession::new(std::sync::Arc::clone(&hub.media), notify);
        s.set_peer(Leg::Caller, caller);
        CallMedia::new(Some(s))
    }

    /// The call's recording, if one was started (the call log's link to it).
    pub(super) fn recording(&self) -> Option<&Recording> {
        self.recording.as_ref()
    }

    /// The running quality figures of the call's media (`None`: no media).
    pub(super) fn live_quality(&self) -> Option<LiveQuality> {
        self.session.as_ref().map(MediaSession::live_quality)
    }

    /// The call has ended: the session goes (to hand over its final quality
    /// and stop), our tone with it.
    pub(super) fn end(&mut self) -> Option<MediaSession> {
        self.tone_sdp = None;
        self.session.take()
    }

    /// The caller's INVITE `offer`, before any routing: `policy` is the
    /// caller's SRTP policy, the offer's SDP (if any) is anchored, and a
    /// `pre_connect` recording starts with the call.
    pub(super) fn start(
        &mut self,
        offer: &Message,
        policy: SrtpPolicy,
        pre_connect: bool,
    ) -> Result<(), MediaError> {
        let Some(m) = self.session.as_mut() else {
            return Ok(());
        };
        m.set_srtp_policy(Leg::Caller, policy);
        if let Some(sdp) = sdp_of(offer) {
            m.take_offer(sdp)?;
        }
        if pre_connect {
            self.recording = m.record(&uuid::Uuid::new_v4().to_string());
        }
        Ok(())
    }

    /// The body of the INVITE toward a B leg whose signaling peer is `peer`
    /// (SRTP `policy`): the caller's SDP `inv` pointing at our B-side ports.
    /// `Ok(None)`: send the caller's body as it is.
    pub(super) fn callee_offer(
        &mut self,
        inv: &Message,
        peer: std::net::SocketAddr,
        policy: SrtpPolicy,
    ) -> Result<Option<Bytes>, MediaError> {
        let Some(m) = self.session.as_mut() else {
            return Ok(None);
        };
        m.set_peer(Leg::Callee, peer);
        m.set_srtp_policy(Leg::Callee, policy);
        match sdp_of(inv) {
            Some(sdp) => m.relay_caller_offer(sdp).map(Some),
            None => Ok(None),
        }
    }

    /// An SDP from `from` (any offer or answer in the dialog): the body the
    /// other side gets. `Ok(None)`: no SDP or no media anchoring.
    pub(super) fn relay(&mut self, from: Leg, msg: &Message) -> Result<Option<Bytes>, MediaError> {
        match (self.session.as_mut(), sdp_of(msg)) {
            (Some(m), Some(sdp)) => m.relay_sdp(from, sdp).map(Some),
            _ => Ok(None),
        }
    }

    /// An in-dialog offer (re-INVITE/UPDATE) from `from`, parsed once: a
    /// T.38 offer where the trunk has `fax_off` is refused (`FaxRefused`,
    /// 488) with or without media anchoring; anything else is anchored like
    /// [`Self::relay`].
    pub(super) fn relay_offer(
        &mut self,
        from: Leg,
        msg: &Message,
        fax_off: bool,
    ) -> Result<Option<Bytes>, MediaError> {
        let Some(sdp) = sdp_of(msg) else {
            return Ok(None);
        };
        if self.session.is_none() && !fax_off {
            return Ok(None);
        }
        let parsed = crate::sip::sdp::parse(sdp);
        if fax_off && parsed.as_ref().is_ok_and(|s| s.has_t38()) {
            return Err(MediaError::FaxRefused);
        }
        let Some(m) = self.session.as_mut() else {
            return Ok(None);
        };
        m.relay_offer(from, &parsed?).map(Some)
    }

    /// The callee answered with `msg`: its SDP (if any) is relayed, our
    /// tone stops, the dead-media watch starts, all in one message to the
    /// media task. The result is the SDP the caller gets, as [`Self::relay`].
    pub(super) fn answer(&mut self, msg: &Message) -> Result<Option<Bytes>, MediaError> {
        let tone = self.tone_sdp.is_some();
        match self.session.as_mut() {
            Some(m) => m.answer(Leg::Callee, sdp_of(msg), tone),
            None => Ok(None),
        }
    }

    /// The gateway answered the caller itself: the dead-media watch starts.
    pub(super) fn answered_by_us(&mut self) {
        if let Some(m) = self.session.as_mut() {
            m.answered();
        }
    }

    /// The codec of the media we play to the caller: the first G.711 codec of
    /// its offer. `None`: no media, or no G.711 offered.
    pub(super) fn tone_codec(&self) -> Option<(u8, Codec)> {
        self.session.as_ref()?.tone_codec()
    }

    /// Our SDP toward the caller when the gateway is its media peer: the one
    /// made for an earlier tone, or a new one. `None`: no tone possible (no
    /// media, no G.711 offered, no caller port).
    pub(super) fn own_sdp(&mut self) -> Option<Bytes> {
        if let Some(sdp) = &self.tone_sdp {
            return Some(sdp.clone());
        }
        let m = self.session.as_mut()?;
        let sdp = m.tone_sdp(m.tone_codec()?)?;
        self.tone_sdp = Some(sdp.clone());
        Some(sdp)
    }

    /// The caller hears `cadence` from us: the SDP its 183 carries.
    /// `None`: no tone possible.
    pub(super) fn start_tone(&mut self, cadence: &'static Cadence) -> Option<Bytes> {
        let m = self.session.as_mut()?;
        let codec = m.tone_codec()?;
        let sdp = m.tone_sdp(codec)?;
        m.start_tone(cadence, codec);
        self.tone_sdp = Some(sdp.clone());
        Some(sdp)
    }

    /// A provisional response of the callee on a trunk that overrides early
    /// media (`cadence` gives the ringback, `None`: no override): the SDP
    /// the caller's 183 carries, the same on every provisional; the first
    /// starts the tone.
    pub(super) fn override_sdp(
        &mut self,
        cadence: impl FnOnce() -> Option<&'static Cadence>,
    ) -> Option<Bytes> {
        if let Some(sdp) = &self.tone_sdp {
            return Some(sdp.clone());
        }
        self.start_tone(cadence()?)
    }

    /// A transfer after the answer: the caller hears `cadence` until the new
    /// leg answers (no SDP goes out: the caller's view of us is unchanged).
    pub(super) fn transfer_ringback(&mut self, cadence: &'static Cadence) {
        if let Some(m) = self.session.as_mut() {
            if let Some(codec) = m.tone_codec() {
                m.start_tone(cadence, codec);
            }
        }
    }

    /// The transfer ended: on success the new leg's media replaces our tone;
    /// on failure the worker's prompt and our tone stop too.
    pub(super) fn transfer_done(&mut self, ok: bool) {
        if let Some(m) = self.session.as_mut() {
            if !ok {
                m.stop_play();
            }
            m.stop_tone();
        }
    }

    /// Plays a worker's prompt `audio` (`codec`, see [`Self::tone_codec`]).
    pub(super) fn play(
        &mut self,
        audio: std::sync::Arc<[u8]>,
        loops: u32,
        id: u64,
        codec: (u8, Codec),
    ) {
        if let Some(m) = self.session.as_mut() {
            m.play(audio, loops, id, codec);
        }
    }

    pub(super) fn stop_play(&mut self) {
        if let Some(m) = self.session.as_mut() {
            m.stop_play();
        }
    }

    /// A worker's record command. The call records into one file at most:
    /// `Start` opens it (once) or resumes it. `Stop` closes it and returns
    /// the file and how long it has recorded.
    pub(super) fn record(
        &mut self,
        action: RecordAction,
    ) -> Result<Option<(&Path, Duration)>, RecordRefused> {
        let Some(m) = self.session.as_mut() else {
            return Err(RecordRefused::NoMedia);
        };
        match action {
            RecordAction::Start => {
                if self.recording.is_none() {
                    self.recording = m.record(&uuid::Uuid::new_v4().to_string());
                }
                m.pause_record(false);
                if self.recording.is_none() {
                    return Err(RecordRefused::NoRecorder);
                }
            }
            RecordAction::Pause => m.pause_record(true),
            RecordAction::Resume => m.pause_record(false),
            RecordAction::Stop => {
                m.stop_record();
                return Ok(self.recording.as_ref().map(|(path, first)| {
                    let took = first.get().map(|t| t.elapsed()).unwrap_or_default();
                    (path.as_path(), took)
                }));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
