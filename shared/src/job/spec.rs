//! A job's spec: one Rust type whose variants carry exactly the fields a trigger or action kind uses,
//! converted to and from the contracts' flat `JobSpec` struct, and read and written as the control
//! API's JSON (field names with their units: `start_secs`, `period_blocks`, `max_fee_wei`).
//!
//! The job manager stores only `keccak256(abi.encode(spec))` and the task manager re-hashes the
//! spec it is given, so the conversion must round-trip bit for bit: every spec the job manager
//! accepts converts to this type and back unchanged, and `hash` equals the contract's `specHash`.
//! The store keeps the same ABI encoding (`encode`/`decode`), so its bytes are the chain's.

use alloy::primitives::aliases::{U40, U80};
use alloy::primitives::{keccak256, Address, Bytes, Log, B256, U256};
use alloy::sol_types::{SolEvent, SolValue};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::contracts::{JobManager, TaskManager};

/// Why a spec could not be converted, decoded or trusted. Field names are the contract's.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SpecError {
    #[error("job spec: {field}: unknown kind {value}")]
    UnknownKind { field: &'static str, value: u8 },
    #[error("job spec: {field}: must be zero or empty for a {kind} {what}")]
    NotAllowed { field: &'static str, kind: &'static str, what: &'static str },
    #[error("job spec: {field}: required for a {kind} {what}")]
    Missing { field: &'static str, kind: &'static str, what: &'static str },
    #[error("job spec: trigger.topicMask {mask:#04x}: only bits 0-3 may be set, bit 0 (topic0) must be")]
    TopicMask { mask: u8 },
    #[error("job spec: trigger.topics[{index}]: set although its mask bit is clear")]
    UnfilteredTopic { index: usize },
    #[error("job spec: {field}: {value} does not fit in {bits} bits")]
    // The value as a U256 rather than a u128: the latter's 16-byte alignment would make every
    // `Result<_, SpecError>` 16 bytes larger.
    OutOfRange { field: &'static str, value: U256, bits: u32 },
    #[error("job spec: not an ABI-encoded JobSpec: {0}")]
    Decode(String),
    #[error("job {job_id}: event {event} carries spec hash {event_hash}, but the spec hashes to {computed}")]
    HashMismatch { job_id: U256, event: &'static str, event_hash: B256, computed: B256 },
}

/// When a job's tasks are due (`contracts/src/interfaces/IJobManager.sol`, `Trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// Task `n` is due at unix time `start + n * period`.
    Interval {
        #[serde(rename = "start_secs")]
        start: u64,
        #[serde(rename = "period_secs")]
        period: u64,
    },
    /// Task `n` is due at block `start + n * period`.
    Block {
        #[serde(rename = "start_block")]
        start: u64,
        #[serde(rename = "period_blocks")]
        period: u64,
    },
    /// One task per matching log, from block `start` on.
    Event(EventFilter),
}

/// Which logs trigger an event job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventFilter {
    /// The first block whose logs count.
    #[serde(rename = "start_block")]
    pub start: u64,
    /// The contract whose logs count.
    pub emitter: Address,
    /// The log's topic 0 (the event signature): always filtered on.
    pub topic0: B256,
    /// Filters on topics 1, 2 and 3: `Some(value)` must match (zero included), `None` matches anything
    /// (in JSON `null`, or all three when the field is absent).
    #[serde(default)]
    pub topics: [Option<B256>; 3],
}

/// What a job's task does (`Action` in the contract).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Send `data` to `target`.
    Call {
        target: Address,
        #[serde(deserialize_with = "hex_0x")]
        data: Bytes,
    },
    /// Simulate `target.checkUpkeep(check_data)` from the zero address; if it says so, call
    /// `target.performUpkeep(performData)`.
    ChainlinkUpkeep {
        target: Address,
        #[serde(deserialize_with = "hex_0x")]
        check_data: Bytes,
    },
    /// Call `resolver` with `resolver_data`; if it returns `(true, execPayload)`, send `execPayload` to `target`.
    GelatoResolver {
        target: Address,
        resolver: Address,
        #[serde(deserialize_with = "hex_0x")]
        resolver_data: Bytes,
    },
    /// Fetch the code at `code_url`, check it against `code_hash`, run it with `args`; send what it returns to
    /// `target`.
    Script {
        target: Address,
        #[serde(deserialize_with = "hex_0x")]
        args: Bytes,
        code_url: String,
        code_hash: B256,
    },
}

/// Byte strings in a spec are `0x`-hex, as they are written: `""` or `"d09d"` would be read as
/// empty or as hex by alloy's lenient parser, and a typo should not pass as calldata.
fn hex_0x<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
    let text = String::deserialize(deserializer)?;
    let Some(digits) = text.strip_prefix("0x") else {
        return Err(serde::de::Error::custom(format!("{text:?} is not 0x-hex (write empty bytes as \"0x\")")));
    };
    alloy::primitives::hex::decode(digits)
        .map(Bytes::from)
        .map_err(|e| serde::de::Error::custom(format!("{text:?} is not 0x-hex: {e}")))
}

