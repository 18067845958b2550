//! What a keeper answers for a task: a function of the job's spec and the reference block's state
//! only, so that every honest keeper computes the same response and their signatures aggregate.
//!
//! - Call: `execute = true` with the spec's static data.
//! - ChainlinkUpkeep: `eth_call` of `target.checkUpkeep(checkData)` from the zero address (as Chainlink's
//!   simulation does, so targets guarded by `cannotExecute` answer) at the reference block, by hash; if it
//!   returns `(true, performData)`, the call data is `performUpkeep(performData)`.
//! - GelatoResolver: `eth_call` of the resolver with the spec's data, likewise; if it returns
//!   `(true, execPayload)`, the call data is `execPayload`.
//! - Script: the module at `codeUrl` (checked against `codeHash`, cached) runs in keeper-script's sandbox with the
//!   limits of the job's trigger kind, every chain read pinned to the reference block by hash; it answers the
//!   call data (`execute = true`) or "nothing to do" (`execute = false`, like a checker saying no). A script
//!   that fails (unreachable or oversized code, a hash mismatch, out of fuel, a trap, ...) is
//!   [`Outcome::ScriptFailed`]: the task ends with that reason and the keeper signs nothing for it. Only the
//!   node failing a chain read is an [`ExecuteError`], retried like a checker's.
//!
//! "Nothing to do" is always `execute = false` with empty call data, whatever else the checker returned
//! (Chainlink's `performData`, Gelato's reason), so that all keepers sign the same response.
//!
//! A checker that reverts, halts or returns something that is not `(bool, bytes)` is a typed outcome,
//! [`Outcome::CheckFailed`], whose response is also "nothing to do". That is what the task manager expects:
//! `_validCallData` accepts `execute = false` for checker actions (it is not an offence), and Chainlink and
//! Gelato treat a failing check as "not needed". The check is deterministic at a fixed block with a fixed
//! gas cap ([`CHECK_GAS_LIMIT`]), so honest keepers agree on it. Only failures to reach the node (transport,
//! unknown block) are errors: a keeper retries or skips the task, it signs nothing for it.

use alloy::eips::{BlockId, RpcBlockHash};
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolValue};
use alloy::transports::{RpcError, TransportError};
use keeper_shared::batch::TaskId;
use thiserror::Error;

use keeper_script::{
    AlloyChain, BlockContext, JobKind, RunError, ScriptError, ScriptInput, ScriptOutcome, ScriptRunner,
};
pub use keeper_shared::job::TaskResponse;
use keeper_shared::job::{Action, JobSpec, ReferenceBlock};

/// The gas a checker simulation may use. Fixed, so that a checker running out of gas fails for every
/// keeper alike (a node's default `eth_call` cap differs between clients); the order of the check gas
/// limits automation networks give checkers.
pub const CHECK_GAS_LIMIT: u64 = 10_000_000;

alloy::sol! {
    /// Chainlink Automation's upkeep functions (`AutomationCompatibleInterface` in Chainlink's contracts).
    interface AutomationCompatible {
        function checkUpkeep(bytes checkData) external returns (bool upkeepNeeded, bytes performData);
        function performUpkeep(bytes performData) external;
    }
}

#[derive(Debug, Error)]
pub enum ExecuteError {
    #[error("job {job_id} task {sequence}: {step} at reference block {block} ({hash}): {source}")]
    Rpc {
        job_id: U256,
        sequence: u64,
        step: &'static str,
        block: u64,
        hash: B256,
        #[source]
        source: TransportError,
    },
    #[error("job {job_id} task {sequence}: script: {source}")]
    ScriptChain {
        job_id: U256,
        sequence: u64,
        #[source]
        source: keeper_script::ChainError,
    },
}

/// Why a checker gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckFailure {
    /// The checker reverted, with this revert data (empty for a bare `revert()`).
    Reverted { data: Bytes },
    /// The simulation halted without a revert (out of gas, invalid opcode), as the node reported it.
    Halted { message: String },
    /// The checker returned something that is not `abi.encode(bool, bytes)`.
    Malformed { returned: Bytes },
}

