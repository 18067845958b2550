//! Network files: the EigenLayer core a public chain runs (its proxies, strategy factory and
//! strategies), which the AVS is deployed against and operators join through. `sepolia` and
//! `hoodi` are built in (`shared/networks/*.json`, copied from EigenLayer's published deployment
//! table, named in each file's `source`); any other chain is described by a file of the same shape.
//!
//! [`inspect_core`] reads what the file cannot promise from the chain itself: the chain id (a file
//! used against the wrong endpoint is refused), the core's version and delays (testnets run newer
//! releases than the devnet, with shorter delays), and whether each strategy is a whitelisted
//! strategy with code.

use std::collections::BTreeMap;
use std::path::Path;

use alloy::primitives::Address;
use alloy::providers::Provider;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::deployment::EigenLayerAddresses;

/// The built-in networks: (name, file).
const PRESETS: [(&str, &str); 2] =
    [("sepolia", include_str!("../networks/sepolia.json")), ("hoodi", include_str!("../networks/hoodi.json"))];

/// Why a network file could not be used.
#[derive(Debug, Error)]
pub enum NetworkError {
    #[error("network `{name}` is neither a built-in network ({known}) nor a readable file: {source}")]
    Unknown { name: String, known: String, source: std::io::Error },
    #[error("network file {path}: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("network file {path}: field `{field}` is the zero address")]
    ZeroAddress { path: String, field: String },
    #[error("network file {path}: `strategies` is empty (the keeper set needs at least one)")]
    NoStrategies { path: String },
    #[error("network `{network}` is chain {expected}, but the RPC endpoint serves chain {actual}")]
    ChainIdMismatch { network: String, expected: u64, actual: u64 },
    #[error("network `{network}`: {what} at {address} is not a contract (no code on chain {chain_id})")]
    NoCode { network: String, what: String, address: Address, chain_id: u64 },
    #[error("network `{network}`: strategy {name} ({address}) is not whitelisted for deposits in the StrategyManager")]
    NotWhitelisted { network: String, name: String, address: Address },
    #[error("network `{network}`: reading {what} from chain: {source}")]
    Rpc { network: String, what: String, source: alloy::transports::TransportError },
    #[error("network `{network}`: calling {what}: {source}")]
    Contract { network: String, what: String, source: Box<alloy::contract::Error> },
}

/// One network's EigenLayer core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Network {
    pub name: String,
    pub chain_id: u64,
    /// Where the addresses come from (a published table, a deployment of one's own).
    pub source: String,
    pub eigenlayer: EigenLayerAddresses,
    /// EigenLayer's StrategyFactory: the only way to whitelist a new ERC20 strategy on a public
    /// testnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_factory: Option<Address>,
    /// Strategies an AVS may count, by name (`WETH`, `stETH`, `EIGEN` on the testnets).
    pub strategies: BTreeMap<String, Address>,
}

