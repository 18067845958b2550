//! EigenLayer: an operator's way in and out of the keeper operator set through EigenLayer's own
//! flow. (Deploying the core on a devnet is the harness's: `keeper_devnet::eigenlayer_core`.)

pub mod onboarding;

/// Why an EigenLayer step failed; `step` names what was being done.
#[derive(Debug, thiserror::Error)]
pub enum EigenLayerError {
    #[error("{step}: {source}")]
    Contract { step: String, source: alloy::contract::Error },
    #[error("{step}: {source}")]
    Transaction { step: String, source: alloy::providers::PendingTransactionError },
    #[error("{step}: transaction {tx} reverted")]
    Reverted { step: String, tx: alloy::primitives::B256 },
    #[error("{0}")]
    Config(String),
    #[error("{step}: {source}")]
    Rpc { step: String, source: alloy::transports::TransportError },
}

impl EigenLayerError {
    /// Maps a contract call's error to this one, naming the step (for `map_err`).
    pub fn contract(step: &str) -> impl FnOnce(alloy::contract::Error) -> Self + '_ {
        move |source| Self::Contract { step: step.to_owned(), source }
    }
}
