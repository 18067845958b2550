//! Sends transactions for one ECDSA signer and sees them through to a receipt, surviving crashes.
//!
//! - One nonce manager per signer: the next nonce is the larger of the chain's pending count and
//!   the store's highest live nonce + 1, then counted locally; sends are serialised so two never
//!   share a nonce.
//! - Every signed transaction is committed to the store (raw bytes included) *before* broadcast,
//!   so after a crash [`TxSender::recover`] re-broadcasts it and no nonce is reused by mistake.
//! - Idempotent by payload: sending a payload that already has a live transaction returns that
//!   one, so a retried submission is never sent twice.
//! - A transaction not mined within `stuck_after_blocks` blocks or `stuck_after` is replaced at
//!   the same nonce with both fees raised by 1/8 + 1 wei (nodes refuse a replacement below +10%,
//!   geth's default), never above the configured caps. Whichever of them is mined wins; the store
//!   records which.
//! - A receipt with status 0 is an error ([`SenderError::Reverted`]) naming the transaction.
//! - A transaction sent with an anchor block ([`TxSender::send_anchored`], a batch's reference block)
//!   is abandoned once a reorg takes that block away ([`SenderError::AnchorLeftChain`]): it would only
//!   revert. It is never broadcast again, and if the node still holds it (nodes re-queue reorged
//!   transactions) or a later nonce of ours waits behind it, its nonce is taken by a cancel (a
//!   transfer of nothing to ourselves at higher fees).

use std::time::{Duration, Instant};

use alloy::consensus::{SignableTransaction, Transaction as _, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, TxKind as CallKind, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use tokio_util::sync::CancellationToken;

use super::rpc::{RpcError, RpcPool};
use crate::store::{BlockAnchor, NewTransaction, SharedStore, StoreError, StoredTransaction, TxKind, TxStatus};

#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// Highest `maxFeePerGas` ever offered, in wei (also for replacements).
    pub max_fee_cap: u128,
    /// Highest `maxPriorityFeePerGas` ever offered, in wei.
    pub priority_fee_cap: u128,
    /// Blocks without inclusion after which a transaction is replaced with higher fees.
    pub stuck_after_blocks: u64,
    /// Time without inclusion after which a transaction is replaced (whichever comes first).
    pub stuck_after: Duration,
    /// How often a waiting transaction's receipt is looked for.
    pub poll_interval: Duration,
    /// Added to the gas estimate, in percent.
    pub gas_margin_percent: u64,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            max_fee_cap: 500_000_000_000, // 500 gwei
            priority_fee_cap: 50_000_000_000,
            stuck_after_blocks: 3,
            stuck_after: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            gas_margin_percent: 20,
        }
    }
}

/// A call to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRequest {
    pub kind: TxKind,
    /// What the transaction carries (e.g. a batch digest): the idempotency key.
    pub payload_ref: Vec<u8>,
    pub to: Address,
    pub input: Bytes,
    pub value: U256,
    /// `None`: estimated (a call that would revert is refused before signing).
    pub gas_limit: Option<u64>,
}

/// A transaction the sender tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedTx {
    pub payload_ref: Vec<u8>,
    pub nonce: u64,
    /// The latest transaction sent for this payload (a replacement after a fee bump).
    pub tx_hash: B256,
    pub status: TxStatus,
    /// `false` when this payload had been sent before and nothing new was sent.
    pub newly_sent: bool,
}