impl Network {
    /// The names of the built-in networks.
    pub fn presets() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|(name, _)| *name)
    }

    /// A built-in network by name, else the network file at `name_or_path`.
    pub fn load(name_or_path: &str) -> Result<Self, NetworkError> {
        if let Some((name, text)) = PRESETS.iter().find(|(name, _)| *name == name_or_path) {
            return Self::parse(text, &format!("(built-in {name})"));
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|source| NetworkError::Unknown {
            name: name_or_path.to_owned(),
            known: Self::presets().collect::<Vec<_>>().join(", "),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks a network file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Self, NetworkError> {
        let network: Self =
            serde_json::from_str(text).map_err(|source| NetworkError::Json { path: path.to_owned(), source })?;
        network.check(path)?;
        Ok(network)
    }

    fn check(&self, path: &str) -> Result<(), NetworkError> {
        let core = &self.eigenlayer;
        let mut named: Vec<(String, Address)> = vec![
            ("eigenlayer.delegationManager".into(), core.delegation_manager),
            ("eigenlayer.strategyManager".into(), core.strategy_manager),
            ("eigenlayer.allocationManager".into(), core.allocation_manager),
            ("eigenlayer.avsDirectory".into(), core.avs_directory),
            ("eigenlayer.permissionController".into(), core.permission_controller),
        ];
        named.extend(self.strategies.iter().map(|(name, address)| (format!("strategies.{name}"), *address)));
        named.extend(self.strategy_factory.map(|a| ("strategyFactory".to_owned(), a)));
        if let Some((field, _)) = named.into_iter().find(|(_, address)| address.is_zero()) {
            return Err(NetworkError::ZeroAddress { path: path.to_owned(), field });
        }
        if self.strategies.is_empty() {
            return Err(NetworkError::NoStrategies { path: path.to_owned() });
        }
        Ok(())
    }

    /// Refuses an endpoint that serves another chain than this network's.
    pub fn check_chain_id(&self, actual: u64) -> Result<(), NetworkError> {
        if actual == self.chain_id {
            Ok(())
        } else {
            Err(NetworkError::ChainIdMismatch { network: self.name.clone(), expected: self.chain_id, actual })
        }
    }
}

alloy::sol! {
    /// The few core functions the inspection reads, with the signatures of EigenLayer's v1.3 to
    /// v1.12 releases (`IAllocationManager`, `IDelegationManager`, `IStrategyManager`, `IStrategy`,
    /// and the `SemVerMixin` the DelegationManager inherits from v1.3 on).
    #[sol(rpc)]
    interface CoreView {
        function version() external view returns (string);
        function DEALLOCATION_DELAY() external view returns (uint32);
        function ALLOCATION_CONFIGURATION_DELAY() external view returns (uint32);
        function minWithdrawalDelayBlocks() external view returns (uint32);
        function strategyIsWhitelistedForDeposit(address strategy) external view returns (bool);
        function underlyingToken() external view returns (address);
    }
}

/// What the chain says about a network's core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoreReport {
    pub network: String,
    pub chain_id: u64,
    /// The core's version string (the DelegationManager's, which every release from v1.3 to v1.12
    /// has).
    pub version: String,
    /// Blocks before deallocated stake stops being slashable (AllocationManager).
    pub deallocation_delay: u32,
    /// Blocks before an operator's new allocation delay applies (AllocationManager).
    pub allocation_configuration_delay: u32,
    /// Blocks a withdrawal waits (DelegationManager).
    pub min_withdrawal_delay_blocks: u32,
    /// For how long a weight read now stays slashable: the shorter of the two delays above, as the
    /// key registry's `slashableHorizon()` computes it; the task manager fits its challenge window,
    /// reference age and weight age inside it.
    pub slashable_horizon: u32,
    pub strategies: Vec<StrategyReport>,
}

/// One strategy as the chain reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyReport {
    pub name: String,
    pub address: Address,
    pub underlying_token: Address,
}

