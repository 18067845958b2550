//! `keeperd deploy` against an EigenLayer core it did not deploy: the devnet's core and strategy go
//! on anvil first, then the deploy gets only a network file naming their addresses, as it would on
//! a public testnet. The AVS it writes takes an operator through EigenLayer's flow; an interrupted
//! deploy resumes without sending a step twice, and a finished one is a no-op; a dry run sends
//! nothing; a wrong chain, an unknown strategy and windows longer than the core's delays are
//! refused before anything is sent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use keeper_devnet::{deploy_devnet_core, onboard_devnet_operator, CoreConfig, DevnetCore};
use keeper_shared::api::FULL_MAGNITUDE;
use keeper_shared::bls::SecretKey;
use keeper_shared::contracts::{BlsKeyRegistry, DevnetStrategyFactory, StakeToken, TaskManager};
use keeper_shared::deployment::{DeployStep, Deployment, DeploymentFile};
use keeper_shared::network::{Network, NetworkError};
use keeperd::deploy::{DeployConfig, DeployError, DeployOutcome, SafetyWindows};

/// The anvil account that deploys the AVS: not the core's owner (account 0).
const DEPLOYER: usize = 5;
/// The transactions of a deploy with existing strategies and the task manager's own windows.
const STEPS: u64 = 6;

/// Anvil with the devnet's core on it, and a network file naming it.
struct ForeignCore {
    anvil: AnvilInstance,
    core: DevnetCore,
    network_file: PathBuf,
    dir: tempfile::TempDir,
}

