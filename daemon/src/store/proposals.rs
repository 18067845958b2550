//! The aggregator's side: batches it proposed and the keepers' signatures collected over each
//! batch digest, so a restarted aggregator neither loses signatures nor proposes anew what it had.

use alloy::primitives::{Address, B256, U256};
use keeper_shared::batch::{Batch, BatchContext, TaskId, TaskLeaf};
use keeper_shared::bls::{Signature, SIGNATURE_COMPRESSED_LEN};
use rusqlite::{params, Row};

use super::codec::{address_col, b256_col, now_ms, u64_col, u64_to_sql};
use super::error::{Result, StoreError};
use super::{ReadTx, WriteTx};

const TABLE: &str = "proposals";
const SIGNATURES: &str = "proposal_signatures";
/// job id (32) || sequence (8, big-endian) || spec hash (32) || response hash (32).
const LEAF_LEN: usize = 104;

/// A stored proposal, rebuilt and checked against its stored root and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProposal {
    pub batch: Batch,
    pub created_at_ms: i64,
}

/// One keeper's signature over a proposal's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectedSignature {
    pub operator: Address,
    pub signature: Signature,
    pub received_at_ms: i64,
}

/// What [`WriteTx::add_signature`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureInsert {
    Added,
    /// The same operator's same signature was already stored (a keeper re-sending after a restart).
    AlreadyPresent,
}

fn encode_leaves(leaves: &[TaskLeaf]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(leaves.len() * LEAF_LEN);
    for leaf in leaves {
        bytes.extend_from_slice(&leaf.task.job_id.to_be_bytes::<32>());
        bytes.extend_from_slice(&leaf.task.sequence.to_be_bytes());
        bytes.extend_from_slice(leaf.spec_hash.as_slice());
        bytes.extend_from_slice(leaf.response_hash.as_slice());
    }
    bytes
}

fn decode_leaves(bytes: &[u8]) -> Result<Vec<TaskLeaf>> {
    if !bytes.len().is_multiple_of(LEAF_LEN) {
        return Err(StoreError::invalid(
            TABLE,
            "leaves",
            format!("{} bytes is not a multiple of {LEAF_LEN}", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(LEAF_LEN)
        .map(|leaf| {
            let (job_id, rest) = leaf.split_at(32);
            let (sequence, rest) = rest.split_at(8);
            let (spec_hash, response_hash) = rest.split_at(32);
            let mut seq = [0u8; 8];
            seq.copy_from_slice(sequence);
            TaskLeaf {
                task: TaskId { job_id: U256::from_be_slice(job_id), sequence: u64::from_be_bytes(seq) },
                spec_hash: B256::from_slice(spec_hash),
                response_hash: B256::from_slice(response_hash),
            }
        })
        .collect())
}

fn decode_proposal(row: &Row<'_>) -> Result<StoredProposal> {
    let context = BatchContext {
        chain_id: u64_col(row, TABLE, "chain_id")?,
        task_manager: address_col(row, TABLE, "task_manager")?,
        reference_block_number: u64_col(row, TABLE, "reference_block_number")?,
        reference_block_hash: b256_col(row, TABLE, "reference_block_hash")?,
    };
    let leaves: Vec<u8> = row.get("leaves")?;
    let batch = Batch::new(context, decode_leaves(&leaves)?)
        .map_err(|e| StoreError::invalid(TABLE, "leaves", e.to_string()))?;
    if batch.root() != b256_col(row, TABLE, "root")? {
        return Err(StoreError::invalid(TABLE, "root", "does not match the stored leaves"));
    }
    if batch.digest() != b256_col(row, TABLE, "digest")? {
        return Err(StoreError::invalid(TABLE, "digest", "does not match the stored batch"));
    }
    Ok(StoredProposal { batch, created_at_ms: row.get("created_at_ms")? })
}

impl ReadTx<'_> {
    pub fn proposal(&self, digest: B256) -> Result<Option<StoredProposal>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT digest, chain_id, task_manager, reference_block_number, reference_block_hash, root, leaves,
                    created_at_ms
             FROM proposals WHERE digest = ?1",
        )?;
        let mut rows = stmt.query([digest.as_slice()])?;
        rows.next()?.map(decode_proposal).transpose()
    }

    /// Proposals whose reference block is at least `min_reference_block`, oldest reference block
    /// first (then in the order stored): what a restarted aggregator may still bring to quorum.
    pub fn proposals_since_block(&self, min_reference_block: u64) -> Result<Vec<StoredProposal>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT digest, chain_id, task_manager, reference_block_number, reference_block_hash, root, leaves,
                    created_at_ms
             FROM proposals WHERE reference_block_number >= ?1
             ORDER BY reference_block_number, created_at_ms, rowid",
        )?;
        let mut rows = stmt.query([u64_to_sql(TABLE, "reference_block_number", min_reference_block)?])?;
        let mut proposals = Vec::new();
        while let Some(row) = rows.next()? {
            proposals.push(decode_proposal(row)?);
        }
        Ok(proposals)
    }

    /// The signatures collected over `digest`, in operator address order.
    pub fn signatures(&self, digest: B256) -> Result<Vec<CollectedSignature>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT operator, signature, received_at_ms FROM proposal_signatures WHERE digest = ?1 ORDER BY operator",
        )?;
        let mut rows = stmt.query([digest.as_slice()])?;
        let mut signatures = Vec::new();
        while let Some(row) = rows.next()? {
            let bytes: Vec<u8> = row.get("signature")?;
            let signature = Signature::from_compressed(&bytes)
                .map_err(|e| StoreError::invalid(SIGNATURES, "signature", e.to_string()))?;
            signatures.push(CollectedSignature {
                operator: address_col(row, SIGNATURES, "operator")?,
                signature,
                received_at_ms: row.get("received_at_ms")?,
            });
        }
        Ok(signatures)
    }
}

