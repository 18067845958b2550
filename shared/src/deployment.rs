//! The deployment file: where the contracts of one network live. `keeperd devnet` writes it after
//! deploying; for a public testnet it is written by hand from EigenLayer's published addresses and
//! ours. The daemon and the CLI read it.

use std::path::Path;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a deployment file could not be used.
#[derive(Debug, Error)]
pub enum DeploymentError {
    #[error("deployment file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("deployment file {path}: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("deployment file: field `{field}` is the zero address")]
    ZeroAddress { field: &'static str },
}

/// EigenLayer core contracts (proxies) the AVS talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EigenLayerAddresses {
    pub delegation_manager: Address,
    pub strategy_manager: Address,
    pub allocation_manager: Address,
    pub avs_directory: Address,
    pub permission_controller: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eigen_pod_manager: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pauser_registry: Option<Address>,
}

/// Our AVS contracts and the stake they count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvsAddresses {
    /// The AVS address in EigenLayer (also its registrar and its only slasher).
    pub service_manager: Address,
    pub key_registry: Address,
    /// Jobs, their specs and escrow.
    pub job_manager: Address,
    /// Accepts signed batches of task responses and performs them; a slasher of the service manager.
    pub task_manager: Address,
    /// The keeper operator set's id.
    pub operator_set_id: u32,
    /// Strategies whose stake the keeper set counts.
    pub strategies: Vec<Address>,
}

/// One network's deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    pub chain_id: u64,
    /// The first block to index events from.
    pub deploy_block: u64,
    pub eigenlayer: EigenLayerAddresses,
    pub avs: AvsAddresses,
    /// Devnet only: the ERC20 staked into the strategy (on a testnet, the strategy names its token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stake_token: Option<Address>,
}

impl Deployment {
    /// Reads and checks a deployment file.
    pub fn read(path: &Path) -> Result<Self, DeploymentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DeploymentError::Io { path: path.display().to_string(), source })?;
        let deployment: Self = serde_json::from_str(&text)
            .map_err(|source| DeploymentError::Json { path: path.display().to_string(), source })?;
        deployment.check()?;
        Ok(deployment)
    }

    /// Writes the file (pretty JSON).
    pub fn write(&self, path: &Path) -> Result<(), DeploymentError> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|source| DeploymentError::Json { path: path.display().to_string(), source })?;
        text.push('\n');
        std::fs::write(path, text).map_err(|source| DeploymentError::Io { path: path.display().to_string(), source })
    }

    fn check(&self) -> Result<(), DeploymentError> {
        let required = [
            ("eigenlayer.delegationManager", self.eigenlayer.delegation_manager),
            ("eigenlayer.strategyManager", self.eigenlayer.strategy_manager),
            ("eigenlayer.allocationManager", self.eigenlayer.allocation_manager),
            ("eigenlayer.avsDirectory", self.eigenlayer.avs_directory),
            ("eigenlayer.permissionController", self.eigenlayer.permission_controller),
            ("avs.serviceManager", self.avs.service_manager),
            ("avs.keyRegistry", self.avs.key_registry),
            ("avs.jobManager", self.avs.job_manager),
            ("avs.taskManager", self.avs.task_manager),
        ];
        for (field, address) in required {
            if address.is_zero() {
                return Err(DeploymentError::ZeroAddress { field });
            }
        }
        if self.avs.strategies.iter().any(|a| a.is_zero()) {
            return Err(DeploymentError::ZeroAddress { field: "avs.strategies" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Deployment {
        let a = |n: u8| Address::repeat_byte(n);
        Deployment {
            chain_id: 31337,
            deploy_block: 1,
            eigenlayer: EigenLayerAddresses {
                delegation_manager: a(1),
                strategy_manager: a(2),
                allocation_manager: a(3),
                avs_directory: a(4),
                permission_controller: a(5),
                eigen_pod_manager: Some(a(6)),
                pauser_registry: None,
            },
            avs: AvsAddresses {
                service_manager: a(7),
                key_registry: a(8),
                job_manager: a(11),
                task_manager: a(12),
                operator_set_id: 0,
                strategies: vec![a(9)],
            },
            stake_token: Some(a(10)),
        }
    }

    #[test]
    fn round_trips_and_names_bad_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deployment.json");
        sample().write(&path).unwrap();
        assert_eq!(Deployment::read(&path).unwrap(), sample());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"allocationManager\""), "{text}");

        let mut zero = sample();
        zero.avs.key_registry = Address::ZERO;
        zero.write(&path).unwrap();
        let err = Deployment::read(&path).unwrap_err().to_string();
        assert!(err.contains("avs.keyRegistry"), "{err}");

        std::fs::write(&path, text.replace("\"chainId\"", "\"chainid\"")).unwrap();
        let err = Deployment::read(&path).unwrap_err().to_string();
        assert!(err.contains("chainid"), "{err}");
    }
}
