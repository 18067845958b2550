//! Keeps the key registry's weights in step with EigenLayer, so that a batch counts only stake that
//! is at risk (docs/protocol.md, "Stake at risk"). Three duties, run at each block the scheduler
//! processes:
//!
//! - **Stake changes.** The AllocationManager's logs for the keeper set are read as blocks are
//!   processed: `AllocationUpdated` (an allocation or a deallocation, taking effect at its
//!   `effectBlock`), `OperatorSlashed`; and the registry's own `OperatorRegistered` and
//!   `WeightsConfirmed`. The registry weighs an operator by the stake still slashable `horizon`
//!   blocks ahead, so a change with effect block `E` shows in its reading from `E - horizon` on (a
//!   deallocation) or from `E` (an allocation): the member is re-read at both blocks (at once when
//!   they are past), and when the registry's weight differs from the stake it would read now
//!   (`currentStake`), `updateWeights` is sent for the members that differ. Per-member
//!   `updateWeights` rather than `updateAllWeights`: one member's change then costs about 30k gas
//!   to read plus 36k to write whatever the set's size, where `updateAllWeights` reads every member
//!   (1.9M gas at 64; README, gas table). An `OperatorRemovedFromOperatorSet` needs nothing: the
//!   registrar callback zeroes the weight in the same transaction. At start every member is
//!   re-read, which covers what happened while the daemon was down.
//! - **Confirmation.** The task manager refuses a batch whose reference block is more than
//!   `maxWeightAge` blocks after the set's last `updateAllWeights`: once half of it has passed,
//!   `updateAllWeights` is sent (anyone may; it also picks up any change missed above).
//! - **Budget.** `maxWeightAge + maxReferenceAge + challengeWindowBlocks` must stay within the
//!   horizon read from EigenLayer; the task manager checks it whenever one of its settings changes,
//!   but the horizon comes from EigenLayer's core (`DEALLOCATION_DELAY`, the withdrawal delay),
//!   which an upgrade of the core can shorten. So `slashableBudget()` is read at start and every
//!   [`BUDGET_RECHECK_BLOCKS`]; while it is exceeded the aggregator proposes nothing (a batch could
//!   outlive the stake that signed it), says so once in the log at error level, and sets
//!   `keeper_slashable_budget_exceeded` to 1.
//!
//! A refresh transaction that fails is not retried as such: the confirmation reads every member
//! within `maxWeightAge / 2` blocks anyway.
//!
//! **Turns over P2P.** There every operator runs an aggregator, so every one of them sees the same
//! refresh fall due at the same block, and each sending it would pay for the same transaction n
//! times (`updateAllWeights` costs 1.9M gas at 64 members). A refresh due at block `B` (the block
//! of the stake event's log, or the confirmation's due block: the same for everyone, whatever
//! head each node processes it at) is sent by the first operator of a stake-weighted order drawn
//! for `B` ([`turn_starts`]), by the second if the chain still needs it [`TURN_MULTIPLE`] x
//! `takeover_blocks` blocks later, and so on. Each turn re-reads the chain before sending, so a
//! refresh that landed is not sent again, and a dead operator costs one turn, not the refresh.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use alloy::primitives::{keccak256, Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::{SolCall, SolEvent};
use keeper_shared::contracts::{BlsKeyRegistry, TaskManager};
use keeper_shared::deployment::Deployment;
use keeper_shared::eigenlayer::allocation_manager::AllocationManager;

use crate::chain::{RpcPool, TxRequest, TxSender};
use crate::metrics::Metrics;
use crate::quorum::registry::RegistryView;
use crate::store::TxKind;

/// How often (in processed blocks) the task manager's budget is compared with the horizon again.
pub const BUDGET_RECHECK_BLOCKS: u64 = 32;
/// Largest block range of one `eth_getLogs` of the stake events.
const LOG_RANGE: u64 = 10_000;
/// A weight refresh's turn lasts this many batch takeover deadlines: a refresh is not urgent (a
/// confirmation falls due with half the weight age left), and a turn must outlast the time its
/// transaction takes to land, or the next operator sends it again.
pub const TURN_MULTIPLE: u64 = 2;
/// Domain tag of the order drawn for weight refreshes (distinct from the batch rotation's seed).
const TURN_TAG: &[u8] = b"KeeperNetwork/weight-turns/v1";

