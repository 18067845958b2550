//! The control API's routes: views of the status, the job cache, the tasks, the operators and the
//! event feed, and the writes (`writes`), behind the peer-uid check and the size and time limits.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use alloy::providers::Provider;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use keeper_shared::api::{
    self, parse_empty, parse_job_id, ApiError, DatabaseHealth, ErrorCode, EventRecord, Health, JobList, JobsQuery,
    RecentEvents, RecentEventsQuery, SchedulerHealth, StatusResponse, SyncState, SyncStatus, TaskCount, TaskCursor,
    TaskDetail, TaskList, TasksQuery, DEFAULT_LIMIT,
};
use keeper_shared::batch::TaskId;
use serde::Serialize;
use tokio::sync::{broadcast, Semaphore};
use tokio_util::sync::CancellationToken;

use super::events::EventHub;
use super::operators::MembershipIndex;
use super::socket::{authorize, Peer};
use super::{convert, operators, writes};
use crate::context::NodeContext;
use crate::http::{self, HttpLimits};
use crate::store::{SharedStore, Store, StoreError};

/// How long `/v1/status` waits for the chain's latest block number.
const CHAIN_HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// Within this many blocks of the confirmed head the daemon counts as synced.
const SYNCED_WITHIN_BLOCKS: u64 = 2;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    context: NodeContext,
    hub: EventHub,
    uid: u32,
    max_body_bytes: usize,
    shutdown: CancellationToken,
    /// One permit per open event stream ([`super::MAX_EVENT_STREAMS`]).
    streams: Arc<Semaphore>,
    /// The API's own read-only connection to the store (the pipeline's for an in-memory store):
    /// its reads never hold the connection the pipeline writes through.
    reader: SharedStore,
    /// One permit: the API's store reads go one at a time, so however many clients ask at once they
    /// cost the pipeline at most one reader's worth of CPU and I/O.
    store_turn: Arc<Semaphore>,
    /// One permit, for the same reason: the API's reads of the chain (the pipeline's RPC endpoints)
    /// go one request at a time.
    chain_turn: Arc<Semaphore>,
    /// `GET /v1/operators`' membership history, kept between calls.
    membership: Arc<tokio::sync::Mutex<MembershipIndex>>,
}

impl ApiState {
    pub fn new(
        context: NodeContext,
        reader: SharedStore,
        hub: EventHub,
        uid: u32,
        shutdown: CancellationToken,
    ) -> Self {
        let streams = Arc::new(Semaphore::new(super::MAX_EVENT_STREAMS));
        let (store_turn, chain_turn) = (Arc::new(Semaphore::new(1)), Arc::new(Semaphore::new(1)));
        let max_body_bytes = super::limits().max_body_bytes;
        let membership =
            Arc::new(tokio::sync::Mutex::new(MembershipIndex::new(context.config.deployment.deploy_block)));
        Self { context, hub, uid, max_body_bytes, shutdown, streams, reader, store_turn, chain_turn, membership }
    }

    pub(super) fn context(&self) -> &NodeContext {
        &self.context
    }

    /// The key registry's membership history `GET /v1/operators` keeps.
    pub(super) fn membership(&self) -> &tokio::sync::Mutex<MembershipIndex> {
        &self.membership
    }

    /// Runs `f` with the store, after the API's other store reads ([`ApiState::store_turn`]).
    pub(super) async fn store<T, E>(&self, f: impl FnOnce(&mut Store) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let _turn = self.store_turn.acquire().await;
        self.reader.with(f).await
    }

    /// Waits for the API's turn to read the chain; the turn lasts as long as the guard.
    pub(super) async fn chain_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.chain_turn.acquire().await.ok()
    }

    pub(super) fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    pub(super) fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }
}

