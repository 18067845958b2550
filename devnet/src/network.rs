//! Deploys a whole devnet network: the real EigenLayer core, a stake token with its strategy, and
//! our AVS (service manager, BLS key registry, job manager, task manager) registered in EigenLayer with the keeper operator set.

use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use keeper_shared::api::FULL_MAGNITUDE;
use keeper_shared::contracts::{DevnetStrategyFactory, ERC20Strategy, StakeToken};
use keeper_shared::deployment::{AvsSettings, DeployJournal, Deployment, EigenLayerAddresses};
use keeper_shared::eigenlayer::allocation_manager::AllocationManager;
use keeper_shared::eigenlayer::strategy_manager::StrategyManager;

use keeperd::deploy::{deploy_avs, DeployError, StepRunner};
use keeperd::eigenlayer::onboarding::confirm;
use keeperd::eigenlayer::EigenLayerError;

use crate::eigenlayer_core::{deploy_core, CoreConfig};

/// The AVS metadata URI a devnet publishes.
pub const DEVNET_METADATA_URI: &str = "https://keeper-network.invalid/devnet/avs.json";

/// Devnet AVS parameters.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    pub core: CoreConfig,
    /// Largest share of an operator's stake one slash may take (1e18 = all).
    pub max_slash_wad: U256,
    /// Slashable stake (in strategy shares) an operator needs to join the keeper set.
    pub minimum_stake: U256,
    /// Who may pause and resume the task manager's batches (the owner, on a devnet).
    pub guardian: Address,
}

impl NetworkConfig {
    pub fn devnet(owner: Address) -> Self {
        Self {
            core: CoreConfig::devnet(owner),
            max_slash_wad: U256::from(500_000_000_000_000_000u64),
            minimum_stake: U256::from(1_000_000_000_000_000_000u64),
            guardian: owner,
        }
    }
}

/// The devnet's EigenLayer core with a stake token and its strategy, whitelisted by the core's
/// owner (as only a devnet can): what a public network has before an AVS arrives.
#[derive(Debug, Clone)]
pub struct DevnetCore {
    pub core: EigenLayerAddresses,
    pub stake_token: Address,
    pub strategy: Address,
    /// Creates and whitelists the strategy of any ERC20 (the StrategyManager's whitelister from now
    /// on), as EigenLayer's StrategyFactory does on a public network.
    pub strategy_factory: Address,
    /// The head before the core was deployed.
    pub deploy_block: u64,
}

/// Deploys everything from the provider's wallet (which becomes every owner) and describes it: the
/// devnet's core ([`deploy_devnet_core`]), then the AVS on it as `keeperd deploy` does on a public
/// network's.
pub async fn deploy_network<P: Provider>(provider: &P, config: &NetworkConfig) -> Result<Deployment, DeployError> {
    let owner = config.core.owner;
    let DevnetCore { core, stake_token, strategy, deploy_block, .. } =
        deploy_devnet_core(provider, &config.core).await?;
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|source| EigenLayerError::Rpc { step: "reading the chain id".into(), source })?;
    let settings = AvsSettings {
        owner,
        guardian: config.guardian,
        metadata_uri: DEVNET_METADATA_URI.into(),
        strategies: vec![strategy],
        new_strategy_token: None,
        minimum_stake: config.minimum_stake,
        max_slash_wad: config.max_slash_wad,
        challenge_window: None,
        max_reference_age: None,
    };
    let journal = DeployJournal::new("devnet", chain_id, owner, deploy_block, settings);
    let avs = deploy_avs(&mut StepRunner::new(provider, journal), &core, None).await?;
    Ok(Deployment { chain_id, deploy_block, eigenlayer: core, avs, stake_token: Some(stake_token), deploy_log: None })
}

/// Deploys the devnet's core, stake token and strategy, and a strategy factory, from the provider's
/// wallet (the owner).
pub async fn deploy_devnet_core<P: Provider>(provider: &P, config: &CoreConfig) -> Result<DevnetCore, EigenLayerError> {
    let owner = config.owner;
    // EigenLayer's slashing computes `block.number - MIN_WITHDRAWAL_DELAY_BLOCKS - 1` and reverts on a
    // younger chain: a fresh devnet first grows past it.
    let head = provider
        .get_block_number()
        .await
        .map_err(|source| EigenLayerError::Rpc { step: "reading the head".into(), source })?;
    let oldest_slashable = u64::from(config.min_withdrawal_delay_blocks) + 2;
    if head < oldest_slashable {
        mine_blocks(provider, oldest_slashable - head).await?;
    }
    let deploy_block = provider
        .get_block_number()
        .await
        .map_err(|source| EigenLayerError::Rpc { step: "reading the deploy block".into(), source })?;
    let core = deploy_core(provider, config).await?;

    let token = StakeToken::deploy(provider, "Keeper Devnet Stake".into(), "KSTAKE".into(), owner)
        .await
        .map_err(EigenLayerError::contract("deploying StakeToken"))?;
    let strategy = ERC20Strategy::deploy(provider, core.strategy_manager, *token.address())
        .await
        .map_err(EigenLayerError::contract("deploying ERC20Strategy"))?;
    let strategies = StrategyManager::new(core.strategy_manager, provider);
    confirm(
        "whitelisting the strategy for deposits",
        strategies.addStrategiesToDepositWhitelist(vec![*strategy.address()]).send().await,
    )
    .await?;

    // From here on strategies are whitelisted by the factory only, as on a public network.
    let factory = DevnetStrategyFactory::deploy(provider, core.strategy_manager)
        .await
        .map_err(EigenLayerError::contract("deploying DevnetStrategyFactory"))?;
    confirm(
        "making the strategy factory the strategy whitelister",
        strategies.setStrategyWhitelister(*factory.address()).send().await,
    )
    .await?;
    Ok(DevnetCore {
        core,
        stake_token: *token.address(),
        strategy: *strategy.address(),
        strategy_factory: *factory.address(),
        deploy_block,
    })
}

