//! The `respondToBatch` call an aggregator submits, built from the signed batch: the tasks in leaf
//! order with their specs and responses, the non-signers' keys in the order the task manager requires,
//! and the aggregate signature in EIP-2537 form; and the `SignedLeaf` of an equivocation challenge.

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent, SolInterface};
use alloy::transports::{RpcError, TransportError};
use futures_util::StreamExt;
use keeper_shared::batch::{Batch, BatchError, TaskId, TaskLeaf};
use keeper_shared::bls::{PublicKey, Signature};
use keeper_shared::contracts::task_manager::{TaskManager, BLS12381};
use keeper_shared::job::RevertReason;
use thiserror::Error;

use super::execute::TaskResponse;
use super::schedule::SkipReason;
use super::spec::{JobSpec, SpecError};

#[derive(Debug, Error)]
pub enum SubmitError {
    #[error("submit: the batch has {leaves} leaves but {tasks} tasks were given")]
    TaskCount { leaves: usize, tasks: usize },
    #[error("submit: task {index} (job {job_id}, sequence {sequence}) is not the batch's leaf {index}")]
    LeafMismatch { index: usize, job_id: U256, sequence: u64 },
    #[error("submit: job {job_id}: {source}")]
    Spec {
        job_id: U256,
        #[source]
        source: Box<SpecError>,
    },
    #[error("submit: non-signer key {pubkey_hash} is listed twice")]
    DuplicateNonSigner { pubkey_hash: B256 },
    #[error("submit: reference block {number} does not fit the task manager's uint32")]
    ReferenceBlockTooLarge { number: u64 },
    #[error("submit: {0}")]
    Batch(#[from] BatchError),
    #[error("submit: the task manager refused the batch: {error:?}")]
    Rejected { error: Box<TaskManager::TaskManagerErrors> },
    #[error("submit: the transaction reverted with data {data} (not a task manager error)")]
    Reverted { data: Bytes },
    #[error("submit: transaction {transaction_hash} reverted")]
    Failed { transaction_hash: B256 },
    #[error("submit: transaction {transaction_hash} emitted no BatchResponded from the task manager")]
    NotResponded { transaction_hash: B256 },
    #[error("submit: {step}: {source}")]
    Rpc {
        step: &'static str,
        #[source]
        source: TransportError,
    },
    #[error("submit: waiting for the receipt: {0}")]
    Receipt(#[from] alloy::providers::PendingTransactionError),
    #[error("submit: {} task(s) would revert at their target: {}", .tasks.len(), describe_reverts(.tasks))]
    TargetsWouldRevert { tasks: Vec<(TaskId, RevertReason)> },
}

fn describe_reverts(tasks: &[(TaskId, RevertReason)]) -> String {
    let named: Vec<String> = tasks
        .iter()
        .map(|(task, reason)| format!("job {} sequence {}: {reason}", task.job_id, task.sequence))
        .collect();
    named.join("; ")
}

/// Gas an `eth_call` needs besides the target's execution: the 21,000 of a transaction and its call
/// data at the non-zero byte price (EIP-2028), so the target gets at least its job's gas limit.
fn call_overhead_gas(call_data: &[u8]) -> u64 {
    21_000 + 16 * call_data.len() as u64
}

/// Each task's own call as its forwarder makes it (`forwarders[i]` for task `i`), a few at a time:
/// the ones whose target would revert, with their reasons, in [`SubmitError::TargetsWouldRevert`].
pub async fn check_targets<P: Provider>(
    provider: &P,
    tasks: &[BatchTask],
    forwarders: &[Address],
) -> Result<(), SubmitError> {
    // The futures are made first (none runs until polled): a closure making them inside the stream
    // would not be `Send` for every lifetime, which a spawned submitter needs.
    let calls: Vec<_> = tasks
        .iter()
        .zip(forwarders)
        .map(|(task, forwarder)| async move { (task.task, simulate_task_call(provider, *forwarder, task).await) })
        .collect();
    let simulated: Vec<_> = futures_util::stream::iter(calls).buffered(TARGET_CALLS_IN_PARALLEL).collect().await;
    let mut reverting = Vec::new();
    for (task, simulated) in simulated {
        let simulated = simulated.map_err(|source| SubmitError::Rpc { step: "simulating a task's call", source })?;
        if let Err(reason) = simulated {
            reverting.push((task, reason));
        }
    }
    match reverting.is_empty() {
        true => Ok(()),
        false => Err(SubmitError::TargetsWouldRevert { tasks: reverting }),
    }
}

/// Target simulations of one batch in flight at once (`eth_call`s to the node).
const TARGET_CALLS_IN_PARALLEL: usize = 16;

/// Simulates a task's call as the job's forwarder makes it (`JobForwarder.forward`: from the forwarder to
/// the target, with the call data and the job's gas limit) at the node's latest state: `Err` with the
/// decoded reason if the target would revert. `Ok` for a task that calls nothing. A node error is
/// returned as is, so the caller can tell "would revert" from "could not ask".
pub async fn simulate_task_call<P: Provider>(
    provider: &P,
    forwarder: Address,
    task: &BatchTask,
) -> Result<Result<(), RevertReason>, TransportError> {
    if !task.response.execute {
        return Ok(Ok(()));
    }
    let call_data = &task.response.call_data;
    let request = TransactionRequest::default()
        .from(forwarder)
        .to(task.spec.action.target())
        .input(call_data.clone().into())
        .gas_limit(u64::from(task.spec.gas_limit).saturating_add(call_overhead_gas(call_data)));
    match provider.call(request).await {
        Ok(_) => Ok(Ok(())),
        Err(RpcError::ErrorResp(payload)) => match payload.as_revert_data() {
            Some(data) => Ok(Err(RevertReason::decode(&data))),
            // A node answering with an error but no data (e.g. "execution reverted" without a reason).
            None if payload.message.contains("revert") => Ok(Err(RevertReason::Empty)),
            None => Err(RpcError::ErrorResp(payload)),
        },
        Err(error) => Err(error),
    }
}

/// One task of a batch: which task, the job's spec (the task manager checks its hash) and the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchTask {
    pub task: TaskId,
    pub spec: JobSpec,
    pub response: TaskResponse,
}

impl BatchTask {
    /// The signed leaf: the task, the hash of the spec it was executed under, and its response.
    pub fn leaf(&self) -> Result<TaskLeaf, SubmitError> {
        let spec_hash = self
            .spec
            .hash()
            .map_err(|source| SubmitError::Spec { job_id: self.task.job_id, source: Box::new(source) })?;
        Ok(TaskLeaf { task: self.task, spec_hash, response_hash: self.response.hash() })
    }

