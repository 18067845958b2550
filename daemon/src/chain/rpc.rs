//! An RPC pool over several endpoints of one chain: per-endpoint health, retries with exponential
//! backoff and jitter, failover, a per-request timeout, and a re-probe of unhealthy endpoints.
//!
//! Built as an alloy *transport* ([`PoolTransport`], a `tower::Service` over the endpoints' HTTP
//! transports) rather than as a wrapper around providers: a `RootProvider` on top of it
//! ([`RpcPool::provider`]) gives every call the pool's behaviour, including the ones made inside
//! alloy (contract bindings, fillers, receipt watchers) and by code that only takes a generic
//! `P: Provider` (the devnet, onboarding). Each JSON-RPC request is retried on its own, which is
//! what makes a retry safe: reads are idempotent and `eth_sendRawTransaction` of the same signed
//! bytes is too (same hash). [`RpcPool::run`] adds what a transport cannot know: which logical
//! call failed, and a typed [`RpcError`] telling a revert apart from an unavailable chain.
//!
//! Retry or not is decided in one place, [`classify_transport`] / [`classify_payload`]. Requests
//! go to the first endpoint in configuration order among the healthiest, so consecutive reads
//! usually see the same node; endpoint-bound state (filter ids, subscriptions) does not survive a
//! failover, which is why the follower polls blocks instead of filters.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use alloy::primitives::Bytes;
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::client::RpcClient;
use alloy::rpc::json_rpc::{ErrorPayload, RequestPacket, ResponsePacket};
use alloy::transports::http::{reqwest, Http};
use alloy::transports::{RpcError as AlloyRpcError, TransportError, TransportErrorKind, TransportFut};
use rand::Rng;
use tokio_util::sync::CancellationToken;

/// How the pool behaves. [`RpcPoolConfig::new`] gives defaults suited to a public RPC provider.
#[derive(Debug, Clone)]
pub struct RpcPoolConfig {
    /// Endpoints in order of preference.
    pub endpoints: Vec<reqwest::Url>,
    /// One attempt on one endpoint gives up after this long.
    pub request_timeout: Duration,
    /// Attempts per JSON-RPC request, over all endpoints together (at least 1).
    pub max_attempts: u32,
    /// Wait before the second round over the endpoints; doubled each round, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive failures after which an endpoint is `Down` (only tried when nothing else is up).
    pub down_after: u32,
    /// How often endpoints that are not healthy are probed (`eth_chainId`).
    pub probe_interval: Duration,
    /// If set, a probe that sees another chain keeps the endpoint down.
    pub expected_chain_id: Option<u64>,
    /// Where each attempt is counted (`keeper_rpc_*`), if anywhere.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl RpcPoolConfig {
    pub fn new(endpoints: Vec<reqwest::Url>) -> Self {
        Self {
            endpoints,
            request_timeout: Duration::from_secs(10),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            down_after: 3,
            probe_interval: Duration::from_secs(5),
            expected_chain_id: None,
            metrics: None,
        }
    }
}

/// Where an endpoint stands: the control API's type, so status shows it as the pool keeps it.
pub use keeper_shared::api::EndpointState;

/// One endpoint's health, for status and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointHealth {
    pub url: String,
    pub state: EndpointState,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// Duration of the last attempt (successful or not).
    pub last_latency: Option<Duration>,
    pub requests_total: u64,
    pub failures_total: u64,
}

