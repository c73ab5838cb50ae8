//! The trunk model, field for field as the trunk API spec names it, so the
//! same serde types serve the TOML seed data (`[[trunks]]`), the REST API's
//! JSON bodies (`api::trunks`; described for the OpenAPI document in
//! `api::schema`) and the stored rows (`store`). Deserializing checks only
//! the shape; the rules (unique domains, failover targets that exist, ...)
//! are checked in one step, `validate_trunk_set` (`validate/trunk_set.rs`),
//! for the config file and for every store edit alike (`store::trunks`).
//! The gateway itself reads a trunk as a [`TrunkModel`] (`model.rs`): the
//! string-typed fields parsed once into enums.

mod model;

pub use model::{EarlyMediaOverride, FailoverTarget, ModelError, TrunkModel, WorkerQueue};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    pub trunk_id: Uuid,
    #[serde(default)]
    pub status: TrunkStatus,
    pub direction: Direction,
    /// Concurrent calls allowed on the trunk; absent = unlimited.
    #[serde(default)]
    pub simultaneous_call_limit: Option<u32>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub recording: Option<Recording>,
    #[serde(default)]
    pub inbound: Option<InboundSettings>,
    #[serde(default)]
    pub outbound: Option<OutboundSettings>,
    /// Extension to the spec's trunk object: SDES-SRTP on the PBX leg.
    #[serde(default)]
    pub media_encryption: MediaEncryption,
}

/// `media_encryption` (a trunkgate addition to the trunk object): whether the
/// leg toward the trunk's PBX uses SRTP (RFC 4568 SDES, RFC 3711).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaEncryption {
    /// SRTP when the PBX offers it (or the other leg did), else RTP.
    #[default]
    Optional,
    /// SRTP only: an SDP without usable `a=crypto` gets 488.
    Required,
    /// RTP only: an RTP/SAVP offer gets 488.
    Disabled,
}

impl MediaEncryption {
    pub fn policy(self) -> crate::media::srtp::SrtpPolicy {
        use crate::media::srtp::SrtpPolicy;
        match self {
            MediaEncryption::Optional => SrtpPolicy::Optional,
            MediaEncryption::Required => SrtpPolicy::Required,
            MediaEncryption::Disabled => SrtpPolicy::Off,
        }
    }
}

impl Trunk {
    pub fn is_active(&self) -> bool {
        self.status == TrunkStatus::Active
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkStatus {
    #[default]
    Active,
    Inactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    pub setting: RecordingSetting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingSetting {
    PreConnect,
    DoNotRecord,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSettings {
    /// DNS name or IP[:port] of the customer's PBX.
    #[serde(default)]
    pub destination: Option<String>,
    #[serde(default)]
    pub failover: Option<Failover>,
    #[serde(default)]
    pub phone_numbers_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failover {
    pub source: FailoverSource,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverSource {
    TrunkId,
    PhoneNumber,
    SipUri,
    Api,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSettings {
    /// The trunk's SIP domain (Request-URI host); null = matched by source address.
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub authentication: Vec<Authentication>,
    /// null, `to_country`, `from_country` or an ISO 3166 alpha-2 code.
    #[serde(default)]
    pub override_early_media: Option<String>,
    #[serde(default)]
    pub fax_support: FaxSupport,
    /// Seconds, 7..=30.
    #[serde(default)]
    pub max_post_dial_delay: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    pub source: AuthSource,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthSource {
    /// An IP address or CIDR.
    Other,
    /// A Twilio Account SID (checked with the Twilio signaling ranges).
    Twilio,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaxSupport {
    Enabled,
    #[default]
    Disabled,
}