/// Checks `network` against the chain `provider` reaches: the chain id, code at every core proxy
/// and strategy, each strategy whitelisted for deposits; and reads the core's version and delays.
pub async fn inspect_core<P: Provider>(network: &Network, provider: &P) -> Result<CoreReport, NetworkError> {
    let name = || network.name.clone();
    let rpc = |what: &str| {
        let what = what.to_owned();
        move |source| NetworkError::Rpc { network: name(), what, source }
    };
    let call = |what: &str| {
        let what = what.to_owned();
        move |source| NetworkError::Contract { network: name(), what, source: Box::new(source) }
    };
    let chain_id = provider.get_chain_id().await.map_err(rpc("the chain id"))?;
    network.check_chain_id(chain_id)?;

    let core = &network.eigenlayer;
    let mut contracts = vec![
        ("DelegationManager".to_owned(), core.delegation_manager),
        ("StrategyManager".to_owned(), core.strategy_manager),
        ("AllocationManager".to_owned(), core.allocation_manager),
        ("AVSDirectory".to_owned(), core.avs_directory),
        ("PermissionController".to_owned(), core.permission_controller),
    ];
    contracts.extend(network.strategies.iter().map(|(n, a)| (format!("strategy {n}"), *a)));
    contracts.extend(network.strategy_factory.map(|a| ("StrategyFactory".to_owned(), a)));
    for (what, address) in contracts {
        let code = provider.get_code_at(address).await.map_err(rpc(&format!("the code of {what}")))?;
        if code.is_empty() {
            return Err(NetworkError::NoCode { network: name(), what, address, chain_id });
        }
    }

    // The DelegationManager, not the AllocationManager: the latter has no `version()` from v1.9.0 on
    // (EigenLayer's commit 9bb47f8a1, "remove semver"); the former keeps it through v1.12.0.
    let version = CoreView::new(core.delegation_manager, provider)
        .version()
        .call()
        .await
        .map_err(call("DelegationManager.version()"))?;
    let allocation = CoreView::new(core.allocation_manager, provider);
    let deallocation_delay =
        allocation.DEALLOCATION_DELAY().call().await.map_err(call("AllocationManager.DEALLOCATION_DELAY()"))?;
    let allocation_configuration_delay = allocation
        .ALLOCATION_CONFIGURATION_DELAY()
        .call()
        .await
        .map_err(call("AllocationManager.ALLOCATION_CONFIGURATION_DELAY()"))?;
    let min_withdrawal_delay_blocks = CoreView::new(core.delegation_manager, provider)
        .minWithdrawalDelayBlocks()
        .call()
        .await
        .map_err(call("DelegationManager.minWithdrawalDelayBlocks()"))?;

    let strategy_manager = CoreView::new(core.strategy_manager, provider);
    let mut strategies = Vec::with_capacity(network.strategies.len());
    for (strategy_name, &address) in &network.strategies {
        let whitelisted = strategy_manager
            .strategyIsWhitelistedForDeposit(address)
            .call()
            .await
            .map_err(call(&format!("StrategyManager.strategyIsWhitelistedForDeposit({strategy_name})")))?;
        if !whitelisted {
            return Err(NetworkError::NotWhitelisted { network: name(), name: strategy_name.clone(), address });
        }
        let underlying_token = CoreView::new(address, provider)
            .underlyingToken()
            .call()
            .await
            .map_err(call(&format!("{strategy_name}.underlyingToken()")))?;
        strategies.push(StrategyReport { name: strategy_name.clone(), address, underlying_token });
    }
    Ok(CoreReport {
        network: name(),
        chain_id,
        version,
        deallocation_delay,
        allocation_configuration_delay,
        min_withdrawal_delay_blocks,
        slashable_horizon: deallocation_delay.min(min_withdrawal_delay_blocks),
        strategies,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn built_in_networks_load_and_name_their_chain() {
        let sepolia = Network::load("sepolia").unwrap();
        assert_eq!((sepolia.name.as_str(), sepolia.chain_id), ("sepolia", 11_155_111));
        let hoodi = Network::load("hoodi").unwrap();
        assert_eq!((hoodi.name.as_str(), hoodi.chain_id), ("hoodi", 560_048));
        for network in [&sepolia, &hoodi] {
            assert_eq!(network.strategies.keys().collect::<Vec<_>>(), ["EIGEN", "WETH", "stETH"]);
            assert!(network.strategy_factory.is_some());
            assert!(network.source.contains("eigenlayer-contracts"));
        }
        // Facts from the published table, pinned so that an edit of the files is deliberate.
        assert_eq!(
            hoodi.eigenlayer.allocation_manager,
            "0x95a7431400F362F3647a69535C5666cA0133CAA0".parse::<Address>().unwrap()
        );
        assert_eq!(
            sepolia.eigenlayer.allocation_manager,
            "0x42583067658071247ec8CE0A516A58f682002d07".parse::<Address>().unwrap()
        );
    }

    #[test]
    fn a_wrong_chain_id_is_refused_with_both_ids() {
        let hoodi = Network::load("hoodi").unwrap();
        hoodi.check_chain_id(560_048).unwrap();
        let error = hoodi.check_chain_id(11_155_111).unwrap_err().to_string();
        assert!(error.contains("560048") && error.contains("11155111"), "{error}");
    }

    #[test]
    fn an_unknown_name_lists_the_built_in_networks() {
        let error = Network::load("holesky").unwrap_err().to_string();
        assert!(error.contains("sepolia, hoodi"), "{error}");
    }

    #[test]
    fn files_name_the_field_that_is_wrong() {
        let good = include_str!("../networks/hoodi.json");
        let zero = good.replace("0x24579aD4fe83aC53546E5c2D3dF5F85D6383420d", &Address::ZERO.to_string());
        let error = Network::parse(&zero, "my.json").unwrap_err().to_string();
        assert!(error.contains("my.json") && error.contains("strategies.WETH"), "{error}");

        let typo = good.replace("\"strategyFactory\"", "\"strategyFactroy\"");
        let error = Network::parse(&typo, "my.json").unwrap_err().to_string();
        assert!(error.contains("strategyFactroy"), "{error}");

        let mut empty: Network = serde_json::from_str(good).unwrap();
        empty.strategies.clear();
        let error = Network::parse(&serde_json::to_string(&empty).unwrap(), "my.json").unwrap_err();
        assert!(matches!(error, NetworkError::NoStrategies { .. }), "{error}");
    }
}
