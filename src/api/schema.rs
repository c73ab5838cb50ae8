//! The schema types of the OpenAPI document (`openapi.rs`): a leaf the
//! handlers name in their `#[utoipa::path]` attributes.
//!
//! The trunk and call-log bodies are the crate's own serde types
//! (`config::Trunk`, `store::CallRecord`); the `*Doc` types here describe
//! them for the document only. A unit test (`openapi_tests.rs`) checks every
//! field those types serialize is in the matching schema, so the two cannot
//! drift apart. Imports nothing of `api` but `page`.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::page::Pagination;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = TrunkStatus)]
pub enum StatusDoc {
    Active,
    Inactive,
}

/// A trunkgate addition to the spec's trunk object: SDES-SRTP (RFC 4568) on
/// the leg toward the trunk's PBX. `optional` (default): SRTP when offered;
/// `required`: an SDP without usable `a=crypto` gets 488; `disabled`: RTP
/// only, an `RTP/SAVP` offer gets 488.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = MediaEncryption)]
pub enum MediaEncryptionDoc {
    Optional,
    Required,
    Disabled,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Direction)]
pub enum DirectionDoc {
    Inbound,
    Outbound,
}

/// `{"setting": "pre_connect" | "do_not_record"}`
#[derive(Serialize, ToSchema)]
#[schema(as = Recording)]
pub struct RecordingDoc {
    /// Absent (`"recording": {}`) = no setting.
    #[schema(pattern = "^(pre_connect|do_not_record)$")]
    pub setting: Option<String>,
}

/// Where an inbound call goes when the destination cannot be reached.
/// `value` by `source`: `trunk_id` = another trunk's id; `phone_number` =
/// E.164; `sip_uri` = a `sip:`/`sips:` URI; `api` = `CallFlows` or `ParkingLot`.
#[derive(Serialize, ToSchema)]
#[schema(as = Failover)]
pub struct FailoverDoc {
    #[schema(pattern = "^(trunk_id|phone_number|sip_uri|api)$")]
    pub source: String,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = InboundSettings)]
pub struct InboundDoc {
    /// DNS name or IP, optional `:port`: the customer's PBX. An inbound
    /// trunk needs a destination or a failover.
    pub destination: Option<String>,
    pub failover: Option<FailoverDoc>,
    /// Read-only: `/v1/PhoneNumbers/Trunks/{trunk_id}`.
    pub phone_numbers_uri: Option<String>,
}

/// `other`: an IP address or CIDR; `twilio`: an Account SID (`AC` + 32 hex).
#[derive(Serialize, ToSchema)]
#[schema(as = Authentication)]
pub struct AuthenticationDoc {
    #[schema(pattern = "^(other|twilio)$")]
    pub source: String,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = OutboundSettings)]
pub struct OutboundDoc {
    /// A DNS name, unique across trunks (stored lowercased); null = matched
    /// by source address.
    pub domain: Option<String>,
    /// At least one entry on an outbound trunk.
    pub authentication: Vec<AuthenticationDoc>,
    /// null, `to_country`, `from_country` or an ISO 3166 alpha-2 code.
    pub override_early_media: Option<String>,
    /// `enabled` or `disabled` (default).
    #[schema(pattern = "^(enabled|disabled)$")]
    pub fax_support: Option<String>,
    /// Seconds, 7..=30.
    #[schema(minimum = 7, maximum = 30)]
    pub max_post_dial_delay: Option<u32>,
}

/// A trunk as returned.
#[derive(Serialize, ToSchema)]
#[schema(as = Trunk)]
pub struct TrunkDoc {
    pub trunk_id: Uuid,
    pub status: StatusDoc,
    pub direction: DirectionDoc,
    /// Concurrent calls allowed (≥ 1); null = unlimited.
    #[schema(minimum = 1)]
    pub simultaneous_call_limit: Option<u32>,
    pub description: Option<String>,
    pub recording: Option<RecordingDoc>,
    /// Required when direction is inbound.
    pub inbound: Option<InboundDoc>,
    /// Required when direction is outbound.
    pub outbound: Option<OutboundDoc>,
    /// trunkgate extension (not in the spec): SRTP on the PBX leg.
    pub media_encryption: MediaEncryptionDoc,
    /// RFC 3339.
    pub created_on: String,
    /// RFC 3339.
    pub updated_on: String,
    /// Same as updated_on.
    pub modified_on: String,
    /// Always null (a gateway has no applications); ignored in bodies.
    pub app_id: Option<String>,
    /// Always null (a gateway has no sub accounts); ignored in bodies.
    pub subaccount_id: Option<String>,
}

