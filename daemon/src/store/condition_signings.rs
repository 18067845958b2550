//! The keeper's single-flight record of condition jobs: the last task it signed per job and the
//! reference block it was checked at (`keeper::role`'s rule). Written in the same transaction as the
//! task's `signed` state, before the signature leaves the process, so a restarted keeper still knows
//! which task of a job may be in flight.

use std::collections::HashMap;

use alloy::primitives::U256;
use keeper_shared::batch::TaskId;

use super::codec::{now_ms, u256_col, u256_to_sql, u64_col, u64_to_sql};
use super::error::Result;
use super::{ReadTx, WriteTx};

const TABLE: &str = "condition_signings";

/// The last condition task signed for a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionSigning {
    pub sequence: u64,
    pub reference_block: u64,
}

impl ReadTx<'_> {
    /// Every job's last signed condition task.
    pub fn condition_signings(&self) -> Result<HashMap<U256, ConditionSigning>> {
        let mut stmt = self.conn.prepare_cached("SELECT job_id, sequence, reference_block FROM condition_signings")?;
        let mut rows = stmt.query([])?;
        let mut out = HashMap::new();
        while let Some(row) = rows.next()? {
            let signing = ConditionSigning {
                sequence: u64_col(row, TABLE, "sequence")?,
                reference_block: u64_col(row, TABLE, "reference_block")?,
            };
            out.insert(u256_col(row, TABLE, "job_id")?, signing);
        }
        Ok(out)
    }
}

impl WriteTx<'_> {
    /// Records that `task` was signed at `reference_block`: it is its job's task in flight now, whatever
    /// its sequence (the keeper signs another task of the job only once the previous one landed or can no
    /// longer land); the same task signed again moves its reference block forward, never back.
    pub fn record_condition_signing(&self, task: TaskId, reference_block: u64) -> Result<()> {
        let sequence = u64_to_sql(TABLE, "sequence", task.sequence)?;
        let block = u64_to_sql(TABLE, "reference_block", reference_block)?;
        self.conn
            .prepare_cached(
                "INSERT INTO condition_signings (job_id, sequence, reference_block, signed_at_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (job_id) DO UPDATE SET
                     sequence = excluded.sequence,
                     reference_block = excluded.reference_block,
                     signed_at_ms = excluded.signed_at_ms
                 WHERE excluded.sequence != sequence OR excluded.reference_block > reference_block",
            )?
            .execute(rusqlite::params![u256_to_sql(task.job_id).as_slice(), sequence, block, now_ms()])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreError};

    #[test]
    fn keeps_the_latest_task_per_job_and_its_latest_reference_block() {
        let mut store = Store::open_in_memory().unwrap();
        let task = |job: u64, sequence: u64| TaskId { job_id: U256::from(job), sequence };
        let signed = |store: &mut Store| store.read(|tx| tx.condition_signings()).unwrap();
        assert!(signed(&mut store).is_empty());
        store
            .write(|tx| {
                tx.record_condition_signing(task(1, 4), 100)?;
                tx.record_condition_signing(task(1, 4), 103)?; // proposed again later
                tx.record_condition_signing(task(1, 4), 101)?; // an older proposal signed late
                tx.record_condition_signing(task(2, 9), 90)?;
                tx.record_condition_signing(task(2, 8), 95)?; // an earlier task, signed once 9 landed
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let all = signed(&mut store);
        assert_eq!(all[&U256::from(1)], ConditionSigning { sequence: 4, reference_block: 103 });
        assert_eq!(all[&U256::from(2)], ConditionSigning { sequence: 8, reference_block: 95 });
        store.write(|tx| tx.record_condition_signing(task(1, 5), 104)).unwrap();
        assert_eq!(signed(&mut store)[&U256::from(1)], ConditionSigning { sequence: 5, reference_block: 104 });
    }
}
