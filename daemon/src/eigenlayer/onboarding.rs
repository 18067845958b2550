//! An operator's way into the keeper operator set through EigenLayer's own flow, and out again:
//! register as an EigenLayer operator, deposit stake into a strategy, allocate magnitude to the
//! keeper set, register for it with the BLS key and its proof of possession (EigenLayer calls our
//! registrar, which checks the proof and records the key); then deregister and deallocate.
//! Each call is built once here (`*_call`, also what the control API's operator writes send through
//! the daemon's transaction sender); each async function sends one from the provider's wallet (the
//! operator) and checks its receipt.

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
pub async fn confirm(
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

/// The keeper operator set, in EigenLayer's types.
pub fn keeper_set(deployment: &Deployment) -> AllocationManager::OperatorSet {
    AllocationManager::OperatorSet { avs: deployment.avs.service_manager, id: deployment.avs.operator_set_id }
}

/// `DelegationManager.registerAsOperator`: no delegation approver, the given allocation delay (blocks).
pub fn register_as_operator_call(
    allocation_delay: u32,
    metadata_uri: &str,
) -> DelegationManager::registerAsOperatorCall {
    DelegationManager::registerAsOperatorCall {
        initDelegationApprover: Address::ZERO,
        allocationDelay: allocation_delay,
        metadataURI: metadata_uri.to_owned(),
    }
}

/// `StrategyManager.depositIntoStrategy` of `amount` of `token` (approved to the manager first).
pub fn deposit_call(strategy: Address, token: Address, amount: U256) -> StrategyManager::depositIntoStrategyCall {
    StrategyManager::depositIntoStrategyCall { strategy, token, amount }
}

/// `AllocationManager.modifyAllocations`: `magnitude` (1e18 = all of the stake) of every keeper-set
/// strategy to the keeper set; 0 deallocates.
pub fn allocate_call(
    deployment: &Deployment,
    operator: Address,
    magnitude: u64,
) -> AllocationManager::modifyAllocationsCall {
    let params = IAllocationManagerTypes::AllocateParams {
        operatorSet: keeper_set(deployment),
        strategies: deployment.avs.strategies.clone(),
        newMagnitudes: vec![magnitude; deployment.avs.strategies.len()],
    };
    AllocationManager::modifyAllocationsCall { operator, params: vec![params] }
}

/// `AllocationManager.registerForOperatorSets`: the keeper set, with the BLS key and its proof of
/// possession for our registrar.
pub fn register_call(
    deployment: &Deployment,
    operator: Address,
    key: &SecretKey,
) -> AllocationManager::registerForOperatorSetsCall {
    let data = registration_data(key, deployment.chain_id, deployment.avs.key_registry, operator);
    let params = IAllocationManagerTypes::RegisterParams {
        avs: deployment.avs.service_manager,
        operatorSetIds: vec![deployment.avs.operator_set_id],
        data,
    };
    AllocationManager::registerForOperatorSetsCall { operator, params }
}

/// `AllocationManager.deregisterFromOperatorSets`: the keeper set.
pub fn deregister_call(
    deployment: &Deployment,
    operator: Address,
) -> AllocationManager::deregisterFromOperatorSetsCall {
    let params = IAllocationManagerTypes::DeregisterParams {
        operator,
        avs: deployment.avs.service_manager,
        operatorSetIds: vec![deployment.avs.operator_set_id],
    };
    AllocationManager::deregisterFromOperatorSetsCall { params }
}

/// Whether `operator`'s allocation delay is in effect, so that it may allocate (EigenLayer's
/// `getAllocationDelay`). A new operator's delay applies `ALLOCATION_CONFIGURATION_DELAY + 1` blocks
/// after `registerAsOperator` on cores up to v1.8, and at once from v1.9: read it rather than wait.
pub async fn allocation_delay_in_effect<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    operator: Address,
) -> Result<bool, EigenLayerError> {
    let allocation = AllocationManager::new(deployment.eigenlayer.allocation_manager, provider);
    let delay = allocation
        .getAllocationDelay(operator)
        .call()
        .await
        .map_err(EigenLayerError::contract("reading the allocation delay"))?;
    Ok(delay._0)
}

