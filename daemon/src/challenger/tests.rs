//! The challenger's decisions without a chain: a re-executed response that differs from the
//! accepted one is a mismatch, and an operator's signatures giving one task two responses are an
//! equivocation with a proof `challengeEquivocation` accepts the shape of.

use alloy::primitives::{Bytes, U256};
use keeper_shared::batch::{verify_proof, BatchContext, TaskLeaf};
use keeper_shared::bls::{SecretKey, SigningDomain};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::jobs::{CheckFailure, TaskResponse};

fn task(job: u64, sequence: u64) -> TaskId {
    TaskId { job_id: U256::from(job), sequence }
}

/// A batch at reference block `block` with leaves `(job id, sequence, response byte)`.
fn batch(block: u64, leaves: &[(u64, u64, u8)]) -> Batch {
    let context = BatchContext {
        chain_id: 31337,
        task_manager: Address::repeat_byte(0x77),
        reference_block_number: block,
        reference_block_hash: B256::repeat_byte(block as u8),
    };
    let leaves = leaves
        .iter()
        .map(|&(job, sequence, response)| TaskLeaf {
            task: task(job, sequence),
            spec_hash: SPEC,
            response_hash: B256::repeat_byte(response),
        })
        .collect();
    Batch::new(context, leaves).unwrap()
}

/// The spec every test leaf was executed under.
const SPEC: B256 = B256::repeat_byte(0x5e);

struct Operator {
    address: Address,
    key: SecretKey,
}

fn operators() -> [Operator; 2] {
    let mut rng = StdRng::seed_from_u64(5);
    [1, 2].map(|i| Operator { address: Address::repeat_byte(i), key: SecretKey::random(&mut rng) })
}

fn signature(operator: &Operator, batch: &Batch) -> CollectedSignature {
    CollectedSignature {
        operator: operator.address,
        signature: operator.key.sign(batch.digest().as_slice(), SigningDomain::Batch),
        received_at_ms: 0,
    }
}

#[test]
fn a_re_executed_response_that_differs_from_the_accepted_one_is_reported() {
    let performed = TaskResponse::perform(Bytes::from_static(&[1, 2, 3]));
    let other = TaskResponse::perform(Bytes::from_static(&[9]));
    let accepted = performed.hash();
    assert_eq!(mismatch(accepted, &Outcome::Respond(performed.clone())), None);
    assert_eq!(mismatch(accepted, &Outcome::Respond(other.clone())), Some(other.hash()));
    // The checker failing here means "nothing to do", which differs from a performed call.
    let failed = Outcome::CheckFailed(CheckFailure::Reverted { data: Bytes::new() });
    assert_eq!(mismatch(accepted, &failed), Some(TaskResponse::nothing_to_do().hash()));
    assert_eq!(mismatch(TaskResponse::nothing_to_do().hash(), &failed), None);
    // A job this daemon cannot run gives nothing to compare.
    assert_eq!(mismatch(accepted, &Outcome::Unsupported { reason: "script".into() }), None);
}

#[test]
fn two_roots_at_one_reference_block_giving_a_task_two_responses_are_proven() {
    let [honest, cheat] = operators();
    let a = batch(9, &[(1, 0, 0xa1), (2, 0, 0xb1)]);
    let b = batch(9, &[(3, 0, 0xc1), (1, 0, 0xa2)]); // same block, another root, task (1, 0) changed
    assert_ne!(a.root(), b.root());
    let mut scan = SignatureScan::default();
    assert!(scan.absorb(vec![(a.clone(), vec![signature(&honest, &a), signature(&cheat, &a)])]).is_empty());
    let conflicts = scan.absorb(vec![(b.clone(), vec![signature(&cheat, &b)])]);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let (operator, conflicted, spec_hash, first, second) = conflicts[0].clone();
    assert_eq!((operator, conflicted, spec_hash), (cheat.address, task(1, 0), SPEC));
    assert_eq!((first.digest, first.index, second.digest, second.index), (a.digest(), 0, b.digest(), 1));

    let call = equivocation_call(operator, (conflicted, spec_hash), (&a, &first), (&b, &second)).unwrap();
    assert_eq!((call.operator, call.jobId, call.sequence, call.specHash), (cheat.address, U256::from(1), 0, SPEC));
    for (leaf, batch, index) in [(&call.a, &a, 0), (&call.b, &b, 1)] {
        assert_eq!(leaf.header.referenceBlockNumber, 9);
        assert_eq!(leaf.header.referenceBlockHash, batch.context().reference_block_hash);
        assert_eq!(leaf.responseHash, batch.leaves()[index].response_hash);
        assert!(verify_proof(batch.leaves()[index].hash(), &leaf.proof, batch.root()), "proof of leaf {index}");
    }
    assert_ne!(call.a.responseHash, call.b.responseHash, "the contract refuses the same response twice");
    assert_eq!(call.b.signatureG2.as_ref(), signature(&cheat, &b).signature.to_eip2537().as_slice());
    // Seen once: the same rows again (the next block's scan) report nothing new.
    assert!(scan.absorb(vec![(b.clone(), vec![signature(&cheat, &b)])]).is_empty());
}

#[test]
fn a_re_proposal_with_the_same_responses_or_another_operators_response_is_no_equivocation() {
    let [first, second] = operators();
    let original = batch(9, &[(1, 0, 0xa1), (2, 0, 0xb1)]);
    let after_dispute = batch(9, &[(1, 0, 0xa1)]); // task (2, 0) disputed and dropped: a new root
    let mut scan = SignatureScan::default();
    let rows = vec![
        (original.clone(), vec![signature(&first, &original)]),
        (after_dispute.clone(), vec![signature(&first, &after_dispute)]),
    ];
    assert!(scan.absorb(rows).is_empty());
    // Another operator signing another response for the task proves nothing about either.
    let other = batch(10, &[(1, 0, 0xee)]);
    assert!(scan.absorb(vec![(other.clone(), vec![signature(&second, &other)])]).is_empty());
}

/// A job updated between two batches: the same operator's two responses for one task, each under
/// the spec it executed, are no offence (the contract would refuse the proof).
#[test]
fn two_responses_under_two_specs_are_no_equivocation() {
    let [keeper, _] = operators();
    let before = batch(9, &[(1, 0, 0xa1)]);
    let mut leaves = batch(11, &[(1, 0, 0xa2)]).leaves().to_vec();
    leaves[0].spec_hash = B256::repeat_byte(0x5f);
    let after = Batch::new(*batch(11, &[(1, 0, 0xa2)]).context(), leaves).unwrap();
    let mut scan = SignatureScan::default();
    let rows =
        vec![(before.clone(), vec![signature(&keeper, &before)]), (after.clone(), vec![signature(&keeper, &after)])];
    assert!(scan.absorb(rows).is_empty());
}
