//! `GET /metrics` over HTTP, on the daemon's serve loop ([`crate::http`]: connection cap,
//! header-read and request timeouts, graceful shutdown). Each scrape first refreshes the gauges of
//! state from the daemon ([`StateGauges`]).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Metrics, MetricsError};
use crate::config::MetricsConfig;
use crate::http::{serve as serve_http, HttpLimits};

/// The path Prometheus scrapes.
pub const METRICS_PATH: &str = "/metrics";
/// The text format's content type (version 0.0.4 of the exposition format).
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The daemon's state a scrape reads first: the gauges of state are refreshed from it when
/// scraped rather than kept current, so an idle daemon costs nothing.
pub trait StateGauges: Clone + Send + Sync + 'static {
    /// The metrics to refresh and encode.
    fn metrics(&self) -> &Metrics;
    /// Brings the gauges of state up to date; a source that fails leaves its gauges as they were.
    fn refresh(&self) -> impl std::future::Future<Output = ()> + Send;
}

/// A scraper's limits: tiny requests, a few clients.
fn limits() -> HttpLimits {
    HttpLimits {
        max_body_bytes: 1024,
        request_timeout: Duration::from_secs(10),
        header_read_timeout: Duration::from_secs(5),
        max_connections: 16,
        shutdown_grace: Duration::from_secs(1),
    }
}

/// Binds the endpoint (before anything slow, so a taken port fails the start at once); `None` when
/// metrics are disabled, or when the default address is taken (several daemons on one host: only
/// an address the operator chose is worth refusing to start for).
pub async fn bind(config: &MetricsConfig) -> Result<Option<TcpListener>, MetricsError> {
    if !config.enabled {
        return Ok(None);
    }
    match TcpListener::bind(config.listen).await {
        Ok(listener) => Ok(Some(listener)),
        Err(source) if config.listen_configured => Err(MetricsError::Listen { address: config.listen, source }),
        Err(error) => {
            tracing::warn!(
                listen = %config.listen,
                %error,
                "metrics: the default address is taken; not serving metrics (set [metrics] listen or --metrics-listen)"
            );
            Ok(None)
        }
    }
}

/// The routes: `GET /metrics` over `state`.
pub fn router<S: StateGauges>(state: S) -> Router {
    Router::new().route(METRICS_PATH, get(scrape::<S>)).fallback(not_found).with_state(state)
}

/// Serves `GET /metrics` on `listener` until `shutdown`; records the bound address in the metrics.
pub async fn serve<S: StateGauges>(
    listener: TcpListener,
    state: S,
    shutdown: CancellationToken,
) -> Result<(), MetricsError> {
    let address = listener.local_addr().map_err(MetricsError::BoundAddress)?;
    state.metrics().set_listen_addr(address);
    tracing::info!(listen = %address, "metrics: serving Prometheus metrics on http://{address}{METRICS_PATH}");
    serve_http(listener, router(state), limits(), shutdown).await;
    Ok(())
}

async fn scrape<S: StateGauges>(State(state): State<S>) -> Response {
    state.refresh().await;
    match state.metrics().encode() {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::warn!(%error, "metrics: encoding failed");
            (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }
    }
}

async fn not_found(request: Request) -> Response {
    (StatusCode::NOT_FOUND, format!("no route for {}; metrics are at {METRICS_PATH}\n", request.uri().path()))
        .into_response()
}
