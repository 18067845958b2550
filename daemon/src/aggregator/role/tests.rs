//! The aggregator's decisions without a chain: quorum by stake weight, which signatures count,
//! which tasks a proposal takes, what a dispute leaves, and that a performed task is not submitted.

use std::sync::Arc;

use alloy::primitives::{Address, Bytes, U256};
use keeper_shared::batch::{Batch, BatchContext, TaskId};
use keeper_shared::bls::{SecretKey, SigningDomain};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::aggregator::server::CollectorError;
use crate::jobs::{Action, JobSpec, TaskResponse, Trigger};
use crate::protocol::SignedBatch;
use crate::quorum::{Operator, OperatorSet, SignatureRejected};
use crate::scheduler::Job;
use crate::store::{JobStatus, SharedStore, Store};

fn task(job: u64, sequence: u64) -> TaskId {
    TaskId { job_id: U256::from(job), sequence }
}

fn spec() -> JobSpec {
    JobSpec {
        trigger: Trigger::Interval { start: 0, period: 10 },
        action: Action::Call { target: Address::repeat_byte(0x40), data: Bytes::from_static(&[0xd0, 0x9e]) },
        gas_limit: 100_000,
        max_fee: 10u128.pow(16),
        expiry: None,
    }
}

fn due(job: u64, sequence: u64) -> DueTask {
    DueTask { task: task(job, sequence), spec: Arc::new(spec()) }
}

fn batch_task(job: u64, sequence: u64) -> BatchTask {
    BatchTask { task: task(job, sequence), spec: spec(), response: TaskResponse::perform(Bytes::from(vec![job as u8])) }
}

fn job(id: u64, next_sequence: u64) -> Job {
    Job {
        id: U256::from(id),
        spec: Arc::new(spec()),
        owner: Address::repeat_byte(1),
        forwarder: Address::repeat_byte(2),
        status: JobStatus::Active,
        balance: U256::from(10u128.pow(18)),
        next_sequence,
        updated_at_block: 1,
        last_outcome_block: 1,
    }
}

#[test]
fn a_proposal_skips_tasks_in_flight_and_tasks_disputed_at_its_block() {
    let in_flight = HashSet::from([task(1, 4)]);
    let disputed = HashSet::from([task(2, 0)]);
    let picked = proposable(vec![due(1, 4), due(2, 0), due(3, 7)], &in_flight, &disputed);
    assert_eq!(picked.iter().map(|d| d.task).collect::<Vec<_>>(), vec![task(3, 7)]);
    let all = proposable(vec![due(1, 5), due(2, 1)], &in_flight, &disputed);
    assert_eq!(all.len(), 2, "another sequence of the same jobs is proposable");
}

/// A job whose maxFee cannot pay at the base fee is left out with what it lacks; the same task is
/// proposable again once the base fee falls.
#[test]
fn unprofitable_tasks_are_left_out_until_the_base_fee_falls() {
    let fees = FeeRule { solo_batch_gas: 300_000 };
    let mut poor = due(2, 0);
    // (100k + 300k) gas: pays up to 10 gwei.
    poor.spec = Arc::new(JobSpec { max_fee: 400_000 * 10_000_000_000, ..spec() });
    let (kept, left) = split_unprofitable(&fees, vec![due(1, 0), poor.clone()], 20_000_000_000);
    assert_eq!(kept.iter().map(|d| d.task).collect::<Vec<_>>(), vec![task(1, 0)]);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0.task, task(2, 0));
    assert_eq!(left[0].1.needed, U256::from(400_000u128 * 20_000_000_000));
    let (kept, left) = split_unprofitable(&fees, vec![due(1, 0), poor], 10_000_000_000);
    assert_eq!(kept.len(), 2, "at 10 gwei it pays again");
    assert!(left.is_empty());
}

#[test]
fn disputed_tasks_are_dropped_and_the_rest_proposed_again_in_order() {
    let tasks = vec![batch_task(1, 0), batch_task(2, 0), batch_task(3, 0)];
    let kept = without_disputed(tasks.clone(), &[task(2, 0)]);
    assert_eq!(kept.iter().map(|t| t.task).collect::<Vec<_>>(), vec![task(1, 0), task(3, 0)]);
    assert_eq!(kept[1], tasks[2], "kept tasks keep their response");
    assert!(without_disputed(tasks, &[task(1, 0), task(2, 0), task(3, 0)]).is_empty());
}

