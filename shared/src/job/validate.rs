//! The job manager's rules for a spec (`JobManager._validate` in `contracts/src/jobs/JobManager.sol`,
//! in its order: trigger, action, gas limit, fee, expiry), checked before anything is sent so that
//! keeperd, keeperctl and the console refuse the same specs with the same words and a bad spec
//! never costs a reverted transaction. Fields are named as the control API's JSON names them
//! (`trigger.period_secs`), the way a user wrote them.

use std::fmt;

use alloy::primitives::aliases::{U40, U80};
use alloy::primitives::{Address, U256};
use thiserror::Error;

use super::spec::{Action, JobSpec, Trigger};

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

/// A spec (or an amount of escrow) the job manager would refuse: the field, as the API's JSON names
/// it within the spec (`action.resolver`), and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {rule}")]
pub struct InvalidSpec {
    pub field: &'static str,
    pub rule: SpecRule,
}

/// The rule a field breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecRule {
    /// Zero where the job manager needs more.
    NotPositive,
    /// Zero or empty where the kind needs a value; says what the field is for.
    Required(&'static str),
    /// A target may not be the job manager itself.
    IsJobManager,
    /// Longer than the job manager stores, in bytes.
    TooLong { len: usize, max: usize },
    /// A resolver call without its 4-byte selector.
    NoSelector,
    /// A gas limit outside `MIN_GAS_LIMIT..=MAX_GAS_LIMIT`.
    GasLimit(u32),
    /// Does not fit the contract's field of this many bits.
    TooWide { bits: u32, what: &'static str },
    /// An expiry of 0 (the API's "never" is `null`).
    ZeroExpiry,
    /// An expiry at or before the chain's time.
    NotAfterChainTime { expiry: u64, now: u64 },
    /// An interval job's expiry before its first task.
    BeforeFirstTask { expiry: u64, start: u64 },
}

impl fmt::Display for SpecRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPositive => f.write_str("must be > 0"),
            Self::Required("") => f.write_str("required"),
            Self::Required(what) => write!(f, "required ({what})"),
            Self::IsJobManager => f.write_str("may not be the job manager"),
            Self::TooLong { len, max } => write!(f, "{len} bytes is above {max}"),
            Self::NoSelector => f.write_str("must hold at least a 4-byte selector"),
            Self::GasLimit(gas) => write!(f, "{gas} is not in {MIN_GAS_LIMIT}..={MAX_GAS_LIMIT}"),
            Self::TooWide { bits, what: "" } => write!(f, "must be below 2^{bits}"),
            Self::TooWide { bits, what } => write!(f, "must be below 2^{bits} ({what})"),
            Self::ZeroExpiry => f.write_str("must be > 0 (null: never expires)"),
            Self::NotAfterChainTime { expiry, now } => write!(f, "{expiry} is not after the chain's time {now}"),
            Self::BeforeFirstTask { expiry, start } => write!(f, "{expiry} is before the first task at {start}"),
        }
    }
}

fn invalid(field: &'static str, rule: SpecRule) -> InvalidSpec {
    InvalidSpec { field, rule }
}

/// The JSON name of the action's bytes field (`data`, `check_data`, ...), within the spec.
fn action_data_field(action: &Action) -> &'static str {
    match action {
        Action::Call { .. } => "action.data",
        Action::ChainlinkUpkeep { .. } => "action.check_data",
        Action::GelatoResolver { .. } => "action.resolver_data",
        Action::Script { .. } => "action.args",
    }
}

