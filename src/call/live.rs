//! What the live-call list (`GET /v1/LiveCalls`) shows about one call: the
//! shape each call task publishes into `CallHub::live` while it runs. A leaf.

use crate::media::quality::{LiveQuality, QualityReport};

/// What the live-call list shows about one call.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LiveCall {
    pub call_id: String,
    pub trunk_id: uuid::Uuid,
    pub direction: &'static str,
    pub caller_no: String,
    pub api_no: String,
    /// `ringing` until answered, then `answered`.
    pub state: &'static str,
    pub start_time: String,
    pub legs: LiveLegs,
    /// Running media quality (spec addition), refreshed once a second; null
    /// before the first refresh or with `media.quality = false`.
    #[schema(value_type = Option<crate::media::quality::QualityReport>)]
    pub quality: LiveQualityView,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LiveLegs {
    pub caller: LiveLeg,
    pub callee: Option<LiveLeg>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LiveLeg {
    pub call_id: String,
    pub peer: String,
    pub transport: &'static str,
}

/// A live call's running quality figures, read at each `GET /v1/LiveCalls`.
#[derive(Debug, Clone, Default)]
pub struct LiveQualityView(pub Option<LiveQuality>);

impl serde::Serialize for LiveQualityView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let now: Option<QualityReport> = self
            .0
            .as_ref()
            .and_then(|cell| cell.lock().ok().and_then(|q| q.clone()));
        now.serialize(s)
    }
}
