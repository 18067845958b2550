//! Deploys EigenLayer's core (v1.3 slashing release) on a devnet from the bytecode the crates.io
//! crate `eigen-utils` publishes (committed in `contracts/test/eigenlayer/`, bound by
//! [`keeper_shared::eigenlayer`]), behind OpenZeppelin transparent proxies, in the order the
//! contracts require: proxies first (pointing at an empty implementation), so that each
//! implementation can be built with its peers' proxy addresses, then each proxy upgraded to its
//! implementation and initialised.

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use keeper_shared::contracts::{
    EmptyContract, PauserRegistry, ProxyAdmin, TransparentUpgradeableProxy, UpgradeableBeacon,
};
use keeper_shared::deployment::EigenLayerAddresses;
use keeper_shared::eigenlayer::{
    allocation_manager::AllocationManager, avs_directory::AVSDirectory, delegation_manager::DelegationManager,
    eigen_pod::EigenPod, eigen_pod_manager::EigenPodManager, permission_controller::PermissionController,
    strategy_manager::StrategyManager,
};

use keeperd::eigenlayer::EigenLayerError;

/// ERC-1967 admin slot: `bytes32(uint256(keccak256("eip1967.proxy.admin")) - 1)`.
const ERC1967_ADMIN_SLOT: B256 =
    alloy::primitives::b256!("0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103");

/// Devnet parameters of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Owner of every core contract and proxy admin; also pauser, unpauser and strategy whitelister.
    pub owner: Address,
    /// Blocks a withdrawal waits (DelegationManager).
    pub min_withdrawal_delay_blocks: u32,
    /// Blocks before deallocated magnitude is free (AllocationManager).
    pub deallocation_delay: u32,
    /// Blocks before a new allocation delay takes effect (AllocationManager).
    pub allocation_configuration_delay: u32,
    /// Version string of the implementations (at most 31 bytes).
    pub version: String,
}

impl CoreConfig {
    /// A short allocation configuration delay, so operators join in a few mined blocks; deallocation
    /// and withdrawal delays of 200 blocks (public testnets use about 50), which bound how long signed
    /// stake stays slashable: the task manager derives its challenge window (100), reference age (25)
    /// and weight age (75) from them. (A longer delay costs a devnet its first blocks: EigenLayer's
    /// slashing needs a chain older than the withdrawal delay, and anvil mines empty blocks slowly.)
    pub fn devnet(owner: Address) -> Self {
        Self {
            owner,
            min_withdrawal_delay_blocks: 200,
            deallocation_delay: 200,
            allocation_configuration_delay: 1,
            version: "v1.3.0-devnet".into(),
        }
    }
}