/// Checks `spec` against the job manager's rules (those needing the world only where `context` has it).
pub fn validate_spec(spec: &JobSpec, context: &SpecContext) -> Result<(), InvalidSpec> {
    match spec.trigger {
        Trigger::Interval { period: 0, .. } => return Err(invalid("trigger.period_secs", SpecRule::NotPositive)),
        Trigger::Block { period: 0, .. } => return Err(invalid("trigger.period_blocks", SpecRule::NotPositive)),
        Trigger::Event(filter) if filter.emitter.is_zero() => {
            return Err(invalid("trigger.emitter", SpecRule::Required("the contract whose logs trigger the job")));
        }
        _ => {}
    }

    let (target, data) = match &spec.action {
        Action::Call { target, data } => (target, data),
        Action::ChainlinkUpkeep { target, check_data } => (target, check_data),
        Action::GelatoResolver { target, resolver_data, .. } => (target, resolver_data),
        Action::Script { target, args, .. } => (target, args),
    };
    if target.is_zero() {
        return Err(invalid("action.target", SpecRule::Required("the contract the job calls")));
    }
    if context.job_manager == Some(*target) {
        return Err(invalid("action.target", SpecRule::IsJobManager));
    }
    let data_field = action_data_field(&spec.action);
    if data.len() > MAX_ACTION_DATA_LENGTH {
        return Err(invalid(data_field, SpecRule::TooLong { len: data.len(), max: MAX_ACTION_DATA_LENGTH }));
    }
    match &spec.action {
        Action::GelatoResolver { resolver, .. } => {
            if data.len() < 4 {
                return Err(invalid(data_field, SpecRule::NoSelector));
            }
            if resolver.is_zero() {
                return Err(invalid("action.resolver", SpecRule::Required("the contract that says whether to act")));
            }
        }
        Action::Script { code_url, code_hash, .. } => {
            if code_url.is_empty() {
                return Err(invalid("action.code_url", SpecRule::Required("")));
            }
            if code_url.len() > MAX_CODE_URL_LENGTH {
                return Err(invalid(
                    "action.code_url",
                    SpecRule::TooLong { len: code_url.len(), max: MAX_CODE_URL_LENGTH },
                ));
            }
            if code_hash.is_zero() {
                return Err(invalid("action.code_hash", SpecRule::Required("keccak256 of the code")));
            }
        }
        Action::Call { .. } | Action::ChainlinkUpkeep { .. } => {}
    }

    if !(MIN_GAS_LIMIT..=MAX_GAS_LIMIT).contains(&spec.gas_limit) {
        return Err(invalid("gas_limit", SpecRule::GasLimit(spec.gas_limit)));
    }
    if spec.max_fee == 0 {
        return Err(invalid("max_fee_wei", SpecRule::NotPositive));
    }
    if U80::try_from(spec.max_fee).is_err() {
        return Err(invalid("max_fee_wei", SpecRule::TooWide { bits: 80, what: "" }));
    }
    if let Some(expiry) = spec.expiry {
        if expiry == 0 {
            return Err(invalid("expiry_secs", SpecRule::ZeroExpiry));
        }
        if U40::try_from(expiry).is_err() {
            return Err(invalid("expiry_secs", SpecRule::TooWide { bits: 40, what: "" }));
        }
        if let Some(now) = context.now_secs.filter(|now| expiry <= *now) {
            return Err(invalid("expiry_secs", SpecRule::NotAfterChainTime { expiry, now }));
        }
        if let Trigger::Interval { start, .. } = spec.trigger {
            if expiry < start {
                return Err(invalid("expiry_secs", SpecRule::BeforeFirstTask { expiry, start }));
            }
        }
    }
    Ok(())
}

/// Checks an amount of wei that goes into a job's escrow (`field` names it); `allow_zero` for a
/// job created without funds (a top-up of 0 is refused by the job manager).
pub fn validate_funding(field: &'static str, amount: U256, allow_zero: bool) -> Result<(), InvalidSpec> {
    if !allow_zero && amount.is_zero() {
        return Err(invalid(field, SpecRule::NotPositive));
    }
    if amount.bit_len() > MAX_BALANCE_BITS {
        return Err(invalid(field, SpecRule::TooWide { bits: 96, what: "a job's escrow is a uint96" }));
    }
    Ok(())
}

/// Whether an escrow of `balance` can pay for a task of `spec` at `gas_price` plus `premium`: the job
/// manager's rule (`_taskGate`: a task whose worst charge, `gasLimit * gasPrice + premium` capped at
/// `maxFee`, exceeds the balance is skipped as `Unfunded`; an empty escrow always is).
pub fn is_funded(spec: &JobSpec, balance: U256, gas_price: u128, premium: u128) -> bool {
    if balance.is_zero() {
        return false;
    }
    let worst = U256::from(spec.gas_limit) * U256::from(gas_price) + U256::from(premium);
    balance >= worst.min(U256::from(spec.max_fee))
}

/// The least gas price any chain charges (1 wei): a job unfunded at it is unfunded at every price. What
/// keeperd's scheduler and keeperctl judge a job by when they know no price (its escrow of 1 wei never
/// pays for a task, so it is shown "unfunded", never "due now").
pub const FLOOR_GAS_PRICE: u128 = 1;

#[cfg(test)]
mod tests {
    use alloy::primitives::{address, Bytes, B256};

    use super::*;

    const TARGET: Address = address!("0x3000000000000000000000000000000000000003");

    fn call_spec() -> JobSpec {
        JobSpec {
            trigger: Trigger::Interval { start: 1_700_000_000, period: 60 },
            action: Action::Call { target: TARGET, data: vec![0xd0, 0x9d, 0xe0, 0x8a].into() },
            gas_limit: 100_000,
            max_fee: 10u128.pow(16),
            expiry: None,
        }
    }

