//! keeperd over the operators' network: the keeper-p2p node run as a tracked task, its chain view
//! and payload checks implemented from the daemon's own sources, and a [`P2pHub`] through which
//! the keeper and aggregator roles publish and receive proposals, signatures and disputes. Who
//! proposes and who submits is the rotation's answer ([`P2pHub::duty`]).
//!
//! Every proposal, signature and dispute this node sees (its own included) is handed to the roles on
//! broadcast channels, so one code path serves gossip from peers and the node's own messages.

pub mod chain_view;
pub mod key;
pub mod messages;
pub mod metrics;
pub mod validator;

use std::path::PathBuf;
use std::sync::Arc;

use alloy::primitives::Address;
use keeper_p2p::rotation::Duty;
use keeper_p2p::{NetworkId, NodeEvent, NodeHandle, PeerInfo, Topic};
use keeper_shared::batch::Batch;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use self::chain_view::ChainView;
use self::messages::{
    decode_dispute, decode_proposal, decode_signature, encode_dispute, encode_proposal, encode_signature,
};
use self::metrics::P2pMetrics;
use crate::chain::RpcPool;
use crate::config::Config;
use crate::protocol::{Dispute, SignedBatch};
use crate::quorum::registry::RegistryView;
use crate::scheduler::ScheduleView;

/// Why the P2P transport could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    #[error("p2p.key_file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error("p2p: the transport needs the operator's key (operator.ecdsa_keystore)")]
    NoOperator,
    #[error(transparent)]
    Node(#[from] keeper_p2p::NodeError),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    #[error("p2p: reading the chain head: {0}")]
    Chain(String),
    #[error("p2p: reading the keeper set: {0}")]
    Operators(#[from] crate::quorum::registry::OperatorsError),
}

/// Messages buffered per role before a slow one misses some (gossip catch-up recovers them).
const CHANNEL_CAPACITY: usize = 1024;

/// The roles' door to the network. Cheap to share (`Arc`).
pub struct P2pHub {
    node: NodeHandle,
    view: Arc<ChainView>,
    proposals: broadcast::Sender<Batch>,
    signatures: broadcast::Sender<SignedBatch>,
    disputes: broadcast::Sender<Dispute>,
    pub metrics: P2pMetrics,
    takeover_blocks: u64,
}

impl std::fmt::Debug for P2pHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pHub").field("node", &self.node).finish_non_exhaustive()
    }
}

/// The running node's event pump, to be spawned as a tracked task.
pub struct P2pTask {
    hub: Arc<P2pHub>,
    events: mpsc::UnboundedReceiver<NodeEvent>,
    registry: RegistryView,
    pool: RpcPool,
    schedule: ScheduleView,
    chain_id: u64,
    task_manager: Address,
}

/// The node's swarm runs on a task of keeper-p2p's own; it stops when this pump does, however the
/// pump ends (shutdown, or aborted by the node after its grace period).
impl Drop for P2pTask {
    fn drop(&mut self) {
        self.hub.node.shutdown();
    }
}

impl P2pHub {
    /// Starts the node: loads (or creates) its key, binds its listeners, signs its record with
    /// the operator's key and dials the bootstrap peers. The returned task must run for messages
    /// to flow.
    pub async fn start(
        config: &Config,
        signer: alloy::signers::local::PrivateKeySigner,
        pool: RpcPool,
        schedule: ScheduleView,
        registry: &prometheus::Registry,
    ) -> Result<(Arc<Self>, P2pTask), P2pError> {
        let p2p = &config.p2p;
        let keypair = key::load_or_create(&p2p.key_file)?;
        let deployment = &config.deployment;
        let network = NetworkId { chain_id: deployment.chain_id, task_manager: deployment.avs.task_manager };
        let view = Arc::new(ChainView::default());
        let mut operators = RegistryView::new(pool.clone(), deployment.avs.key_registry, deployment.deploy_block);
        // Filled before the node starts, so the first peers' records are checked against the chain
        // rather than refused by an empty view (the scheduler's first head may still be on its way).
        view.prime(&pool, config.chain.confirmations, &mut operators).await?;
        let validator = Arc::new(validator::PayloadValidator {
            view: Arc::clone(&view),
            chain_id: deployment.chain_id,
            task_manager: deployment.avs.task_manager,
            takeover_blocks: p2p.takeover_blocks,
        });
        let (node, events) =
            keeper_p2p::spawn(p2p.node_config(network), keypair, signer, view.clone(), validator).await?;
        let metrics = P2pMetrics::register(registry, Arc::clone(node.metrics()))?;
        let hub = Arc::new(Self {
            node,
            view,
            proposals: broadcast::channel(CHANNEL_CAPACITY).0,
            signatures: broadcast::channel(CHANNEL_CAPACITY).0,
            disputes: broadcast::channel(CHANNEL_CAPACITY).0,
            metrics,
            takeover_blocks: p2p.takeover_blocks,
        });
        let task = P2pTask {
            hub: Arc::clone(&hub),
            events,
            registry: operators,
            pool,
            schedule,
            chain_id: deployment.chain_id,
            task_manager: deployment.avs.task_manager,
        };
        Ok((hub, task))
    }

    pub fn takeover_blocks(&self) -> u64 {
        self.takeover_blocks
    }

    /// The operator this node speaks for.
    pub fn operator(&self) -> Address {
        self.node.operator()
    }

    /// Every proposal seen from now on (ours included), each once.
    pub fn subscribe_proposals(&self) -> broadcast::Receiver<Batch> {
        self.proposals.subscribe()
    }

    /// Every signature seen from now on (ours included), each once.
    pub fn subscribe_signatures(&self) -> broadcast::Receiver<SignedBatch> {
        self.signatures.subscribe()
    }