/// The result of executing a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sign this response.
    Respond(TaskResponse),
    /// The checker failed; the response is "nothing to do" (see the module doc for why).
    CheckFailed(CheckFailure),
    /// This daemon cannot execute the task; there is nothing to sign.
    Unsupported { reason: String },
    /// The job's script gave no result (the task's failure reason); there is nothing to sign.
    ScriptFailed { reason: String },
}

impl Outcome {
    /// The response to sign, if any.
    pub fn response(&self) -> Option<TaskResponse> {
        match self {
            Self::Respond(response) => Some(response.clone()),
            Self::CheckFailed(_) => Some(TaskResponse::nothing_to_do()),
            Self::Unsupported { .. } | Self::ScriptFailed { .. } => None,
        }
    }
}

/// Executes task `task` of a job with `spec` at the reference block. The task's id labels errors (and a
/// script is given its job id); the answer depends on the spec and the block's state, never on the sequence.
pub async fn execute<P: Provider>(
    provider: &P,
    scripts: &ScriptRunner,
    spec: &JobSpec,
    task: TaskId,
    reference: &ReferenceBlock,
) -> Result<Outcome, ExecuteError> {
    match &spec.action {
        Action::Call { data, .. } => Ok(Outcome::Respond(TaskResponse::perform(data.clone()))),
        Action::ChainlinkUpkeep { target, check_data } => {
            let call = AutomationCompatible::checkUpkeepCall { checkData: check_data.clone() };
            let returned = match simulate(provider, *target, call.abi_encode(), task, reference, "checkUpkeep").await? {
                Ok(returned) => returned,
                Err(failure) => return Ok(Outcome::CheckFailed(failure)),
            };
            Ok(match decode_check(&returned) {
                Some((true, perform_data)) => Outcome::Respond(TaskResponse::perform(
                    AutomationCompatible::performUpkeepCall { performData: perform_data }.abi_encode().into(),
                )),
                Some((false, _)) => Outcome::Respond(TaskResponse::nothing_to_do()),
                None => Outcome::CheckFailed(CheckFailure::Malformed { returned }),
            })
        }
        Action::GelatoResolver { resolver, resolver_data, .. } => {
            let returned =
                match simulate(provider, *resolver, resolver_data.to_vec(), task, reference, "the resolver").await? {
                    Ok(returned) => returned,
                    Err(failure) => return Ok(Outcome::CheckFailed(failure)),
                };
            Ok(match decode_check(&returned) {
                Some((true, exec_payload)) => Outcome::Respond(TaskResponse::perform(exec_payload)),
                Some((false, _)) => Outcome::Respond(TaskResponse::nothing_to_do()),
                None => Outcome::CheckFailed(CheckFailure::Malformed { returned }),
            })
        }
        Action::Script { args, code_url, code_hash, .. } => {
            let block = BlockContext { number: reference.number, hash: reference.hash, timestamp: reference.timestamp };
            let input = ScriptInput { job_id: task.job_id, args: args.clone(), block };
            let chain = AlloyChain::new(provider, block);
            match scripts.run(JobKind::of_trigger(&spec.trigger), code_url, *code_hash, &input, &chain).await {
                Ok(report) => Ok(Outcome::Respond(match report.outcome {
                    ScriptOutcome::Perform { call_data } => TaskResponse::perform(call_data),
                    ScriptOutcome::Skip { .. } => TaskResponse::nothing_to_do(),
                })),
                Err(ScriptError::Run(RunError::Chain(source))) => {
                    Err(ExecuteError::ScriptChain { job_id: task.job_id, sequence: task.sequence, source })
                }
                Err(error) => Ok(Outcome::ScriptFailed { reason: error.to_string() }),
            }
        }
    }
}

/// A checker's `(bool, bytes)`, strictly decoded (a non-canonical encoding counts as malformed).
pub fn decode_check(returned: &[u8]) -> Option<(bool, Bytes)> {
    <(bool, Bytes)>::abi_decode_params_validate(returned).ok()
}