impl Action {
    /// The contract the job's forwarder calls.
    pub fn target(&self) -> Address {
        match self {
            Self::Call { target, .. }
            | Self::ChainlinkUpkeep { target, .. }
            | Self::GelatoResolver { target, .. }
            | Self::Script { target, .. } => *target,
        }
    }

    /// Whether the action decides at check time whether there is anything to do (a checker, a resolver,
    /// a script), so that two checks of one job before the first one's perform lands would both see the
    /// same work and the second perform would revert at the target. Such a job has at most one task in
    /// flight, its next check at a reference block after the previous task's outcome (docs/protocol.md,
    /// "Condition jobs"); a Call always does the same thing and needs no such rule.
    pub fn is_condition(&self) -> bool {
        match self {
            Self::Call { .. } => false,
            Self::ChainlinkUpkeep { .. } | Self::GelatoResolver { .. } | Self::Script { .. } => true,
        }
    }

    /// The contract's name of the kind (for messages).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Call { .. } => "Call",
            Self::ChainlinkUpkeep { .. } => "ChainlinkUpkeep",
            Self::GelatoResolver { .. } => "GelatoResolver",
            Self::Script { .. } => "Script",
        }
    }
}

/// Everything a job's owner sets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobSpec {
    pub trigger: Trigger,
    pub action: Action,
    /// The gas the target gets per execution.
    pub gas_limit: u32,
    /// The most one execution may charge, in wei (below 2^80).
    #[serde(rename = "max_fee_wei", with = "crate::decimal::u128")]
    pub max_fee: u128,
    /// Unix time after which no task is due (below 2^40); `None` = never (in JSON `null` or absent).
    #[serde(rename = "expiry_secs", default)]
    pub expiry: Option<u64>,
}

// The contract's `kind` values (`IJobManager.sol`, `TriggerKind` and `ActionKind`).
const TRIGGER_INTERVAL: u8 = 0;
const TRIGGER_BLOCK: u8 = 1;
const TRIGGER_EVENT: u8 = 2;
const ACTION_CALL: u8 = 0;
const ACTION_CHAINLINK: u8 = 1;
const ACTION_GELATO: u8 = 2;
const ACTION_SCRIPT: u8 = 3;

impl JobSpec {
    /// The job manager's struct (what `createJob` and `updateJob` take).
    pub fn to_job_manager(&self) -> Result<JobManager::JobSpec, SpecError> {
        let max_fee = U80::try_from(self.max_fee).map_err(|_| SpecError::OutOfRange {
            field: "maxFee",
            value: U256::from(self.max_fee),
            bits: 80,
        })?;
        let expiry = self.expiry.unwrap_or(0);
        let expiry = U40::try_from(expiry).map_err(|_| SpecError::OutOfRange {
            field: "expiry",
            value: U256::from(expiry),
            bits: 40,
        })?;
        Ok(JobManager::JobSpec {
            trigger: trigger_to_abi(&self.trigger),
            action: action_to_abi(&self.action),
            gasLimit: self.gas_limit,
            maxFee: max_fee,
            expiry,
        })
    }

    /// The task manager's struct (what a `TaskInput` carries). The same ABI type as the job manager's, bound
    /// twice because the bindings are generated per contract.
    pub fn to_task_manager(&self) -> Result<TaskManager::JobSpec, SpecError> {
        Ok(job_manager_to_task_manager(self.to_job_manager()?))
    }

