//! Transactions this daemon sent. A transaction is recorded before it is broadcast, so after a
//! crash the nonce manager knows every nonce it used, which are still pending, what replaced what
//! (fee bumps), and whether a batch was already submitted (no duplicate submission).

use alloy::primitives::{Address, B256};
use rusqlite::{params, Row};

use super::codec::{address_col, b256_col, enum_col, now_ms, opt_b256_col, opt_u64_col, u64_col, u64_to_sql};
use super::error::{Result, StoreError};
use super::{ReadTx, WriteTx};

const TABLE: &str = "transactions";

keeper_shared::named_enum! {
    /// What a transaction does.
    pub enum TxKind {
        /// `respondToTasks`: a batch with its aggregate signature (payload: the batch digest).
        RespondToTasks => "respond_to_tasks",
        /// A challenge against an operator (payload: the evidence's id).
        Challenge => "challenge",
        /// Operator registration or key registry calls.
        OperatorRegistration => "operator_registration",
        /// Job manager calls (create, update, pause, cancel).
        JobAdmin => "job_admin",
        /// A transfer of nothing to itself that takes the nonce of an abandoned transaction (one whose
        /// anchor block left the chain), so that it cannot land and later nonces are not stuck.
        Cancel => "cancel",
    }
}

keeper_shared::named_enum! {
    /// Where a sent transaction stands.
    pub enum TxStatus {
        Pending => "pending",
        /// Included with a successful receipt.
        Mined => "mined",
        /// Included, but reverted.
        Reverted => "reverted",
        /// Superseded by another transaction with the same nonce (`replaced_by`).
        Replaced => "replaced",
        /// Given up on without inclusion (its nonce was used by another transaction).
        Dropped => "dropped",
    }
}

/// A transaction about to be broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransaction {
    pub chain_id: u64,
    pub sender: Address,
    pub nonce: u64,
    pub tx_hash: B256,
    pub kind: TxKind,
    /// What it carries, to find it again (for `RespondToTasks`, the batch digest).
    pub payload_ref: Option<Vec<u8>>,
    /// The signed raw transaction, to re-broadcast after a restart.
    pub raw: Option<Vec<u8>>,
    /// The block the transaction is valid on only while it is on the chain (a batch's reference
    /// block): never broadcast again once a reorg took it away.
    pub anchor: Option<BlockAnchor>,
}

/// A block by number and hash, which a transaction needs on the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockAnchor {
    pub number: u64,
    pub hash: B256,
}

/// A recorded transaction: what was recorded, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransaction {
    pub tx: NewTransaction,
    pub status: TxStatus,
    pub replaced_by: Option<B256>,
    pub block_number: Option<u64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

const COLUMNS: &str = "chain_id, sender, nonce, tx_hash, kind, payload_ref, raw, status, replaced_by, block_number, \
                       created_at_ms, updated_at_ms, anchor_block_number, anchor_block_hash";

fn decode(row: &Row<'_>) -> Result<StoredTransaction> {
    Ok(StoredTransaction {
        tx: NewTransaction {
            chain_id: u64_col(row, TABLE, "chain_id")?,
            sender: address_col(row, TABLE, "sender")?,
            nonce: u64_col(row, TABLE, "nonce")?,
            tx_hash: b256_col(row, TABLE, "tx_hash")?,
            kind: enum_col(row, TABLE, "kind", TxKind::parse)?,
            payload_ref: row.get("payload_ref")?,
            raw: row.get("raw")?,
            anchor: match (
                opt_u64_col(row, TABLE, "anchor_block_number")?,
                opt_b256_col(row, TABLE, "anchor_block_hash")?,
            ) {
                (Some(number), Some(hash)) => Some(BlockAnchor { number, hash }),
                _ => None,
            },
        },
        status: enum_col(row, TABLE, "status", TxStatus::parse)?,
        replaced_by: opt_b256_col(row, TABLE, "replaced_by")?,
        block_number: opt_u64_col(row, TABLE, "block_number")?,
        created_at_ms: row.get("created_at_ms")?,
        updated_at_ms: row.get("updated_at_ms")?,
    })
}

