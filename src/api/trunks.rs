//! `/v1/Trunks`: list, read, create, partial update, delete. The body is the
//! trunk model itself (`config::Trunk`, the same serde types as the config
//! file), checked with the config's rules over the whole set.
//!
//! PUT is a partial update (the trunk docs' example): the fields given
//! replace the stored ones; nested objects (`inbound`, `outbound`,
//! `recording`, `inbound.failover`) merge field by field; arrays
//! (`outbound.authentication`) are replaced whole; `null` clears a field.
//! The read-only fields (`created_on`, `updated_on`, `modified_on`,
//! `app_id`, `subaccount_id`, `inbound.phone_numbers_uri`) are ignored in
//! bodies, so a GET result can be sent back as is; any other unknown field is
//! refused.
//!
//! A trunk keeps only the block of its direction: a trunk created or turned
//! outbound drops `inbound`, one created or turned inbound drops `outbound`.
//! A failover `trunk_id` must name another inbound trunk, and a trunk that
//! others fail over to cannot be turned outbound.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::extract::{parse_id, typed, JsonObject, Query};
use super::page::{PageReq, Pagination};
use super::{json_response, ApiError, ApiState};
use crate::config::{Assignment, Direction, FailoverSource, FieldError, Trunk};
use crate::rfc3339::format_ms;
use crate::store::{StoredTrunk, TrunkSet};

/// A trunk as the API returns it: the model plus its timestamps. A trunk
/// without a recording setting reads back `"recording": {}`, as the spec
/// writes it.
#[derive(Debug, Serialize)]
pub struct TrunkView {
    #[serde(flatten, serialize_with = "recording_as_object")]
    pub trunk: Trunk,
    pub created_on: String,
    pub updated_on: String,
    /// Same as `updated_on` (older clients read this name).
    pub modified_on: String,
    /// Always null: a gateway has no applications.
    pub app_id: Option<String>,
    /// Always null: a gateway has no sub accounts.
    pub subaccount_id: Option<String>,
}

fn recording_as_object<S: serde::Serializer>(t: &Trunk, s: S) -> Result<S::Ok, S::Error> {
    let mut v = serde_json::to_value(t).map_err(serde::ser::Error::custom)?;
    if let Some(o) = v.as_object_mut() {
        if o.get("recording").is_none_or(Value::is_null) {
            o.insert("recording".into(), Value::Object(Default::default()));
        }
    }
    v.serialize(s)
}

