//! The management REST API (base path `/v1`), served on the HTTP listener
//! beside `/metrics`:
//!
//! ```text
//!  request ─► auth (X-API-Key, SHA-256, constant time)          auth.rs
//!          ─► extractors (JSON object ≤ 1 MiB, query)           extract.rs
//!          ─► handler: Trunks / PhoneNumbers / call logs        trunks.rs numbers.rs calls.rs
//!               writes: TrunkStore::edit (BEGIN IMMEDIATE, validated with the
//!               config's rules) then CallHub::replace_routing — the next call sees it;
//!               with `[store] url` the same through PgStore::edit (every
//!               other node follows by LISTEN/NOTIFY); PostgreSQL down: 503
//!          ─► JSON, or the spec's error body                    error.rs
//! ```
//!
//! `/health/live`, `/health/ready` and `/metrics` need no key; everything
//! under `/v1` (and any unknown path) does. `GET /v1/openapi.json` is the
//! OpenAPI 3 document generated from the handlers (`openapi.rs`).
//! Depends on `store` (trunks, numbers, call logs), `config` (model and
//! rules) and `call::CallHub` (the routing snapshot).

pub mod auth;
pub mod calls;
pub mod error;
pub mod extract;
pub mod limit;
pub mod live;
pub mod numbers;
pub mod openapi;
pub mod page;
pub mod schema;
pub mod trunks;

use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use serde::Serialize;

use crate::call::CallHub;
use crate::store::pg::PgStore;
use crate::store::{CallLogQuery, CallLogStore, CallRecord, StoreError, TrunkSet, TrunkStore};

pub use error::ApiError;

/// Everything the handlers share.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    hub: Arc<CallHub>,
    store: Backend,
    keys: auth::Keys,
    limits: auth::Limits,
}

/// The store behind the API: the embedded SQLite file or the shared
/// PostgreSQL (`[store] url`).
enum Backend {
    Sqlite {
        /// The writer connection; held (in a blocking task) from `BEGIN
        /// IMMEDIATE` to the snapshot swap, so snapshots follow commit order.
        writer: Arc<Mutex<TrunkStore>>,
        reader: Arc<Mutex<TrunkStore>>,
        logs: Arc<Mutex<CallLogStore>>,
    },
    /// Async, pooled; its routing gate orders commits and snapshot swaps.
    Postgres(PgStore),
}

impl ApiState {
    /// Opens the API's own connections to `data_dir/trunkgate.db`, or uses
    /// the PostgreSQL store's pool when `pg` is given.
    pub fn open(
        hub: Arc<CallHub>,
        keys: auth::Keys,
        pg: Option<PgStore>,
    ) -> Result<ApiState, StoreError> {
        let config = hub.snapshot.load().config.clone();
        let dir = config.store.data_dir.clone();
        let store = match pg {
            Some(pg) => Backend::Postgres(pg),
            None => Backend::Sqlite {
                writer: Arc::new(Mutex::new(TrunkStore::open(&dir)?)),
                reader: Arc::new(Mutex::new(TrunkStore::open(&dir)?)),
                logs: Arc::new(Mutex::new(CallLogStore::open(&dir)?)),
            },
        };
        Ok(ApiState {
            inner: Arc::new(Inner {
                store,
                hub,
                keys,
                limits: auth::Limits::new(config.api.requests_per_minute),
            }),
        })
    }

    pub fn hub(&self) -> &Arc<CallHub> {
        &self.inner.hub
    }

    /// Reads every trunk and number (a blocking task on the reader connection).
    pub async fn load(&self) -> Result<TrunkSet, ApiError> {
        let reader = match &self.inner.store {
            Backend::Postgres(pg) => return Ok(pg.load().await?),
            Backend::Sqlite { reader, .. } => Arc::clone(reader),
        };
        blocking(move || {
            let s = reader.lock().map_err(|_| poisoned())?;
            Ok(s.load()?)
        })
        .await
    }

