//! The writing half of `/v1/PhoneNumbers`: assign, move, release, describe.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::super::{json_response, ApiError, ApiState};
use super::{
    named, DescriptionBody, NumberEntry, NumberView, NumbersBody, NumbersResult,
    MAX_NUMBERS_PER_REQUEST,
};
use crate::api::extract::{parse_id, typed, JsonObject};
use crate::config::{is_e164, Assignment, Direction, Number};
use crate::store::{StoredNumber, TrunkSet};

/// The body's numbers, checked: non-empty, at most 1000, E.164, no repeats.
fn entries(body: serde_json::Map<String, Value>) -> Result<Vec<NumberEntry>, ApiError> {
    let b: NumbersBody = typed(Value::Object(body), "")?;
    if b.phone_numbers.is_empty() || b.phone_numbers.len() > MAX_NUMBERS_PER_REQUEST {
        return Err(ApiError::field(
            "phone_numbers",
            format!("must list 1 to {MAX_NUMBERS_PER_REQUEST} numbers"),
        ));
    }
    let mut seen = HashSet::new();
    let mut errs = Vec::new();
    for (i, e) in b.phone_numbers.iter().enumerate() {
        let field = format!("phone_numbers[{i}].no");
        if !is_e164(&e.no) {
            errs.push(crate::config::FieldError {
                field,
                rule: format!(
                    "must be an E.164 number (+ and 8 to 15 digits) (got {:?})",
                    e.no
                ),
            });
        } else if !seen.insert(e.no.clone()) {
            errs.push(crate::config::FieldError {
                field,
                rule: "listed more than once".into(),
            });
        }
    }
    if errs.is_empty() {
        Ok(b.phone_numbers)
    } else {
        Err(ApiError::Validation(errs))
    }
}

/// The target must exist (404002) and, for a trunk, be inbound.
fn check_target(set: &TrunkSet, a: Assignment) -> Result<(), ApiError> {
    if let Assignment::Trunk(id) = a {
        let t = set
            .trunk(id)
            .ok_or_else(|| ApiError::NotFound(format!("no trunk {id}")))?;
        if t.trunk.direction != Direction::Inbound {
            return Err(ApiError::field(
                "assigned_to",
                format!("trunk {id} is not an inbound trunk"),
            ));
        }
    }
    Ok(())
}

/// The number objects of `nos`, in the order given.
fn touched(set: &TrunkSet, nos: &[String]) -> Vec<NumberView> {
    nos.iter()
        .filter_map(|no| set.numbers.iter().find(|n| &n.number.no == no))
        .map(NumberView::new)
        .collect()
}

async fn assign(
    st: ApiState,
    a: Assignment,
    body: serde_json::Map<String, Value>,
) -> Result<Response, ApiError> {
    let list = entries(body)?;
    let nos: Vec<String> = list.iter().map(|e| e.no.clone()).collect();
    let (_, set) = st
        .write(move |set| {
            check_target(set, a)?;
            for (i, e) in list.into_iter().enumerate() {
                match set.number_mut(&e.no) {
                    Some(n) if n.number.assigned_to == a => {
                        if e.description.is_some() {
                            n.number.description = e.description;
                        }
                    }
                    Some(n) => {
                        return Err(ApiError::field(
                            format!("phone_numbers[{i}].no"),
                            format!(
                                "{} is assigned to {}; move it with PUT /v1/PhoneNumbers/Move/{a}",
                                e.no, n.number.assigned_to
                            ),
                        ))
                    }
                    None => set.numbers.push(StoredNumber {
                        number: Number {
                            no: e.no,
                            assigned_to: a,
                            description: e.description,
                        },
                        created_ms: 0,
                        updated_ms: 0,
                    }),
                }
            }
            Ok(())
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &NumbersResult {
            assigned_to: a.to_string(),
            phone_numbers: touched(&set, &nos),
        },
    ))
}

async fn move_to(
    st: ApiState,
    a: Assignment,
    body: serde_json::Map<String, Value>,
) -> Result<Response, ApiError> {
    let list = entries(body)?;
    let nos: Vec<String> = list.iter().map(|e| e.no.clone()).collect();
    let (_, set) = st
        .write(move |set| {
            check_target(set, a)?;
            for (i, e) in list.into_iter().enumerate() {
                let n = set.number_mut(&e.no).ok_or_else(|| {
                    ApiError::field(
                        format!("phone_numbers[{i}].no"),
                        format!("{} is not a known number; assign it with POST", e.no),
                    )
                })?;
                n.number.assigned_to = a;
                if e.description.is_some() {
                    n.number.description = e.description;
                }
            }
            Ok(())
        })
        .await?;
    Ok(json_response(StatusCode::OK, &touched(&set, &nos)))
}

async fn release(
    st: ApiState,
    a: Assignment,
    body: serde_json::Map<String, Value>,
) -> Result<Response, ApiError> {
    let list = entries(body)?;
    st.write(move |set| {
        check_target(set, a)?;
        for (i, e) in list.iter().enumerate() {
            match set.numbers.iter().position(|n| n.number.no == e.no) {
                Some(p) if set.numbers[p].number.assigned_to == a => {
                    set.numbers.remove(p);
                }
                _ => {
                    return Err(ApiError::field(
                        format!("phone_numbers[{i}].no"),
                        format!("{} is not assigned to {a}", e.no),
                    ))
                }
            }
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Assign numbers to `CallFlows` or `ParkingLot`.
#[utoipa::path(operation_id = "numbers_assign_named", post, path = "/v1/PhoneNumbers/{assigned_to}", tag = "PhoneNumbers",
    params(("assigned_to" = String, Path, description = "CallFlows or ParkingLot; for PUT, the E.164 number")),
    request_body = NumbersBody,
    responses((status = 200, body = NumbersResult), (status = 400, body = crate::api::error::ErrorBody)))]
pub async fn assign_named(
    State(st): State<ApiState>,
    crate::api::extract::PathParam(a): crate::api::extract::PathParam,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    assign(st, named(&a)?, body).await
}

/// Assign numbers to an inbound trunk.
#[utoipa::path(operation_id = "numbers_assign_trunk", post, path = "/v1/PhoneNumbers/Trunks/{trunk_id}", tag = "PhoneNumbers",
    params(("trunk_id" = uuid::Uuid, Path)), request_body = NumbersBody,
    responses((status = 200, body = NumbersResult), (status = 400, body = crate::api::error::ErrorBody), (status = 404, body = crate::api::error::ErrorBody)))]