/// Deploys and initialises the core; returns the proxies' addresses.
pub async fn deploy_core<P: Provider>(
    provider: &P,
    config: &CoreConfig,
) -> Result<EigenLayerAddresses, EigenLayerError> {
    let owner = config.owner;
    let empty =
        *EmptyContract::deploy(provider).await.map_err(EigenLayerError::contract("deploying EmptyContract"))?.address();
    let pauser_registry = *PauserRegistry::deploy(provider, vec![owner], owner)
        .await
        .map_err(EigenLayerError::contract("deploying PauserRegistry"))?
        .address();

    let noop = Bytes::from(EmptyContract::noopCall {}.abi_encode());
    let mut proxies = Vec::with_capacity(6);
    for name in [
        "PermissionController",
        "DelegationManager",
        "StrategyManager",
        "AllocationManager",
        "AVSDirectory",
        "EigenPodManager",
    ] {
        // OpenZeppelin 5.6+ refuses a proxy with empty initialisation data; `noop()` is a harmless call.
        let proxy = TransparentUpgradeableProxy::deploy(provider, empty, owner, noop.clone())
            .await
            .map_err(EigenLayerError::contract(&format!("deploying the {name} proxy")))?;
        proxies.push(*proxy.address());
    }
    let [permission_controller, delegation, strategy_manager, allocation_manager, avs_directory, eigen_pod_manager] =
        <[Address; 6]>::try_from(proxies).unwrap_or_else(|_| unreachable!("six proxies were deployed"));

    // No beacon chain on a devnet: ethPOS is a placeholder address EigenPods never reach.
    let eth_pos = Address::repeat_byte(0xe7);
    let version = config.version.clone();
    let pod = EigenPod::deploy(provider, eth_pos, eigen_pod_manager, 0, version.clone())
        .await
        .map_err(EigenLayerError::contract("deploying EigenPod"))?;
    let beacon = UpgradeableBeacon::deploy(provider, *pod.address(), owner)
        .await
        .map_err(EigenLayerError::contract("deploying the EigenPod beacon"))?;

    let implementations = [
        *PermissionController::deploy(provider, version.clone())
            .await
            .map_err(EigenLayerError::contract("deploying PermissionController"))?
            .address(),
        *DelegationManager::deploy(
            provider,
            strategy_manager,
            eigen_pod_manager,
            allocation_manager,
            pauser_registry,
            permission_controller,
            config.min_withdrawal_delay_blocks,
            version.clone(),
        )
        .await
        .map_err(EigenLayerError::contract("deploying DelegationManager"))?
        .address(),
        *StrategyManager::deploy(provider, delegation, pauser_registry, version.clone())
            .await
            .map_err(EigenLayerError::contract("deploying StrategyManager"))?
            .address(),
        *AllocationManager::deploy(
            provider,
            delegation,
            pauser_registry,
            permission_controller,
            config.deallocation_delay,
            config.allocation_configuration_delay,
            version.clone(),
        )
        .await
        .map_err(EigenLayerError::contract("deploying AllocationManager"))?
        .address(),
        *AVSDirectory::deploy(provider, delegation, pauser_registry, version.clone())
            .await
            .map_err(EigenLayerError::contract("deploying AVSDirectory"))?
            .address(),
        *EigenPodManager::deploy(provider, eth_pos, *beacon.address(), delegation, pauser_registry, version)
            .await
            .map_err(EigenLayerError::contract("deploying EigenPodManager"))?
            .address(),
    ];

    let unpaused = U256::ZERO;
    let initializers = [
        Bytes::new(), // PermissionController has no initializer.
        Bytes::from(
            DelegationManager::initializeCall { initialOwner: owner, initialPausedStatus: unpaused }.abi_encode(),
        ),
        Bytes::from(
            StrategyManager::initializeCall {
                initialOwner: owner,
                initialStrategyWhitelister: owner,
                initialPausedStatus: unpaused,
            }
            .abi_encode(),
        ),
        Bytes::from(
            AllocationManager::initializeCall { initialOwner: owner, initialPausedStatus: unpaused }.abi_encode(),
        ),
        Bytes::from(AVSDirectory::initializeCall { initialOwner: owner, initialPausedStatus: unpaused }.abi_encode()),
        Bytes::from(EigenPodManager::initializeCall { initialOwner: owner, _initPausedStatus: unpaused }.abi_encode()),
    ];
    let proxies =
        [permission_controller, delegation, strategy_manager, allocation_manager, avs_directory, eigen_pod_manager];
    for ((proxy, implementation), init) in proxies.iter().zip(implementations).zip(initializers) {
        let step = format!("upgrading proxy {proxy} to {implementation}");
        let admin_word = provider
            .get_storage_at(*proxy, ERC1967_ADMIN_SLOT.into())
            .await
            .map_err(|source| EigenLayerError::Rpc { step: step.clone(), source })?;
        let admin = Address::from_word(admin_word.into());
        let receipt = ProxyAdmin::new(admin, provider)
            .upgradeAndCall(*proxy, implementation, init)
            .send()
            .await
            .map_err(EigenLayerError::contract(&step))?
            .get_receipt()
            .await
            .map_err(|source| EigenLayerError::Transaction { step: step.clone(), source })?;
        if !receipt.status() {
            return Err(EigenLayerError::Reverted { step, tx: receipt.transaction_hash });
        }
    }

    Ok(EigenLayerAddresses {
        delegation_manager: delegation,
        strategy_manager,
        allocation_manager,
        avs_directory,
        permission_controller,
        eigen_pod_manager: Some(eigen_pod_manager),
        pauser_registry: Some(pauser_registry),
    })
}