    /// Runs a change in one store transaction and, once committed, swaps the
    /// routing snapshot (still holding the writer, so a later commit cannot
    /// be overtaken by an earlier snapshot).
    pub async fn write<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut TrunkSet) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<(T, TrunkSet), ApiError> {
        let hub = Arc::clone(&self.inner.hub);
        let writer = match &self.inner.store {
            Backend::Postgres(pg) => {
                let _gate = pg.routing_gate().lock().await;
                let (value, set) = pg
                    .edit(crate::store::trunks::now_ms(), change)
                    .await
                    .map_err(edit_error)?;
                let (trunks, numbers) = set.routing();
                hub.replace_routing(trunks, numbers);
                return Ok((value, set));
            }
            Backend::Sqlite { writer, .. } => Arc::clone(writer),
        };
        blocking(move || {
            let mut s = writer.lock().map_err(|_| poisoned())?;
            let (value, set) = s.edit(change).map_err(edit_error)?;
            let (trunks, numbers) = set.routing();
            hub.replace_routing(trunks, numbers);
            Ok((value, set))
        })
        .await
    }

    /// Call-log records matching `q` (see `CallLogStore::query`).
    pub async fn query_logs(&self, q: CallLogQuery) -> Result<Vec<CallRecord>, ApiError> {
        match &self.inner.store {
            Backend::Postgres(pg) => pg.query_logs(&q).await.map_err(calls::store_err),
            Backend::Sqlite { logs, .. } => sqlite_logs(logs, move |s| s.query(&q)).await,
        }
    }

    /// The call-log record of `call_id` (see `CallLogStore::get`).
    pub async fn get_log(&self, call_id: String) -> Result<Option<CallRecord>, ApiError> {
        match &self.inner.store {
            Backend::Postgres(pg) => pg.get_log(&call_id).await.map_err(calls::store_err),
            Backend::Sqlite { logs, .. } => sqlite_logs(logs, move |s| s.get(&call_id)).await,
        }
    }

    /// Whether the store answers (`/health/ready`): PostgreSQL's tracked
    /// state (no query per probe), or a read of the SQLite file.
    async fn store_up(&self) -> bool {
        match &self.inner.store {
            Backend::Postgres(pg) => pg.health().is_up(),
            Backend::Sqlite { .. } => self.load().await.is_ok(),
        }
    }

    fn store_backend(&self) -> &'static str {
        match &self.inner.store {
            Backend::Postgres(_) => "postgres",
            Backend::Sqlite { .. } => "sqlite",
        }
    }
}

/// Runs `f` with the SQLite call-log connection in a blocking task.
async fn sqlite_logs<T: Send + 'static>(
    logs: &Arc<Mutex<CallLogStore>>,
    f: impl FnOnce(&CallLogStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let logs = Arc::clone(logs);
    blocking(move || {
        let s = logs.lock().map_err(|_| poisoned())?;
        f(&s).map_err(calls::store_err)
    })
    .await
}

fn edit_error(e: crate::store::EditError<ApiError>) -> ApiError {
    match e {
        crate::store::EditError::Refused(e) => e,
        crate::store::EditError::Invalid(f) => ApiError::Validation(f),
        crate::store::EditError::Store(e) => ApiError::Store(e),
    }
}

fn poisoned() -> ApiError {
    ApiError::Internal("store connection lock poisoned".into())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("store task: {e}")))?
}

/// Longest request target (path and query) accepted; longer ones get a JSON
/// 414 (code 414001). Heads beyond hyper's own read buffer (about 400 KB)
/// are refused by hyper before any handler runs.
pub const MAX_URI: usize = 8 * 1024;

async fn uri_limit(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI {
        return ApiError::UriTooLong(len).into_response();
    }
    next.run(req).await
}

/// A JSON response with a status.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(v) => (status, [(header::CONTENT_TYPE, "application/json")], v).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"ref_id":"","status":500,"code":500999,"message":"unexpected error","help":"","user_message":"Something went wrong on our side."}"#,
        )
            .into_response(),
    }
}

async fn no_endpoint(uri: Uri) -> ApiError {
    ApiError::NoEndpoint(uri.path().to_string())
}

async fn no_method(method: Method) -> ApiError {
    ApiError::Method(method.to_string())
}

