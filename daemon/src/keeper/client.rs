//! The keeper's side of the aggregator endpoint (`crate::protocol`): fetch open proposals,
//! post signatures and disputes. Whatever the aggregator answers is checked like any network
//! input: bodies are size-limited, and each proposal is rebuilt from its leaves so its digest is
//! the one the keeper computes, never the one it was told.
//!
//! Errors separate "try again later" ([`ClientError::is_retryable`]: unreachable, timed out,
//! overloaded, 5xx) from "the aggregator refused this" ([`ClientError::Rejected`] with its code).

use std::time::Duration;

use alloy::primitives::B256;
use keeper_shared::batch::Batch;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::protocol::{
    proposal_path, ApiError, Cursor, Dispute, DisputePost, DisputeReceipt, ErrorCode, ProposalPage, ProposalView,
    SignaturePost, SignatureReceipt, SignedBatch, StatusView, DISPUTES_PATH, PROPOSALS_PATH, SIGNATURES_PATH,
    STATUS_PATH,
};

/// Limits of the client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Whole request, connecting and reading the answer included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest answer read (a page of proposals with many leaves is the big one).
    pub max_response_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Why a call to the aggregator failed.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("aggregator client: invalid aggregator URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("aggregator client: cannot build the HTTP client: {0}")]
    Build(#[source] reqwest::Error),
    #[error("aggregator client: cannot encode the request: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("aggregator {url} unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("aggregator {url} unavailable (HTTP {status}): {message}")]
    Unavailable { url: String, status: u16, code: Option<ErrorCode>, message: String },
    #[error("aggregator {url} refused the request (HTTP {status}, {code}): {message}")]
    Rejected { url: String, status: u16, code: ErrorCode, message: String, field: Option<String> },
    #[error("aggregator {url} sent an invalid answer: {reason}")]
    InvalidResponse { url: String, reason: String },
}

impl ClientError {
    /// The aggregator could not be reached or could not serve now: try again later, unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Unavailable { .. })
    }

    /// The aggregator's error code, when it sent one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Rejected { code, .. } => Some(*code),
            Self::Unavailable { code, .. } => *code,
            _ => None,
        }
    }
}

/// Open proposals fetched in one call, each rebuilt and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedProposals {
    pub batches: Vec<Batch>,
    /// Pass it to the next [`AggregatorClient::proposals`] call to get only newer ones.
    pub cursor: Cursor,
    pub has_more: bool,
}

/// A client of one aggregator endpoint. Cheap to clone (connections are pooled and shared).
#[derive(Debug, Clone)]
pub struct AggregatorClient {
    http: reqwest::Client,
    base: Url,
    max_response_bytes: usize,
}

impl AggregatorClient {
    /// A client of the aggregator at `base_url` (`http://host:port`, optionally with a path prefix).
    pub fn new(base_url: &str, config: ClientConfig) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl { url: base_url.to_string(), reason: reason.into() };
        let mut base = Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        if base.query().is_some() || base.fragment().is_some() || base.cannot_be_a_base() {
            return Err(invalid("must be a base URL without query or fragment"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("keeperd/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Build)?;
        Ok(Self { http, base, max_response_bytes: config.max_response_bytes })
    }

    /// Open proposals published after `after` (all open ones without it), at most `limit`.
    pub async fn proposals(&self, after: Option<&Cursor>, limit: Option<u32>) -> Result<FetchedProposals, ClientError> {
        let mut url = self.url(PROPOSALS_PATH)?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(after) = after {
                query.append_pair("after", &after.to_string());
            }
            if let Some(limit) = limit {
                query.append_pair("limit", &limit.to_string());
            }
        }
        let page: ProposalPage = self.call(self.http.get(url.clone()), &url).await?;
        let invalid = |reason: String| ClientError::InvalidResponse { url: url.to_string(), reason };
        let cursor = page.cursor.parse::<Cursor>().map_err(|e| invalid(format!("cursor: {}", e.message)))?;
        let batches = page
            .proposals
            .iter()
            .enumerate()
            .map(|(i, view)| view.to_batch().map_err(|e| invalid(format!("proposals[{i}].{}", e.message))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FetchedProposals { batches, cursor, has_more: page.has_more })
    }

    /// One open proposal; a [`ClientError::Rejected`] with [`ErrorCode::UnknownDigest`] or
    /// [`ErrorCode::ProposalClosed`] if it is not open.
    pub async fn proposal(&self, digest: B256) -> Result<Batch, ClientError> {
        let url = self.url(&proposal_path(&digest))?;
        let view: ProposalView = self.call(self.http.get(url.clone()), &url).await?;
        let batch =
            view.to_batch().map_err(|e| ClientError::InvalidResponse { url: url.to_string(), reason: e.message })?;
        if batch.digest() != digest {
            return Err(ClientError::InvalidResponse {
                url: url.to_string(),
                reason: format!("asked for proposal {digest}, got {}", batch.digest()),
            });
        }
        Ok(batch)
    }

    pub async fn post_signature(&self, signed: &SignedBatch) -> Result<SignatureReceipt, ClientError> {
        self.post(SIGNATURES_PATH, &SignaturePost::from_signed(signed)).await
    }

    pub async fn post_dispute(&self, dispute: &Dispute) -> Result<DisputeReceipt, ClientError> {
        self.post(DISPUTES_PATH, &DisputePost::from_dispute(dispute)).await
    }

    pub async fn status(&self) -> Result<StatusView, ClientError> {
        let url = self.url(STATUS_PATH)?;
        self.call(self.http.get(url.clone()), &url).await
    }

    fn url(&self, path: &str) -> Result<Url, ClientError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| ClientError::InvalidUrl { url: format!("{}{}", self.base, path), reason: e.to_string() })
    }

    async fn post<B: serde::Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, ClientError> {
        let url = self.url(path)?;
        let bytes = serde_json::to_vec(body).map_err(ClientError::Encode)?;
        let request = self.http.post(url.clone()).header(reqwest::header::CONTENT_TYPE, "application/json").body(bytes);
        self.call(request, &url).await
    }

    async fn call<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder, url: &Url) -> Result<T, ClientError> {
        let unreachable = |source| ClientError::Unreachable { url: url.to_string(), source };
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let invalid = |reason: String| ClientError::InvalidResponse { url: url.to_string(), reason };
        if response.content_length().is_some_and(|len| len > self.max_response_bytes as u64) {
            return Err(invalid(format!("answer larger than {} bytes", self.max_response_bytes)));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(invalid(format!("answer larger than {} bytes", self.max_response_bytes)));
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| invalid(format!("HTTP {status}: {e}")));
        }
        let api_error = serde_json::from_slice::<ApiError>(&body).ok();
        let message = api_error.as_ref().map(|e| e.message.clone()).unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&body);
            text.chars().take(200).collect()
        });
        let retry_later = status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS;
        if retry_later {
            return Err(ClientError::Unavailable {
                url: url.to_string(),
                status: status.as_u16(),
                code: api_error.map(|e| e.code),
                message,
            });
        }
        let (code, field) = api_error.map(|e| (e.code, e.field)).unwrap_or((ErrorCode::Unknown, None));
        Err(ClientError::Rejected { url: url.to_string(), status: status.as_u16(), code, message, field })
    }
}