/// A trunk as sent. POST: `direction` is required, `trunk_id` is generated
/// when absent. PUT: a partial update — only the fields given change, nested
/// objects merge field by field, arrays are replaced, null clears; the
/// result must satisfy the same rules. The read-only fields of a returned
/// trunk (`created_on`, `updated_on`, `modified_on`, `app_id`,
/// `subaccount_id`, `inbound.phone_numbers_uri`) are ignored; other unknown
/// fields are refused. Only the block of the trunk's direction is kept.
#[derive(Serialize, ToSchema)]
#[schema(as = TrunkBody)]
pub struct TrunkBodyDoc {
    pub trunk_id: Option<Uuid>,
    pub status: Option<StatusDoc>,
    pub direction: Option<DirectionDoc>,
    #[schema(minimum = 1)]
    pub simultaneous_call_limit: Option<u32>,
    pub description: Option<String>,
    pub recording: Option<RecordingDoc>,
    pub inbound: Option<InboundDoc>,
    pub outbound: Option<OutboundDoc>,
    /// trunkgate extension (not in the spec); absent on POST: `optional`.
    pub media_encryption: Option<MediaEncryptionDoc>,
    /// Read-only: ignored.
    pub app_id: Option<String>,
    /// Read-only: ignored.
    pub subaccount_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = TrunkList)]
pub struct TrunkListDoc {
    pub trunks: Vec<TrunkDoc>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
#[schema(as = SipInfo)]
pub struct SipInfoDoc {
    pub call_id: String,
    pub response_code: u16,
}

/// One finished call.
#[derive(Serialize, ToSchema)]
#[schema(as = CallLog)]
pub struct CallRecordDoc {
    pub id: Uuid,
    pub call_id: String,
    pub parent_call_id: Option<String>,
    pub caller_no: String,
    pub api_no: String,
    /// RFC 3339.
    pub start_time: String,
    pub end_time: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `caller` or `api`.
    pub hangup_end: Option<String>,
    /// Milliseconds.
    pub duration: u64,
    /// completed, busy, canceled, failed, no-answer, restricted, error.
    pub status: String,
    pub error: Option<String>,
    pub error_code: Option<u16>,
    /// Whole seconds connected (0: never answered).
    pub connect_time_sec: u64,
    pub sip: SipInfoDoc,
    /// `sip_trunking`.
    pub service: String,
    pub trunk_id: Option<Uuid>,
    pub reason: Option<String>,
    /// Pre-connect recording of the call, if the trunk records.
    pub recording: Option<RecordingRefDoc>,
    /// `voice`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub r#type: String,
    /// Always null: a gateway has no applications.
    pub app_id: Option<String>,
    /// Always null: a gateway has no sub accounts.
    pub subaccount_id: Option<u64>,
    /// Connected minutes (`connect_time_sec / 60`).
    pub connect_time_billed: f64,
    /// Media quality (addition to the spec): loss, jitter, MOS per direction,
    /// the endpoints' RTCP reports, one-way audio. Null without anchored media.
    pub quality: Option<crate::media::quality::QualityReport>,
}

/// A call's recording file.
#[derive(Serialize, ToSchema)]
#[schema(as = CallRecording)]
pub struct RecordingRefDoc {
    /// Path of the stereo WAV on the gateway (left = caller, right = callee).
    pub path: String,
    /// Seconds.
    pub duration: f64,
}

#[derive(Serialize, ToSchema)]
#[schema(as = CallLogList)]
pub struct CallListDoc {
    /// At most 1,000, oldest first.
    pub logs: Vec<CallRecordDoc>,
    /// The window searched (inclusive).
    pub begin_date: String,
    /// The window's end (exclusive).
    pub end_date: String,
    /// More records may follow: fetch `next_block_uri`.
    pub is_truncated: bool,
    pub next_block_uri: Option<String>,
}
