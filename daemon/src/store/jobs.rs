//! The job cache: what the job manager contract says about each job, as of a block. The spec is
//! kept opaque (bytes) until the contract's format settles.

use alloy::primitives::U256;
use rusqlite::params;

use super::codec::{enum_col, now_ms, text_enum, u256_col, u256_to_sql, u64_col, u64_to_sql};
use super::error::Result;
use super::{ReadTx, WriteTx};

const TABLE: &str = "jobs";

text_enum! {
    /// A job's lifecycle as the job manager reports it.
    pub enum JobStatus {
        Active => "active",
        Paused => "paused",
        Cancelled => "cancelled",
        Expired => "expired",
    }
}

/// One cached job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub job_id: U256,
    /// The spec as read from the chain; its encoding belongs to the job manager's code.
    pub spec: Vec<u8>,
    pub status: JobStatus,
    /// The block whose state this record reflects.
    pub updated_at_block: u64,
}

fn decode(row: &rusqlite::Row<'_>) -> Result<JobRecord> {
    Ok(JobRecord {
        job_id: u256_col(row, TABLE, "job_id")?,
        spec: row.get("spec")?,
        status: enum_col(row, TABLE, "status", JobStatus::from_db)?,
        updated_at_block: u64_col(row, TABLE, "updated_at_block")?,
    })
}

impl ReadTx<'_> {
    pub fn job(&self, job_id: U256) -> Result<Option<JobRecord>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT job_id, spec, status, updated_at_block FROM jobs WHERE job_id = ?1")?;
        let mut rows = stmt.query([u256_to_sql(job_id)])?;
        rows.next()?.map(decode).transpose()
    }

    /// Up to `limit` jobs after `after` (keyset pagination in job id order), optionally of one status.
    pub fn jobs(&self, status: Option<JobStatus>, after: Option<U256>, limit: u32) -> Result<Vec<JobRecord>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT job_id, spec, status, updated_at_block FROM jobs
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR job_id > ?2)
             ORDER BY job_id LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![status.map(JobStatus::as_str), after.map(u256_to_sql), limit])?;
        let mut jobs = Vec::new();
        while let Some(row) = rows.next()? {
            jobs.push(decode(row)?);
        }
        Ok(jobs)
    }
}

impl WriteTx<'_> {
    /// Inserts or replaces the cached job.
    pub fn upsert_job(&self, job: &JobRecord) -> Result<()> {
        let block = u64_to_sql(TABLE, "updated_at_block", job.updated_at_block)?;
        self.conn
            .prepare_cached(
                "INSERT INTO jobs (job_id, spec, status, updated_at_block, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (job_id) DO UPDATE SET spec = excluded.spec, status = excluded.status,
                     updated_at_block = excluded.updated_at_block, updated_at_ms = excluded.updated_at_ms",
            )?
            .execute(params![u256_to_sql(job.job_id), job.spec, job.status.as_str(), block, now_ms()])?;
        Ok(())
    }
}
