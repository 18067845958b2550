//! The control API's writes: request and answer bodies, and the one way a body is read
//! ([`parse_body`]: every bad or unknown field named by its JSON path).
//!
//! Every write is validated locally first (a bad request costs no gas), then sent as one
//! transaction by the daemon's transaction sender (operator registration: one per step), and
//! answered once the receipt is in, with its hash and block.

use alloy::primitives::{Address, Bytes, B256, U256};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorCode};
use crate::job::JobSpec;

/// `POST /v1/jobs`: create a job owned by the daemon's operator, funded with `funding_wei`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateJobRequest {
    pub spec: JobSpec,
    /// Escrow deposited with the job (may be 0: top it up later).
    #[serde(with = "crate::decimal::u256")]
    pub funding_wei: U256,
}

/// `POST /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateJobResponse {
    /// The new job's id, from the transaction's `JobCreated` log.
    #[serde(with = "crate::decimal::u256")]
    pub job_id: U256,
    /// The only sender of the job's calls.
    pub forwarder: Address,
    pub tx: TxOutcome,
}

/// `PUT /v1/jobs/{id}`: replace a job's spec. The trigger must stay the one the job was created
/// with (the job manager refuses a new one: cancel and create instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateJobRequest {
    pub spec: JobSpec,
}

/// `POST /v1/jobs/{id}/topup`: add escrow (anyone may top up any job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpRequest {
    #[serde(with = "crate::decimal::u256")]
    pub amount_wei: U256,
}

/// `POST /v1/jobs/{id}/pause`, `/resume`, `/cancel`, `/v1/operator/deregister`: no body, or `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyRequest {}

/// The answer of `PUT /v1/jobs/{id}` and `POST /v1/jobs/{id}/{pause,resume,cancel,topup}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobWriteResponse {
    #[serde(with = "crate::decimal::u256")]
    pub job_id: U256,
    pub tx: TxOutcome,
}

/// A transaction the daemon sent and saw mined with a successful receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOutcome {
    pub tx_hash: B256,
    pub block_number: u64,
    pub block_hash: Option<B256>,
    pub gas_used: u64,
    #[serde(with = "crate::decimal::u128")]
    pub effective_gas_price_wei: u128,
}

/// `POST /v1/operator/register`: bring the daemon's operator into the keeper operator set, the way
/// EigenLayer's flow goes: register as an EigenLayer operator (skipped if it is one), allocate
/// magnitude to the keeper set (skipped if already allocated), register for the set with the
/// daemon's BLS key and its proof of possession (skipped if registered). Stake is the operator's
/// business (its own deposits or its delegators'); nothing is deposited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterOperatorRequest {
    /// EigenLayer operator metadata URI (only used when registering as an EigenLayer operator).
    #[serde(default)]
    pub metadata_uri: String,
    /// EigenLayer allocation delay in blocks (only used when registering as an EigenLayer operator).
    #[serde(default)]
    pub allocation_delay_blocks: u32,
    /// Magnitude to allocate to the keeper set in each of its strategies, in 1e18ths of the
    /// operator's stake (default 1e18: all of it).
    #[serde(default)]
    pub magnitude: Option<u64>,
}

/// `POST /v1/operator/deposit`: the daemon's operator restakes tokens it holds: approve the
/// StrategyManager (skipped if the allowance suffices), `depositIntoStrategy`, then, if the
/// operator is in the keeper set already, refresh its weight in the key registry so the new stake
/// counts at once (skipped otherwise: registration reads it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositRequest {
    /// One of the keeper set's strategies (optional when the set has only one).
    #[serde(default)]
    pub strategy: Option<Address>,
    /// How much of the strategy's token, in whole tokens as a decimal (`100`, `0.5`); the daemon
    /// scales it by the token's `decimals()`.
    pub amount: String,
}

/// All of an operator's stake in a strategy (EigenLayer's `WAD`).
pub const FULL_MAGNITUDE: u64 = 1_000_000_000_000_000_000;

/// `POST /v1/operator/register` and `/v1/operator/deregister`: what each step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorWriteResponse {
    pub operator: Address,
    /// Every step is done. `false` when a step must wait (EigenLayer applies a new operator's
    /// allocation delay only after its configuration delay, in blocks): call again later; steps
    /// already done are skipped.
    pub complete: bool,
    pub steps: Vec<OperatorStepOutcome>,
    /// When `complete` is false: the block from which calling again can go further (at the latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at_block: Option<u64>,
}

/// One step of (de)registration: sent (`tx`) or skipped (`skipped` says why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorStepOutcome {
    pub step: OperatorStep,
    pub tx: Option<TxOutcome>,
    pub skipped: Option<String>,
}

/// The steps of (de)registration, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorStep {
    /// `DelegationManager.registerAsOperator`.
    RegisterAsOperator,
    /// `AllocationManager.modifyAllocations` to the requested magnitude.
    Allocate,
    /// `AllocationManager.registerForOperatorSets` with the BLS key (the key registry checks it).
    RegisterForKeeperSet,
    /// `AllocationManager.deregisterFromOperatorSets`.
    DeregisterFromKeeperSet,
    /// `AllocationManager.modifyAllocations` to 0.
    Deallocate,
    /// `approve` of the strategy's token to the StrategyManager.
    ApproveStake,
    /// `StrategyManager.depositIntoStrategy`.
    Deposit,
    /// `BlsKeyRegistry.updateWeights` for the operator.
    UpdateWeight,
    /// A step this build does not know.
    #[serde(other)]
    Unknown,
}

