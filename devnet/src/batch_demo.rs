//! Keepers sign one batch of task responses; the chain verifies the aggregate signature.

use std::io::Write;

use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use eyre::{eyre, WrapErr};
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
use keeper_shared::bls::{PublicKey, SecretKey, Signature, SigningDomain};
use keeper_shared::contracts::BlsBatchVerifier;

/// What the demo observed, for tests and for the summary line.
#[derive(Debug, Clone)]
pub struct BatchDemoReport {
    pub verifier: Address,
    pub digest: B256,
    pub root: B256,
    pub verified_on_chain: bool,
    pub submit_gas_used: u64,
    pub tampered_rejected: bool,
    pub stale_block_rejected: bool,
}

/// Deploys the verifier on `anvil`, has the keepers' BLS `keys` sign a batch of `tasks` responses
/// at the latest block, and verifies the aggregate on chain; then shows a tampered batch and a
/// stale reference block being refused. Prints each step to `out`.
pub async fn run_batch_demo(
    anvil: &AnvilInstance,
    keys: &[SecretKey],
    tasks: usize,
    out: &mut impl Write,
) -> eyre::Result<BatchDemoReport> {
    let deployer = anvil.keys().first().cloned().ok_or_else(|| eyre!("anvil exposed no funded keys"))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(PrivateKeySigner::from(deployer)))
        .connect_http(anvil.endpoint_url());

    let verifier = BlsBatchVerifier::deploy(&provider).await.wrap_err("deploying BlsBatchVerifier")?;
    writeln!(out, "deployed BlsBatchVerifier at {}", verifier.address())?;

    let head = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| eyre!("anvil returned no latest block"))?;
    let context = BatchContext {
        chain_id: provider.get_chain_id().await?,
        task_manager: *verifier.address(),
        reference_block_number: head.header.number,
        reference_block_hash: head.header.hash,
    };
    let leaves: Vec<TaskLeaf> = (0..tasks as u64)
        .map(|i| TaskLeaf {
            task: TaskId { job_id: U256::from(i + 1), sequence: 0 },
            // The spec the keeper executed and what its execution produced; here, stand-in hashes per task.
            spec_hash: keccak256(format!("spec of job {}", i + 1)),
            response_hash: keccak256(format!("harvest() for job {}", i + 1)),
        })
        .collect();
    let batch = Batch::new(context, leaves)?;
    let digest = batch.digest();
    writeln!(
        out,
        "batch: {} tasks at reference block {} ({}), root {}, digest {}",
        batch.leaves().len(),
        context.reference_block_number,
        context.reference_block_hash,
        batch.root(),
        digest
    )?;

    let signatures: Vec<Signature> = keys.iter().map(|k| k.sign(digest.as_slice(), SigningDomain::Batch)).collect();
    let public_keys: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
    let aggregate_signature = Signature::aggregate(&signatures)?;
    let aggregate_key = PublicKey::aggregate(&public_keys)?;
    aggregate_signature.verify(&aggregate_key, digest.as_slice(), SigningDomain::Batch)?;
    writeln!(out, "aggregated {} signatures; verified off chain with blst", signatures.len())?;

    let leaf_args: Vec<BlsBatchVerifier::TaskLeaf> = batch.leaves().iter().map(Into::into).collect();
    let key_arg = aggregate_key.to_eip2537().to_vec();
    let sig_arg = aggregate_signature.to_eip2537().to_vec();

    let view = verifier
        .verifyBatch(
            key_arg.clone().into(),
            sig_arg.clone().into(),
            context.reference_block_number,
            context.reference_block_hash,
            leaf_args.clone(),
        )
        .call()
        .await
        .wrap_err("calling verifyBatch")?;
    if view.root != batch.root() || view.digest != digest {
        return Err(eyre!(
            "the contract computed root {} and digest {}, Rust {} and {}",
            view.root,
            view.digest,
            batch.root(),
            digest
        ));
    }
    writeln!(out, "verifyBatch (eth_call): valid = {}, same root and digest as Rust", view.valid)?;

    let receipt = verifier
        .submitBatch(
            key_arg.clone().into(),
            sig_arg.clone().into(),
            context.reference_block_number,
            context.reference_block_hash,
            leaf_args.clone(),
        )
        .send()
        .await
        .wrap_err("sending submitBatch")?
        .get_receipt()
        .await?;
    if !receipt.status() {
        return Err(eyre!("submitBatch reverted in transaction {}", receipt.transaction_hash));
    }
    let event = receipt
        .decoded_log::<BlsBatchVerifier::BatchVerified>()
        .ok_or_else(|| eyre!("submitBatch emitted no BatchVerified event"))?;
    writeln!(
        out,
        "submitBatch: transaction {} in block {}, gas used {}, BatchVerified(digest {}, {} tasks)",
        receipt.transaction_hash,
        receipt.block_number.unwrap_or_default(),
        receipt.gas_used,
        event.digest,
        event.leafCount
    )?;

    // A keeper's response altered after signing: same signature, different root.
    let mut tampered = leaf_args.clone();
    tampered[0].responseHash = keccak256("a different response");
    let tampered_view = verifier
        .verifyBatch(
            key_arg.clone().into(),
            sig_arg.clone().into(),
            context.reference_block_number,
            context.reference_block_hash,
            tampered,
        )
        .call()
        .await?;
    writeln!(out, "tampered response: verifyBatch valid = {}", tampered_view.valid)?;

    // The same signed batch against a reference block hash the chain does not have (a reorg).
    let stale = verifier
        .submitBatch(key_arg.into(), sig_arg.into(), context.reference_block_number, B256::repeat_byte(0xee), leaf_args)
        .call()
        .await;
    let stale_error =
        stale.err().and_then(|e| e.as_decoded_interface_error::<BlsBatchVerifier::BlsBatchVerifierErrors>());
    let stale_block_rejected =
        matches!(stale_error, Some(BlsBatchVerifier::BlsBatchVerifierErrors::UnknownReferenceBlock(_)));
    match stale_error {
        Some(error) => writeln!(out, "unknown reference block hash: submitBatch reverted with {error:?}")?,
        None => writeln!(out, "unknown reference block hash: submitBatch did not revert with UnknownReferenceBlock")?,
    }

    Ok(BatchDemoReport {
        verifier: *verifier.address(),
        digest,
        root: batch.root(),
        verified_on_chain: view.valid,
        submit_gas_used: receipt.gas_used,
        tampered_rejected: !tampered_view.valid,
        stale_block_rejected,
    })
}