/// The first block of `me`'s turn for a refresh due at `due`, given the order of operators drawn
/// for `due`; `None` when `me` is not in it (no stake: someone else refreshes).
pub fn turn_starts(order: &[Address], me: Address, due: u64, turn_blocks: u64) -> Option<u64> {
    let position = order.iter().position(|operator| *operator == me)?;
    Some(due.saturating_add((position as u64).saturating_mul(turn_blocks)))
}

/// Over P2P: this node's address, the registry view the order is drawn from and the length of a
/// turn (see the module docs). Over HTTP there is one aggregator and no turns.
pub struct Turns<'a> {
    pub registry: &'a mut RegistryView,
    pub me: Address,
    pub turn_blocks: u64,
}

impl Turns<'_> {
    /// Whether, at `head`, it is this node's turn (or past it) for a refresh due at `due`.
    async fn mine(&mut self, due: u64, head: u64) -> bool {
        let set = match self.registry.at(due).await {
            Ok(set) => set,
            Err(e) => {
                tracing::debug!(error = %e, due, "aggregator: no keeper set to draw a weight refresh's turns from");
                return false;
            }
        };
        let stakes = crate::p2p::chain_view::stakes_of(&set);
        let seed = keccak256([TURN_TAG, &due.to_be_bytes()].concat());
        let Ok(order) = keeper_p2p::rotation::rotation_order(due, seed, &stakes) else { return false };
        turn_starts(&order, self.me, due, self.turn_blocks).is_some_and(|start| head >= start)
    }
}

/// Why the weights could not be kept, or why the aggregator must not propose.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error(
        "the task manager's maxWeightAge + maxReferenceAge + challengeWindowBlocks = {used} blocks exceed the \
         slashable horizon read from EigenLayer ({horizon} blocks): a batch could be challenged after the stake \
         that signed it can leave; proposing nothing until the task manager's owner lowers them"
    )]
    BudgetExceedsHorizon { used: u64, horizon: u64 },
    #[error("weights: calling {call}: {reason}")]
    Call { call: &'static str, reason: String },
    #[error("weights: reading the stake events of blocks {from}..={to}: {reason}")]
    Logs { from: u64, to: u64, reason: String },
}

/// The task manager's budget against EigenLayer's horizon, as last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub used: u64,
    pub horizon: u64,
}

impl Budget {
    /// `Err` when the task manager's bounds outlast the stake (see the module docs).
    pub fn check(self) -> Result<(), WeightsError> {
        if self.used > self.horizon {
            return Err(WeightsError::BudgetExceedsHorizon { used: self.used, horizon: self.horizon });
        }
        Ok(())
    }
}

/// When the keeper set's weights were last confirmed on chain, and this aggregator's own pending
/// confirmation.
#[derive(Debug, Clone, Copy)]
pub struct WeightConfirmation {
    pub max_age: u64,
    pub confirmed_at: u64,
    /// The head at which this aggregator last sent a confirmation.
    pub sent_at: Option<u64>,
}

impl WeightConfirmation {
    /// Whether the chain should be asked again: half the weight age has passed since the last
    /// confirmation seen (someone else may have confirmed since), and no confirmation of ours was sent
    /// in the last quarter of it.
    /// The block from which a confirmation is due (the same for every node that saw the last one).
    pub fn due_at(&self) -> u64 {
        self.confirmed_at.saturating_add(self.max_age / 2)
    }

    pub fn due(&self, head: u64) -> bool {
        head.saturating_sub(self.confirmed_at) >= self.max_age / 2
            && self.sent_at.is_none_or(|sent| head.saturating_sub(sent) >= (self.max_age / 4).max(1))
    }
}

/// What a stake event asks for: re-reading `operator` at each of `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recheck {
    pub operator: Address,
    pub at: Vec<u64>,
}

