//! An operator's way into the keeper operator set through EigenLayer's own flow, and out again:
//! register as an EigenLayer operator, deposit stake into a strategy, allocate magnitude to the
//! keeper set, register for it with the BLS key and its proof of possession (EigenLayer calls our
//! registrar, which checks the proof and records the key); then deregister and deallocate.
//! Each function sends one transaction from the provider's wallet (the operator) and checks its receipt.

use alloy::network::Ethereum;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{PendingTransactionBuilder, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolValue;
use keeper_shared::bls::SecretKey;
use keeper_shared::deployment::Deployment;
use keeper_shared::eigenlayer::allocation_manager::{AllocationManager, IAllocationManagerTypes};
use keeper_shared::eigenlayer::delegation_manager::DelegationManager;
use keeper_shared::eigenlayer::strategy_manager::StrategyManager;
use keeper_shared::eigenlayer::IERC20;

use super::EigenLayerError;

/// Sends a prepared call and requires a successful receipt.
pub(crate) async fn confirm(
    step: &str,
    sent: Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
) -> Result<TransactionReceipt, EigenLayerError> {
    let pending = sent.map_err(EigenLayerError::contract(step))?;
    let receipt =
        pending.get_receipt().await.map_err(|source| EigenLayerError::Transaction { step: step.to_owned(), source })?;
    if !receipt.status() {
        return Err(EigenLayerError::Reverted { step: step.to_owned(), tx: receipt.transaction_hash });
    }
    Ok(receipt)
}

/// The registration data our registrar expects: `abi.encode(bytes pubkeyG1, bytes proofOfPossessionG2)`,
/// both in the EIP-2537 encoding, the proof bound to `operator`, the key registry and the chain.
pub fn registration_data(key: &SecretKey, chain_id: u64, key_registry: Address, operator: Address) -> Bytes {
    let pubkey = Bytes::from(key.public_key().to_eip2537().to_vec());
    let proof = Bytes::from(key.prove_possession(chain_id, key_registry, operator).to_eip2537().to_vec());
    (pubkey, proof).abi_encode_params().into()
}

/// `DelegationManager.registerAsOperator`: no delegation approver, the given allocation delay (blocks).
pub async fn register_as_operator<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    allocation_delay: u32,
    metadata_uri: &str,
) -> Result<TransactionReceipt, EigenLayerError> {
    let delegation = DelegationManager::new(deployment.eigenlayer.delegation_manager, provider);
    let call = delegation.registerAsOperator(Address::ZERO, allocation_delay, metadata_uri.to_owned());
    confirm("registering as an EigenLayer operator", call.send().await).await
}

/// Approves and deposits `amount` of the strategy's token into `strategy` (the operator restakes
/// its own tokens, so its shares count as its delegated stake).
pub async fn deposit<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    strategy: Address,
    token: Address,
    amount: U256,
) -> Result<TransactionReceipt, EigenLayerError> {
    let manager = deployment.eigenlayer.strategy_manager;
    confirm("approving the stake token", IERC20::new(token, provider).approve(manager, amount).send().await).await?;
    let strategies = StrategyManager::new(manager, provider);
    let call = strategies.depositIntoStrategy(strategy, token, amount);
    confirm("depositing into the strategy", call.send().await).await
}

/// Sets the operator's magnitude (1e18 = all of its stake in each strategy) allocated to the keeper
/// set; 0 deallocates. Takes effect after the operator's allocation delay (the next block when 0);
/// deallocations after the core's deallocation delay.
pub async fn allocate<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    operator: Address,
    magnitude: u64,
) -> Result<TransactionReceipt, EigenLayerError> {
    let params = IAllocationManagerTypes::AllocateParams {
        operatorSet: AllocationManager::OperatorSet {
            avs: deployment.avs.service_manager,
            id: deployment.avs.operator_set_id,
        },
        strategies: deployment.avs.strategies.clone(),
        newMagnitudes: vec![magnitude; deployment.avs.strategies.len()],
    };
    let allocations = AllocationManager::new(deployment.eigenlayer.allocation_manager, provider);
    let call = allocations.modifyAllocations(operator, vec![params]);
    confirm("allocating to the keeper operator set", call.send().await).await
}

/// Registers `operator` for the keeper set with its BLS key and proof of possession.
pub async fn register_for_keeper_set<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    operator: Address,
    key: &SecretKey,
) -> Result<TransactionReceipt, EigenLayerError> {
    let data = registration_data(key, deployment.chain_id, deployment.avs.key_registry, operator);
    let params = IAllocationManagerTypes::RegisterParams {
        avs: deployment.avs.service_manager,
        operatorSetIds: vec![deployment.avs.operator_set_id],
        data,
    };
    let allocations = AllocationManager::new(deployment.eigenlayer.allocation_manager, provider);
    let call = allocations.registerForOperatorSets(operator, params);
    confirm("registering for the keeper operator set", call.send().await).await
}

/// Deregisters `operator` from the keeper set (its key leaves the set's aggregate; stays slashable
/// for the core's deallocation delay).
pub async fn deregister_from_keeper_set<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    operator: Address,
) -> Result<TransactionReceipt, EigenLayerError> {
    let params = IAllocationManagerTypes::DeregisterParams {
        operator,
        avs: deployment.avs.service_manager,
        operatorSetIds: vec![deployment.avs.operator_set_id],
    };
    let allocations = AllocationManager::new(deployment.eigenlayer.allocation_manager, provider);
    let call = allocations.deregisterFromOperatorSets(params);
    confirm("deregistering from the keeper operator set", call.send().await).await
}