impl TrunkView {
    pub fn new(s: &StoredTrunk) -> TrunkView {
        let mut trunk = s.trunk.clone();
        if let Some(i) = trunk.inbound.as_mut() {
            i.phone_numbers_uri = Some(format!("/v1/PhoneNumbers/Trunks/{}", trunk.trunk_id));
        }
        TrunkView {
            trunk,
            created_on: format_ms(s.created_ms),
            updated_on: format_ms(s.updated_ms),
            modified_on: format_ms(s.updated_ms),
            app_id: None,
            subaccount_id: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TrunkList {
    pub trunks: Vec<TrunkView>,
    pub pagination: Pagination,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page number, zero-based (default 0).
    #[param(value_type = Option<u32>, minimum = 0)]
    pub page: Option<String>,
    /// Items per page, 1..=1000 (default 25).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub page_size: Option<String>,
}

/// Fields the API returns but never takes from a body (a GET result can be
/// sent back as a PUT body).
const READ_ONLY: [&str; 5] = [
    "created_on",
    "updated_on",
    "modified_on",
    "app_id",
    "subaccount_id",
];

/// Keeps only the block of the trunk's direction.
fn drop_other_block(t: &mut Trunk) {
    match t.direction {
        Direction::Inbound => t.outbound = None,
        Direction::Outbound => t.inbound = None,
    }
}

/// The trunks (other than `id`) whose inbound failover names `id`.
fn failing_over_to(set: &TrunkSet, id: Uuid) -> Option<Uuid> {
    let id_s = id.to_string();
    set.trunks
        .iter()
        .find(|t| {
            t.trunk.trunk_id != id
                && t.trunk
                    .inbound
                    .as_ref()
                    .and_then(|i| i.failover.as_ref())
                    .is_some_and(|f| {
                        f.source == FailoverSource::TrunkId && f.value.eq_ignore_ascii_case(&id_s)
                    })
        })
        .map(|t| t.trunk.trunk_id)
}

fn strip_read_only(body: &mut serde_json::Map<String, Value>) {
    for k in READ_ONLY {
        body.remove(k);
    }
    empty_means_none(body);
}

/// The spec's examples spell "no setting" as an empty object: `"recording":
/// {}` and `"inbound": {"failover": {"value": null}}` (every field null).
/// Both become `null` (none on POST; cleared on PUT).
fn empty_means_none(body: &mut serde_json::Map<String, Value>) {
    let all_null = |v: &Value| {
        v.as_object()
            .is_some_and(|o| o.values().all(Value::is_null))
    };
    if body.get("recording").is_some_and(all_null) {
        body.insert("recording".into(), Value::Null);
    }
    if let Some(inbound) = body.get_mut("inbound").and_then(Value::as_object_mut) {
        if inbound.get("failover").is_some_and(all_null) {
            inbound.insert("failover".into(), Value::Null);
        }
    }
}

/// List trunks, oldest first.
#[utoipa::path(operation_id = "trunks_list", get, path = "/v1/Trunks", tag = "Trunks", params(ListParams),
    responses((status = 200, body = super::schema::TrunkListDoc), (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody)))]
pub async fn list(
    State(st): State<ApiState>,
    Query(q): Query<ListParams>,
) -> Result<Response, ApiError> {
    let page = PageReq::parse(q.page.as_deref(), q.page_size.as_deref())?;
    let set = st.load().await?;
    let (items, pagination) = page.apply(set.trunks, "/v1/Trunks?");
    let trunks = items.iter().map(TrunkView::new).collect();
    Ok(json_response(
        StatusCode::OK,
        &TrunkList { trunks, pagination },
    ))
}

/// Read one trunk.
#[utoipa::path(operation_id = "trunks_get_one", get, path = "/v1/Trunks/{trunk_id}", tag = "Trunks", params(("trunk_id" = Uuid, Path)),
    responses((status = 200, body = super::schema::TrunkDoc), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_one(
    State(st): State<ApiState>,
    super::extract::PathParam(id): super::extract::PathParam,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let set = st.load().await?;
    let t = set
        .trunk(id)
        .ok_or_else(|| ApiError::NotFound(format!("no trunk {id}")))?;
    Ok(json_response(StatusCode::OK, &TrunkView::new(t)))
}

/// Validates `set` with the trunk `focus` checked last (so a shared domain is
/// reported on it) and reports its fields without the `trunks[i].` prefix.
fn validate_focus(set: &mut TrunkSet, focus: Uuid) -> Result<(), ApiError> {
    let Some(pos) = set.trunks.iter().position(|t| t.trunk.trunk_id == focus) else {
        return Ok(());
    };
    let mut trial = set.clone();
    let t = trial.trunks.remove(pos);
    trial.trunks.push(t);
    let last = trial.trunks.len() - 1;
    match trial.validate() {
        Ok(()) => {
            // Keep the normalised trunk (lowercased domain), in its place.
            if let Some(t) = trial.trunks.pop() {
                set.trunks[pos] = t;
            }
            Ok(())
        }
        Err(errs) => {
            let prefix = format!("trunks[{last}].");
            Err(ApiError::Validation(
                errs.into_iter()
                    .map(|f| FieldError {
                        field: f
                            .field
                            .strip_prefix(&prefix)
                            .map(str::to_string)
                            .unwrap_or(f.field),
                        rule: f.rule,
                    })
                    .collect(),
            ))
        }
    }
}

fn check_carriers(st: &ApiState, t: &Trunk) -> Result<(), ApiError> {
    if t.direction == Direction::Outbound && st.hub().snapshot.load().config.carriers.is_empty() {
        return Err(ApiError::field(
            "direction",
            "an outbound trunk needs at least one carrier in the node config",
        ));
    }
    Ok(())
}

/// Create a trunk (`trunk_id` generated when absent).
#[utoipa::path(operation_id = "trunks_create", post, path = "/v1/Trunks", tag = "Trunks", request_body = super::schema::TrunkBodyDoc,
    responses((status = 201, body = super::schema::TrunkDoc), (status = 400, body = super::error::ErrorBody)))]
