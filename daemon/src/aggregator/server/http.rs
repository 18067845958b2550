//! The HTTP face of the [`Collector`]: axum routes for the v1 protocol, JSON errors for everything
//! that goes wrong (including what axum itself rejects: oversized bodies, bad queries, unknown
//! paths), and a serve loop with connection and time limits, generic over the listener so the
//! control API can run the same loop on a Unix socket.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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

use super::collector::{Collector, CollectorError};
use super::hyper_errors::{self, ErrorBody, JsonErrors};
use crate::aggregator::protocol::{
    parse_b256, ApiError, Cursor, DisputePost, ErrorCode, ProposalsQuery, SignaturePost, DISPUTES_PATH, PROPOSALS_PATH,
    PROPOSAL_ROUTE, SIGNATURES_PATH, STATUS_PATH,
};
use crate::aggregator::quorum::SignatureRejected;

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

/// The v1 routes over `collector`.
pub fn router(collector: Collector, limits: &HttpLimits) -> Router {
    Router::new()
        .route(STATUS_PATH, get(status))
        .route(PROPOSALS_PATH, get(list_proposals))
        .route(PROPOSAL_ROUTE, get(get_proposal))
        .route(SIGNATURES_PATH, post(post_signature))
        .route(DISPUTES_PATH, post(post_dispute))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(limits.request_timeout, request_timeout))
        .with_state(collector)
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets in-flight requests
/// finish for at most [`HttpLimits::shutdown_grace`] and returns. Each request carries its
/// connection's peer address as [`ConnectInfo`] (the control API's listener puts the peer's
/// credentials there).
///
/// Every error a client gets has the server's JSON body (`errors`): hyper's own answers to requests
/// it cannot parse are rewritten ([`JsonErrors`]), a request whose head does not arrive within
/// [`HttpLimits::header_read_timeout`] gets a `408`, and a connection above
/// [`HttpLimits::max_connections`] is answered `503` at once rather than left in the backlog
/// behind the connections being served (up to as many again; beyond that it is closed).
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    limits: HttpLimits,
    errors: ErrorBody,
    shutdown: CancellationToken,
) where
    L: Listener,
    L::Addr: Clone + Send + Sync + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let busy = busy_router(errors, limits.max_connections);
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
            let mut io = JsonErrors::new(io, errors);
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
                    let answer = hyper_errors::response(StatusCode::REQUEST_TIMEOUT, errors, &message);
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
fn busy_router(errors: ErrorBody, max_connections: usize) -> Router {
    let body = Bytes::from(errors(
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

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => error(ApiError::new(ErrorCode::Internal, format!("encoding the answer: {e}"))),
    }
}

fn error(err: ApiError) -> Response {
    let status = StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = serde_json::to_vec(&err).unwrap_or_else(|_| br#"{"code":"internal","message":"error"}"#.to_vec());
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn ok<T: Serialize>(body: &T) -> Response {
    json(StatusCode::OK, body)
}

impl From<&CollectorError> for ApiError {
    fn from(err: &CollectorError) -> Self {
        let code = match err {
            CollectorError::UnknownDigest { .. } => ErrorCode::UnknownDigest,
            CollectorError::ProposalClosed { .. } => ErrorCode::ProposalClosed,
            CollectorError::Signature(SignatureRejected::UnknownOperator { .. })
            | CollectorError::DisputeFromStranger { .. } => ErrorCode::UnknownOperator,
            CollectorError::Signature(SignatureRejected::InvalidSignature { .. }) => ErrorCode::InvalidSignature,
            CollectorError::Signature(SignatureRejected::ConflictingSignature { .. }) => {
                ErrorCode::ConflictingSignature
            }
            CollectorError::RateLimited { .. } => ErrorCode::RateLimited,
            CollectorError::UnknownTask { index, .. } => {
                return ApiError::field(ErrorCode::UnknownTask, format!("leaves[{index}]"), err);
            }
            CollectorError::Quorum(_)
            | CollectorError::Store(_)
            | CollectorError::NoRuntime
            | CollectorError::Background(_) => {
                tracing::warn!(error = %err, "aggregator endpoint: internal error");
                return ApiError::new(ErrorCode::Internal, "internal error; see the aggregator's log");
            }
        };
        let field = match code {
            ErrorCode::UnknownDigest | ErrorCode::ProposalClosed => "digest",
            _ => "operator",
        };
        ApiError { code, message: err.to_string(), field: Some(field.into()) }
    }
}

fn body_error(rejection: &BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(ErrorCode::BodyTooLarge, format!("request body: {}", rejection.body_text()))
    } else {
        ApiError::new(ErrorCode::BadJson, format!("request body: {}", rejection.body_text()))
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|rejection| body_error(&rejection))?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::new(ErrorCode::BadJson, format!("request body: {e}")))
}

async fn status(State(collector): State<Collector>) -> Response {
    ok(&collector.status())
}

async fn list_proposals(
    State(collector): State<Collector>,
    query: Result<Query<ProposalsQuery>, QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(query) => query,
        Err(rejection) => {
            return error(ApiError::new(ErrorCode::InvalidValue, format!("query: {}", rejection.body_text())))
        }
    };
    let after = match query.after.as_deref().map(str::parse::<Cursor>).transpose() {
        Ok(after) => after,
        Err(e) => return error(e),
    };
    if query.limit == Some(0) {
        return error(ApiError::field(ErrorCode::InvalidValue, "limit", "must be at least 1"));
    }
    ok(&collector.page(after, query.limit))
}

async fn get_proposal(State(collector): State<Collector>, digest: Result<Path<String>, PathRejection>) -> Response {
    let digest = match digest {
        Ok(Path(digest)) => digest,
        Err(rejection) => return error(ApiError::field(ErrorCode::InvalidValue, "digest", rejection.body_text())),
    };
    let digest = match parse_b256("digest", &digest) {
        Ok(digest) => digest,
        Err(e) => return error(e),
    };
    match collector.proposal_view(digest) {
        Ok(view) => ok(&view),
        Err(e) => error(ApiError::from(&e)),
    }
}

async fn post_signature(State(collector): State<Collector>, body: Result<Bytes, BytesRejection>) -> Response {
    let signed = match parse_json::<SignaturePost>(body).and_then(|post| post.parse()) {
        Ok(signed) => signed,
        Err(e) => return error(e),
    };
    // Run apart from the request, so a client that hangs up (or the request timeout) cannot stop
    // a verified signature between the store and the book.
    match tokio::spawn(async move { collector.submit_signature(signed).await }).await {
        Ok(Ok(receipt)) => ok(&receipt),
        Ok(Err(e)) => error(ApiError::from(&e)),
        Err(e) => error(ApiError::new(ErrorCode::Internal, format!("signature task failed: {e}"))),
    }
}

async fn post_dispute(State(collector): State<Collector>, body: Result<Bytes, BytesRejection>) -> Response {
    let dispute = match parse_json::<DisputePost>(body).and_then(|post| post.parse()) {
        Ok(dispute) => dispute,
        Err(e) => return error(e),
    };
    match collector.submit_dispute(dispute) {
        Ok(receipt) => ok(&receipt),
        Err(e) => error(ApiError::from(&e)),
    }
}

async fn not_found(request: Request) -> Response {
    error(ApiError::new(ErrorCode::NotFound, format!("no route for {}", request.uri().path())))
}

async fn method_not_allowed(request: Request) -> Response {
    error(ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
    ))
}

async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(ApiError::new(ErrorCode::Timeout, format!("request took longer than {limit:?}"))),
    }
}
