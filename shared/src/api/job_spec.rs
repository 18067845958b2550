//! A job spec as the control API carries it ([`JobSpecView`]), checked against the job manager's
//! rules before anything is sent, and converted to the contract's struct. Shared so keeperd and
//! keeperctl refuse the same specs with the same messages (`spec.trigger.period_secs: must be > 0`),
//! and a bad spec never costs a reverted transaction.
//!
//! The rules are `JobManager._validate`'s (`contracts/src/jobs/JobManager.sol`), in its order:
//! trigger, action, gas limit, fee, expiry. Field names are the JSON ones, prefixed by where the
//! spec sits in the request (`spec`).

use alloy::primitives::aliases::{U40, U80};
use alloy::primitives::{Address, B256, U256};

use super::error::{ApiError, ErrorCode};
use super::types::{ActionView, JobSpecView, TriggerView};
use crate::contracts::JobManager;

/// `JobManager.MIN_GAS_LIMIT`.
pub const MIN_GAS_LIMIT: u32 = 21_000;
/// `JobManager.MAX_GAS_LIMIT`.
pub const MAX_GAS_LIMIT: u32 = 5_000_000;
/// `JobManager.MAX_ACTION_DATA_LENGTH`, in bytes.
pub const MAX_ACTION_DATA_LENGTH: usize = 4_096;
/// `JobManager.MAX_CODE_URL_LENGTH`, in bytes.
pub const MAX_CODE_URL_LENGTH: usize = 512;
/// A job's escrow is a `uint96` (`JobState.balance`).
pub const MAX_BALANCE_BITS: usize = 96;

/// What the rules that depend on the world need; `None` skips those rules (a client without a
/// chain connection checks the rest, the daemon checks all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecContext {
    /// The chain's time (the latest block's timestamp): an expiry must be after it.
    pub now_secs: Option<u64>,
    /// The job manager: a target may not be it.
    pub job_manager: Option<Address>,
}

fn invalid(field: String, reason: impl std::fmt::Display) -> ApiError {
    ApiError::field(ErrorCode::InvalidValue, field, reason)
}

/// Checks `spec` (found at `prefix` in the request, e.g. `spec`) against the job manager's rules.
pub fn validate_spec(prefix: &str, spec: &JobSpecView, context: &SpecContext) -> Result<(), ApiError> {
    let at = |name: &str| format!("{prefix}.{name}");
    match spec.trigger {
        TriggerView::Interval { period_secs: 0, .. } => {
            return Err(invalid(at("trigger.period_secs"), "must be > 0"));
        }
        TriggerView::Block { period_blocks: 0, .. } => {
            return Err(invalid(at("trigger.period_blocks"), "must be > 0"));
        }
        TriggerView::Event { emitter, .. } if emitter.is_zero() => {
            return Err(invalid(at("trigger.emitter"), "required (the contract whose logs trigger the job)"));
        }
        _ => {}
    }

    let (target, data, resolver, script) = match &spec.action {
        ActionView::Call { target, data } => (target, data, None, None),
        ActionView::ChainlinkUpkeep { target, check_data } => (target, check_data, None, None),
        ActionView::GelatoResolver { target, resolver, resolver_data } => (target, resolver_data, Some(resolver), None),
        ActionView::Script { target, args, code_url, code_hash } => (target, args, None, Some((code_url, code_hash))),
    };
    if target.is_zero() {
        return Err(invalid(at("action.target"), "required (the contract the job calls)"));
    }
    if context.job_manager == Some(*target) {
        return Err(invalid(at("action.target"), "may not be the job manager"));
    }
    let data_field = match &spec.action {
        ActionView::Call { .. } => "action.data",
        ActionView::ChainlinkUpkeep { .. } => "action.check_data",
        ActionView::GelatoResolver { .. } => "action.resolver_data",
        ActionView::Script { .. } => "action.args",
    };
    if data.len() > MAX_ACTION_DATA_LENGTH {
        return Err(invalid(at(data_field), format!("{} bytes is above {MAX_ACTION_DATA_LENGTH}", data.len())));
    }
    if let Some(resolver) = resolver {
        if data.len() < 4 {
            return Err(invalid(at(data_field), "must hold at least a 4-byte selector"));
        }
        if resolver.is_zero() {
            return Err(invalid(at("action.resolver"), "required (the contract that says whether to act)"));
        }
    }
    if let Some((code_url, code_hash)) = script {
        if code_url.is_empty() {
            return Err(invalid(at("action.code_url"), "required"));
        }
        if code_url.len() > MAX_CODE_URL_LENGTH {
            return Err(invalid(
                at("action.code_url"),
                format!("{} bytes is above {MAX_CODE_URL_LENGTH}", code_url.len()),
            ));
        }
        if code_hash.is_zero() {
            return Err(invalid(at("action.code_hash"), "required (keccak256 of the code)"));
        }
    }

    if spec.gas_limit < MIN_GAS_LIMIT || spec.gas_limit > MAX_GAS_LIMIT {
        return Err(invalid(
            at("gas_limit"),
            format!("{} is not in {MIN_GAS_LIMIT}..={MAX_GAS_LIMIT}", spec.gas_limit),
        ));
    }
    if spec.max_fee_wei == 0 {
        return Err(invalid(at("max_fee_wei"), "must be > 0"));
    }
    if U80::try_from(spec.max_fee_wei).is_err() {
        return Err(invalid(at("max_fee_wei"), "must be below 2^80"));
    }
    if let Some(expiry) = spec.expiry_secs {
        if expiry == 0 {
            return Err(invalid(at("expiry_secs"), "must be > 0 (null: never expires)"));
        }
        if U40::try_from(expiry).is_err() {
            return Err(invalid(at("expiry_secs"), "must be below 2^40"));
        }
        if let Some(now) = context.now_secs.filter(|now| expiry <= *now) {
            return Err(invalid(at("expiry_secs"), format!("{expiry} is not after the chain's time {now}")));
        }
        if let TriggerView::Interval { start_secs, .. } = spec.trigger {
            if expiry < start_secs {
                return Err(invalid(at("expiry_secs"), format!("{expiry} is before the first task at {start_secs}")));
            }
        }
    }
    Ok(())
}

