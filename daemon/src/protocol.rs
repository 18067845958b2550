//! The keeper <-> aggregator HTTP API, version 1: paths, JSON bodies, error codes, and the parsing
//! of every value that crosses the network. Both sides treat what they receive as untrusted: the
//! aggregator parses requests into [`SignedBatch`] and [`Dispute`] (hex, lengths, curve and
//! subgroup checked, each failure naming its field); a keeper rebuilds every proposal with
//! [`ProposalView::to_batch`], which recomputes its root and digest.
//!
//! | method | path | body | answer |
//! | --- | --- | --- | --- |
//! | GET | `/v1/status` | | [`StatusView`] |
//! | GET | `/v1/proposals?after=<cursor>&limit=<n>` | | [`ProposalPage`] (open proposals after the cursor) |
//! | GET | `/v1/proposals/{digest}` | | [`ProposalView`] |
//! | POST | `/v1/signatures` | [`SignaturePost`] | [`SignatureReceipt`] |
//! | POST | `/v1/disputes` | [`DisputePost`] | [`DisputeReceipt`] |
//!
//! Errors answer with an HTTP status and an [`ApiError`] body (the control API's type, see
//! `keeper_shared::api`): a stable `code`, a human `message`, and the `field` at fault when there
//! is one. Numbers that may exceed 2^53 (job ids) are decimal
//! strings; byte strings are `0x`-prefixed hex.

use std::fmt;
use std::str::FromStr;

use alloy::primitives::{Address, B256, U256};
/// The error body and codes, shared with the control API so both servers (and their serve loop)
/// answer errors alike.
pub use keeper_shared::api::{ApiError, ErrorCode};
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
use keeper_shared::bls::{BlsError, Signature, SIGNATURE_COMPRESSED_LEN};
use serde::{Deserialize, Serialize};

/// The version prefix of every path.
pub const API_VERSION: &str = "v1";
pub const STATUS_PATH: &str = "/v1/status";
pub const PROPOSALS_PATH: &str = "/v1/proposals";
/// The route pattern of one proposal; [`proposal_path`] fills it in.
pub const PROPOSAL_ROUTE: &str = "/v1/proposals/{digest}";
pub const SIGNATURES_PATH: &str = "/v1/signatures";
pub const DISPUTES_PATH: &str = "/v1/disputes";

/// Proposals per page when the keeper does not say.
pub const DEFAULT_PAGE_LIMIT: u32 = 100;
/// Longest free-text `detail` of a disputed leaf, in characters.
pub const MAX_DISPUTE_DETAIL_CHARS: usize = 256;

pub fn proposal_path(digest: &B256) -> String {
    format!("{PROPOSALS_PATH}/{digest}")
}

/// Where a keeper is in the list of proposals. Opaque to keepers: they send back what they got.
/// It carries the server instance's random epoch, so a cursor from before an aggregator restart
/// is recognised and the listing starts over instead of skipping proposals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    epoch: u64,
    position: u64,
}

impl Cursor {
    pub(crate) fn new(epoch: u64, position: u64) -> Self {
        Self { epoch, position }
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    pub(crate) fn position(&self) -> u64 {
        self.position
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{}", self.epoch, self.position)
    }
}

impl FromStr for Cursor {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Self, ApiError> {
        let invalid = || ApiError::field(ErrorCode::InvalidCursor, "after", "not a cursor this server issued");
        let (epoch, position) = s.split_once('-').ok_or_else(invalid)?;
        if epoch.len() != 16 {
            return Err(invalid());
        }
        let epoch = u64::from_str_radix(epoch, 16).map_err(|_| invalid())?;
        let position = position.parse::<u64>().map_err(|_| invalid())?;
        Ok(Self { epoch, position })
    }
}

// ---------------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------------

/// One open batch proposal: what a keeper checks leaf by leaf against its own results and signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalView {
    pub digest: String,
    pub chain_id: u64,
    pub task_manager: String,
    pub reference_block_number: u64,
    pub reference_block_hash: String,
    pub root: String,
    pub leaves: Vec<LeafView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafView {
    /// Decimal.
    pub job_id: String,
    pub sequence: u64,
    /// `keccak256(abi.encode(spec))` of the job spec the response was computed under.
    pub spec_hash: String,
    pub response_hash: String,
}

/// `GET /v1/proposals`: open proposals after the cursor, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposalPage {
    pub proposals: Vec<ProposalView>,
    /// Send it back as `after` to get only newer proposals.
    pub cursor: String,
    /// More open proposals follow this page.
    pub has_more: bool,
}

/// Query of `GET /v1/proposals`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProposalsQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `POST /v1/signatures`: an operator's BLS signature over a proposal's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignaturePost {
    pub operator: String,
    pub digest: String,
    /// The 96-byte compressed G2 signature.
    pub signature: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    Added,
    /// The same signature was already collected: re-sending is harmless.
    AlreadyPresent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureReceipt {
    pub status: SignatureStatus,
    pub quorum_reached: bool,
}

