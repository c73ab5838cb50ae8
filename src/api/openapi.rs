//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the schema types of `schema.rs`, served at
//! `/v1/openapi.json`. The top of `api`: it reads the handlers, none of them
//! reads it.

// The path-only functions below exist for their `#[utoipa::path]`
// attributes; nothing calls them.
#![allow(dead_code)]

use std::sync::OnceLock;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;
use super::numbers::{
    DescriptionBody, NumberEntry, NumberList, NumberView, NumbersBody, NumbersResult,
};
use super::page::Pagination;
use super::schema::{
    CallListDoc, CallRecordDoc, RecordingRefDoc, TrunkBodyDoc, TrunkDoc, TrunkListDoc,
};
use super::{calls, live, numbers, trunks};

/// The OpenAPI 3 document (this one).
#[utoipa::path(operation_id = "openapi_openapi_doc", get, path = "/v1/openapi.json", tag = "Meta", responses((status = 200, description = "OpenAPI 3 JSON")))]
fn openapi_doc() {}

/// Liveness: the process answers. No key.
#[utoipa::path(operation_id = "openapi_health_live", get, path = "/health/live", tag = "Meta", security(()), responses((status = 200, description = "ok")))]
fn health_live() {}

/// Readiness: SIP listeners bound and the store open. No key.
#[utoipa::path(operation_id = "openapi_health_ready", get, path = "/health/ready", tag = "Meta", security(()),
    responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
fn health_ready() {}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "trunkgate management API", version = "1",
        description = "Trunks, phone numbers and call logs. Every /v1 request needs an X-API-Key header. Errors: {ref_id, status, code, message, help, user_message}."),
    paths(
        trunks::list, trunks::get_one, trunks::create, trunks::update, trunks::delete,
        numbers::list_all, numbers::list_named, numbers::list_trunk,
        numbers::assign_named, numbers::assign_trunk, numbers::move_named, numbers::move_trunk,
        numbers::release_named, numbers::release_trunk, numbers::update_description,
        calls::list, calls::get_one,
        live::list, live::hangup,
        openapi_doc, health_live, health_ready,
    ),
    components(schemas(ErrorBody, Pagination, TrunkDoc, TrunkBodyDoc, TrunkListDoc, NumberView, NumberList,
        NumbersBody, NumberEntry, NumbersResult, DescriptionBody, CallRecordDoc, RecordingRefDoc, CallListDoc,
        live::LiveCallList, crate::call::hub::LiveCall, crate::call::hub::LiveLegs, crate::call::hub::LiveLeg,
        crate::media::quality::QualityReport, crate::media::quality::report::DirectionQuality,
        crate::media::quality::report::EndpointReport, crate::media::quality::report::XrReport)),
    modifiers(&Security),
    security(("api_key" = [])),
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> Result<&'static str, String> {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string()))
        .as_deref()
        .map_err(Clone::clone)
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