fn collect(mut rows: rusqlite::Rows<'_>) -> Result<Vec<StoredTransaction>> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

impl ReadTx<'_> {
    pub fn transaction(&self, tx_hash: B256) -> Result<Option<StoredTransaction>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM transactions WHERE tx_hash = ?1"))?;
        let mut rows = stmt.query([tx_hash.as_slice()])?;
        rows.next()?.map(decode).transpose()
    }

    /// `sender`'s pending transactions on `chain_id`, by nonce, oldest first within a nonce.
    pub fn pending_transactions(&self, chain_id: u64, sender: Address) -> Result<Vec<StoredTransaction>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM transactions WHERE chain_id = ?1 AND sender = ?2 AND status = 'pending'
             ORDER BY nonce, id"
        ))?;
        let rows = stmt.query(params![u64_to_sql(TABLE, "chain_id", chain_id)?, sender.as_slice()])?;
        collect(rows)
    }

    /// The highest nonce `sender` ever recorded on `chain_id`, whatever became of it.
    pub fn highest_nonce(&self, chain_id: u64, sender: Address) -> Result<Option<u64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT max(nonce) AS nonce FROM transactions WHERE chain_id = ?1 AND sender = ?2")?;
        let mut rows = stmt.query(params![u64_to_sql(TABLE, "chain_id", chain_id)?, sender.as_slice()])?;
        match rows.next()? {
            Some(row) => opt_u64_col(row, TABLE, "nonce"),
            None => Ok(None),
        }
    }

    /// The highest nonce of a transaction of `sender` on `chain_id` that was not dropped: a
    /// transaction refused at broadcast is dropped and its nonce is free again, so the nonce
    /// manager resumes after this one rather than after [`ReadTx::highest_nonce`].
    pub fn highest_live_nonce(&self, chain_id: u64, sender: Address) -> Result<Option<u64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT max(nonce) AS nonce FROM transactions WHERE chain_id = ?1 AND sender = ?2 AND status != 'dropped'",
        )?;
        let mut rows = stmt.query(params![u64_to_sql(TABLE, "chain_id", chain_id)?, sender.as_slice()])?;
        match rows.next()? {
            Some(row) => opt_u64_col(row, TABLE, "nonce"),
            None => Ok(None),
        }
    }

    /// `sender`'s transactions on `chain_id` at `nonce` that were not dropped, oldest first.
    pub fn live_transactions_at_nonce(
        &self,
        chain_id: u64,
        sender: Address,
        nonce: u64,
    ) -> Result<Vec<StoredTransaction>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM transactions
             WHERE chain_id = ?1 AND sender = ?2 AND nonce = ?3 AND status != 'dropped' ORDER BY id"
        ))?;
        let rows = stmt.query(params![
            u64_to_sql(TABLE, "chain_id", chain_id)?,
            sender.as_slice(),
            u64_to_sql(TABLE, "nonce", nonce)?
        ])?;
        collect(rows)
    }

    /// Every transaction that carried `payload_ref`, oldest first.
    pub fn transactions_for_payload(&self, payload_ref: &[u8]) -> Result<Vec<StoredTransaction>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM transactions WHERE payload_ref = ?1 ORDER BY id"))?;
        let rows = stmt.query([payload_ref])?;
        collect(rows)
    }
}