/// Checks an amount of wei that goes into a job's escrow (`field` names it); `allow_zero` for a
/// job created without funds (a top-up of 0 is refused by the job manager).
pub fn validate_funding(field: &str, amount: U256, allow_zero: bool) -> Result<(), ApiError> {
    if !allow_zero && amount.is_zero() {
        return Err(invalid(field.to_owned(), "must be > 0"));
    }
    if amount.bit_len() > MAX_BALANCE_BITS {
        return Err(invalid(field.to_owned(), "must be below 2^96 (a job's escrow is a uint96)"));
    }
    Ok(())
}

/// The job manager's struct for `spec`, after [`validate_spec`] (which this runs with `context`).
pub fn spec_to_abi(prefix: &str, spec: &JobSpecView, context: &SpecContext) -> Result<JobManager::JobSpec, ApiError> {
    validate_spec(prefix, spec, context)?;
    let zero_topics = [B256::ZERO; 4];
    let trigger = match spec.trigger {
        TriggerView::Interval { start_secs, period_secs } => JobManager::Trigger {
            kind: 0,
            start: start_secs,
            period: period_secs,
            emitter: Address::ZERO,
            topicMask: 0,
            topics: zero_topics,
        },
        TriggerView::Block { start_block, period_blocks } => JobManager::Trigger {
            kind: 1,
            start: start_block,
            period: period_blocks,
            emitter: Address::ZERO,
            topicMask: 0,
            topics: zero_topics,
        },
        TriggerView::Event { start_block, emitter, topic0, topics } => {
            let mut words = [topic0, B256::ZERO, B256::ZERO, B256::ZERO];
            let mut mask = 1u8;
            for (i, topic) in topics.iter().enumerate() {
                if let Some(value) = topic {
                    mask |= 1 << (i + 1);
                    words[i + 1] = *value;
                }
            }
            JobManager::Trigger { kind: 2, start: start_block, period: 0, emitter, topicMask: mask, topics: words }
        }
    };
    let action = match &spec.action {
        ActionView::Call { target, data } => abi_action(0, *target, data, Address::ZERO, "", B256::ZERO),
        ActionView::ChainlinkUpkeep { target, check_data } => {
            abi_action(1, *target, check_data, Address::ZERO, "", B256::ZERO)
        }
        ActionView::GelatoResolver { target, resolver, resolver_data } => {
            abi_action(2, *target, resolver_data, *resolver, "", B256::ZERO)
        }
        ActionView::Script { target, args, code_url, code_hash } => {
            abi_action(3, *target, args, Address::ZERO, code_url, *code_hash)
        }
    };
    let range = |field: &str| invalid(format!("{prefix}.{field}"), "out of range");
    Ok(JobManager::JobSpec {
        trigger,
        action,
        gasLimit: spec.gas_limit,
        maxFee: U80::try_from(spec.max_fee_wei).map_err(|_| range("max_fee_wei"))?,
        expiry: U40::try_from(spec.expiry_secs.unwrap_or(0)).map_err(|_| range("expiry_secs"))?,
    })
}

fn abi_action(
    kind: u8,
    target: Address,
    data: &alloy::primitives::Bytes,
    resolver: Address,
    code_url: &str,
    code_hash: B256,
) -> JobManager::Action {
    JobManager::Action { kind, target, data: data.clone(), resolver, codeUrl: code_url.to_owned(), codeHash: code_hash }
}
