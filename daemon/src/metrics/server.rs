//! `GET /metrics` over HTTP, on the aggregator's serve loop (connection cap, header-read and request
//! timeouts, graceful shutdown). Each scrape first refreshes the gauges of state from the daemon.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use keeper_shared::contracts::BlsKeyRegistry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{float_value, gauge_value, MetricsError};
use crate::aggregator::server::{serve as serve_http, HttpLimits};
use crate::chain::EndpointState;
use crate::config::MetricsConfig;
use crate::node::NodeContext;

/// The path Prometheus scrapes.
pub const METRICS_PATH: &str = "/metrics";
/// The text format's content type (version 0.0.4 of the exposition format).
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// How long reading the operator's registration (three calls) may hold a scrape up.
const OPERATOR_READ_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The routes: `GET /metrics` over `context`.
pub fn router(context: NodeContext) -> Router {
    Router::new().route(METRICS_PATH, get(scrape)).fallback(not_found).with_state(context)
}

/// Serves `GET /metrics` on `listener` until `shutdown`; records the bound address in the metrics.
pub async fn serve(
    listener: TcpListener,
    context: NodeContext,
    shutdown: CancellationToken,
) -> Result<(), MetricsError> {
    let address = listener
        .local_addr()
        .map_err(|source| MetricsError::Listen { address: context.config.metrics.listen, source })?;
    context.metrics.set_listen_addr(address);
    tracing::info!(listen = %address, "metrics: serving Prometheus metrics on http://{address}{METRICS_PATH}");
    serve_http(listener, router(context), limits(), crate::aggregator::server::error_body, shutdown).await;
    Ok(())
}

async fn scrape(State(context): State<NodeContext>) -> Response {
    refresh(&context).await;
    match context.metrics.encode() {
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

/// Brings the gauges of state up to date: chain position, jobs, task records, endpoint health and
/// the operator's registration. Each source that fails leaves its gauges as they were.
pub async fn refresh(context: &NodeContext) {
    let metrics = &context.metrics;
    let processed = context.schedule.head().map(|head| head.number);
    metrics.observe_chain(None, processed, context.config.chain.confirmations);
    metrics.observe_jobs(&*context.schedule.index().await, context.config.metrics.escrow_low_tasks);
    for (endpoint, health) in context.pool.health().iter().enumerate() {
        let healthy = i64::from(health.state == EndpointState::Healthy);
        metrics.rpc_endpoint_healthy.with_label_values(&[endpoint.to_string().as_str()]).set(healthy);
    }
    match context.store.with(|store| store.read(|tx| tx.task_counts())).await {
        Ok(counts) => {
            for state in crate::store::TaskState::ALL {
                let count = counts.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
                metrics.tasks.with_label_values(&[state.as_str()]).set(gauge_value(count));
            }
        }
        Err(error) => tracing::debug!(%error, "metrics: reading task counts failed"),
    }
    if let Some(operator) = &context.operator {
        refresh_operator(context, operator.address).await;
    }
}

async fn refresh_operator(context: &NodeContext, operator: alloy::primitives::Address) {
    let provider = context.pool.provider();
    let registry = BlsKeyRegistry::new(context.config.deployment.avs.key_registry, &provider);
    let metrics = &context.metrics;
    let read = async {
        let registered = registry.isRegistered(operator).call().await?;
        let weight = registry.getOperatorWeight(operator).call().await?;
        let total = registry.getTotalWeight().call().await?;
        Ok::<_, alloy::contract::Error>((registered, weight, total))
    };
    match tokio::time::timeout(OPERATOR_READ_TIMEOUT, read).await {
        Ok(Ok((registered, weight, total))) => {
            metrics.operator_registered.set(i64::from(registered));
            metrics.operator_weight.set(float_value(weight));
            metrics.operator_total_weight.set(float_value(total));
        }
        Ok(Err(error)) => tracing::debug!(%error, "metrics: reading the operator's registration failed"),
        Err(_) => tracing::debug!("metrics: reading the operator's registration timed out"),
    }
}