pub async fn assign_trunk(
    State(st): State<ApiState>,
    crate::api::extract::PathParam(id): crate::api::extract::PathParam,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    assign(st, Assignment::Trunk(parse_id(&id)?), body).await
}

/// Move known numbers to `CallFlows` or `ParkingLot`.
#[utoipa::path(operation_id = "numbers_move_named", put, path = "/v1/PhoneNumbers/Move/{assigned_to}", tag = "PhoneNumbers",
    params(("assigned_to" = String, Path, description = "CallFlows or ParkingLot")), request_body = NumbersBody,
    responses((status = 200, body = Vec<NumberView>), (status = 400, body = crate::api::error::ErrorBody)))]
pub async fn move_named(
    State(st): State<ApiState>,
    crate::api::extract::PathParam(a): crate::api::extract::PathParam,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    move_to(st, named(&a)?, body).await
}

/// Move known numbers to an inbound trunk.
#[utoipa::path(operation_id = "numbers_move_trunk", put, path = "/v1/PhoneNumbers/Move/Trunks/{trunk_id}", tag = "PhoneNumbers",
    params(("trunk_id" = uuid::Uuid, Path)), request_body = NumbersBody,
    responses((status = 200, body = Vec<NumberView>), (status = 400, body = crate::api::error::ErrorBody), (status = 404, body = crate::api::error::ErrorBody)))]
pub async fn move_trunk(
    State(st): State<ApiState>,
    crate::api::extract::PathParam(id): crate::api::extract::PathParam,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    move_to(st, Assignment::Trunk(parse_id(&id)?), body).await
}

/// Release numbers assigned to `CallFlows` or `ParkingLot`.
#[utoipa::path(operation_id = "numbers_release_named", delete, path = "/v1/PhoneNumbers/{assigned_to}", tag = "PhoneNumbers",
    params(("assigned_to" = String, Path, description = "CallFlows or ParkingLot; for PUT, the E.164 number")),
    request_body = NumbersBody,
    responses((status = 204), (status = 400, body = crate::api::error::ErrorBody)))]
pub async fn release_named(
    State(st): State<ApiState>,
    crate::api::extract::PathParam(a): crate::api::extract::PathParam,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    release(st, named(&a)?, body).await
}

/// Release numbers assigned to a trunk.
#[utoipa::path(operation_id = "numbers_release_trunk", delete, path = "/v1/PhoneNumbers/Trunks/{trunk_id}", tag = "PhoneNumbers",
    params(("trunk_id" = uuid::Uuid, Path)), request_body = NumbersBody,
    responses((status = 204), (status = 400, body = crate::api::error::ErrorBody), (status = 404, body = crate::api::error::ErrorBody)))]
pub async fn release_trunk(
    State(st): State<ApiState>,
    crate::api::extract::PathParam(id): crate::api::extract::PathParam,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    release(st, Assignment::Trunk(parse_id(&id)?), body).await
}

/// Update a number's description. The path segment is the number (`{no}`,
/// E.164, `+` may be sent as `%2B`).
#[utoipa::path(operation_id = "numbers_update_description", put, path = "/v1/PhoneNumbers/{assigned_to}", tag = "PhoneNumbers",
    params(("assigned_to" = String, Path, description = "CallFlows or ParkingLot; for PUT, the E.164 number")),
    request_body = DescriptionBody,
    responses((status = 200, body = NumberView), (status = 400, body = crate::api::error::ErrorBody), (status = 404, body = crate::api::error::ErrorBody)))]
pub async fn update_description(
    State(st): State<ApiState>,
    crate::api::extract::PathParam(no): crate::api::extract::PathParam,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let b: DescriptionBody = typed(Value::Object(body), "")?;
    if b.caller_id_name
        .as_ref()
        .is_some_and(|c| c.chars().count() > 15)
    {
        return Err(ApiError::field(
            "caller_id_name",
            "must be at most 15 characters",
        ));
    }
    if b.port_out_pin.is_some() {
        return Err(ApiError::field(
            "port_out_pin",
            "must be null: porting numbers is not available on this gateway",
        ));
    }
    if !is_e164(&no) {
        return Err(ApiError::NotFound(format!("no phone number {no:?}")));
    }
    let key = no.clone();
    let (_, set) = st
        .write(move |set| {
            let n = set
                .number_mut(&key)
                .ok_or_else(|| ApiError::NotFound(format!("no phone number {key}")))?;
            if let Some(d) = b.description {
                n.number.description = d;
            }
            Ok(())
        })
        .await?;
    let n = set
        .numbers
        .iter()
        .find(|n| n.number.no == no)
        .ok_or_else(|| ApiError::Internal("updated number not in the committed set".into()))?;
    Ok(json_response(StatusCode::OK, &NumberView::new(n)))
}