/// Why a pooled call failed, as its caller needs to tell: reverts and refusals are final answers
/// from the chain; `Unavailable` means no endpoint answered usefully within the retry budget.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("{method}: execution reverted: {message}")]
    Reverted {
        method: &'static str,
        message: String,
        /// The revert data (an ABI-encoded error), when the node returned it.
        data: Option<Bytes>,
    },
    #[error("{method}: refused by the node (code {code}): {message}")]
    Rejected { method: &'static str, code: i64, message: String },
    #[error("{method}: no endpoint answered: {source}")]
    Unavailable {
        method: &'static str,
        #[source]
        source: TransportError,
    },
    #[error("{method}: {source}")]
    Other {
        method: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl RpcError {
    /// The revert data of a [`RpcError::Reverted`].
    pub fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Self::Reverted { data, .. } => data.as_ref(),
            _ => None,
        }
    }

    pub fn is_revert(&self) -> bool {
        matches!(self, Self::Reverted { .. })
    }

    /// Whether trying again later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// The node's error message, for matching a refusal (`nonce too low`, `already known`).
    pub fn node_message(&self) -> Option<&str> {
        match self {
            Self::Reverted { message, .. } | Self::Rejected { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Classifies the error of a provider, contract or pending-transaction call.
    pub fn from_call<E: CallError>(method: &'static str, error: E) -> Self {
        let Some(transport) = error.transport_error() else {
            return Self::Other { method, source: Box::new(error) };
        };
        if let AlloyRpcError::ErrorResp(payload) = transport {
            return match classify_payload(payload) {
                ErrorClass::Retryable => Self::Unavailable { method, source: error.into_transport_error() },
                ErrorClass::Revert => {
                    Self::Reverted { method, message: payload.message.to_string(), data: payload.as_revert_data() }
                }
                ErrorClass::Fatal => {
                    Self::Rejected { method, code: payload.code, message: payload.message.to_string() }
                }
            };
        }
        match classify_transport(transport) {
            ErrorClass::Retryable => Self::Unavailable { method, source: error.into_transport_error() },
            _ => Self::Other { method, source: Box::new(error) },
        }
    }
}

/// Errors of alloy calls that may carry a JSON-RPC error, so [`RpcPool::run`] can classify them.
pub trait CallError: std::error::Error + Send + Sync + Sized + 'static {
    fn transport_error(&self) -> Option<&TransportError>;
    /// The transport error, or this error made into a custom one.
    fn into_transport_error(self) -> TransportError;
}

impl CallError for TransportError {
    fn transport_error(&self) -> Option<&TransportError> {
        Some(self)
    }
    fn into_transport_error(self) -> TransportError {
        self
    }
}

impl CallError for alloy::contract::Error {
    fn transport_error(&self) -> Option<&TransportError> {
        match self {
            Self::TransportError(e) => Some(e),
            Self::PendingTransactionError(alloy::providers::PendingTransactionError::TransportError(e)) => Some(e),
            _ => None,
        }
    }
    fn into_transport_error(self) -> TransportError {
        match self {
            Self::TransportError(e) => e,
            other => TransportErrorKind::custom(other),
        }
    }
}

impl CallError for alloy::providers::PendingTransactionError {
    fn transport_error(&self) -> Option<&TransportError> {
        match self {
            Self::TransportError(e) => Some(e),
            _ => None,
        }
    }
    fn into_transport_error(self) -> TransportError {
        match self {
            Self::TransportError(e) => e,
            other => TransportErrorKind::custom(other),
        }
    }
}

/// What to do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The endpoint failed (connection, timeout, 429/5xx, rate limit): try again, elsewhere first.
    Retryable,
    /// The EVM reverted: the same request gets the same answer.
    Revert,
    /// Any other final answer (invalid params, nonce too low, a malformed request).
    Fatal,
}

/// Classifies a transport-level failure (no JSON-RPC answer, or an HTTP error status).
pub fn classify_transport(error: &TransportError) -> ErrorClass {
    match error {
        AlloyRpcError::ErrorResp(payload) => classify_payload(payload),
        AlloyRpcError::Transport(kind) => match kind {
            // 400 and 413 say our request is at fault; anything else (401/403 from a misconfigured
            // key, 404 from a wrong path, 408, 429, 5xx) is this endpoint's problem.
            TransportErrorKind::HttpError(http) => {
                if matches!(http.status, 400 | 413) {
                    ErrorClass::Fatal
                } else {
                    ErrorClass::Retryable
                }
            }
            TransportErrorKind::PubsubUnavailable => ErrorClass::Fatal,
            // Connection refused or reset, a body cut short, our timeout, a missing batch item.
            _ => ErrorClass::Retryable,
        },
        // A body that is not JSON-RPC (a proxy's error page) comes from the endpoint.
        AlloyRpcError::DeserError { .. } => ErrorClass::Retryable,
        AlloyRpcError::NullResp => ErrorClass::Retryable,
        _ => ErrorClass::Fatal,
    }
}

/// Classifies a JSON-RPC error response.
pub fn classify_payload<E>(payload: &ErrorPayload<E>) -> ErrorClass {
    let message = payload.message.to_ascii_lowercase();
    // Code 3 is geth's and anvil's "execution reverted" (with data); others say it in the message.
    if payload.code == 3 || message.contains("revert") {
        return ErrorClass::Revert;
    }
    // alloy knows the rate-limit codes of the common providers; -32603 "internal error" and
    // header-not-found are a node that is behind or restarting.
    if payload.is_retry_err()
        || message.contains("rate limit")
        || message.contains("too many requests")
        || message.contains("header not found")
        || (payload.code == -32603 && message.contains("internal error"))
    {
        return ErrorClass::Retryable;
    }
    ErrorClass::Fatal
}

/// A timeout of one attempt, as a transport error.
#[derive(Debug, thiserror::Error)]
#[error("no answer from {endpoint} within {after:?}")]
pub struct AttemptTimeout {
    pub endpoint: String,
    pub after: Duration,
}

#[derive(Debug)]
struct Health {
    state: EndpointState,
    consecutive_failures: u32,
    last_error: Option<String>,
    last_latency: Option<Duration>,
    requests_total: u64,
    failures_total: u64,
}

struct Endpoint {
    url: reqwest::Url,
    transport: Http<reqwest::Client>,
    health: Mutex<Health>,
}

impl Endpoint {
    fn health(&self) -> MutexGuard<'_, Health> {
        // A panic while holding this lock leaves counters, never an invariant, behind.
        self.health.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Shared {
    endpoints: Vec<Endpoint>,
    config: RpcPoolConfig,
}

/// The pool as an alloy transport (see the module documentation).
#[derive(Clone)]
pub struct PoolTransport {
    shared: Arc<Shared>,
}

impl fmt::Debug for PoolTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolTransport").field("endpoints", &self.shared.endpoints.len()).finish()
    }
}

