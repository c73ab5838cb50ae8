//! `/v1/PhoneNumbers`: list (all, or by what they are assigned to), assign,
//! move, describe, release. A number (E.164) is assigned to an inbound
//! trunk (`Trunks/{trunk_id}`), `CallFlows` or `ParkingLot`.
//!
//! - `POST /v1/PhoneNumbers/{assigned_to}` assigns numbers not yet known
//!   (re-posting a number already assigned there updates its description; a
//!   number assigned elsewhere is refused: move it instead).
//! - `PUT /v1/PhoneNumbers/Move/{assigned_to}` re-assigns known numbers.
//! - `DELETE /v1/PhoneNumbers/{assigned_to}` releases the listed numbers,
//!   each of which must be assigned there.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::extract::Query;
use super::page::{PageReq, Pagination};
use super::trunks::parse_id;

mod write;
use super::{json_response, ApiError, ApiState};
use crate::config::Assignment;
use crate::store::rfc3339::format_ms;
use crate::store::StoredNumber;
pub use write::*;

/// At most this many numbers per request body.
pub const MAX_NUMBERS_PER_REQUEST: usize = 1000;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NumberView {
    /// E.164.
    pub no: String,
    /// `Trunks/{trunk_id}`, `CallFlows` or `ParkingLot`.
    pub assigned_to: String,
    pub description: Option<String>,
    /// RFC 3339.
    pub created_on: String,
    /// RFC 3339.
    pub updated_on: String,
}

impl NumberView {
    pub(super) fn new(n: &StoredNumber) -> NumberView {
        NumberView {
            no: n.number.no.clone(),
            assigned_to: n.number.assigned_to.to_string(),
            description: n.number.description.clone(),
            created_on: format_ms(n.created_ms),
            updated_on: format_ms(n.updated_ms),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NumberList {
    pub phone_numbers: Vec<NumberView>,
    pub pagination: Pagination,
}

/// The numbers a write touched.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NumbersResult {
    pub phone_numbers: Vec<NumberView>,
}

/// `{"phone_numbers":[{"no":"+14155550100"}]}`
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumbersBody {
    pub phone_numbers: Vec<NumberEntry>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberEntry {
    /// E.164: `+` and 8 to 15 digits.
    pub no: String,
    /// Replaces the stored description when given.
    #[serde(default)]
    pub description: Option<String>,
}

/// `{"description": "..."}` (null clears it).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DescriptionBody {
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NumberParams {
    /// Page number, zero-based (default 0).
    #[param(value_type = Option<u32>, minimum = 0)]
    pub page: Option<String>,
    /// Items per page, 1..=1000 (default 25).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub page_size: Option<String>,
    /// `no` (default), `assigned_to`, `created_on` or `updated_on`.
    pub sort_by: Option<String>,
    /// `asc` (default) or `desc`.
    pub sort_order: Option<String>,
}

/// `CallFlows` / `ParkingLot` from the path; anything else names no resource.
pub(super) fn named(s: &str) -> Result<Assignment, ApiError> {
    match s {
        "CallFlows" => Ok(Assignment::CallFlows),
        "ParkingLot" => Ok(Assignment::ParkingLot),
        _ => Err(ApiError::NotFound(format!(
            "no assignment target {s:?} (CallFlows, ParkingLot or Trunks/{{trunk_id}})"
        ))),
    }
}

async fn listing(
    st: &ApiState,
    filter: Option<Assignment>,
    q: NumberParams,
) -> Result<Response, ApiError> {
    let page = PageReq::parse(q.page.as_deref(), q.page_size.as_deref())?;
    let set = st.load().await?;
    if let Some(Assignment::Trunk(id)) = filter {
        if set.trunk(id).is_none() {
            return Err(ApiError::NotFound(format!("no trunk {id}")));
        }
    }
    let mut items: Vec<StoredNumber> = set
        .numbers
        .into_iter()
        .filter(|n| filter.is_none_or(|a| n.number.assigned_to == a))
        .collect();
    match q.sort_by.as_deref().unwrap_or("no") {
        "no" => {}
        "assigned_to" => items.sort_by_key(|n| n.number.assigned_to.to_string()),
        "created_on" => items.sort_by_key(|n| n.created_ms),
        "updated_on" => items.sort_by_key(|n| n.updated_ms),
        other => {
            return Err(ApiError::field(
                "sort_by",
                format!("must be no, assigned_to, created_on or updated_on (got {other:?})"),
            ))
        }
    }
    match q.sort_order.as_deref().unwrap_or("asc") {
        "asc" => {}
        "desc" => items.reverse(),
        other => {
            return Err(ApiError::field(
                "sort_order",
                format!("must be asc or desc (got {other:?})"),
            ))
        }
    }
    let base = match filter {
        None => "/v1/PhoneNumbers?".to_string(),
        Some(a) => format!("/v1/PhoneNumbers/{a}?"),
    };
    let mut base = base;
    for (k, v) in [("sort_by", &q.sort_by), ("sort_order", &q.sort_order)] {
        if let Some(v) = v {
            base.push_str(&format!("{k}={v}&"));
        }
    }
    let (items, pagination) = page.apply(items, &base);
    let phone_numbers = items.iter().map(NumberView::new).collect();
    Ok(json_response(
        StatusCode::OK,
        &NumberList {
            phone_numbers,
            pagination,
        },
    ))
}

/// List every number.
#[utoipa::path(get, path = "/v1/PhoneNumbers", tag = "PhoneNumbers", params(NumberParams),
    responses((status = 200, body = NumberList), (status = 400, body = super::error::ErrorBody)))]
pub async fn list_all(
    State(st): State<ApiState>,
    Query(q): Query<NumberParams>,
) -> Result<Response, ApiError> {
    listing(&st, None, q).await
}

/// List the numbers assigned to `CallFlows` or `ParkingLot`.
#[utoipa::path(get, path = "/v1/PhoneNumbers/{assigned_to}", tag = "PhoneNumbers",
    params(("assigned_to" = String, Path, description = "CallFlows or ParkingLot; for PUT, the E.164 number"), NumberParams),
    responses((status = 200, body = NumberList), (status = 404, body = super::error::ErrorBody)))]
pub async fn list_named(
    State(st): State<ApiState>,
    super::extract::PathParam(a): super::extract::PathParam,
    Query(q): Query<NumberParams>,
) -> Result<Response, ApiError> {
    listing(&st, Some(named(&a)?), q).await
}

/// List the numbers assigned to a trunk.
#[utoipa::path(get, path = "/v1/PhoneNumbers/Trunks/{trunk_id}", tag = "PhoneNumbers",
    params(("trunk_id" = uuid::Uuid, Path), NumberParams),
    responses((status = 200, body = NumberList), (status = 404, body = super::error::ErrorBody)))]
pub async fn list_trunk(
    State(st): State<ApiState>,
    super::extract::PathParam(id): super::extract::PathParam,
    Query(q): Query<NumberParams>,
) -> Result<Response, ApiError> {
    listing(&st, Some(Assignment::Trunk(parse_id(&id)?)), q).await
}
