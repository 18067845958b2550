//! The HTTP face of the [`Collector`]: axum routes for the v1 protocol and JSON errors for
//! everything that goes wrong (including what axum itself rejects: oversized bodies, bad queries,
//! unknown paths). The daemon's serve loop ([`crate::http`]) serves them.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use super::collector::{Collector, CollectorError};
use crate::http::{self, HttpLimits};
use crate::protocol::{
    parse_b256, ApiError, Cursor, DisputePost, ErrorCode, ProposalsQuery, SignaturePost, DISPUTES_PATH, PROPOSALS_PATH,
    PROPOSAL_ROUTE, SIGNATURES_PATH, STATUS_PATH,
};
use crate::quorum::SignatureRejected;

/// The v1 routes over `collector`.
pub fn router(collector: Collector, limits: &HttpLimits) -> Router {
    Router::new()
        .route(STATUS_PATH, get(status))
        .route(PROPOSALS_PATH, get(list_proposals))
        .route(PROPOSAL_ROUTE, get(get_proposal))
        .route(SIGNATURES_PATH, post(post_signature))
        .route(DISPUTES_PATH, post(post_dispute))
        .fallback(not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(limits.request_timeout, request_timeout))
        .with_state(collector)
}

fn error(err: ApiError) -> Response {
    http::error(&err)
}

fn ok<T: Serialize>(body: &T) -> Response {
    http::json(StatusCode::OK, body)
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
        ApiError { field: Some(field.into()), ..ApiError::new(code, err.to_string()) }
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

async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(ApiError::new(ErrorCode::Timeout, format!("request took longer than {limit:?}"))),
    }
}
