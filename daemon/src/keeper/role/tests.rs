//! The keeper's signing decisions, without a chain or an aggregator: which leaves it disputes, and
//! that slashing protection refuses a second response for a task, also after the store is reopened.

use alloy::primitives::{Address, B256, U256};
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};

use super::*;
use crate::store::{JobRecord, JobStatus};

const CHAIN_ID: u64 = 31337;
const TASK_MANAGER: Address = Address::repeat_byte(0x77);

/// A batch at reference block `block` with leaves `(job id, sequence, response byte)`.
fn batch(block: u64, leaves: &[(u64, u64, u8)]) -> Batch {
    let context = BatchContext {
        chain_id: CHAIN_ID,
        task_manager: TASK_MANAGER,
        reference_block_number: block,
        reference_block_hash: B256::from(U256::from(block)),
    };
    Batch::new(context, leaves.iter().map(|&(job, sequence, response)| leaf(job, sequence, response)).collect())
        .unwrap()
}

fn leaf(job: u64, sequence: u64, response: u8) -> TaskLeaf {
    TaskLeaf {
        task: TaskId { job_id: U256::from(job), sequence },
        spec_hash: B256::repeat_byte(0x5e),
        response_hash: B256::repeat_byte(response),
    }
}

fn hash(byte: u8) -> B256 {
    B256::repeat_byte(byte)
}

/// Under load a keeper judges the latest proposals first (of one block, the last published first), so
/// that its signatures go to proposals that can still reach quorum; every keeper orders them alike.
#[test]
fn open_proposals_are_judged_newest_first() {
    let published =
        vec![batch(10, &[(1, 0, 1)]), batch(12, &[(2, 0, 1)]), batch(11, &[(3, 0, 1)]), batch(12, &[(4, 0, 1)])];
    let order: Vec<(u64, U256)> = newest_first(published)
        .iter()
        .map(|b| (b.context().reference_block_number, b.leaves()[0].task.job_id))
        .collect();
    assert_eq!(order, vec![(12, U256::from(4)), (12, U256::from(2)), (11, U256::from(3)), (10, U256::from(1))]);
}

/// A proposal the aggregator closes (at `maxReferenceAge - AGE_MARGIN` blocks past its reference block)
/// before this keeper's signature could count is not judged at all.
#[test]
fn a_proposal_about_to_close_is_not_judged() {
    let proposal = batch(100, &[(1, 0, 1)]);
    assert!(!closes_before_signing(&proposal, 100, 64));
    assert!(!closes_before_signing(&proposal, 159, 64), "59 blocks old: still open for a block");
    assert!(closes_before_signing(&proposal, 160, 64));
    assert!(!closes_before_signing(&proposal, 90, 64), "a head behind the reference block");
}

/// A leaf is judged by the spec it names, so a keeper signs only the spec it executes: a leaf naming
/// another spec (a proposer's forgery, or a job updated since) is disputed, even for a response it
/// signed before.
#[test]
fn a_leaf_naming_another_spec_is_disputed() {
    let l = leaf(1, 0, 0xa1);
    assert_eq!(spec_dispute(&l, Some(Ok(B256::repeat_byte(0x5e)))), None);
    let dispute = spec_dispute(&l, Some(Ok(B256::repeat_byte(0x5f)))).expect("disputed");
    assert_eq!(dispute.reason, DisputeReason::SpecMismatch);
    assert_eq!(dispute.task, l.task);
    assert_eq!(spec_dispute(&l, None).expect("disputed").reason, DisputeReason::NotDue);
}

#[test]
fn a_leaf_with_the_keepers_own_response_is_signed() {
    assert_eq!(leaf_dispute(&leaf(1, 0, 0xa1), None, Ok(hash(0xa1))), None);
}

#[test]
fn a_leaf_whose_response_differs_from_the_keepers_own_is_disputed_with_its_own_hash() {
    let dispute = leaf_dispute(&leaf(1, 0, 0xa1), None, Ok(hash(0xb2))).expect("disputed");
    assert_eq!(dispute.task, leaf(1, 0, 0).task);
    assert_eq!(dispute.reason, DisputeReason::ResponseMismatch);
    assert_eq!(dispute.own_response_hash, Some(hash(0xb2)));
    assert_eq!(dispute.detail, None);
}

#[test]
fn a_leaf_contradicting_a_response_signed_before_is_disputed_even_if_execution_now_agrees() {
    // Signed 0xa1 at an earlier reference block; the chain moved and execution now gives 0xb2.
    let dispute = leaf_dispute(&leaf(1, 0, 0xb2), Some(hash(0xa1)), Ok(hash(0xb2))).expect("disputed");
    assert_eq!(dispute.reason, DisputeReason::ResponseMismatch);
    assert_eq!(dispute.own_response_hash, Some(hash(0xa1)), "the response it is bound to");
    assert!(dispute.detail.unwrap().contains("signed another response"));
    // The very response signed before is signed again, whatever execution says now.
    assert_eq!(leaf_dispute(&leaf(1, 0, 0xa1), Some(hash(0xa1)), Ok(hash(0xa1))), None);
}

