-- Schema version 9: a job whose creation left the chain in a reorg keeps its row (its tasks' history refers
-- to it) but is marked with the reorg's common ancestor, and every read of the job cache leaves it out. The
-- scheduler clears the mark when the same job is created again on the new branch. NULL: on the chain.
ALTER TABLE jobs ADD COLUMN left_chain_after_block INTEGER
    CHECK (left_chain_after_block IS NULL OR left_chain_after_block >= 0);
