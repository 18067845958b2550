//! Follows the chain head and emits each block once it is `confirmations` deep, in order, and a
//! [`Reorg`] when a block it already emitted stops being canonical, so consumers act only on
//! settled blocks and re-derive what they derived from dropped ones.
//!
//! It polls `eth_blockNumber` and fetches blocks by number: that works on every HTTP endpoint and
//! survives a failover between endpoints of the pool (a subscription or a filter is tied to one
//! node). Reorgs are found by comparing the hashes of the last `window` emitted blocks with the
//! canonical chain, then following parent hashes (asking the node for dropped blocks by hash) when
//! the fork is older than the window.

use std::collections::VecDeque;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::B256;
use alloy::providers::Provider;
use alloy::rpc::types::Block;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::rpc::{RpcError, RpcPool};
use crate::store::ChainCursor;

/// A block, as much of it as ordering and reorg detection need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRef {
    pub number: u64,
    pub hash: B256,
    pub parent_hash: B256,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
}

impl BlockRef {
    fn from_block(block: &Block) -> Self {
        let header = &block.header;
        Self { number: header.number, hash: header.hash, parent_hash: header.parent_hash, timestamp: header.timestamp }
    }

    /// The cursor a consumer stores once it has processed this block.
    pub fn cursor(&self) -> ChainCursor {
        ChainCursor { block_number: self.number, block_hash: self.hash }
    }
}

/// Blocks emitted earlier that are no longer canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reorg {
    /// The newest emitted block still canonical; blocks after it are emitted again as they confirm.
    pub common_ancestor: BlockRef,
    /// The dropped blocks, oldest first.
    pub dropped: Vec<BlockRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowerEvent {
    Block(BlockRef),
    Reorg(Reorg),
}

/// Where to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// Emit this block first (e.g. the deployment block).
    Block(u64),
    /// Resume after a block processed before (a stored cursor); a reorg of it while the daemon was
    /// down is reported as a [`Reorg`].
    Cursor(ChainCursor),
    /// Start at the first block confirmed when following begins.
    Head,
}

#[derive(Debug, Clone)]
pub struct FollowerConfig {
    /// Depth at which a block is emitted: 0 emits the head itself.
    pub confirmations: u64,
    pub poll_interval: Duration,
    /// Emitted blocks remembered to find a fork point (at least 1).
    pub window: usize,
    /// Blocks emitted by one [`BlockFollower::poll`] at most, so a long catch-up yields.
    pub max_blocks_per_poll: usize,
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self { confirmations: 2, poll_interval: Duration::from_secs(1), window: 128, max_blocks_per_poll: 256 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FollowerError {
    #[error("follower: {0}")]
    Rpc(#[from] RpcError),
    #[error(
        "follower: block {number} ({hash}) was emitted but is no longer canonical, and the node no longer knows it, \
         so the fork point cannot be found; re-sync from an older block"
    )]
    ForkPointUnknown { number: u64, hash: B256 },
    #[error("follower: the node has no block {number} although its head is past it")]
    MissingBlock { number: u64 },
    #[error("follower: block 0 differs from the one followed before: another chain?")]
    GenesisMismatch,
}

impl FollowerError {
    /// Whether polling again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rpc(e) => e.is_unavailable(),
            Self::MissingBlock { .. } => true,
            _ => false,
        }
    }
}

/// The head follower. Drive it with [`BlockFollower::poll`] or [`BlockFollower::run`].
#[derive(Debug)]
pub struct BlockFollower {
    pool: RpcPool,
    config: FollowerConfig,
    start: Option<StartFrom>,
    /// The last emitted blocks, oldest first.
    window: VecDeque<BlockRef>,
    next: u64,
    /// The chain head at the last poll (for metrics).
    head: Option<u64>,
}

impl BlockFollower {
    pub fn new(pool: RpcPool, config: FollowerConfig, start: StartFrom) -> Self {
        Self { pool, config, start: Some(start), window: VecDeque::new(), next: 0, head: None }
    }

    /// The last block emitted, if any.
    pub fn last_emitted(&self) -> Option<BlockRef> {
        self.window.back().copied()
    }

    /// The chain head (`eth_blockNumber`) the last poll saw, if any.
    pub fn chain_head(&self) -> Option<u64> {
        self.head
    }

    /// Emits what is confirmed now: a [`Reorg`] first if emitted blocks were dropped, then new
    /// blocks in order. An empty list means nothing new.
    pub async fn poll(&mut self) -> Result<Vec<FollowerEvent>, FollowerError> {
        let head = self.pool.run("eth_blockNumber", |p| async move { p.get_block_number().await }).await?;
        self.head = Some(head);
        let Some(target) = head.checked_sub(self.config.confirmations) else { return Ok(Vec::new()) };
        let mut events = Vec::new();
        if let Some(start) = self.start {
            self.begin(start, target, &mut events).await?;
            self.start = None;
        }
        if let Some(tip) = self.window.back().copied() {
            if self.canonical_hash(tip.number).await? != Some(tip.hash) {
                events.push(FollowerEvent::Reorg(self.find_fork().await?));
            }
        }
        let mut emitted = 0;
        while self.next <= target && emitted < self.config.max_blocks_per_poll.max(1) {
            let block = self.block_at(self.next).await?.ok_or(FollowerError::MissingBlock { number: self.next })?;
            if let Some(tip) = self.window.back() {
                if block.parent_hash != tip.hash {
                    // The chain moved under us between two calls.
                    events.push(FollowerEvent::Reorg(self.find_fork().await?));
                    continue;
                }
            }
            self.remember(block);
            events.push(FollowerEvent::Block(block));
            emitted += 1;
        }
        Ok(events)
    }