/// The blocks at which a stake event of the keeper set can change the registry's reading of its
/// operator (see the module docs), or `None` for a log that is not about the set. `head` is the log's
/// block (no re-read is earlier); `horizon` the registry's slashable horizon.
pub fn recheck_of(log: &Log, set: (Address, u32), registry: Address, head: u64, horizon: u64) -> Option<Recheck> {
    let topic = *log.topic0()?;
    if log.address() == registry {
        if topic == BlsKeyRegistry::OperatorRegistered::SIGNATURE_HASH {
            let event = BlsKeyRegistry::OperatorRegistered::decode_log_data(log.data()).ok()?;
            return Some(Recheck { operator: event.operator, at: vec![head] });
        }
        return None;
    }
    if topic == AllocationManager::AllocationUpdated::SIGNATURE_HASH {
        let event = AllocationManager::AllocationUpdated::decode_log_data(log.data()).ok()?;
        if (event.operatorSet.avs, event.operatorSet.id) != set {
            return None;
        }
        let effect = u64::from(event.effectBlock);
        let mut at = vec![effect.saturating_sub(horizon).max(head), effect.max(head)];
        at.dedup();
        return Some(Recheck { operator: event.operator, at });
    }
    if topic == AllocationManager::OperatorSlashed::SIGNATURE_HASH {
        let event = AllocationManager::OperatorSlashed::decode_log_data(log.data()).ok()?;
        if (event.operatorSet.avs, event.operatorSet.id) != set {
            return None;
        }
        return Some(Recheck { operator: event.operator, at: vec![head] });
    }
    None
}

/// The aggregator's weight keeping (see the module docs).
pub struct WeightKeeper {
    pool: RpcPool,
    sender: Arc<TxSender>,
    metrics: Arc<Metrics>,
    registry: Address,
    allocation_manager: Address,
    task_manager: Address,
    set: (Address, u32),
    confirmation: WeightConfirmation,
    budget: Option<Budget>,
    budget_read_at: Option<u64>,
    /// Stake events are read through this block (`None`: not yet; the first head re-reads every member).
    scanned: Option<u64>,
    /// Members to re-read, by the block from which their reading may have changed.
    rechecks: BTreeMap<u64, BTreeSet<Address>>,
}

impl WeightKeeper {
    pub fn new(
        pool: RpcPool,
        sender: Arc<TxSender>,
        metrics: Arc<Metrics>,
        deployment: &Deployment,
        max_weight_age: u64,
    ) -> Self {
        Self {
            pool,
            sender,
            metrics,
            registry: deployment.avs.key_registry,
            allocation_manager: deployment.eigenlayer.allocation_manager,
            task_manager: deployment.avs.task_manager,
            set: (deployment.avs.service_manager, deployment.avs.operator_set_id),
            confirmation: WeightConfirmation { max_age: max_weight_age, confirmed_at: 0, sent_at: None },
            budget: None,
            budget_read_at: None,
            scanned: None,
            rechecks: BTreeMap::new(),
        }
    }

    /// One processed block: the budget (re-read when due), the stake events up to `head`, the
    /// refreshes they call for, and the confirmation. `Err(BudgetExceedsHorizon)` means: propose
    /// nothing at this block. Other failures are logged and retried at the next block.
    pub async fn on_head(&mut self, head: u64, mut turns: Option<Turns<'_>>) -> Result<(), WeightsError> {
        self.check_budget(head).await?;
        if let Err(e) = self.follow(head, turns.as_mut()).await {
            tracing::warn!(error = %e, "aggregator: following the keeper set's stake failed; retrying next block");
        }
        if let Err(e) = self.confirm(head, turns.as_mut()).await {
            tracing::debug!(error = %e, "aggregator: confirming the weights failed; retrying next block");
        }
        Ok(())
    }

    /// The budget as last read (for tests and logs).
    pub fn budget(&self) -> Option<Budget> {
        self.budget
    }

