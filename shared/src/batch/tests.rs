use alloy::primitives::{address, b256, keccak256, Address, B256, U256};
use alloy::sol_types::SolValue;

use super::*;

fn leaf(job: u64, sequence: u64) -> TaskLeaf {
    TaskLeaf {
        task: TaskId { job_id: U256::from(job), sequence },
        spec_hash: keccak256(format!("spec {job}")),
        response_hash: keccak256(format!("{job}/{sequence}")),
    }
}

fn context() -> BatchContext {
    BatchContext {
        chain_id: 31337,
        task_manager: address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        reference_block_number: 42,
        reference_block_hash: b256!("0x1111111111111111111111111111111111111111111111111111111111111111"),
    }
}

/// The leaf is spelled out by hand from docs/protocol.md, independently of alloy's EIP-712 code.
#[test]
fn leaf_hash_is_the_typed_struct_hash() {
    let l = leaf(7, 3);
    let typehash = keccak256("TaskResponse(uint256 jobId,uint64 sequence,bytes32 specHash,bytes32 responseHash)");
    let expected =
        keccak256((typehash, l.task.job_id, U256::from(l.task.sequence), l.spec_hash, l.response_hash).abi_encode());
    assert_eq!(l.hash(), expected);
}

#[test]
fn digest_is_eip712_by_hand() {
    let batch = Batch::new(context(), vec![leaf(1, 0), leaf(2, 5)]).unwrap();
    let ctx = context();
    let domain_typehash =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    let separator = keccak256(
        (domain_typehash, keccak256("KeeperNetwork"), keccak256("1"), U256::from(ctx.chain_id), ctx.task_manager)
            .abi_encode(),
    );
    let batch_typehash =
        keccak256("TaskBatch(uint64 referenceBlockNumber,bytes32 referenceBlockHash,bytes32 batchRoot)");
    let struct_hash = keccak256(
        (batch_typehash, U256::from(ctx.reference_block_number), ctx.reference_block_hash, batch.root()).abi_encode(),
    );
    let mut preimage = vec![0x19, 0x01];
    preimage.extend_from_slice(separator.as_slice());
    preimage.extend_from_slice(struct_hash.as_slice());
    assert_eq!(batch.digest(), keccak256(preimage));
    assert_eq!(domain(ctx.chain_id, ctx.task_manager).separator(), separator);
}

#[test]
fn digest_binds_every_field() {
    let leaves = vec![leaf(1, 0), leaf(2, 0), leaf(3, 9)];
    let base = Batch::new(context(), leaves.clone()).unwrap().digest();
    let variants = [
        BatchContext { chain_id: 1, ..context() },
        BatchContext { task_manager: Address::repeat_byte(9), ..context() },
        BatchContext { reference_block_number: 43, ..context() },
        BatchContext { reference_block_hash: B256::repeat_byte(2), ..context() },
    ];
    for ctx in variants {
        assert_ne!(Batch::new(ctx, leaves.clone()).unwrap().digest(), base, "{ctx:?}");
    }
    let mut changed = leaves.clone();
    changed[1].response_hash = B256::repeat_byte(7);
    assert_ne!(Batch::new(context(), changed).unwrap().digest(), base);
    // The spec the response was computed under is signed too.
    let mut changed = leaves.clone();
    changed[0].spec_hash = B256::repeat_byte(8);
    assert_ne!(Batch::new(context(), changed).unwrap().digest(), base);
    let mut changed = leaves;
    changed[2].task.sequence = 10;
    assert_ne!(Batch::new(context(), changed).unwrap().digest(), base);
}

#[test]
fn single_leaf_root_is_the_leaf() {
    let l = leaf(1, 1);
    let batch = Batch::new(context(), vec![l]).unwrap();
    assert_eq!(batch.root(), l.hash());
    assert!(batch.proof(0).unwrap().is_empty());
}

#[test]
fn every_proof_verifies_for_many_sizes() {
    for n in 1..=33u64 {
        let leaves: Vec<TaskLeaf> = (0..n).map(|i| leaf(i, i * 2)).collect();
        let batch = Batch::new(context(), leaves.clone()).unwrap();
        for (i, l) in leaves.iter().enumerate() {
            let proof = batch.proof(i).unwrap();
            assert!(verify_proof(l.hash(), &proof, batch.root()), "n={n} i={i}");
            assert!(!verify_proof(leaf(99, 99).hash(), &proof, batch.root()), "n={n} i={i}");
        }
        assert_eq!(
            batch.proof(n as usize),
            Err(BatchError::LeafIndexOutOfRange { index: n as usize, len: n as usize })
        );
    }
}

#[test]
fn odd_node_is_promoted_not_duplicated() {
    let [a, b, c] = [leaf(1, 0), leaf(2, 0), leaf(3, 0)].map(|l| l.hash());
    let three = MerkleTree::new(vec![a, b, c]).unwrap();
    let pair = |x: B256, y: B256| if x <= y { keccak256([x, y].concat()) } else { keccak256([y, x].concat()) };
    assert_eq!(three.root(), pair(pair(a, b), c));
    assert_ne!(MerkleTree::new(vec![a, b, c, c]).unwrap().root(), three.root());
}

#[test]
fn invalid_batches_are_rejected() {
    assert_eq!(Batch::new(context(), vec![]), Err(BatchError::Empty));
    let dup = Batch::new(context(), vec![leaf(1, 2), leaf(3, 4), leaf(1, 2)]);
    assert_eq!(dup, Err(BatchError::DuplicateTask { job_id: U256::from(1), sequence: 2 }));
}
