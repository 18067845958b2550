//! The daemon's HTTP serving, shared by its three servers (the aggregator's endpoint, the control
//! API, the metrics endpoint): a serve loop with connection and time limits, generic over the
//! listener (TCP, or the control API's Unix socket), JSON bodies for the answers hyper writes on
//! its own ([`hyper_errors`]), and the JSON answers of the routers ([`json`], [`error`]). Every
//! server answers errors with the one [`ApiError`] body.

mod hyper_errors;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use hyper_errors::JsonErrors;
use keeper_shared::api::{ApiError, ErrorCode};

/// Limits of an HTTP server.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest request body accepted (signatures and disputes are small).
    pub max_body_bytes: usize,
    /// Longest time one request may take, reading its body included.
    pub request_timeout: Duration,
    /// Longest time a client may take to send a request's headers (against slow-header clients).
    pub header_read_timeout: Duration,
    /// Connections served at once; more are answered `503`.
    pub max_connections: usize,
    /// On shutdown, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 256,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets in-flight requests
/// finish for at most [`HttpLimits::shutdown_grace`] and returns. Each request carries its
/// connection's peer address as [`ConnectInfo`] (the control API's listener puts the peer's
/// credentials there).
///
/// Every error a client gets has the JSON [`ApiError`] body: hyper's own answers to requests
/// it cannot parse are rewritten ([`JsonErrors`]), a request whose head does not arrive within
/// [`HttpLimits::header_read_timeout`] gets a `408`, and a connection above
/// [`HttpLimits::max_connections`] is answered `503` at once rather than left in the backlog
/// behind the connections being served (up to as many again; beyond that it is closed).
pub async fn serve<L>(mut listener: L, router: Router, limits: HttpLimits, shutdown: CancellationToken)
where
    L: Listener,
    L::Addr: Clone + Send + Sync + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let busy = busy_router(limits.max_connections);
    let connections = TaskTracker::new();
    loop {
        let (io, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (slot, router, header_read_timeout) = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => (slot, router.clone(), limits.header_read_timeout),
            Err(_) => match Arc::clone(&refusals).try_acquire_owned() {
                Ok(slot) => (slot, busy.clone(), REFUSAL_HEADER_TIMEOUT),
                Err(_) => {
                    tracing::debug!("http: too many connections, even to refuse; closing one");
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(router.layer(Extension(ConnectInfo(peer))));
        let shutdown = shutdown.clone();
        let grace = limits.shutdown_grace;
        connections.spawn(async move {
            let _slot = slot;
            let mut io = JsonErrors::new(io);
            let result = {
                let mut builder = http1::Builder::new();
                builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout).writev(false);
                let connection = builder.serve_connection(TokioIo::new(&mut io), service);
                tokio::pin!(connection);
                tokio::select! {
                    result = connection.as_mut() => result,
                    () = shutdown.cancelled() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(grace, connection).await;
                        Ok(())
                    }
                }
            };
            match result {
                Err(e) if e.is_timeout() && io.awaits_a_request() => {
                    let message = format!("the request's headers did not arrive within {header_read_timeout:?}");
                    let answer = hyper_errors::response(StatusCode::REQUEST_TIMEOUT, &message);
                    let io = io.get_mut();
                    let _ = tokio::time::timeout(grace, async {
                        io.write_all(&answer).await?;
                        io.shutdown().await
                    })
                    .await;
                }
                Err(e) => tracing::debug!(error = %e, "http: connection ended with an error"),
                Ok(()) => {}
            }
        });
    }
    connections.close();
    connections.wait().await;
}

/// How long a connection over the cap may take to send the request it is refused.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Answers every request `503` and closes: for connections above the cap.
fn busy_router(max_connections: usize) -> Router {
    let body = Bytes::from(hyper_errors::error_body(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("connections: all {max_connections} are in use; retry shortly"),
    ));
    Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "application/json"), (header::CONNECTION, "close")],
                body,
            )
        }
    })
}

/// `err`'s HTTP status.
fn status(err: &ApiError) -> StatusCode {
    StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// `body` as a JSON answer with `status`; an internal error if it cannot be encoded.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => error(&ApiError::new(ErrorCode::Internal, format!("encoding the answer: {e}"))),
    }
}

/// `err` as a JSON answer with its status.
pub fn error(err: &ApiError) -> Response {
    let bytes = serde_json::to_vec(err).unwrap_or_else(|_| br#"{"code":"internal","message":"error"}"#.to_vec());
    (status(err), [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// Both servers' answer to a method a route does not take.
pub async fn method_not_allowed(request: Request) -> Response {
    error(&ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
    ))
}