    /// The task as `respondToBatch` takes it.
    pub fn to_input(&self) -> Result<TaskManager::TaskInput, SubmitError> {
        let spec = self
            .spec
            .to_task_manager()
            .map_err(|source| SubmitError::Spec { job_id: self.task.job_id, source: Box::new(source) })?;
        Ok(TaskManager::TaskInput {
            jobId: self.task.job_id,
            sequence: self.task.sequence,
            spec,
            execute: self.response.execute,
            callData: self.response.call_data.clone(),
        })
    }
}

/// The leaves of `tasks`, in order: what `Batch::new` takes.
pub fn leaves(tasks: &[BatchTask]) -> Result<Vec<TaskLeaf>, SubmitError> {
    tasks.iter().map(BatchTask::leaf).collect()
}

/// The key registry's hash of a key: keccak256 of its 128-byte EIP-2537 encoding.
pub fn pubkey_hash(key: &PublicKey) -> B256 {
    keccak256(key.to_eip2537())
}

/// A key as the task manager's ABI spells it (four words of the EIP-2537 encoding).
pub fn g1_point(key: &PublicKey) -> BLS12381::G1Point {
    let bytes = key.to_eip2537();
    let word = |i: usize| B256::from_slice(&bytes[32 * i..32 * (i + 1)]);
    BLS12381::G1Point { xHi: word(0), xLo: word(1), yHi: word(2), yLo: word(3) }
}

/// The non-signers as `NonSigners` requires: strictly ascending by pubkey hash (so none counts twice).
pub fn non_signers(keys: &[PublicKey]) -> Result<TaskManager::NonSigners, SubmitError> {
    let mut sorted: Vec<(B256, &PublicKey)> = keys.iter().map(|key| (pubkey_hash(key), key)).collect();
    sorted.sort_by_key(|(hash, _)| *hash);
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(SubmitError::DuplicateNonSigner { pubkey_hash: pair[0].0 });
    }
    Ok(TaskManager::NonSigners { pubkeys: sorted.into_iter().map(|(_, key)| g1_point(key)).collect() })
}

/// A `respondToBatch` call, ready to send.
#[derive(Debug, Clone)]
pub struct BatchSubmission {
    pub header: TaskManager::BatchHeader,
    pub tasks: Vec<TaskManager::TaskInput>,
    pub non_signers: TaskManager::NonSigners,
    /// The aggregate signature, 256-byte EIP-2537 G2.
    pub signature: Bytes,
    /// The batch digest the signers signed (the batch id on chain).
    pub digest: B256,
}

