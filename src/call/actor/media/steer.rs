//! The call's side of its media component: the facts the component gets
//! from the call (the SRTP policies of the trunk and carriers, tone
//! cadences by country, the trunk's fax and recording settings), the SIP
//! the call sends for media (488/503 for a refused offer, the busy tone's
//! 183 then 486) and the media task's events (dead media, key presses,
//! prompts played, one-way audio).

use bytes::Bytes;
use tokio::time::Instant;

use crate::call::outcome::{EndReason, HangupBy, Outcome};
use crate::call::route::HopKind;
use crate::config::{Direction, EarlyMediaOverride, FaxSupport, RecordingSetting, TrunkModel};
use crate::media::relay::{Leg, MediaEvent};
use crate::media::session::MediaError;
use crate::media::srtp::SrtpPolicy;
use crate::media::tones::{self, Cadence, ToneKind};
use crate::policy::inbound::carrier_for_source;
use crate::sip::Message;
use crate::store::CallStatus;

use crate::call::actor::Call;
use crate::call::hub::CallHub;

/// The tone for `country` (ISO alpha-2) or the configured default.
fn cadence(hub: &CallHub, country: Option<String>, kind: ToneKind) -> &'static Cadence {
    let c = country.or_else(|| hub.media.settings().default_country.clone());
    tones::tone(c.as_deref(), kind)
}

/// The ringback the caller hears instead of the carrier's early media
/// (`outbound.override_early_media`), if `trunk` asks for one.
fn override_cadence(
    hub: &CallHub,
    trunk: &TrunkModel,
    api_no: &str,
    caller_no: &str,
) -> Option<&'static Cadence> {
    let country = match trunk.early_media_override()? {
        EarlyMediaOverride::ToCountry => tones::country_of_number(api_no),
        EarlyMediaOverride::FromCountry => tones::country_of_number(caller_no),
        EarlyMediaOverride::Country(code) => Some(code.clone()),
    };
    Some(cadence(hub, country, ToneKind::Ringback))
}

impl Call {
    /// The caller's offer (if any) is anchored before any routing: a bad SDP
    /// gets 488, an exhausted port range 503. False: the call has failed.
    pub(in crate::call::actor) async fn media_start(&mut self) -> bool {
        let Some(inv) = self.transactions.caller_invite_request().cloned() else {
            return true;
        };
        let policy = self.caller_srtp_policy();
        let pre_connect = self
            .trunk
            .recording
            .as_ref()
            .is_some_and(|r| r.setting == RecordingSetting::PreConnect);
        match self.media.start(&inv, policy, pre_connect) {
            Ok(()) => true,
            Err(e) => {
                let (code, reason) = e.sip_code();
                tracing::info!(call = self.number, error = %e, "media refused");
                self.reason = Some(EndReason::Layer(e.name()));
                self.fail_a(code, reason, CallStatus::Failed).await;
                false
            }
        }
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

    /// The body of the INVITE toward the B leg's `peer`: the caller's SDP
    /// pointing at our B-side ports. `None`: send the caller's body as it is.
    pub(in crate::call::actor) fn media_b_offer(
        &mut self,
        inv: &Message,
        peer: std::net::SocketAddr,
    ) -> Option<Bytes> {
        let policy = self.callee_srtp_policy();
        match self.media.callee_offer(inv, peer, policy) {
            Ok(sdp) => sdp,
            Err(e) => {
                tracing::warn!(call = self.number, error = %e, "caller SDP not anchored for this hop");
                None
            }
        }
    }

    /// An in-dialog offer (re-INVITE/UPDATE) from `from`: a T.38 offer on a
    /// trunk with `outbound.fax_support = disabled` is refused (488).
    pub(in crate::call::actor) fn media_relay_offer(
        &mut self,
        from: Leg,
        msg: &Message,
    ) -> Result<Option<Bytes>, MediaError> {
        let fax_off = self
            .trunk
            .outbound
            .as_ref()
            .is_some_and(|o| o.fax_support == FaxSupport::Disabled);
        self.media.relay_offer(from, msg, fax_off)
    }

    /// On the carrier's first 180/183 of an override trunk: start our
    /// ringback toward the caller and return the SDP the caller's 183 carries
    /// (the same on every later provisional). `None`: no override here.
    pub(in crate::call::actor) fn override_sdp(&mut self) -> Option<Bytes> {
        let (hub, trunk) = (&self.hub, &self.trunk);
        let (api_no, caller_no) = (&self.api_no, &self.caller_no);
        self.media
            .override_sdp(|| override_cadence(hub, trunk, api_no, caller_no))
    }

    /// Inbound over the trunk's limit: the carrier hears our busy tone in
    /// early media (183 with our SDP) for `media.busy_tone_s`, then 486.
    /// False: no tone possible (no SDP, no G.711), answer 486 at once.
    async fn start_busy_tone(&mut self) -> bool {
        let country = tones::country_of_number(&self.api_no);
        let cadence = cadence(&self.hub, country, ToneKind::Busy);
        let busy_for = self.hub.media.settings().busy_tone;
        let Some(sdp) = self.media.start_tone(cadence) else {
            return false;
        };
        self.setup_timers.busy = Some(Instant::now() + busy_for);
        self.send_a_provisional(183, "Session Progress", Some(sdp))
            .await;
        true
    }

    /// Inbound over the limit: the busy tone, or 486 at once when no tone is possible.
    pub(in crate::call::actor) async fn busy_call(&mut self) {
        if !self.start_busy_tone().await {
            self.busy_tone_done().await;
        }
    }

    /// The busy tone has played: 486 to the caller, for `busy_reason`.
    pub(in crate::call::actor) async fn busy_tone_done(&mut self) {
        self.setup_timers.busy = None;
        let reason = self.busy_reason.take().unwrap_or(EndReason::LimitReached);
        self.reason = Some(reason);
        self.fail_a(486, "Busy Here", CallStatus::Busy).await;
    }

    pub(in crate::call::actor) async fn on_media_event(&mut self, ev: MediaEvent) {
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