pub fn router(mut state: ApiState, limits: &HttpLimits) -> Router {
    state.max_body_bytes = limits.max_body_bytes;
    Router::new()
        .route(api::STATUS_PATH, get(status))
        .route(api::JOBS_PATH, get(list_jobs).post(writes::create_job))
        .route(api::JOB_ROUTE, get(get_job).put(writes::update_job))
        .route(api::JOB_PAUSE_ROUTE, post(writes::pause_job))
        .route(api::JOB_RESUME_ROUTE, post(writes::resume_job))
        .route(api::JOB_CANCEL_ROUTE, post(writes::cancel_job))
        .route(api::JOB_TOPUP_ROUTE, post(writes::top_up_job))
        .route(api::OPERATOR_REGISTER_PATH, post(writes::register_operator))
        .route(api::OPERATOR_DEREGISTER_PATH, post(writes::deregister_operator))
        .route(api::OPERATOR_DEPOSIT_PATH, post(writes::deposit_operator))
        .route(api::OPERATORS_PATH, get(operators::list_operators))
        .route(api::TASKS_PATH, get(list_tasks))
        .route(api::TASK_ROUTE, get(get_task))
        .route(api::RECENT_EVENTS_PATH, get(recent_events))
        .route(api::EVENTS_PATH, get(stream_events))
        .fallback(not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(limits.request_timeout, request_timeout))
        .layer(middleware::from_fn_with_state((state.uid, limits.max_body_bytes), guard))
        .with_state(state)
}

/// An error answer.
pub(super) struct Failure(pub(super) ApiError);

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        http::error(&self.0)
    }
}

pub(super) type Reply = Result<Response, Failure>;

pub(super) fn ok<T: Serialize>(body: &T) -> Reply {
    Ok(http::json(StatusCode::OK, body))
}

pub(super) fn internal(what: &str, error: &dyn std::fmt::Display) -> Failure {
    tracing::warn!(%error, "control API: {what}");
    Failure(ApiError::new(ErrorCode::Internal, format!("{what} failed; see the daemon's log")))
}

/// The peer-uid check and the body cap, before anything else looks at the request.
async fn guard(State((uid, max_body)): State<(u32, usize)>, request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<Peer>>().map_or(Peer { uid: None, pid: None }, |c| c.0);
    if let Err(error) = authorize(&peer, uid) {
        tracing::warn!(peer_uid = ?peer.uid, peer_pid = ?peer.pid, "control API: refused a client of another user");
        return Failure(error).into_response();
    }
    let length = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(length) = length.filter(|l| *l > max_body as u64) {
        return Failure(ApiError::new(
            ErrorCode::BodyTooLarge,
            format!("request body: {length} bytes is above the limit of {max_body}"),
        ))
        .into_response();
    }
    next.run(request).await
}

/// Reads get `limit`; writes wait for a receipt and get [`writes::WRITE_TIMEOUT`] (reading the
/// body included, so a slow sender is bounded too).
async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let read_only = matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    let limit = if read_only { limit } else { limit.max(writes::WRITE_TIMEOUT) };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            Failure(ApiError::new(ErrorCode::Timeout, format!("request took longer than {limit:?}"))).into_response()
        }
    }
}

async fn not_found(request: Request) -> Response {
    Failure(ApiError::new(ErrorCode::NotFound, format!("no route for {} (see docs/api.md)", request.uri().path())))
        .into_response()
}

