//! The aggregator's book of open proposals: what keepers can fetch, the signatures and disputes
//! they send, and the quorum of each. In memory for speed, with every proposal and every accepted
//! signature written to the store before it is acknowledged, so a restarted aggregator that
//! re-publishes its proposals finds their signatures again.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use alloy::primitives::{Address, B256};
use keeper_shared::batch::{Batch, TaskId};
use keeper_shared::bls::Signature;
use thiserror::Error;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::aggregator::server::verifier::{self, Item, OffenderPolicy, Verdict};
use crate::protocol::{
    Cursor, Dispute, DisputeReceipt, ProposalPage, ProposalView, SignatureReceipt, SignatureStatus, SignedBatch,
    StatusView, API_VERSION, DEFAULT_PAGE_LIMIT,
};
use crate::quorum::{
    Accepted, Check, OperatorSet, Quorum, QuorumCertificate, QuorumError, QuorumState, QuorumThreshold,
    SignatureRejected,
};
use crate::store::{SharedStore, StoreError};

/// Tuning of a [`Collector`].
#[derive(Debug, Clone)]
pub struct CollectorConfig {
    pub quorum: QuorumThreshold,
    /// Most proposals one page of `GET /v1/proposals` returns.
    pub max_page: u32,
    /// Most signatures verified in one round (one pairing check when all are valid).
    pub max_verify_batch: usize,
    /// How operators that sent invalid signatures are isolated and rate-limited.
    pub offenders: OffenderPolicy,
    /// How many closed digests are remembered, to answer "closed" rather than "unknown".
    pub closed_memory: usize,
    /// Events buffered per subscriber before a slow one starts missing them.
    pub event_capacity: usize,
    /// Counts the signatures received (`keeper_signatures_received_total`), if set.
    pub metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            quorum: QuorumThreshold::TWO_THIRDS,
            max_page: 500,
            max_verify_batch: 128,
            offenders: OffenderPolicy::default(),
            closed_memory: 4096,
            event_capacity: 1024,
            metrics: None,
        }
    }
}

/// What happened to the book, for the rest of the aggregator (and metrics, and the console).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectorEvent {
    SignatureAccepted {
        digest: B256,
        operator: Address,
    },
    /// Sent once per proposal, when the signed weight first meets the threshold.
    QuorumReached {
        digest: B256,
    },
    /// A dispute, with only the tasks this operator had not disputed before.
    DisputeReceived(Dispute),
}

/// What [`Collector::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub digest: B256,
    /// False if the store already had it (a re-publish after a restart).
    pub newly_stored: bool,
    /// Signatures found in the store and counted again (after re-verification).
    pub restored_signatures: usize,
    pub quorum_reached: bool,
}

/// A proposal taken off the book by [`Collector::close`], with everything collected for it.
#[derive(Debug, Clone)]
pub struct ClosedProposal {
    pub batch: Batch,
    pub quorum: Quorum,
    pub disputes: Vec<Dispute>,
}

/// Why the collector refused a request.
#[derive(Debug, Error)]
pub enum CollectorError {
    #[error("aggregator: no open proposal has digest {digest}")]
    UnknownDigest { digest: B256 },
    #[error("aggregator: proposal {digest} is closed")]
    ProposalClosed { digest: B256 },
    #[error(transparent)]
    Signature(#[from] SignatureRejected),
    #[error(
        "aggregator: proposal {digest}: operator {operator} sent invalid signatures recently and is rate-limited; \
         retry in {retry_after:?}"
    )]
    RateLimited { digest: B256, operator: Address, retry_after: std::time::Duration },
    #[error("aggregator: proposal {digest}: dispute from {operator}, who is not in its operator set")]
    DisputeFromStranger { digest: B256, operator: Address },
    #[error(
        "aggregator: proposal {digest} has no task (job {}, sequence {}) (disputed leaf {index})",
        task.job_id, task.sequence
    )]
    UnknownTask { digest: B256, index: usize, task: TaskId },
    #[error(transparent)]
    Quorum(#[from] QuorumError),
    #[error("aggregator: {0}")]
    Store(#[from] StoreError),
    #[error("aggregator: must be created inside a Tokio runtime")]
    NoRuntime,
    #[error("aggregator: background work failed: {0}")]
    Background(String),
}

/// The book. Cheap to clone; every clone shares it.
#[derive(Clone)]
pub struct Collector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector").field("epoch", &self.inner.epoch).finish_non_exhaustive()
    }
}

struct Inner {
    store: SharedStore,
    /// Never held across an await.
    index: Mutex<Index>,
    events: broadcast::Sender<CollectorEvent>,
    verifier: mpsc::Sender<verifier::Request>,
    /// Random per instance: cursors of an earlier instance restart the listing.
    epoch: u64,
    config: CollectorConfig,
}