keeper_shared::named_enum! {
    /// Why a keeper will not sign a leaf. Its name is the wire value and the label of
    /// `keeper_tasks_disputed_total{reason}`, which registers every one of [`DisputeReason::ALL`].
    pub enum DisputeReason {
        /// The keeper's own response hash differs.
        ResponseMismatch => "response_mismatch",
        /// The leaf names a spec hash other than the job's spec this keeper executed.
        SpecMismatch => "spec_mismatch",
        /// By the keeper's view of the job, this task is not due at the reference block.
        NotDue => "not_due",
        /// The keeper could not execute the task (e.g. the checker reverted in an unexpected way).
        ExecutionFailed => "execution_failed",
        /// The job kind is one this keeper does not run.
        Unsupported => "unsupported",
        /// A condition job whose previous task (signed by this keeper) may still land, or landed after
        /// this leaf's reference block: checking the next one now would see the same work twice.
        PreviousInFlight => "previous_in_flight",
        Other => "other",
    }
}

/// `POST /v1/disputes`: leaves of a proposal an operator will not sign, so the aggregator can
/// re-propose the rest instead of stalling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisputePost {
    pub operator: String,
    pub digest: String,
    pub leaves: Vec<DisputedLeafView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisputedLeafView {
    /// Decimal (or `0x` hex).
    pub job_id: String,
    pub sequence: u64,
    pub reason: DisputeReason,
    /// The keeper's own response hash, with [`DisputeReason::ResponseMismatch`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_response_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputeReceipt {
    /// Disputed leaves recorded by this request (a repeated dispute records nothing new).
    pub recorded: usize,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub api_version: String,
    pub open_proposals: usize,
    /// The cursor after the newest proposal.
    pub cursor: String,
    pub quorum_bps: u16,
}

// ---------------------------------------------------------------------------------------------
// Parsed values
// ---------------------------------------------------------------------------------------------

/// A parsed, curve-checked signature post (not yet verified against the operator's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedBatch {
    pub operator: Address,
    pub digest: B256,
    pub signature: Signature,
}

/// A parsed dispute: distinct tasks, each with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub operator: Address,
    pub digest: B256,
    pub tasks: Vec<DisputedTask>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputedTask {
    pub task: TaskId,
    pub reason: DisputeReason,
    pub own_response_hash: Option<B256>,
    pub detail: Option<String>,
}

impl ProposalView {
    pub fn from_batch(batch: &Batch) -> Self {
        let context = batch.context();
        Self {
            digest: batch.digest().to_string(),
            chain_id: context.chain_id,
            task_manager: context.task_manager.to_string(),
            reference_block_number: context.reference_block_number,
            reference_block_hash: context.reference_block_hash.to_string(),
            root: batch.root().to_string(),
            leaves: batch
                .leaves()
                .iter()
                .map(|leaf| LeafView {
                    job_id: leaf.task.job_id.to_string(),
                    sequence: leaf.task.sequence,
                    spec_hash: leaf.spec_hash.to_string(),
                    response_hash: leaf.response_hash.to_string(),
                })
                .collect(),
        }
    }