    /// Every dispute seen from now on (ours included), each once.
    pub fn subscribe_disputes(&self) -> broadcast::Receiver<Dispute> {
        self.disputes.subscribe()
    }

    /// Signs and gossips our proposal, and hands it to our own roles.
    pub async fn publish_proposal(&self, batch: &Batch) -> Result<(), P2pError> {
        let context = batch.context();
        self.node
            .publish(
                Topic::Proposals,
                context.reference_block_number,
                context.reference_block_hash,
                encode_proposal(batch),
            )
            .await?;
        let _ = self.proposals.send(batch.clone());
        Ok(())
    }

    /// Signs and gossips our signature over a proposal of reference block `reference`.
    pub async fn publish_signature(&self, signed: &SignedBatch, batch: &Batch) -> Result<(), P2pError> {
        let context = batch.context();
        self.node
            .publish(
                Topic::Signatures,
                context.reference_block_number,
                context.reference_block_hash,
                encode_signature(signed),
            )
            .await?;
        let _ = self.signatures.send(*signed);
        Ok(())
    }

    /// Signs and gossips our dispute of leaves of `batch`, and hands it to our own aggregator.
    pub async fn publish_dispute(&self, dispute: &Dispute, batch: &Batch) -> Result<(), P2pError> {
        let context = batch.context();
        self.node
            .publish(
                Topic::Disputes,
                context.reference_block_number,
                context.reference_block_hash,
                encode_dispute(dispute),
            )
            .await?;
        let _ = self.disputes.send(dispute.clone());
        Ok(())
    }

    /// Who is on duty at `head` for reference block `reference` (none if the view lacks the block).
    pub fn duty(&self, reference: u64, head: u64) -> Option<Duty> {
        self.view.schedule(reference, self.takeover_blocks)?.duty_at(head).ok()
    }

    /// The node and its connected peers, for `GET /v1/status` (no peers if the node does not
    /// answer within a second).
    pub async fn status(&self, transport: crate::config::Transport) -> keeper_shared::api::P2pStatus {
        let peers: Vec<PeerInfo> = tokio::time::timeout(std::time::Duration::from_secs(1), self.node.peers())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        keeper_shared::api::P2pStatus {
            transport: transport.as_str().to_owned(),
            peer_id: self.node.peer_id().to_string(),
            peers: peers
                .into_iter()
                .map(|p| keeper_shared::api::PeerView {
                    peer_id: p.peer.to_string(),
                    operator: p.operator,
                    mesh: p.mesh.iter().map(|t| t.name().to_owned()).collect(),
                })
                .collect(),
        }
    }
}

impl P2pTask {
    /// Follows the chain into the view and hands validated messages to the roles, until shutdown.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), P2pError> {
        let mut heads = self.schedule.head_receiver();
        let hub = Arc::clone(&self.hub);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = heads.changed() => {
                    if changed.is_err() { break; }
                    let head = *heads.borrow_and_update();
                    let Some(head) = head else { continue };
                    if let Err(e) = hub.view.advance(head, &mut self.registry, &self.pool).await {
                        tracing::warn!(error = %e, block = head.number, "p2p: reading the keeper set failed");
                        continue;
                    }
                    // A message naming a block we had not seen yet was ignored (not ours to judge then):
                    // ask the peers again for what we lack in the last few blocks.
                    if let Err(e) = hub.node.catch_up(Some(head.number.saturating_sub(4))).await {
                        tracing::debug!(error = %e, "p2p: catch-up request failed");
                    }
                }
                event = self.events.recv() => match event {
                    Some(event) => self.on_event(event),
                    None => break,
                },
            }
        }
        Ok(())
    }

    fn on_event(&self, event: NodeEvent) {
        match event {
            NodeEvent::Message(received) => {
                let message = &received.message;
                match message.topic() {
                    Topic::Proposals => match decode_proposal(message, self.chain_id, self.task_manager) {
                        Ok(batch) => {
                            tracing::debug!(digest = %batch.digest(), author = %message.author(), "p2p: proposal");
                            let _ = self.hub.proposals.send(batch);
                        }
                        Err(e) => tracing::debug!(error = %e, "p2p: proposal dropped"),
                    },
                    Topic::Signatures => match decode_signature(message) {
                        Ok(signed) => {
                            let _ = self.hub.signatures.send(signed);
                        }
                        Err(e) => tracing::debug!(error = %e, "p2p: signature dropped"),
                    },
                    Topic::Disputes => match decode_dispute(message) {
                        Ok(dispute) => {
                            tracing::debug!(digest = %dispute.digest, author = %message.author(), "p2p: dispute");
                            let _ = self.hub.disputes.send(dispute);
                        }
                        Err(e) => tracing::debug!(error = %e, "p2p: dispute dropped"),
                    },
                }
            }
            NodeEvent::PeerVerified { peer, operator } => tracing::info!(%peer, %operator, "p2p: peer verified"),
            NodeEvent::PeerRefused { peer, reason } => tracing::info!(%peer, %reason, "p2p: peer refused"),
            NodeEvent::PeerDisconnected { peer } => tracing::debug!(%peer, "p2p: peer disconnected"),
        }
    }
}

/// The rotation schedule of `reference` over the keeper set at that block (weights as stakes).
pub fn schedule_of(
    set: &crate::quorum::OperatorSet,
    reference: &crate::jobs::ReferenceBlock,
    takeover_blocks: u64,
) -> Option<keeper_p2p::rotation::Schedule> {
    let stakes = chain_view::stakes_of(set);
    keeper_p2p::rotation::Schedule::new(reference.number, reference.hash, &stakes, takeover_blocks).ok()
}