/// `/health/ready`: 200 when the SIP listeners are bound and the store answers
/// (`store`: `up` or `down`; `store_backend`: `sqlite` or `postgres`),
/// and Redis answers when `on_redis_down = "reject"` (with `local` a Redis
/// outage is reported but the node keeps taking calls: pulling every node out
/// of the load balancer at once would be worse). `redis`: `up`, `down` or
/// `not_configured`; `node_id` says which node answered.
async fn ready(State(st): State<ApiState>) -> Response {
    let listening = st.hub().transports().is_some();
    let store = st.store_up().await;
    let cluster = st.hub().limits.cluster();
    let redis = match cluster {
        None => "not_configured",
        Some(c) if c.is_up() => "up",
        Some(_) => "down",
    };
    let redis_ok = match cluster {
        Some(c) => c.is_up() || c.on_down == crate::config::OnRedisDown::Local,
        None => true,
    };
    let node_id = st.hub().snapshot.load().config.cluster.node_id.clone();
    let status = if listening && store && redis_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(
        status,
        &serde_json::json!({
            "listeners": listening,
            "store": if store { "up" } else { "down" },
            "store_backend": st.store_backend(),
            "redis": redis,
            "node_id": node_id,
        }),
    )
}

async fn openapi_json() -> Response {
    match openapi::document() {
        Ok(doc) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            doc,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("openapi: {e}")).into_response(),
    }
}

/// CORS for `[api] cors_origins` (none configured: no CORS headers, so
/// browsers on other origins are refused by their own rules).
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    let list: Vec<header::HeaderValue> = origins
        .iter()
        .filter_map(|o| header::HeaderValue::from_str(o).ok())
        .collect();
    if list.is_empty() {
        return None;
    }
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(list)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::HeaderName::from_static("x-api-key"),
                header::CONTENT_TYPE,
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// The API routes (all under `/v1`, key required, unknown paths 404001)
/// plus `/health/ready` (no key).
/// `POST /v1/Admin/Reload` (an addition to the spec): re-reads the config
/// file like SIGHUP. 200 `{"status": "reloaded"}`, or 400001 listing the
/// file's errors (nothing changed).
async fn admin_reload(
    axum::extract::State(st): axum::extract::State<ApiState>,
) -> Result<Response, ApiError> {
    let hub = Arc::clone(st.hub());
    let r = tokio::task::spawn_blocking(move || crate::reload::from_file(&hub))
        .await
        .map_err(|e| ApiError::Internal(format!("reload task: {e}")))?;
    match r {
        Ok(()) => Ok(json_response(
            axum::http::StatusCode::OK,
            &serde_json::json!({ "status": "reloaded" }),
        )),
        Err(errors) => Err(ApiError::Validation(
            errors
                .0
                .into_iter()
                .map(|e| crate::config::FieldError {
                    field: e.key,
                    rule: e.rule,
                })
                .collect(),
        )),
    }
}

pub fn router(state: ApiState) -> Router {
    let v1 = Router::new()
        .route("/v1/openapi.json", get(openapi_json))
        .route("/v1/Trunks", get(trunks::list).post(trunks::create))
        .route(
            "/v1/Trunks/{trunk_id}",
            get(trunks::get_one)
                .put(trunks::update)
                .delete(trunks::delete),
        )
        .route("/v1/PhoneNumbers", get(numbers::list_all))
        .route(
            "/v1/PhoneNumbers/{assigned_to}",
            get(numbers::list_named)
                .post(numbers::assign_named)
                .delete(numbers::release_named)
                .put(numbers::update_description),
        )
        .route(
            "/v1/PhoneNumbers/Trunks/{trunk_id}",
            get(numbers::list_trunk)
                .post(numbers::assign_trunk)
                .delete(numbers::release_trunk),
        )
        .route(
            "/v1/PhoneNumbers/Move/{assigned_to}",
            put(numbers::move_named),
        )
        .route(
            "/v1/PhoneNumbers/Move/Trunks/{trunk_id}",
            put(numbers::move_trunk),
        )
        .route("/v1/History/Logs/Calls", get(calls::list))
        .route("/v1/History/Logs/Calls/{call_id}", get(calls::get_one))
        .route("/v1/LiveCalls", get(live::list))
        .route("/v1/Admin/Reload", axum::routing::post(admin_reload))
        .route(
            "/v1/LiveCalls/{call_id}",
            axum::routing::delete(live::hangup),
        )
        .fallback(no_endpoint)
        .method_not_allowed_fallback(no_method)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    // Outside the key check: a browser's preflight carries no key.
    let origins = state.hub().snapshot.load().config.api.cors_origins.clone();
    let v1 = match cors(&origins) {
        Some(layer) => v1.layer(layer),
        None => v1,
    }
    .with_state(state.clone());
    let public = Router::new()
        .route("/health/ready", get(ready))
        .with_state(state);
    public.merge(v1).layer(axum::middleware::from_fn(uri_limit))
}