/// Mines `blocks` empty blocks (anvil only): EigenLayer's delays are counted in blocks.
pub async fn mine_blocks<P: Provider>(provider: &P, blocks: u64) -> Result<(), EigenLayerError> {
    provider
        .raw_request::<_, ()>("anvil_mine".into(), (alloy::primitives::U64::from(blocks),))
        .await
        .map_err(|source| EigenLayerError::Rpc { step: "mining blocks (anvil_mine)".into(), source })
}

/// Walks one devnet operator through EigenLayer's flow: the owner mints it `stake` tokens; it
/// registers as an operator (allocation delay 0), deposits, waits out the allocation configuration
/// delay where the core applies one, allocates all its magnitude to the keeper set and registers with its BLS key. Returns the
/// receipt of the registration for the set.
pub async fn onboard_devnet_operator<O: Provider, P: Provider>(
    owner: &O,
    operator_provider: &P,
    operator: Address,
    deployment: &Deployment,
    key: &keeper_shared::bls::SecretKey,
    stake: U256,
) -> Result<alloy::rpc::types::TransactionReceipt, EigenLayerError> {
    use keeperd::eigenlayer::onboarding;

    let token_address = deployment
        .stake_token
        .ok_or_else(|| EigenLayerError::Config("the deployment names no stake token (not a devnet)".into()))?;
    let token = StakeToken::new(token_address, owner);
    confirm("minting stake tokens", token.mint(operator, stake).send().await).await?;
    onboarding::register_as_operator(operator_provider, deployment, 0, "https://keeper-network.invalid/operator.json")
        .await?;
    onboarding::deposit(operator_provider, deployment, deployment.avs.strategies[0], token_address, stake).await?;
    // Mine through the configuration delay only where the core still applies one to a new operator
    // (up to v1.8; from v1.9 the delay is in effect at once).
    if !onboarding::allocation_delay_in_effect(operator_provider, deployment, operator).await? {
        let allocation = AllocationManager::new(deployment.eigenlayer.allocation_manager, operator_provider);
        let delay = allocation
            .ALLOCATION_CONFIGURATION_DELAY()
            .call()
            .await
            .map_err(EigenLayerError::contract("reading ALLOCATION_CONFIGURATION_DELAY"))?;
        mine_blocks(operator_provider, u64::from(delay) + 1).await?;
    }
    onboarding::allocate(operator_provider, deployment, operator, FULL_MAGNITUDE).await?;
    mine_blocks(operator_provider, 1).await?;
    onboarding::register_for_keeper_set(operator_provider, deployment, operator, key).await
}

/// `operator`'s minimum slashable stake in the keeper set's first strategy at the head (EigenLayer's
/// `getMinimumSlashableStake`): what a slash could take now.
pub async fn slashable_stake<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    operator: Address,
) -> Result<U256, EigenLayerError> {
    let allocation = AllocationManager::new(deployment.eigenlayer.allocation_manager, provider);
    let set =
        AllocationManager::OperatorSet { avs: deployment.avs.service_manager, id: deployment.avs.operator_set_id };
    let head = provider
        .get_block_number()
        .await
        .map_err(|source| EigenLayerError::Rpc { step: "reading the head".into(), source })?;
    let block = u32::try_from(head).map_err(|_| EigenLayerError::Config(format!("block {head} exceeds u32")))?;
    let stakes = allocation
        .getMinimumSlashableStake(set, vec![operator], deployment.avs.strategies.clone(), block)
        .call()
        .await
        .map_err(EigenLayerError::contract("reading getMinimumSlashableStake"))?;
    stakes
        .first()
        .and_then(|s| s.first())
        .copied()
        .ok_or_else(|| EigenLayerError::Config("getMinimumSlashableStake returned no stake".into()))
}