#[test]
fn the_tasks_waiting_longest_are_proposed_first() {
    // Period-10 jobs: job 1's sequence 5 is due at 50, job 2's sequence 3 at 30, job 3's sequence 4 at 40.
    let event = DueTask {
        task: task(9, 7),
        spec: Arc::new(JobSpec { trigger: Trigger::Block { start: 0, period: 5 }, ..spec() }),
    };
    let mut tasks = vec![due(1, 5), due(2, 3), event, due(3, 4)];
    longest_waiting_first(&mut tasks);
    assert_eq!(tasks.iter().map(|d| d.task).collect::<Vec<_>>(), vec![task(9, 7), task(2, 3), task(3, 4), task(1, 5)]);
}

#[test]
fn due_tasks_beyond_one_batch_are_split_into_even_batches_in_order() {
    let tasks: Vec<BatchTask> = (0..167).map(|job| batch_task(job, 0)).collect();
    let batches = split_into_batches(tasks.clone(), 128);
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![84, 83]);
    assert_eq!(batches.concat(), tasks, "every task once, in order");
    let sizes = |n: u64, max| split_into_batches((0..n).map(|job| batch_task(job, 0)).collect(), max);
    assert_eq!(sizes(128, 128).iter().map(Vec::len).collect::<Vec<_>>(), vec![128]);
    assert_eq!(sizes(257, 128).iter().map(Vec::len).collect::<Vec<_>>(), vec![86, 86, 85]);
    assert_eq!(sizes(3, 1).iter().map(Vec::len).collect::<Vec<_>>(), vec![1, 1, 1]);
    assert!(sizes(0, 128).is_empty());
}

#[test]
fn a_task_the_chain_performed_meanwhile_is_never_submitted_or_proposed_again() {
    // Job 1: sequences 0..=2 performed (the watermark is 3).
    let index = JobIndex::from_jobs([job(1, 3)]);
    assert!(performed_meanwhile(&index, [task(1, 2)].into_iter()));
    assert!(performed_meanwhile(&index, [task(1, 5), task(1, 0)].into_iter()), "one performed task is enough");
    assert!(!performed_meanwhile(&index, [task(1, 3), task(1, 4)].into_iter()));
    assert!(performed_meanwhile(&index, [task(9, 0)].into_iter()), "a job the index does not have");
    // And the index proposes nothing below the watermark: at second 25 the latest due sequence
    // of a period-10 job is 2, which is performed.
    let reference = ReferenceBlock { number: 5, hash: B256::repeat_byte(5), timestamp: 25 };
    assert!(index.due_tasks(&reference, 1, 0).is_empty());
    let later = ReferenceBlock { number: 6, hash: B256::repeat_byte(6), timestamp: 31 };
    assert_eq!(index.due_tasks(&later, 1, 0).iter().map(|d| d.task).collect::<Vec<_>>(), vec![task(1, 3)]);
}

struct Member {
    address: Address,
    key: SecretKey,
}

fn members(n: u8) -> Vec<Member> {
    let mut rng = StdRng::seed_from_u64(11);
    (1..=n).map(|i| Member { address: Address::repeat_byte(i), key: SecretKey::random(&mut rng) }).collect()
}

/// The registry's set at the reference block: `members` with stake `weights`, out of their sum.
fn operator_set(members: &[Member], weights: &[u64]) -> Arc<OperatorSet> {
    let operators = members.iter().zip(weights).map(|(m, w)| Operator {
        address: m.address,
        public_key: m.key.public_key(),
        weight: U256::from(*w),
    });
    Arc::new(OperatorSet::new(operators, U256::from(weights.iter().sum::<u64>())).unwrap())
}

fn proposal() -> Batch {
    let context = BatchContext {
        chain_id: 31337,
        task_manager: Address::repeat_byte(0x77),
        reference_block_number: 9,
        reference_block_hash: B256::repeat_byte(9),
    };
    Batch::new(context, vec![batch_task(1, 0).leaf().unwrap(), batch_task(2, 0).leaf().unwrap()]).unwrap()
}

