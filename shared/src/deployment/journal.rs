//! The record `keeperd deploy` keeps of its own progress, in the output file itself: which
//! settings the AVS is deployed with, and each step's transaction (its hash as soon as it is sent,
//! then its block, gas and the contract it created). A re-run reads it to resume: a confirmed step
//! is not sent again, a sent one is waited for instead of sent twice. While the deploy is
//! unfinished the file holds only this record (`{"unfinishedDeploy": ...}`); once finished, the
//! deployment itself with this record as its `deployLog`.

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

crate::named_enum! {
    /// One step of deploying the AVS on an EigenLayer core, in the order they run.
    pub enum DeployStep {
        /// `StrategyFactory.deployNewStrategy(token)`: a new strategy for an ERC20, whitelisted by
        /// EigenLayer's own factory.
        DeployStrategy => "deploy_strategy",
        /// Create the service manager (the AVS address in EigenLayer, its registrar and slasher).
        ServiceManager => "service_manager",
        /// Create the BLS key registry.
        KeyRegistry => "key_registry",
        /// `initializeAVS`: metadata URI, the keeper operator set with its strategies, the registrar.
        InitializeAvs => "initialize_avs",
        /// Create the task manager (which creates its job manager).
        TaskManager => "task_manager",
        /// `setMaxWeightAge`, `setMaxReferenceAge`, `setChallengeWindow` to the requested values.
        SetMaxWeightAge => "set_max_weight_age",
        SetMaxReferenceAge => "set_max_reference_age",
        SetChallengeWindow => "set_challenge_window",
        /// Link the task manager to the service manager (the only slasher), for good.
        LinkTaskManager => "link_task_manager",
        /// `updateAllWeights` on the empty set: weights read at registrations are fresh from then on.
        ConfirmWeights => "confirm_weights",
    }
}

/// What the AVS is deployed with. A resumed deploy must ask for the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvsSettings {
    /// Owner of the service manager, key registry and task manager.
    pub owner: Address,
    /// Who may pause and resume the task manager's batches.
    pub guardian: Address,
    pub metadata_uri: String,
    /// Existing strategies the keeper set counts (the new one, if any, comes first).
    pub strategies: Vec<Address>,
    /// A token to create a strategy for through EigenLayer's StrategyFactory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_strategy_token: Option<Address>,
    /// Slashable stake (strategy shares) an operator needs to join.
    #[serde(with = "crate::decimal::u256")]
    pub minimum_stake: U256,
    /// Largest share of an operator's stake one slash may take (1e18 = all).
    #[serde(with = "crate::decimal::u256")]
    pub max_slash_wad: U256,
    /// Blocks a batch can be challenged; `None` keeps the task manager's own choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_window: Option<u32>,
    /// Blocks a batch's reference block may be old; `None` keeps the task manager's own choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_reference_age: Option<u16>,
}

/// One step's transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepRecord {
    pub step: DeployStep,
    pub tx: B256,
    /// Set once the receipt is in (a record without it was sent, not seen mined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_used: Option<u64>,
    /// The contract the step created, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

impl StepRecord {
    /// The receipt is in.
    pub fn confirmed(&self) -> bool {
        self.block_number.is_some()
    }
}

/// The whole record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeployJournal {
    /// The network file's name.
    pub network: String,
    pub chain_id: u64,
    /// Who sent every transaction.
    pub deployer: Address,
    /// The first block the deploy saw (where indexers start).
    pub start_block: u64,
    pub settings: AvsSettings,
    pub steps: Vec<StepRecord>,
}

impl DeployJournal {
    pub fn new(network: &str, chain_id: u64, deployer: Address, start_block: u64, settings: AvsSettings) -> Self {
        Self { network: network.to_owned(), chain_id, deployer, start_block, settings, steps: Vec::new() }
    }

    /// The record of `step`, if it was sent.
    pub fn step(&self, step: DeployStep) -> Option<&StepRecord> {
        self.steps.iter().find(|record| record.step == step)
    }

    /// Records `record`, replacing an earlier one of the same step.
    pub fn record(&mut self, record: StepRecord) {
        match self.steps.iter_mut().find(|r| r.step == record.step) {
            Some(slot) => *slot = record,
            None => self.steps.push(record),
        }
    }

    /// The contract `step` created, once confirmed.
    pub fn address(&self, step: DeployStep) -> Option<Address> {
        self.step(step).filter(|r| r.confirmed()).and_then(|r| r.address)
    }
}