    async fn check_budget(&mut self, head: u64) -> Result<(), WeightsError> {
        let due = self.budget_read_at.is_none_or(|at| head.saturating_sub(at) >= BUDGET_RECHECK_BLOCKS);
        if due {
            let provider = self.pool.provider();
            match TaskManager::new(self.task_manager, &provider).slashableBudget().call().await {
                Ok(read) => {
                    let budget = Budget { used: read.used.saturating_to(), horizon: read.horizon.saturating_to() };
                    let was_exceeded = self.budget.is_some_and(|b| b.check().is_err());
                    self.budget = Some(budget);
                    self.budget_read_at = Some(head);
                    match budget.check() {
                        Err(e) if !was_exceeded => tracing::error!(error = %e, "aggregator: not proposing"),
                        Ok(()) if was_exceeded => {
                            tracing::info!(
                                used = budget.used,
                                horizon = budget.horizon,
                                "aggregator: budget fits again"
                            )
                        }
                        _ => {}
                    }
                    self.metrics.slashable_budget_exceeded.set(i64::from(budget.check().is_err()));
                }
                // Not known yet: nothing is proposed until it is. Known before: the last reading holds.
                Err(e) => {
                    let error = WeightsError::Call { call: "slashableBudget", reason: e.to_string() };
                    if self.budget.is_none() {
                        return Err(error);
                    }
                    tracing::warn!(%error, "aggregator: re-reading the slashable budget failed");
                }
            }
        }
        match self.budget {
            Some(budget) => budget.check(),
            None => Err(WeightsError::Call { call: "slashableBudget", reason: "not read yet".into() }),
        }
    }

    /// Reads the stake events up to `head` and sends `updateWeights` for the members whose reading
    /// changed.
    async fn follow(&mut self, head: u64, mut turns: Option<&mut Turns<'_>>) -> Result<(), WeightsError> {
        let horizon = self.budget.map_or(0, |b| b.horizon);
        let provider = self.pool.provider();
        match self.scanned {
            None => {
                let set = AllocationManager::OperatorSet { avs: self.set.0, id: self.set.1 };
                let members = AllocationManager::new(self.allocation_manager, &provider)
                    .getMembers(set)
                    .call()
                    .await
                    .map_err(|e| WeightsError::Call { call: "getMembers", reason: e.to_string() })?;
                self.rechecks.entry(head).or_default().extend(members);
            }
            Some(scanned) => {
                let mut from = scanned + 1;
                while from <= head {
                    let to = head.min(from + LOG_RANGE - 1);
                    let filter = Filter::new()
                        .address(vec![self.allocation_manager, self.registry])
                        .event_signature(vec![
                            AllocationManager::AllocationUpdated::SIGNATURE_HASH,
                            AllocationManager::OperatorSlashed::SIGNATURE_HASH,
                            BlsKeyRegistry::OperatorRegistered::SIGNATURE_HASH,
                            BlsKeyRegistry::WeightsConfirmed::SIGNATURE_HASH,
                        ])
                        .from_block(from)
                        .to_block(to);
                    let logs = provider.get_logs(&filter).await.map_err(|e| WeightsError::Logs {
                        from,
                        to,
                        reason: e.to_string(),
                    })?;
                    for log in &logs {
                        // From the log's own block, so that every node keys a re-read alike.
                        let at = log.block_number.unwrap_or(head);
                        self.observe(log, at, horizon);
                    }
                    self.scanned = Some(to);
                    from = to + 1;
                }
            }
        }
        self.scanned = Some(head);
        let due: Vec<u64> = self.rechecks.range(..=head).map(|(block, _)| *block).collect();
        let mut operators = BTreeSet::new();
        for block in due {
            if let Some(turns) = turns.as_deref_mut() {
                if !turns.mine(block, head).await {
                    continue;
                }
            }
            operators.extend(self.rechecks.remove(&block).unwrap_or_default());
        }
        if operators.is_empty() {
            return Ok(());
        }
        let stale = self.stale(&operators).await?;
        if stale.is_empty() {
            return Ok(());
        }
        self.send_update(head, stale).await;
        Ok(())
    }

    /// `at`: the log's block (re-reads are keyed from it).
    fn observe(&mut self, log: &Log, at: u64, horizon: u64) {
        if log.address() == self.registry && log.topic0() == Some(&BlsKeyRegistry::WeightsConfirmed::SIGNATURE_HASH) {
            if let Ok(event) = BlsKeyRegistry::WeightsConfirmed::decode_log_data(log.data()) {
                self.confirmation.confirmed_at = self.confirmation.confirmed_at.max(u64::from(event.blockNumber));
            }
            return;
        }
        if let Some(recheck) = recheck_of(log, self.set, self.registry, at, horizon) {
            tracing::debug!(operator = %recheck.operator, at = ?recheck.at, "aggregator: a member's stake changes");
            for block in recheck.at {
                self.rechecks.entry(block).or_default().insert(recheck.operator);
            }
        }
    }

