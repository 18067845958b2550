use alloy::primitives::{address, bytes, Address, B256, U256};
use keeper_shared::batch::{verify_proof, BatchContext};
use keeper_shared::bls::{SecretKey, SigningDomain};

use super::*;
use crate::jobs::spec::{Action, Trigger};

const TARGET: Address = address!("0x00000000000000000000000000000000000000a1");

fn key(i: u8) -> SecretKey {
    SecretKey::derive_master(&[i; 32]).unwrap()
}

fn task(job: u64, sequence: u64, execute: bool) -> BatchTask {
    BatchTask {
        task: TaskId { job_id: U256::from(job), sequence },
        spec: JobSpec {
            trigger: Trigger::Block { start: 1, period: 1 },
            action: Action::Call { target: TARGET, data: bytes!("d09de08a") },
            gas_limit: 100_000,
            max_fee: 1_000,
            expiry: None,
        },
        response: if execute { TaskResponse::perform(bytes!("d09de08a")) } else { TaskResponse::nothing_to_do() },
    }
}

fn context() -> BatchContext {
    BatchContext {
        chain_id: 31337,
        task_manager: Address::repeat_byte(7),
        reference_block_number: 42,
        reference_block_hash: B256::repeat_byte(0x42),
    }
}

#[test]
fn non_signers_are_sorted_by_pubkey_hash_and_unique() {
    let keys: Vec<PublicKey> = (1..=5).map(|i| key(i).public_key()).collect();
    let listed = non_signers(&keys).unwrap();
    let hashes: Vec<B256> = listed.pubkeys.iter().map(|p| keccak256(pubkey_bytes(p))).collect();
    assert_eq!(hashes.len(), 5);
    assert!(hashes.windows(2).all(|w| w[0] < w[1]), "{hashes:?}");
    let mut expected: Vec<B256> = keys.iter().map(pubkey_hash).collect();
    expected.sort();
    assert_eq!(hashes, expected);
    assert!(non_signers(&[]).unwrap().pubkeys.is_empty());

    let twice = [keys[0], keys[1], keys[0]];
    assert!(matches!(
        non_signers(&twice),
        Err(SubmitError::DuplicateNonSigner { pubkey_hash }) if pubkey_hash == pubkey_hash_of(&keys[0])
    ));
}

fn pubkey_hash_of(key: &PublicKey) -> B256 {
    pubkey_hash(key)
}

fn pubkey_bytes(p: &BLS12381::G1Point) -> Vec<u8> {
    [p.xHi, p.xLo, p.yHi, p.yLo].iter().flat_map(|w| w.to_vec()).collect()
}

#[test]
fn g1_point_spells_the_eip2537_encoding() {
    let public = key(1).public_key();
    assert_eq!(pubkey_bytes(&g1_point(&public)), public.to_eip2537().to_vec());
}

#[test]
fn submission_carries_tasks_in_leaf_order() {
    let tasks = vec![task(1, 0, true), task(2, 5, false), task(3, 9, true)];
    let batch = Batch::new(context(), leaves(&tasks).unwrap()).unwrap();
    let signers = [key(1), key(2)];
    let signatures: Vec<Signature> =
        signers.iter().map(|k| k.sign(batch.digest().as_slice(), SigningDomain::Batch)).collect();
    let aggregate = Signature::aggregate(&signatures).unwrap();
    let submission = build_submission(&batch, &tasks, &[key(3).public_key()], &aggregate).unwrap();

    assert_eq!(submission.digest, batch.digest());
    assert_eq!(submission.header.referenceBlockNumber, 42);
    assert_eq!(submission.header.referenceBlockHash, B256::repeat_byte(0x42));
    assert_eq!(submission.signature.to_vec(), aggregate.to_eip2537().to_vec());
    assert_eq!(submission.non_signers.pubkeys.len(), 1);
    for (input, task) in submission.tasks.iter().zip(&tasks) {
        assert_eq!(input.jobId, task.task.job_id);
        assert_eq!(input.sequence, task.task.sequence);
        assert_eq!(input.execute, task.response.execute);
        assert_eq!(input.callData, task.response.call_data);
        assert_eq!(JobSpec::try_from(&input.spec).unwrap(), task.spec);
    }
    // The calldata is respondToBatch's.
    assert_eq!(submission.calldata()[..4], TaskManager::respondToBatchCall::SELECTOR);
}

#[test]
fn submission_refuses_tasks_that_are_not_the_batch() {
    let tasks = vec![task(1, 0, true), task(2, 5, true)];
    let batch = Batch::new(context(), leaves(&tasks).unwrap()).unwrap();
    let aggregate = key(1).sign(batch.digest().as_slice(), SigningDomain::Batch);

    let swapped = vec![tasks[1].clone(), tasks[0].clone()];
    assert!(matches!(
        build_submission(&batch, &swapped, &[], &aggregate),
        Err(SubmitError::LeafMismatch { index: 0, .. })
    ));
    let mut other_response = tasks.clone();
    other_response[1].response = TaskResponse::nothing_to_do();
    assert!(matches!(
        build_submission(&batch, &other_response, &[], &aggregate),
        Err(SubmitError::LeafMismatch { index: 1, .. })
    ));
    assert!(matches!(
        build_submission(&batch, &tasks[..1], &[], &aggregate),
        Err(SubmitError::TaskCount { leaves: 2, tasks: 1 })
    ));

    let far = BatchContext { reference_block_number: u64::from(u32::MAX) + 1, ..context() };
    let batch = Batch::new(far, leaves(&tasks).unwrap()).unwrap();
    assert!(matches!(
        build_submission(&batch, &tasks, &[], &aggregate),
        Err(SubmitError::ReferenceBlockTooLarge { .. })
    ));
}

#[test]
fn signed_leaf_proves_its_leaf_in_the_batch() {
    let tasks: Vec<BatchTask> = (0..5).map(|i| task(i + 1, i, true)).collect();
    let batch = Batch::new(context(), leaves(&tasks).unwrap()).unwrap();
    let signature = key(1).sign(batch.digest().as_slice(), SigningDomain::Batch);
    for (index, task) in tasks.iter().enumerate() {
        let signed = signed_leaf(&batch, index, &signature).unwrap();
        assert_eq!(signed.responseHash, task.response.hash());
        assert!(verify_proof(task.leaf().unwrap().hash(), &signed.proof, batch.root()));
        assert_eq!(signed.header.referenceBlockNumber, 42);
        assert_eq!(signed.signatureG2.to_vec(), signature.to_eip2537().to_vec());
    }
    assert!(matches!(signed_leaf(&batch, 5, &signature), Err(SubmitError::Batch(_))));
}