/// Builds the call for `batch`, whose leaves must be `tasks`' leaves in the same order, signed by every
/// operator of the set at the reference block except `non_signer_keys`, with `aggregate` their aggregate.
pub fn build_submission(
    batch: &Batch,
    tasks: &[BatchTask],
    non_signer_keys: &[PublicKey],
    aggregate: &Signature,
) -> Result<BatchSubmission, SubmitError> {
    if batch.leaves().len() != tasks.len() {
        return Err(SubmitError::TaskCount { leaves: batch.leaves().len(), tasks: tasks.len() });
    }
    for (index, (leaf, task)) in batch.leaves().iter().zip(tasks).enumerate() {
        if *leaf != task.leaf()? {
            return Err(SubmitError::LeafMismatch { index, job_id: task.task.job_id, sequence: task.task.sequence });
        }
    }
    let context = batch.context();
    let number = context.reference_block_number;
    let reference_block_number = u32::try_from(number).map_err(|_| SubmitError::ReferenceBlockTooLarge { number })?;
    Ok(BatchSubmission {
        header: TaskManager::BatchHeader {
            referenceBlockNumber: reference_block_number,
            referenceBlockHash: context.reference_block_hash,
        },
        tasks: tasks.iter().map(BatchTask::to_input).collect::<Result<_, _>>()?,
        non_signers: non_signers(non_signer_keys)?,
        signature: aggregate.to_eip2537().to_vec().into(),
        digest: batch.digest(),
    })
}

/// Gas added to the node's estimate of a `respondToBatch`, in percent of it.
pub const GAS_MARGIN_PERCENT: u64 = 20;

/// What a task of an accepted batch came to, from the task manager's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskResult {
    /// The target was called (`success`: it did not revert) and the job charged `fee` wei.
    Performed { success: bool, gas_used: U256, fee: U256 },
    /// `execute = false`: the sequence was consumed.
    NotExecuted,
    /// Skipped, for `reason`.
    Skipped(SkipReason),
}

/// An accepted batch.
#[derive(Debug, Clone)]
pub struct SubmitReceipt {
    pub transaction_hash: B256,
    pub block_number: u64,
    pub gas_used: u64,
    pub digest: B256,
    /// Each task of the batch and what it came to, in event order.
    pub tasks: Vec<(TaskId, TaskResult)>,
    /// The batch's record (claims and challenges hand it back) and its non-signers' pubkey hashes.
    pub record: TaskManager::BatchRecord,
    pub non_signer_pubkey_hashes: Vec<B256>,
}

impl BatchSubmission {
    /// The `respondToBatch` call.
    pub fn call(&self) -> TaskManager::respondToBatchCall {
        TaskManager::respondToBatchCall {
            header: self.header.clone(),
            tasks: self.tasks.clone(),
            nonSigners: self.non_signers.clone(),
            signatureG2: self.signature.clone(),
        }
    }

    /// The call's calldata (for a transaction pipeline of the caller's own).
    pub fn calldata(&self) -> Bytes {
        self.call().abi_encode().into()
    }

    /// The `respondToBatch` call from `from` to `task_manager`, as every check and the send make it.
    fn request(&self, task_manager: Address, from: Address) -> TransactionRequest {
        TransactionRequest::default().from(from).to(task_manager).input(self.calldata().into())
    }

    /// What sending would do, at the node's latest state: first each task's own call as its forwarder
    /// makes it (`forwarders[i]` for task `i`; a target that would revert is named with its reason in
    /// [`SubmitError::TargetsWouldRevert`], so the caller can leave those tasks out), then the whole
    /// call as an `eth_call` from `from`: the digest, or the task manager's custom error.
    pub async fn simulate<P: Provider>(
        &self,
        provider: &P,
        task_manager: Address,
        from: Address,
        tasks: &[BatchTask],
        forwarders: &[Address],
    ) -> Result<B256, SubmitError> {
        check_targets(provider, tasks, forwarders).await?;
        let request = self.request(task_manager, from);
        let returned = provider.call(request).await.map_err(|error| rejection(error, "simulating respondToBatch"))?;
        TaskManager::respondToBatchCall::abi_decode_returns(&returned)
            .map_err(|_| SubmitError::Reverted { data: returned })
    }

    /// The aggregator's check before sending, one node execution of the whole batch rather than a call
    /// and then an estimate: the targets as in [`Self::simulate`], and at the same time the whole call's
    /// `eth_estimateGas` from `from`, which fails with the task manager's custom error where the call
    /// would revert. Returns the node's estimate (without margin).
    pub async fn check_and_estimate<P: Provider>(
        &self,
        provider: &P,
        task_manager: Address,
        from: Address,
        tasks: &[BatchTask],
        forwarders: &[Address],
    ) -> Result<u64, SubmitError> {
        let request = self.request(task_manager, from);
        let (targets, estimate) =
            tokio::join!(check_targets(provider, tasks, forwarders), provider.estimate_gas(request));
        // A target that would revert is named first: the caller leaves it out and proposes the rest.
        targets?;
        estimate.map_err(|error| rejection(error, "estimating respondToBatch's gas"))
    }