    #[test]
    fn specs_breaking_a_job_manager_rule_are_refused_by_field() {
        let manager = address!("0x4000000000000000000000000000000000000004");
        let context = SpecContext { now_secs: Some(1_700_000_100), job_manager: Some(manager) };
        assert_eq!(validate_spec(&call_spec(), &context), Ok(()));
        let script = |url: &str, hash: B256| Action::Script {
            target: TARGET,
            args: Bytes::new(),
            code_url: url.to_owned(),
            code_hash: hash,
        };
        let event = |emitter| {
            Trigger::Event(super::super::EventFilter { start: 0, emitter, topic0: B256::ZERO, topics: [None; 3] })
        };
        type Edit = Box<dyn Fn(&mut JobSpec)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("trigger.period_secs: must be > 0", Box::new(|s| s.trigger = Trigger::Interval { start: 0, period: 0 })),
            ("trigger.period_blocks: must be > 0", Box::new(|s| s.trigger = Trigger::Block { start: 0, period: 0 })),
            (
                "trigger.emitter: required (the contract whose logs trigger the job)",
                Box::new(move |s| s.trigger = event(Address::ZERO)),
            ),
            (
                "action.target: required (the contract the job calls)",
                Box::new(|s| s.action = Action::Call { target: Address::ZERO, data: Bytes::new() }),
            ),
            (
                "action.target: may not be the job manager",
                Box::new(move |s| s.action = Action::Call { target: manager, data: Bytes::new() }),
            ),
            (
                "action.data: 4097 bytes is above 4096",
                Box::new(|s| s.action = Action::Call { target: TARGET, data: vec![0; 4097].into() }),
            ),
            (
                "action.check_data: 4097 bytes is above 4096",
                Box::new(|s| s.action = Action::ChainlinkUpkeep { target: TARGET, check_data: vec![0; 4097].into() }),
            ),
            (
                "action.resolver: required (the contract that says whether to act)",
                Box::new(|s| {
                    s.action = Action::GelatoResolver {
                        target: TARGET,
                        resolver: Address::ZERO,
                        resolver_data: vec![1, 2, 3, 4].into(),
                    }
                }),
            ),
            (
                "action.resolver_data: must hold at least a 4-byte selector",
                Box::new(|s| {
                    s.action = Action::GelatoResolver {
                        target: TARGET,
                        resolver: Address::repeat_byte(2),
                        resolver_data: vec![1, 2, 3].into(),
                    }
                }),
            ),
            ("action.code_url: required", Box::new(move |s| s.action = script("", B256::repeat_byte(1)))),
            (
                "action.code_url: 513 bytes is above 512",
                Box::new(move |s| s.action = script(&"u".repeat(513), B256::repeat_byte(1))),
            ),
            (
                "action.code_hash: required (keccak256 of the code)",
                Box::new(move |s| s.action = script("https://x", B256::ZERO)),
            ),
            ("gas_limit: 20999 is not in 21000..=5000000", Box::new(|s| s.gas_limit = 20_999)),
            ("gas_limit: 5000001 is not in 21000..=5000000", Box::new(|s| s.gas_limit = 5_000_001)),
            ("max_fee_wei: must be > 0", Box::new(|s| s.max_fee = 0)),
            ("max_fee_wei: must be below 2^80", Box::new(|s| s.max_fee = 1 << 80)),
            ("expiry_secs: must be > 0 (null: never expires)", Box::new(|s| s.expiry = Some(0))),
            ("expiry_secs: must be below 2^40", Box::new(|s| s.expiry = Some(1 << 40))),
            (
                "expiry_secs: 1700000100 is not after the chain's time 1700000100",
                Box::new(|s| s.expiry = Some(1_700_000_100)),
            ),
            (
                "expiry_secs: 1700000200 is before the first task at 1800000000",
                Box::new(|s| {
                    s.trigger = Trigger::Interval { start: 1_800_000_000, period: 1 };
                    s.expiry = Some(1_700_000_200);
                }),
            ),
        ];
        for (message, edit) in cases {
            let mut spec = call_spec();
            edit(&mut spec);
            let error = validate_spec(&spec, &context).unwrap_err();
            assert_eq!(error.to_string(), message);
            assert!(message.starts_with(error.field), "{message}");
        }
        // Without a chain, the time rule is skipped; the rest still holds.
        let spec = JobSpec { expiry: Some(1_700_000_100), ..call_spec() };
        assert_eq!(validate_spec(&spec, &SpecContext::default()), Ok(()));
    }

    #[test]
    fn funding_fits_the_escrow() {
        let too_much = validate_funding("funding_wei", U256::from(1u64) << 96, true).unwrap_err();
        assert_eq!(too_much.to_string(), "funding_wei: must be below 2^96 (a job's escrow is a uint96)");
        assert_eq!(validate_funding("funding_wei", (U256::from(1u64) << 96) - U256::from(1u64), true), Ok(()));
        assert_eq!(
            validate_funding("amount_wei", U256::ZERO, false).unwrap_err().to_string(),
            "amount_wei: must be > 0"
        );
        assert_eq!(validate_funding("funding_wei", U256::ZERO, true), Ok(()));
    }

    #[test]
    fn one_wei_of_escrow_funds_nothing_at_any_price() {
        let spec = call_spec();
        assert!(!is_funded(&spec, U256::from(1), FLOOR_GAS_PRICE, 0));
        assert!(!is_funded(&spec, U256::ZERO, 0, 0), "an empty escrow never pays");
        assert!(is_funded(&spec, U256::from(100_000), FLOOR_GAS_PRICE, 0), "gas limit x 1 wei");
        // Capped by the max fee: a balance of max fee pays at any price.
        assert!(is_funded(&spec, U256::from(spec.max_fee), 10u128.pow(12), 10u128.pow(18)));
    }
}
