//! The keeper's slashing-protection record, the same idea as EIP-3076 for Ethereum validators.
//!
//! Equivocation, the slashable offence a keeper can commit by accident, is signing two batches that
//! give the same task, under the same job spec, different responses (`docs/protocol.md`: a leaf names
//! its spec's hash, and the chain proves equivocation per task and spec). So before a batch signature
//! leaves the process, [`SlashingProtection::check_and_record`] checks, in one exclusive SQLite
//! transaction, every leaf against every response this key ever signed for its task under its spec
//! (or under an unknown spec: a response recorded without one conflicts with every spec) in the same
//! domain (chain id, task manager), records the new ones and the batch, and commits with fsync. Only then
//! does it answer [`SigningDecision::Sign`]. A crash after the commit leaves a record of a signature
//! that may never have been sent, which is safe; there is no point at which a signature exists
//! without its record.
//!
//! Re-signing the same digest is allowed (BLS signing is deterministic: it is the same signature),
//! and so is signing another batch that repeats a task with the same response (a task dropped from
//! one proposal and re-proposed in the next).

mod interchange;

use alloy::primitives::{Address, B256, U256};
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use thiserror::Error;

use super::codec::{b256_col, now_ms, opt_b256_col, u256_col, u256_to_sql, u64_col, u64_to_sql};
use super::error::StoreError;

pub use interchange::{
    ImportSummary, Interchange, InterchangeBatch, InterchangeMetadata, InterchangeResponse, INTERCHANGE_FORMAT_VERSION,
};

const RESPONSES: &str = "signed_responses";
const BATCHES: &str = "signed_batches";

/// Why the keeper must not sign, or why the record could not be read or written (in which case it
/// must not sign either).
#[derive(Debug, Error)]
pub enum SlashingProtectionError {
    #[error(
        "slashing protection: refusing to sign: task (job {job_id}, sequence {sequence}) was signed with \
         response {previous}, this batch gives {proposed}"
    )]
    ConflictingResponse { job_id: U256, sequence: u64, previous: B256, proposed: B256 },
    #[error(
        "slashing protection: import refused: task (job {job_id}, sequence {sequence}) is recorded with \
         response {recorded}, the imported record has {imported}"
    )]
    ImportConflict { job_id: U256, sequence: u64, recorded: B256, imported: B256 },
    #[error("slashing protection: signed_batches: digest {digest} is recorded for a different batch")]
    DigestMismatch { digest: B256 },
    #[error("slashing protection interchange: format version {found:?} is not supported (expected {supported:?})")]
    InterchangeVersion { found: String, supported: &'static str },
    #[error("slashing protection interchange: {field} {value:?}: {reason}")]
    InterchangeField { field: &'static str, value: String, reason: String },
    #[error("slashing protection interchange: not valid JSON of the format: {0}")]
    InterchangeJson(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SlashingProtectionError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(StoreError::Sqlite(e))
    }
}

type Result<T, E = SlashingProtectionError> = std::result::Result<T, E>;

/// What a keeper is asked to sign: a batch's context, root, digest and leaves. Built only from a
/// [`Batch`], so the digest recorded is the digest of the leaves checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSigningRequest {
    context: BatchContext,
    root: B256,
    digest: B256,
    leaves: Vec<TaskLeaf>,
}

impl BatchSigningRequest {
    pub fn new(batch: &Batch) -> Self {
        Self { context: *batch.context(), root: batch.root(), digest: batch.digest(), leaves: batch.leaves().to_vec() }
    }

    pub fn context(&self) -> &BatchContext {
        &self.context
    }

    pub fn root(&self) -> B256 {
        self.root
    }

    /// The 32-byte message to sign once the record allows it.
    pub fn digest(&self) -> B256 {
        self.digest
    }

    pub fn leaves(&self) -> &[TaskLeaf] {
        &self.leaves
    }
}

impl From<&Batch> for BatchSigningRequest {
    fn from(batch: &Batch) -> Self {
        Self::new(batch)
    }
}

/// The record's answer when signing is safe. Sign exactly [`SigningDecision::digest`].
#[must_use = "sign only after the record allows it, and only this digest"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningDecision {
    /// First signature over this digest; its record is durable.
    Sign { digest: B256 },
    /// This digest was signed before (e.g. before a restart); signing again yields the same signature.
    AlreadySigned { digest: B256 },
}

impl SigningDecision {
    pub fn digest(&self) -> B256 {
        match self {
            Self::Sign { digest } | Self::AlreadySigned { digest } => *digest,
        }
    }
}

/// A response in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedResponse {
    pub task: TaskId,
    /// The spec its leaf named; `None` when unknown (recorded before schema 5, or imported from a
    /// record without spec hashes): such a response conflicts with every spec.
    pub spec_hash: Option<B256>,
    pub response_hash: B256,
    /// The batch it was first signed in; `None` if it came from an imported record.
    pub first_digest: Option<B256>,
    pub signed_at_ms: i64,
}

