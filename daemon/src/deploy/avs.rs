//! The AVS on a given EigenLayer core: service manager, key registry, the keeper operator set with
//! its strategies (existing ones, or one created through EigenLayer's StrategyFactory), task
//! manager and job manager, and the task manager's safety windows. The devnet runs it on the core
//! it deployed; `keeperd deploy` on a public network's core, recording each step.

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use keeper_shared::contracts::{BlsKeyRegistry, KeeperServiceManager, TaskManager};
use keeper_shared::deployment::{AvsAddresses, DeployStep, EigenLayerAddresses};

use super::steps::StepRunner;
use super::windows::SafetyWindows;
use super::DeployError;

alloy::sol! {
    /// EigenLayer's StrategyFactory (src/contracts/interfaces/IStrategyFactory.sol and
    /// StrategyFactoryStorage.sol, v1.x): anyone may create, and have whitelisted, the strategy of
    /// an ERC20 that has none; the token's strategy stays readable in `tokenStrategies`.
    #[sol(rpc)]
    interface IStrategyFactory {
        function deployNewStrategy(address token) external returns (address newStrategy);
        function tokenStrategies(address token) external view returns (address);
    }
}

/// Runs the steps the runner's journal has not done; the AVS's addresses.
pub async fn deploy_avs<P: Provider>(
    runner: &mut StepRunner<'_, P>,
    core: &EigenLayerAddresses,
    strategy_factory: Option<Address>,
) -> Result<AvsAddresses, DeployError> {
    let provider = runner.provider();
    let settings = runner.journal().settings.clone();
    let mut strategies = settings.strategies.clone();
    if let Some(token) = settings.new_strategy_token {
        let factory = strategy_factory
            .ok_or_else(|| DeployError::NoStrategyFactory { network: runner.journal().network.clone() })?;
        let factory = IStrategyFactory::new(factory, provider);
        let existing = async {
            factory
                .tokenStrategies(token)
                .call()
                .await
                .map_err(DeployError::contract("StrategyFactory.tokenStrategies"))
        };
        // A token that has a strategy already (made by anyone) is not given a second one: the factory refuses.
        if existing.await?.is_zero() {
            let input = IStrategyFactory::deployNewStrategyCall { token }.abi_encode();
            runner
                .call(DeployStep::DeployStrategy, "StrategyFactory.deployNewStrategy", *factory.address(), input.into())
                .await?;
        }
        let strategy = factory
            .tokenStrategies(token)
            .call()
            .await
            .map_err(DeployError::contract("StrategyFactory.tokenStrategies"))?;
        strategies.insert(0, strategy);
    }

    let owner = settings.owner;
    let init = KeeperServiceManager::deploy_builder(provider, core.allocation_manager, owner, settings.max_slash_wad);
    let service_manager =
        runner.create(DeployStep::ServiceManager, "KeeperServiceManager", init.calldata().clone()).await?;
    let init = BlsKeyRegistry::deploy_builder(
        provider,
        core.allocation_manager,
        service_manager,
        owner,
        settings.minimum_stake,
    );
    let key_registry = runner.create(DeployStep::KeyRegistry, "BlsKeyRegistry", init.calldata().clone()).await?;
    let input = KeeperServiceManager::initializeAVSCall {
        keyRegistry_: key_registry,
        metadataURI: settings.metadata_uri.clone(),
        strategies: strategies.clone(),
    }
    .abi_encode();
    runner.call(DeployStep::InitializeAvs, "KeeperServiceManager.initializeAVS", service_manager, input.into()).await?;
    // The task manager creates its job manager (linked to it for good) in its constructor, and takes its
    // challenge window, reference age and weight age from the core's delays.
    let init = TaskManager::deploy_builder(provider, key_registry, service_manager, owner, settings.guardian);
    let task_manager = runner.create(DeployStep::TaskManager, "TaskManager", init.calldata().clone()).await?;
    let tasks = TaskManager::new(task_manager, provider);
    let job_manager = tasks.jobManager().call().await.map_err(DeployError::contract("TaskManager.jobManager"))?;
    if settings.challenge_window.is_some() || settings.max_reference_age.is_some() {
        set_windows(runner, task_manager, key_registry, settings.challenge_window, settings.max_reference_age).await?;
    }
    let input = KeeperServiceManager::setTaskManagerCall { taskManager_: task_manager }.abi_encode();
    runner
        .call(DeployStep::LinkTaskManager, "KeeperServiceManager.setTaskManager", service_manager, input.into())
        .await?;
    // The set is empty now: confirming it here makes every weight read later (at registration) fresh
    // enough for batches until the task manager's weight age has passed; keepers confirm it from then on.
    let input = BlsKeyRegistry::updateAllWeightsCall {}.abi_encode();
    runner.call(DeployStep::ConfirmWeights, "BlsKeyRegistry.updateAllWeights", key_registry, input.into()).await?;
    let operator_set_id = KeeperServiceManager::new(service_manager, provider)
        .KEEPER_OPERATOR_SET_ID()
        .call()
        .await
        .map_err(DeployError::contract("KeeperServiceManager.KEEPER_OPERATOR_SET_ID"))?;
    Ok(AvsAddresses { service_manager, key_registry, job_manager, task_manager, operator_set_id, strategies })
}

