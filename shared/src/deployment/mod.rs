//! The deployment file: where the contracts of one network live. `keeper-devnet run` writes it after
//! deploying, `keeperd deploy` after deploying the AVS on a public network's EigenLayer core (with
//! the record of its transactions, [`journal`]). The daemon and the CLI read it.

pub mod faucet;
pub mod journal;

use std::path::Path;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use journal::{AvsSettings, DeployJournal, DeployStep, StepRecord};

/// Why a deployment file could not be used.
#[derive(Debug, Error)]
pub enum DeploymentError {
    #[error("deployment file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("deployment file {path}: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("deployment file: field `{field}` is the zero address")]
    ZeroAddress { field: &'static str },
    #[error(
        "deployment file {path} is an unfinished `keeperd deploy` on network `{network}` ({done} steps done): run the \
         same `keeperd deploy` again to finish it"
    )]
    Unfinished { path: String, network: String, done: usize },
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
    /// How `keeperd deploy` deployed the AVS: its settings and transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_log: Option<DeployJournal>,
}

/// What a deployment file holds: a finished deployment, or the progress of a `keeperd deploy`
/// that has not finished.
#[allow(clippy::large_enum_variant)] // one per command, read once: boxing would only add noise
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeploymentFile {
    #[serde(rename = "unfinishedDeploy")]
    Unfinished(DeployJournal),
    #[serde(untagged)]
    Finished(Deployment),
}

impl DeploymentFile {
    /// Reads `path`; `None` if there is no such file.
    pub fn read(path: &Path) -> Result<Option<Self>, DeploymentError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(DeploymentError::Io { path: path.display().to_string(), source }),
        };
        let file = Self::parse(&text, path)?;
        if let Self::Finished(deployment) = &file {
            deployment.check()?;
        }
        Ok(Some(file))
    }

    fn parse(text: &str, path: &Path) -> Result<Self, DeploymentError> {
        let json = |source| DeploymentError::Json { path: path.display().to_string(), source };
        let mut value: serde_json::Value = serde_json::from_str(text).map_err(json)?;
        // Parsed by shape rather than through serde's untagged fallback, whose error would hide the
        // field a finished file gets wrong.
        match value.get_mut("unfinishedDeploy").map(serde_json::Value::take) {
            Some(journal) => serde_json::from_value(journal).map(Self::Unfinished).map_err(json),
            None => serde_json::from_value(value).map(Self::Finished).map_err(json),
        }
    }

    /// Writes the file whole or not at all (a temporary file renamed over it): an interrupted
    /// write must not lose the record of transactions already sent.
    pub fn write(&self, path: &Path) -> Result<(), DeploymentError> {
        let io = |source| DeploymentError::Io { path: path.display().to_string(), source };
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|source| DeploymentError::Json { path: path.display().to_string(), source })?;
        text.push('\n');
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = std::path::PathBuf::from(temporary);
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }
}

impl Deployment {
    /// Reads and checks a deployment file (refusing one whose deploy has not finished).
    pub fn read(path: &Path) -> Result<Self, DeploymentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DeploymentError::Io { path: path.display().to_string(), source })?;
        match DeploymentFile::parse(&text, path)? {
            DeploymentFile::Finished(deployment) => {
                deployment.check()?;
                Ok(deployment)
            }
            DeploymentFile::Unfinished(journal) => Err(DeploymentError::Unfinished {
                path: path.display().to_string(),
                network: journal.network,
                done: journal.steps.iter().filter(|s| s.confirmed()).count(),
            }),
        }
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

/// A deployment for tests: every address distinct (`0x0101..`, `0x0202..`, ...), the optional
/// ones set so a round trip covers them, two strategies and a non-zero operator set id so calls
/// that must name all of them and the right set are checked.
#[cfg(any(test, feature = "test-fixtures"))]
impl Deployment {
    pub fn sample() -> Self {
        let a = |n: u8| Address::repeat_byte(n);
        Self {
            chain_id: 31337,
            deploy_block: 1,
            eigenlayer: EigenLayerAddresses {
                delegation_manager: a(1),
                strategy_manager: a(2),
                allocation_manager: a(3),
                avs_directory: a(4),
                permission_controller: a(5),
                eigen_pod_manager: Some(a(6)),
                pauser_registry: Some(a(14)),
            },
            avs: AvsAddresses {
                service_manager: a(7),
                key_registry: a(8),
                job_manager: a(11),
                task_manager: a(12),
                operator_set_id: 3,
                strategies: vec![a(9), a(10)],
            },
            stake_token: Some(a(13)),
            deploy_log: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_bad_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deployment.json");
        Deployment::sample().write(&path).unwrap();
        assert_eq!(Deployment::read(&path).unwrap(), Deployment::sample());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"allocationManager\""), "{text}");

        let mut zero = Deployment::sample();
        zero.avs.key_registry = Address::ZERO;
        zero.write(&path).unwrap();
        let err = Deployment::read(&path).unwrap_err().to_string();
        assert!(err.contains("avs.keyRegistry"), "{err}");

        std::fs::write(&path, text.replace("\"chainId\"", "\"chainid\"")).unwrap();
        let err = Deployment::read(&path).unwrap_err().to_string();
        assert!(err.contains("chainid"), "{err}");
    }

    /// An unfinished deploy is told apart from a finished one, and the daemon refuses it by name.
    #[test]
    fn an_unfinished_deploy_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deployment.json");
        assert_eq!(DeploymentFile::read(&path).unwrap(), None);
        let settings = AvsSettings {
            owner: Address::repeat_byte(1),
            guardian: Address::repeat_byte(1),
            metadata_uri: "https://example.invalid/avs.json".into(),
            strategies: vec![Address::repeat_byte(2)],
            new_strategy_token: None,
            minimum_stake: alloy::primitives::U256::from(10u64),
            max_slash_wad: alloy::primitives::U256::from(5u64),
            challenge_window: Some(40),
            max_reference_age: None,
        };
        let mut journal = DeployJournal::new("hoodi", 560_048, Address::repeat_byte(3), 7, settings);
        journal.record(StepRecord {
            step: DeployStep::ServiceManager,
            tx: alloy::primitives::B256::repeat_byte(4),
            block_number: Some(8),
            gas_used: Some(100),
            address: Some(Address::repeat_byte(5)),
        });
        let unfinished = DeploymentFile::Unfinished(journal.clone());
        unfinished.write(&path).unwrap();
        assert_eq!(DeploymentFile::read(&path).unwrap(), Some(unfinished));
        let err = Deployment::read(&path).unwrap_err().to_string();
        assert!(err.contains("unfinished") && err.contains("hoodi") && err.contains("1 steps"), "{err}");

        let mut finished = Deployment::sample();
        finished.deploy_log = Some(journal);
        DeploymentFile::Finished(finished.clone()).write(&path).unwrap();
        assert_eq!(Deployment::read(&path).unwrap(), finished);
        assert_eq!(DeploymentFile::read(&path).unwrap(), Some(DeploymentFile::Finished(finished)));
    }
}
