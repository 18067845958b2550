//! The challenger role. Two watches, at each block the scheduler processes:
//! - **Responses on chain**: every accepted batch (`BatchResponded`) is read back from its
//!   transaction, and each task is re-executed at the batch's reference block (script jobs too, run as a
//!   keeper runs them); a response that differs from this daemon's own is reported (log, and `keeper_challenger_mismatches_total`). A
//!   mismatch is not slashable by itself (only not-due tasks and impossible call data are, and the
//!   task manager records those), so nothing is submitted for it.
//! - **Equivocations**: among the signatures this daemon's store holds (an aggregator's collected
//!   signatures), an operator that signed two batches giving one task different responses under one
//!   job spec is proven on chain with `challengeEquivocation`, which slashes and ejects it (responses
//!   under different specs are no offence: the owner may update a job between two batches).

use std::collections::{HashMap, HashSet};

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use keeper_shared::batch::{Batch, TaskId};
use keeper_shared::bls::Signature;
use keeper_shared::contracts::TaskManager;
use tokio_util::sync::CancellationToken;

use crate::chain::{SenderError, TxRequest, TxSender};
use crate::context::NodeContext;
use crate::jobs::submit::signed_leaf;
use crate::jobs::{execute, JobSpec, Outcome, ReferenceBlock, SubmitError};
use crate::store::{CollectedSignature, StoreError, TxKind};

/// Why the challenger stopped.
#[derive(Debug, thiserror::Error)]
pub enum ChallengerError {
    #[error("challenger: {0}")]
    Config(String),
}

/// A signed response seen in the store: who signed which response, in which batch (by digest;
/// the batch itself is read back only to build a proof), and the signature.
#[derive(Debug, Clone)]
struct Seen {
    response: B256,
    digest: B256,
    index: usize,
    signature: Signature,
    /// The batch's reference block, to forget what is too old to matter.
    block: u64,
}

/// Blocks of proposals scanned for equivocations: a proposal older than the task manager's
/// reference age can no longer be submitted, and a keeper signs only what it can fetch.
const SCAN_WINDOW: u64 = 64;

/// What the equivocation watch remembers between blocks: the first response each operator signed
/// for each task under each spec (the leaf's spec hash).
#[derive(Debug, Default)]
struct SignatureScan {
    seen: HashMap<(Address, TaskId, B256), Seen>,
    /// Signatures already looked at, per batch digest (a proposal gains signatures over time).
    processed: HashMap<B256, (HashSet<Address>, u64)>,
}

