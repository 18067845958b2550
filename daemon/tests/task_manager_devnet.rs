//! The job pipeline's chain side end to end on a fresh devnet, through `keeperd::jobs`: four operators
//! onboarded through EigenLayer; jobs of every trigger kind (interval, block, event) and action kind
//! (call, Chainlink-style, Gelato-style, script) on the sample targets; a batch whose responses come
//! from `jobs::execute`, signed by three of the four, built by `jobs::submit`, performs every target
//! call exactly once; a replayed batch, a stale one (too old) and a reorged one (unknown hash) are
//! refused with the task manager's custom errors; and an equivocation proof slashes an operator, which
//! EigenLayer's AllocationManager then reports with less slashable stake.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::time::Instant;

use alloy::contract::SolCallBuilder;
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{bytes, keccak256, Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::{SolCall, SolError, SolEvent, SolValue};
use keeper_devnet::jobs;
use keeper_devnet::network::slashable_stake;
use keeper_devnet::{deploy_network, mine_blocks, onboard_devnet_operator, NetworkConfig};
use keeper_shared::batch::{Batch, BatchContext, TaskId};
use keeper_shared::bls::{PublicKey, SecretKey, Signature, SigningDomain};
use keeper_shared::contracts::{
    BlsKeyRegistry, JobManager, SampleCounter, SampleLiquidationBook, SampleOracle, SamplePriceMirror, SampleVault,
    SampleVaultResolver, TaskManager,
};
use keeperd::jobs::execute::CheckFailure;
use keeperd::jobs::schedule::{event_sequence, is_due, latest_due_sequence, matches_log};
use keeperd::jobs::submit::{self, signed_leaf, TaskResult};
use keeperd::jobs::{
    build_submission, execute, Action, BatchTask, EventFilter, JobSpec, Outcome, ReferenceBlock, SubmitError,
    TaskResponse, Trigger,
};

const ETHER: u64 = 1_000_000_000_000_000_000;
const DEPOSIT: u64 = ETHER / 10;
const GAS_LIMIT: u32 = 200_000;
const MAX_FEE: u128 = 10_000_000_000_000_000;

async fn receipt<P: Provider, C: SolCall>(call: SolCallBuilder<P, C>) -> TransactionReceipt {
    let receipt = call.send().await.unwrap().get_receipt().await.unwrap();
    assert!(receipt.status(), "transaction {} reverted", receipt.transaction_hash);
    receipt
}

async fn latest(provider: &impl Provider) -> ReferenceBlock {
    let block = provider.get_block_by_number(BlockNumberOrTag::Latest).await.unwrap().unwrap();
    ReferenceBlock::of(&block.header)
}

/// Creates a job from the owner's wallet, checks the JobCreated log decodes to the same spec with the
/// contract's hash, and allows the job's forwarder on the spec's target (a sample's `setForwarder`).
async fn create_job<P: Provider>(provider: &P, job_manager: Address, spec: &JobSpec) -> (U256, Address) {
    let created = jobs::create_allowed_job(provider, job_manager, spec, U256::from(DEPOSIT)).await.unwrap();
    assert_eq!(created.spec, *spec);
    assert_eq!(created.spec_hash, spec.hash().unwrap());
    let manager = JobManager::new(job_manager, provider);
    assert_eq!(manager.specHashOf(created.id).call().await.unwrap(), created.spec_hash);
    assert_eq!(manager.forwarderOf(created.id).call().await.unwrap(), created.forwarder);
    (created.id, created.forwarder)
}

fn sign(keys: &[SecretKey], batch: &Batch) -> Signature {
    let signatures: Vec<Signature> =
        keys.iter().map(|k| k.sign(batch.digest().as_slice(), SigningDomain::Batch)).collect();
    Signature::aggregate(&signatures).unwrap()
}

fn rejected(result: Result<B256, SubmitError>) -> TaskManager::TaskManagerErrors {
    match result {
        Err(SubmitError::Rejected { error }) => *error,
        other => panic!("expected a task manager error, got {other:?}"),
    }
}

#[tokio::test]
async fn batches_perform_every_job_kind_once_refuse_replays_and_stale_blocks_and_equivocation_is_slashed() {
    let started = Instant::now();
    let anvil = common::anvil();
    let (owner, provider) = common::wallet_provider(&anvil, 0);
    let deployment = deploy_network(&provider, &NetworkConfig::devnet(owner)).await.unwrap();
    let job_manager = deployment.avs.job_manager;
    let task_manager = deployment.avs.task_manager;

    // Four operators with equal stakes: three of them are 75% of the weight, above the 66.67% quorum.
    let mut operators = Vec::new();
    let mut keys = Vec::new();
    for i in 0..4 {
        let (operator, operator_provider) = common::wallet_provider(&anvil, i + 1);
        let key = SecretKey::derive_master(&[i as u8 + 11; 32]).unwrap();
        onboard_devnet_operator(
            &provider,
            &operator_provider,
            operator,
            &deployment,
            &key,
            U256::from(100u64) * U256::from(ETHER),
        )
        .await
        .unwrap();
        operators.push(operator);
        keys.push(key);
    }
    let onboarded = started.elapsed();

    // The sample targets, as their users deploy them.
    let counter = SampleCounter::deploy(&provider, owner).await.unwrap();
    let book = SampleLiquidationBook::deploy(&provider, owner, U256::from(2 * ETHER)).await.unwrap();
    receipt(book.openPosition(10, 15)).await; // safe at price 2
    receipt(book.openPosition(10, 25)).await; // under water at price 2
    let vault = SampleVault::deploy(&provider, owner).await.unwrap();
    let resolver = SampleVaultResolver::deploy(&provider, *vault.address(), U256::from(100)).await.unwrap();
    receipt(vault.accrue(U256::from(150))).await;
    let oracle = SampleOracle::deploy(&provider, owner).await.unwrap();
    let mirror = SamplePriceMirror::deploy(&provider, owner, *oracle.address()).await.unwrap();

    // A script job must name its code: the job manager validates the spec.
    let head = latest(&provider).await;
    let block_trigger = Trigger::Block { start: head.number, period: 2 };
    let increment: Bytes = SampleCounter::incrementCall {}.abi_encode().into();
    let spec = |trigger: Trigger, action: Action| JobSpec {
        trigger,
        action,
        gas_limit: GAS_LIMIT,
        max_fee: MAX_FEE,
        expiry: None,
    };
    let script = Action::Script {
        target: *counter.address(),
        args: bytes!("2a"),
        code_url: "https://keeper-network.invalid/scripts/increment.js".into(),
        code_hash: keccak256("increment script"),
    };
    let mut nameless = spec(block_trigger, script.clone()).to_job_manager().unwrap();
    nameless.action.codeHash = B256::ZERO;
    let refused = JobManager::new(job_manager, &provider).createJob(nameless).value(U256::from(DEPOSIT)).call().await;
    let error = refused.unwrap_err().as_decoded_interface_error::<JobManager::JobManagerErrors>().unwrap();
    let JobManager::JobManagerErrors::InvalidSpec(invalid) = error else { panic!("{error:?}") };
    // SpecField.ActionCodeHash = 7, SpecFault.Missing = 0.
    assert_eq!((invalid.field, invalid.fault), (7, 0));

    // One job of each trigger and action kind, and a Chainlink-style job whose check reverts.
    let specs = vec![
        (
            "interval call",
            spec(
                Trigger::Interval { start: head.timestamp - 600, period: 60 },
                Action::Call { target: *counter.address(), data: increment.clone() },
            ),
        ),
        ("block call", spec(block_trigger, Action::Call { target: *counter.address(), data: increment.clone() })),
        (
            "event call",
            spec(
                Trigger::Event(EventFilter {
                    start: head.number,
                    emitter: *oracle.address(),
                    topic0: SampleOracle::AnswerUpdated::SIGNATURE_HASH,
                    topics: [None; 3],
                }),
                Action::Call { target: *mirror.address(), data: SamplePriceMirror::syncCall {}.abi_encode().into() },
            ),
        ),
        (
            "chainlink",
            spec(block_trigger, Action::ChainlinkUpkeep { target: *book.address(), check_data: Bytes::new() }),
        ),
        (
            "gelato",
            spec(
                block_trigger,
                Action::GelatoResolver {
                    target: *vault.address(),
                    resolver: *resolver.address(),
                    resolver_data: SampleVaultResolver::checkerCall {}.abi_encode().into(),
                },
            ),
        ),
        ("script", spec(block_trigger, script)),
        (
            "chainlink, reverting check",
            spec(
                block_trigger,
                Action::ChainlinkUpkeep {
                    target: *book.address(),
                    check_data: (U256::from(2), U256::from(1)).abi_encode_params().into(),
                },
            ),
        ),
    ];
    let mut jobs = Vec::new();
    for (name, spec) in &specs {
        let (job_id, forwarder) = create_job(&provider, job_manager, spec).await;
        jobs.push((*name, job_id, forwarder, spec.clone()));
    }

    // The oracle reports; the event job's task is named by the log.
    let report = receipt(oracle.report(alloy::primitives::I256::try_from(1234).unwrap())).await;
    let log = report.inner.logs().iter().find(|log| log.address() == *oracle.address()).unwrap();
    assert!(matches_log(&specs[2].1.trigger, log.address(), log.topics()));
    let event_task = event_sequence(log.block_number.unwrap(), log.log_index.unwrap()).unwrap();

    // The reference block: every task is due there, and every keeper computes the same responses.
    mine_blocks(&provider, 1).await.unwrap();
    let reference = latest(&provider).await;
    let mut tasks = Vec::new();
    let scripts = keeper_script::ScriptRunner::new(&keeper_script::ScriptConfig::default()).unwrap();
    for (name, job_id, _, spec) in &jobs {
        let sequence = match spec.trigger {
            Trigger::Event(_) => event_task,
            _ => latest_due_sequence(spec, &reference).unwrap(),
        };
        assert!(is_due(spec, sequence, &reference), "{name}");
        let task = TaskId { job_id: *job_id, sequence };
        let outcome = execute(&provider, &scripts, spec, task, &reference).await.unwrap();
        let response = match (*name, &outcome) {
            ("chainlink", Outcome::Respond(response)) => {
                let perform =
                    SampleLiquidationBook::performUpkeepCall { performData: U256::from(1).abi_encode().into() };
                assert_eq!(*response, TaskResponse::perform(perform.abi_encode().into()));
                response.clone()
            }
            ("gelato", Outcome::Respond(response)) => {
                let harvest = SampleVault::harvestCall { amount: U256::from(150) };
                assert_eq!(*response, TaskResponse::perform(harvest.abi_encode().into()));
                response.clone()
            }
            ("chainlink, reverting check", Outcome::CheckFailed(CheckFailure::Reverted { data })) => {
                let expected = SampleLiquidationBook::InvalidRange { from: U256::from(2), to: U256::from(1) };
                assert_eq!(*data, Bytes::from(expected.abi_encode()));
                outcome.response().unwrap()
            }
            // The code URL does not resolve, so the run fails with that reason; the response is what a script
            // would return (the task manager checks nothing about a script's call data). Scripts that run are
            // in script_jobs_e2e.
            ("script", Outcome::ScriptFailed { reason }) => {
                assert!(reason.contains("keeper-network.invalid"), "{reason}");
                TaskResponse::perform(increment.clone())
            }
            (_, Outcome::Respond(response)) if matches!(spec.action, Action::Call { .. }) => response.clone(),
            _ => panic!("{name}: unexpected outcome {outcome:?}"),
        };
        tasks.push(BatchTask { task, spec: spec.clone(), response });
    }
    // The contract hashes responses as Rust does.
    let tm = TaskManager::new(task_manager, &provider);
    for task in &tasks {
        let on_chain = tm.responseHash(task.response.execute, task.response.call_data.clone()).call().await.unwrap();
        assert_eq!(on_chain, task.response.hash());
    }

    // Three of four sign; the fourth is a non-signer.
    let context = BatchContext {
        chain_id: deployment.chain_id,
        task_manager,
        reference_block_number: reference.number,
        reference_block_hash: reference.hash,
    };
    let batch = Batch::new(context, submit::leaves(&tasks).unwrap()).unwrap();
    let public: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
    let submission = build_submission(&batch, &tasks, &public[3..], &sign(&keys[..3], &batch)).unwrap();
    assert_eq!(tm.batchDigest(submission.header.clone(), batch.root()).call().await.unwrap(), batch.digest());
    assert_eq!(submission.simulate(&provider, task_manager, owner, &[], &[]).await.unwrap(), batch.digest());
    let accepted = submission.send(&provider, task_manager, owner).await.unwrap();
    println!("batch of {} tasks, 3 of 4 signers: gas used {}", tasks.len(), accepted.gas_used);
    assert_eq!(accepted.digest, batch.digest());
    assert_eq!(accepted.non_signer_pubkey_hashes, vec![submit::pubkey_hash(&public[3])]);
    assert_eq!(accepted.tasks.len(), tasks.len());
    for ((task_id, result), task) in accepted.tasks.iter().zip(&tasks) {
        assert_eq!(*task_id, task.task);
        if task.response.execute {
            assert!(matches!(result, TaskResult::Performed { success: true, .. }), "{task_id:?}: {result:?}");
        } else {
            assert_eq!(*result, TaskResult::NotExecuted);
        }
    }
    let performed = accepted.tasks.iter().filter(|(_, r)| matches!(r, TaskResult::Performed { .. })).count();
    assert_eq!(performed, 6);

    // Every target call happened once: the counter by three jobs (interval, block, script), one each.
    assert_eq!(counter.count().call().await.unwrap(), U256::from(3));
    for (name, _, forwarder, _) in &jobs {
        if matches!(*name, "interval call" | "block call" | "script") {
            assert_eq!(counter.countOf(*forwarder).call().await.unwrap(), U256::from(1), "{name}");
        }
    }
    assert_eq!(book.liquidations().call().await.unwrap(), U256::from(1));
    assert!(book.position(U256::from(1)).call().await.unwrap().liquidated);
    assert_eq!(vault.harvests().call().await.unwrap(), U256::from(1));
    assert_eq!(vault.totalHarvested().call().await.unwrap(), U256::from(150));
    assert_eq!(mirror.syncs().call().await.unwrap(), U256::from(1));
    assert_eq!(mirror.answer().call().await.unwrap(), alloy::primitives::I256::try_from(1234).unwrap());

    // Replayed: the same batch again is refused.
    let replay = rejected(submission.simulate(&provider, task_manager, owner, &[], &[]).await);
    assert!(matches!(replay, TaskManager::TaskManagerErrors::BatchAlreadyResponded(_)), "{replay:?}");
    // The same tasks in a new batch (new reference block) are accepted but skipped: exactly once.
    mine_blocks(&provider, 1).await.unwrap();
    let later = latest(&provider).await;
    let again = Batch::new(
        BatchContext { reference_block_number: later.number, reference_block_hash: later.hash, ..context },
        submit::leaves(&tasks).unwrap(),
    )
    .unwrap();
    let resubmitted = build_submission(&again, &tasks, &public[3..], &sign(&keys[..3], &again))
        .unwrap()
        .send(&provider, task_manager, owner)
        .await
        .unwrap();
    for (task_id, result) in &resubmitted.tasks {
        assert_eq!(*result, TaskResult::Skipped(keeperd::jobs::SkipReason::AlreadyPerformed), "{task_id:?}");
    }
    assert_eq!(counter.count().call().await.unwrap(), U256::from(3));
    assert_eq!(vault.harvests().call().await.unwrap(), U256::from(1));

    // Reorged: a reference hash the chain does not have.
    let reorged = Batch::new(
        BatchContext { reference_block_hash: B256::repeat_byte(0xee), ..context },
        submit::leaves(&tasks[..1]).unwrap(),
    )
    .unwrap();
    let error = rejected(
        build_submission(&reorged, &tasks[..1], &public[3..], &sign(&keys[..3], &reorged))
            .unwrap()
            .simulate(&provider, task_manager, owner, &[], &[])
            .await,
    );
    assert!(matches!(error, TaskManager::TaskManagerErrors::UnknownReferenceBlock(_)), "{error:?}");
    // Too old: beyond the task manager's maximum reference age.
    let max_age = tm.maxReferenceAge().call().await.unwrap();
    mine_blocks(&provider, u64::from(max_age) + 1).await.unwrap();
    let stale = Batch::new(context, submit::leaves(&tasks[1..2]).unwrap()).unwrap();
    let error = rejected(
        build_submission(&stale, &tasks[1..2], &public[3..], &sign(&keys[..3], &stale))
            .unwrap()
            .simulate(&provider, task_manager, owner, &[], &[])
            .await,
    );
    assert!(matches!(error, TaskManager::TaskManagerErrors::ReferenceBlockTooOld(_)), "{error:?}");

    // Equivocation: operator 0 signs two batches giving the Gelato task different responses.
    let equivocator = operators[0];
    let stake_before = slashable_stake(&provider, &deployment, equivocator).await.unwrap();
    let gelato = tasks[4].clone();
    let other = BatchTask { response: TaskResponse::nothing_to_do(), ..gelato.clone() };
    let batch_a = Batch::new(context, submit::leaves(&tasks).unwrap()).unwrap();
    let batch_b = Batch::new(context, submit::leaves(std::slice::from_ref(&other)).unwrap()).unwrap();
    let leaf_a = signed_leaf(&batch_a, 4, &sign(&keys[..1], &batch_a)).unwrap();
    let leaf_b = signed_leaf(&batch_b, 0, &sign(&keys[..1], &batch_b)).unwrap();
    let spec_hash = gelato.spec.hash().unwrap();
    let proof = receipt(tm.challengeEquivocation(
        equivocator,
        gelato.task.job_id,
        gelato.task.sequence,
        spec_hash,
        leaf_a,
        leaf_b,
    ))
    .await;
    let proven = proof.decoded_log::<TaskManager::EquivocationProven>().unwrap();
    assert_eq!(proven.operator, equivocator);
    assert_eq!((proven.responseA, proven.responseB), (gelato.response.hash(), other.response.hash()));
    let stake_after = slashable_stake(&provider, &deployment, equivocator).await.unwrap();
    let wad = U256::from(proven.wad);
    let expected = stake_before - stake_before * wad / U256::from(ETHER);
    println!("equivocation: slashable stake {stake_before} -> {stake_after} (wad {wad}), gas used {}", proof.gas_used);
    assert!(stake_after < stake_before);
    assert!(stake_after.abs_diff(expected) < U256::from(1_000u64), "{stake_after} vs {expected}");
    // The equivocating key is out of the set, for good.
    let registry = BlsKeyRegistry::new(deployment.avs.key_registry, &provider);
    assert!(!registry.isRegistered(equivocator).call().await.unwrap());
    assert!(registry.isBanned(equivocator).call().await.unwrap());
    // The other operators keep their stake.
    assert_eq!(
        slashable_stake(&provider, &deployment, operators[1]).await.unwrap(),
        U256::from(100u64) * U256::from(ETHER)
    );

    println!("onboarding {:.2} s, whole test {:.2} s", onboarded.as_secs_f64(), started.elapsed().as_secs_f64());
}