#[derive(Default)]
struct Index {
    open: HashMap<B256, OpenProposal>,
    /// Open proposals by publication position (from 1).
    order: BTreeMap<u64, B256>,
    last_position: u64,
    closed: HashSet<B256>,
    closed_order: VecDeque<B256>,
}

struct OpenProposal {
    position: u64,
    batch: Batch,
    view: ProposalView,
    tasks: HashSet<TaskId>,
    quorum: Quorum,
    disputes: Vec<Dispute>,
}

impl Collector {
    /// A collector over `store`. Starts the signature verifier on the current Tokio runtime; it
    /// stops when the last clone of the collector is dropped.
    pub fn new(store: SharedStore, config: CollectorConfig) -> Result<Self, CollectorError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| CollectorError::NoRuntime)?;
        let (verifier, requests) = mpsc::channel(4096);
        runtime.spawn(verifier::run(
            requests,
            config.max_verify_batch.max(1),
            config.offenders.clone(),
            config.metrics.clone(),
        ));
        let (events, _) = broadcast::channel(config.event_capacity.max(1));
        let inner =
            Inner { store, index: Mutex::new(Index::default()), events, verifier, epoch: rand::random(), config };
        Ok(Self { inner: Arc::new(inner) })
    }

    pub fn config(&self) -> &CollectorConfig {
        &self.inner.config
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<CollectorEvent> {
        self.inner.events.subscribe()
    }

    /// Puts a proposal on the book, signed against `operators` (the set at its reference block:
    /// every registered key, weight 0 included). Stores it first; if the store already had it,
    /// its stored signatures are re-verified and counted. Publishing an open proposal again is a no-op.
    pub async fn publish(&self, batch: Batch, operators: Arc<OperatorSet>) -> Result<Published, CollectorError> {
        let digest = batch.digest();
        if let Some(published) = self.already_open(digest) {
            return Ok(published);
        }
        let to_store = batch.clone();
        let (newly_stored, stored) = self
            .inner
            .store
            .with(move |store| {
                store.write(|tx| {
                    let newly = tx.insert_proposal(&to_store)?;
                    Ok::<_, StoreError>((newly, tx.signatures(digest)?))
                })
            })
            .await?;

        let mut quorum = Quorum::new(digest, operators, self.inner.config.quorum);
        let mut restored_signatures = 0;
        if !stored.is_empty() {
            let items: Vec<(Address, Signature)> = stored.iter().map(|s| (s.operator, s.signature)).collect();
            let (counted, results) = tokio::task::spawn_blocking(move || {
                let results = quorum.add_many(&items, &mut rand::thread_rng());
                (quorum, results)
            })
            .await
            .map_err(|e| CollectorError::Background(format!("re-verifying stored signatures: {e}")))?;
            quorum = counted;
            restored_signatures = results.iter().filter(|r| matches!(r, Ok(Accepted::Added { .. }))).count();
        }

        let mut index = self.index();
        if let Some(published) = index.open.get(&digest).map(|open| Published {
            digest,
            newly_stored: false,
            restored_signatures: 0,
            quorum_reached: open.quorum.is_reached(),
        }) {
            return Ok(published); // published concurrently
        }
        let quorum_reached = quorum.is_reached();
        index.last_position += 1;
        let position = index.last_position;
        index.order.insert(position, digest);
        index.closed.remove(&digest);
        let open = OpenProposal {
            position,
            view: ProposalView::from_batch(&batch),
            tasks: batch.leaves().iter().map(|leaf| leaf.task).collect(),
            batch,
            quorum,
            disputes: Vec::new(),
        };
        index.open.insert(digest, open);
        drop(index);
        if quorum_reached {
            self.emit(CollectorEvent::QuorumReached { digest });
        }
        Ok(Published { digest, newly_stored, restored_signatures, quorum_reached })
    }

    fn already_open(&self, digest: B256) -> Option<Published> {
        self.index().open.get(&digest).map(|open| Published {
            digest,
            newly_stored: false,
            restored_signatures: 0,
            quorum_reached: open.quorum.is_reached(),
        })
    }

    /// Takes a proposal off the book (submitted, superseded or expired); it stays in the store.
    pub fn close(&self, digest: B256) -> Option<ClosedProposal> {
        let mut index = self.index();
        let open = index.open.remove(&digest)?;
        index.order.remove(&open.position);
        index.closed.insert(digest);
        index.closed_order.push_back(digest);
        while index.closed_order.len() > self.inner.config.closed_memory {
            if let Some(oldest) = index.closed_order.pop_front() {
                index.closed.remove(&oldest);
            }
        }
        Some(ClosedProposal { batch: open.batch, quorum: open.quorum, disputes: open.disputes })
    }

    /// Digests of the open proposals, oldest first.
    pub fn open_proposals(&self) -> Vec<B256> {
        self.index().order.values().copied().collect()
    }

    pub fn proposal(&self, digest: B256) -> Option<Batch> {
        self.index().open.get(&digest).map(|open| open.batch.clone())
    }

    pub fn quorum_state(&self, digest: B256) -> Option<QuorumState> {
        self.index().open.get(&digest).map(|open| open.quorum.state())
    }

    /// The aggregate signature and non-signers of an open proposal that reached quorum.
    pub fn certificate(&self, digest: B256) -> Result<QuorumCertificate, CollectorError> {
        let index = self.index();
        let open = index.open.get(&digest).ok_or(CollectorError::UnknownDigest { digest })?;
        Ok(open.quorum.certificate()?)
    }

    /// Disputes received for an open proposal, one entry per operator.
    pub fn disputes(&self, digest: B256) -> Option<Vec<Dispute>> {
        self.index().open.get(&digest).map(|open| open.disputes.clone())
    }

    /// Proposals in the store with a reference block at or after `min_reference_block`, for
    /// re-publishing after a restart (with each one's operator set).
    pub async fn stored_proposals(&self, min_reference_block: u64) -> Result<Vec<Batch>, CollectorError> {
        let stored =
            self.inner.store.with(move |store| store.read(|r| r.proposals_since_block(min_reference_block))).await?;
        Ok(stored.into_iter().map(|p| p.batch).collect())
    }

    /// Verifies and counts one operator's signature; acknowledged only once stored.
    pub async fn submit_signature(&self, signed: SignedBatch) -> Result<SignatureReceipt, CollectorError> {
        let result = self.add_signature(signed).await;
        if let Some(metrics) = &self.inner.config.metrics {
            metrics.observe_signature(signature_result(&result));
        }
        result
    }

    async fn add_signature(&self, signed: SignedBatch) -> Result<SignatureReceipt, CollectorError> {
        let SignedBatch { operator, digest, signature } = signed;
        let key = {
            let mut index = self.index();
            let open = Self::open_mut(&mut index, digest)?;
            match open.quorum.check(operator, &signature)? {
                Check::AlreadyPresent => {
                    return Ok(SignatureReceipt {
                        status: SignatureStatus::AlreadyPresent,
                        quorum_reached: open.quorum.is_reached(),
                    })
                }
                Check::Verify(key) => key,
            }
        };

        match self.verify(Item { operator, key, digest, signature }).await? {
            Verdict::Valid => {}
            Verdict::Invalid => {
                let mut index = self.index();
                let rejected = match index.open.get_mut(&digest) {
                    Some(open) => open.quorum.record_invalid(operator),
                    None => SignatureRejected::InvalidSignature { digest, operator },
                };
                return Err(rejected.into());
            }
            Verdict::RateLimited { retry_after } => {
                return Err(CollectorError::RateLimited { digest, operator, retry_after })
            }
        }

        let stored =
            self.inner.store.with(move |store| store.write(|tx| tx.add_signature(digest, operator, &signature))).await;
        if let Err(StoreError::Conflict { .. }) = stored {
            // Only reachable if the store holds a different (hence invalid) signature by this operator.
            return Err(SignatureRejected::ConflictingSignature { digest, operator }.into());
        }
        stored?;

        let (accepted, quorum_reached) = {
            let mut index = self.index();
            let open = Self::open_mut(&mut index, digest)?;
            let accepted = open.quorum.record_verified(operator, signature)?;
            (accepted, open.quorum.is_reached())
        };
        let status = match accepted {
            Accepted::Added { reached_quorum } => {
                self.emit(CollectorEvent::SignatureAccepted { digest, operator });
                if reached_quorum {
                    self.emit(CollectorEvent::QuorumReached { digest });
                }
                SignatureStatus::Added
            }
            Accepted::AlreadyPresent => SignatureStatus::AlreadyPresent,
        };
        Ok(SignatureReceipt { status, quorum_reached })
    }

    /// Records a dispute from a member of the proposal's operator set. Disputes are not signed:
    /// the rest of the aggregator treats them as advice (re-propose the disputed tasks apart),
    /// never as evidence.
    pub fn submit_dispute(&self, dispute: Dispute) -> Result<DisputeReceipt, CollectorError> {
        let digest = dispute.digest;
        let mut index = self.index();
        let open = Self::open_mut(&mut index, digest)?;
        if open.quorum.operator_set().get(&dispute.operator).is_none() {
            return Err(CollectorError::DisputeFromStranger { digest, operator: dispute.operator });
        }
        for (index, disputed) in dispute.tasks.iter().enumerate() {
            if !open.tasks.contains(&disputed.task) {
                return Err(CollectorError::UnknownTask { digest, index, task: disputed.task });
            }
        }
        let entry = match open.disputes.iter().position(|d| d.operator == dispute.operator) {
            Some(i) => &mut open.disputes[i],
            None => {
                open.disputes.push(Dispute { operator: dispute.operator, digest, tasks: Vec::new() });
                let last = open.disputes.len() - 1;
                &mut open.disputes[last]
            }
        };
        let fresh: Vec<_> =
            dispute.tasks.into_iter().filter(|t| !entry.tasks.iter().any(|known| known.task == t.task)).collect();
        entry.tasks.extend(fresh.iter().cloned());
        drop(index);
        let recorded = fresh.len();
        if recorded > 0 {
            self.emit(CollectorEvent::DisputeReceived(Dispute { operator: dispute.operator, digest, tasks: fresh }));
        }
        Ok(DisputeReceipt { recorded })
    }

    /// The tasks to take out of an open proposal because of its disputes, once the members who
    /// disputed it (a disputer signs nothing) weigh so much that the rest cannot reach quorum:
    /// every task any of them disputed. `None` while the rest still can, so that members below the
    /// quorum's margin cannot veto a task by disputing it, or when the proposal is not open.
    pub fn lost_to_disputes(&self, digest: B256) -> Option<Vec<TaskId>> {
        let index = self.index();
        let open = index.open.get(&digest)?;
        if open.disputes.is_empty() || open.quorum.reachable_without(open.disputes.iter().map(|d| &d.operator)) {
            return None;
        }
        let mut tasks: Vec<TaskId> = Vec::new();
        for disputed in open.disputes.iter().flat_map(|d| &d.tasks) {
            if !tasks.contains(&disputed.task) {
                tasks.push(disputed.task);
            }
        }
        Some(tasks)
    }

    /// Open proposals published after `after` (all of them without a cursor, or with a cursor of
    /// another instance), at most `limit` (capped by the configuration).
    pub fn page(&self, after: Option<Cursor>, limit: Option<u32>) -> ProposalPage {
        let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT).clamp(1, self.inner.config.max_page.max(1)) as usize;
        let index = self.index();
        let start = match after {
            Some(cursor) if cursor.epoch() == self.inner.epoch && cursor.position() <= index.last_position => {
                cursor.position()
            }
            _ => 0,
        };
        let mut proposals = Vec::new();
        let mut last = start;
        let mut has_more = false;
        for (position, digest) in index.order.range(start + 1..) {
            if proposals.len() == limit {
                has_more = true;
                break;
            }
            if let Some(open) = index.open.get(digest) {
                proposals.push(open.view.clone());
                last = *position;
            }
        }
        let position = if has_more { last } else { index.last_position };
        ProposalPage { proposals, cursor: Cursor::new(self.inner.epoch, position).to_string(), has_more }
    }

    pub fn status(&self) -> StatusView {
        let index = self.index();
        StatusView {
            api_version: API_VERSION.to_string(),
            open_proposals: index.open.len(),
            cursor: Cursor::new(self.inner.epoch, index.last_position).to_string(),
            quorum_bps: self.inner.config.quorum.bps(),
        }
    }

    /// Serves a proposal's wire form (for `GET /v1/proposals/{digest}`).
    pub(crate) fn proposal_view(&self, digest: B256) -> Result<ProposalView, CollectorError> {
        let mut index = self.index();
        Self::open_mut(&mut index, digest).map(|open| open.view.clone())
    }

    fn open_mut(index: &mut Index, digest: B256) -> Result<&mut OpenProposal, CollectorError> {
        if index.closed.contains(&digest) {
            return Err(CollectorError::ProposalClosed { digest });
        }
        index.open.get_mut(&digest).ok_or(CollectorError::UnknownDigest { digest })
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        // Every update of the index is a few assignments that cannot panic half-way.
        self.inner.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, event: CollectorEvent) {
        // No subscriber is not an error: the state stays queryable.
        let _ = self.inner.events.send(event);
    }

    async fn verify(&self, item: Item) -> Result<Verdict, CollectorError> {
        let (reply, verdict) = oneshot::channel();
        let request = verifier::Request { item, reply };
        self.inner
            .verifier
            .send(request)
            .await
            .map_err(|_| CollectorError::Background("the signature verifier stopped".into()))?;
        verdict.await.map_err(|_| CollectorError::Background("the signature verifier dropped a request".into()))
    }
}

/// `keeper_signatures_received_total{result}` of a signature ([`crate::metrics::SIGNATURE_RESULTS`]).
fn signature_result(result: &Result<SignatureReceipt, CollectorError>) -> &'static str {
    match result {
        Ok(SignatureReceipt { status: SignatureStatus::Added, .. }) => "added",
        Ok(SignatureReceipt { status: SignatureStatus::AlreadyPresent, .. }) => "duplicate",
        Err(CollectorError::Signature(SignatureRejected::InvalidSignature { .. })) => "invalid",
        Err(CollectorError::RateLimited { .. }) => "rate_limited",
        Err(_) => "refused",
    }
}