    /// Sends the call from `from` (an account of the provider's wallet) and waits for its receipt. The gas
    /// limit is the node's estimate plus [`GAS_MARGIN_PERCENT`]: every target must get exactly its job's gas
    /// limit, and an estimate made at another gas price or state can fall short by the charging path.
    pub async fn send<P: Provider>(
        &self,
        provider: &P,
        task_manager: Address,
        from: Address,
    ) -> Result<SubmitReceipt, SubmitError> {
        let request = self.request(task_manager, from);
        let estimate = provider
            .estimate_gas(request.clone())
            .await
            .map_err(|error| rejection(error, "estimating respondToBatch's gas"))?;
        let request = request.gas_limit(estimate + estimate * GAS_MARGIN_PERCENT / 100);
        let pending =
            provider.send_transaction(request).await.map_err(|error| rejection(error, "sending respondToBatch"))?;
        let receipt = pending.get_receipt().await?;
        self.receipt(task_manager, &receipt)
    }

    /// Reads an accepted batch's outcome from its transaction's receipt.
    pub fn receipt(&self, task_manager: Address, receipt: &TransactionReceipt) -> Result<SubmitReceipt, SubmitError> {
        if !receipt.status() {
            return Err(SubmitError::Failed { transaction_hash: receipt.transaction_hash });
        }
        let mut tasks = Vec::new();
        let mut responded = None;
        for log in receipt.inner.logs().iter().filter(|log| log.address() == task_manager) {
            let log = &log.inner;
            if let Ok(e) = TaskManager::TaskPerformed::decode_log(log) {
                let result = TaskResult::Performed { success: e.success, gas_used: e.gasUsed, fee: e.fee };
                tasks.push((TaskId { job_id: e.jobId, sequence: e.sequence }, result));
            } else if let Ok(e) = TaskManager::TaskNotExecuted::decode_log(log) {
                tasks.push((TaskId { job_id: e.jobId, sequence: e.sequence }, TaskResult::NotExecuted));
            } else if let Ok(e) = TaskManager::TaskSkipped::decode_log(log) {
                // An unknown reason would be a newer contract; the last variant stands in rather than failing
                // a batch that was accepted.
                let reason = SkipReason::from_u8(e.reason).unwrap_or(SkipReason::InvalidCallData);
                tasks.push((TaskId { job_id: e.jobId, sequence: e.sequence }, TaskResult::Skipped(reason)));
            } else if let Ok(e) = TaskManager::BatchResponded::decode_log(log) {
                responded = Some(e.data);
            }
        }
        let responded = responded.ok_or(SubmitError::NotResponded { transaction_hash: receipt.transaction_hash })?;
        Ok(SubmitReceipt {
            transaction_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
            digest: responded.digest,
            tasks,
            record: responded.record,
            non_signer_pubkey_hashes: responded.nonSignerPubkeyHashes,
        })
    }
}

/// A node error: the task manager's custom error if it reverted with one.
fn rejection(error: TransportError, step: &'static str) -> SubmitError {
    if let RpcError::ErrorResp(payload) = &error {
        if let Some(data) = payload.as_revert_data() {
            return match TaskManager::TaskManagerErrors::abi_decode(&data) {
                Ok(error) => SubmitError::Rejected { error: Box::new(error) },
                Err(_) => SubmitError::Reverted { data },
            };
        }
    }
    SubmitError::Rpc { step, source: error }
}

/// One side of an equivocation proof: leaf `index` of `batch` with its Merkle proof and one operator's
/// own signature over the batch digest.
pub fn signed_leaf(batch: &Batch, index: usize, signature: &Signature) -> Result<TaskManager::SignedLeaf, SubmitError> {
    let proof = batch.proof(index)?;
    let leaf = batch.leaves()[index];
    let context = batch.context();
    let number = context.reference_block_number;
    Ok(TaskManager::SignedLeaf {
        header: TaskManager::BatchHeader {
            referenceBlockNumber: u32::try_from(number).map_err(|_| SubmitError::ReferenceBlockTooLarge { number })?,
            referenceBlockHash: context.reference_block_hash,
        },
        responseHash: leaf.response_hash,
        proof,
        signatureG2: signature.to_eip2537().to_vec().into(),
    })
}

#[cfg(test)]
mod tests;
