//! The call task's media decisions: every SDP that crosses the gateway is
//! rewritten to point at our relay, the early-media override and the busy
//! tone put the gateway's own tone in front of the caller, pre-connect
//! recording starts with the call, T.38 offers are refused where the trunk
//! has fax off, and dead media ends an answered call.

use bytes::Bytes;
use tokio::time::Instant;

use crate::config::{EarlyMediaOverride, FaxSupport, RecordingSetting};
use crate::media::relay::{Leg, MediaEvent};
use crate::media::session::{MediaError, MediaSession};
use crate::media::srtp::SrtpPolicy;
use crate::media::tones::{self, Cadence, ToneKind};
use crate::policy::inbound::carrier_for_source;
use crate::sip::Message;

use super::Call;
use crate::call::hub::{CallEvent, CallHub, CallSender};
use crate::call::outcome::{EndReason, HangupBy, Outcome};
use crate::call::route::HopKind;
use crate::config::Direction;
use crate::store::CallStatus;

/// The message carries an SDP body (RFC 3264) that we must anchor.
pub(crate) fn has_sdp(msg: &Message) -> bool {
    !msg.body().is_empty()
        && msg.content_type().is_none_or(|ct| {
            let ct = ct.as_ref();
            ct.len() >= 15 && ct[..15].eq_ignore_ascii_case(b"application/sdp")
        })
}

/// A media session for a new call, when media anchoring is on.
pub(super) fn new_session(
    hub: &CallHub,
    me: &CallSender,
    caller: std::net::SocketAddr,
) -> Option<MediaSession> {
    if !hub.media.enabled() {
        return None;
    }
    let tx = me.clone();
    let notify = Box::new(move |ev: MediaEvent| {
        let _ = tx.try_send(CallEvent::Media(ev));
    });
    let mut s = MediaSession::new(std::sync::Arc::clone(&hub.media), notify);
    s.set_peer(Leg::Caller, caller);
    Some(s)
}

/// The tone for `country` (ISO alpha-2) or the configured default.
fn cadence(hub: &CallHub, country: Option<String>, kind: ToneKind) -> &'static Cadence {
    let c = country.or_else(|| hub.media.settings().default_country.clone());
    tones::tone(c.as_deref(), kind)
}

impl Call {
    /// The caller's offer (if any) is anchored before any routing: a bad SDP
    /// gets 488, an exhausted port range 503. False: the call has failed.
    pub(super) async fn media_start(&mut self) -> bool {
        let Some(inv) = self.transactions.caller_invite_request().cloned() else {
            return true;
        };
        let policy = self.caller_srtp_policy();
        let Some(m) = self.media.as_mut() else {
            return true;
        };
        m.set_srtp_policy(Leg::Caller, policy);
        if has_sdp(&inv) {
            if let Err(e) = m.relay_sdp(Leg::Caller, inv.body()) {
                self.media_failed(&e).await;
                return false;
            }
        }
        let record = self
            .trunk
            .recording
            .as_ref()
            .is_some_and(|r| r.setting == RecordingSetting::PreConnect);
        if record {
            let name = uuid::Uuid::new_v4().to_string();
            self.recording = m.record(&name);
        }
        true
    }

    /// The caller's SRTP policy: an outbound trunk's `media_encryption`, or
    /// the `srtp` of the carrier an inbound call comes from.
    fn caller_srtp_policy(&self) -> SrtpPolicy {
        if self.direction == Direction::Outbound {
            return self.trunk.media_encryption.policy();
        }
        let carriers = &self.snapshot.config.carriers;
        carrier_for_source(carriers, self.legs.caller().peer.addr)
            .and_then(|i| carriers.get(i))
            .map(|c| c.srtp)
            .unwrap_or_default()
    }

    /// The SRTP policy toward the current hop: its carrier's `srtp`, or for
    /// a trunk's PBX destination that trunk's `media_encryption`.
    fn callee_srtp_policy(&self) -> SrtpPolicy {
        let Some(hop) = self.chain.current() else {
            return SrtpPolicy::default();
        };
        match hop.kind {
            HopKind::Carrier => self
                .snapshot
                .config
                .carriers
                .iter()
                .find(|c| c.address == hop.target.addr)
                .map(|c| c.srtp)
                .unwrap_or_default(),
            HopKind::Destination => self.chain.route_trunk().media_encryption.policy(),
        }
    }

    async fn media_failed(&mut self, e: &MediaError) {
        let (code, reason) = e.sip_code();
        tracing::info!(call = self.number, error = %e, "media refused");
        self.reason = Some(EndReason::Layer(e.name()));
        self.fail_a(code, reason, CallStatus::Failed).await;
    }