/// The record, borrowed from the [`Store`](super::Store) for as long as it is used.
#[derive(Debug)]
pub struct SlashingProtection<'a> {
    conn: &'a mut Connection,
}

/// The signing domain as stored: chain id and task manager.
struct Domain {
    chain_id: i64,
    task_manager: Address,
}

impl Domain {
    fn new(chain_id: u64, task_manager: Address) -> Result<Self> {
        Ok(Self { chain_id: u64_to_sql(RESPONSES, "chain_id", chain_id)?, task_manager })
    }
}

/// How an unknown spec is stored (no keccak output is zero).
const UNKNOWN_SPEC: B256 = B256::ZERO;

/// The responses recorded for `task` in `domain` that a new response under `spec` must agree with:
/// those under `spec` and those under an unknown spec; for an unknown `spec` (`None`), all of them.
fn recorded_responses(conn: &Connection, domain: &Domain, task: TaskId, spec: Option<B256>) -> Result<Vec<B256>> {
    let mut stmt = conn.prepare_cached(
        "SELECT response_hash FROM signed_responses
         WHERE chain_id = ?1 AND task_manager = ?2 AND job_id = ?3 AND sequence = ?4
           AND (?5 IS NULL OR spec_hash = ?5 OR spec_hash = ?6)
         ORDER BY spec_hash",
    )?;
    let mut rows = stmt.query(params![
        domain.chain_id,
        domain.task_manager.as_slice(),
        u256_to_sql(task.job_id),
        u64_to_sql(RESPONSES, "sequence", task.sequence)?,
        spec.as_ref().map(B256::as_slice),
        UNKNOWN_SPEC.as_slice()
    ])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(b256_col(row, RESPONSES, "response_hash")?);
    }
    Ok(out)
}

/// The first of `recorded` that differs from `response`.
fn conflicting(recorded: &[B256], response: B256) -> Option<B256> {
    recorded.iter().copied().find(|previous| *previous != response)
}

/// Records `response_hash` for `task` under `spec` unless that exact (task, spec) is recorded; says
/// whether it was new. Call only after [`recorded_responses`] found no conflict.
fn insert_response(
    conn: &Connection,
    domain: &Domain,
    task: TaskId,
    spec: Option<B256>,
    response_hash: B256,
    first_digest: Option<B256>,
    at_ms: i64,
) -> Result<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO signed_responses (chain_id, task_manager, job_id, sequence, spec_hash,
                                                     response_hash, first_digest, signed_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            domain.chain_id,
            domain.task_manager.as_slice(),
            u256_to_sql(task.job_id),
            u64_to_sql(RESPONSES, "sequence", task.sequence)?,
            spec.unwrap_or(UNKNOWN_SPEC).as_slice(),
            response_hash.as_slice(),
            first_digest.as_ref().map(B256::as_slice),
            at_ms
        ])?;
    Ok(inserted == 1)
}

/// A signed batch as stored, for comparing a digest's record with what it is claimed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchRow {
    chain_id: i64,
    task_manager: Address,
    reference_block_number: i64,
    reference_block_hash: B256,
    root: B256,
}

fn recorded_batch(conn: &Connection, digest: B256) -> Result<Option<BatchRow>> {
    let row = conn
        .prepare_cached(
            "SELECT chain_id, task_manager, reference_block_number, reference_block_hash, root
             FROM signed_batches WHERE digest = ?1",
        )?
        .query_row([digest.as_slice()], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?, row.get::<_, i64>(2)?, row.get(3)?, row.get(4)?))
        })
        .optional()?;
    let Some((chain_id, task_manager, reference_block_number, hash, root)) = row else { return Ok(None) };
    let bytes32 = |column: &'static str, bytes: Vec<u8>| {
        B256::try_from(bytes.as_slice())
            .map_err(|_| StoreError::invalid(BATCHES, column, format!("expected 32 bytes, found {}", bytes.len())))
    };
    Ok(Some(BatchRow {
        chain_id,
        task_manager: Address::try_from(task_manager.as_slice())
            .map_err(|_| StoreError::invalid(BATCHES, "task_manager", "expected 20 bytes"))?,
        reference_block_number,
        reference_block_hash: bytes32("reference_block_hash", hash)?,
        root: bytes32("root", root)?,
    }))
}

/// Inserts the batch row unless the digest is recorded; says whether it was new. A digest recorded
/// for other contents means a corrupt record (or a hash collision): refuse.
fn record_batch(conn: &Connection, digest: B256, row: BatchRow, leaf_count: u64, at_ms: i64) -> Result<bool> {
    if let Some(existing) = recorded_batch(conn, digest)? {
        return if existing == row { Ok(false) } else { Err(SlashingProtectionError::DigestMismatch { digest }) };
    }
    conn.prepare_cached(
        "INSERT INTO signed_batches (digest, chain_id, task_manager, reference_block_number, reference_block_hash,
                                     root, leaf_count, signed_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        digest.as_slice(),
        row.chain_id,
        row.task_manager.as_slice(),
        row.reference_block_number,
        row.reference_block_hash.as_slice(),
        row.root.as_slice(),
        u64_to_sql(BATCHES, "leaf_count", leaf_count)?,
        at_ms
    ])?;
    Ok(true)
}

