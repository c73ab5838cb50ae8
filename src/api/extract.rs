//! Request extractors that fail with the spec's error body, never axum's
//! plain-text rejections: JSON bodies (content type, size, syntax, unknown
//! fields) and query strings.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use super::error::ApiError;

/// A trunk id from a path segment; one that is not a UUID names no trunk
/// (404, not 400: the path is the resource's name).
pub fn parse_id(s: &str) -> Result<Uuid, ApiError> {
    s.parse::<Uuid>()
        .map_err(|_| ApiError::NotFound(format!("no trunk {s}")))
}

/// Bodies larger than this are refused with 400.
pub const MAX_BODY: usize = 1024 * 1024;

/// A JSON object body, parsed but not yet typed (so partial updates can be
/// merged before the typed check).
pub struct JsonObject(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::JsonParse(format!(
                "Content-Type must be application/json (got {:?})",
                ct
            )));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::field("(body)", format!("must be at most {MAX_BODY} bytes")))?;
        if bytes.len() > MAX_BODY {
            return Err(ApiError::field(
                "(body)",
                format!("must be at most {MAX_BODY} bytes"),
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(JsonObject(m)),
            Ok(_) => Err(ApiError::JsonParse("the body must be a JSON object".into())),
            Err(e) => Err(ApiError::JsonParse(format!("invalid JSON: {e}"))),
        }
    }
}

/// Deserializes a JSON value into `T`, naming the field that failed
/// (`outbound.fax_support: unknown variant ...`), with `prefix` before it.
pub fn typed<T: DeserializeOwned>(v: Value, prefix: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize::<_, T>(v).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.inner().to_string();
        let mut field = if path == "." { String::new() } else { path };
        // `unknown field `x`` / `missing field `x``: the field is in the message.
        for marker in ["unknown field `", "missing field `"] {
            if let Some(rest) = msg.split(marker).nth(1) {
                if let Some(name) = rest.split('`').next() {
                    if !field.ends_with(name) {
                        if !field.is_empty() {
                            field.push('.');
                        }
                        field.push_str(name);
                    }
                }
            }
        }
        let field = match (prefix.is_empty(), field.is_empty()) {
            (true, true) => "(body)".to_string(),
            (true, false) => field,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{field}"),
        };
        ApiError::field(field, msg)
    })
}

/// A query string parsed into `T` (unknown parameters refused). A literal
/// `+` is a plus (`api_no=+19495551212` is the E.164 number), not the
/// form-encoding space; a space is sent as `%20`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(Query)
    }
}

/// Query parameters that may be repeated (their values are joined with `,`,
/// as the spec lets `capabilities` be given either way).
const REPEATABLE: [&str; 1] = ["capabilities"];

/// Parses a query string into `T` (see [`Query`]).
pub fn parse_query<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    let q = q.replace('+', "%2B");
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&q)
        .map_err(|e| ApiError::field("(query)", format!("not a valid query string: {e}")))?;
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        match map.get_mut(&k) {
            Some(Value::String(old)) if REPEATABLE.contains(&k.as_str()) => {
                old.push(',');
                old.push_str(&v);
            }
            Some(_) => return Err(ApiError::field(k, "given more than once")),
            None => {
                map.insert(k, Value::String(v));
            }
        }
    }
    typed(Value::Object(map), "")
}

/// Query values arrive as strings; numeric parameters parse here.
pub fn parse_u32(
    field: &str,
    v: Option<&str>,
    default: u32,
    lo: u32,
    hi: u32,
) -> Result<u32, ApiError> {
    let Some(v) = v else { return Ok(default) };
    match v.parse::<u32>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            field,
            format!("must be an integer between {lo} and {hi} (got {v:?})"),
        )),
    }
}

/// One path parameter, percent-decoded; an undecodable one (invalid
/// percent-encoding, not UTF-8) is 400001 with the spec's body rather than
/// axum's plain-text rejection.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(s)) => Ok(PathParam(s)),
            Err(_) => Err(ApiError::field(
                "path",
                "must be valid percent-encoded UTF-8",
            )),
        }
    }
}