/// The challenger's loop.
pub async fn run(context: NodeContext, shutdown: CancellationToken) -> Result<(), ChallengerError> {
    let sender =
        context.sender.clone().ok_or_else(|| ChallengerError::Config("operator.ecdsa_keystore: not set".into()))?;
    let mut head = context.schedule.head_receiver();
    let mut next_block = None::<u64>;
    let mut scan = SignatureScan::default();
    let mut proven: HashSet<(Address, TaskId, B256)> = HashSet::new();
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
        match scan_signatures(&context, reference.number, &mut scan).await {
            Ok(conflicts) => {
                for (operator, task, spec_hash, a, b) in conflicts {
                    if proven.insert((operator, task, spec_hash)) {
                        prove(&context, &sender, &shutdown, operator, (task, spec_hash), &a, &b).await;
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
            match execute(&provider, &context.scripts, &spec, task, &reference).await {
                Ok(Outcome::ScriptFailed { reason }) => {
                    // The quorum signed a result this daemon's run of the script does not reach (its limits,
                    // its fetch): nothing to compare, but worth an operator's look.
                    tracing::warn!(
                        job = %task.job_id,
                        sequence = task.sequence,
                        tx = %hash,
                        %reason,
                        "challenger: cannot re-execute a performed script task"
                    );
                }
                Ok(outcome) => {
                    if let Some(own) = mismatch(signed, &outcome) {
                        context.metrics.challenger_mismatches.inc();
                        tracing::warn!(
                            job = %task.job_id,
                            sequence = task.sequence,
                            tx = %hash,
                            accepted = %signed,
                            own = %own,
                            "challenger: a performed response differs from this daemon's execution"
                        );
                    }
                }
                Err(e) => tracing::debug!(error = %e, "challenger: re-execution failed"),
            }
        }
    }
    Ok(())
}

/// Looks at the signatures stored for proposals of the last [`SCAN_WINDOW`] blocks that were not
/// looked at before, and returns new conflicts. Memory and work stay bounded by the window.
async fn scan_signatures(
    context: &NodeContext,
    head: u64,
    scan: &mut SignatureScan,
) -> Result<Vec<Conflict>, StoreError> {
    let from = head.saturating_sub(SCAN_WINDOW);
    scan.seen.retain(|_, seen| seen.block >= from);
    scan.processed.retain(|_, (_, block)| *block >= from);
    let known: HashMap<B256, usize> = scan.processed.iter().map(|(d, (ops, _))| (*d, ops.len())).collect();
    // Short read: only proposals with signatures not looked at yet are returned in full.
    let rows = context
        .store
        .with(move |store| {
            store.read(|tx| {
                let mut rows = Vec::new();
                for proposal in tx.proposals_since_block(from)? {
                    let digest = proposal.batch.digest();
                    let signatures = tx.signatures(digest)?;
                    if known.get(&digest).is_some_and(|n| *n >= signatures.len()) {
                        continue;
                    }
                    rows.push((proposal.batch, signatures));
                }
                Ok::<_, StoreError>(rows)
            })
        })
        .await?;
    Ok(scan.absorb(rows))
}

/// An operator that signed two responses for one task under one spec (its hash): the first signature
/// seen, and the other.
type Conflict = (Address, TaskId, B256, Seen, Seen);

impl SignatureScan {
    /// Takes in proposals with their stored signatures and returns the new conflicts: an operator
    /// whose signatures give one task two different responses under one spec. Several roots signed
    /// at one reference block are no offence by themselves (a proposal re-made after a dispute has a
    /// new root and the same responses), nor are responses under two specs; only two responses for
    /// one task and spec are, as `challengeEquivocation` checks.
    fn absorb(&mut self, rows: Vec<(Batch, Vec<CollectedSignature>)>) -> Vec<Conflict> {
        let mut conflicts = Vec::new();
        for (batch, signatures) in rows {
            let digest = batch.digest();
            let block = batch.context().reference_block_number;
            let (done, _) = self.processed.entry(digest).or_insert_with(|| (HashSet::new(), block));
            let fresh: Vec<_> = signatures.into_iter().filter(|s| done.insert(s.operator)).collect();
            for signature in fresh {
                for (index, leaf) in batch.leaves().iter().enumerate() {
                    let key = (signature.operator, leaf.task, leaf.spec_hash);
                    let entry =
                        Seen { response: leaf.response_hash, digest, index, signature: signature.signature, block };
                    match self.seen.get(&key) {
                        None => {
                            self.seen.insert(key, entry);
                        }
                        Some(first) if first.response != leaf.response_hash => {
                            conflicts.push((signature.operator, leaf.task, leaf.spec_hash, first.clone(), entry));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        conflicts
    }
}

/// This daemon's response hash when it differs from the `accepted` one (`None` when they agree, or
/// when this daemon has no response to compare: an unsupported job).
fn mismatch(accepted: B256, own: &Outcome) -> Option<B256> {
    own.response().map(|response| response.hash()).filter(|own| *own != accepted)
}

/// The `challengeEquivocation` call proving that `operator` signed `a` (a leaf of `batch_a`) and
/// `b` (of `batch_b`), two responses for `task` under the spec whose hash is `spec_hash`.
fn equivocation_call(
    operator: Address,
    (task, spec_hash): (TaskId, B256),
    (batch_a, a): (&Batch, &Seen),
    (batch_b, b): (&Batch, &Seen),
) -> Result<TaskManager::challengeEquivocationCall, SubmitError> {
    Ok(TaskManager::challengeEquivocationCall {
        operator,
        jobId: task.job_id,
        sequence: task.sequence,
        specHash: spec_hash,
        a: signed_leaf(batch_a, a.index, &a.signature)?,
        b: signed_leaf(batch_b, b.index, &b.signature)?,
    })
}

async fn prove(
    context: &NodeContext,
    sender: &TxSender,
    shutdown: &CancellationToken,
    operator: Address,
    (task, spec_hash): (TaskId, B256),
    a: &Seen,
    b: &Seen,
) {
    let (digest_a, digest_b) = (a.digest, b.digest);
    let batches = context
        .store
        .with(move |store| store.read(|tx| Ok::<_, StoreError>((tx.proposal(digest_a)?, tx.proposal(digest_b)?))))
        .await;
    let Ok((Some(batch_a), Some(batch_b))) = batches else {
        tracing::warn!(%operator, "challenger: the batches of an equivocation are no longer stored");
        return;
    };
    let Ok(call) = equivocation_call(operator, (task, spec_hash), (&batch_a.batch, a), (&batch_b.batch, b)) else {
        tracing::warn!(%operator, "challenger: could not build the equivocation proof");
        return;
    };
    tracing::warn!(%operator, job = %task.job_id, sequence = task.sequence, "challenger: equivocation seen; proving it");
    // One proof per (operator, task, spec), also across restarts: the sender refuses a payload twice.
    let offence = keccak256((operator, task.job_id, task.sequence, spec_hash).abi_encode());
    let request = TxRequest {
        kind: TxKind::Challenge,
        payload_ref: offence.to_vec(),
        to: context.config.deployment.avs.task_manager,
        input: call.abi_encode().into(),
        value: U256::ZERO,
        gas_limit: None,
    };
    match sender.send_and_wait(request, shutdown).await {
        Ok(mined) => {
            context.metrics.equivocation_proofs.with_label_values(&["accepted"]).inc();
            tracing::warn!(%operator, tx = %mined.tx_hash, "challenger: operator slashed for equivocation");
        }
        Err(e) => {
            context.metrics.equivocation_proofs.with_label_values(&["failed"]).inc();
            // A refused proof names why: the task manager's error, or the core's passed on unchanged
            // through the service manager (e.g. v1.9's slasher check: `InvalidCaller`, `SlasherNotSet`).
            let revert = match &e {
                SenderError::WouldRevert { source, .. } => {
                    source.revert_data().map(|data| crate::api::decode_revert(data).1)
                }
                _ => None,
            };
            tracing::warn!(%operator, error = %e, revert = revert.as_deref(), "challenger: the equivocation proof failed");
        }
    }
}

#[cfg(test)]
mod tests;