impl tower::Service<RequestPacket> for PoolTransport {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move { shared.dispatch(request).await })
    }
}

/// The outcome of one attempt on one endpoint.
enum Attempt {
    Done(ResponsePacket),
    Fatal(TransportError),
    /// Retry elsewhere; keeps what to return if no attempt is left.
    Failed(Result<ResponsePacket, TransportError>),
}

impl Shared {
    async fn dispatch(&self, request: RequestPacket) -> Result<ResponsePacket, TransportError> {
        let mut tried = HashSet::new();
        let mut round = 0u32;
        let mut last = None;
        for _ in 0..self.config.max_attempts.max(1) {
            let index = match self.pick(&tried) {
                Some(index) => index,
                None => {
                    // Every endpoint failed this round: wait, then start another.
                    tokio::time::sleep(backoff(&self.config, round)).await;
                    round += 1;
                    tried.clear();
                    match self.pick(&tried) {
                        Some(index) => index,
                        None => break,
                    }
                }
            };
            tried.insert(index);
            match self.attempt(index, request.clone()).await {
                Attempt::Done(response) => return Ok(response),
                Attempt::Fatal(error) => return Err(error),
                Attempt::Failed(outcome) => last = Some(outcome),
            }
        }
        last.unwrap_or_else(|| Err(TransportErrorKind::custom_str("rpc pool has no endpoint")))
    }

    /// The first endpoint in configuration order with the best state among those not tried yet.
    fn pick(&self, tried: &HashSet<usize>) -> Option<usize> {
        self.endpoints
            .iter()
            .enumerate()
            .filter(|(index, _)| !tried.contains(index))
            .min_by_key(|(index, endpoint)| (endpoint.health().state, *index))
            .map(|(index, _)| index)
    }

