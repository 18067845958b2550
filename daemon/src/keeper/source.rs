//! Where the keeper gets proposals and where its signatures go: one aggregator's HTTP endpoint,
//! or the operators' gossip network. The keeper's checks and its slashing protection are the same
//! whichever source delivered the proposal (`role::Keeper::judge`); only the transport differs.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use alloy::primitives::B256;
use keeper_shared::batch::Batch;
use tokio::sync::broadcast::{self, error::TryRecvError};

use super::client::{AggregatorClient, ClientError};
use crate::p2p::{P2pError, P2pHub};
use crate::protocol::{Cursor, Dispute, SignedBatch};

/// Digests remembered as judged, so a proposal re-gossiped (a takeover re-publishing it) is not signed twice.
const JUDGED_MEMORY: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Http(#[from] ClientError),
    #[error("keeper: {0}")]
    P2p(#[from] P2pError),
}

/// Proposals fetched in one call.
#[derive(Debug, Default)]
pub struct Fetched {
    pub batches: Vec<Batch>,
    /// HTTP: where the next fetch starts.
    pub cursor: Option<Cursor>,
    pub has_more: bool,
}

pub enum ProposalSource {
    /// `waiting`: proposals fetched but not judged yet (their reference block was ahead of this
    /// keeper's view), handed out again with the next fetch.
    Http {
        client: AggregatorClient,
        cursor: Option<Cursor>,
        waiting: Vec<Batch>,
    },
    Gossip {
        hub: Arc<P2pHub>,
        incoming: broadcast::Receiver<Batch>,
        waiting: VecDeque<Batch>,
        judged: Judged,
    },
}

impl ProposalSource {
    pub fn http(client: AggregatorClient) -> Self {
        Self::Http { client, cursor: None, waiting: Vec::new() }
    }

    pub fn gossip(hub: Arc<P2pHub>) -> Self {
        let incoming = hub.subscribe_proposals();
        Self::Gossip { hub, incoming, waiting: VecDeque::new(), judged: Judged::default() }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Http { .. } => "http",
            Self::Gossip { .. } => "p2p",
        }
    }

    /// The proposals to judge now (the ones left for later first), oldest first.
    pub async fn fetch(&mut self) -> Result<Fetched, SourceError> {
        match self {
            Self::Http { client, cursor, waiting } => {
                let page = client.proposals(cursor.as_ref(), Some(64)).await?;
                let mut batches = std::mem::take(waiting);
                batches.extend(page.batches);
                Ok(Fetched { batches, cursor: Some(page.cursor), has_more: page.has_more })
            }
            Self::Gossip { incoming, waiting, judged, .. } => {
                loop {
                    match incoming.try_recv() {
                        Ok(batch) => waiting.push_back(batch),
                        Err(TryRecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "keeper: missed gossip proposals (catch-up brings them back)");
                        }
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
                let batches = waiting.drain(..).filter(|b| !judged.contains(b.digest())).collect();
                Ok(Fetched { batches, cursor: None, has_more: false })
            }
        }
    }

    /// `batches` (judged "later", or not judged before an error) are handed out again by the next fetch.
    pub fn later(&mut self, batches: impl IntoIterator<Item = Batch>) {
        match self {
            Self::Http { waiting, .. } => waiting.extend(batches),
            Self::Gossip { waiting, .. } => waiting.extend(batches),
        }
    }

    /// Everything fetched is in the keeper's hands (judged, or kept with [`Self::later`]): the next
    /// fetch starts after it.
    pub fn advance(&mut self, fetched: &Fetched) {
        if let Self::Http { cursor, .. } = self {
            *cursor = fetched.cursor.or(*cursor);
        }
    }

    /// `batch` was judged (or dropped): gossip does not hand it out again if it is re-published.
    pub fn judged(&mut self, batch: &Batch) {
        if let Self::Gossip { judged, .. } = self {
            judged.insert(batch.digest());
        }
    }

    /// Sends our signature over `batch`; `Some(quorum reached)` when the transport can tell.
    pub async fn send_signature(&mut self, signed: &SignedBatch, batch: &Batch) -> Result<Option<bool>, SourceError> {
        match self {
            Self::Http { client, .. } => Ok(Some(client.post_signature(signed).await?.quorum_reached)),
            Self::Gossip { hub, judged, .. } => {
                hub.publish_signature(signed, batch).await?;
                judged.insert(batch.digest());
                Ok(None)
            }
        }
    }

    /// Tells the proposer (over gossip: every operator) which leaves of `batch` we will not sign.
    pub async fn send_dispute(&mut self, dispute: &Dispute, batch: &Batch) -> Result<(), SourceError> {
        match self {
            Self::Http { client, .. } => {
                client.post_dispute(dispute).await?;
            }
            Self::Gossip { hub, judged, .. } => {
                judged.insert(dispute.digest);
                hub.publish_dispute(dispute, batch).await?;
            }
        }
        Ok(())
    }
}

/// A bounded set of digests, oldest forgotten first.
#[derive(Debug, Default)]
pub struct Judged {
    set: HashSet<B256>,
    order: VecDeque<B256>,
}

impl Judged {
    fn contains(&self, digest: B256) -> bool {
        self.set.contains(&digest)
    }

    fn insert(&mut self, digest: B256) {
        if self.set.insert(digest) {
            self.order.push_back(digest);
            while self.order.len() > JUDGED_MEMORY {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}
