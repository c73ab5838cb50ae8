//! `GET /v1/History/Logs/Calls` and `GET /v1/History/Logs/Calls/{call_id}`.
//!
//! Filters: `begin_date` (RFC 3339, default one hour ago; records that
//! started at or after it), `end_date` (before it), `direction`
//! (`inbound`/`outbound`), `connect_time` (`true`: answered calls only,
//! `false`: unanswered only), `service` (every trunk call is
//! `sip_trunking`), `caller_no`, `api_no`. At most 1,000 records per
//! response, oldest first; when more may follow, `is_truncated` is true and
//! `next_block_uri` fetches the next block (same filters, `after` = the last
//! record scanned).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::extract::Query;
use super::{json_response, ApiError, ApiState};
use crate::store::calllog::MAX_QUERY_LIMIT;
use crate::store::calllog::SERVICE_SIP_TRUNKING;
use crate::store::rfc3339::{format_ms, parse_rfc3339_ms, system_time_ms};
use crate::store::{CallLogQuery, CallRecord, StoreError};

/// Store blocks scanned per request when `connect_time`/`service` filter
/// records out (bounds the work one request can cause).
const MAX_SCANNED_BLOCKS: usize = 20;

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallParams {
    /// RFC 3339; default: one hour ago.
    pub begin_date: Option<String>,
    /// RFC 3339; records that started before it.
    pub end_date: Option<String>,
    /// `inbound` or `outbound`.
    pub direction: Option<String>,
    /// `true`: answered calls only; `false`: unanswered only.
    pub connect_time: Option<String>,
    /// `sip_trunking` (the only service this gateway logs).
    pub service: Option<String>,
    pub caller_no: Option<String>,
    pub api_no: Option<String>,
    /// Paging cursor from `next_block_uri`.
    #[param(value_type = Option<uuid::Uuid>)]
    pub after: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CallList {
    pub calls: Vec<CallRecord>,
    pub is_truncated: bool,
    pub next_block_uri: Option<String>,
}

fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::InvalidQuery { field, value, rule } => {
            let field = match field {
                "begin" => "begin_date",
                "end" => "end_date",
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

/// List call logs.
#[utoipa::path(get, path = "/v1/History/Logs/Calls", tag = "History", params(CallParams),
    responses((status = 200, body = super::openapi::CallListDoc), (status = 400, body = super::error::ErrorBody)))]
pub async fn list(
    State(st): State<ApiState>,
    Query(p): Query<CallParams>,
) -> Result<Response, ApiError> {
    let begin = match &p.begin_date {
        Some(b) => b.clone(),
        None => format_ms(system_time_ms(std::time::SystemTime::now()) - 3_600_000),
    };
    let begin_ms = parse_rfc3339_ms(&begin).ok_or_else(|| {
        ApiError::field(
            "begin_date",
            format!("must be an RFC 3339 date-time (got {begin:?})"),
        )
    })?;
    if let Some(e) = &p.end_date {
        match parse_rfc3339_ms(e) {
            Some(end_ms) if end_ms <= begin_ms => {
                return Err(ApiError::field("end_date", "must be after begin_date"))
            }
            Some(_) => {}
            None => {
                return Err(ApiError::field(
                    "end_date",
                    format!("must be an RFC 3339 date-time (got {e:?})"),
                ))
            }
        }
    }
    let connected = match p.connect_time.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(ApiError::field(
                "connect_time",
                format!("must be true or false (got {v:?})"),
            ))
        }
    };
    let after = match &p.after {
        None => None,
        Some(a) => Some(
            a.parse::<uuid::Uuid>()
                .map_err(|_| ApiError::field("after", "must be a cursor from next_block_uri"))?,
        ),
    };
    let other_service = p
        .service
        .as_deref()
        .is_some_and(|s| s != SERVICE_SIP_TRUNKING);
    let mut q = CallLogQuery {
        begin: Some(begin.clone()),
        end: p.end_date.clone(),
        direction: p.direction.clone(),
        caller_no: p.caller_no.clone(),
        api_no: p.api_no.clone(),
        trunk_id: None,
        limit: MAX_QUERY_LIMIT,
        after_id: after,
    };
    let (calls, truncated, cursor) = st
        .with_logs(move |s| {
            let mut out = Vec::new();
            for _ in 0..MAX_SCANNED_BLOCKS {
                let block = s.query(&q).map_err(store_err)?;
                let full = block.len() == MAX_QUERY_LIMIT;
                let mut last = None;
                for r in block {
                    last = Some(r.id);
                    let keep = !other_service
                        && connected.is_none_or(|c| r.connect_time_sec.is_some() == c);
                    if keep {
                        out.push(r);
                        if out.len() == MAX_QUERY_LIMIT {
                            return Ok((out, true, last));
                        }
                    }
                }
                if !full {
                    return Ok((out, false, None));
                }
                q.after_id = last;
            }
            Ok((out, true, q.after_id))
        })
        .await?;
    let next_block_uri = match (truncated, cursor) {
        (true, Some(c)) => {
            let mut uri = format!("/v1/History/Logs/Calls?begin_date={}", enc(&begin));
            for (k, v) in [
                ("end_date", &p.end_date),
                ("direction", &p.direction),
                ("connect_time", &p.connect_time),
                ("service", &p.service),
                ("caller_no", &p.caller_no),
                ("api_no", &p.api_no),
            ] {
                if let Some(v) = v {
                    uri.push_str(&format!("&{k}={}", enc(v)));
                }
            }
            uri.push_str(&format!("&after={c}"));
            Some(uri)
        }
        _ => None,
    };
    Ok(json_response(
        StatusCode::OK,
        &CallList {
            calls,
            is_truncated: next_block_uri.is_some(),
            next_block_uri,
        },
    ))
}

/// One call's log record (the latest, if a Call-ID was logged twice).
#[utoipa::path(get, path = "/v1/History/Logs/Calls/{call_id}", tag = "History",
    params(("call_id" = String, Path)),
    responses((status = 200, body = super::openapi::CallRecordDoc), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_one(
    State(st): State<ApiState>,
    super::extract::PathParam(call_id): super::extract::PathParam,
) -> Result<Response, ApiError> {
    let id = call_id.clone();
    let rec = st.with_logs(move |s| s.get(&id).map_err(store_err)).await?;
    match rec {
        Some(r) => Ok(json_response(StatusCode::OK, &r)),
        None => Err(ApiError::NotFound(format!("no call {call_id}"))),
    }
}