    async fn attempt(&self, index: usize, request: RequestPacket) -> Attempt {
        let endpoint = &self.endpoints[index];
        let mut transport = endpoint.transport.clone();
        let method = match &request {
            RequestPacket::Single(call) => call.method().to_owned(),
            RequestPacket::Batch(_) => "batch".to_owned(),
        };
        let started = Instant::now();
        let timeout = self.config.request_timeout;
        let result = match tokio::time::timeout(timeout, tower::Service::call(&mut transport, request)).await {
            Ok(result) => result,
            Err(_) => {
                Err(TransportErrorKind::custom(AttemptTimeout { endpoint: endpoint.url.to_string(), after: timeout }))
            }
        };
        let latency = started.elapsed();
        let failure = match &result {
            Ok(response) => response
                .iter_errors()
                .find(|e| classify_payload(e) == ErrorClass::Retryable)
                .map(|e| format!("error {}: {}", e.code, e.message)),
            Err(error) if classify_transport(error) == ErrorClass::Retryable => Some(error.to_string()),
            Err(_) => None,
        };
        self.record(index, latency, failure.clone());
        if let Some(metrics) = &self.config.metrics {
            let failed = failure.is_some() || result.is_err();
            metrics.observe_rpc(&method, index, latency, failed);
        }
        match (result, failure) {
            (outcome, Some(_)) => Attempt::Failed(outcome),
            (Ok(response), None) => Attempt::Done(response),
            (Err(error), None) => Attempt::Fatal(error),
        }
    }

    fn record(&self, index: usize, latency: Duration, failure: Option<String>) {
        let mut health = self.endpoints[index].health();
        let before = health.state;
        health.requests_total += 1;
        health.last_latency = Some(latency);
        match failure {
            None => {
                health.state = EndpointState::Healthy;
                health.consecutive_failures = 0;
            }
            Some(error) => {
                health.failures_total += 1;
                health.consecutive_failures = health.consecutive_failures.saturating_add(1);
                health.state = if health.consecutive_failures >= self.config.down_after.max(1) {
                    EndpointState::Down
                } else {
                    EndpointState::Degraded
                };
                health.last_error = Some(error);
            }
        }
        let after = health.state;
        let reason = health.last_error.clone();
        drop(health);
        if after != before {
            self.state_changed(index, before, after, reason);
        }
    }

    /// Logs an endpoint's state change once (operators see a failover as it happens, not only in
    /// `keeperctl status`) and counts it; the URL is redacted, its path and user part may hold keys.
    fn state_changed(&self, index: usize, before: EndpointState, after: EndpointState, reason: Option<String>) {
        let url = self.endpoints[index].url.as_str();
        let endpoint = redact_url(url);
        if after == EndpointState::Healthy {
            tracing::warn!(endpoint = %endpoint, index, from = %before, to = %after, "rpc endpoint recovered");
        } else {
            let reason = reason.map(|r| r.replace(url, &endpoint)).unwrap_or_default();
            tracing::warn!(endpoint = %endpoint, index, from = %before, to = %after, %reason, "rpc endpoint state changed");
        }
        if let Some(metrics) = &self.config.metrics {
            metrics.observe_rpc_state_change(index, after.as_str());
        }
    }

    /// Asks every endpoint that is not healthy for its chain id, and records the answer.
    async fn probe_unhealthy(&self) {
        for index in 0..self.endpoints.len() {
            if self.endpoints[index].health().state == EndpointState::Healthy {
                continue;
            }
            let endpoint = &self.endpoints[index];
            let client = RpcClient::new(endpoint.transport.clone(), true);
            let provider = RootProvider::<alloy::network::Ethereum>::new(client);
            let started = Instant::now();
            let answer = tokio::time::timeout(self.config.request_timeout, provider.get_chain_id()).await;
            let failure = match answer {
                Err(_) => Some(format!("probe: no answer within {:?}", self.config.request_timeout)),
                Ok(Err(error)) => Some(format!("probe: {error}")),
                Ok(Ok(id)) => match self.config.expected_chain_id {
                    Some(expected) if expected != id => Some(format!("probe: chain id {id}, expected {expected}")),
                    _ => None,
                },
            };
            if let Some(metrics) = &self.config.metrics {
                metrics.observe_rpc("eth_chainId", index, started.elapsed(), failure.is_some());
            }
            self.record(index, started.elapsed(), failure);
        }
    }
}

