//! The call-log record: one per call, in the shape the REST API returns
//! (`GET /v1/History/Logs/Calls`). The JSON field names are part of the API
//! contract; every field is always present (`null` when absent).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The service every trunk call is logged under.
pub const SERVICE_SIP_TRUNKING: &str = "sip_trunking";

/// One finished call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// This record's id.
    pub id: Uuid,
    /// The gateway's id for the call (the caller leg's Call-ID).
    pub call_id: String,
    pub parent_call_id: Option<String>,
    /// The From user of the caller leg.
    pub caller_no: String,
    /// The number on our side: the dialed number (outbound) or the DID (inbound).
    pub api_no: String,
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-22T10:00:00.123Z`.
    pub start_time: String,
    pub end_time: String,
    /// `"inbound"` or `"outbound"`.
    pub direction: String,
    /// Who hung up: `"caller"` (the calling party) or `"api"` (the gateway or
    /// the called side).
    pub hangup_end: Option<String>,
    /// Milliseconds from start to end.
    pub duration: u64,
    pub status: CallStatus,
    /// Human-readable text for failures.
    pub error: Option<String>,
    /// The SIP status code of a failure.
    pub error_code: Option<u16>,
    /// Whole seconds the call was connected (answer to end); 0 when it was
    /// never answered. Records written before schema 3 stored seconds to
    /// answer here (a float or null): migration 3 rewrote them, and a float
    /// or null still reads (truncated, null as 0).
    #[serde(deserialize_with = "whole_seconds")]
    pub connect_time_sec: u64,
    pub sip: SipInfo,
    /// Always [`SERVICE_SIP_TRUNKING`].
    pub service: String,
    pub trunk_id: Option<Uuid>,
    /// Machine-readable reason: `limit_reached`, `auth_failed`, `pdd_timeout`,
    /// `failover:sip_uri`, `rtp_timeout` …
    pub reason: Option<String>,
    /// The pre-connect recording of the call (trunk `recording.setting = pre_connect`).
    #[serde(default)]
    pub recording: Option<RecordingRef>,
    /// Media quality of the call (spec addition): both directions' loss,
    /// jitter, MOS, the endpoints' RTCP reports, one-way audio. Null for calls
    /// without anchored media (or with `media.quality = false`).
    #[serde(default)]
    pub quality: Option<crate::media::quality::QualityReport>,
}

/// `connect_time_sec` from an integer, a float (truncated; negative as 0) or
/// null (0).
fn whole_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Secs {
        Whole(u64),
        Float(f64),
    }
    Ok(match Option::<Secs>::deserialize(d)? {
        None => 0,
        Some(Secs::Whole(n)) => n,
        Some(Secs::Float(f)) if f.is_finite() && f > 0.0 => f.min(u64::MAX as f64) as u64,
        Some(Secs::Float(_)) => 0,
    })
}

/// Where a call's recording is and how long it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingRef {
    /// The WAV file on the gateway (stereo, 8 kHz, 16-bit; left = caller, right = callee).
    pub path: String,
    /// Seconds from the first recorded media packet to the end of the call.
    pub duration: f64,
}

/// SIP facts of the caller leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SipInfo {
    /// The caller leg's Call-ID.
    pub call_id: String,
    /// The final response code sent to the caller (RFC 3261 §21).
    pub response_code: u16,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CallStatus {
    #[serde(rename = "completed")]
    Completed,
    #[serde(rename = "busy")]
    Busy,
    #[serde(rename = "canceled")]
    Canceled,
    #[serde(rename = "failed")]
    Failed,
    #[serde(rename = "no-answer")]
    NoAnswer,
    #[serde(rename = "restricted")]
    Restricted,
    #[serde(rename = "error")]
    Error,
}

impl CallStatus {
    /// Every status, in declaration order.
    pub const ALL: [CallStatus; 7] = [
        CallStatus::Completed,
        CallStatus::Busy,
        CallStatus::Canceled,
        CallStatus::Failed,
        CallStatus::NoAnswer,
        CallStatus::Restricted,
        CallStatus::Error,
    ];

    /// The wire string, identical to the serde form (usable as a metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Completed => "completed",
            CallStatus::Busy => "busy",
            CallStatus::Canceled => "canceled",
            CallStatus::Failed => "failed",
            CallStatus::NoAnswer => "no-answer",
            CallStatus::Restricted => "restricted",
            CallStatus::Error => "error",
        }
    }
}

impl std::fmt::Display for CallStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rfc3339::format_ms;
    use proptest::prelude::*;

    /// A record with every optional field set.
    pub(crate) fn full_record() -> CallRecord {
        CallRecord {
            id: Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0),
            call_id: "a84b4c76e66710@pbx.example.com".into(),
            parent_call_id: Some("parent-1@pbx".into()),
            caller_no: "+14155550100".into(),
            api_no: "+14155550199".into(),
            start_time: "2026-11-22T10:00:00.123Z".into(),
            end_time: "2026-11-22T10:01:00.456Z".into(),
            direction: "outbound".into(),
            hangup_end: Some("caller".into()),
            duration: 60_333,
            status: CallStatus::Completed,
            error: Some("none really".into()),
            error_code: Some(487),
            connect_time_sec: 58,
            sip: SipInfo {
                call_id: "a84b4c76e66710@pbx.example.com".into(),
                response_code: 200,
            },
            service: SERVICE_SIP_TRUNKING.into(),
            trunk_id: Some(Uuid::from_u128(42)),
            reason: Some("failover:sip_uri".into()),
            recording: Some(RecordingRef {
                path: "data/recordings/x.wav".into(),
                duration: 12.5,
            }),
            quality: Some(crate::media::quality::report::tests::sample()),
        }
    }

    /// A record with every optional field absent.
    pub(crate) fn bare_record() -> CallRecord {
        CallRecord {
            id: Uuid::from_u128(7),
            call_id: "c-7".into(),
            parent_call_id: None,
            caller_no: "100".into(),
            api_no: "200".into(),
            start_time: "2026-11-22T10:00:00.000Z".into(),
            end_time: "2026-11-22T10:00:00.000Z".into(),
            direction: "inbound".into(),
            hangup_end: None,
            duration: 0,
            status: CallStatus::NoAnswer,
            error: None,
            error_code: None,
            connect_time_sec: 0,
            sip: SipInfo {
                call_id: "c-7".into(),
                response_code: 480,
            },
            service: SERVICE_SIP_TRUNKING.into(),
            trunk_id: None,
            reason: None,
            recording: None,
            quality: None,
        }
    }

    /// Arbitrary records: any text, any finite float, any code, any instant
    /// from year 0 to 9999.
    pub(crate) fn any_record() -> impl Strategy<Value = CallRecord> {
        let text = || "\\PC{0,24}";
        let ms = || -62_167_219_200_000i64..253_402_300_800_000;
        let opt_text = || proptest::option::of(text());
        (
            (
                any::<u128>(),
                text(),
                opt_text(),
                text(),
                text(),
                ms(),
                ms(),
            ),
            (
                prop::bool::ANY,
                opt_text(),
                any::<u64>(),
                prop::sample::select(CallStatus::ALL.to_vec()),
                opt_text(),
                proptest::option::of(any::<u16>()),
            ),
            (
                any::<u64>(),
                text(),
                any::<u16>(),
                proptest::option::of(any::<u128>()),
                opt_text(),
            ),
        )
            .prop_map(|(a, b, c)| CallRecord {
                id: Uuid::from_u128(a.0),
                call_id: a.1,
                parent_call_id: a.2,
                caller_no: a.3,
                api_no: a.4,
                start_time: format_ms(a.5),
                end_time: format_ms(a.6),
                direction: if b.0 { "inbound" } else { "outbound" }.into(),
                hangup_end: b.1,
                duration: b.2,
                status: b.3,
                error: b.4,
                error_code: b.5,
                connect_time_sec: c.0,
                sip: SipInfo {
                    call_id: c.1,
                    response_code: c.2,
                },
                service: SERVICE_SIP_TRUNKING.into(),
                trunk_id: c.3.map(Uuid::from_u128),
                reason: c.4,
                recording: None,
                quality: None,
            })
    }

    proptest! {
        /// Every record survives JSON exactly (floats included: serde_json's
        /// `float_roundtrip`).
        #[test]
        fn any_record_round_trips_through_json(rec in any_record()) {
            let s = serde_json::to_string(&rec).unwrap();
            let back: CallRecord = serde_json::from_str(&s).unwrap();
            prop_assert_eq!(back, rec);
        }
    }

    #[test]
    fn status_serializes_to_spec_strings() {
        let want = [
            "completed",
            "busy",
            "canceled",
            "failed",
            "no-answer",
            "restricted",
            "error",
        ];
        for (st, w) in CallStatus::ALL.iter().zip(want) {
            assert_eq!(serde_json::to_string(st).unwrap(), format!("\"{w}\""));
            assert_eq!(st.as_str(), w);
            assert_eq!(st.to_string(), w);
            let back: CallStatus = serde_json::from_str(&format!("\"{w}\"")).unwrap();
            assert_eq!(back, *st);
        }
        assert!(serde_json::from_str::<CallStatus>("\"NoAnswer\"").is_err());
        assert!(serde_json::from_str::<CallStatus>("\"no_answer\"").is_err());
    }

    #[test]
    fn json_has_exactly_the_spec_field_names() {
        let v = serde_json::to_value(bare_record()).unwrap();
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut want = vec![
            "id",
            "call_id",
            "parent_call_id",
            "caller_no",
            "api_no",
            "start_time",
            "end_time",
            "direction",
            "hangup_end",
            "duration",
            "status",
            "error",
            "error_code",
            "connect_time_sec",
            "sip",
            "service",
            "trunk_id",
            "reason",
            "recording",
            "quality",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        // Absent fields are present as null, not omitted.
        assert!(obj["parent_call_id"].is_null());
        assert!(obj["trunk_id"].is_null());
        let sip = obj["sip"].as_object().unwrap();
        let mut sip_keys: Vec<&str> = sip.keys().map(String::as_str).collect();
        sip_keys.sort_unstable();
        assert_eq!(sip_keys, ["call_id", "response_code"]);
        assert_eq!(sip["response_code"], 480);
        assert_eq!(obj["status"], "no-answer");
        assert_eq!(obj["service"], "sip_trunking");
        assert_eq!(obj["id"], "00000000-0000-0000-0000-000000000007");
    }

    #[test]
    fn old_float_or_null_connect_time_reads_as_whole_seconds() {
        let mut v = serde_json::to_value(bare_record()).unwrap();
        for (old, want) in [
            (serde_json::json!(null), 0),
            (serde_json::json!(2.9), 2),
            (serde_json::json!(-1.0), 0),
            (serde_json::json!(7), 7),
        ] {
            v["connect_time_sec"] = old;
            let r: CallRecord = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(r.connect_time_sec, want);
        }
    }

    #[test]
    fn json_round_trips_exactly() {
        for rec in [full_record(), bare_record()] {
            let s = serde_json::to_string(&rec).unwrap();
            let back: CallRecord = serde_json::from_str(&s).unwrap();
            assert_eq!(back, rec);
        }
        let v = serde_json::to_value(full_record()).unwrap();
        assert_eq!(v["trunk_id"], "00000000-0000-0000-0000-00000000002a");
        assert_eq!(v["connect_time_sec"], 58);
        assert_eq!(v["error_code"], 487);
    }
}