/// `GET /v1/operators`: the operators the key registry has seen register, with what this daemon
/// saw of their signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorList {
    pub operators: Vec<OperatorView>,
}

/// One operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorView {
    pub address: Address,
    /// The daemon's own operator.
    pub local: bool,
    /// In the keeper set now (the key registry's `isRegistered`).
    pub registered: bool,
    /// Its weight in the registry now (stake counted for quorums).
    #[serde(with = "crate::decimal::u256")]
    pub stake: U256,
    /// Its BLS public key (EIP-2537 G1 encoding), if registered.
    pub bls_pubkey: Option<Bytes>,
    /// `keccak256` of the key: how batches name non-signers.
    pub pubkey_hash: Option<B256>,
    /// When this daemon last stored a signature of it (ms), if ever.
    pub last_seen_ms: Option<i64>,
    /// Batches this daemon stored its signature for.
    pub signed: u64,
    /// Batches this daemon proposed or saw proposed that it did not sign (while registered).
    pub missed: u64,
    /// Median time from a proposal to this operator's signature over it (ms), over the batches it
    /// signed: how quickly it answers the aggregator. `null` when it signed none.
    #[serde(default)]
    pub signature_latency_ms: Option<u64>,
}

/// Reads a JSON request body as `T`: a body that does not parse, a field of the wrong type and a
/// field `T` does not have are all refused (`bad_json`), with the field's JSON path
/// (`spec.trigger.period_secs`). An empty body reads as `{}`.
pub fn parse_body<T: DeserializeOwned + Serialize>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::new(ErrorCode::BadJson, format!("body: not JSON: {e}")))?;
    // serde reads a struct from an array too (`[]` as an empty request): every body is an object.
    if !value.is_object() {
        return Err(ApiError::new(ErrorCode::BadJson, "body: must be a JSON object"));
    }
    let parsed: T = deserialize_at_path(&value).map_err(|(path, message)| {
        if path == "." {
            ApiError::new(ErrorCode::BadJson, format!("body: {message}"))
        } else {
            ApiError::field(ErrorCode::BadJson, refine_path::<T>(&value, &path, &message), message)
        }
    })?;
    // Unknown fields, and arrays where an object belongs: what the input has and the parsed value,
    // written back, does not. A typo in an optional field would otherwise be silently dropped.
    let known = serde_json::to_value(&parsed)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("body: re-encoding: {e}")))?;
    if let Some((path, reason)) = unknown_field(&value, &known, "") {
        return Err(ApiError::field(ErrorCode::BadJson, path, reason));
    }
    Ok(parsed)
}

fn deserialize_at_path<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
}

/// serde's path stops at an internally tagged enum (`spec.action`): it reads the object whole.
/// The field at fault is the one whose removal turns the error into "missing field" for it (the
/// tag, `kind`, always does: it is named only when no other field does).
fn refine_path<T: DeserializeOwned>(value: &serde_json::Value, path: &str, message: &str) -> String {
    let pointer = format!("/{}", path.replace('.', "/"));
    let Some(serde_json::Value::Object(object)) = value.pointer(&pointer) else { return path.to_owned() };
    if !object.contains_key("kind") || message.starts_with("missing field") {
        return path.to_owned();
    }
    let mut culprits = object.keys().filter(|key| {
        let mut without = value.clone();
        if let Some(serde_json::Value::Object(inner)) = without.pointer_mut(&pointer) {
            inner.remove(key.as_str());
        }
        deserialize_at_path::<T>(&without)
            .err()
            .is_some_and(|(_, changed)| changed != message && changed.starts_with(&format!("missing field `{key}`")))
    });
    let first = culprits.next();
    let key = match (first, culprits.next()) {
        (Some(tag), Some(other)) if tag == "kind" => other,
        (Some(key), _) => key,
        (None, _) => return path.to_owned(),
    };
    format!("{path}.{key}")
}

fn unknown_field(input: &serde_json::Value, known: &serde_json::Value, path: &str) -> Option<(String, &'static str)> {
    use serde_json::Value;
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match (input, known) {
        (Value::Object(input), Value::Object(known)) => input.iter().find_map(|(key, value)| match known.get(key) {
            None => Some((join(key), "unknown field")),
            Some(known) => unknown_field(value, known, &join(key)),
        }),
        (Value::Array(input), Value::Array(known)) => input
            .iter()
            .zip(known)
            .enumerate()
            .find_map(|(i, (value, known))| unknown_field(value, known, &format!("{path}[{i}]"))),
        (Value::Array(_), Value::Object(_)) => Some((path.to_owned(), "must be a JSON object")),
        (Value::Object(input), _) => input.keys().next().map(|key| (join(key), "unknown field")),
        _ => None,
    }
}