    /// The body of the INVITE toward the B leg's `peer`: the caller's SDP
    /// pointing at our B-side ports. `None`: send the caller's body as it is.
    pub(super) fn media_b_offer(
        &mut self,
        inv: &Message,
        peer: std::net::SocketAddr,
    ) -> Option<Bytes> {
        let policy = self.callee_srtp_policy();
        let m = self.media.as_mut()?;
        m.set_peer(Leg::Callee, peer);
        m.set_srtp_policy(Leg::Callee, policy);
        if !has_sdp(inv) {
            return None;
        }
        match m.relay_sdp(Leg::Caller, inv.body()) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(call = self.number, error = %e, "caller SDP not anchored for this hop");
                None
            }
        }
    }

    /// An SDP from `from` (any offer or answer in the dialog): the body the
    /// other side gets. `Ok(None)`: no SDP or no media anchoring.
    pub(super) fn media_relay_body(
        &mut self,
        from: Leg,
        msg: &Message,
    ) -> Result<Option<Bytes>, MediaError> {
        let Some(m) = self.media.as_mut() else {
            return Ok(None);
        };
        if !has_sdp(msg) {
            return Ok(None);
        }
        m.relay_sdp(from, msg.body()).map(Some)
    }

    /// An in-dialog offer (re-INVITE/UPDATE) from `from`, parsed once: a T.38
    /// offer on a trunk with `outbound.fax_support = disabled` is refused
    /// (`FaxRefused`, 488), anything else is anchored like [`Self::media_relay_body`].
    pub(super) fn media_relay_offer(
        &mut self,
        from: Leg,
        msg: &Message,
    ) -> Result<Option<Bytes>, MediaError> {
        if !has_sdp(msg) {
            return Ok(None);
        }
        let fax_off = self
            .trunk
            .outbound
            .as_ref()
            .is_some_and(|o| o.fax_support == FaxSupport::Disabled);
        if self.media.is_none() && !fax_off {
            return Ok(None);
        }
        let parsed = crate::sip::sdp::parse(msg.body());
        if fax_off && parsed.as_ref().is_ok_and(|s| s.has_t38()) {
            return Err(MediaError::FaxRefused);
        }
        let Some(m) = self.media.as_mut() else {
            return Ok(None);
        };
        m.relay_offer(from, &parsed?).map(Some)
    }

    /// The ringback the caller hears instead of the carrier's early media
    /// (`outbound.override_early_media`), if the trunk asks for one.
    fn override_cadence(&self) -> Option<&'static Cadence> {
        let country = match self.trunk.early_media_override()? {
            EarlyMediaOverride::ToCountry => tones::country_of_number(&self.api_no),
            EarlyMediaOverride::FromCountry => tones::country_of_number(&self.caller_no),
            EarlyMediaOverride::Country(code) => Some(code.clone()),
        };
        Some(cadence(&self.hub, country, ToneKind::Ringback))
    }

    /// On the carrier's first 180/183 of an override trunk: start our
    /// ringback toward the caller and return the SDP the caller's 183 carries
    /// (the same on every later provisional). `None`: no override here.
    pub(super) fn override_sdp(&mut self) -> Option<Bytes> {
        if let Some(sdp) = &self.tone_sdp {
            return Some(sdp.clone());
        }
        let cadence = self.override_cadence()?;
        let m = self.media.as_mut()?;
        let codec = m.tone_codec()?;
        let sdp = m.tone_sdp(codec)?;
        m.start_tone(cadence, codec);
        self.tone_sdp = Some(sdp.clone());
        Some(sdp)
    }

    /// The callee answered: its media replaces our tone, dead-media watch starts.
    pub(super) fn media_answered(&mut self) {
        if let Some(m) = self.media.as_mut() {
            if self.tone_sdp.is_some() {
                m.stop_tone();
            }
            m.answered();
        }
    }

    /// Inbound over the trunk's limit: the carrier hears our busy tone in
    /// early media (183 with our SDP) for `media.busy_tone_s`, then 486.
    /// False: no tone possible (no SDP, no G.711), answer 486 at once.
    pub(super) async fn start_busy_tone(&mut self) -> bool {
        let country = tones::country_of_number(&self.api_no);
        let cadence = cadence(&self.hub, country, ToneKind::Busy);
        let busy_for = self.hub.media.settings().busy_tone;
        let Some(m) = self.media.as_mut() else {
            return false;
        };
        let Some(codec) = m.tone_codec() else {
            return false;
        };
        let Some(sdp) = m.tone_sdp(codec) else {
            return false;
        };
        m.start_tone(cadence, codec);
        self.tone_sdp = Some(sdp.clone());
        self.setup_timers.busy = Some(Instant::now() + busy_for);
        self.send_a_provisional(183, "Session Progress", Some(sdp))
            .await;
        true
    }

    /// Inbound over the limit: the busy tone, or 486 at once when no tone is possible.
    pub(super) async fn busy_call(&mut self) {
        if !self.start_busy_tone().await {
            self.busy_tone_done().await;
        }
    }

    /// The busy tone has played: 486 to the caller, for `busy_reason`.
    pub(super) async fn busy_tone_done(&mut self) {
        self.setup_timers.busy = None;
        let reason = self.busy_reason.take().unwrap_or(EndReason::LimitReached);
        self.reason = Some(reason);
        self.fail_a(486, "Busy Here", CallStatus::Busy).await;
    }

    pub(super) async fn on_media_event(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::RtpTimeout => {
                if self.phase.is_ended() || self.phase.answered_at().is_none() {
                    return;
                }
                tracing::info!(
                    call = self.number,
                    "no RTP on the answered call; hanging up"
                );
                self.reason = Some(EndReason::RtpTimeout);
                self.bye_both(Leg::Caller).await;
                self.end(Outcome::completed(HangupBy::Gateway));
            }
            // Keys pressed by the caller matter to call flows (the worker); a
            // trunk call relays them end to end untouched.
            MediaEvent::Dtmf { digit, duration_ms } => {
                self.flow_dtmf(digit, duration_ms, crate::flow::DtmfSource::Rfc4733)
            }
            MediaEvent::PlaybackFinished { id, interrupted } => {
                self.flow_playback_finished(id, interrupted)
            }
            MediaEvent::OneWay(ow) => self.on_one_way(ow),
        }
    }
}
