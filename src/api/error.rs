//! The API's one error type and the spec's error body:
//! `{"ref_id","status","code","message","help","user_message"}`.
//!
//! | code | status | when |
//! |---|---|---|
//! | 400001 | 400 | a field breaks a rule (the message names the field and the rule); also oversized bodies |
//! | 400010 | 400 | the body is not JSON, or not sent as `application/json` |
//! | 400429 | 429 | over `[api] requests_per_minute` (per key, or failed authentications per source); with `Retry-After` |
//! | 401001 | 401 | `X-API-Key` missing or not accepted |
//! | 404001 | 404 | no such endpoint |
//! | 404002 | 404 | no such resource (trunk, number, call) |
//! | 405001 | 405 | the endpoint exists, the method does not |
//! | 500999 | 500 | anything unexpected (logged with the ref_id) |
//! | 503001 | 503 | the shared store (PostgreSQL, `[store] url`) cannot be reached; with `Retry-After` |

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::config::FieldError;
use crate::store::StoreError;

/// `Retry-After` of a 503001: the follow task reconnects every second.
const STORE_RETRY_AFTER_S: u64 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// One or more fields break a rule: (field, rule).
    #[error("{}", join(.0))]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    JsonParse(String),
    #[error("X-API-Key header missing or not accepted")]
    Unauthorized,
    #[error("no endpoint {0}")]
    NoEndpoint(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method {0} is not allowed on this endpoint")]
    Method(String),
    /// Over `[api] requests_per_minute`; retry after this many seconds.
    #[error("rate limit exceeded: at most [api] requests_per_minute requests a minute per key and failed authentications a minute per source; retry after {0} s")]
    RateLimited(u64),
    /// The request target is longer than [`super::MAX_URI`].
    #[error("the URI is {0} bytes; at most {max} are accepted", max = super::MAX_URI)]
    UriTooLong(usize),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

fn join(f: &[FieldError]) -> String {
    f.iter()
        .map(|e| format!("{}: {}", e.field, e.rule))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// A validation error on one field.
    pub fn field(field: impl Into<String>, rule: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            rule: rule.into(),
        }])
    }

    /// A static label for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "api::validation",
            ApiError::JsonParse(_) => "api::json_parse",
            ApiError::Unauthorized => "api::unauthorized",
            ApiError::NoEndpoint(_) => "api::no_endpoint",
            ApiError::NotFound(_) => "api::not_found",
            ApiError::Method(_) => "api::method",
            ApiError::RateLimited(_) => "api::rate_limited",
            ApiError::UriTooLong(_) => "api::uri_too_long",
            ApiError::Store(_) => "api::store",
            ApiError::Internal(_) => "api::internal",
        }
    }

    /// The spec's numeric code.
    pub fn code(&self) -> u32 {
        match self {
            ApiError::Validation(_) => 400_001,
            ApiError::JsonParse(_) => 400_010,
            ApiError::RateLimited(_) => 400_429,
            ApiError::UriTooLong(_) => 414_001,
            ApiError::Unauthorized => 401_001,
            ApiError::NoEndpoint(_) => 404_001,
            ApiError::NotFound(_) => 404_002,
            ApiError::Method(_) => 405_001,
            ApiError::Store(e) if e.is_unavailable() => 503_001,
            ApiError::Store(_) | ApiError::Internal(_) => 500_999,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::JsonParse(_) => StatusCode::BAD_REQUEST,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NoEndpoint(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Store(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn help(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => {
                "Correct the named field; the rules are in /v1/openapi.json."
            }
            ApiError::JsonParse(_) => {
                "Send a JSON object with Content-Type: application/json (at most 1 MiB)."
            }
            ApiError::RateLimited(_) => "Retry later.",
            ApiError::UriTooLong(_) => "Shorten the query; send long data in a body.",
            ApiError::Unauthorized => "Send a valid key in the X-API-Key header.",
            ApiError::NoEndpoint(_) => "The endpoints are listed in /v1/openapi.json.",
            ApiError::NotFound(_) => {
                "Check the identifier; list the collection to see what exists."
            }
            ApiError::Method(_) => "The allowed methods are listed in /v1/openapi.json.",
            ApiError::Store(e) if e.is_unavailable() => {
                "The gateway's database is unreachable; calls still route. Retry after the Retry-After seconds."
            }
            ApiError::Store(_) | ApiError::Internal(_) => {
                "Retry; if it persists, report the ref_id to the operator."
            }
        }
    }

    fn user_message(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "Some of the values given are not valid.",
            ApiError::JsonParse(_) => "The request could not be read.",
            ApiError::RateLimited(_) => "Too many requests.",
            ApiError::UriTooLong(_) => "The request could not be read.",
            ApiError::Unauthorized => "Not authorized.",
            ApiError::NoEndpoint(_) | ApiError::NotFound(_) => "Not found.",
            ApiError::Method(_) => "This action is not available here.",
            ApiError::Store(e) if e.is_unavailable() => "The service is temporarily unavailable.",
            ApiError::Store(_) | ApiError::Internal(_) => "Something went wrong on our side.",
        }
    }
}

/// The error body every failure carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Unique per error; quoted in the gateway's log.
    pub ref_id: String,
    /// The HTTP status.
    pub status: u16,
    /// 400001 validation, 400010 JSON parse, 400429 rate limit, 401001 auth,
    /// 404001 unknown endpoint, 404002 unknown resource, 405001 method,
    /// 414001 URI too long,
    /// 500999 unexpected, 503001 store unreachable.
    pub code: u32,
    /// For developers: names the field and the rule broken.
    pub message: String,
    pub help: String,
    /// For end users.
    pub user_message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ref_id = uuid::Uuid::new_v4().to_string();
        let status = self.status();
        if matches!(&self, ApiError::Store(e) if e.is_unavailable()) {
            // Expected while the store is down (one line per request, not an error of ours).
            tracing::warn!(%ref_id, error = %self, kind = self.name(), "api request refused: store unavailable");
        } else if status.is_server_error() {
            tracing::error!(%ref_id, error = %self, kind = self.name(), "api request failed");
        } else {
            tracing::debug!(%ref_id, error = %self, kind = self.name(), "api request refused");
        }
        let message = match &self {
            // Internal details stay in the log.
            ApiError::Store(e) if e.is_unavailable() => "store unavailable".to_string(),
            ApiError::Store(_) | ApiError::Internal(_) => "unexpected error".to_string(),
            e => e.to_string(),
        };
        let body = ErrorBody {
            ref_id,
            status: status.as_u16(),
            code: self.code(),
            message,
            help: self.help().to_string(),
            user_message: self.user_message().to_string(),
        };
        let mut resp = super::json_response(status, &body);
        let retry_after = match &self {
            ApiError::RateLimited(secs) => Some(*secs),
            ApiError::Store(e) if e.is_unavailable() => Some(STORE_RETRY_AFTER_S),
            _ => None,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        resp
    }
}