/// An endpoint URL cut to scheme, host and port: providers put API keys in the path or the user
/// part, and neither logs nor the control API should hand them out.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("?");
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            let hidden = if parsed.path().len() > 1 || parsed.query().is_some() || !parsed.username().is_empty() {
                "/…"
            } else {
                ""
            };
            format!("{}://{host}{port}{hidden}", parsed.scheme())
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

fn backoff(config: &RpcPoolConfig, round: u32) -> Duration {
    let base = config.initial_backoff.saturating_mul(2u32.saturating_pow(round.min(16))).min(config.max_backoff);
    // "Equal jitter": half fixed, half random, so retries of many callers spread out.
    let half = base / 2;
    half + rand::thread_rng().gen_range(Duration::ZERO..=half)
}

/// The pool: a provider whose every request goes through the endpoints' failover, and the health
/// of each endpoint. Cheap to clone (shared state).
#[derive(Clone)]
pub struct RpcPool {
    shared: Arc<Shared>,
    provider: RootProvider,
}

impl fmt::Debug for RpcPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcPool").field("health", &self.health()).finish()
    }
}

/// Why a pool could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PoolConfigError {
    #[error("rpc: at least one endpoint URL is needed")]
    NoEndpoint,
}

impl RpcPool {
    /// Builds the pool. Nothing is contacted until the first request; call
    /// [`RpcPool::prober`] to re-probe failing endpoints in the background.
    pub fn new(config: RpcPoolConfig) -> Result<Self, PoolConfigError> {
        if config.endpoints.is_empty() {
            return Err(PoolConfigError::NoEndpoint);
        }
        let client = reqwest::Client::new();
        let endpoints = config
            .endpoints
            .iter()
            .map(|url| Endpoint {
                url: url.clone(),
                transport: Http::with_client(client.clone(), url.clone()),
                health: Mutex::new(Health {
                    state: EndpointState::Healthy,
                    consecutive_failures: 0,
                    last_error: None,
                    last_latency: None,
                    requests_total: 0,
                    failures_total: 0,
                }),
            })
            .collect::<Vec<_>>();
        let is_local = endpoints.iter().all(|e| alloy::transports::utils::guess_local_url(e.url.as_str()));
        let shared = Arc::new(Shared { endpoints, config });
        let provider = RootProvider::new(RpcClient::new(PoolTransport { shared: shared.clone() }, is_local));
        Ok(Self { shared, provider })
    }

    /// A provider over the pool (a cheap clone): hand it to anything that takes `impl Provider`.
    pub fn provider(&self) -> RootProvider {
        self.provider.clone()
    }

    /// The transport alone, to build another client (e.g. with a wallet or other fillers).
    pub fn transport(&self) -> PoolTransport {
        PoolTransport { shared: self.shared.clone() }
    }