/// Registers as an EigenLayer operator ([`register_as_operator_call`]).
pub async fn register_as_operator<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    allocation_delay: u32,
    metadata_uri: &str,
) -> Result<TransactionReceipt, EigenLayerError> {
    let delegation = DelegationManager::new(deployment.eigenlayer.delegation_manager, provider);
    let call = register_as_operator_call(allocation_delay, metadata_uri);
    confirm("registering as an EigenLayer operator", delegation.call_builder(&call).send().await).await
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
    let call = deposit_call(strategy, token, amount);
    confirm("depositing into the strategy", strategies.call_builder(&call).send().await).await
}

/// Sets the operator's magnitude allocated to the keeper set ([`allocate_call`]). Takes effect after
/// the operator's allocation delay (the next block when 0); deallocations after the core's
/// deallocation delay.
pub async fn allocate<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    operator: Address,
    magnitude: u64,
) -> Result<TransactionReceipt, EigenLayerError> {
    let allocations = AllocationManager::new(deployment.eigenlayer.allocation_manager, provider);
    let call = allocate_call(deployment, operator, magnitude);
    confirm("allocating to the keeper operator set", allocations.call_builder(&call).send().await).await
}

/// Registers `operator` for the keeper set with its BLS key and proof of possession ([`register_call`]).
pub async fn register_for_keeper_set<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    operator: Address,
    key: &SecretKey,
) -> Result<TransactionReceipt, EigenLayerError> {
    let allocations = AllocationManager::new(deployment.eigenlayer.allocation_manager, provider);
    let call = register_call(deployment, operator, key);
    confirm("registering for the keeper operator set", allocations.call_builder(&call).send().await).await
}

/// Deregisters `operator` from the keeper set (its key leaves the set's aggregate; stays slashable
/// for the core's deallocation delay).
pub async fn deregister_from_keeper_set<P: Provider>(
    provider: &P,
    deployment: &Deployment,
    operator: Address,
) -> Result<TransactionReceipt, EigenLayerError> {
    let allocations = AllocationManager::new(deployment.eigenlayer.allocation_manager, provider);
    let call = deregister_call(deployment, operator);
    confirm("deregistering from the keeper operator set", allocations.call_builder(&call).send().await).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The calls the devnet's onboarding and the control API's operator writes both send name the
    /// keeper set of the deployment, every one of its strategies, and the operator's proven key.
    #[test]
    fn the_calls_name_the_keeper_set_its_strategies_and_the_proven_key() {
        let deployment = Deployment::sample();
        let operator = Address::repeat_byte(0x42);
        let set = keeper_set(&deployment);
        assert_eq!((set.avs, set.id), (deployment.avs.service_manager, 3));

        let allocate = allocate_call(&deployment, operator, 7);
        assert_eq!(allocate.operator, operator);
        let [params] = allocate.params.as_slice() else { panic!("one allocation: {:?}", allocate.params) };
        assert_eq!((params.operatorSet.avs, params.operatorSet.id), (set.avs, set.id));
        assert_eq!(params.strategies, deployment.avs.strategies);
        assert_eq!(params.newMagnitudes, vec![7, 7]);

        let key = SecretKey::random(&mut rand::rngs::OsRng);
        let register = register_call(&deployment, operator, &key);
        assert_eq!((register.operator, register.params.avs), (operator, set.avs));
        assert_eq!(register.params.operatorSetIds, vec![3]);
        let (pubkey, proof) = <(Bytes, Bytes)>::abi_decode_params(&register.params.data).unwrap();
        assert_eq!(pubkey.as_ref(), key.public_key().to_eip2537().as_slice());
        let expected = key.prove_possession(deployment.chain_id, deployment.avs.key_registry, operator);
        assert_eq!(proof.as_ref(), expected.to_eip2537().as_slice(), "the proof binds the operator and registry");

        let deregister = deregister_call(&deployment, operator);
        assert_eq!((deregister.params.operator, deregister.params.avs), (operator, set.avs));
        assert_eq!(deregister.params.operatorSetIds, vec![3]);
    }
}
