//! Moving the record between machines, in the spirit of EIP-3076's interchange format: a JSON file
//! with metadata naming the signing domain (chain id and task manager) and the format version, and
//! the list of signed `(jobId, sequence, specHash, responseHash)`. Integers are decimal strings (as in
//! EIP-3076, so no JSON reader rounds them), hashes and addresses `0x` hex. Version 2 added
//! `spec_hash` (the spec the leaf named); a response without one (version 1, or omitted) is recorded
//! as signed under an unknown spec, which conflicts with every spec. Both versions are read.
//!
//! ```json
//! { "metadata": { "interchange_format_version": "2", "chain_id": "31337", "task_manager": "0x..." },
//!   "signed_responses": [ { "job_id": "7", "sequence": "3", "spec_hash": "0x...", "response_hash": "0x..." } ],
//!   "signed_batches": [ { "digest": "0x...", "root": "0x...", "reference_block_number": "120",
//!                         "reference_block_hash": "0x...", "leaf_count": "1" } ] }
//! ```
//!
//! Importing merges: a response already recorded identically is skipped, a new one is added, and a
//! different one refuses the whole import (nothing is written).

use std::str::FromStr;

use alloy::primitives::{Address, B256, U256};
use keeper_shared::batch::TaskId;
use rusqlite::{params, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::{
    conflicting, insert_response, record_batch, recorded_responses, BatchRow, Domain, Result, SlashingProtection,
    SlashingProtectionError, BATCHES,
};
use crate::store::codec::{b256_col, now_ms, u64_col, u64_to_sql};

/// The version of the interchange format this code writes (it also reads [`INTERCHANGE_FORMAT_V1`]).
pub const INTERCHANGE_FORMAT_VERSION: &str = "2";
/// The first version: responses without spec hashes.
pub const INTERCHANGE_FORMAT_V1: &str = "1";

/// The record of one signing domain, ready to be written as JSON or imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interchange {
    pub metadata: InterchangeMetadata,
    pub signed_responses: Vec<InterchangeResponse>,
    pub signed_batches: Vec<InterchangeBatch>,
}

