-- Schema version 8: a transaction may be valid only while a block is on the chain (a batch's reference
-- block: the task manager reverts `UnknownReferenceBlock` once it left). The sender keeps that block
-- with the transaction and never broadcasts it again after a reorg took the block away. NULL: no such
-- block. Both columns are set together.
ALTER TABLE transactions ADD COLUMN anchor_block_number INTEGER
    CHECK (anchor_block_number IS NULL OR anchor_block_number >= 0);
ALTER TABLE transactions ADD COLUMN anchor_block_hash BLOB
    CHECK ((anchor_block_hash IS NULL) = (anchor_block_number IS NULL)
           AND (anchor_block_hash IS NULL OR length(anchor_block_hash) = 32));
