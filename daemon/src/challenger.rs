//! The challenger role. Two watches, at each block the scheduler processes:
//! - **Responses on chain**: every accepted batch (`BatchResponded`) is read back from its
//!   transaction, and each task is re-executed at the batch's reference block; a response that
//!   differs from this daemon's own is reported (log; metrics with the metrics issue). A mismatch is
//!   not slashable by itself (only not-due tasks and impossible call data are, and the task manager
//!   records those), so nothing is submitted for it.
//! - **Equivocations**: among the signatures this daemon's store holds (an aggregator's collected
//!   signatures), an operator that signed two batches giving one task different responses is proven
//!   on chain with `challengeEquivocation`, which slashes and ejects it.

use std::collections::{HashMap, HashSet};

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use keeper_shared::batch::{Batch, TaskId};
use keeper_shared::bls::Signature;
use keeper_shared::contracts::TaskManager;
use tokio_util::sync::CancellationToken;

use crate::chain::{TxRequest, TxSender};
use crate::jobs::submit::signed_leaf;
use crate::jobs::{execute, JobSpec, ReferenceBlock};
use crate::node::NodeContext;
use crate::store::{StoreError, TxKind};

/// Why the challenger stopped.
#[derive(Debug, thiserror::Error)]
pub enum ChallengerError {
    #[error("challenger: {0}")]
    Config(String),
}

/// A signed response seen in the store: who, which batch, and the signature.
#[derive(Debug, Clone)]
struct Seen {
    response: B256,
    batch: Batch,
    index: usize,
    signature: Signature,
}

/// The challenger's loop.
pub async fn run(context: NodeContext, shutdown: CancellationToken) -> Result<(), ChallengerError> {
    let sender =
        context.sender.clone().ok_or_else(|| ChallengerError::Config("operator.ecdsa_keystore: not set".into()))?;
    let mut head = context.schedule.head_receiver();
    let mut next_block = None::<u64>;
    let mut seen: HashMap<(Address, TaskId), Seen> = HashMap::new();
    let mut proven: HashSet<(Address, TaskId)> = HashSet::new();
    let mut scanned_from = context.config.deployment.deploy_block;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            changed = head.changed() => if changed.is_err() { return Ok(()) },
        }
        let Some(reference) = *head.borrow_and_update() else { continue };
        let from = next_block.unwrap_or(reference.number);
        if from <= reference.number {
            if let Err(e) = check_responses(&context, from, reference.number).await {
                tracing::warn!(error = %e, "challenger: checking responses failed; retrying next block");
                continue;
            }
            next_block = Some(reference.number + 1);
        }
        match scan_signatures(&context, scanned_from, &mut seen).await {
            Ok(conflicts) => {
                scanned_from = reference.number.saturating_sub(256);
                for (operator, task, a, b) in conflicts {
                    if proven.insert((operator, task)) {
                        prove(&context, &sender, &shutdown, operator, task, &a, &b).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "challenger: scanning signatures failed"),
        }
    }
}

/// Re-executes the tasks of the batches accepted in blocks `from..=to`.
async fn check_responses(context: &NodeContext, from: u64, to: u64) -> Result<(), String> {
    let provider = context.pool.provider();
    let filter = Filter::new()
        .address(context.config.deployment.avs.task_manager)
        .event_signature(TaskManager::BatchResponded::SIGNATURE_HASH)
        .from_block(from)
        .to_block(to);
    let logs = provider.get_logs(&filter).await.map_err(|e| e.to_string())?;
    for log in logs {
        let Some(hash) = log.transaction_hash else { continue };
        let Some(tx) = provider.get_transaction_by_hash(hash).await.map_err(|e| e.to_string())? else { continue };
        use alloy::consensus::Transaction;
        let Ok(call) = TaskManager::respondToBatchCall::abi_decode(tx.input()) else {
            tracing::debug!(%hash, "challenger: batch came through another contract; not decoded");
            continue;
        };
        let number = u64::from(call.header.referenceBlockNumber);
        let Some(block) = provider.get_block_by_number(number.into()).await.map_err(|e| e.to_string())? else {
            continue;
        };
        let reference = ReferenceBlock::of(&block.header);
        for input in &call.tasks {
            let task = TaskId { job_id: input.jobId, sequence: input.sequence };
            let Ok(spec) = JobSpec::decode(&input.spec.abi_encode()) else { continue };
            let signed = crate::jobs::response_hash(input.execute, &input.callData);
            match execute(&provider, &spec, task, &reference).await {
                Ok(outcome) => {
                    if let Some(own) = outcome.response() {
                        if own.hash() != signed {
                            tracing::warn!(
                                job = %task.job_id,
                                sequence = task.sequence,
                                tx = %hash,
                                "challenger: a performed response differs from this daemon's execution"
                            );
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "challenger: re-execution failed"),
            }
        }
    }
    Ok(())
}

/// Reads the stored proposals and signatures since `from`, and returns new conflicts.
async fn scan_signatures(
    context: &NodeContext,
    from: u64,
    seen: &mut HashMap<(Address, TaskId), Seen>,
) -> Result<Vec<(Address, TaskId, Seen, Seen)>, StoreError> {
    let rows = context
        .store
        .with(move |store| {
            store.read(|tx| {
                let mut rows = Vec::new();
                for proposal in tx.proposals_since_block(from)? {
                    let signatures = tx.signatures(proposal.batch.digest())?;
                    rows.push((proposal.batch, signatures));
                }
                Ok::<_, StoreError>(rows)
            })
        })
        .await?;
    let mut conflicts = Vec::new();
    for (batch, signatures) in rows {
        for signature in signatures {
            for (index, leaf) in batch.leaves().iter().enumerate() {
                let key = (signature.operator, leaf.task);
                let entry =
                    Seen { response: leaf.response_hash, batch: batch.clone(), index, signature: signature.signature };
                match seen.get(&key) {
                    None => {
                        seen.insert(key, entry);
                    }
                    Some(first) if first.response != leaf.response_hash => {
                        conflicts.push((signature.operator, leaf.task, first.clone(), entry));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(conflicts)
}

async fn prove(
    context: &NodeContext,
    sender: &TxSender,
    shutdown: &CancellationToken,
    operator: Address,
    task: TaskId,
    a: &Seen,
    b: &Seen,
) {
    let (Ok(leaf_a), Ok(leaf_b)) =
        (signed_leaf(&a.batch, a.index, &a.signature), signed_leaf(&b.batch, b.index, &b.signature))
    else {
        tracing::warn!(%operator, "challenger: could not build the equivocation proof");
        return;
    };
    tracing::warn!(%operator, job = %task.job_id, sequence = task.sequence, "challenger: equivocation seen; proving it");
    let call = TaskManager::challengeEquivocationCall {
        operator,
        jobId: task.job_id,
        sequence: task.sequence,
        a: leaf_a,
        b: leaf_b,
    };
    // One proof per (operator, task), also across restarts: the sender refuses a payload twice.
    let offence = keccak256((operator, task.job_id, task.sequence).abi_encode());
    let request = TxRequest {
        kind: TxKind::Challenge,
        payload_ref: offence.to_vec(),
        to: context.config.deployment.avs.task_manager,
        input: call.abi_encode().into(),
        value: U256::ZERO,
        gas_limit: None,
    };
    match sender.send_and_wait(request, shutdown).await {
        Ok(mined) => tracing::warn!(%operator, tx = %mined.tx_hash, "challenger: operator slashed for equivocation"),
        Err(e) => tracing::warn!(%operator, error = %e, "challenger: the equivocation proof failed"),
    }
}
