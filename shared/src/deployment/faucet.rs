//! The devnet's faucet file: a key of its own holding the devnet's stake token and ether, from
//! which `keeperctl devnet fund` pays a new operator. The devnet's accounts send their own
//! transactions (minting through the owner's account raced its nonce and crashed the devnet); only
//! faucet requests spend from this one. Written by `keeper-devnet run` (mode 0600: it holds a key, if
//! only a devnet's).

use std::path::Path;

use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use super::DeploymentError;
use crate::keystore::WriteMode;

/// The file next to a devnet's deployment file.
pub const FAUCET_FILE: &str = "faucet.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevnetFaucet {
    /// The devnet's anvil.
    pub rpc_url: String,
    pub chain_id: u64,
    /// The faucet account's secret key (a devnet key: never one that holds real value).
    pub private_key: B256,
    /// The devnet's stake token (the keeper set's strategy takes it).
    pub stake_token: Address,
}

impl DevnetFaucet {
    pub fn read(path: &Path) -> Result<Self, DeploymentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DeploymentError::Io { path: path.display().to_string(), source })?;
        serde_json::from_str(&text).map_err(|source| DeploymentError::Json { path: path.display().to_string(), source })
    }

    /// Writes the file with mode 0600, replacing an earlier devnet's.
    pub fn write(&self, path: &Path) -> Result<(), DeploymentError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|source| DeploymentError::Json { path: path.display().to_string(), source })?;
        crate::keystore::file::write_private_file(path, text.as_bytes(), WriteMode::Replace).map_err(|e| {
            DeploymentError::Io { path: path.display().to_string(), source: std::io::Error::other(e.to_string()) }
        })
    }
}