#[test]
fn a_leaf_the_keeper_cannot_answer_is_disputed_with_the_reason() {
    for reason in [DisputeReason::NotDue, DisputeReason::Unsupported, DisputeReason::ExecutionFailed] {
        let dispute = leaf_dispute(&leaf(2, 5, 0xa1), None, Err((reason, "why".into()))).expect("disputed");
        assert_eq!((dispute.reason, dispute.own_response_hash, dispute.detail), (reason, None, Some("why".into())));
    }
}

fn signed_state(store: &mut Store, batch: &Batch) -> Vec<Option<TaskState>> {
    batch.leaves().iter().map(|leaf| store.read(|tx| tx.task(leaf.task)).unwrap().map(|record| record.state)).collect()
}

/// The jobs the scheduler would have stored (task records refer to them).
fn add_jobs(store: &mut Store, ids: &[u64]) {
    store
        .write(|tx| {
            for &id in ids {
                tx.upsert_job(&JobRecord {
                    job_id: U256::from(id),
                    spec: br#"{"interval":60}"#.to_vec(),
                    status: JobStatus::Active,
                    updated_at_block: 1,
                    owner: Address::repeat_byte(0x11),
                    forwarder: Address::repeat_byte(0x22),
                    balance: U256::from(1u64 << 60),
                    next_sequence: 0,
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

#[test]
fn slashing_protection_refuses_a_second_response_for_a_task_across_a_store_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeperd.sqlite");
    let first = batch(10, &[(1, 0, 0xa1), (1, 1, 0xa2)]);
    {
        let mut store = Store::open(&path).unwrap();
        add_jobs(&mut store, &[1, 2]);
        assert_eq!(record_signing(&mut store, &first, &[]).unwrap(), first.digest());
        assert_eq!(signed_state(&mut store, &first), vec![Some(TaskState::Signed); 2]);
    }
    let mut store = Store::open(&path).unwrap();
    // The same batch again (a re-published proposal) is signed again: the same digest.
    assert_eq!(record_signing(&mut store, &first, &[]).unwrap(), first.digest());
    // Task (1, 1) with another response, next to a new task: refused whole.
    let conflicting = batch(11, &[(2, 0, 0xb1), (1, 1, 0xcc)]);
    let refusal = record_signing(&mut store, &conflicting, &[]).unwrap_err();
    assert!(matches!(refusal, SlashingProtectionError::ConflictingResponse { sequence: 1, .. }), "{refusal:?}");
    assert_eq!(signed_state(&mut store, &conflicting)[0], None, "nothing of the refused batch is recorded");
    let disputes = refusal_disputes(&conflicting, &refusal);
    assert_eq!(disputes.iter().map(|d| d.task).collect::<Vec<_>>(), vec![leaf(2, 0, 0).task, leaf(1, 1, 0).task]);
    assert!(disputes.iter().all(|d| d.reason == DisputeReason::Other
        && d.detail.as_deref().is_some_and(|text| text.starts_with("slashing protection"))));
    // The response signed before is what the keeper finds when it judges the next proposal.
    let before = store
        .slashing_protection()
        .signed_response(CHAIN_ID, TASK_MANAGER, leaf(1, 1, 0).task, leaf(1, 1, 0).spec_hash)
        .unwrap();
    let before = before.map(|signed| signed.response_hash);
    assert_eq!(before, Some(hash(0xa2)));
    assert!(leaf_dispute(&leaf(1, 1, 0xcc), before, Ok(hash(0xcc))).is_some());
}

#[test]
fn a_condition_signing_is_kept_with_the_signature_and_survives_a_reopen_refusal_included() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keeperd.sqlite");
    let first = batch(10, &[(1, 4, 0xa1), (2, 0, 0xa2)]);
    {
        let mut store = Store::open(&path).unwrap();
        add_jobs(&mut store, &[1, 2]);
        record_signing(&mut store, &first, &[leaf(1, 4, 0).task]).unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    let kept = store.read(|tx| tx.condition_signings()).unwrap();
    assert_eq!(kept.len(), 1, "only the condition job's task: {kept:?}");
    assert_eq!(kept[&U256::from(1)], crate::store::ConditionSigning { sequence: 4, reference_block: 10 });
    // A batch slashing protection refuses records nothing of its condition tasks either.
    let conflicting = batch(11, &[(1, 5, 0xb1), (2, 0, 0xcc)]);
    record_signing(&mut store, &conflicting, &[leaf(1, 5, 0).task]).unwrap_err();
    assert_eq!(store.read(|tx| tx.condition_signings()).unwrap(), kept);
}

/// The single-flight rule of condition jobs: a keeper that signed sequence 471 at block 100 does not
/// sign 472 before 471's outcome is on chain at or before 472's reference block, unless 471 can no
/// longer land (its reference block is more than maxReferenceAge old).
#[test]
fn a_condition_jobs_next_task_is_disputed_while_the_previous_may_still_land() {
    let previous = Some(SignedCondition { sequence: 471, reference_block: 100 });
    let next = TaskId { job_id: U256::from(1), sequence: 472 };
    let at = |number: u64| ReferenceBlock { number, hash: B256::repeat_byte(1), timestamp: number };
    // 471 has not landed (the last outcome is from before it was signed): disputed.
    let dispute = in_flight_dispute(next, &at(101), previous, 90, 25).expect("disputed");
    assert_eq!(dispute.reason, DisputeReason::PreviousInFlight);
    // 471 landed in block 103, but 472 was checked at block 102, before it: disputed.
    assert!(in_flight_dispute(next, &at(102), previous, 103, 25).is_some());
    // Checked at or after the block 471 landed in: signed.
    assert_eq!(in_flight_dispute(next, &at(103), previous, 103, 25), None);
    // 471 never landed and its reference block is too old for the task manager now: signed.
    assert_eq!(in_flight_dispute(next, &at(126), previous, 90, 25), None);
    assert!(in_flight_dispute(next, &at(125), previous, 90, 25).is_some());
    // The same task again (re-proposed) and a first task are never held back.
    let same = TaskId { job_id: U256::from(1), sequence: 471 };
    assert_eq!(in_flight_dispute(same, &at(101), previous, 90, 25), None);
    assert_eq!(in_flight_dispute(next, &at(101), None, 90, 25), None);
}

/// Newest first, a keeper may judge a condition job's sequence 472 (proposed at block 101) before 471
/// (another proposal, block 100). Having signed 472, it disputes 471 until 472 has landed (or can no
/// longer land): both could perform otherwise, the later checked before the earlier's outcome.
#[test]
fn newest_first_a_condition_jobs_earlier_task_is_disputed_after_a_later_one_was_signed() {
    let job = U256::from(1);
    let at = |number: u64| ReferenceBlock { number, hash: B256::repeat_byte(1), timestamp: number };
    let task = |sequence: u64| TaskId { job_id: job, sequence };
    // The job's last outcome (470's) landed in block 95; nothing of it signed since.
    let mut last_signed = HashMap::from([(job, SignedCondition { sequence: 470, reference_block: 90 })]);
    let proposals = newest_first(vec![batch(100, &[(1, 471, 1)]), batch(101, &[(1, 472, 1)])]);
    let judged: Vec<Option<DisputeReason>> = proposals
        .iter()
        .map(|proposal| {
            let reference = at(proposal.context().reference_block_number);
            let leaf = proposal.leaves()[0].task;
            let verdict = single_flight([(leaf, Some(95))], &reference, &last_signed, 25).remove(0);
            if verdict.is_none() {
                note_signed(&mut last_signed, leaf, reference.number);
            }
            verdict.map(|dispute| dispute.reason)
        })
        .collect();
    assert_eq!(judged, vec![None, Some(DisputeReason::PreviousInFlight)], "472 signed, then 471 disputed");
    assert_eq!(last_signed[&job], SignedCondition { sequence: 472, reference_block: 101 });
    // 472 landed in block 104: 471 checked at or after it may be signed (the task manager skips it as
    // performed, or, for an event job, performs it after a check that saw 472's outcome), and it is then
    // the job's task in flight.
    assert!(in_flight_dispute(task(471), &at(103), Some(last_signed[&job]), 104, 25).is_some());
    assert_eq!(in_flight_dispute(task(471), &at(104), Some(last_signed[&job]), 104, 25), None);
    // 472 never landed and is too old to: 471 may be signed.
    assert_eq!(in_flight_dispute(task(471), &at(127), Some(last_signed[&job]), 95, 25), None);
    note_signed(&mut last_signed, task(471), 104);
    assert_eq!(last_signed[&job], SignedCondition { sequence: 471, reference_block: 104 });
    // The same task signed again at an older block keeps the later one.
    note_signed(&mut last_signed, task(471), 102);
    assert_eq!(last_signed[&job], SignedCondition { sequence: 471, reference_block: 104 });
}

/// One batch with two tasks of a condition job (at one reference block both would be checked before
/// either's outcome): the first is judged by the rule, the second disputed; other jobs are untouched.
#[test]
fn a_batch_never_gets_two_tasks_of_one_condition_job_signed() {
    let reference = ReferenceBlock { number: 200, hash: B256::repeat_byte(1), timestamp: 200 };
    let task = |job: u64, sequence: u64| TaskId { job_id: U256::from(job), sequence };
    let leaves = [(task(1, 7), Some(150)), (task(2, 3), None), (task(1, 8), Some(150)), (task(3, 5), Some(150))];
    let verdicts = single_flight(leaves, &reference, &HashMap::new(), 25);
    let reasons: Vec<Option<DisputeReason>> = verdicts.iter().map(|v| v.as_ref().map(|d| d.reason)).collect();
    assert_eq!(reasons, vec![None, None, Some(DisputeReason::PreviousInFlight), None]);
    // In the other order, 7 is the one held back.
    let leaves = [(task(1, 8), Some(150)), (task(1, 7), Some(150))];
    let verdicts = single_flight(leaves, &reference, &HashMap::new(), 25);
    assert_eq!(verdicts[1].as_ref().map(|d| d.task), Some(task(1, 7)));
}