/// The signing domain the record is valid in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterchangeMetadata {
    pub chain_id: u64,
    pub task_manager: Address,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterchangeResponse {
    pub task: TaskId,
    /// `None`: signed under an unknown spec (conflicts with every spec).
    pub spec_hash: Option<B256>,
    pub response_hash: B256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterchangeBatch {
    pub digest: B256,
    pub root: B256,
    pub reference_block_number: u64,
    pub reference_block_hash: B256,
    pub leaf_count: u64,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub responses_added: u64,
    pub responses_already_recorded: u64,
    pub batches_added: u64,
    pub batches_already_recorded: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireInterchange {
    metadata: WireMetadata,
    signed_responses: Vec<WireResponse>,
    #[serde(default)]
    signed_batches: Vec<WireBatch>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMetadata {
    interchange_format_version: String,
    chain_id: String,
    task_manager: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireResponse {
    job_id: String,
    sequence: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec_hash: Option<String>,
    response_hash: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBatch {
    digest: String,
    root: String,
    reference_block_number: String,
    reference_block_hash: String,
    leaf_count: String,
}

fn field_error(field: &'static str, value: &str, reason: impl ToString) -> SlashingProtectionError {
    SlashingProtectionError::InterchangeField { field, value: value.to_owned(), reason: reason.to_string() }
}

fn parse_u64(field: &'static str, value: &str) -> Result<u64> {
    // Decimal digits only: `u64::from_str` would also take a leading `+`.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_error(field, value, "expected a decimal integer"));
    }
    value.parse().map_err(|e| field_error(field, value, e))
}

fn parse_u256(field: &'static str, value: &str) -> Result<U256> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_error(field, value, "expected a decimal integer"));
    }
    U256::from_str_radix(value, 10).map_err(|e| field_error(field, value, e))
}

fn parse_b256(field: &'static str, value: &str) -> Result<B256> {
    if !value.starts_with("0x") || value.len() != 66 {
        return Err(field_error(field, value, "expected 0x and 64 hex digits"));
    }
    B256::from_str(value).map_err(|e| field_error(field, value, e))
}

fn parse_address(field: &'static str, value: &str) -> Result<Address> {
    if !value.starts_with("0x") || value.len() != 42 {
        return Err(field_error(field, value, "expected 0x and 40 hex digits"));
    }
    Address::from_str(value).map_err(|e| field_error(field, value, e))
}

impl Interchange {
    /// The JSON text of the record (pretty-printed, for a file an operator may read).
    pub fn to_json(&self) -> Result<String> {
        let wire = WireInterchange {
            metadata: WireMetadata {
                interchange_format_version: INTERCHANGE_FORMAT_VERSION.to_owned(),
                chain_id: self.metadata.chain_id.to_string(),
                task_manager: self.metadata.task_manager.to_checksum(None),
            },
            signed_responses: self
                .signed_responses
                .iter()
                .map(|r| WireResponse {
                    job_id: r.task.job_id.to_string(),
                    sequence: r.task.sequence.to_string(),
                    spec_hash: r.spec_hash.map(|spec| spec.to_string()),
                    response_hash: r.response_hash.to_string(),
                })
                .collect(),
            signed_batches: self
                .signed_batches
                .iter()
                .map(|b| WireBatch {
                    digest: b.digest.to_string(),
                    root: b.root.to_string(),
                    reference_block_number: b.reference_block_number.to_string(),
                    reference_block_hash: b.reference_block_hash.to_string(),
                    leaf_count: b.leaf_count.to_string(),
                })
                .collect(),
        };
        Ok(serde_json::to_string_pretty(&wire)?)
    }

    /// Parses and checks a record written by [`Interchange::to_json`] (or by hand in that format).
    pub fn from_json(text: &str) -> Result<Self> {
        let wire: WireInterchange = serde_json::from_str(text)?;
        let version = wire.metadata.interchange_format_version.as_str();
        if version != INTERCHANGE_FORMAT_VERSION && version != INTERCHANGE_FORMAT_V1 {
            return Err(SlashingProtectionError::InterchangeVersion {
                found: wire.metadata.interchange_format_version,
                supported: INTERCHANGE_FORMAT_VERSION,
            });
        }
        let metadata = InterchangeMetadata {
            chain_id: parse_u64("metadata.chain_id", &wire.metadata.chain_id)?,
            task_manager: parse_address("metadata.task_manager", &wire.metadata.task_manager)?,
        };
        let signed_responses = wire
            .signed_responses
            .iter()
            .map(|r| {
                Ok(InterchangeResponse {
                    task: TaskId {
                        job_id: parse_u256("signed_responses.job_id", &r.job_id)?,
                        sequence: parse_u64("signed_responses.sequence", &r.sequence)?,
                    },
                    spec_hash: r
                        .spec_hash
                        .as_deref()
                        .map(|spec| parse_b256("signed_responses.spec_hash", spec))
                        .transpose()?
                        .filter(|spec| *spec != super::UNKNOWN_SPEC),
                    response_hash: parse_b256("signed_responses.response_hash", &r.response_hash)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let signed_batches = wire
            .signed_batches
            .iter()
            .map(|b| {
                let leaf_count = parse_u64("signed_batches.leaf_count", &b.leaf_count)?;
                if leaf_count == 0 {
                    return Err(field_error("signed_batches.leaf_count", &b.leaf_count, "a batch has leaves"));
                }
                Ok(InterchangeBatch {
                    digest: parse_b256("signed_batches.digest", &b.digest)?,
                    root: parse_b256("signed_batches.root", &b.root)?,
                    reference_block_number: parse_u64(
                        "signed_batches.reference_block_number",
                        &b.reference_block_number,
                    )?,
                    reference_block_hash: parse_b256("signed_batches.reference_block_hash", &b.reference_block_hash)?,
                    leaf_count,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { metadata, signed_responses, signed_batches })
    }
}

impl SlashingProtection<'_> {
    /// The whole record of one signing domain.
    pub fn export(&self, chain_id: u64, task_manager: Address) -> Result<Interchange> {
        let domain = Domain::new(chain_id, task_manager)?;
        let signed_responses = self
            .responses(&domain, None)?
            .into_iter()
            .map(|r| InterchangeResponse { task: r.task, spec_hash: r.spec_hash, response_hash: r.response_hash })
            .collect();
        let mut stmt = self.conn.prepare_cached(
            "SELECT digest, root, reference_block_number, reference_block_hash, leaf_count FROM signed_batches
             WHERE chain_id = ?1 AND task_manager = ?2 ORDER BY reference_block_number, digest",
        )?;
        let mut rows = stmt.query(params![domain.chain_id, domain.task_manager.as_slice()])?;
        let mut signed_batches = Vec::new();
        while let Some(row) = rows.next()? {
            signed_batches.push(InterchangeBatch {
                digest: b256_col(row, BATCHES, "digest")?,
                root: b256_col(row, BATCHES, "root")?,
                reference_block_number: u64_col(row, BATCHES, "reference_block_number")?,
                reference_block_hash: b256_col(row, BATCHES, "reference_block_hash")?,
                leaf_count: u64_col(row, BATCHES, "leaf_count")?,
            });
        }
        Ok(Interchange { metadata: InterchangeMetadata { chain_id, task_manager }, signed_responses, signed_batches })
    }

    /// Merges `record` into this one, in one transaction: all of it or, on any conflict, none.
    pub fn import(&mut self, record: &Interchange) -> Result<ImportSummary> {
        let domain = Domain::new(record.metadata.chain_id, record.metadata.task_manager)?;
        let now = now_ms();
        let mut summary = ImportSummary::default();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for response in &record.signed_responses {
            let recorded = recorded_responses(&tx, &domain, response.task, response.spec_hash)?;
            if let Some(recorded) = conflicting(&recorded, response.response_hash) {
                return Err(SlashingProtectionError::ImportConflict {
                    job_id: response.task.job_id,
                    sequence: response.task.sequence,
                    recorded,
                    imported: response.response_hash,
                });
            }
            if insert_response(&tx, &domain, response.task, response.spec_hash, response.response_hash, None, now)? {
                summary.responses_added += 1;
            } else {
                summary.responses_already_recorded += 1;
            }
        }
        for batch in &record.signed_batches {
            let row = BatchRow {
                chain_id: domain.chain_id,
                task_manager: domain.task_manager,
                reference_block_number: u64_to_sql(BATCHES, "reference_block_number", batch.reference_block_number)?,
                reference_block_hash: batch.reference_block_hash,
                root: batch.root,
            };
            if record_batch(&tx, batch.digest, row, batch.leaf_count, now)? {
                summary.batches_added += 1;
            } else {
                summary.batches_already_recorded += 1;
            }
        }
        tx.commit()?;
        Ok(summary)
    }
}