async fn foreign_core(config: impl FnOnce(Address) -> CoreConfig) -> ForeignCore {
    let anvil = common::anvil();
    let (owner, owner_provider) = common::wallet_provider(&anvil, 0);
    let core = deploy_devnet_core(&owner_provider, &config(owner)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let network = Network {
        name: "foreign".into(),
        chain_id: anvil.chain_id(),
        source: "the devnet's core, deployed by daemon/tests/deploy.rs".into(),
        eigenlayer: core.core.clone(),
        strategy_factory: Some(core.strategy_factory),
        strategies: BTreeMap::from([("KSTAKE".to_owned(), core.strategy)]),
    };
    let network_file = dir.path().join("foreign.json");
    std::fs::write(&network_file, serde_json::to_string_pretty(&network).unwrap()).unwrap();
    ForeignCore { anvil, core, network_file, dir }
}

impl ForeignCore {
    fn config(&self, out: &Path) -> DeployConfig {
        DeployConfig {
            network: self.network_file.display().to_string(),
            rpc_url: self.anvil.endpoint(),
            out: out.to_owned(),
            metadata_uri: "https://keeper-network.invalid/test/avs.json".into(),
            strategies: vec!["KSTAKE".into()],
            new_strategy_token: None,
            guardian: None,
            minimum_stake: U256::from(FULL_MAGNITUDE),
            max_slash_wad: U256::from(FULL_MAGNITUDE / 2),
            challenge_window: None,
            max_reference_age: None,
            dry_run: None,
            stop_after: None,
        }
    }

    fn deployer(&self) -> PrivateKeySigner {
        PrivateKeySigner::from(self.anvil.keys()[DEPLOYER].clone())
    }

    async fn deploy(&self, config: &DeployConfig) -> Result<DeployOutcome, DeployError> {
        let mut out = Vec::new();
        let result = keeperd::deploy::run(config, self.deployer(), &mut out).await;
        println!("{}", String::from_utf8_lossy(&out));
        result
    }

    async fn nonce(&self) -> u64 {
        let (_, provider) = common::wallet_provider(&self.anvil, 0);
        provider.get_transaction_count(self.deployer().address()).await.unwrap()
    }
}

fn unfinished(path: &Path) -> keeper_shared::deployment::DeployJournal {
    match DeploymentFile::read(path).unwrap() {
        Some(DeploymentFile::Unfinished(journal)) => journal,
        other => panic!("not an unfinished deploy: {other:?}"),
    }
}

#[tokio::test]
async fn deploys_on_a_foreign_core_resumes_after_an_interruption_and_an_operator_joins() {
    let chain = foreign_core(CoreConfig::devnet).await;
    let out = chain.dir.path().join("deployment.json");
    let start_nonce = chain.nonce().await;

    // Interrupted once the operator set exists: three steps done and recorded.
    let mut config = chain.config(&out);
    config.stop_after = Some(DeployStep::InitializeAvs);
    let error = chain.deploy(&config).await.unwrap_err();
    assert!(matches!(error, DeployError::StoppedAfter(DeployStep::InitializeAvs)), "{error}");
    let journal = unfinished(&out);
    let done: Vec<_> = journal.steps.iter().filter(|s| s.confirmed()).map(|s| s.step).collect();
    assert_eq!(done, [DeployStep::ServiceManager, DeployStep::KeyRegistry, DeployStep::InitializeAvs]);
    assert_eq!(chain.nonce().await, start_nonce + 3);
    let service_manager = journal.address(DeployStep::ServiceManager).unwrap();
    let key_registry = journal.address(DeployStep::KeyRegistry).unwrap();
    // The daemon refuses the unfinished file by name.
    let refused = Deployment::read(&out).unwrap_err().to_string();
    assert!(refused.contains("unfinished"), "{refused}");

    // As if killed after sending the next step but before its receipt: the record has only the hash.
    config.stop_after = Some(DeployStep::TaskManager);
    chain.deploy(&config).await.unwrap_err();
    let mut journal = unfinished(&out);
    let task_manager_step = journal.steps.iter_mut().find(|s| s.step == DeployStep::TaskManager).unwrap();
    let task_manager = task_manager_step.address.take().unwrap();
    task_manager_step.block_number = None;
    task_manager_step.gas_used = None;
    DeploymentFile::Unfinished(journal).write(&out).unwrap();
    let before_resume = chain.nonce().await;
    assert_eq!(before_resume, start_nonce + 4);

    // The re-run waits for that transaction instead of sending it again, then does the rest.
    config.stop_after = None;
    let DeployOutcome::Deployed(deployment) = chain.deploy(&config).await.unwrap() else { panic!("not deployed") };
    assert_eq!(chain.nonce().await, start_nonce + STEPS, "no step was sent twice");
    assert_eq!(
        (deployment.avs.service_manager, deployment.avs.key_registry, deployment.avs.task_manager),
        (service_manager, key_registry, task_manager)
    );
    assert_eq!(deployment.eigenlayer, chain.core.core);
    assert_eq!(deployment.avs.strategies, [chain.core.strategy]);
    assert_eq!(Deployment::read(&out).unwrap(), deployment);
    let log = deployment.deploy_log.as_ref().unwrap();
    assert_eq!(log.steps.len() as u64, STEPS);
    assert!(log.steps.iter().all(|s| s.confirmed()));

    // A finished deploy is a no-op.
    let again = chain.deploy(&config).await.unwrap();
    assert_eq!(again, DeployOutcome::AlreadyDeployed(deployment.clone()));
    assert_eq!(chain.nonce().await, start_nonce + STEPS);
    // ... but not one asked for other settings.
    let mut other = chain.config(&out);
    other.metadata_uri = "https://elsewhere.invalid/avs.json".into();
    let error = chain.deploy(&other).await.unwrap_err().to_string();
    assert!(error.contains("settings.metadataUri"), "{error}");

    // The task manager chose the windows the deploy checked (SafetyWindows::derived mirrors its constructor).
    let (_, provider) = common::wallet_provider(&chain.anvil, 0);
    let tasks = TaskManager::new(deployment.avs.task_manager, &provider);
    let horizon = BlsKeyRegistry::new(key_registry, &provider).slashableHorizon().call().await.unwrap();
    let on_chain = SafetyWindows {
        challenge_window: tasks.challengeWindowBlocks().call().await.unwrap(),
        max_reference_age: tasks.maxReferenceAge().call().await.unwrap(),
        max_weight_age: tasks.maxWeightAge().call().await.unwrap(),
    };
    assert_eq!(on_chain, SafetyWindows::derived(horizon));

    // An operator holding stake joins the AVS through EigenLayer (the core's owner mints its tokens).
    let (owner, owner_provider) = common::wallet_provider(&chain.anvil, 0);
    assert_ne!(owner, chain.deployer().address());
    let (operator, operator_provider) = common::wallet_provider(&chain.anvil, 1);
    let with_token = Deployment { stake_token: Some(chain.core.stake_token), ..deployment.clone() };
    let key = SecretKey::derive_master(&[9; 32]).unwrap();
    let stake = U256::from(100u64) * U256::from(FULL_MAGNITUDE);
    onboard_devnet_operator(&owner_provider, &operator_provider, operator, &with_token, &key, stake).await.unwrap();
    let registry = BlsKeyRegistry::new(deployment.avs.key_registry, &provider);
    assert!(registry.isRegistered(operator).call().await.unwrap());
    assert_eq!(registry.getOperatorWeight(operator).call().await.unwrap(), stake);
}

#[tokio::test]
async fn refusals_come_before_anything_is_sent_and_windows_are_set_as_asked() {
    // A core whose deallocation delay is 40 blocks: a 40-block challenge window cannot fit.
    let chain = foreign_core(|owner| CoreConfig { deallocation_delay: 40, ..CoreConfig::devnet(owner) }).await;
    let out = chain.dir.path().join("deployment.json");
    let start_nonce = chain.nonce().await;

    let mut config = chain.config(&out);
    config.challenge_window = Some(40);
    let error = chain.deploy(&config).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, DeployError::ExceedsHorizon { horizon: 40, .. }), "{text}");
    assert!(text.contains("challenge window 40") && text.contains("DEALLOCATION_DELAY 40"), "{text}");

    let mut config = chain.config(&out);
    config.strategies = vec!["WETH".into()];
    let error = chain.deploy(&config).await.unwrap_err().to_string();
    assert!(error.contains("--strategy WETH") && error.contains("KSTAKE"), "{error}");

    // The network file says another chain than the endpoint serves.
    let mut network: Network = serde_json::from_str(&std::fs::read_to_string(&chain.network_file).unwrap()).unwrap();
    network.chain_id += 1;
    let wrong = chain.dir.path().join("wrong-chain.json");
    std::fs::write(&wrong, serde_json::to_string(&network).unwrap()).unwrap();
    let mut config = chain.config(&out);
    config.network = wrong.display().to_string();
    let error = chain.deploy(&config).await.unwrap_err();
    assert!(matches!(error, DeployError::Network(NetworkError::ChainIdMismatch { .. })), "{error}");

    assert_eq!(chain.nonce().await, start_nonce, "a refused deploy sends nothing");
    assert!(!out.exists(), "nor writes the file");

    // Windows that fit are set as asked, shrinking ones first (the task manager checks every change);
    // a new token's strategy comes from the network's StrategyFactory, and counts first.
    let (_, provider) = common::wallet_provider(&chain.anvil, 0);
    let token = StakeToken::deploy(&provider, "Other".into(), "OTH".into(), Address::repeat_byte(1)).await.unwrap();
    let mut config = chain.config(&out);
    config.challenge_window = Some(10);
    config.max_reference_age = Some(8);
    config.new_strategy_token = Some(*token.address());
    let DeployOutcome::Deployed(deployment) = chain.deploy(&config).await.unwrap() else { panic!("not deployed") };
    let factory = DevnetStrategyFactory::new(chain.core.strategy_factory, &provider);
    let created = factory.tokenStrategies(*token.address()).call().await.unwrap();
    assert!(!created.is_zero());
    assert_eq!(deployment.avs.strategies, [created, chain.core.strategy]);
    let log = deployment.deploy_log.as_ref().unwrap();
    assert_eq!(log.steps[0].step, DeployStep::DeployStrategy);
    let tasks = TaskManager::new(deployment.avs.task_manager, &provider);
    assert_eq!(tasks.challengeWindowBlocks().call().await.unwrap(), 10);
    assert_eq!(tasks.maxReferenceAge().call().await.unwrap(), 8);
    assert_eq!(tasks.maxWeightAge().call().await.unwrap(), 40 - 10 - 8);
}

