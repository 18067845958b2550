//! EIP-712 typed data of the protocol, hashed with alloy's implementation of the standard.

use alloy::primitives::{keccak256, Address, B256};
use alloy::sol_types::{Eip712Domain, SolStruct};

use super::{BatchContext, TaskLeaf};
use crate::bls::PublicKey;

/// EIP-712 domain name of every keeper-network contract.
pub const EIP712_NAME: &str = "KeeperNetwork";
/// EIP-712 domain version.
pub const EIP712_VERSION: &str = "1";

alloy::sol! {
    struct TaskResponse { uint256 jobId; uint64 sequence; bytes32 specHash; bytes32 responseHash; }
    struct TaskBatch { uint64 referenceBlockNumber; bytes32 referenceBlockHash; bytes32 batchRoot; }
    struct KeyRegistration { address operator; bytes32 pubkeyHash; }
}

/// The EIP-712 domain of the contract at `verifying_contract` on `chain_id`.
pub fn domain(chain_id: u64, verifying_contract: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(EIP712_NAME.into()),
        Some(EIP712_VERSION.into()),
        Some(alloy::primitives::U256::from(chain_id)),
        Some(verifying_contract),
        None,
    )
}

pub(super) fn task_response_hash(leaf: &TaskLeaf) -> B256 {
    TaskResponse {
        jobId: leaf.task.job_id,
        sequence: leaf.task.sequence,
        specHash: leaf.spec_hash,
        responseHash: leaf.response_hash,
    }
    .eip712_hash_struct()
}

pub(super) fn batch_digest(context: &BatchContext, root: B256) -> B256 {
    TaskBatch {
        referenceBlockNumber: context.reference_block_number,
        referenceBlockHash: context.reference_block_hash,
        batchRoot: root,
    }
    .eip712_signing_hash(&domain(context.chain_id, context.task_manager))
}

/// The message of a proof of possession: binds the key to the operator registering it at the
/// key registry `registry` on `chain_id`, so a copied proof cannot front-run the registration.
pub fn key_registration_digest(chain_id: u64, registry: Address, operator: Address, key: &PublicKey) -> B256 {
    KeyRegistration { operator, pubkeyHash: keccak256(key.to_eip2537()) }
        .eip712_signing_hash(&domain(chain_id, registry))
}
