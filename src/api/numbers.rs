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
//! - `GET /v1/PhoneNumbers/{phone_number}` (a path segment starting with
//!   `+`, or `%2B`) reads one number; `PUT` there updates its description.
//!
//! Bodies may carry whole number objects as GET returns them (only `no` and
//! `description` are read). A number object carries the spec's fields that
//! apply to a gateway: `no`, `formatted`, `assigned_to`, `error` (null),
//! `capabilities` (`voice_inbound`, `voice_outbound`), `description`,
//! `caller_id_name` (null: not CNAM capable), `status` (`routed`: assigned
//! numbers route), `type` (`toll_free` for the NANP toll-free codes,
//! otherwise `local`), `created_on`, `updated_on`. Prices, porting and
//! locations are not a gateway's to know (README, "What the spec describes
//! that a gateway cannot have").

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::extract::{parse_id, Query};
use super::page::{PageReq, Pagination};

mod write;
use super::{json_response, ApiError, ApiState};
use crate::config::Assignment;
use crate::rfc3339::format_ms;
use crate::store::StoredNumber;
pub use write::*;

/// At most this many numbers per request body.
pub const MAX_NUMBERS_PER_REQUEST: usize = 1000;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NumberView {
    /// E.164.
    pub no: String,
    /// `(949) 555-1212` for NANP numbers; other numbers as E.164.
    pub formatted: String,
    /// `Trunks/{trunk_id}`, `CallFlows` or `ParkingLot`.
    pub assigned_to: String,
    /// Always null: a gateway has no provisioning step to fail.
    pub error: Option<String>,
    /// `voice_inbound`, `voice_outbound`.
    pub capabilities: Vec<&'static str>,
    pub description: Option<String>,
    /// Always null: a gateway's numbers are not CNAM capable.
    pub caller_id_name: Option<String>,
    /// `routed`: an assigned number routes.
    pub status: &'static str,
    /// `toll_free` (NANP 800, 833, 844, 855, 866, 877, 888) or `local`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub r#type: &'static str,
    /// RFC 3339.
    pub created_on: String,
    /// RFC 3339.
    pub updated_on: String,
}

/// Toll-free area codes of the North American Numbering Plan.
const NANP_TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

/// `local` or `toll_free`.
pub fn number_type(no: &str) -> &'static str {
    match no.strip_prefix("+1") {
        Some(rest) if rest.len() == 10 && NANP_TOLL_FREE.contains(&&rest[..3]) => "toll_free",
        _ => "local",
    }
}

/// `(949) 555-1212` for a NANP number (+1 and ten digits); anything else as is.
pub fn formatted(no: &str) -> String {
    match no.strip_prefix("+1") {
        Some(r) if r.len() == 10 && r.bytes().all(|b| b.is_ascii_digit()) => {
            format!("({}) {}-{}", &r[..3], &r[3..6], &r[6..])
        }
        _ => no.to_string(),
    }
}

impl NumberView {
    pub(super) fn new(n: &StoredNumber) -> NumberView {
        NumberView {
            no: n.number.no.clone(),
            formatted: formatted(&n.number.no),
            assigned_to: n.number.assigned_to.to_string(),
            error: None,
            capabilities: vec!["voice_inbound", "voice_outbound"],
            description: n.number.description.clone(),
            caller_id_name: None,
            status: "routed",
            r#type: number_type(&n.number.no),
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

/// The answer to `POST /v1/PhoneNumbers/{assigned_to}`: the target and the
/// numbers posted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NumbersResult {
    pub assigned_to: String,
    pub phone_numbers: Vec<NumberView>,
}

/// `{"phone_numbers":[{"no":"+14155550100"}]}`. `app_id` and
/// `subaccount_id` (the spec's Move between sub accounts) are accepted and
/// ignored: a gateway has one account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumbersBody {
    pub phone_numbers: Vec<NumberEntry>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub app_id: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub subaccount_id: Option<serde_json::Value>,
}

/// One number; the other fields of a number object (as GET returns it) are
/// accepted and ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NumberEntry {
    /// E.164: `+` and 8 to 15 digits, the first not 0.
    pub no: String,
    /// Replaces the stored description when given.
    #[serde(default)]
    pub description: Option<String>,
}

/// `PUT /v1/PhoneNumbers/{no}`: `description` absent keeps it, null clears
/// it. `caller_id_name` (at most 15 characters) is accepted but not stored:
/// the numbers are not CNAM capable. `port_out_pin` must be null or absent:
/// porting is not a gateway's.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DescriptionBody {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub caller_id_name: Option<String>,
    #[serde(default)]
    pub port_out_pin: Option<String>,
}