/// Through the binary: `--dry-run` forks the chain, runs every step there and prints its gas and
/// the total; the chain sees nothing and no file is written.
#[tokio::test]
async fn a_dry_run_prints_each_transaction_and_sends_nothing() {
    let chain = foreign_core(CoreConfig::devnet).await;
    let out = chain.dir.path().join("deployment.json");
    let start_nonce = chain.nonce().await;
    let key = hex::encode(chain.anvil.keys()[DEPLOYER].to_bytes());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_keeperd"))
        .args(["deploy", "--network"])
        .arg(&chain.network_file)
        .args(["--rpc-url", &chain.anvil.endpoint(), "--metadata-uri", "https://keeper-network.invalid/avs.json"])
        .args(["--strategy", "KSTAKE", "--dry-run", "--out"])
        .arg(&out)
        .env("ETH_PRIVATE_KEY", key)
        .env("KEEPER_ANVIL", common::anvil_binary())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success());
    for step in ["service_manager", "key_registry", "initialize_avs", "task_manager", "link_task_manager"] {
        assert!(stdout.contains(step), "{step} missing from:\n{stdout}");
    }
    assert!(stdout.contains(&format!("{STEPS} transactions")) && stdout.contains("nothing was sent"), "{stdout}");
    assert_eq!(chain.nonce().await, start_nonce);
    assert!(!out.exists());
}