    /// Rebuilds the batch and checks that the announced root and digest are its own.
    pub fn to_batch(&self) -> Result<Batch, ApiError> {
        let context = BatchContext {
            chain_id: self.chain_id,
            task_manager: parse_address("taskManager", &self.task_manager)?,
            reference_block_number: self.reference_block_number,
            reference_block_hash: parse_b256("referenceBlockHash", &self.reference_block_hash)?,
        };
        let leaves = self
            .leaves
            .iter()
            .enumerate()
            .map(|(i, leaf)| {
                Ok(TaskLeaf {
                    task: TaskId {
                        job_id: parse_u256(&format!("leaves[{i}].jobId"), &leaf.job_id)?,
                        sequence: leaf.sequence,
                    },
                    spec_hash: parse_b256(&format!("leaves[{i}].specHash"), &leaf.spec_hash)?,
                    response_hash: parse_b256(&format!("leaves[{i}].responseHash"), &leaf.response_hash)?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let batch = Batch::new(context, leaves).map_err(|e| ApiError::field(ErrorCode::InvalidValue, "leaves", e))?;
        if batch.root() != parse_b256("root", &self.root)? {
            return Err(ApiError::field(ErrorCode::InvalidValue, "root", "is not the Merkle root of the leaves"));
        }
        if batch.digest() != parse_b256("digest", &self.digest)? {
            return Err(ApiError::field(ErrorCode::InvalidValue, "digest", "is not the digest of the batch"));
        }
        Ok(batch)
    }
}

impl SignaturePost {
    pub fn from_signed(signed: &SignedBatch) -> Self {
        Self {
            operator: signed.operator.to_string(),
            digest: signed.digest.to_string(),
            signature: format!("0x{}", hex::encode(signed.signature.to_compressed())),
        }
    }

    pub fn parse(&self) -> Result<SignedBatch, ApiError> {
        Ok(SignedBatch {
            operator: parse_address("operator", &self.operator)?,
            digest: parse_b256("digest", &self.digest)?,
            signature: parse_signature("signature", &self.signature)?,
        })
    }
}

impl DisputePost {
    pub fn from_dispute(dispute: &Dispute) -> Self {
        Self {
            operator: dispute.operator.to_string(),
            digest: dispute.digest.to_string(),
            leaves: dispute
                .tasks
                .iter()
                .map(|t| DisputedLeafView {
                    job_id: t.task.job_id.to_string(),
                    sequence: t.task.sequence,
                    reason: t.reason,
                    own_response_hash: t.own_response_hash.map(|h| h.to_string()),
                    detail: t.detail.clone(),
                })
                .collect(),
        }
    }

    /// Parses the dispute: at least one leaf, each task at most once, details bounded.
    pub fn parse(&self) -> Result<Dispute, ApiError> {
        if self.leaves.is_empty() {
            return Err(ApiError::field(ErrorCode::InvalidValue, "leaves", "a dispute names at least one leaf"));
        }
        let mut tasks: Vec<DisputedTask> = Vec::with_capacity(self.leaves.len());
        for (i, leaf) in self.leaves.iter().enumerate() {
            let task =
                TaskId { job_id: parse_u256(&format!("leaves[{i}].jobId"), &leaf.job_id)?, sequence: leaf.sequence };
            if tasks.iter().any(|t| t.task == task) {
                return Err(ApiError::field(
                    ErrorCode::InvalidValue,
                    format!("leaves[{i}]"),
                    format!("task (job {}, sequence {}) is listed twice", task.job_id, task.sequence),
                ));
            }
            let own_response_hash = leaf
                .own_response_hash
                .as_deref()
                .map(|h| parse_b256(&format!("leaves[{i}].ownResponseHash"), h))
                .transpose()?;
            if let Some(detail) = &leaf.detail {
                if detail.chars().count() > MAX_DISPUTE_DETAIL_CHARS {
                    return Err(ApiError::field(
                        ErrorCode::InvalidValue,
                        format!("leaves[{i}].detail"),
                        format!("longer than {MAX_DISPUTE_DETAIL_CHARS} characters"),
                    ));
                }
            }
            tasks.push(DisputedTask { task, reason: leaf.reason, own_response_hash, detail: leaf.detail.clone() });
        }
        Ok(Dispute {
            operator: parse_address("operator", &self.operator)?,
            digest: parse_b256("digest", &self.digest)?,
            tasks,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Field parsers
// ---------------------------------------------------------------------------------------------

fn decode_hex(field: &str, value: &str) -> Result<Vec<u8>, ApiError> {
    let digits =
        value.strip_prefix("0x").ok_or_else(|| ApiError::field(ErrorCode::InvalidHex, field, "must start with 0x"))?;
    hex::decode(digits).map_err(|e| ApiError::field(ErrorCode::InvalidHex, field, e))
}

fn decode_fixed<const N: usize>(field: &str, value: &str) -> Result<[u8; N], ApiError> {
    let bytes = decode_hex(field, value)?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| {
        ApiError::field(ErrorCode::InvalidLength, field, format!("expected {N} bytes, got {}", bytes.len()))
    })
}

/// A `0x`-prefixed 32-byte hex value.
pub fn parse_b256(field: &str, value: &str) -> Result<B256, ApiError> {
    decode_fixed::<32>(field, value).map(B256::from)
}

/// A `0x`-prefixed 20-byte hex address (any letter case; no checksum is required).
pub fn parse_address(field: &str, value: &str) -> Result<Address, ApiError> {
    decode_fixed::<20>(field, value).map(Address::from)
}

/// A decimal or `0x`-hex unsigned 256-bit integer.
pub fn parse_u256(field: &str, value: &str) -> Result<U256, ApiError> {
    let parsed = match value.strip_prefix("0x") {
        Some(digits) if !digits.is_empty() => U256::from_str_radix(digits, 16),
        Some(_) => return Err(ApiError::field(ErrorCode::InvalidValue, field, "no digits")),
        None if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => U256::from_str_radix(value, 10),
        None => return Err(ApiError::field(ErrorCode::InvalidValue, field, "not a decimal or 0x-hex integer")),
    };
    parsed.map_err(|e| ApiError::field(ErrorCode::InvalidValue, field, e))
}

/// A `0x`-prefixed 96-byte compressed G2 signature: on the curve, in the subgroup, not infinity.
pub fn parse_signature(field: &str, value: &str) -> Result<Signature, ApiError> {
    let bytes = decode_fixed::<SIGNATURE_COMPRESSED_LEN>(field, value)?;
    Signature::from_compressed(&bytes).map_err(|e| {
        let code = match e {
            BlsError::InvalidLength { .. } => ErrorCode::InvalidLength,
            _ => ErrorCode::InvalidPoint,
        };
        ApiError::field(code, field, e)
    })
}

#[cfg(test)]
mod tests;