    /// Polls every `poll_interval` and sends the events to `events` until `shutdown` is cancelled
    /// or the receiver is dropped. Transient RPC failures are retried at the next poll; the
    /// returned error is one that polling again cannot fix.
    pub async fn run(
        mut self,
        events: mpsc::Sender<FollowerEvent>,
        shutdown: CancellationToken,
    ) -> Result<(), FollowerError> {
        loop {
            let polled = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                polled = self.poll() => polled,
            };
            match polled {
                Ok(batch) => {
                    for event in batch {
                        if events.send(event).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                Err(e) if e.is_transient() => {}
                Err(e) => return Err(e),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    async fn begin(
        &mut self,
        start: StartFrom,
        target: u64,
        events: &mut Vec<FollowerEvent>,
    ) -> Result<(), FollowerError> {
        match start {
            StartFrom::Block(number) => self.next = number,
            StartFrom::Head => self.next = target,
            StartFrom::Cursor(cursor) => {
                self.next = cursor.block_number + 1;
                let canonical = self.block_at(cursor.block_number).await?;
                match canonical {
                    Some(block) if block.hash == cursor.block_hash => self.remember(block),
                    _ => {
                        // Reorganised while we were down: start from the dropped block itself so
                        // the fork search below follows its parents (a retry after a failed
                        // search starts over).
                        self.window.clear();
                        let dropped =
                            self.block_by_hash(cursor.block_hash).await?.ok_or(FollowerError::ForkPointUnknown {
                                number: cursor.block_number,
                                hash: cursor.block_hash,
                            })?;
                        self.remember(dropped);
                        events.push(FollowerEvent::Reorg(self.find_fork().await?));
                    }
                }
            }
        }
        Ok(())
    }

    fn remember(&mut self, block: BlockRef) {
        self.window.push_back(block);
        while self.window.len() > self.config.window.max(1) {
            self.window.pop_front();
        }
        self.next = block.number + 1;
    }

    /// Pops dropped blocks off the window down to the newest one still canonical, following
    /// parent hashes past the window if needed, and leaves the ancestor as the window's tip.
    ///
    /// On an error the window is put back as it was: the next poll finds the same reorg again. An
    /// emptied window would let the next poll emit the new chain's blocks with no reorg reported
    /// (nothing left to compare them with), so a consumer would keep what it derived from dropped
    /// blocks.
    async fn find_fork(&mut self) -> Result<Reorg, FollowerError> {
        let saved = self.window.clone();
        let found = self.search_fork().await;
        if found.is_err() {
            self.window = saved;
        }
        found
    }

    async fn search_fork(&mut self) -> Result<Reorg, FollowerError> {
        let mut dropped = Vec::new();
        while let Some(block) = self.window.pop_back() {
            if self.canonical_hash(block.number).await? == Some(block.hash) {
                self.remember(block);
                dropped.reverse();
                return Ok(Reorg { common_ancestor: block, dropped });
            }
            dropped.push(block);
        }
        // Older than the window: follow the dropped chain by parent hash.
        loop {
            let Some(oldest) = dropped.last().copied() else {
                return Err(FollowerError::GenesisMismatch);
            };
            let Some(parent_number) = oldest.number.checked_sub(1) else {
                return Err(FollowerError::GenesisMismatch);
            };
            match self.block_at(parent_number).await? {
                Some(canonical) if canonical.hash == oldest.parent_hash => {
                    self.remember(canonical);
                    dropped.reverse();
                    return Ok(Reorg { common_ancestor: canonical, dropped });
                }
                _ => {
                    let parent = self
                        .block_by_hash(oldest.parent_hash)
                        .await?
                        .ok_or(FollowerError::ForkPointUnknown { number: parent_number, hash: oldest.parent_hash })?;
                    dropped.push(parent);
                }
            }
        }
    }

    async fn canonical_hash(&self, number: u64) -> Result<Option<B256>, FollowerError> {
        Ok(self.block_at(number).await?.map(|b| b.hash))
    }

    async fn block_at(&self, number: u64) -> Result<Option<BlockRef>, FollowerError> {
        let block =
            self.pool
                .run("eth_getBlockByNumber", |p| async move {
                    p.get_block_by_number(BlockNumberOrTag::Number(number)).await
                })
                .await?;
        Ok(block.as_ref().map(BlockRef::from_block))
    }

    async fn block_by_hash(&self, hash: B256) -> Result<Option<BlockRef>, FollowerError> {
        let block = self.pool.run("eth_getBlockByHash", |p| async move { p.get_block_by_hash(hash).await }).await?;
        Ok(block.as_ref().map(BlockRef::from_block))
    }
}