/// Three operators join the AVS `keeperd deploy` put on the foreign core, each with stake it holds,
/// and their `keeperd run` daemons, started from the deployment file the deploy wrote, perform a
/// job of every trigger and action kind (script jobs aside: the devnet test serves those).
#[tokio::test(flavor = "multi_thread")]
async fn keepers_perform_every_kind_of_job_from_the_written_deployment() {
    use keeper_devnet::pipeline;

    let chain = foreign_core(CoreConfig::devnet).await;
    let out = chain.dir.path().join("deployment.json");
    let DeployOutcome::Deployed(deployment) = chain.deploy(&chain.config(&out)).await.unwrap() else {
        panic!("not deployed")
    };
    let (owner, owner_provider) = common::wallet_provider(&chain.anvil, 0);
    let with_token = Deployment { stake_token: Some(chain.core.stake_token), ..deployment.clone() };
    let aggregator = format!("127.0.0.1:{}", pipeline::free_port().unwrap());
    let mut configs = Vec::new();
    for i in 0..3 {
        let (operator, provider) = common::wallet_provider(&chain.anvil, i + 1);
        let key = SecretKey::derive_master(&[i as u8 + 20; 32]).unwrap();
        let stake = U256::from(100u64) * U256::from(FULL_MAGNITUDE);
        onboard_devnet_operator(&owner_provider, &provider, operator, &with_token, &key, stake).await.unwrap();
        let roles: &[&str] = if i == 0 { &["keeper", "aggregator", "challenger"] } else { &["keeper"] };
        let signer = PrivateKeySigner::from(chain.anvil.keys()[i + 1].clone());
        let dir = chain.dir.path().join(format!("operator-{i}"));
        let config =
            pipeline::write_operator_files(&dir, &signer, &key, &chain.anvil.endpoint(), &out, roles, &aggregator)
                .unwrap();
        configs.push((operator, config));
    }
    let samples = pipeline::create_sample_jobs(&owner_provider, &deployment, owner, 2).await.unwrap();
    owner_provider.raw_request::<_, ()>("evm_setIntervalMining".into(), (1u64,)).await.unwrap();
    let mut keepers: Vec<_> = configs
        .iter()
        .map(|(operator, config)| keeper_devnet::operators::Keeper {
            operator: *operator,
            daemon: keeper_devnet::Daemon::spawn(Path::new(env!("CARGO_BIN_EXE_keeperd")), config).unwrap(),
        })
        .collect();
    let mut report = Vec::new();
    let run = pipeline::watch(
        &owner_provider,
        &deployment,
        &samples,
        &mut keepers,
        Some(1),
        std::time::Duration::from_secs(240),
        &mut report,
    )
    .await;
    for keeper in &mut keepers {
        keeper.daemon.stop(std::time::Duration::from_secs(10));
    }
    let report = String::from_utf8_lossy(&report);
    let run = run.unwrap_or_else(|e| panic!("{e:#}\n{report}"));
    for job in &samples.jobs {
        assert!(
            run.performed.get(&job.id).copied().unwrap_or(0) >= 1,
            "job {} ({}) never performed\n{report}",
            job.id,
            job.name
        );
    }
}
