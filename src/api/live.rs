//! `GET /v1/LiveCalls` (calls in progress: trunk, legs, state, start time) and
//! `DELETE /v1/LiveCalls/{call_id}` (hang up both legs; 204). `call_id` is the
//! caller leg's Call-ID, the same id the call log uses.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{json_response, ApiError, ApiState};
use crate::call::hub::LiveCall;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiveCallList {
    pub calls: Vec<LiveCall>,
}

#[utoipa::path(operation_id = "live_list", get, path = "/v1/LiveCalls", tag = "LiveCalls",
    responses((status = 200, body = LiveCallList), (status = 401, body = super::error::ErrorBody)))]
pub async fn list(State(st): State<ApiState>) -> Response {
    let mut calls: Vec<LiveCall> = st.hub().live.iter().map(|e| e.value().clone()).collect();
    calls.sort_by(|a, b| a.start_time.cmp(&b.start_time));
    json_response(StatusCode::OK, &LiveCallList { calls })
}

#[utoipa::path(operation_id = "live_hangup", delete, path = "/v1/LiveCalls/{call_id}", tag = "LiveCalls",
    params(("call_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn hangup(
    State(st): State<ApiState>,
    super::extract::PathParam(call_id): super::extract::PathParam,
) -> Result<Response, ApiError> {
    if st.hub().hangup(&call_id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound(format!("no live call {call_id}")))
    }
}