/// A field given (even as null) is `Some`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NumberParams {
    /// Page number, zero-based (default 0).
    #[param(value_type = Option<u32>, minimum = 0)]
    pub page: Option<String>,
    /// Items per page, 1..=1000 (default 25).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub page_size: Option<String>,
    /// `updated_on` (default), `created_on`, `no`, `status` or `assigned_to`.
    pub sort_by: Option<String>,
    /// `asc` (default) or `desc`.
    pub sort_order: Option<String>,
    /// `voice` and/or `sms` (comma-separated or repeated): every number here
    /// is voice; `sms` alone matches none.
    pub capabilities: Option<String>,
    /// ISO alpha-2; accepted, not a filter (a gateway does not know a
    /// number's country).
    pub country: Option<String>,
    /// `local`, `toll_free` or `all` (default).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub r#type: Option<String>,
    /// Statuses (comma-separated); every assigned number is `routed`.
    pub status: Option<String>,
    /// `prefixes` filters by `search_on`; `region`, `postal_code`,
    /// `rate_center`, `latas`, `vanity` match nothing (no locations here).
    pub search_by: Option<String>,
    /// Comma-separated prefixes (`714,310` or `+1714,+1310`) for `search_by=prefixes`.
    pub search_on: Option<String>,
    /// At most this many numbers in all, 1..=100 (default: no cap).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub max_results: Option<String>,
}

const STATUSES: [&str; 8] = [
    "reserving",
    "reserved",
    "routing",
    "routed",
    "released",
    "paused",
    "reserved_routing_error",
    "error",
];

/// Longest accepted text query parameter.
const MAX_PARAM: usize = 256;

fn listed<'a>(field: &str, v: &'a str, allowed: &[&str]) -> Result<Vec<&'a str>, ApiError> {
    if v.len() > MAX_PARAM {
        return Err(ApiError::field(
            field,
            format!("must be at most {MAX_PARAM} characters"),
        ));
    }
    v.split(',')
        .map(str::trim)
        .map(|p| {
            if allowed.contains(&p) {
                Ok(p)
            } else {
                Err(ApiError::field(
                    field,
                    format!("must be one or more of {} (got {p:?})", allowed.join(", ")),
                ))
            }
        })
        .collect()
}