impl WriteTx<'_> {
    /// Records a transaction as pending. Commit this before broadcasting it.
    pub fn record_transaction(&self, tx: &NewTransaction) -> Result<()> {
        let now = now_ms();
        self.conn
            .prepare_cached(
                "INSERT INTO transactions (chain_id, sender, nonce, tx_hash, kind, payload_ref, raw, status,
                                           created_at_ms, updated_at_ms, anchor_block_number, anchor_block_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8, ?9, ?10)",
            )?
            .execute(params![
                u64_to_sql(TABLE, "chain_id", tx.chain_id)?,
                tx.sender.as_slice(),
                u64_to_sql(TABLE, "nonce", tx.nonce)?,
                tx.tx_hash.as_slice(),
                tx.kind.as_str(),
                tx.payload_ref,
                tx.raw,
                now,
                tx.anchor.map(|a| u64_to_sql(TABLE, "anchor_block_number", a.number)).transpose()?,
                tx.anchor.as_ref().map(|a| a.hash.as_slice()),
            ])?;
        Ok(())
    }

    /// Records `replacement` (same sender and nonce, e.g. a fee bump) as pending and marks the
    /// transaction `replaced` as superseded by it.
    pub fn replace_transaction(&self, replaced: B256, replacement: &NewTransaction) -> Result<()> {
        let old = self
            .transaction(replaced)?
            .ok_or_else(|| StoreError::NotFound { table: TABLE, key: format!("tx_hash {replaced}") })?;
        if (old.tx.chain_id, old.tx.sender, old.tx.nonce)
            != (replacement.chain_id, replacement.sender, replacement.nonce)
        {
            return Err(StoreError::invalid(
                TABLE,
                "nonce",
                format!("a replacement of {replaced} must have its chain, sender and nonce {}", old.tx.nonce),
            ));
        }
        self.record_transaction(replacement)?;
        self.conn
            .prepare_cached(
                "UPDATE transactions SET status = 'replaced', replaced_by = ?2, updated_at_ms = ?3 WHERE tx_hash = ?1",
            )?
            .execute(params![replaced.as_slice(), replacement.tx_hash.as_slice(), now_ms()])?;
        Ok(())
    }

    /// Sets the status of a recorded transaction, with the block that included it if any.
    pub fn set_transaction_status(&self, tx_hash: B256, status: TxStatus, block_number: Option<u64>) -> Result<()> {
        let block = block_number.map(|b| u64_to_sql(TABLE, "block_number", b)).transpose()?;
        let updated = self
            .conn
            .prepare_cached(
                "UPDATE transactions SET status = ?2, block_number = coalesce(?3, block_number), updated_at_ms = ?4
                 WHERE tx_hash = ?1",
            )?
            .execute(params![tx_hash.as_slice(), status.as_str(), block, now_ms()])?;
        if updated == 0 {
            return Err(StoreError::NotFound { table: TABLE, key: format!("tx_hash {tx_hash}") });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn new_tx(nonce: u64, hash: u8) -> NewTransaction {
        NewTransaction {
            chain_id: 31337,
            sender: Address::repeat_byte(0xaa),
            nonce,
            tx_hash: B256::repeat_byte(hash),
            kind: TxKind::RespondToTasks,
            payload_ref: Some(vec![hash; 32]),
            raw: Some(vec![1, 2, 3]),
            anchor: (nonce == 0).then_some(BlockAnchor { number: 7, hash: B256::repeat_byte(7) }),
        }
    }

    #[test]
    fn nonce_manager_resumes_from_the_record() {
        let mut store = Store::open_in_memory().unwrap();
        let sender = Address::repeat_byte(0xaa);
        store
            .write(|tx| {
                tx.record_transaction(&new_tx(0, 1))?;
                tx.record_transaction(&new_tx(1, 2))?;
                tx.set_transaction_status(B256::repeat_byte(1), TxStatus::Mined, Some(10))?;
                tx.replace_transaction(B256::repeat_byte(2), &new_tx(1, 3))
            })
            .unwrap();
        let pending = store.read(|r| r.pending_transactions(31337, sender)).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].tx.tx_hash, B256::repeat_byte(3));
        assert_eq!(pending[0].tx.raw.as_deref(), Some(&[1u8, 2, 3][..]));
        let replaced = store.read(|r| r.transaction(B256::repeat_byte(2))).unwrap().unwrap();
        assert_eq!((replaced.status, replaced.replaced_by), (TxStatus::Replaced, Some(B256::repeat_byte(3))));
        let mined = store.read(|r| r.transaction(B256::repeat_byte(1))).unwrap().unwrap();
        assert_eq!((mined.status, mined.block_number), (TxStatus::Mined, Some(10)));
        assert_eq!(mined.tx.anchor, Some(BlockAnchor { number: 7, hash: B256::repeat_byte(7) }), "kept with it");
        assert_eq!(pending[0].tx.anchor, None);
        assert_eq!(store.read(|r| r.highest_nonce(31337, sender)).unwrap(), Some(1));
        assert_eq!(store.read(|r| r.highest_nonce(1, sender)).unwrap(), None);
        assert_eq!(store.read(|r| r.transactions_for_payload(&[2; 32])).unwrap().len(), 1);
    }

    #[test]
    fn dropped_nonces_are_free_again() {
        let mut store = Store::open_in_memory().unwrap();
        let sender = Address::repeat_byte(0xaa);
        store
            .write(|tx| {
                tx.record_transaction(&new_tx(0, 1))?;
                tx.record_transaction(&new_tx(1, 2))?;
                tx.set_transaction_status(B256::repeat_byte(2), TxStatus::Dropped, None)
            })
            .unwrap();
        assert_eq!(store.read(|r| r.highest_live_nonce(31337, sender)).unwrap(), Some(0));
        assert_eq!(store.read(|r| r.highest_nonce(31337, sender)).unwrap(), Some(1));
        assert_eq!(store.read(|r| r.highest_live_nonce(1, sender)).unwrap(), None);
    }

    #[test]
    fn replacement_must_reuse_the_nonce_and_hashes_are_unique() {
        let mut store = Store::open_in_memory().unwrap();
        store.write(|tx| tx.record_transaction(&new_tx(0, 1))).unwrap();
        let wrong_nonce = store.write(|tx| tx.replace_transaction(B256::repeat_byte(1), &new_tx(5, 2)));
        assert!(matches!(wrong_nonce, Err(StoreError::InvalidValue { column: "nonce", .. })), "{wrong_nonce:?}");
        assert!(store.write(|tx| tx.record_transaction(&new_tx(0, 1))).is_err(), "same hash twice");
        let missing = store.write(|tx| tx.set_transaction_status(B256::ZERO, TxStatus::Dropped, None));
        assert!(matches!(missing, Err(StoreError::NotFound { .. })));
    }
}