    /// `abi.encode(spec)`: the bytes the contracts hash, and the stable encoding the store keeps.
    pub fn encode(&self) -> Result<Vec<u8>, SpecError> {
        Ok(self.to_job_manager()?.abi_encode())
    }

    /// Decodes `encode`'s bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, SpecError> {
        let abi =
            JobManager::JobSpec::abi_decode_validate(bytes).map_err(|error| SpecError::Decode(error.to_string()))?;
        Self::try_from(&abi)
    }

    /// `keccak256(abi.encode(spec))`: the job manager's `specHash`.
    pub fn hash(&self) -> Result<B256, SpecError> {
        Ok(keccak256(self.encode()?))
    }
}

/// The one conversion between the two bindings of the contracts' `JobSpec` (field for field).
pub fn job_manager_to_task_manager(spec: JobManager::JobSpec) -> TaskManager::JobSpec {
    let JobManager::JobSpec { trigger, action, gasLimit, maxFee, expiry } = spec;
    TaskManager::JobSpec {
        trigger: TaskManager::Trigger {
            kind: trigger.kind,
            start: trigger.start,
            period: trigger.period,
            emitter: trigger.emitter,
            topicMask: trigger.topicMask,
            topics: trigger.topics,
        },
        action: TaskManager::Action {
            kind: action.kind,
            target: action.target,
            data: action.data,
            resolver: action.resolver,
            codeUrl: action.codeUrl,
            codeHash: action.codeHash,
        },
        gasLimit,
        maxFee,
        expiry,
    }
}

fn trigger_to_abi(trigger: &Trigger) -> JobManager::Trigger {
    let (kind, start, period) = match *trigger {
        Trigger::Interval { start, period } => (TRIGGER_INTERVAL, start, period),
        Trigger::Block { start, period } => (TRIGGER_BLOCK, start, period),
        Trigger::Event(filter) => {
            let mut topics = [B256::ZERO; 4];
            let mut mask = 1u8;
            topics[0] = filter.topic0;
            for (i, topic) in filter.topics.iter().enumerate() {
                if let Some(value) = topic {
                    mask |= 1 << (i + 1);
                    topics[i + 1] = *value;
                }
            }
            return JobManager::Trigger {
                kind: TRIGGER_EVENT,
                start: filter.start,
                period: 0,
                emitter: filter.emitter,
                topicMask: mask,
                topics,
            };
        }
    };
    JobManager::Trigger { kind, start, period, emitter: Address::ZERO, topicMask: 0, topics: [B256::ZERO; 4] }
}

fn action_to_abi(action: &Action) -> JobManager::Action {
    let (kind, target, data, resolver, code_url, code_hash) = match action {
        Action::Call { target, data } => (ACTION_CALL, target, data, Address::ZERO, String::new(), B256::ZERO),
        Action::ChainlinkUpkeep { target, check_data } => {
            (ACTION_CHAINLINK, target, check_data, Address::ZERO, String::new(), B256::ZERO)
        }
        Action::GelatoResolver { target, resolver, resolver_data } => {
            (ACTION_GELATO, target, resolver_data, *resolver, String::new(), B256::ZERO)
        }
        Action::Script { target, args, code_url, code_hash } => {
            (ACTION_SCRIPT, target, args, Address::ZERO, code_url.clone(), *code_hash)
        }
    };
    JobManager::Action { kind, target: *target, data: data.clone(), resolver, codeUrl: code_url, codeHash: code_hash }
}

/// Refuses what `abi.encode` would not give back unchanged from the Rust type: a field the kind does
/// not use that is not zero. (The job manager refuses these too, so no spec on chain has them.)
fn unused<T: PartialEq + Default>(
    value: &T,
    field: &'static str,
    kind: &'static str,
    what: &'static str,
) -> Result<(), SpecError> {
    if *value == T::default() {
        Ok(())
    } else {
        Err(SpecError::NotAllowed { field, kind, what })
    }
}

impl TryFrom<&JobManager::Trigger> for Trigger {
    type Error = SpecError;

