//! Why `keeperd deploy` (or the devnet's AVS deployment) stopped.

use alloy::primitives::{Address, B256};
use keeper_shared::deployment::{DeployStep, DeploymentError};
use keeper_shared::network::NetworkError;

use crate::eigenlayer::EigenLayerError;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    File(#[from] DeploymentError),
    /// Deploying the devnet's own core (boxed: the largest cause, and the rarest).
    #[error(transparent)]
    EigenLayer(Box<EigenLayerError>),
    #[error("--strategy {name}: not a strategy of network `{network}` (it has {known})")]
    UnknownStrategy { name: String, network: String, known: String },
    #[error("the keeper set needs a strategy: give --strategy (one of {known}) or --new-strategy-token")]
    NoStrategy { known: String },
    #[error("--new-strategy-token: network `{network}` names no strategyFactory")]
    NoStrategyFactory { network: String },
    #[error("{field} {value}: must be between {min} and {max}")]
    OutOfRange { field: &'static str, value: u64, min: u64, max: u64 },
    #[error(
        "challenge window {challenge_window} blocks + reference age {max_reference_age} blocks (+ at least 1 block \
         of weight age) do not fit the core's slashable horizon of {horizon} blocks (DEALLOCATION_DELAY \
         {deallocation_delay}, MIN_WITHDRAWAL_DELAY_BLOCKS {min_withdrawal_delay}): stake that signed a batch could \
         leave before the batch's challenge ends; choose a shorter --challenge-window or --max-reference-age, or a \
         core with longer delays"
    )]
    ExceedsHorizon {
        challenge_window: u64,
        max_reference_age: u64,
        horizon: u32,
        deallocation_delay: u32,
        min_withdrawal_delay: u32,
    },
    #[error(
        "{path} records a deploy with another {field} ({recorded}, now {requested}): re-run with the same \
         settings, or write to another --out"
    )]
    SettingsChanged { path: String, field: String, recorded: String, requested: String },
    #[error("{path} exists and is not a deployment written by keeperd deploy: refusing to overwrite it")]
    NotOurs { path: String },
    #[error(
        "{path}: the recorded {what} {address} has no code on chain {chain_id} (another chain, or a reset devnet?)"
    )]
    Vanished { path: String, what: String, address: Address, chain_id: u64 },
    #[error("{step}: {source}")]
    Rpc { step: String, source: alloy::transports::TransportError },
    #[error("{step}: {source}")]
    Contract { step: String, source: Box<alloy::contract::Error> },
    #[error("{step}: {source}")]
    Receipt { step: String, source: alloy::providers::PendingTransactionError },
    #[error("{step}: transaction {tx} reverted")]
    Reverted { step: DeployStep, tx: B256 },
    #[error(
        "{step}: transaction {tx} is still not mined after {waited_secs} s: speed it up or replace it, then re-run"
    )]
    StillPending { step: DeployStep, tx: B256, waited_secs: u64 },
    #[error("{step}: the receipt names no created contract (transaction {tx})")]
    NoContractAddress { step: DeployStep, tx: B256 },
    #[error("--rpc-url `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("dry run: {0}")]
    DryRun(String),
    #[error("stopped after step {0} (--stop-after)")]
    StoppedAfter(DeployStep),
    #[error("writing the report: {0}")]
    Output(#[from] std::io::Error),
}

impl From<EigenLayerError> for DeployError {
    fn from(error: EigenLayerError) -> Self {
        Self::EigenLayer(Box::new(error))
    }
}

impl DeployError {
    /// Maps a transport error, naming what was being read or sent (for `map_err`).
    pub(crate) fn rpc(step: impl std::fmt::Display) -> impl FnOnce(alloy::transports::TransportError) -> Self {
        move |source| Self::Rpc { step: step.to_string(), source }
    }

    /// Maps a contract call's error, naming the call (for `map_err`).
    pub(crate) fn contract(step: impl std::fmt::Display) -> impl FnOnce(alloy::contract::Error) -> Self {
        move |source| Self::Contract { step: step.to_string(), source: Box::new(source) }
    }
}
