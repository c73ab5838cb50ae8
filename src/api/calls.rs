//! `GET /v1/History/Logs/Calls` and `GET /v1/History/Logs/Calls/{call_id}`,
//! as the spec has them.
//!
//! Filters: `begin_date` (ISO 8601 / RFC 3339, inclusive, default one hour
//! before now), `end_date` (exclusive, default now), `direction` (`inbound`,
//! `outbound`, or both as `inbound|outbound`), `connect_time` (records
//! connected at least this many whole seconds; `connectTime` as the spec's
//! example spells it), `type` (`voice`; `sms` matches nothing here),
//! `service` (`sip_trunking`; `programmable_voice` matches nothing here),
//! `caller_no`, `api_no` (a `+` in the query is a plus). The answer is
//! `{logs, begin_date, end_date, is_truncated, next_block_uri}`: at most
//! 1,000 records, oldest first; when more may follow, `next_block_uri`
//! fetches the next block (same filters and window, `after` = the last
//! record returned).
//!
//! Each record is the stored [`CallRecord`] plus the spec's fields a gateway
//! knows without storing them: `type` (`voice`), `app_id` and
//! `subaccount_id` (null: a gateway has no applications or sub accounts) and
//! `connect_time_billed` (connected minutes, `connect_time_sec / 60`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::extract::Query;
use super::{json_response, ApiError, ApiState};
use crate::rfc3339::{format_ms, parse_rfc3339_ms, system_time_ms};
use crate::store::calllog::MAX_QUERY_LIMIT;
use crate::store::calllog::SERVICE_SIP_TRUNKING;
use crate::store::{CallLogQuery, CallRecord, StoreError};

/// Longest accepted `caller_no` / `api_no` filter (E.164 is at most 16).
const MAX_NUMBER_FILTER: usize = 64;

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallParams {
    /// ISO 8601 (RFC 3339), inclusive; default: one hour before now.
    pub begin_date: Option<String>,
    /// ISO 8601 (RFC 3339), exclusive; default: now.
    pub end_date: Option<String>,
    /// `inbound`, `outbound` or `inbound|outbound` (default: both).
    pub direction: Option<String>,
    /// Records connected at least this many seconds (`connectTime` accepted).
    #[serde(alias = "connectTime")]
    #[param(value_type = Option<u64>, minimum = 0)]
    pub connect_time: Option<String>,
    /// `voice` or `sms` (this gateway logs voice only).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub r#type: Option<String>,
    /// `sip_trunking` or `programmable_voice` (this gateway logs sip_trunking only).
    pub service: Option<String>,
    /// The far end's number.
    pub caller_no: Option<String>,
    /// The near end's number.
    pub api_no: Option<String>,
    /// Paging cursor from `next_block_uri`.
    #[param(value_type = Option<uuid::Uuid>)]
    pub after: Option<String>,
}

/// A record as the API returns it.
#[derive(Debug, Serialize)]
pub struct LogView {
    #[serde(flatten)]
    pub record: CallRecord,
    #[serde(rename = "type")]
    pub r#type: &'static str,
    pub app_id: Option<String>,
    pub subaccount_id: Option<u64>,
    pub connect_time_billed: f64,
}

impl LogView {
    pub fn new(record: CallRecord) -> LogView {
        let billed = record.connect_time_sec as f64 / 60.0;
        LogView {
            record,
            r#type: "voice",
            app_id: None,
            subaccount_id: None,
            connect_time_billed: billed,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CallList {
    pub logs: Vec<LogView>,
    pub begin_date: String,
    pub end_date: String,
    pub is_truncated: bool,
    pub next_block_uri: Option<String>,
}

pub(crate) fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::InvalidQuery { field, value, rule } => {
            let field = match field {
                "begin" => "begin_date",
                "end" => "end_date",
                "after_id" => "after",
                f => f,
            };
            ApiError::field(field, format!("{rule} (got {value:?})"))
        }
        e => ApiError::Store(e),
    }
}

fn enc(v: &str) -> String {
    serde_urlencoded::to_string([("v", v)])
        .map(|s| s.trim_start_matches("v=").to_string())
        .unwrap_or_default()
}

/// `a|b|…` of values from `allowed`: the set given, or an error naming them.
fn one_of<'a>(field: &str, v: &str, allowed: &[&'a str]) -> Result<Vec<&'a str>, ApiError> {
    v.split('|')
        .map(|part| {
            allowed
                .iter()
                .find(|a| **a == part)
                .copied()
                .ok_or_else(|| {
                    ApiError::field(
                        field,
                        format!(
                            "must be {} (several joined with |) (got {:?})",
                            allowed.join(", "),
                            v.chars().take(64).collect::<String>()
                        ),
                    )
                })
        })
        .collect()
}