async fn status(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Reply {
    parse_empty(query.as_deref())?;
    let context = &state.context;
    let head = context.schedule.head();
    let chain_block = tokio::time::timeout(CHAIN_HEAD_TIMEOUT, async {
        let _turn = state.chain_turn().await;
        context.pool.provider().get_block_number().await
    })
    .await
    .ok()
    .and_then(Result::ok);
    let confirmations = context.config.chain.confirmations;
    // While the scheduler catches up on a long history, its progress runs ahead of the head.
    let progress = context.schedule.progress();
    let processed = progress.map(|p| p.processed).max(head.map(|h| h.number));
    let blocks_behind = match (processed, chain_block) {
        (Some(processed), Some(latest)) => Some(latest.saturating_sub(confirmations).saturating_sub(processed)),
        _ => None,
    };
    let sync_state = match (processed, blocks_behind) {
        (None, _) => SyncState::Starting,
        (Some(_), None) => SyncState::Unknown,
        (Some(_), Some(behind)) if behind <= SYNCED_WITHIN_BLOCKS => SyncState::Synced,
        (Some(_), Some(_)) => SyncState::Syncing,
    };
    let percent = match (processed, chain_block) {
        (Some(processed), Some(latest)) => Some(keeper_shared::api::sync_percent(
            context.config.deployment.deploy_block,
            processed,
            latest.saturating_sub(confirmations),
        )),
        _ => None,
    };
    let database = match state.store(|store| store.read(|tx| tx.task_counts())).await {
        Ok(counts) => DatabaseHealth {
            ok: true,
            error: None,
            task_counts: counts.into_iter().map(|(state, count)| TaskCount { state, count }).collect(),
        },
        Err(error) => {
            tracing::warn!(%error, "control API: the database did not answer the status query");
            DatabaseHealth { ok: false, error: Some(error.to_string()), task_counts: Vec::new() }
        }
    };
    let now = u64::try_from(super::events::now_ms() / 1000).unwrap_or(0);
    let p2p = match &context.p2p {
        Some(hub) => Some(hub.status(context.config.p2p.transport).await),
        None => None,
    };
    ok(&StatusResponse {
        version: keeper_shared::version::long().to_owned(),
        roles: context.config.roles.names().into_iter().map(str::to_owned).collect(),
        operator: context.operator.as_ref().map(|o| o.address),
        chain_id: context.config.deployment.chain_id,
        confirmations,
        head: head.as_ref().map(convert::block_view),
        sync: SyncStatus { state: sync_state, chain_block, blocks_behind, processed_block: processed, percent },
        health: Health {
            rpc: context.pool.health().iter().map(convert::endpoint_health).collect(),
            scheduler: SchedulerHealth {
                running: context.config.roles.scheduler,
                head_age_secs: head.map(|h| now.saturating_sub(h.timestamp)),
            },
            database,
        },
        p2p,
    })
}

async fn list_jobs(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Reply {
    let query = JobsQuery::parse(query.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let status = query.status;
    let records = state
        .store(move |store| {
            store.read(|tx| {
                let records = tx.jobs(status, query.after, limit)?;
                let failures = records
                    .iter()
                    .map(|r| tx.job_failures(r.job_id, convert::KEEPS_REVERTING))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, crate::store::StoreError>((records, failures))
            })
        })
        .await
        .map_err(|e| internal("reading the jobs", &e))?;
    let (records, failures) = records;
    let head = state.context.schedule.head();
    let jobs = records
        .iter()
        .zip(&failures)
        .map(|(record, failures)| convert::job_view_with_failures(record, failures, head.as_ref()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| internal("decoding a cached job spec", &e))?;
    let full = u32::try_from(jobs.len()).is_ok_and(|n| n == limit);
    let next = if full { jobs.last().map(|j| j.id) } else { None };
    ok(&JobList { jobs, next })
}

async fn get_job(State(state): State<ApiState>, Path(id): Path<String>, RawQuery(query): RawQuery) -> Reply {
    parse_empty(query.as_deref())?;
    let id = parse_job_id("id", &id)?;
    let record = state
        .store(move |store| {
            store.read(|tx| match tx.job(id)? {
                Some(record) => Ok(Some((record, tx.job_failures(id, convert::KEEPS_REVERTING)?))),
                None => Ok::<_, crate::store::StoreError>(None),
            })
        })
        .await
        .map_err(|e| internal("reading the job", &e))?;
    let (record, failures) = record.ok_or_else(|| {
        ApiError::field(
            ErrorCode::JobNotFound,
            "id",
            format!("job {id} is not known to this daemon (not created, or not indexed yet)"),
        )
    })?;
    let view = convert::job_view_with_failures(&record, &failures, state.context.schedule.head().as_ref())
        .map_err(|e| internal("decoding the cached job spec", &e))?;
    ok(&view)
}

async fn list_tasks(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Reply {
    let query = TasksQuery::parse(query.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let task_state = query.state;
    let after = query.after.map(|a| TaskId { job_id: a.job_id, sequence: a.sequence });
    let from_ms = query.from.map(secs_to_ms);
    let to_ms = query.to.map(secs_to_ms);
    let page = state
        .store(move |store| {
            store.read(|tx| match (from_ms, to_ms) {
                (None, None) => tx.tasks_filtered(task_state, query.job, after, limit),
                _ => tx.tasks_created_between(task_state, query.job, from_ms, to_ms, after, limit),
            })
        })
        .await
        .map_err(|e| internal("reading the tasks", &e))?;
    ok(&TaskList {
        tasks: page.tasks.iter().map(convert::task_view).collect(),
        next: page.next.map(|t| TaskCursor { job_id: t.job_id, sequence: t.sequence }.to_string()),
    })
}

/// The query parser bounds seconds to year 9999, so this does not overflow.
fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000)
}

async fn get_task(
    State(state): State<ApiState>,
    Path((job, sequence)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Reply {
    parse_empty(query.as_deref())?;
    let job_id = parse_job_id("job", &job)?;
    let sequence = api::parse_sequence("sequence", &sequence)?;
    let task = TaskId { job_id, sequence };
    let found = state
        .store(move |store| {
            store.read(|tx| match tx.task(task)? {
                Some(record) => Ok::<_, StoreError>(Some((record, tx.task_history(task)?))),
                None => Ok(None),
            })
        })
        .await
        .map_err(|e| internal("reading the task", &e))?;
    let (record, history) = found.ok_or_else(|| {
        ApiError::field(
            ErrorCode::TaskNotFound,
            "sequence",
            format!("task {sequence} of job {job_id} is not known to this daemon"),
        )
    })?;
    ok(&TaskDetail {
        task: convert::task_view(&record),
        history: history.iter().map(convert::transition_view).collect(),
    })
}

async fn recent_events(State(state): State<ApiState>, RawQuery(query): RawQuery) -> Reply {
    let query = RecentEventsQuery::parse(query.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    ok(&RecentEvents { events: state.hub.recent(limit as usize) })
}

/// `text/event-stream`: each event as `id:`, `event:` (its type) and `data:` (an [`EventRecord`]).
/// A client reconnecting with `Last-Event-ID` first gets the remembered events after it.
async fn stream_events(State(state): State<ApiState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Reply {
    parse_empty(query.as_deref())?;
    let after = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(value.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()).ok_or_else(|| {
            ApiError::field(ErrorCode::InvalidValue, "Last-Event-ID", "not an event id this server issued")
        })?),
    };
    let permit = Arc::clone(&state.streams).try_acquire_owned().map_err(|_| {
        ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "event streams: all {} are open; close one or read {}",
                super::MAX_EVENT_STREAMS,
                api::RECENT_EVENTS_PATH
            ),
        )
    })?;
    let (replay, receiver) = state.hub.subscribe(after);
    let live = futures_util::stream::unfold(
        (receiver, state.shutdown.clone(), permit),
        |(mut receiver, shutdown, permit)| async move {
            let next = tokio::select! {
                () = shutdown.cancelled() => return None,
                next = receiver.recv() => next,
            };
            let item = match next {
                Ok(record) => sse_event(&record),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    SseEvent::default().comment(format!("missed {missed} events; see {}", api::RECENT_EVENTS_PATH))
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((Ok::<_, Infallible>(item), (receiver, shutdown, permit)))
        },
    );
    let stream = futures_util::stream::iter(replay.iter().map(|r| Ok(sse_event(r))).collect::<Vec<_>>()).chain(live);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

fn sse_event(record: &EventRecord) -> SseEvent {
    let event = SseEvent::default().id(record.id.to_string()).event(record.event.name());
    match serde_json::to_string(record) {
        Ok(data) => event.data(data),
        Err(e) => event.comment(format!("event {} could not be encoded: {e}", record.id)),
    }
}