    fn try_from(t: &JobManager::Trigger) -> Result<Self, SpecError> {
        let kind = t.kind;
        let name = match kind {
            TRIGGER_INTERVAL => "Interval",
            TRIGGER_BLOCK => "Block",
            TRIGGER_EVENT => "Event",
            value => return Err(SpecError::UnknownKind { field: "trigger.kind", value }),
        };
        if kind == TRIGGER_EVENT {
            unused(&t.period, "trigger.period", name, "trigger")?;
            if t.emitter.is_zero() {
                return Err(SpecError::Missing { field: "trigger.emitter", kind: name, what: "trigger" });
            }
            if t.topicMask > 0x0f || t.topicMask & 1 == 0 {
                return Err(SpecError::TopicMask { mask: t.topicMask });
            }
            let mut topics = [None; 3];
            for (i, slot) in topics.iter_mut().enumerate() {
                let index = i + 1;
                if t.topicMask & (1 << index) != 0 {
                    *slot = Some(t.topics[index]);
                } else if !t.topics[index].is_zero() {
                    return Err(SpecError::UnfilteredTopic { index });
                }
            }
            return Ok(Self::Event(EventFilter { start: t.start, emitter: t.emitter, topic0: t.topics[0], topics }));
        }
        unused(&t.emitter, "trigger.emitter", name, "trigger")?;
        unused(&t.topicMask, "trigger.topicMask", name, "trigger")?;
        unused(&t.topics, "trigger.topics", name, "trigger")?;
        Ok(if kind == TRIGGER_INTERVAL {
            Self::Interval { start: t.start, period: t.period }
        } else {
            Self::Block { start: t.start, period: t.period }
        })
    }
}

impl TryFrom<&JobManager::Action> for Action {
    type Error = SpecError;

    fn try_from(a: &JobManager::Action) -> Result<Self, SpecError> {
        let kind = a.kind;
        let name = match kind {
            ACTION_CALL => "Call",
            ACTION_CHAINLINK => "ChainlinkUpkeep",
            ACTION_GELATO => "GelatoResolver",
            ACTION_SCRIPT => "Script",
            value => return Err(SpecError::UnknownKind { field: "action.kind", value }),
        };
        if kind != ACTION_GELATO {
            unused(&a.resolver, "action.resolver", name, "action")?;
        }
        if kind != ACTION_SCRIPT {
            unused(&a.codeUrl, "action.codeUrl", name, "action")?;
            unused(&a.codeHash, "action.codeHash", name, "action")?;
        }
        let target = a.target;
        let data = a.data.clone();
        Ok(match kind {
            ACTION_CALL => Self::Call { target, data },
            ACTION_CHAINLINK => Self::ChainlinkUpkeep { target, check_data: data },
            ACTION_GELATO => {
                if a.resolver.is_zero() {
                    return Err(SpecError::Missing { field: "action.resolver", kind: name, what: "action" });
                }
                Self::GelatoResolver { target, resolver: a.resolver, resolver_data: data }
            }
            _ => {
                if a.codeUrl.is_empty() {
                    return Err(SpecError::Missing { field: "action.codeUrl", kind: name, what: "action" });
                }
                if a.codeHash.is_zero() {
                    return Err(SpecError::Missing { field: "action.codeHash", kind: name, what: "action" });
                }
                Self::Script { target, args: data, code_url: a.codeUrl.clone(), code_hash: a.codeHash }
            }
        })
    }
}

impl TryFrom<&JobManager::JobSpec> for JobSpec {
    type Error = SpecError;

    fn try_from(spec: &JobManager::JobSpec) -> Result<Self, SpecError> {
        let expiry: u64 = spec.expiry.to();
        Ok(Self {
            trigger: Trigger::try_from(&spec.trigger)?,
            action: Action::try_from(&spec.action)?,
            gas_limit: spec.gasLimit,
            max_fee: spec.maxFee.to(),
            expiry: (expiry != 0).then_some(expiry),
        })
    }
}

impl TryFrom<&TaskManager::JobSpec> for JobSpec {
    type Error = SpecError;

    /// Through the ABI encoding, which the two bindings share.
    fn try_from(spec: &TaskManager::JobSpec) -> Result<Self, SpecError> {
        Self::decode(&spec.abi_encode())
    }
}