/// `eth_call` from the zero address at the reference block (by hash, required canonical) with the check
/// gas cap. The outer error is the node's failure; the inner one the checker's.
async fn simulate<P: Provider>(
    provider: &P,
    to: Address,
    input: Vec<u8>,
    task: TaskId,
    reference: &ReferenceBlock,
    step: &'static str,
) -> Result<Result<Bytes, CheckFailure>, ExecuteError> {
    let request =
        TransactionRequest::default().from(Address::ZERO).to(to).input(input.into()).gas_limit(CHECK_GAS_LIMIT);
    let block = BlockId::Hash(RpcBlockHash::from_hash(reference.hash, Some(true)));
    match provider.call(request).block(block).await {
        Ok(returned) => Ok(Ok(returned)),
        Err(error) => match classify(&error) {
            Some(failure) => Ok(Err(failure)),
            None => Err(ExecuteError::Rpc {
                job_id: task.job_id,
                sequence: task.sequence,
                step,
                block: reference.number,
                hash: reference.hash,
                source: error,
            }),
        },
    }
}

/// A node's error response that is the checker's doing (a revert or a halt), as opposed to the node's.
fn classify(error: &TransportError) -> Option<CheckFailure> {
    let RpcError::ErrorResp(payload) = error else { return None };
    if payload.code == 3 || payload.message.contains("revert") {
        return Some(CheckFailure::Reverted { data: payload.as_revert_data().unwrap_or_default() });
    }
    let message = payload.message.to_lowercase();
    let halted = ["out of gas", "outofgas", "invalid opcode", "invalidfeopcode", "stack underflow", "stack overflow"];
    halted.iter().any(|m| message.contains(m)).then(|| CheckFailure::Halted { message: payload.message.to_string() })
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{bytes, hex};

    use super::*;

    #[test]
    fn perform_upkeep_call_data_has_chainlinks_selector() {
        let call = AutomationCompatible::performUpkeepCall { performData: bytes!("01") }.abi_encode();
        assert_eq!(call[..4], keeper_shared::job::schedule::PERFORM_UPKEEP_SELECTOR);
        assert_eq!(AutomationCompatible::checkUpkeepCall::SELECTOR, hex!("6e04ff0d"));
    }

    #[test]
    fn decode_check_accepts_only_a_canonical_bool_and_bytes() {
        let good = (true, bytes!("abcd")).abi_encode_params();
        assert_eq!(decode_check(&good), Some((true, bytes!("abcd"))));
        let no = (false, Bytes::new()).abi_encode_params();
        assert_eq!(decode_check(&no), Some((false, Bytes::new())));
        assert_eq!(decode_check(&[]), None);
        assert_eq!(decode_check(&good[..40]), None);
        // A bool word that is neither 0 nor 1.
        let mut bad_bool = good.clone();
        bad_bool[31] = 2;
        assert_eq!(decode_check(&bad_bool), None);
    }

    #[test]
    fn only_checker_failures_are_outcomes() {
        let response = |code: i64, message: &str, data: Option<&str>| {
            let json = match data {
                Some(d) => format!(r#"{{"code":{code},"message":"{message}","data":"{d}"}}"#),
                None => format!(r#"{{"code":{code},"message":"{message}"}}"#),
            };
            TransportError::ErrorResp(serde_json::from_str(&json).unwrap())
        };
        assert_eq!(
            classify(&response(3, "execution reverted", Some("0x12345678"))),
            Some(CheckFailure::Reverted { data: bytes!("12345678") })
        );
        assert_eq!(
            classify(&response(-32603, "execution reverted", None)),
            Some(CheckFailure::Reverted { data: Bytes::new() })
        );
        assert!(matches!(
            classify(&response(-32603, "EVM error OutOfGas(Basic)", None)),
            Some(CheckFailure::Halted { .. })
        ));
        assert_eq!(classify(&response(-32000, "header not found", None)), None);
        assert_eq!(classify(&TransportError::NullResp), None);
    }

    #[test]
    fn outcome_responses() {
        assert_eq!(
            Outcome::Respond(TaskResponse::perform(bytes!("01"))).response(),
            Some(TaskResponse::perform(bytes!("01")))
        );
        assert_eq!(
            Outcome::CheckFailed(CheckFailure::Malformed { returned: Bytes::new() }).response(),
            Some(TaskResponse::nothing_to_do())
        );
        assert_eq!(Outcome::Unsupported { reason: "x".into() }.response(), None);
        assert_eq!(Outcome::ScriptFailed { reason: "out of fuel".into() }.response(), None);
    }
}
