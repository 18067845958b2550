//! The job cache: what the job manager contract says about each job, as of a block. The spec is
//! kept as bytes (the ABI encoding of the contract's `JobSpec`); `keeperd::jobs` decodes it. A job whose
//! creation a reorg took off the chain keeps its row, marked (its tasks and their history refer to it),
//! and no read returns it until it is created again.

use alloy::primitives::{Address, U256};
use rusqlite::params;

use super::codec::{enum_col, now_ms, u256_col, u256_to_sql, u64_col, u64_to_sql};
use super::error::Result;
use super::error::StoreError;
use super::{ReadTx, WriteTx};

const TABLE: &str = "jobs";

/// A job's status (`keeper_shared::job`), stored as its name: TEXT that the CHECK constraint of
/// `jobs.status` lists, read back with [`JobStatus::parse`].
pub use keeper_shared::job::JobStatus;

/// One cached job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub job_id: U256,
    /// The spec as read from the chain; its encoding belongs to the job manager's code.
    pub spec: Vec<u8>,
    pub status: JobStatus,
    /// The block whose state this record reflects.
    pub updated_at_block: u64,
    /// Who created the job (the only account that may change it).
    pub owner: Address,
    /// The job's forwarder: the only sender of its target calls.
    pub forwarder: Address,
    /// Escrow left, in wei.
    pub balance: U256,
    /// The exactly-once watermark: every sequence below it is performed or skipped for good.
    pub next_sequence: u64,
}

const COLUMNS: &str = "job_id, spec, status, updated_at_block, owner, forwarder, balance, next_sequence";

fn opt_address(row: &rusqlite::Row<'_>, column: &'static str) -> Result<Address> {
    let bytes: Option<Vec<u8>> = row.get(column)?;
    match bytes {
        None => Ok(Address::ZERO),
        Some(bytes) => Address::try_from(bytes.as_slice())
            .map_err(|_| StoreError::invalid(TABLE, column, format!("{} bytes, not 20", bytes.len()))),
    }
}

fn decode(row: &rusqlite::Row<'_>) -> Result<JobRecord> {
    let balance: Option<Vec<u8>> = row.get("balance")?;
    let balance = match balance {
        None => U256::ZERO,
        Some(bytes) => U256::try_from_be_slice(&bytes)
            .ok_or_else(|| StoreError::invalid(TABLE, "balance", format!("{} bytes, not 32", bytes.len())))?,
    };
    Ok(JobRecord {
        job_id: u256_col(row, TABLE, "job_id")?,
        spec: row.get("spec")?,
        status: enum_col(row, TABLE, "status", JobStatus::parse)?,
        updated_at_block: u64_col(row, TABLE, "updated_at_block")?,
        owner: opt_address(row, "owner")?,
        forwarder: opt_address(row, "forwarder")?,
        balance,
        next_sequence: u64_col(row, TABLE, "next_sequence")?,
    })
}

impl ReadTx<'_> {
    pub fn job(&self, job_id: U256) -> Result<Option<JobRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE job_id = ?1 AND left_chain_after_block IS NULL"
        ))?;
        let mut rows = stmt.query([u256_to_sql(job_id)])?;
        rows.next()?.map(decode).transpose()
    }

    /// Up to `limit` jobs after `after` (keyset pagination in job id order), optionally of one status.
    pub fn jobs(&self, status: Option<JobStatus>, after: Option<U256>, limit: u32) -> Result<Vec<JobRecord>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM jobs
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR job_id > ?2) AND left_chain_after_block IS NULL
             ORDER BY job_id LIMIT ?3"
        ))?;
        let mut rows = stmt.query(params![status.map(JobStatus::as_str), after.map(u256_to_sql), limit])?;
        let mut jobs = Vec::new();
        while let Some(row) = rows.next()? {
            jobs.push(decode(row)?);
        }
        Ok(jobs)
    }
}

impl WriteTx<'_> {
    /// Inserts or replaces the cached job (on the chain: a mark that its creation left it is cleared).
    pub fn upsert_job(&self, job: &JobRecord) -> Result<()> {
        let block = u64_to_sql(TABLE, "updated_at_block", job.updated_at_block)?;
        self.conn
            .prepare_cached(
                "INSERT INTO jobs (job_id, spec, status, updated_at_block, updated_at_ms, owner, forwarder, balance,
                     next_sequence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (job_id) DO UPDATE SET spec = excluded.spec, status = excluded.status,
                     updated_at_block = excluded.updated_at_block, updated_at_ms = excluded.updated_at_ms,
                     owner = excluded.owner, forwarder = excluded.forwarder, balance = excluded.balance,
                     next_sequence = excluded.next_sequence, left_chain_after_block = NULL",
            )?
            .execute(params![
                u256_to_sql(job.job_id),
                job.spec,
                job.status.as_str(),
                block,
                now_ms(),
                job.owner.as_slice(),
                job.forwarder.as_slice(),
                u256_to_sql(job.balance),
                u64_to_sql(TABLE, "next_sequence", job.next_sequence)?,
            ])?;
        Ok(())
    }

    /// Marks the cached job as gone from the chain: a reorg whose common ancestor is `ancestor` took its
    /// creation away. `false` when no such job is cached (or it was marked already).
    pub fn mark_job_left_chain(&self, job_id: U256, ancestor: u64) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE jobs SET left_chain_after_block = ?2, updated_at_ms = ?3
                 WHERE job_id = ?1 AND left_chain_after_block IS NULL",
            )?
            .execute(params![u256_to_sql(job_id), u64_to_sql(TABLE, "left_chain_after_block", ancestor)?, now_ms()])?;
        Ok(changed > 0)
    }
}
