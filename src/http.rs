//! The HTTP listener: Prometheus text exposition at `GET /metrics`,
//! liveness at `GET /health/live`, and the REST API (`crate::api`: `/v1/...`,
//! `/health/ready`) when given.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Runs just before every scrape, to copy counters kept elsewhere (transport stats) into gauges.
pub type ScrapeHook = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    before_scrape: Option<ScrapeHook>,
}

async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    if let Some(hook) = &st.before_scrape {
        hook();
    }
    let mut body = String::with_capacity(16 * 1024);
    match prometheus_client::encoding::text::encode(&mut body, &st.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed").into_response(),
    }
}

async fn live() -> &'static str {
    "ok"
}

/// Binds the HTTP listener and serves until `shutdown` turns true. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    limits: crate::http_guard::HttpLimits,
    guard_metrics: crate::http_guard::HttpGuardMetrics,
    registry: Arc<Registry>,
    before_scrape: Option<ScrapeHook>,
    api: Option<Router>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health/live", get(live))
        .with_state(AppState {
            registry,
            before_scrape,
        });
    let app = match api {
        Some(api) => app.merge(api),
        None => app,
    };
    let handle = tokio::spawn(async move {
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        // Connect info: the API's limiter counts failed authentications per peer.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        use axum::serve::ListenerExt;
        // The guard caps connections (total, per source) and closes idle ones;
        // tap_io keeps the peer address available as ConnectInfo<SocketAddr>.
        let listener =
            crate::http_guard::GuardedListener::new(listener, limits, guard_metrics).tap_io(|_| {});
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "http listener failed");
        }
    });
    Ok((local, handle))
}