fn date(field: &str, v: &str) -> Result<i64, ApiError> {
    parse_rfc3339_ms(v).ok_or_else(|| {
        ApiError::field(
            field,
            format!(
                "must be an ISO 8601 date-time such as 2016-09-19T18:00:00.000Z (got {:?})",
                v.chars().take(64).collect::<String>()
            ),
        )
    })
}

/// List call logs.
#[utoipa::path(operation_id = "calls_list", get, path = "/v1/History/Logs/Calls", tag = "History", params(CallParams),
    responses((status = 200, body = super::schema::CallListDoc), (status = 400, body = super::error::ErrorBody)))]
pub async fn list(
    State(st): State<ApiState>,
    Query(p): Query<CallParams>,
) -> Result<Response, ApiError> {
    let now = system_time_ms(std::time::SystemTime::now());
    let begin_ms = match &p.begin_date {
        Some(b) => date("begin_date", b)?,
        None => now - 3_600_000,
    };
    let end_ms = match &p.end_date {
        Some(e) => date("end_date", e)?,
        // A begin_date in the future with no end_date: an empty window.
        None => now.max(begin_ms),
    };
    if end_ms < begin_ms {
        return Err(ApiError::field("end_date", "must not be before begin_date"));
    }
    let direction = match p.direction.as_deref() {
        None => None,
        Some(d) => {
            let set = one_of("direction", d, &["inbound", "outbound"])?;
            let both = set.contains(&"inbound") && set.contains(&"outbound");
            (!both).then(|| set[0].to_string())
        }
    };
    let min_connect_sec = match p.connect_time.as_deref() {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::field(
                "connect_time",
                format!(
                    "must be a whole number of seconds, 0 or more (got {:?})",
                    v.chars().take(64).collect::<String>()
                ),
            )
        })?),
    };
    // Everything logged here is a voice call of the sip_trunking service.
    let voice = match p.r#type.as_deref() {
        None => true,
        Some(t) => one_of("type", t, &["voice", "sms"])?.contains(&"voice"),
    };
    let trunking = match p.service.as_deref() {
        None => true,
        Some(s) => one_of("service", s, &[SERVICE_SIP_TRUNKING, "programmable_voice"])?
            .contains(&SERVICE_SIP_TRUNKING),
    };
    for (k, v) in [("caller_no", &p.caller_no), ("api_no", &p.api_no)] {
        if v.as_ref().is_some_and(|v| v.len() > MAX_NUMBER_FILTER) {
            return Err(ApiError::field(
                k,
                format!("must be at most {MAX_NUMBER_FILTER} characters"),
            ));
        }
    }
    let after = match &p.after {
        None => None,
        Some(a) => Some(
            a.parse::<uuid::Uuid>()
                .map_err(|_| ApiError::field("after", "must be a cursor from next_block_uri"))?,
        ),
    };
    let (begin, end) = (format_ms(begin_ms), format_ms(end_ms));
    let q = CallLogQuery {
        begin: Some(begin.clone()),
        end: Some(end.clone()),
        direction,
        caller_no: p.caller_no.clone(),
        api_no: p.api_no.clone(),
        trunk_id: None,
        min_connect_sec,
        limit: MAX_QUERY_LIMIT,
        after_id: after,
    };
    let logs = if voice && trunking {
        st.query_logs(q).await?
    } else {
        Vec::new()
    };
    let next_block_uri = match logs.last() {
        Some(last) if logs.len() == MAX_QUERY_LIMIT => {
            let mut uri = format!(
                "/v1/History/Logs/Calls?begin_date={}&end_date={}",
                enc(&begin),
                enc(&end)
            );
            for (k, v) in [
                ("direction", &p.direction),
                ("connect_time", &p.connect_time),
                ("type", &p.r#type),
                ("service", &p.service),
                ("caller_no", &p.caller_no),
                ("api_no", &p.api_no),
            ] {
                if let Some(v) = v {
                    uri.push_str(&format!("&{k}={}", enc(v)));
                }
            }
            uri.push_str(&format!("&after={}", last.id));
            Some(uri)
        }
        _ => None,
    };
    Ok(json_response(
        StatusCode::OK,
        &CallList {
            logs: logs.into_iter().map(LogView::new).collect(),
            begin_date: begin,
            end_date: end,
            is_truncated: next_block_uri.is_some(),
            next_block_uri,
        },
    ))
}

/// One call's log record (the latest, if a Call-ID was logged twice).
#[utoipa::path(operation_id = "calls_get_one", get, path = "/v1/History/Logs/Calls/{call_id}", tag = "History",
    params(("call_id" = String, Path)),
    responses((status = 200, body = super::schema::CallRecordDoc), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_one(
    State(st): State<ApiState>,
    super::extract::PathParam(call_id): super::extract::PathParam,
) -> Result<Response, ApiError> {
    let rec = st.get_log(call_id.clone()).await?;
    match rec {
        Some(r) => Ok(json_response(StatusCode::OK, &LogView::new(r))),
        None => Err(ApiError::NotFound(format!("no call {call_id}"))),
    }
}
