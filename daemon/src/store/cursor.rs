//! Chain cursors: the last block each chain-following stream (e.g. `job_events`) has fully
//! processed. Move a cursor in the same [`Store::write`](super::Store::write) as the rows derived
//! from that block, so after a crash the stream resumes exactly after what was kept.

use super::codec::{b256_col, now_ms, u64_col, u64_to_sql};
use super::error::Result;
use super::{ReadTx, WriteTx};
use alloy::primitives::B256;

const TABLE: &str = "chain_cursor";

/// The last processed block of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainCursor {
    pub block_number: u64,
    /// Kept to notice a reorg below the cursor on restart.
    pub block_hash: B256,
}

impl ReadTx<'_> {
    /// The cursor of `stream`, or `None` if it never processed a block.
    pub fn cursor(&self, stream: &str) -> Result<Option<ChainCursor>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT block_number, block_hash FROM chain_cursor WHERE stream = ?1")?;
        let mut rows = stmt.query([stream])?;
        let Some(row) = rows.next()? else { return Ok(None) };
        Ok(Some(ChainCursor {
            block_number: u64_col(row, TABLE, "block_number")?,
            block_hash: b256_col(row, TABLE, "block_hash")?,
        }))
    }
}

impl WriteTx<'_> {
    /// Sets the cursor of `stream` (it may move back, to re-process after a reorg).
    pub fn set_cursor(&self, stream: &str, cursor: ChainCursor) -> Result<()> {
        let number = u64_to_sql(TABLE, "block_number", cursor.block_number)?;
        self.conn
            .prepare_cached(
                "INSERT INTO chain_cursor (stream, block_number, block_hash, updated_at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (stream) DO UPDATE SET block_number = excluded.block_number,
                 block_hash = excluded.block_hash, updated_at_ms = excluded.updated_at_ms",
            )?
            .execute(rusqlite::params![stream, number, cursor.block_hash.as_slice(), now_ms()])?;
        Ok(())
    }
}
