//! The whole chain side of onboarding on a fresh anvil: the real EigenLayer core and our AVS
//! deployed from Rust, four operators joining through EigenLayer's own flow with BLS keys and
//! different stakes, the key registry's keys, aggregate key and weights read back at two blocks,
//! a proven equivocation slashed through the task manager and the service manager and seen by
//! EigenLayer (the operator ejected for good), and a deregistration.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Instant;

use alloy::primitives::B256;
use alloy::primitives::U256;
use alloy::providers::Provider;
use keeper_devnet::network::slashable_stake;
use keeper_devnet::{deploy_network, mine_blocks, onboard_devnet_operator, NetworkConfig};
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
use keeper_shared::bls::{PublicKey, SecretKey, SigningDomain};
use keeper_shared::contracts::{BlsKeyRegistry, KeeperServiceManager, StakeToken, TaskManager};
use keeper_shared::deployment::Deployment;
use keeperd::eigenlayer::onboarding;
use keeperd::jobs::submit::signed_leaf;

const ETHER: u64 = 1_000_000_000_000_000_000;

async fn mine(provider: &impl Provider, blocks: u64) {
    mine_blocks(provider, blocks).await.unwrap();
}

#[tokio::test]
async fn four_operators_join_stake_changes_and_a_slash_is_seen_by_eigenlayer() {
    let anvil = common::anvil();
    let (owner, owner_provider) = common::wallet_provider(&anvil, 0);

    let started = Instant::now();
    let first_block = owner_provider.get_block_number().await.unwrap() + 1;
    let deployment = deploy_network(&owner_provider, &NetworkConfig::devnet(owner)).await.unwrap();
    let last_block = owner_provider.get_block_number().await.unwrap();
    let mut deploy_gas = 0;
    for number in first_block..=last_block {
        deploy_gas += owner_provider.get_block_by_number(number.into()).await.unwrap().unwrap().header.gas_used;
    }
    println!(
        "deploy (EigenLayer core + AVS): {} transactions, {deploy_gas} gas, {:.2} s",
        last_block + 1 - first_block,
        started.elapsed().as_secs_f64()
    );

    // The deployment file round-trips.
    let dir = tempfile::tempdir().unwrap();
    deployment.write(&dir.path().join("deployment.json")).unwrap();
    assert_eq!(Deployment::read(&dir.path().join("deployment.json")).unwrap(), deployment);

    let token = StakeToken::new(deployment.stake_token.unwrap(), &owner_provider);
    let registry = BlsKeyRegistry::new(deployment.avs.key_registry, &owner_provider);
    let stakes = [100u64, 200, 300, 400];
    let mut operators = Vec::new();
    let mut keys = Vec::new();
    for (i, stake) in stakes.iter().enumerate() {
        let (operator, provider) = common::wallet_provider(&anvil, i + 1);
        let amount = U256::from(*stake) * U256::from(ETHER);
        let key = SecretKey::derive_master(&[i as u8 + 1; 32]).unwrap();
        let receipt =
            onboard_devnet_operator(&owner_provider, &provider, operator, &deployment, &key, amount).await.unwrap();
        println!("operator {i}: registerForOperatorSets gas used {}", receipt.gas_used);
        operators.push((operator, provider));
        keys.push(key);
    }

    // Keys and aggregate key as registered.
    let public_keys: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
    for ((operator, _), key) in operators.iter().zip(&public_keys) {
        assert!(registry.isRegistered(*operator).call().await.unwrap());
        assert_eq!(registry.pubkeyOf(*operator).call().await.unwrap().to_eip2537(), key.to_eip2537());
    }
    let apk = registry.currentApk().call().await.unwrap().to_eip2537();
    assert_eq!(apk, PublicKey::aggregate(&public_keys).unwrap().to_eip2537());
    for ((operator, _), stake) in operators.iter().zip(stakes) {
        assert_eq!(registry.getOperatorWeight(*operator).call().await.unwrap(), U256::from(stake) * U256::from(ETHER));
    }
    let total: u64 = stakes.iter().sum();
    assert_eq!(registry.getTotalWeight().call().await.unwrap(), U256::from(total) * U256::from(ETHER));

    // A stake change, then a permissionless refresh: the registry answers for both blocks.
    mine(&owner_provider, 1).await;
    let before = owner_provider.get_block_number().await.unwrap() as u32;
    let (op0, op0_provider) = &operators[0];
    let extra = U256::from(50u64) * U256::from(ETHER);
    token.mint(*op0, extra).send().await.unwrap().get_receipt().await.unwrap();
    onboarding::deposit(op0_provider, &deployment, deployment.avs.strategies[0], *token.address(), extra)
        .await
        .unwrap();
    registry.updateWeights(vec![*op0]).send().await.unwrap().get_receipt().await.unwrap();
    mine(&owner_provider, 1).await;
    let after = owner_provider.get_block_number().await.unwrap() as u32;
    let weight_at = |block| registry.getOperatorWeightAtBlock(*op0, block);
    assert_eq!(weight_at(before).call().await.unwrap(), U256::from(100u64) * U256::from(ETHER));
    assert_eq!(weight_at(after).call().await.unwrap(), U256::from(150u64) * U256::from(ETHER));
    assert_eq!(registry.getTotalWeightAtBlock(before).call().await.unwrap(), U256::from(total) * U256::from(ETHER));
    assert_eq!(registry.getTotalWeightAtBlock(after).call().await.unwrap(), U256::from(total + 50) * U256::from(ETHER));

    // Only a proof slashes: operator 1 signs two responses for one task under one spec, anyone proves
    // it to the task manager, which slashes 10% through the service manager and ejects it for good.
    let (op1, _) = operators[1];
    let stake_before = slashable_stake(&owner_provider, &deployment, op1).await.unwrap();
    let task = TaskId { job_id: U256::from(7), sequence: 3 };
    let spec_hash = B256::repeat_byte(0x5e);
    let signed = |response: u8, block: u64| {
        let context = BatchContext {
            chain_id: deployment.chain_id,
            task_manager: deployment.avs.task_manager,
            reference_block_number: block,
            reference_block_hash: B256::repeat_byte(response),
        };
        let leaf = TaskLeaf { task, spec_hash, response_hash: B256::repeat_byte(response) };
        let batch = Batch::new(context, vec![leaf]).unwrap();
        let signature = keys[1].sign(batch.digest().as_slice(), SigningDomain::Batch);
        signed_leaf(&batch, 0, &signature).unwrap()
    };
    let task_manager = TaskManager::new(deployment.avs.task_manager, &owner_provider);
    let receipt = task_manager
        .challengeEquivocation(op1, task.job_id, task.sequence, spec_hash, signed(1, 10), signed(2, 11))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    println!("challengeEquivocation (slash and ejection) gas used {}", receipt.gas_used);
    let stake_after = slashable_stake(&owner_provider, &deployment, op1).await.unwrap();
    let kept = stake_before * U256::from(9) / U256::from(10);
    assert!(stake_after <= kept && kept - stake_after < U256::from(1_000u64), "{stake_before} -> {stake_after}");
    assert!(!registry.isRegistered(op1).call().await.unwrap(), "ejected");
    assert!(registry.isBanned(op1).call().await.unwrap(), "for good");
    let service_manager = KeeperServiceManager::new(deployment.avs.service_manager, &owner_provider);
    let offence = task_manager.equivocationId(task.job_id, task.sequence, spec_hash).call().await.unwrap();
    assert!(service_manager.isSlashed(offence, op1).call().await.unwrap());

    // Deregistration: the key leaves the aggregate and the weight drops to zero.
    let (op3, op3_provider) = &operators[3];
    onboarding::deregister_from_keeper_set(op3_provider, &deployment, *op3).await.unwrap();
    assert!(!registry.isRegistered(*op3).call().await.unwrap());
    assert_eq!(registry.getOperatorWeight(*op3).call().await.unwrap(), U256::ZERO);
    // Operators 0 and 2 are left (1 was ejected for its equivocation).
    let apk = registry.currentApk().call().await.unwrap().to_eip2537();
    assert_eq!(apk, PublicKey::aggregate(&[public_keys[0], public_keys[2]]).unwrap().to_eip2537());
    onboarding::allocate(op3_provider, &deployment, *op3, 0).await.unwrap();
}
