//! Rust-made BLS signatures verified by the Solidity verifier on a real anvil (EIP-2537 precompiles).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use alloy::network::EthereumWallet;
use alloy::primitives::{keccak256, Bytes, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use keeper_devnet::run_batch_demo;
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
use keeper_shared::bls::{PublicKey, SecretKey, Signature, SigningDomain};
use keeper_shared::contracts::BlsBatchVerifier;

#[tokio::test]
async fn demo_verifies_on_chain_and_rejects_tampering() {
    let anvil = common::anvil();
    let mut out = Vec::new();
    let keys: Vec<SecretKey> = (1..=3).map(key).collect();
    let report = run_batch_demo(&anvil, &keys, 5, &mut out).await.unwrap();
    let printed = String::from_utf8(out).unwrap();
    assert!(report.verified_on_chain, "{printed}");
    assert!(report.tampered_rejected, "{printed}");
    assert!(report.stale_block_rejected, "{printed}");
    assert!(report.submit_gas_used > 21_000, "{printed}");
    assert!(printed.contains("BatchVerified"), "{printed}");
}

fn key(i: u8) -> SecretKey {
    SecretKey::derive_master(&[i; 32]).unwrap()
}

fn leaves(n: u64) -> Vec<TaskLeaf> {
    (0..n)
        .map(|i| TaskLeaf {
            task: TaskId { job_id: U256::from(100 + i), sequence: i },
            spec_hash: keccak256([0x5e, i as u8]),
            response_hash: keccak256([i as u8]),
        })
        .collect()
}

fn leaf_args(batch: &Batch) -> Vec<BlsBatchVerifier::TaskLeaf> {
    batch.leaves().iter().map(Into::into).collect()
}

async fn verify<P: Provider>(
    verifier: &BlsBatchVerifier::BlsBatchVerifierInstance<P>,
    key: &PublicKey,
    sig: &Signature,
    batch: &Batch,
) -> BlsBatchVerifier::verifyBatchReturn {
    verifier
        .verifyBatch(
            Bytes::from(key.to_eip2537().to_vec()),
            Bytes::from(sig.to_eip2537().to_vec()),
            batch.context().reference_block_number,
            batch.context().reference_block_hash,
            leaf_args(batch),
        )
        .call()
        .await
        .unwrap()
}

/// Signatures bound to one contract, chain and key set: every variation is refused on chain.
#[tokio::test]
async fn signatures_do_not_replay_and_wrong_keys_fail() {
    let anvil = common::anvil();
    let signer = PrivateKeySigner::from(anvil.keys()[0].clone());
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(anvil.endpoint_url());
    let verifier_a = BlsBatchVerifier::deploy(&provider).await.unwrap();
    let verifier_b = BlsBatchVerifier::deploy(&provider).await.unwrap();
    let chain_id = provider.get_chain_id().await.unwrap();
    let head = provider.get_block_number().await.unwrap();
    let head_hash = provider.get_block_by_number(head.into()).await.unwrap().unwrap().header.hash;

    let context = BatchContext {
        chain_id,
        task_manager: *verifier_a.address(),
        reference_block_number: head,
        reference_block_hash: head_hash,
    };
    let batch = Batch::new(context, leaves(8)).unwrap();
    assert_eq!(
        verifier_a.domainSeparator().call().await.unwrap(),
        keeper_shared::batch::domain(chain_id, *verifier_a.address()).separator()
    );

    let keys: Vec<SecretKey> = (1..=4).map(key).collect();
    let sigs: Vec<Signature> = keys.iter().map(|k| k.sign(batch.digest().as_slice(), SigningDomain::Batch)).collect();
    let pks: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
    let all_key = PublicKey::aggregate(&pks).unwrap();
    let three_sig = Signature::aggregate(&sigs[..3]).unwrap();
    let three_key = all_key.subtract(&pks[3..]).unwrap();

    // 3 of 4 signers against the set's aggregate minus the non-signer: valid, same root and digest.
    let ok = verify(&verifier_a, &three_key, &three_sig, &batch).await;
    assert!(ok.valid);
    assert_eq!(ok.root, batch.root());
    assert_eq!(ok.digest, batch.digest());

    // Against the full set's key (a signer missing): invalid.
    assert!(!verify(&verifier_a, &all_key, &three_sig, &batch).await.valid);
    // Another contract: its digest differs, so the signature is invalid there.
    assert!(!verify(&verifier_b, &three_key, &three_sig, &batch).await.valid);
    // Another reference block, same leaves.
    let other_block =
        Batch::new(BatchContext { reference_block_hash: B256::repeat_byte(1), ..context }, leaves(8)).unwrap();
    assert!(!verify(&verifier_a, &three_key, &three_sig, &other_block).await.valid);
    // One leaf fewer.
    let fewer = Batch::new(context, leaves(7)).unwrap();
    assert!(!verify(&verifier_a, &three_key, &three_sig, &fewer).await.valid);
    // A signature for the proof-of-possession domain over the same digest.
    let pop_domain_sig = keys[0].sign(batch.digest().as_slice(), SigningDomain::ProofOfPossession);
    assert!(!verify(&verifier_a, &pks[0], &pop_domain_sig, &batch).await.valid);
    // Each single signer verifies alone.
    for (pk, sig) in pks.iter().zip(&sigs) {
        assert!(verify(&verifier_a, pk, sig, &batch).await.valid);
    }

    // Malformed encodings are refused, not accepted: infinity key and a key off the curve.
    let mut off_curve = pks[0].to_eip2537();
    off_curve[127] ^= 1;
    for bad_key in [vec![0u8; 128], off_curve.to_vec(), vec![1u8; 127]] {
        let result = verifier_a
            .verifyBatch(
                Bytes::from(bad_key),
                Bytes::from(sigs[0].to_eip2537().to_vec()),
                head,
                head_hash,
                leaf_args(&batch),
            )
            .call()
            .await;
        assert!(!matches!(result, Ok(ref r) if r.valid), "a malformed key verified: {result:?}");
    }
}