/// Moves the task manager's windows from its own choice to the requested ones. Every setter checks
/// that the three still fit the horizon, so the ones that shrink go first: each intermediate sum is
/// then at most the larger of the start's and the end's, both of which fit.
async fn set_windows<P: Provider>(
    runner: &mut StepRunner<'_, P>,
    task_manager: Address,
    key_registry: Address,
    challenge_window: Option<u32>,
    max_reference_age: Option<u16>,
) -> Result<(), DeployError> {
    let provider = runner.provider();
    let tasks = TaskManager::new(task_manager, provider);
    let read = |what: &'static str| DeployError::contract(format!("TaskManager.{what}"));
    let now = SafetyWindows {
        challenge_window: tasks.challengeWindowBlocks().call().await.map_err(read("challengeWindowBlocks"))?,
        max_reference_age: tasks.maxReferenceAge().call().await.map_err(read("maxReferenceAge"))?,
        max_weight_age: tasks.maxWeightAge().call().await.map_err(read("maxWeightAge"))?,
    };
    let horizon = BlsKeyRegistry::new(key_registry, provider)
        .slashableHorizon()
        .call()
        .await
        .map_err(DeployError::contract("BlsKeyRegistry.slashableHorizon"))?;
    let window = challenge_window.unwrap_or(now.challenge_window);
    let age = max_reference_age.unwrap_or(now.max_reference_age);
    let target = SafetyWindows::fitting(horizon, window, age);
    let changes: [(DeployStep, &str, u64, u64, Bytes); 3] = [
        (
            DeployStep::SetMaxWeightAge,
            "TaskManager.setMaxWeightAge",
            now.max_weight_age.into(),
            target.max_weight_age.into(),
            TaskManager::setMaxWeightAgeCall { maxWeightAge_: target.max_weight_age }.abi_encode().into(),
        ),
        (
            DeployStep::SetMaxReferenceAge,
            "TaskManager.setMaxReferenceAge",
            now.max_reference_age.into(),
            target.max_reference_age.into(),
            TaskManager::setMaxReferenceAgeCall { maxReferenceAge_: target.max_reference_age }.abi_encode().into(),
        ),
        (
            DeployStep::SetChallengeWindow,
            "TaskManager.setChallengeWindow",
            now.challenge_window.into(),
            target.challenge_window.into(),
            TaskManager::setChallengeWindowCall { challengeWindowBlocks_: target.challenge_window }.abi_encode().into(),
        ),
    ];
    // A step an earlier run sent but did not see mined is waited for even if the chain shows it done.
    let journal = runner.journal();
    let unfinished = |step: DeployStep| journal.step(step).is_some_and(|record| !record.confirmed());
    let (shrinking, growing): (Vec<_>, Vec<_>) = changes
        .into_iter()
        .filter(|(step, _, from, to, _)| from != to || unfinished(*step))
        .partition(|(_, _, from, to, _)| to < from);
    for (step, what, _, _, input) in shrinking.into_iter().chain(growing) {
        runner.call(step, what, task_manager, input).await?;
    }
    Ok(())
}