    /// Runs one logical call through the pool and classifies its failure. Every JSON-RPC request
    /// `f` makes is already retried and failed over by the transport, so `f` runs once.
    pub async fn run<T, E, F, Fut>(&self, method: &'static str, f: F) -> Result<T, RpcError>
    where
        F: FnOnce(RootProvider) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: CallError,
    {
        f(self.provider()).await.map_err(|e| RpcError::from_call(method, e))
    }

    /// Each endpoint's health, in configuration order.
    pub fn health(&self) -> Vec<EndpointHealth> {
        self.shared
            .endpoints
            .iter()
            .map(|endpoint| {
                let health = endpoint.health();
                EndpointHealth {
                    url: endpoint.url.to_string(),
                    state: health.state,
                    consecutive_failures: health.consecutive_failures,
                    last_error: health.last_error.clone(),
                    last_latency: health.last_latency,
                    requests_total: health.requests_total,
                    failures_total: health.failures_total,
                }
            })
            .collect()
    }

    /// Probes every endpoint that is not healthy once, now.
    pub async fn probe_now(&self) {
        self.shared.probe_unhealthy().await;
    }

    /// Probes endpoints that are not healthy every `probe_interval` until `shutdown` is cancelled.
    /// A future rather than a spawned task, so the caller's task set owns it (the node runs it as one
    /// of its tasks).
    pub fn prober(&self, shutdown: CancellationToken) -> impl std::future::Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        async move {
            let mut ticks = tokio::time::interval(shared.config.probe_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = ticks.tick() => shared.probe_unhealthy().await,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::rpc::json_rpc::ErrorPayload;
    use std::borrow::Cow;

    fn payload(code: i64, message: &'static str) -> ErrorPayload {
        ErrorPayload { code, message: Cow::Borrowed(message), data: None }
    }

    #[test]
    fn endpoint_urls_lose_their_secrets() {
        assert_eq!(redact_url("https://mainnet.infura.io/v3/0123abcd"), "https://mainnet.infura.io/…");
        assert_eq!(redact_url("http://user:pw@10.0.0.1:8545/"), "http://10.0.0.1:8545/…");
        assert_eq!(redact_url("http://127.0.0.1:8545/"), "http://127.0.0.1:8545");
    }

    #[test]
    fn reverts_are_final_and_rate_limits_are_retried() {
        assert_eq!(classify_payload(&payload(3, "execution reverted: nope")), ErrorClass::Revert);
        assert_eq!(classify_payload(&payload(-32000, "execution reverted")), ErrorClass::Revert);
        assert_eq!(classify_payload(&payload(429, "Too Many Requests")), ErrorClass::Retryable);
        assert_eq!(classify_payload(&payload(-32005, "limit exceeded")), ErrorClass::Retryable);
        assert_eq!(classify_payload(&payload(-32000, "nonce too low")), ErrorClass::Fatal);
        assert_eq!(classify_payload(&payload(-32602, "invalid params")), ErrorClass::Fatal);
    }

    #[test]
    fn transport_failures_are_the_endpoints_unless_the_request_is_bad() {
        for status in [429, 500, 502, 503, 401] {
            let error = TransportErrorKind::http_error(status, String::new());
            assert_eq!(classify_transport(&error), ErrorClass::Retryable, "{status}");
        }
        assert_eq!(classify_transport(&TransportErrorKind::http_error(400, String::new())), ErrorClass::Fatal);
        let timeout = TransportErrorKind::custom(AttemptTimeout { endpoint: "x".into(), after: Duration::ZERO });
        assert_eq!(classify_transport(&timeout), ErrorClass::Retryable);
        assert_eq!(
            classify_transport(&TransportError::ErrorResp(payload(3, "execution reverted"))),
            ErrorClass::Revert
        );
    }

    #[test]
    fn typed_errors_keep_revert_data() {
        let mut reverted = payload(3, "execution reverted");
        reverted.data = Some(serde_json::value::RawValue::from_string("\"0xdeadbeef\"".into()).unwrap());
        let error = RpcError::from_call("eth_call", TransportError::ErrorResp(reverted));
        assert!(error.is_revert());
        assert_eq!(error.revert_data().map(|b| b.to_vec()), Some(vec![0xde, 0xad, 0xbe, 0xef]));
        let refused =
            RpcError::from_call("eth_sendRawTransaction", TransportError::ErrorResp(payload(-32000, "nonce too low")));
        assert!(matches!(refused, RpcError::Rejected { code: -32000, .. }));
        let down = RpcError::from_call("eth_blockNumber", TransportErrorKind::http_error(503, String::new()));
        assert!(down.is_unavailable());
    }

    #[test]
    fn backoff_grows_with_jitter_up_to_the_cap() {
        let config = RpcPoolConfig::new(Vec::new());
        for round in 0..20 {
            let wait = backoff(&config, round);
            let base =
                config.initial_backoff.saturating_mul(2u32.saturating_pow(round.min(16))).min(config.max_backoff);
            assert!(wait >= base / 2 && wait <= base, "round {round}: {wait:?}");
        }
    }
}