fn signed(member: &Member, digest: B256) -> SignedBatch {
    SignedBatch {
        operator: member.address,
        digest,
        signature: member.key.sign(digest.as_slice(), SigningDomain::Batch),
    }
}

/// The aggregator's collector, with the task manager's quorum of the devnet (6,667 bps).
fn collector() -> Collector {
    let store = SharedStore::new(Store::open_in_memory().unwrap());
    let quorum = QuorumThreshold::from_bps(6_667).unwrap();
    Collector::new(store, CollectorConfig { quorum, ..CollectorConfig::default() }).unwrap()
}

#[tokio::test]
async fn quorum_is_reached_by_stake_weight_not_by_signer_count() {
    let m = members(3);
    let collector = collector();
    let mut events = collector.subscribe();
    // Stake 100, 200, 300: the two smaller operators hold 50%, the largest with either one >= 66.67%.
    let published = collector.publish(proposal(), operator_set(&m, &[100, 200, 300])).await.unwrap();
    let digest = published.digest;
    assert!(!published.quorum_reached);
    assert!(!collector.submit_signature(signed(&m[0], digest)).await.unwrap().quorum_reached);
    assert!(!collector.submit_signature(signed(&m[1], digest)).await.unwrap().quorum_reached, "2 of 3, 50% stake");
    assert!(collector.certificate(digest).is_err(), "no certificate below the threshold");
    assert!(collector.submit_signature(signed(&m[2], digest)).await.unwrap().quorum_reached);
    let mut reached = 0;
    while let Ok(event) = events.try_recv() {
        reached += usize::from(event == CollectorEvent::QuorumReached { digest });
    }
    assert_eq!(reached, 1, "the aggregator is told once");
    let certificate = collector.certificate(digest).unwrap();
    assert_eq!(certificate.signers.len(), 3);
}

#[tokio::test]
async fn quorum_at_exactly_the_threshold_is_reached_and_just_below_is_not() {
    // 6,667 bps of 10,000: one signer holding 6,667 reaches it, one holding 6,666 does not.
    let m = members(2);
    for (weights, reached) in [([6_666, 3_334], false), ([6_667, 3_333], true)] {
        let collector = collector();
        let digest = collector.publish(proposal(), operator_set(&m, &weights)).await.unwrap().digest;
        let receipt = collector.submit_signature(signed(&m[0], digest)).await.unwrap();
        assert_eq!(receipt.quorum_reached, reached, "weights {weights:?}");
    }
}

#[tokio::test]
async fn signatures_from_strangers_or_that_do_not_verify_are_rejected_and_add_no_weight() {
    let m = members(3);
    let collector = collector();
    // Only the first two are registered at the reference block.
    let digest = collector.publish(proposal(), operator_set(&m[..2], &[1, 1])).await.unwrap().digest;
    let stranger = collector.submit_signature(signed(&m[2], digest)).await.unwrap_err();
    assert!(
        matches!(stranger, CollectorError::Signature(SignatureRejected::UnknownOperator { operator, .. }) if operator == m[2].address),
        "{stranger:?}"
    );
    // Operator 0's address with operator 1's signature, and a signature over another digest.
    let borrowed = SignedBatch { operator: m[0].address, ..signed(&m[1], digest) };
    let invalid = collector.submit_signature(borrowed).await.unwrap_err();
    assert!(matches!(invalid, CollectorError::Signature(SignatureRejected::InvalidSignature { .. })), "{invalid:?}");
    let other_digest = SignedBatch { digest, ..signed(&m[0], B256::repeat_byte(0xee)) };
    let invalid = collector.submit_signature(other_digest).await.unwrap_err();
    assert!(matches!(invalid, CollectorError::Signature(SignatureRejected::InvalidSignature { .. })), "{invalid:?}");
    let state = collector.quorum_state(digest).unwrap();
    assert!(state.signers.is_empty());
    // The genuine signatures still count.
    assert!(!collector.submit_signature(signed(&m[0], digest)).await.unwrap().quorum_reached);
    assert!(collector.submit_signature(signed(&m[1], digest)).await.unwrap().quorum_reached);
}