impl<'a> SlashingProtection<'a> {
    pub(crate) fn new(conn: &'a mut Connection) -> Self {
        Self { conn }
    }

    /// Decides whether this keeper may sign `request`, and if so records it durably first.
    ///
    /// In one exclusive transaction: every leaf is compared with the response recorded for its
    /// task in the same (chain id, task manager); if any differs, nothing is recorded and the
    /// answer is [`SlashingProtectionError::ConflictingResponse`]. Otherwise the new responses and
    /// the batch are recorded and committed (fsync, `synchronous=FULL`) before this returns. Any
    /// error means: do not sign.
    pub fn check_and_record(&mut self, request: &BatchSigningRequest) -> Result<SigningDecision> {
        let context = request.context();
        let domain = Domain::new(context.chain_id, context.task_manager)?;
        let now = now_ms();
        // IMMEDIATE takes the write lock up front, so no other writer can slip in between the
        // checks and the inserts (the data-dir lock already keeps other daemons out).
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for leaf in request.leaves() {
            let spec = Some(leaf.spec_hash);
            if let Some(previous) = conflicting(&recorded_responses(&tx, &domain, leaf.task, spec)?, leaf.response_hash)
            {
                // Dropping `tx` rolls back whatever earlier leaves inserted.
                return Err(SlashingProtectionError::ConflictingResponse {
                    job_id: leaf.task.job_id,
                    sequence: leaf.task.sequence,
                    previous,
                    proposed: leaf.response_hash,
                });
            }
            insert_response(&tx, &domain, leaf.task, spec, leaf.response_hash, Some(request.digest()), now)?;
        }
        let row = BatchRow {
            chain_id: domain.chain_id,
            task_manager: domain.task_manager,
            reference_block_number: u64_to_sql(BATCHES, "reference_block_number", context.reference_block_number)?,
            reference_block_hash: context.reference_block_hash,
            root: request.root(),
        };
        let leaf_count = u64::try_from(request.leaves().len()).unwrap_or(u64::MAX);
        let first = record_batch(&tx, request.digest(), row, leaf_count, now)?;
        tx.commit()?;
        let digest = request.digest();
        Ok(if first { SigningDecision::Sign { digest } } else { SigningDecision::AlreadySigned { digest } })
    }

    /// The response recorded for `task` under the spec `spec_hash` (or under an unknown spec) in the
    /// domain (chain id, task manager), if any: what a new leaf for that task and spec must repeat.
    pub fn signed_response(
        &self,
        chain_id: u64,
        task_manager: Address,
        task: TaskId,
        spec_hash: B256,
    ) -> Result<Option<SignedResponse>> {
        let domain = Domain::new(chain_id, task_manager)?;
        Ok(self.responses(&domain, Some(task))?.into_iter().find(|r| r.spec_hash.is_none_or(|spec| spec == spec_hash)))
    }

    /// Whether this keeper signed `digest`.
    pub fn has_signed(&self, digest: B256) -> Result<bool> {
        Ok(recorded_batch(self.conn, digest)?.is_some())
    }

    /// Responses of one domain, all or the one of `task`, in task order.
    fn responses(&self, domain: &Domain, task: Option<TaskId>) -> Result<Vec<SignedResponse>> {
        let (job, sequence) = match task {
            Some(task) => (Some(u256_to_sql(task.job_id)), Some(u64_to_sql(RESPONSES, "sequence", task.sequence)?)),
            None => (None, None),
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT job_id, sequence, spec_hash, response_hash, first_digest, signed_at_ms FROM signed_responses
             WHERE chain_id = ?1 AND task_manager = ?2 AND (?3 IS NULL OR (job_id = ?3 AND sequence = ?4))
             ORDER BY job_id, sequence, spec_hash",
        )?;
        let mut rows = stmt.query(params![domain.chain_id, domain.task_manager.as_slice(), job, sequence])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(SignedResponse {
                task: TaskId {
                    job_id: u256_col(row, RESPONSES, "job_id")?,
                    sequence: u64_col(row, RESPONSES, "sequence")?,
                },
                spec_hash: Some(b256_col(row, RESPONSES, "spec_hash")?).filter(|spec| *spec != UNKNOWN_SPEC),
                response_hash: b256_col(row, RESPONSES, "response_hash")?,
                first_digest: opt_b256_col(row, RESPONSES, "first_digest")?,
                signed_at_ms: row.get("signed_at_ms")?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