/// Keeps the numbers the spec's filters select.
fn filter(q: &NumberParams, items: &mut Vec<StoredNumber>) -> Result<(), ApiError> {
    if let Some(c) = &q.capabilities {
        if !listed("capabilities", c, &["voice", "sms"])?.contains(&"voice") {
            items.clear();
        }
    }
    if let Some(c) = &q.country {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ApiError::field(
                "country",
                "must be an ISO 3166 alpha-2 code such as US",
            ));
        }
    }
    match q.r#type.as_deref() {
        None | Some("all") => {}
        Some(t @ ("local" | "toll_free")) => items.retain(|n| number_type(&n.number.no) == t),
        Some(_) => return Err(ApiError::field("type", "must be local, toll_free or all")),
    }
    if let Some(st) = &q.status {
        if !listed("status", st, &STATUSES)?.contains(&"routed") {
            items.clear();
        }
    }
    match q.search_by.as_deref() {
        None => {}
        Some("prefixes") => {
            if let Some(on) = &q.search_on {
                if on.len() > MAX_PARAM {
                    return Err(ApiError::field(
                        "search_on",
                        format!("must be at most {MAX_PARAM} characters"),
                    ));
                }
                let prefixes: Vec<String> = on
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| match p.strip_prefix('+') {
                        Some(_) => p.to_string(),
                        // Standard (national) form: a NANP area code.
                        None => format!("+1{p}"),
                    })
                    .collect();
                items.retain(|n| prefixes.iter().any(|p| n.number.no.starts_with(p.as_str())));
            }
        }
        Some("region" | "postal_code" | "rate_center" | "latas" | "vanity") => items.clear(),
        Some(_) => {
            return Err(ApiError::field(
                "search_by",
                "must be region, prefixes, postal_code, rate_center, latas or vanity",
            ))
        }
    }
    if q.search_on.as_ref().is_some_and(|s| s.len() > MAX_PARAM) {
        return Err(ApiError::field(
            "search_on",
            format!("must be at most {MAX_PARAM} characters"),
        ));
    }
    if q.max_results.is_some() {
        let cap = super::extract::parse_u32("max_results", q.max_results.as_deref(), 100, 1, 100)?;
        items.truncate(cap as usize);
    }
    Ok(())
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
    target: Option<Assignment>,
    q: NumberParams,
) -> Result<Response, ApiError> {
    let page = PageReq::parse(q.page.as_deref(), q.page_size.as_deref())?;
    let set = st.load().await?;
    if let Some(Assignment::Trunk(id)) = target {
        if set.trunk(id).is_none() {
            return Err(ApiError::NotFound(format!("no trunk {id}")));
        }
    }
    let mut items: Vec<StoredNumber> = set
        .numbers
        .into_iter()
        .filter(|n| target.is_none_or(|a| n.number.assigned_to == a))
        .collect();
    // Stored in `no` order; the sorts below are stable.
    match q.sort_by.as_deref().unwrap_or("updated_on") {
        "no" | "status" => {}
        "assigned_to" => items.sort_by_key(|n| n.number.assigned_to.to_string()),
        "created_on" => items.sort_by_key(|n| n.created_ms),
        "updated_on" => items.sort_by_key(|n| n.updated_ms),
        other => {
            return Err(ApiError::field(
                "sort_by",
                format!(
                    "must be updated_on, created_on, no, status or assigned_to (got {:?})",
                    other.chars().take(64).collect::<String>()
                ),
            ))
        }
    }
    match q.sort_order.as_deref().unwrap_or("asc") {
        "asc" => {}
        "desc" => items.reverse(),
        other => {
            return Err(ApiError::field(
                "sort_order",
                format!(
                    "must be asc or desc (got {:?})",
                    other.chars().take(64).collect::<String>()
                ),
            ))
        }
    }
    filter(&q, &mut items)?;
    let base = match target {
        None => "/v1/PhoneNumbers?".to_string(),
        Some(a) => format!("/v1/PhoneNumbers/{a}?"),
    };
    let mut base = base;
    for (k, v) in [
        ("sort_by", &q.sort_by),
        ("sort_order", &q.sort_order),
        ("capabilities", &q.capabilities),
        ("country", &q.country),
        ("type", &q.r#type),
        ("status", &q.status),
        ("search_by", &q.search_by),
        ("search_on", &q.search_on),
        ("max_results", &q.max_results),
    ] {
        if let Some(v) = v {
            let v = serde_urlencoded::to_string([("v", v)]).unwrap_or_default();
            base.push_str(&format!("{k}={}&", v.trim_start_matches("v=")));
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
#[utoipa::path(operation_id = "numbers_list_all", get, path = "/v1/PhoneNumbers", tag = "PhoneNumbers", params(NumberParams),
    responses((status = 200, body = NumberList), (status = 400, body = super::error::ErrorBody)))]
pub async fn list_all(
    State(st): State<ApiState>,
    Query(q): Query<NumberParams>,
) -> Result<Response, ApiError> {
    listing(&st, None, q).await
}

/// List the numbers assigned to `CallFlows` or `ParkingLot`, or read one
/// number (`/v1/PhoneNumbers/+19495551212`, `+` also as `%2B`).
///
/// The spec's own example writes the query after `&`
/// (`/v1/PhoneNumbers/CallFlows&page=0&page_size=10`); that works too.
#[utoipa::path(operation_id = "numbers_list_named", get, path = "/v1/PhoneNumbers/{assigned_to}", tag = "PhoneNumbers",
    params(("assigned_to" = String, Path, description = "CallFlows or ParkingLot, or an E.164 number (one number object is returned)"), NumberParams),
    responses((status = 200, body = NumberList, description = "a list, or one NumberView for a number"), (status = 404, body = super::error::ErrorBody)))]
pub async fn list_named(
    State(st): State<ApiState>,
    super::extract::PathParam(a): super::extract::PathParam,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    if a.starts_with('+') {
        // The spec's list parameters are accepted (and checked) here too.
        super::extract::parse_query::<NumberParams>(raw.as_deref().unwrap_or(""))?;
        let set = st.load().await?;
        return match set.numbers.iter().find(|n| n.number.no == a) {
            Some(n) => Ok(json_response(StatusCode::OK, &NumberView::new(n))),
            None => Err(ApiError::NotFound(format!(
                "no phone number {:?}",
                a.chars().take(32).collect::<String>()
            ))),
        };
    }
    let (name, extra) = match a.split_once('&') {
        Some((n, e)) => (n, Some(e)),
        None => (a.as_str(), None),
    };
    let target = named(name)?;
    let query = [raw.as_deref(), extra]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("&");
    let q: NumberParams = super::extract::parse_query(&query)?;
    listing(&st, Some(target), q).await
}

/// List the numbers assigned to a trunk.
#[utoipa::path(operation_id = "numbers_list_trunk", get, path = "/v1/PhoneNumbers/Trunks/{trunk_id}", tag = "PhoneNumbers",
    params(("trunk_id" = uuid::Uuid, Path), NumberParams),
    responses((status = 200, body = NumberList), (status = 404, body = super::error::ErrorBody)))]
pub async fn list_trunk(
    State(st): State<ApiState>,
    super::extract::PathParam(id): super::extract::PathParam,
    Query(q): Query<NumberParams>,
) -> Result<Response, ApiError> {
    listing(&st, Some(Assignment::Trunk(parse_id(&id)?)), q).await
}