/// A job manager event the daemon follows, decoded, with the spec checked against its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    Created { job_id: U256, owner: Address, forwarder: Address, spec_hash: B256, deposit: U256, spec: JobSpec },
    Updated { job_id: U256, spec_hash: B256, spec: JobSpec },
    Paused { job_id: U256 },
    Resumed { job_id: U256 },
    Cancelled { job_id: U256, owner: Address, refund: U256 },
    ToppedUp { job_id: U256, from: Address, amount: U256, balance: U256 },
}

impl JobEvent {
    /// The job the event is about.
    pub fn job_id(&self) -> U256 {
        match self {
            Self::Created { job_id, .. }
            | Self::Updated { job_id, .. }
            | Self::Paused { job_id }
            | Self::Resumed { job_id }
            | Self::Cancelled { job_id, .. }
            | Self::ToppedUp { job_id, .. } => *job_id,
        }
    }
}

/// The job a `createJob` transaction created: the `JobCreated` log that `job_manager` emitted among
/// the receipt's `logs` (another contract's log of the same signature does not count).
pub fn created_job<L: AsRef<Log>>(logs: &[L], job_manager: Address) -> Option<JobManager::JobCreated> {
    logs.iter()
        .map(AsRef::as_ref)
        .filter(|log| log.address == job_manager)
        .find_map(|log| JobManager::JobCreated::decode_log_data(&log.data).ok())
}

/// Decodes a job manager log (an RPC log or a primitive one); `Ok(None)` for a log that is none of
/// `JobEvent`'s. The caller filters by address: any contract can emit these signatures.
pub fn decode_job_log<L: AsRef<Log>>(log: &L) -> Result<Option<JobEvent>, SpecError> {
    let log = log.as_ref();
    let Some(topic0) = log.topics().first() else { return Ok(None) };
    let decode_error = |error: alloy::sol_types::Error| SpecError::Decode(error.to_string());
    let event = match *topic0 {
        JobManager::JobCreated::SIGNATURE_HASH => {
            let e = JobManager::JobCreated::decode_log_data(&log.data).map_err(decode_error)?;
            let spec = checked_spec(&e.spec, e.jobId, "JobCreated", e.specHash)?;
            JobEvent::Created {
                job_id: e.jobId,
                owner: e.owner,
                forwarder: e.forwarder,
                spec_hash: e.specHash,
                deposit: e.deposit,
                spec,
            }
        }
        JobManager::JobUpdated::SIGNATURE_HASH => {
            let e = JobManager::JobUpdated::decode_log_data(&log.data).map_err(decode_error)?;
            let spec = checked_spec(&e.spec, e.jobId, "JobUpdated", e.specHash)?;
            JobEvent::Updated { job_id: e.jobId, spec_hash: e.specHash, spec }
        }
        JobManager::JobPaused::SIGNATURE_HASH => {
            let e = JobManager::JobPaused::decode_log_data(&log.data).map_err(decode_error)?;
            JobEvent::Paused { job_id: e.jobId }
        }
        JobManager::JobResumed::SIGNATURE_HASH => {
            let e = JobManager::JobResumed::decode_log_data(&log.data).map_err(decode_error)?;
            JobEvent::Resumed { job_id: e.jobId }
        }
        JobManager::JobCancelled::SIGNATURE_HASH => {
            let e = JobManager::JobCancelled::decode_log_data(&log.data).map_err(decode_error)?;
            JobEvent::Cancelled { job_id: e.jobId, owner: e.owner, refund: e.refund }
        }
        JobManager::JobToppedUp::SIGNATURE_HASH => {
            let e = JobManager::JobToppedUp::decode_log_data(&log.data).map_err(decode_error)?;
            JobEvent::ToppedUp { job_id: e.jobId, from: e.from, amount: e.amount, balance: e.balance }
        }
        _ => return Ok(None),
    };
    Ok(Some(event))
}

/// The event's spec, refused unless it hashes to the hash the event carries: a mismatch means our
/// encoding differs from the contract's, and every batch built from it would be skipped.
fn checked_spec(
    abi: &JobManager::JobSpec,
    job_id: U256,
    event: &'static str,
    event_hash: B256,
) -> Result<JobSpec, SpecError> {
    let spec = JobSpec::try_from(abi)?;
    let computed = spec.hash()?;
    if computed != event_hash {
        return Err(SpecError::HashMismatch { job_id, event, event_hash, computed });
    }
    Ok(spec)
}

#[cfg(test)]
mod tests;