pub async fn create(
    State(st): State<ApiState>,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    strip_read_only(&mut body);
    if !body.contains_key("trunk_id") {
        body.insert("trunk_id".into(), Value::String(Uuid::new_v4().to_string()));
    }
    let mut trunk: Trunk = typed(Value::Object(body), "")?;
    if let Some(i) = trunk.inbound.as_mut() {
        i.phone_numbers_uri = None;
    }
    drop_other_block(&mut trunk);
    check_carriers(&st, &trunk)?;
    let id = trunk.trunk_id;
    let (_, set) = st
        .write(move |set| {
            if set.trunk(id).is_some() {
                return Err(ApiError::field(
                    "trunk_id",
                    format!("a trunk with id {id} exists"),
                ));
            }
            set.trunks.push(StoredTrunk {
                trunk,
                created_ms: 0,
                updated_ms: 0,
            });
            validate_focus(set, id)
        })
        .await?;
    let t = set
        .trunk(id)
        .ok_or_else(|| ApiError::Internal("created trunk not in the committed set".into()))?;
    Ok(json_response(StatusCode::CREATED, &TrunkView::new(t)))
}

/// RFC 7396-style merge: objects merge key by key, anything else replaces.
fn merge(into: &mut Value, patch: Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(slot) if v.is_object() && slot.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Update a trunk: only the fields given change (partial update).
#[utoipa::path(operation_id = "trunks_update", put, path = "/v1/Trunks/{trunk_id}", tag = "Trunks", params(("trunk_id" = Uuid, Path)),
    request_body = super::schema::TrunkBodyDoc,
    responses((status = 200, body = super::schema::TrunkDoc), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn update(
    State(st): State<ApiState>,
    super::extract::PathParam(id): super::extract::PathParam,
    JsonObject(mut body): JsonObject,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    strip_read_only(&mut body);
    if let Some(v) = body.get("trunk_id") {
        if v.as_str().and_then(|s| s.parse::<Uuid>().ok()) != Some(id) {
            return Err(ApiError::field("trunk_id", "cannot be changed"));
        }
    }
    let carriers = !st.hub().snapshot.load().config.carriers.is_empty();
    let (_, set) = st
        .write(move |set| {
            let numbers = set
                .numbers
                .iter()
                .filter(|n| n.number.assigned_to == Assignment::Trunk(id))
                .count();
            let slot = set
                .trunk_mut(id)
                .ok_or_else(|| ApiError::NotFound(format!("no trunk {id}")))?;
            let mut v = serde_json::to_value(&slot.trunk)
                .map_err(|e| ApiError::Internal(format!("trunk to JSON: {e}")))?;
            merge(&mut v, Value::Object(body));
            let mut t: Trunk = typed(v, "")?;
            if let Some(i) = t.inbound.as_mut() {
                i.phone_numbers_uri = None;
            }
            drop_other_block(&mut t);
            if t.direction != Direction::Inbound && numbers > 0 {
                return Err(ApiError::field(
                    "direction",
                    format!("must stay inbound while {numbers} phone number(s) are assigned to the trunk"),
                ));
            }
            let direction_out = t.direction == Direction::Outbound;
            if t.direction == Direction::Outbound && !carriers {
                return Err(ApiError::field(
                    "direction",
                    "an outbound trunk needs at least one carrier in the node config",
                ));
            }
            slot.trunk = t;
            if let Some(other) = failing_over_to(set, id).filter(|_| direction_out) {
                return Err(ApiError::field(
                    "direction",
                    format!("must stay inbound: trunk {other} fails over to this trunk (inbound.failover)"),
                ));
            }
            validate_focus(set, id)
        })
        .await?;
    let t = set
        .trunk(id)
        .ok_or_else(|| ApiError::Internal("updated trunk not in the committed set".into()))?;
    Ok(json_response(StatusCode::OK, &TrunkView::new(t)))
}

/// Delete a trunk; refused while numbers are assigned to it or another
/// trunk fails over to it.
#[utoipa::path(operation_id = "trunks_delete", delete, path = "/v1/Trunks/{trunk_id}", tag = "Trunks", params(("trunk_id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(st): State<ApiState>,
    super::extract::PathParam(id): super::extract::PathParam,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    st.write(move |set| {
        let pos = set
            .trunks
            .iter()
            .position(|t| t.trunk.trunk_id == id)
            .ok_or_else(|| ApiError::NotFound(format!("no trunk {id}")))?;
        let numbers = set
            .numbers
            .iter()
            .filter(|n| n.number.assigned_to == Assignment::Trunk(id))
            .count();
        if numbers > 0 {
            return Err(ApiError::field(
                "trunk_id",
                format!("{numbers} phone number(s) are assigned to this trunk; release or move them first"),
            ));
        }
        if let Some(other) = failing_over_to(set, id) {
            return Err(ApiError::field(
                "trunk_id",
                format!("trunk {other} fails over to this trunk (inbound.failover); change that first"),
            ));
        }
        set.trunks.remove(pos);
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