/// A transaction included with a successful receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinedTx {
    pub tx_hash: B256,
    pub nonce: u64,
    pub block_number: u64,
    pub block_hash: Option<B256>,
    pub gas_used: u64,
    pub effective_gas_price: u128,
}

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error("sender: {step}: {source}")]
    Rpc {
        step: &'static str,
        #[source]
        source: RpcError,
    },
    #[error("sender: {0}")]
    Store(#[from] StoreError),
    #[error("sender: payload 0x{payload} would revert (gas estimation): {source}")]
    WouldRevert {
        payload: String,
        #[source]
        source: RpcError,
    },
    #[error("sender: transaction {tx_hash} (nonce {nonce}) refused by the node: {message}")]
    Rejected { tx_hash: B256, nonce: u64, message: String },
    #[error("sender: transaction {tx_hash} (nonce {nonce}) reverted in block {block_number}")]
    Reverted { tx_hash: B256, nonce: u64, block_number: u64 },
    #[error("sender: nonce {nonce} of payload 0x{payload} was used by a transaction this sender did not send")]
    NonceTaken { nonce: u64, payload: String },
    #[error("sender: no live transaction for payload 0x{payload}")]
    UnknownPayload { payload: String },
    #[error("sender: stored transaction {tx_hash}: {reason}")]
    BadRecord { tx_hash: B256, reason: String },
    #[error("sender: signing: {0}")]
    Sign(#[from] alloy::signers::Error),
    #[error("sender: payload 0x{payload} abandoned: its anchor block {number} ({hash}) left the chain")]
    AnchorLeftChain { payload: String, number: u64, hash: B256 },
    #[error("sender: shut down while waiting for payload 0x{payload}")]
    Shutdown { payload: String },
}

fn rpc(step: &'static str) -> impl FnOnce(RpcError) -> SenderError {
    move |source| SenderError::Rpc { step, source }
}

/// Rounds in a row the chain's nonce must be past ours, without our receipt, before the nonce
/// counts as taken by another transaction.
const NONCE_TAKEN_ROUNDS: u32 = 3;

/// What a node answers when it already has the transaction: the broadcast did its job.
fn already_known(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("already known") || message.contains("already imported") || message.contains("known transaction")
}

fn nonce_too_low(message: &str) -> bool {
    message.to_ascii_lowercase().contains("nonce too low")
}

/// A fee raised enough for nodes to accept a replacement (+12.5% + 1 wei).
pub fn bumped_fee(fee: u128) -> u128 {
    fee.saturating_add(fee / 8).saturating_add(1)
}

/// The transaction sender of one signer. See the module documentation.
#[derive(Debug)]
pub struct TxSender {
    pool: RpcPool,
    store: SharedStore,
    signer: PrivateKeySigner,
    chain_id: u64,
    config: SenderConfig,
    /// The next nonce to use, once known; the lock serialises sends.
    next_nonce: tokio::sync::Mutex<Option<u64>>,
}

impl TxSender {
    /// A sender on the pool's chain (its id is asked once).
    pub async fn new(
        pool: RpcPool,
        store: SharedStore,
        signer: PrivateKeySigner,
        config: SenderConfig,
    ) -> Result<Self, SenderError> {
        let chain_id =
            pool.run("eth_chainId", |p| async move { p.get_chain_id().await }).await.map_err(rpc("chain id"))?;
        Ok(Self { pool, store, signer, chain_id, config, next_nonce: tokio::sync::Mutex::new(None) })
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The gas limit this sender gives a transaction the node estimated at `estimate` (with its margin):
    /// for a caller that estimated already, and passes it as [`TxRequest::gas_limit`].
    pub fn gas_limit_for(&self, estimate: u64) -> u64 {
        estimate.saturating_add(estimate.saturating_mul(self.config.gas_margin_percent) / 100)
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Signs, records, then broadcasts `request`, unless its payload already has a live
    /// transaction, which is returned instead.
    pub async fn send(&self, request: TxRequest) -> Result<TrackedTx, SenderError> {
        self.send_anchored(request, None).await
    }

    /// [`TxSender::send`] for a transaction valid only while `anchor` is on the chain: it is abandoned,
    /// never re-sent, once a reorg takes the block away (see the module documentation).
    pub async fn send_anchored(
        &self,
        request: TxRequest,
        anchor: Option<BlockAnchor>,
    ) -> Result<TrackedTx, SenderError> {
        let mut next_nonce = self.next_nonce.lock().await;
        if let Some(existing) = self.existing(&request.payload_ref).await? {
            return Ok(existing);
        }
        let gas_limit = match request.gas_limit {
            Some(limit) => limit,
            None => self.estimate_gas(&request).await?,
        };
        let (max_fee, priority_fee) = self.market_fees().await?;
        // One retry: a nonce taken behind our back is resynced from the chain.
        let mut resynced = false;
        loop {
            let nonce = match *next_nonce {
                Some(nonce) => nonce,
                None => self.initial_nonce().await?,
            };
            let tx = TxEip1559 {
                chain_id: self.chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: priority_fee,
                to: CallKind::Call(request.to),
                value: request.value,
                access_list: Default::default(),
                input: request.input.clone(),
            };
            let record = self.sign(tx, request.kind, Some(&request.payload_ref), anchor)?;
            let stored = record.clone();
            self.store.with(move |s| s.write(|w| w.record_transaction(&stored))).await?;
            *next_nonce = Some(nonce + 1);
            match self.broadcast(&record).await {
                Ok(()) => {
                    return Ok(TrackedTx {
                        payload_ref: request.payload_ref,
                        nonce,
                        tx_hash: record.tx_hash,
                        status: TxStatus::Pending,
                        newly_sent: true,
                    })
                }
                Err(SenderError::Rejected { tx_hash, nonce, message }) => {
                    // Never accepted: the nonce is free again.
                    self.set_status(tx_hash, TxStatus::Dropped, None).await?;
                    *next_nonce = None;
                    if nonce_too_low(&message) && !resynced {
                        resynced = true;
                        continue;
                    }
                    return Err(SenderError::Rejected { tx_hash, nonce, message });
                }
                Err(other) => return Err(other),
            }
        }
    }

    /// [`TxSender::send`] then [`TxSender::wait`].
    pub async fn send_and_wait(
        &self,
        request: TxRequest,
        shutdown: &CancellationToken,
    ) -> Result<MinedTx, SenderError> {
        let tracked = self.send(request).await?;
        self.wait(&tracked.payload_ref, shutdown).await
    }

    /// Re-broadcasts every pending transaction of this signer from the store (after a restart)
    /// and returns one tracked entry per payload, to [`TxSender::wait`] on.
    pub async fn recover(&self) -> Result<Vec<TrackedTx>, SenderError> {
        let mut next_nonce = self.next_nonce.lock().await;
        *next_nonce = None;
        let (chain_id, sender) = (self.chain_id, self.address());
        let pending = self.store.with(move |s| s.read(|r| r.pending_transactions(chain_id, sender))).await?;
        let mut tracked: Vec<TrackedTx> = Vec::new();
        for stored in pending {
            // A failed broadcast is retried by `wait`, which also settles what was mined meanwhile (and
            // abandons one whose anchor left the chain while we were down).
            if self.anchor_on_chain(stored.tx.anchor).await? {
                let _ = self.broadcast(&stored.tx).await;
            }
            let payload_ref = stored.tx.payload_ref.clone().unwrap_or_default();
            tracked.retain(|t| t.payload_ref != payload_ref);
            tracked.push(TrackedTx {
                payload_ref,
                nonce: stored.tx.nonce,
                tx_hash: stored.tx.tx_hash,
                status: stored.status,
                newly_sent: false,
            });
        }
        Ok(tracked)
    }

    /// Waits until a transaction of `payload_ref` is mined, replacing it with higher fees while it
    /// is stuck and re-broadcasting it if the node lost it.
    pub async fn wait(&self, payload_ref: &[u8], shutdown: &CancellationToken) -> Result<MinedTx, SenderError> {
        let payload = hex::encode(payload_ref);
        let mut stuck_since: Option<(u64, Instant)> = None;
        let mut nonce_passed_rounds = 0u32;
        loop {
            let live = self.live_transactions(payload_ref).await?;
            let Some(current) = live.last().cloned() else {
                return Err(SenderError::UnknownPayload { payload });
            };
            let nonce = current.tx.nonce;
            if let Some(done) = self.settle(&live).await? {
                return done;
            }
            if let Some(anchor) = current.tx.anchor {
                if !self.anchor_on_chain(Some(anchor)).await? {
                    // Mined meanwhile on the new chain after all? Then that receipt stands.
                    if let Some(done) = self.settle(&live).await? {
                        return done;
                    }
                    self.abandon(&live).await?;
                    return Err(SenderError::AnchorLeftChain { payload, number: anchor.number, hash: anchor.hash });
                }
            }
            let head = self.pool.run("eth_blockNumber", |p| async move { p.get_block_number().await }).await;
            let head = head.map_err(rpc("reading the head"))?;
            let address = self.address();
            let mined_nonce = self
                .pool
                .run("eth_getTransactionCount", |p| async move { p.get_transaction_count(address).latest().await })
                .await
                .map_err(rpc("reading the mined nonce"))?;
            if mined_nonce > nonce {
                // Ours may have been mined between the receipt check and now: look once more.
                if let Some(done) = self.settle(&live).await? {
                    return done;
                }
                // A node may report the new nonce a moment before it serves the receipt (seen on
                // anvil under load): only a nonce passed for several rounds without our receipt
                // was taken by someone else.
                nonce_passed_rounds += 1;
                if nonce_passed_rounds < NONCE_TAKEN_ROUNDS {
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(SenderError::Shutdown { payload }),
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                    continue;
                }
                for stored in &live {
                    self.set_status(stored.tx.tx_hash, TxStatus::Dropped, None).await?;
                }
                return Err(SenderError::NonceTaken { nonce, payload });
            }
            if mined_nonce < nonce {
                // A gap below ours: an earlier transaction of ours that a reorg took out of the chain
                // (nodes do not always return reorged transactions to their pool). Put it back.
                self.refill_gap(mined_nonce, nonce).await?;
            }
            let (since_block, since) = *stuck_since.get_or_insert((head, Instant::now()));
            let stuck = head.saturating_sub(since_block) >= self.config.stuck_after_blocks
                || since.elapsed() >= self.config.stuck_after;
            if stuck && self.replace(&current).await? {
                stuck_since = Some((head, Instant::now()));
            } else if !self.node_knows(current.tx.tx_hash).await? {
                // Ignore a failure here: the next round tries again.
                let _ = self.broadcast(&current.tx).await;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Err(SenderError::Shutdown { payload }),
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// Rebroadcasts our transactions at nonces `from..to` that the chain no longer has: recorded
    /// as mined or reverted but without a receipt now (reorged out), or pending but unknown to the
    /// node. Their stored raw bytes are sent again unchanged, so their hashes stay the same.
    async fn refill_gap(&self, from: u64, to: u64) -> Result<(), SenderError> {
        let (chain_id, sender) = (self.chain_id, self.address());
        for nonce in from..to {
            let live =
                self.store.with(move |s| s.read(|r| r.live_transactions_at_nonce(chain_id, sender, nonce))).await?;
            for stored in live {
                let hash = stored.tx.tx_hash;
                let receipt = self.receipt(hash).await?;
                if receipt.is_some() || self.node_knows(hash).await? {
                    continue;
                }
                if !self.anchor_on_chain(stored.tx.anchor).await? {
                    // Sending it again would revert: a cancel takes the nonce (a waiter still following
                    // it finds it dropped and gives it up).
                    self.set_status(hash, TxStatus::Dropped, None).await?;
                    self.cancel(&stored).await?;
                    continue;
                }
                tracing::warn!(%hash, nonce, status = ?stored.status, "sender: a transaction of ours left the chain; sending it again");
                if stored.status != TxStatus::Pending {
                    self.set_status(hash, TxStatus::Pending, None).await?;
                }
                if let Err(error) = self.broadcast(&stored.tx).await {
                    tracing::warn!(%hash, nonce, %error, "sender: re-sending failed");
                }
            }
        }
        Ok(())
    }

    /// Whether `anchor` (if any) is still the chain's block at its height. A node that does not have
    /// the height yet (a lagging endpoint) is not taken as proof that it left.
    async fn anchor_on_chain(&self, anchor: Option<BlockAnchor>) -> Result<bool, SenderError> {
        let Some(anchor) = anchor else { return Ok(true) };
        let number = anchor.number;
        let block = self
            .pool
            .run("eth_getBlockByNumber", |p| async move { p.get_block_by_number(number.into()).await })
            .await
            .map_err(rpc("reading an anchor block"))?;
        Ok(block.is_none_or(|block| block.header.hash == anchor.hash))
    }

    /// Gives up `live` (one payload's transactions, all at one nonce) for good: marks them dropped and,
    /// if the node still holds one or a later nonce of ours is live, takes their nonce with a cancel;
    /// otherwise the nonce is simply used again by the next send.
    async fn abandon(&self, live: &[StoredTransaction]) -> Result<(), SenderError> {
        let Some(current) = live.last() else { return Ok(()) };
        let mut next_nonce = self.next_nonce.lock().await;
        for stored in live {
            self.set_status(stored.tx.tx_hash, TxStatus::Dropped, None).await?;
        }
        let mut held = false;
        for stored in live {
            held |= self.node_knows(stored.tx.tx_hash).await?;
        }
        let (chain_id, address) = (self.chain_id, self.address());
        let highest = self.store.with(move |s| s.read(|r| r.highest_live_nonce(chain_id, address))).await?;
        let nonce = current.tx.nonce;
        if !held && highest.is_none_or(|highest| highest < nonce) {
            tracing::warn!(nonce, tx = %current.tx.tx_hash, "sender: abandoned a transaction whose anchor block left the chain");
            *next_nonce = None;
            return Ok(());
        }
        self.cancel(current).await
    }

    /// Takes `abandoned`'s nonce with a transfer of nothing to ourselves at higher fees (so that it
    /// replaces `abandoned` in a node's pool too).
    async fn cancel(&self, abandoned: &StoredTransaction) -> Result<(), SenderError> {
        let old = decode_eip1559(abandoned)?;
        let (market_max, market_priority) = self.market_fees().await?;
        let priority = bumped_fee(old.max_priority_fee_per_gas).max(market_priority);
        let nonce = old.nonce;
        let cancel = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: bumped_fee(old.max_fee_per_gas).max(market_max).max(priority),
            max_priority_fee_per_gas: priority,
            to: CallKind::Call(self.address()),
            value: U256::ZERO,
            access_list: Default::default(),
            input: Bytes::new(),
        };
        let record = self.sign(cancel, TxKind::Cancel, None, None)?;
        let stored = record.clone();
        self.store.with(move |s| s.write(|w| w.record_transaction(&stored))).await?;
        tracing::warn!(
            nonce,
            abandoned = %abandoned.tx.tx_hash,
            cancel = %record.tx_hash,
            "sender: abandoned a transaction whose anchor block left the chain; its nonce taken by a cancel"
        );
        // Not waited for: a later transaction's waiter re-sends it if it goes missing (`refill_gap`).
        if let Err(error) = self.broadcast(&record).await {
            tracing::warn!(nonce, %error, "sender: broadcasting a cancel failed; retried with the next gap check");
        }
        Ok(())
    }

    /// The live transaction of a payload sent before, if any.
    async fn existing(&self, payload_ref: &[u8]) -> Result<Option<TrackedTx>, SenderError> {
        let live = self.live_transactions(payload_ref).await?;
        Ok(live.last().map(|stored| {
            // A mined one wins over a later replacement that was dropped or still pending.
            let chosen =
                live.iter().find(|s| matches!(s.status, TxStatus::Mined | TxStatus::Reverted)).unwrap_or(stored);
            TrackedTx {
                payload_ref: payload_ref.to_vec(),
                nonce: chosen.tx.nonce,
                tx_hash: chosen.tx.tx_hash,
                status: chosen.status,
                newly_sent: false,
            }
        }))
    }

    /// This signer's transactions for `payload_ref` that were not dropped, oldest first.
    async fn live_transactions(&self, payload_ref: &[u8]) -> Result<Vec<StoredTransaction>, SenderError> {
        let (chain_id, sender, key) = (self.chain_id, self.address(), payload_ref.to_vec());
        let all = self.store.with(move |s| s.read(|r| r.transactions_for_payload(&key))).await?;
        Ok(all
            .into_iter()
            .filter(|s| s.tx.chain_id == chain_id && s.tx.sender == sender && s.status != TxStatus::Dropped)
            .collect())
    }

    /// The receipt of `hash`, if the chain has one.
    async fn receipt(&self, hash: B256) -> Result<Option<TransactionReceipt>, SenderError> {
        self.pool
            .run("eth_getTransactionReceipt", |p| async move { p.get_transaction_receipt(hash).await })
            .await
            .map_err(rpc("reading a receipt"))
    }

    /// If one of `live` has a receipt: records the outcome (the others at that nonce are dropped)
    /// and returns it.
    async fn settle(&self, live: &[StoredTransaction]) -> Result<Option<Result<MinedTx, SenderError>>, SenderError> {
        for stored in live {
            let hash = stored.tx.tx_hash;
            let Some(receipt) = self.receipt(hash).await? else { continue };
            return Ok(Some(self.record_receipt(stored, live, &receipt).await));
        }
        Ok(None)
    }

    async fn record_receipt(
        &self,
        stored: &StoredTransaction,
        live: &[StoredTransaction],
        receipt: &TransactionReceipt,
    ) -> Result<MinedTx, SenderError> {
        let block_number = receipt.block_number.unwrap_or_default();
        let status = if receipt.status() { TxStatus::Mined } else { TxStatus::Reverted };
        let mined = stored.tx.tx_hash;
        let others: Vec<B256> = live
            .iter()
            .filter(|s| s.tx.tx_hash != mined && s.status == TxStatus::Pending)
            .map(|s| s.tx.tx_hash)
            .collect();
        self.store
            .with(move |s| {
                s.write(|w| {
                    w.set_transaction_status(mined, status, Some(block_number))?;
                    for hash in &others {
                        w.set_transaction_status(*hash, TxStatus::Dropped, None)?;
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .await?;
        if status == TxStatus::Reverted {
            return Err(SenderError::Reverted { tx_hash: mined, nonce: stored.tx.nonce, block_number });
        }
        Ok(MinedTx {
            tx_hash: mined,
            nonce: stored.tx.nonce,
            block_number,
            block_hash: receipt.block_hash,
            gas_used: receipt.gas_used,
            effective_gas_price: receipt.effective_gas_price,
        })
    }

    /// Replaces `current` with the same call at higher fees. `false` if the caps forbid a bump.
    async fn replace(&self, current: &StoredTransaction) -> Result<bool, SenderError> {
        let old = decode_eip1559(current)?;
        let (market_max, market_priority) = self.market_fees().await?;
        let priority = bumped_fee(old.max_priority_fee_per_gas).max(market_priority);
        let max_fee = bumped_fee(old.max_fee_per_gas).max(market_max).max(priority);
        if max_fee > self.config.max_fee_cap || priority > self.config.priority_fee_cap {
            return Ok(false);
        }
        let tx = TxEip1559 { max_fee_per_gas: max_fee, max_priority_fee_per_gas: priority, ..old };
        let replacement = self.sign(tx, current.tx.kind, current.tx.payload_ref.as_deref(), current.tx.anchor)?;
        let (replaced, record) = (current.tx.tx_hash, replacement.clone());
        self.store.with(move |s| s.write(|w| w.replace_transaction(replaced, &record))).await?;
        match self.broadcast(&replacement).await {
            // Refused (e.g. underpriced on a node with a higher bump rule): both stay tracked, and
            // the next round tries again from the replacement's fees.
            Ok(()) | Err(SenderError::Rejected { .. } | SenderError::Rpc { .. }) => Ok(true),
            Err(other) => Err(other),
        }
    }

    async fn node_knows(&self, hash: B256) -> Result<bool, SenderError> {
        let tx = self
            .pool
            .run("eth_getTransactionByHash", |p| async move { p.get_transaction_by_hash(hash).await })
            .await
            .map_err(rpc("looking up a transaction"))?;
        Ok(tx.is_some())
    }

    fn sign(
        &self,
        mut tx: TxEip1559,
        kind: TxKind,
        payload_ref: Option<&[u8]>,
        anchor: Option<BlockAnchor>,
    ) -> Result<NewTransaction, SenderError> {
        let signature = self.signer.sign_transaction_sync(&mut tx)?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        Ok(NewTransaction {
            chain_id: self.chain_id,
            sender: self.address(),
            nonce: envelope.nonce(),
            tx_hash: *envelope.tx_hash(),
            kind,
            payload_ref: payload_ref.map(<[u8]>::to_vec),
            raw: Some(envelope.encoded_2718()),
            anchor,
        })
    }

    /// Sends the recorded raw bytes. A node that already has them counts as success.
    async fn broadcast(&self, record: &NewTransaction) -> Result<(), SenderError> {
        let raw = record.raw.clone().ok_or_else(|| SenderError::BadRecord {
            tx_hash: record.tx_hash,
            reason: "no raw transaction kept".into(),
        })?;
        let sent = self
            .pool
            .run("eth_sendRawTransaction", |p| async move { p.send_raw_transaction(&raw).await.map(|_| ()) })
            .await;
        match sent {
            Ok(()) => Ok(()),
            Err(e) if e.node_message().is_some_and(already_known) => Ok(()),
            Err(e @ (RpcError::Rejected { .. } | RpcError::Reverted { .. })) => Err(SenderError::Rejected {
                tx_hash: record.tx_hash,
                nonce: record.nonce,
                message: e.node_message().unwrap_or_default().to_string(),
            }),
            Err(source) => Err(SenderError::Rpc { step: "broadcasting", source }),
        }
    }

    async fn set_status(&self, hash: B256, status: TxStatus, block: Option<u64>) -> Result<(), SenderError> {
        Ok(self.store.with(move |s| s.write(|w| w.set_transaction_status(hash, status, block))).await?)
    }

    async fn initial_nonce(&self) -> Result<u64, SenderError> {
        let address = self.address();
        let chain = self
            .pool
            .run("eth_getTransactionCount", |p| async move { p.get_transaction_count(address).pending().await })
            .await
            .map_err(rpc("reading the pending nonce"))?;
        let chain_id = self.chain_id;
        let stored = self.store.with(move |s| s.read(|r| r.highest_live_nonce(chain_id, address))).await?;
        Ok(chain.max(stored.map_or(0, |n| n + 1)))
    }

    async fn estimate_gas(&self, request: &TxRequest) -> Result<u64, SenderError> {
        let call = TransactionRequest::default()
            .from(self.address())
            .to(request.to)
            .input(request.input.clone().into())
            .value(request.value);
        let estimate = self.pool.run("eth_estimateGas", |p| async move { p.estimate_gas(call).await }).await;
        match estimate {
            Ok(gas) => Ok(self.gas_limit_for(gas)),
            Err(source) if source.is_revert() => {
                Err(SenderError::WouldRevert { payload: hex::encode(&request.payload_ref), source })
            }
            Err(source) => Err(SenderError::Rpc { step: "estimating gas", source }),
        }
    }

    /// Fees from the chain's recent blocks, within the caps.
    async fn market_fees(&self) -> Result<(u128, u128), SenderError> {
        let estimate = self
            .pool
            .run("eth_feeHistory", |p| async move { p.estimate_eip1559_fees().await })
            .await
            .map_err(rpc("estimating fees"))?;
        let max_fee = estimate.max_fee_per_gas.min(self.config.max_fee_cap);
        let priority = estimate.max_priority_fee_per_gas.min(self.config.priority_fee_cap).min(max_fee);
        Ok((max_fee, priority))
    }
}

fn decode_eip1559(stored: &StoredTransaction) -> Result<TxEip1559, SenderError> {
    let bad = |reason: String| SenderError::BadRecord { tx_hash: stored.tx.tx_hash, reason };
    let raw = stored.tx.raw.as_deref().ok_or_else(|| bad("no raw transaction kept".into()))?;
    match TxEnvelope::decode_2718(&mut &raw[..]).map_err(|e| bad(format!("undecodable: {e}")))? {
        TxEnvelope::Eip1559(signed) => Ok(signed.strip_signature()),
        other => Err(bad(format!("type {} is not EIP-1559", other.tx_type()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_clears_the_replacement_rule_of_nodes() {
        for fee in [0u128, 1, 7, 8, 1_000_000_000, 123_456_789_012] {
            let bumped = bumped_fee(fee);
            // geth and reth refuse less than +10%, some nodes ask for +12.5%.
            assert!(bumped * 8 >= fee * 9, "{fee} -> {bumped}: at least +12.5%");
            assert!(bumped > fee);
        }
        assert_eq!(bumped_fee(u128::MAX), u128::MAX);
    }

    #[test]
    fn node_answers_are_recognised() {
        assert!(already_known("already known"));
        assert!(already_known("Transaction already imported"));
        assert!(nonce_too_low("nonce too low: next nonce 5, tx nonce 3"));
        assert!(!nonce_too_low("insufficient funds"));
    }
}