impl WriteTx<'_> {
    /// Stores a proposal under its digest. Returns `false` if it was already stored.
    pub fn insert_proposal(&self, batch: &Batch) -> Result<bool> {
        let context = batch.context();
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO proposals (digest, chain_id, task_manager, reference_block_number, reference_block_hash,
                                        root, leaves, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (digest) DO NOTHING",
            )?
            .execute(params![
                batch.digest().as_slice(),
                u64_to_sql(TABLE, "chain_id", context.chain_id)?,
                context.task_manager.as_slice(),
                u64_to_sql(TABLE, "reference_block_number", context.reference_block_number)?,
                context.reference_block_hash.as_slice(),
                batch.root().as_slice(),
                encode_leaves(batch.leaves()),
                now_ms(),
            ])?;
        Ok(inserted == 1)
    }

    /// Stores `operator`'s signature over the proposal `digest` (which must be stored). The caller
    /// verifies it first. A different signature from the same operator for the same digest is a
    /// [`StoreError::Conflict`]: BLS signing is deterministic, so one of the two is not genuine.
    pub fn add_signature(&self, digest: B256, operator: Address, signature: &Signature) -> Result<SignatureInsert> {
        let bytes: [u8; SIGNATURE_COMPRESSED_LEN] = signature.to_compressed();
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO proposal_signatures (digest, operator, signature, received_at_ms)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (digest, operator) DO NOTHING",
            )?
            .execute(params![digest.as_slice(), operator.as_slice(), bytes.as_slice(), now_ms()])?;
        if inserted == 1 {
            return Ok(SignatureInsert::Added);
        }
        let stored: Vec<u8> = self.conn.query_row(
            "SELECT signature FROM proposal_signatures WHERE digest = ?1 AND operator = ?2",
            params![digest.as_slice(), operator.as_slice()],
            |row| row.get(0),
        )?;
        if stored == bytes {
            Ok(SignatureInsert::AlreadyPresent)
        } else {
            Err(StoreError::Conflict {
                table: SIGNATURES,
                column: "signature",
                key: format!("digest {digest} operator {operator}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn leaves_encoding_round_trips() {
        let leaves = vec![
            TaskLeaf {
                task: TaskId { job_id: U256::MAX, sequence: u64::MAX },
                spec_hash: B256::repeat_byte(6),
                response_hash: B256::repeat_byte(7),
            },
            TaskLeaf {
                task: TaskId { job_id: U256::from(1), sequence: 0 },
                spec_hash: B256::ZERO,
                response_hash: B256::ZERO,
            },
        ];
        let bytes = encode_leaves(&leaves);
        assert_eq!(bytes.len(), 2 * LEAF_LEN);
        assert_eq!(decode_leaves(&bytes).unwrap(), leaves);
        assert!(decode_leaves(&bytes[1..]).is_err());
    }

    #[test]
    fn proposal_and_signatures_round_trip() {
        let mut store = Store::open_in_memory().unwrap();
        let batch = crate::store::tests::batch(9, &[(1, 1, 0xaa), (1, 2, 0xbb)]);
        let key = keeper_shared::bls::SecretKey::random(&mut rand::thread_rng());
        let signature = key.sign(batch.digest().as_slice(), keeper_shared::bls::SigningDomain::Batch);
        let other = key.sign(b"something else", keeper_shared::bls::SigningDomain::Batch);
        let operator = Address::repeat_byte(0x11);

        store
            .write(|tx| {
                assert!(tx.insert_proposal(&batch)?);
                assert!(!tx.insert_proposal(&batch)?, "a second insert is a no-op");
                assert_eq!(tx.add_signature(batch.digest(), operator, &signature)?, SignatureInsert::Added);
                assert_eq!(tx.add_signature(batch.digest(), operator, &signature)?, SignatureInsert::AlreadyPresent);
                let conflict = tx.add_signature(batch.digest(), operator, &other);
                assert!(matches!(conflict, Err(StoreError::Conflict { table: "proposal_signatures", .. })));
                Ok::<_, StoreError>(())
            })
            .unwrap();

        let stored = store.read(|r| r.proposal(batch.digest())).unwrap().unwrap();
        assert_eq!(stored.batch, batch);
        let signatures = store.read(|r| r.signatures(batch.digest())).unwrap();
        assert_eq!(signatures.len(), 1);
        assert_eq!(signatures[0].operator, operator);
        assert_eq!(signatures[0].signature, signature);
        assert!(store.read(|r| r.proposal(B256::ZERO)).unwrap().is_none());
    }

    #[test]
    fn proposals_since_block_lists_recent_ones_in_block_order() {
        let mut store = Store::open_in_memory().unwrap();
        let late = crate::store::tests::batch(12, &[(1, 1, 0xaa)]);
        let early = crate::store::tests::batch(10, &[(1, 2, 0xbb)]);
        let old = crate::store::tests::batch(3, &[(1, 3, 0xcc)]);
        store
            .write(|tx| {
                for batch in [&late, &early, &old] {
                    tx.insert_proposal(batch)?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let listed: Vec<Batch> =
            store.read(|r| r.proposals_since_block(10)).unwrap().into_iter().map(|p| p.batch).collect();
        assert_eq!(listed, vec![early, late]);
        assert!(store.read(|r| r.proposals_since_block(13)).unwrap().is_empty());
    }

    #[test]
    fn signature_needs_its_proposal() {
        let mut store = Store::open_in_memory().unwrap();
        let key = keeper_shared::bls::SecretKey::random(&mut rand::thread_rng());
        let signature = key.sign(b"x", keeper_shared::bls::SigningDomain::Batch);
        let orphan = store.write(|tx| tx.add_signature(B256::ZERO, Address::ZERO, &signature));
        assert!(matches!(orphan, Err(StoreError::Sqlite(_))), "{orphan:?}");
    }
}