    /// The registered members among `operators` whose registry weight is not the stake the registry
    /// would read now.
    async fn stale(&self, operators: &BTreeSet<Address>) -> Result<Vec<Address>, WeightsError> {
        let provider = self.pool.provider();
        let registry = BlsKeyRegistry::new(self.registry, &provider);
        let call =
            |call: &'static str| move |e: alloy::contract::Error| WeightsError::Call { call, reason: e.to_string() };
        let mut stale = Vec::new();
        for operator in operators {
            if !registry.isRegistered(*operator).call().await.map_err(call("isRegistered"))? {
                continue;
            }
            let weight = registry.getOperatorWeight(*operator).call().await.map_err(call("getOperatorWeight"))?;
            let stake = registry.currentStake(*operator).call().await.map_err(call("currentStake"))?;
            if weight != stake {
                tracing::info!(%operator, %weight, %stake, "aggregator: a member's weight is stale");
                stale.push(*operator);
            }
        }
        Ok(stale)
    }

    async fn send_update(&mut self, head: u64, operators: Vec<Address>) {
        let input = BlsKeyRegistry::updateWeightsCall { operators: operators.clone() }.abi_encode();
        let mut reference = b"updateWeights".to_vec();
        reference.extend_from_slice(&head.to_be_bytes());
        for operator in &operators {
            reference.extend_from_slice(operator.as_slice());
        }
        let request = TxRequest {
            kind: TxKind::OperatorRegistration,
            payload_ref: keccak256(&reference).to_vec(),
            to: self.registry,
            input: input.into(),
            value: U256::ZERO,
            gas_limit: None,
        };
        match self.sender.send(request).await {
            Ok(tracked) => {
                self.metrics.weight_updates.with_label_values(&["stake_change"]).inc();
                tracing::info!(head, ?operators, tx = %tracked.tx_hash, "aggregator: refreshing members' weights");
            }
            Err(e) => tracing::warn!(error = %e, ?operators, "aggregator: refreshing members' weights failed"),
        }
    }

    /// Sends `updateAllWeights` once half the weight age has passed since the last confirmation
    /// (over P2P, in this node's turn).
    async fn confirm(&mut self, head: u64, turns: Option<&mut Turns<'_>>) -> Result<(), WeightsError> {
        if !self.confirmation.due(head) {
            return Ok(());
        }
        let provider = self.pool.provider();
        let confirmed = BlsKeyRegistry::new(self.registry, &provider)
            .weightsConfirmedAt()
            .call()
            .await
            .map_err(|e| WeightsError::Call { call: "weightsConfirmedAt", reason: e.to_string() })?;
        self.confirmation.confirmed_at = confirmed.saturating_to();
        if !self.confirmation.due(head) {
            return Ok(());
        }
        // Turns are drawn from the chain's last confirmation (this node's may be older).
        if let Some(turns) = turns {
            if !turns.mine(self.confirmation.due_at(), head).await {
                return Ok(());
            }
        }
        let input = BlsKeyRegistry::updateAllWeightsCall {}.abi_encode();
        let request = TxRequest {
            kind: TxKind::OperatorRegistration,
            payload_ref: keccak256([b"updateAllWeights".as_slice(), &head.to_be_bytes()].concat()).to_vec(),
            to: self.registry,
            input: input.into(),
            value: U256::ZERO,
            gas_limit: None,
        };
        self.confirmation.sent_at = Some(head);
        match self.sender.send(request).await {
            Ok(_) => {
                self.metrics.weight_updates.with_label_values(&["confirmation"]).inc();
                tracing::info!(head, "aggregator: confirming the keeper set's weights");
            }
            Err(e) => tracing::warn!(error = %e, "aggregator: confirming the keeper set's weights failed"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
